"""Callbacks in PostgreSQL (migration 0020): made or cancelled within a qualification's transaction
(`storage.qualification.SavingQualification.callback`), their attempts, the open ones, and the sums of a period for
the reports. SQL only; the rules (who may, the French messages) are `screenpop.callbacks.service`'s, the figures
`screenpop.statistics.kpis`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import asyncpg

OPEN_MAX = 500  # the open callbacks a page or the API lists at most (oldest first)
OPEN_DATES_MAX = 50_000  # the open callbacks the wallboard counts past their working day
FACTS_MAX = 200_000
UNTICKED = "Rappel décoché à la requalification de l'appel"

Row = Mapping[str, Any]

# $1 linkedid, $2 commune, $3 topic, $4 subtopic, $5 slot, $6 by. Created at the transaction's time (= the record's
# qualified_at); the number from the record when it exists (NULL for a call still in progress: read at listing).
# Saved again: the qualification's fields follow; a cancelled one is asked again (open, from now); a done one stays.
_REQUEST = """
INSERT INTO callbacks AS cb (linkedid, caller_number, commune_insee, topic, subtopic, slot, requested_by, created_at)
VALUES ($1, (SELECT caller_number FROM call_records WHERE linkedid = $1), $2, $3, $4, $5, $6, now())
ON CONFLICT (linkedid) DO UPDATE SET
    commune_insee = EXCLUDED.commune_insee, topic = EXCLUDED.topic, subtopic = EXCLUDED.subtopic,
    slot = EXCLUDED.slot, caller_number = COALESCE(cb.caller_number, EXCLUDED.caller_number),
    status = CASE WHEN cb.status = 'cancelled' THEN 'open' ELSE cb.status END,
    created_at = CASE WHEN cb.status = 'cancelled' THEN now() ELSE cb.created_at END,
    requested_by = CASE WHEN cb.status = 'cancelled' THEN EXCLUDED.requested_by ELSE cb.requested_by END,
    cancelled_at = CASE WHEN cb.status = 'cancelled' THEN NULL ELSE cb.cancelled_at END,
    cancel_reason = CASE WHEN cb.status = 'cancelled' THEN NULL ELSE cb.cancel_reason END,
    cancelled_by = CASE WHEN cb.status = 'cancelled' THEN NULL ELSE cb.cancelled_by END,
    updated_at = now()
RETURNING id, status, (xmax = 0) AS inserted
"""

_CANCEL_OPEN = """
UPDATE callbacks SET status = 'cancelled', cancelled_at = now(), cancel_reason = $2, cancelled_by = $3,
       updated_at = now()
WHERE {where} AND status = 'open'
RETURNING id
"""

_ATTEMPTS_OF = """
(SELECT count(*) FROM callback_attempts AS a WHERE a.callback_id = cb.id)
"""

_OPEN = f"""
SELECT cb.id, cb.linkedid, COALESCE(cb.caller_number, cr.caller_number) AS caller_number, cb.commune_insee,
       c.name AS commune_name, cb.topic, cb.subtopic, cb.slot, cb.requested_by, cb.created_at, cb.owner_login,
       COALESCE(u.name, cb.requested_by) AS requested_by_name,
       {_ATTEMPTS_OF} AS attempts,
       last.at AS last_attempt_at, last.result AS last_attempt_result, last.by_login AS last_attempt_by
FROM callbacks AS cb
LEFT JOIN call_records AS cr ON cr.linkedid = cb.linkedid
LEFT JOIN communes AS c ON c.code_insee = cb.commune_insee
LEFT JOIN users AS u ON u.login = cb.requested_by
LEFT JOIN LATERAL (
    SELECT a.at, a.result, a.by_login FROM callback_attempts AS a WHERE a.callback_id = cb.id
    ORDER BY a.at DESC, a.id DESC LIMIT 1
) AS last ON true
WHERE cb.status = 'open'
ORDER BY cb.created_at, cb.id
LIMIT $1
"""  # noqa: S608 - constants only

_GET = "SELECT id, linkedid, status, created_at, done_at FROM callbacks WHERE id = $1 FOR UPDATE"

# Sums of the callbacks created in [$1, $2): the figures' (kpis.CallbackTotals) but `within_day`, which needs the
# line's calendar: the done ones come grouped by their local (created day, time, done day, time) in $3's zone.
_PERIOD = """
WITH cb AS (
    SELECT c.status, c.created_at, c.done_at,
           (SELECT count(*) FROM callback_attempts AS a WHERE a.callback_id = c.id) AS attempts
    FROM callbacks AS c WHERE c.created_at >= $1 AND c.created_at < $2
)
SELECT count(*) AS created,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE status = 'done') AS done,
       COALESCE(sum(attempts) FILTER (WHERE status = 'done'), 0) AS attempts_done,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM done_at - created_at))
           FILTER (WHERE status = 'done') AS median_delay
FROM cb
"""

_WITHIN_GROUPS = """
SELECT (created_at AT TIME ZONE $3)::date AS created_day, (created_at AT TIME ZONE $3)::time AS created_time,
       (done_at AT TIME ZONE $3)::date AS done_day, (done_at AT TIME ZONE $3)::time AS done_time, count(*) AS n
