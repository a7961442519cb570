"""The statistics' SQL (SQL only): the sums of `screenpop.statistics.kpis.Totals` aggregated in PostgreSQL over
the records of a period, for every breakdown at once (GROUPING SETS over one scan), the calls behind a figure
(drill-down, paginated), the presence log's seconds (occupancy), and the plain facts (for the exactness test).

The predicates are those of `kpis` (the test `tests/integration/test_statistics_sql.py` keeps them equal):
offered = line_open; an abandon is an offered call `abandoned` or `abandoned_ringing`, short when its wait is below
the threshold; a call that never queued waited 0. Calls belong to the day of their arrival in the line's time zone.
Records are written when a call ends: calls still in progress are never read.

Parameters common to every statement: $1 start, $2 end (instants, [start, end)), $3 time zone, $4 short abandon,
$5 service level T, $6 wrap-up cap (seconds), $7 repeat window (days).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

# The seconds on hold within the talk: `hold_seconds`, from the Hold/Unhold facts (migration 0013; 0 for rows
# written before it).
HOLD = "coalesce(c.hold_seconds, 0)"

_FACTS = f"""
WITH f AS (
    SELECT
        c.linkedid, c.arrived_at, c.caller_number, c.line_open, c.status, c.outcome, c.topic, c.subtopic,
        c.commune_insee, c.transfer_service, c.partner, c.advisor_interface, c.queue_entered_at, c.answered_at,
        c.qualified_at, c.wait_seconds, c.talk_seconds,
        coalesce(c.caller_kind, 'citizen') AS caller_kind,
        coalesce(c.callback_requested, false) AS callback,
        coalesce(c.wait_seconds, 0) AS w,
        coalesce(c.wait_seconds, 0) < $4::float8 AS short_wait,
        coalesce(c.wait_seconds, 0) <= $5::float8 AS in_time,
        coalesce(c.talk_seconds, 0) AS talk,
        {HOLD} AS hold,
        c.line_open AND c.status = 'answered' AS answered,
        c.line_open AND c.status IN ('abandoned', 'abandoned_ringing') AS abandon,
        CASE WHEN c.answered_at IS NOT NULL AND c.qualified_at IS NOT NULL THEN
            least(greatest(extract(epoch FROM c.qualified_at - c.answered_at)::float8
                           - coalesce(c.talk_seconds, 0), 0), $6::float8)
        END AS wrap,
        c.caller_number IS NOT NULL AND EXISTS (
            SELECT 1 FROM call_records AS p
            WHERE p.caller_number = c.caller_number AND p.arrived_at < c.arrived_at
              AND p.arrived_at >= c.arrived_at - $7::int * interval '1 day'
        ) AS repeat,
        EXISTS (SELECT 1 FROM knowledge_unanswered AS k WHERE k.linkedid = c.linkedid) AS unanswered,
        m.name AS commune_name, m.epci_siren, m.epci_name,
        coalesce(a.name, c.advisor_name) AS advisor_label,
        c.arrived_at AT TIME ZONE $3::text AS local_at
    FROM call_records AS c
    LEFT JOIN communes AS m ON m.code_insee = c.commune_insee
    LEFT JOIN advisors AS a ON a.interface = c.advisor_interface
    WHERE c.arrived_at >= $1::timestamptz AND c.arrived_at < $2::timestamptz
)
"""  # noqa: S608 - HOLD is a fixed SQL expression

# The sums, in the order and with the names of `kpis.Totals`.
_SUMS = """
    count(*) AS calls,
    count(*) FILTER (WHERE line_open) AS offered,
    count(*) FILTER (WHERE NOT line_open) AS closed,
    count(*) FILTER (WHERE answered) AS answered,
    count(*) FILTER (WHERE abandon AND NOT short_wait) AS abandoned,
    count(*) FILTER (WHERE abandon AND short_wait) AS short_abandoned,
    count(*) FILTER (WHERE line_open AND NOT answered AND NOT abandon) AS failed,
    count(*) FILTER (WHERE answered AND in_time) AS answered_in_time,
    coalesce(sum(w) FILTER (WHERE answered), 0) AS answered_wait,
    coalesce(sum(w) FILTER (WHERE abandon AND NOT short_wait), 0) AS abandoned_wait,
    coalesce(sum(greatest(talk - hold, 0)) FILTER (WHERE answered), 0) AS talk,
    coalesce(sum(hold) FILTER (WHERE answered), 0) AS hold,
    coalesce(sum(wrap) FILTER (WHERE answered), 0) AS wrap_up,
    count(wrap) FILTER (WHERE answered) AS wrapped_up,
    count(*) FILTER (WHERE answered AND outcome = 'transfer') AS transfers,
    count(*) FILTER (WHERE answered AND outcome = 'immediate_answer') AS immediate_answers,
    count(*) FILTER (WHERE answered AND callback) AS callbacks_requested,
    count(*) FILTER (WHERE line_open AND repeat) AS repeat_calls,
    count(*) FILTER (WHERE line_open AND unanswered) AS unanswered_questions
