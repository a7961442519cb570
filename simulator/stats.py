"""What the simulated PBX counts: the load generator's final table and the demo's summary read it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PbxStats:
    calls: int = 0
    answered: int = 0
    abandoned: int = 0
    closed: int = 0
    transferred: int = 0
    no_answer_rings: int = 0
    actions: int = 0
    refused_actions: int = 0
    originated: int = 0
    skipped: int = 0  # calls the load generator did not place (concurrency cap)
    waits: list[float] = field(default_factory=list)  # queue entry → answer, seconds, per answered call
    max_waiting: int = 0
