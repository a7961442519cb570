"""What the simulated people do: each caller (`CallSpec`), the advisors' phones (`Phone`), the citizens called back.

The demo, the load generator and the tests choose it; the PBX only plays it out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class Phone:
    """How a member's phone behaves when it rings: answers after `answer_after` s, or never."""

    answers: bool = True
    answer_after: float = 0.0


@dataclass(frozen=True)
class CallSpec:
    """One caller: who, and how they behave."""

    number: str | None  # national format as the operator presents it ("0321000001"); None: withheld
    name: str | None
    patience: float = 120.0  # hangs up after this long unanswered
    talk: float = 2.0  # conversation length once answered
    hangup_by: Literal["caller", "agent"] = "agent"
    topic: str | None = None  # voice-menu choice (UserEvent GpsTopic)
    transfer: tuple[Literal["blind"], str] | None = None  # the advisor's phone transfers at the end of `talk`
    service_talk: float = 2.0
    hold: tuple[float, float] | None = None  # the advisor's phone holds the caller (after, for) seconds of talk


class People(Protocol):
    """The behaviours set on the `Pbx` after it is built (the demo and the tests replace them), read when used."""

    phone_of: Callable[[str], Phone]  # interface → how that phone answers
    citizen_answers: Callable[[], float | None]  # seconds a citizen called back takes to answer (None: never)
    originate_talk: float  # seconds a callback conversation lasts