"""
SUM_NAMES: tuple[str, ...] = tuple(line.rsplit(" AS ", 1)[1].strip().rstrip(",") for line in _SUMS.strip().splitlines())

# The calls behind each figure (`kpis.CallSet`), as predicates over `f`.
CALL_SETS: dict[str, str] = {
    "all": "true",
    "offered": "line_open",
    "closed": "NOT line_open",
    "answered": "answered",
    "answered_in_time": "answered AND in_time",
    "abandoned": "abandon AND NOT short_wait",
    "short_abandoned": "abandon AND short_wait",
    "failed": "line_open AND NOT answered AND NOT abandon",
    "transfers": "answered AND outcome = 'transfer'",
    "immediate_answers": "answered AND outcome = 'immediate_answer'",
    "callbacks_requested": "answered AND callback",
    "repeat_calls": "line_open AND repeat",
    "unanswered_questions": "line_open AND unanswered",
}


@dataclass(frozen=True, slots=True)
class Dimension:
    """A breakdown: its key (text, NULL for « non renseigné ») and its label, as SQL over `f`."""

    key: str
    label: str


DIMENSIONS: dict[str, Dimension] = {
    "day": Dimension("to_char(local_at, 'YYYY-MM-DD')", "NULL::text"),
    "week": Dimension("to_char(date_trunc('week', local_at), 'YYYY-MM-DD')", "NULL::text"),
    "month": Dimension("to_char(date_trunc('month', local_at), 'YYYY-MM')", "NULL::text"),
    "hour": Dimension("to_char(local_at, 'HH24')", "NULL::text"),
    "weekday": Dimension("extract(isodow FROM local_at)::int::text", "NULL::text"),
    "topic": Dimension("topic", "NULL::text"),
    "subtopic": Dimension("CASE WHEN topic IS NOT NULL THEN topic || '/' || coalesce(subtopic, '') END", "NULL::text"),
    "outcome": Dimension("outcome", "NULL::text"),
    "service": Dimension("CASE WHEN outcome = 'transfer' THEN transfer_service END", "NULL::text"),
    "partner": Dimension("CASE WHEN outcome = 'partner_contact' THEN partner END", "NULL::text"),
    "commune": Dimension("commune_insee::text", "commune_name"),
    "epci": Dimension("epci_siren", "epci_name"),
    "advisor": Dimension("advisor_interface", "advisor_label"),
    "caller_kind": Dimension("caller_kind", "NULL::text"),
}


# The columns of a drill-down's rows, over `f` (the reference) or the page's records joined to their names.
_CALL_COLUMNS = """linkedid, arrived_at, caller_number, line_open, status, w AS wait, talk_seconds AS talk,
       outcome, topic, subtopic, commune_insee, commune_name, advisor_label, transfer_service, partner, caller_kind,
       callback"""

# The calls behind each figure as predicates over the records themselves (`call_records AS c`), equal to CALL_SETS
# over `f` (status is never NULL; a NULL wait is 0): what the drill-down's indexed query filters on. `{short}`,
# `{t}` and `{days}` are its parameters.
_ANSWERED = "c.line_open AND c.status = 'answered'"
_ABANDON = "c.line_open AND c.status IN ('abandoned', 'abandoned_ringing')"
RECORD_SETS: dict[str, str] = {
    "all": "true",
    "offered": "c.line_open",
    "closed": "NOT c.line_open",
    "answered": _ANSWERED,
    "answered_in_time": _ANSWERED + " AND coalesce(c.wait_seconds, 0) <= {t}",
    "abandoned": _ABANDON + " AND coalesce(c.wait_seconds, 0) >= {short}",
    "short_abandoned": _ABANDON + " AND coalesce(c.wait_seconds, 0) < {short}",
    "failed": "c.line_open AND c.status NOT IN ('answered', 'abandoned', 'abandoned_ringing')",
    "transfers": _ANSWERED + " AND c.outcome = 'transfer'",
    "immediate_answers": _ANSWERED + " AND c.outcome = 'immediate_answer'",
    "callbacks_requested": _ANSWERED + " AND c.callback_requested",
    "repeat_calls": "c.line_open AND c.caller_number IS NOT NULL AND EXISTS (SELECT 1 FROM call_records AS p"
    " WHERE p.caller_number = c.caller_number AND p.arrived_at < c.arrived_at"
    " AND p.arrived_at >= c.arrived_at - {days} * interval '1 day')",
    # a few a day: read from the questions (their primary key), not by filtering the period's records
    "unanswered_questions": "c.line_open AND c.linkedid IN (SELECT k.linkedid FROM knowledge_unanswered AS k)",
}
assert set(RECORD_SETS) == set(CALL_SETS)
# a drill-down's whole count is the figure's sum of the same name (`calls` for every call)
SET_SUMS: dict[str, str] = {name: "calls" if name == "all" else name for name in CALL_SETS}
assert set(SET_SUMS.values()) <= set(SUM_NAMES)


class _Args:
    """Numbered parameters of a statement being written."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any, cast: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{cast}"


