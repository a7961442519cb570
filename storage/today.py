"""The facts of one day that the wallboard's figures are computed from (SQL only): the call records that arrived
since a time, and the presence log since that time with each advisor's last change before it (which opens the
period). Rows out; the figures are computed by `screenpop.statistics.kpis`, not here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

_CALLS = """
SELECT linkedid, arrived_at, line_open, status, queue_entered_at, answered_at, wait_seconds, talk_seconds,
       qualified_at, outcome, topic, callback_requested, advisor_interface, transfer_service
FROM call_records
WHERE arrived_at >= $1 AND arrived_at < $2
"""

_PRESENCE = """
SELECT advisor_id, state, at FROM (
    SELECT DISTINCT ON (advisor_id) advisor_id, state, at, id FROM advisor_events
    WHERE at < $1 ORDER BY advisor_id, at DESC, id DESC
) AS opening
UNION ALL
SELECT advisor_id, state, at FROM advisor_events WHERE at >= $1 AND at < $2
ORDER BY at
"""


@dataclass(frozen=True, slots=True)
class PresenceRow:
    advisor_id: int
    state: str
    at: datetime


class DayFacts:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def calls(self, start: datetime, end: datetime) -> list[asyncpg.Record]:
        """The records of the calls that arrived within [start, end)."""
        return list(await self._pool.fetch(_CALLS, start, end))

    async def presence(self, start: datetime, end: datetime) -> list[PresenceRow]:
        """The presence changes within [start, end), after each advisor's last change before `start`."""
        rows = await self._pool.fetch(_PRESENCE, start, end)
        return [PresenceRow(r["advisor_id"], r["state"], r["at"]) for r in rows]