FROM callbacks
WHERE created_at >= $1 AND created_at < $2 AND status = 'done'
GROUP BY 1, 2, 3, 4
"""

_FACTS = f"""
SELECT c.status, c.created_at, c.done_at,
       (SELECT count(*) FROM callback_attempts AS a WHERE a.callback_id = c.id) AS attempts
FROM callbacks AS c WHERE c.created_at >= $1 AND c.created_at < $2
ORDER BY c.created_at, c.id
LIMIT {FACTS_MAX}
"""  # noqa: S608 - a constant bound


@dataclass(frozen=True)
class PeriodSums:
    created: int
    cancelled: int
    done: int
    attempts_done: int
    median_delay: float | None
    within_groups: list[tuple[date, time, date, time, int]]


@dataclass(frozen=True)
class Closed:
    """What an attempt or a cancellation did: the callback's status after it, and whether it changed."""

    status: str
    changed: bool


class CallbackGone(Exception):
    """No callback of that id."""


class CallbackClosed(Exception):
    """The callback is done or cancelled already."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


async def request_in(
    conn: asyncpg.Connection,
    linkedid: str,
    *,
    requested: bool,
    commune_insee: str | None,
    topic: str | None,
    subtopic: str | None,
    slot: str | None,
    by: str,
) -> bool:
    """Within a qualification's transaction: make (or keep) the call's callback when one is requested, cancel its
    open one otherwise. Whether anything a callback list shows changed (made, asked again, cancelled)."""
    if requested:
        row = await conn.fetchrow(_REQUEST, linkedid, commune_insee, topic, subtopic, slot, by)
        assert row is not None
        return bool(row["inserted"]) or row["status"] == "open"
    cancelled = await conn.fetchval(_CANCEL_OPEN.format(where="linkedid = $1"), linkedid, UNTICKED, by)
    return cancelled is not None


class CallbackRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def open(self, limit: int = OPEN_MAX) -> list[Row]:
        """The open callbacks, oldest first, with their number (the record's), commune, attempts so far."""
        return list(await self._pool.fetch(_OPEN, max(1, min(limit, OPEN_MAX))))

    async def open_since(self) -> list[datetime]:
        """When each open callback was asked for (the wallboard counts those past their working day)."""
        rows = await self._pool.fetch(
            f"SELECT created_at FROM callbacks WHERE status = 'open' ORDER BY created_at LIMIT {OPEN_DATES_MAX}"  # noqa: S608
        )
        return [r["created_at"] for r in rows]

    async def attempt(self, callback_id: int, by: str, result: str, note: str | None) -> Closed:
        """Record an attempt on an open callback; one that reached the citizen ('joint') closes it (done). Raises
        `CallbackGone`, `CallbackClosed`."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_GET, callback_id)
            if row is None:
                raise CallbackGone()
            if row["status"] != "open":
                raise CallbackClosed(row["status"])
            at = await conn.fetchval(
                "INSERT INTO callback_attempts (callback_id, by_login, result, note) VALUES ($1, $2, $3, $4)"
                " RETURNING at",
                callback_id,
                by,
                result,
                note,
            )
            if result != "joint":
                await conn.execute("UPDATE callbacks SET updated_at = now() WHERE id = $1", callback_id)
                return Closed("open", False)
            await conn.execute(
                "UPDATE callbacks SET status = 'done', done_at = $2, updated_at = now() WHERE id = $1", callback_id, at
            )
            return Closed("done", True)

    async def cancel(self, callback_id: int, by: str, reason: str) -> Closed:
        """Cancel an open callback with a reason. Raises `CallbackGone`, `CallbackClosed`."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_GET, callback_id)
            if row is None:
                raise CallbackGone()
            if row["status"] != "open":
                raise CallbackClosed(row["status"])
            await conn.execute(_CANCEL_OPEN.format(where="id = $1"), callback_id, reason, by)
            return Closed("cancelled", True)

    async def attempts(self, callback_id: int) -> list[Row]:
        return list(
            await self._pool.fetch(
                "SELECT at, by_login, result, note FROM callback_attempts WHERE callback_id = $1 ORDER BY at, id",
                callback_id,
            )
        )

    async def of_call(self, linkedid: str) -> Row | None:
        return await self._pool.fetchrow(  # type: ignore[no-any-return]
            "SELECT * FROM callbacks WHERE linkedid = $1", linkedid
        )

    async def period(self, start: datetime, end: datetime, timezone: str) -> PeriodSums:
        """The sums of the callbacks created in [start, end) (see `_PERIOD`)."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_PERIOD, start, end)
            groups = await conn.fetch(_WITHIN_GROUPS, start, end, timezone)
        assert row is not None
        return PeriodSums(
            created=int(row["created"]),
            cancelled=int(row["cancelled"]),
            done=int(row["done"]),
            attempts_done=int(row["attempts_done"]),
            median_delay=None if row["median_delay"] is None else float(row["median_delay"]),
            within_groups=[
                (g["created_day"], g["created_time"], g["done_day"], g["done_time"], int(g["n"])) for g in groups
            ],
        )

    async def facts(self, start: datetime, end: datetime) -> list[Row]:
        """The rows of the callbacks created in [start, end) (status, created_at, done_at, attempts): the pure
        figures' input, for the tests that keep the SQL equal to them."""
        return list(await self._pool.fetch(_FACTS, start, end))