_DAY = timedelta(days=1)


def _local_range(dimension: str, key: str, tz: str) -> tuple[datetime, datetime] | None:
    """The instants of a day's, week's or month's key (local midnights), None when the key is not one."""
    zone = ZoneInfo(tz)
    try:
        if dimension == "month":
            first = date.fromisoformat(key + "-01") if len(key) == 7 else None
            if first is None:
                return None
            if not 1 < first.year < 9999:
                return None
            following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            return datetime.combine(first, time(0), zone), datetime.combine(following, time(0), zone)
        day = date.fromisoformat(key) if len(key) == 10 else None
    except ValueError:
        return None
    if day is None or (dimension == "week" and day.weekday() != 0) or not 1 < day.year < 9999:
        return None
    days = 7 if dimension == "week" else 1
    return datetime.combine(day, time(0), zone), datetime.combine(day + timedelta(days=days), time(0), zone)


def _group_predicate(dimension: str, key: str | None, arg: _Args, tz: str) -> str:
    """The records of one group of a breakdown, as predicates the indexes of 0021 serve, each ANDed with the
    breakdown's own key expression where the translation is not obviously the same (the exact definition)."""

    def exact() -> str:
        local = f"(c.arrived_at AT TIME ZONE {arg(tz, 'text')})"
        return DIMENSIONS[dimension].key.replace("local_at", local)

    match dimension:
        case "day" | "week" | "month":
            if key is None:
                return "false"
            span = _local_range(dimension, key, tz)
            if span is None:
                return "false"
            # a day's margin on both sides (any zone), the exact key within
            lo, hi = span[0] - _DAY, span[1] + _DAY
            within = f"c.arrived_at >= {arg(lo, 'timestamptz')} AND c.arrived_at < {arg(hi, 'timestamptz')}"
            return f"{within} AND {exact()} = {arg(key, 'text')}"
        case "hour" | "weekday":
            return "false" if key is None else f"{exact()} = {arg(key, 'text')}"
        case "topic" | "outcome":
            return f"c.{dimension} IS NULL" if key is None else f"c.{dimension} = {arg(key, 'text')}"
        case "advisor":
            return "c.advisor_interface IS NULL" if key is None else f"c.advisor_interface = {arg(key, 'text')}"
        case "subtopic":
            if key is None:
                return "c.topic IS NULL"
            # the topic is one of the key's prefixes before a '/'
            heads = [key[:i] for i, ch in enumerate(key) if ch == "/"]
            whole = "c.topic || '/' || coalesce(c.subtopic, '')"
            return f"c.topic = ANY({arg(heads, 'text[]')}) AND {whole} = {arg(key, 'text')}"
        case "service" | "partner":
            outcome, column = (
                ("transfer", "transfer_service") if dimension == "service" else ("partner_contact", "partner")
            )
            if key is None:
                return f"(c.outcome IS DISTINCT FROM '{outcome}' OR c.{column} IS NULL)"
            return f"c.{column} = {arg(key, 'text')} AND c.outcome = '{outcome}'"
        case "commune":
            if key is None:
                return "c.commune_insee IS NULL"
            if key != key.rstrip(" "):  # char(5) compares without trailing spaces, the key as text with them
                return "false"
            return f"c.commune_insee = {arg(key, 'bpchar')}"
        case "epci":
            if key is None:
                return (
                    "NOT EXISTS (SELECT 1 FROM communes AS m WHERE m.code_insee = c.commune_insee"
                    " AND m.epci_siren IS NOT NULL)"
                )
            siren = arg(key, "text")
            return f"c.commune_insee IN (SELECT m.code_insee FROM communes AS m WHERE m.epci_siren = {siren})"  # noqa: S608
        case "caller_kind":
            if key is None:
                return "false"
            if key == "citizen":
                return "(c.caller_kind IS NULL OR c.caller_kind = 'citizen')"
            # the partial index of 0010 holds the other kinds
            return f"c.caller_kind = {arg(key, 'text')} AND c.caller_kind <> 'citizen'"
    raise ValueError(f"unknown dimension {dimension}")


