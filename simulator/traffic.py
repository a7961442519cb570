"""Callers of the simulated line: French names, numbers of the département, a mix of behaviours, a Poisson rate.

Used by `gps-admin demo` (a gentle rate that shows activity within seconds) and `gps-admin simulate` (load).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.pbx import Pbx
from simulator.people import CallSpec

FIRST = [
    "Hélène",
    "Agnès",
    "Benoît",
    "Céline",
    "Chloé",
    "Élodie",
    "Émile",
    "François",
    "Gaëlle",
    "Jérôme",
    "Joël",
    "Léa",
    "Léon",
    "Maëlle",
    "Noël",
    "Zoé",
    "Amélie",
    "Anaïs",
    "Cécile",
    "Clément",
    "Frédéric",
    "Héloïse",
    "Inès",
    "Jean-Noël",
    "Loïc",
    "Mélanie",
    "Michèle",
    "Raphaël",
    "Sébastien",
    "Thérèse",
    "Valérie",
    "Marie",
    "Paul",
    "Julie",
    "Louis",
    "Anne",
    "Luc",
    "Camille",
    "Nicolas",
    "Sophie",
    "Thomas",
    "Nathalie",
    "Patrick",
    "Isabelle",
    "Christophe",
]
LAST = [
    "Lefèvre",
    "Lefebvre",
    "Dubois",
    "Leroy",
    "Lemaire",
    "Delattre",
    "Vasseur",
    "Carpentier",
    "Dufour",
    "Deprez",
    "Caron",
    "Wattez",
    "Bécourt",
    "Delannoy",
    "Desmarets",
    "Duhamel",
    "Fournier",
    "Gosselin",
    "Hénon",
    "Lecœur",
    "Lemoine",
    "Martin",
    "Mercier",
    "Petit",
    "Roussel",
    "Sénéchal",
    "Théry",
    "Vandamme",
    "Wallart",
    "D'Hondt",
    "Dupré",
    "Lefrançois",
    "Bailleul",
    "Crépin",
    "Debève",
    "Évrard",
]
TOPICS = ("taxes", "secondary_schools", "health", "elderly", "disability", "social_aid", "roads")


@dataclass
class Mix:
    """Shares of caller behaviours (each in [0, 1])."""

    abandon: float = 0.08  # impatient callers (hang up after 5-25 s if not answered)
    anonymous: float = 0.04  # number withheld
    transfer: float = 0.12  # the advisor transfers the call to a service at the end
    caller_hangs_up: float = 0.5  # who ends an answered call
    repeat: float = 0.25  # a caller who already called (their history pops)
    organisation: float = (
        0.0  # a town hall or a partner calling from a number of the directory (`Callers.organisations`)
    )
    topic: float = 0.6  # a voice-menu choice
    talk: tuple[float, float] = (20.0, 90.0)  # conversation length range, seconds
    service_talk: tuple[float, float] = (5.0, 20.0)
    hold: float = 0.0  # the advisor puts the caller on hold once during the talk (a phone's hold key; the demo's)


@dataclass
class Callers:
    """Makes `CallSpec`s: who calls and how they behave."""

    mix: Mix = field(default_factory=Mix)
    services: tuple[str, ...] = ("2001",)  # extensions an advisor may transfer to
    seed: int | None = None
    rng: random.Random = field(init=False)
    known: list[tuple[str, str]] = field(default_factory=list)
    # (national number, name) of the directory's town halls and partners: they call the line too (`Mix.organisation`)
    organisations: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def number(self) -> str:
        r = self.rng
        prefix = r.choice(("0321", "0321", "0391", "0321", "06", "07"))
        return prefix + "".join(str(r.randrange(10)) for _ in range(10 - len(prefix)))

    def spec(self) -> CallSpec:
        r, mix = self.rng, self.mix
        if self.organisations and r.random() < mix.organisation:
            number, name = r.choice(self.organisations)
        elif self.known and r.random() < mix.repeat:
            number, name = r.choice(self.known)
        else:
            number, name = self.number(), f"{r.choice(FIRST)} {r.choice(LAST)}"
            self.known.append((number, name))
            del self.known[:-500]
        withheld = r.random() < mix.anonymous
        transfer = ("blind", r.choice(self.services)) if self.services and r.random() < mix.transfer else None
        talk = r.uniform(*mix.talk)
        # drawn only when asked, so that the sequences of a seeded run without hold stay as they were
        hold = (talk * r.uniform(0.2, 0.5), talk * r.uniform(0.1, 0.3)) if mix.hold and r.random() < mix.hold else None
        return CallSpec(
            number=None if withheld else number,
            name=None if withheld else name,
            patience=r.uniform(5, 25) if r.random() < mix.abandon else r.uniform(120, 300),
            talk=talk,
            hangup_by="caller" if r.random() < mix.caller_hangs_up else "agent",
            topic=r.choice(TOPICS) if r.random() < mix.topic else None,
            transfer=transfer,  # type: ignore[arg-type]
            service_talk=r.uniform(*mix.service_talk),
            hold=hold,
        )


async def generate(
    pbx: Pbx,
    callers: Callers,
    rate: float,
    *,
    duration: float | None = None,
    max_concurrent: int | None = None,
    first_now: bool = True,
    on_tick: Callable[[], None] | None = None,
) -> int:
    """Place calls at `rate` per second (Poisson arrivals) until `duration` s have passed (None: forever).
    At most `max_concurrent` calls at once (the others are not placed: counted as `skipped`). Returns calls placed."""
    started = time.monotonic()
    placed = 0
    next_at = started if first_now else started + callers.rng.expovariate(rate)
    while duration is None or next_at - started < duration:
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if max_concurrent is None or len(pbx.calls) < max_concurrent:
            pbx.start_call(callers.spec())
            placed += 1
        else:
            pbx.stats.skipped += 1
        if on_tick is not None:
            on_tick()
        next_at += callers.rng.expovariate(rate)
    return placed
