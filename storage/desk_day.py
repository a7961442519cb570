"""An advisor's own day, read for the desk's « Ma journée » (`screenpop.desk.day` computes the figures): their
answered calls of a period and their presence log over it. SQL only; rows out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

# An advisor takes a few hundred calls a day at most: the bounds keep a runaway day cheap.
CALLS_MAX = 5_000
CHANGES_MAX = 20_000

# The calls answered by the advisor's phone (advisors.interface = call_records.advisor_interface, as continuity
# routing reads them), arrived in [$2, $3); index call_records_advisor_arrived_idx (0013).
_CALLS = f"""
SELECT cr.linkedid, cr.arrived_at, cr.line_open, cr.status, cr.answered_at, cr.talk_seconds, cr.hold_seconds,
       cr.qualified_at
FROM call_records AS cr
JOIN advisors AS a ON a.interface = cr.advisor_interface
WHERE a.id = $1 AND cr.answered_at IS NOT NULL AND cr.arrived_at >= $2 AND cr.arrived_at < $3
ORDER BY cr.arrived_at
LIMIT {CALLS_MAX}
"""  # noqa: S608 - a constant bound

# The latest change before $2 (the state the period opens with), then the period's changes, in the log's order.
_CHANGES = f"""
(SELECT state, at, 0 AS part, id FROM advisor_events WHERE advisor_id = $1 AND at < $2
 ORDER BY at DESC, id DESC LIMIT 1)
UNION ALL
(SELECT state, at, 1 AS part, id FROM advisor_events WHERE advisor_id = $1 AND at >= $2 AND at < $3
 ORDER BY at, id LIMIT {CHANGES_MAX})
ORDER BY part, at, id
"""  # noqa: S608 - a constant bound


@dataclass(frozen=True)
class DayCall:
    linkedid: str
    arrived_at: datetime
    line_open: bool
    status: str
    answered_at: datetime
    talk_seconds: float | None
    hold_seconds: float
    qualified_at: datetime | None


@dataclass(frozen=True)
class DayChange:
    state: str
    at: datetime


class DeskDayRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def calls(self, advisor_id: int, since: datetime, until: datetime) -> list[DayCall]:
        rows = await self._pool.fetch(_CALLS, advisor_id, since, until)
        return [DayCall(**dict(r)) for r in rows]

    async def changes(self, advisor_id: int, since: datetime, until: datetime) -> list[DayChange]:
        """The advisor's latest presence change before `since`, then those of [since, until), oldest first."""
        rows = await self._pool.fetch(_CHANGES, advisor_id, since, until)
        return [DayChange(state=r["state"], at=r["at"]) for r in rows]