def drill_sql(
    common: tuple[Any, ...],
    call_set: str,
    dimension: str | None,
    key: str | None,
    limit: int,
    *,
    offset: int = 0,
    after: tuple[datetime, str] | None = None,
    before: tuple[datetime, str] | None = None,
) -> tuple[str, list[Any]]:
    """The drill-down's page: the records of the period in the figure's set and the group, by (arrived_at,
    linkedid) (descending for `before`, the caller turns it back), limited first, then joined to their names."""
    start, end, tz, short, t, _cap, days = common
    arg = _Args()
    where = [f"c.arrived_at >= {arg(start, 'timestamptz')}", f"c.arrived_at < {arg(end, 'timestamptz')}"]
    needs = RECORD_SETS[call_set]
    marks = {"short": "", "t": "", "days": ""}
    if "{short}" in needs:
        marks["short"] = arg(short, "float8")
    if "{t}" in needs:
        marks["t"] = arg(t, "float8")
    if "{days}" in needs:
        marks["days"] = arg(days, "int")
    where.append(f"({needs.format(**marks)})")
    if dimension is not None:
        where.append(f"({_group_predicate(dimension, key, arg, tz)})")
    order = "c.arrived_at, c.linkedid"
    if after is not None:
        at, linkedid = arg(after[0], "timestamptz"), arg(after[1], "text")
        where.append(f"c.arrived_at >= {at} AND (c.arrived_at > {at} OR c.linkedid > {linkedid})")
    elif before is not None:
        at, linkedid = arg(before[0], "timestamptz"), arg(before[1], "text")
        where.append(f"c.arrived_at <= {at} AND (c.arrived_at < {at} OR c.linkedid < {linkedid})")
        order = "c.arrived_at DESC, c.linkedid DESC"
    page = f"LIMIT {arg(limit, 'int')}"
    if offset and after is None and before is None:
        page += f" OFFSET {arg(offset, 'int')}"
    sql = f"""
SELECT c.linkedid, c.arrived_at, c.caller_number, c.line_open, c.status, coalesce(c.wait_seconds, 0) AS wait,
       c.talk_seconds AS talk, c.outcome, c.topic, c.subtopic, c.commune_insee, m.name AS commune_name,
       coalesce(a.name, c.advisor_name) AS advisor_label, c.transfer_service, c.partner,
       coalesce(c.caller_kind, 'citizen') AS caller_kind, coalesce(c.callback_requested, false) AS callback
FROM (
    SELECT c.* FROM call_records AS c
    WHERE {" AND ".join(where)}
    ORDER BY {order}
    {page}
) AS c
LEFT JOIN communes AS m ON m.code_insee = c.commune_insee
LEFT JOIN advisors AS a ON a.interface = c.advisor_interface
ORDER BY {order}"""  # noqa: S608 - fixed SQL snippets, values are parameters
    return sql, arg.values


def params(
    start: datetime, end: datetime, tz: str, short: float, t: float, cap: float, repeat_days: int
) -> tuple[Any, ...]:
    return (start, end, tz, short, t, cap, repeat_days)


@dataclass(frozen=True, slots=True)
class GroupRow:
    """The sums of one group of one breakdown (dimension "" for the whole period)."""

    dimension: str
    key: str | None
    label: str | None
    sums: dict[str, float]


def _report_sql(dimensions: tuple[str, ...]) -> str:
    keyed = ",\n    ".join(f"{DIMENSIONS[d].key} AS k_{d}, max({DIMENSIONS[d].label}) AS l_{d}" for d in dimensions)
    # the labels are aggregates (max): the key decides the group
    grouping = ", ".join(f"({DIMENSIONS[d].key})" for d in dimensions)
    flags = ", ".join(f"GROUPING({DIMENSIONS[d].key}) AS g_{d}" for d in dimensions)
    select_keys = f"{keyed},\n    {flags}," if dimensions else ""
    sets = f"GROUPING SETS ((), {grouping})" if dimensions else "()"
    return f"{_FACTS}SELECT {select_keys}{_SUMS}FROM f GROUP BY {sets}"


# For a transaction reading the facts: no JIT, and a plan made for the values of each run (`report_groups`)
_PLANNED = "SET LOCAL jit = off; SET LOCAL plan_cache_mode = force_custom_plan"


async def report_groups(
    conn: asyncpg.Connection, common: tuple[Any, ...], dimensions: tuple[str, ...]
) -> list[GroupRow]:
    """The sums of the period as a whole and of each group of each breakdown, in one scan of its records. JIT is off
    for it: compiling this wide aggregate took PostgreSQL 16 five seconds, for a query that runs in under one.

    Planned for its values at every run (`plan_cache_mode = force_custom_plan`, under a millisecond): asyncpg keeps
    the statement prepared on its connection, and after five runs PostgreSQL may keep a generic plan, made without
    the period nor knowing the table's size. The wallboard reads today's figures several times a second from the
    first call of the day: a generic plan made while `call_records` was empty (a new database, or no ANALYZE yet)
    looked for each call's previous call (`repeat`) through the arrival index over the whole 7 days, filtering
    on the number: every record of the week per record, O(n²), 0.4–1 s per read at 3,000 calls, until an ANALYZE
    (bench `python -m bench.wallboard --live`, bench/README.md)."""
    async with conn.transaction():
        await conn.execute(_PLANNED)
        rows = await conn.fetch(_report_sql(dimensions), *common)
    out: list[GroupRow] = []
    for row in rows:
        dimension = next((d for d in dimensions if row[f"g_{d}"] == 0), "")
        sums = {name: row[name] for name in SUM_NAMES}
        if dimension:
            out.append(GroupRow(dimension, row[f"k_{dimension}"], row[f"l_{dimension}"], sums))
        else:
            out.append(GroupRow("", None, None, sums))
    return out


@dataclass(frozen=True, slots=True)
class PresenceRow:
    """Seconds one advisor spent in one state (and pause reason, '' for none) within a span."""

    advisor_id: int
    state: str
    reason: str
    seconds: float


async def presence_rows(conn: asyncpg.Connection, start: datetime, end: datetime) -> list[PresenceRow]:
    """Seconds of the presence log within [start, end) per advisor, state and reason. Each advisor's last change
    before `start` opens the span; each state lasts until the advisor's next change (or the span's end)."""
    rows = await conn.fetch(_PRESENCE, start, end)
    return [PresenceRow(r["advisor_id"], r["state"], r["reason"], r["seconds"]) for r in rows]


@dataclass(frozen=True, slots=True)
class SupervisorActionRow:
    """A presence change a supervisor made: the state they put the advisor in (paused, logged_out), its reason key,
    when, who, what they wrote, and the seconds it lasted within the span."""

    advisor_id: int
    state: str
    reason: str
    at: datetime
    by: str
    note: str | None
    seconds: float


# A report reads at most this many supervisor actions (a supervisor acts a few times a day).
SUPERVISOR_ACTIONS_MAX = 20_000


class StatisticsRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def groups(self, common: tuple[Any, ...], dimensions: tuple[str, ...]) -> list[GroupRow]:
        """The sums of the period as a whole and of each group of each breakdown, in one scan."""
        unknown = set(dimensions) - set(DIMENSIONS)
        if unknown:
            raise ValueError(f"unknown dimensions {sorted(unknown)}")
        async with self._pool.acquire() as conn:
            return await report_groups(conn, common, dimensions)

    async def calls(
        self,
        common: tuple[Any, ...],
        call_set: str,
        dimension: str | None,
        key: str | None,
        limit: int,
        *,
        offset: int = 0,
        after: tuple[datetime, str] | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> list[asyncpg.Record]:
        """A page of the calls behind a figure, in one group of a breakdown (or the whole period), by arrival and
        linkedid: `limit` calls from `offset` (bounded by the caller), or after (before) a call's (arrived_at,
        linkedid), the keyset that reads any depth as fast as the first page. The same calls as `calls_scan`."""
        sql, args = drill_sql(common, call_set, dimension, key, limit, offset=offset, after=after, before=before)
        async with self._pool.acquire() as conn, conn.transaction():
            # planned for its values: a group of 30 calls a year and one of 60,000 want different plans (a generic
            # plan, made after five runs of the same statement, read the whole of the largest commune's year)
            await conn.execute(_PLANNED)
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
        return rows[::-1] if before is not None else rows

    async def calls_scan(
        self,
        common: tuple[Any, ...],
        call_set: str,
        dimension: str | None,
        key: str | None,
        limit: int,
        offset: int,
    ) -> tuple[int, list[asyncpg.Record]]:
        """The reference (the drill-down's first query, kept for the equality test and the bench): the same calls
        filtered over the facts of the whole period and counted with a window, how many and a page by OFFSET. It reads
        every record of the period: a year's takes seconds."""
        where = CALL_SETS[call_set]
        args: list[Any] = [*common]
        if dimension is not None:
            args.append(key)
            where += f" AND ({DIMENSIONS[dimension].key}) IS NOT DISTINCT FROM ${len(args)}::text"
        page = f"LIMIT ${len(args) + 1}::int OFFSET ${len(args) + 2}::int"
        sql = f"""{_FACTS}
SELECT count(*) OVER () AS total, {_CALL_COLUMNS}
FROM f WHERE {where}
ORDER BY arrived_at, linkedid
{page}"""  # noqa: S608 - fixed SQL snippets, values are parameters
        count_sql = f"{_FACTS}SELECT count(*) FROM f WHERE {where}"  # noqa: S608 - fixed SQL snippets
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_PLANNED)  # as `report_groups`: the same facts, the same `repeat` look-up
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args, limit, offset)
            if rows:
                return rows[0]["total"], rows
            if offset == 0:
                return 0, []
            return await conn.fetchval(count_sql, *args) or 0, []

    async def unanswered(
        self, start: datetime, end: datetime, tz: str, weeks_max: int, per_topic: int
    ) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
        """The offered calls of [start, end) qualified « pas de réponse trouvée » (the figure's calls): how many per
        week (Monday, local) and call topic, the latest `weeks_max` weeks that have some; and the latest `per_topic`
        questions of each topic, newest first."""
        counts = await self._pool.fetch(_UNANSWERED_COUNTS, start, end, tz, weeks_max)
        questions = await self._pool.fetch(_UNANSWERED_QUESTIONS, start, end, per_topic)
        return list(counts), list(questions)

    async def facts(self, common: tuple[Any, ...]) -> list[asyncpg.Record]:
        """Every call of the period with the facts the pure module reads (its previous call: the same number's
        latest call before it, any day), for `kpis.compute` (tests, small periods)."""
        sql = f"""{_FACTS}
SELECT f.*, (SELECT max(p.arrived_at) FROM call_records AS p
             WHERE p.caller_number = f.caller_number AND p.arrived_at < f.arrived_at) AS previous_call_at
FROM f ORDER BY arrived_at, linkedid"""  # noqa: S608 - fixed SQL
        rows: list[asyncpg.Record] = await self._pool.fetch(sql, *common)
        return rows

    async def presence(self, start: datetime, end: datetime) -> list[PresenceRow]:
        async with self._pool.acquire() as conn:
            return await presence_rows(conn, start, end)

    async def supervisor_actions(self, start: datetime, end: datetime) -> list[SupervisorActionRow]:
        """The presence changes a supervisor made within [start, end) (pauses and log-outs they imposed), by time,
        each with how long it lasted (until the advisor's next change, within the span)."""
        rows = await self._pool.fetch(_SUPERVISOR_ACTIONS, start, end, SUPERVISOR_ACTIONS_MAX)
        return [
            SupervisorActionRow(
                r["advisor_id"], r["state"], r["reason"], r["at"], r["by_login"], r["note"], r["seconds"]
            )
            for r in rows
        ]

    async def advisors(self) -> dict[int, tuple[str, str]]:
        """Every advisor's id → (interface, name), for the presence tables."""
        rows = await self._pool.fetch("SELECT id, interface, name FROM advisors")
        return {r["id"]: (r["interface"], r["name"]) for r in rows}

    async def presence_changes(self, start: datetime, end: datetime) -> list[asyncpg.Record]:
        """The changes `presence` reads (for the pure `kpis.intervals`, in tests)."""
        rows: list[asyncpg.Record] = await self._pool.fetch(_CHANGED, start, end)
        return rows


# The figure's calls (CALL_SETS["unanswered_questions"]) read from the questions, a few a day.
_UNANSWERED = """
SELECT c.arrived_at, c.topic, k.question FROM knowledge_unanswered AS k
JOIN call_records AS c ON c.linkedid = k.linkedid
WHERE c.line_open AND c.arrived_at >= $1::timestamptz AND c.arrived_at < $2::timestamptz
"""
_UNANSWERED_COUNTS = f"""
WITH u AS ({_UNANSWERED}), w AS (
    SELECT to_char(date_trunc('week', arrived_at AT TIME ZONE $3::text), 'YYYY-MM-DD') AS week, topic FROM u
), latest AS (
    SELECT DISTINCT week FROM w ORDER BY week DESC LIMIT $4::int
)
SELECT week, topic, count(*)::int AS questions FROM w WHERE week IN (SELECT week FROM latest)
GROUP BY week, topic ORDER BY week, topic
"""  # noqa: S608 - fixed SQL
_UNANSWERED_QUESTIONS = f"""
SELECT topic, question, arrived_at FROM (
    SELECT u.*, row_number() OVER (PARTITION BY topic ORDER BY arrived_at DESC) AS n FROM ({_UNANSWERED}) AS u
) AS r WHERE n <= $3::int ORDER BY topic NULLS LAST, arrived_at DESC
"""  # noqa: S608 - fixed SQL

_CHANGES = """
WITH ev AS (
    SELECT e.id, e.advisor_id, e.state, e.reason, e.at FROM advisor_events AS e
    WHERE e.at >= $1::timestamptz AND e.at < $2::timestamptz
    UNION ALL
    SELECT last.id, a.id, last.state, last.reason, last.at FROM advisors AS a
    CROSS JOIN LATERAL (
        SELECT e.id, e.state, e.reason, e.at FROM advisor_events AS e
        WHERE e.advisor_id = a.id AND e.at < $1::timestamptz ORDER BY e.at DESC, e.id DESC LIMIT 1
    ) AS last
)
"""
_PRESENCE = (
    _CHANGES  # noqa: S608 - fixed SQL
    + """, spans AS (
    SELECT advisor_id, state, coalesce(reason, '') AS reason,
           extract(epoch FROM least(coalesce(lead(at) OVER (PARTITION BY advisor_id ORDER BY at, id), $2), $2)
                              - greatest(at, $1::timestamptz))::float8 AS s
    FROM ev
)
SELECT advisor_id, state, reason, sum(s) AS seconds FROM spans WHERE s > 0
GROUP BY advisor_id, state, reason"""
)
_CHANGED = _CHANGES + "SELECT advisor_id, state, at FROM ev ORDER BY at, id"  # noqa: S608 - fixed SQL

# The partial index of 0019 finds the supervisors' rows; the advisor's next change (advisor_events_advisor_at_idx)
# ends each one.
_SUPERVISOR_ACTIONS = """
SELECT e.advisor_id, e.state, coalesce(e.reason, '') AS reason, e.at, e.by_login, e.note,
       extract(epoch FROM least(coalesce(n.at, $2::timestamptz), $2::timestamptz) - e.at)::float8 AS seconds
FROM advisor_events AS e
LEFT JOIN LATERAL (
    SELECT x.at FROM advisor_events AS x
    WHERE x.advisor_id = e.advisor_id AND x.at >= e.at AND (x.at > e.at OR x.id > e.id)
    ORDER BY x.at, x.id LIMIT 1
) AS n ON true
WHERE e.by_login IS NOT NULL AND e.at >= $1::timestamptz AND e.at < $2::timestamptz
ORDER BY e.at, e.id
LIMIT $3::int
"""
