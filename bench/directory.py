"""Directory benchmark: a DILA import's rate, the desk's look-ups, and what classifying callers costs a record write.

    python -m bench.directory [--records N] [--queries Q] [--records-written R]

On the real PostgreSQL at 127.0.0.1:5432 (a throw-away database, migrated, the communes loaded, dropped at the end):

- `import`: a synthetic DILA file of N offices (the town hall of each of the first communes of France by INSEE code,
  and for every 20th one a CAF serving its 20 communes), imported as `gps-admin directory import` does (one
  transaction, a savepoint per record). Rate in records/s, to size the national file (about 63,000 offices).
- `search`, `partners_of`, `identify`: Q calls each on that directory (commune names and postal codes, partners of
  communes, phone numbers of town halls and of nobody); p50/p95/max in ms, nearest-rank.
- `record write`: R call records written with `CallRecordRepository.upsert_many` by batches of 50 (the writer's
  batch), with the classification trigger (one look-up of the caller's number in the directory per record) and
  without it (trigger disabled), alternated 3 times each in the same run: ms per batch, p50/p95, the difference.

Nothing here is asserted on time; `tests/integration/test_bench_directory.py` checks structure and counts only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from config.settings import DeskSettings, OpeningHours
from screenpop.directory.files import import_file
from screenpop.directory.models import Actor
from screenpop.directory.service import DirectoryService
from storage.calls import CallRecordRepository
from storage.communes import load_communes, read_csv
from storage.migrate import migrate
from storage.pool import create_pool
from telephony.records import CallRecord, CallStatus, HangupBy

SERVER = "postgresql://postgres@127.0.0.1:5432"
BATCH = 50
ROUNDS = 3  # of the record writes, with and without the classification
LABELS = {True: "record write, classified", False: "record write, trigger off"}


@dataclass(frozen=True)
class Row:
    name: str
    count: int
    seconds: float  # the whole run of this row
    samples_ms: tuple[float, ...] = ()  # one per call (or per batch of records)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


@dataclass(frozen=True)
class Result:
    postgres_version: str
    rows: tuple[Row, ...]
    imported: int
    refused: int


def _records(n: int) -> tuple[list[dict[str, object]], list[str], list[str]]:
    """N DILA offices; the communes used and the town halls' phone numbers."""
    communes = [str(c[0]) for c in read_csv()][:n]
    offices: list[dict[str, object]] = []
    phones = []
    for i, code in enumerate(communes):
        number = f"03 53 {i // 10000:02d} {i // 100 % 100:02d} {i % 100:02d}"
        phones.append(number)
        offices.append(
            {
                "id": f"bench-mairie-{code}",
                "nom": f"Mairie {code} (exemple)",
                "pivot": [{"type_service_local": "mairie", "code_insee_commune": [code]}],
                "code_insee_commune": code,
                "telephone": [{"valeur": number, "description": ""}],
                "plage_ouverture": [
                    {"nom_jour_debut": "Lundi", "nom_jour_fin": "Vendredi", "valeur_heure_debut_1": "08:30:00",
                     "valeur_heure_fin_1": "12:00:00", "valeur_heure_debut_2": "13:30:00",
                     "valeur_heure_fin_2": "17:00:00"}
                ],
                "date_modification": "02/11/2026 10:00:00",
            }
        )  # fmt: skip
        if i % 20 == 0:
            offices.append(
                {
                    "id": f"bench-caf-{code}",
                    "nom": f"CAF {code} (exemple)",
                    "pivot": [{"type_service_local": "caf", "code_insee_commune": communes[i : i + 20]}],
                    "code_insee_commune": code,
                    "telephone": [{"valeur": "3230", "description": ""}],
                }
            )
    return offices[:n], communes, phones


def _record(i: int, number: str | None, at: datetime) -> CallRecord:
    return CallRecord(
        linkedid=f"bench.{i}",
        caller_number=number,
        arrived_at=at,
        line_open=True,
        ended_at=at + timedelta(seconds=60),
        hangup_by=HangupBy.CALLER,
        status=CallStatus.ABANDONED,
    )


async def _timed(calls: Sequence[object], name: str, fn: object) -> Row:
    samples = []
    started = time.perf_counter()
    for argument in calls:
        t0 = time.perf_counter()
        await fn(argument)  # type: ignore[operator]
        samples.append((time.perf_counter() - t0) * 1000)
    return Row(name, len(calls), time.perf_counter() - started, tuple(samples))


async def _run(records: int, queries: int, written: int) -> Result:
    name = f"gps_bench_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        pool = await create_pool(f"{SERVER}/{name}", max_size=4, command_timeout=600.0)
        try:
            await migrate(pool)
            await load_communes(pool)
            version = str(await pool.fetchval("SHOW server_version"))
            offices, communes, phones = _records(records)
            directory = DirectoryService(pool, OpeningHours(), topics=DeskSettings().topics, departement="62")
            rows: list[Row] = []
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "dila.json"
                path.write_text(json.dumps({"service": offices}), "utf-8")
                started = time.perf_counter()
                report = await import_file(
                    directory, path, "dila", actor=Actor(login="bench", role="admin"), owner="admin"
                )
                rows.append(Row("import (DILA)", report.read, time.perf_counter() - started))
            step = max(1, len(communes) // max(1, queries))
            picked = communes[::step][:queries]
            names = dict(await pool.fetch("SELECT code_insee, name FROM communes WHERE code_insee = ANY ($1)", picked))
            terms = [f"mairie {names[c]}" if i % 2 else f"caf {names[c]}" for i, c in enumerate(picked)]
            rows.append(await _timed(terms, "search", directory.search))
            rows.append(await _timed(picked, "partners_of", directory.partners_of))
            numbers = [f"+33{p.replace(' ', '')[1:]}" if i % 2 else "+33612345678" for i, p in enumerate(phones)]
            rows.append(await _timed(numbers[:queries], "identify", directory.identify))
            repo = CallRecordRepository(pool)
            at = datetime.now(UTC)
            samples: dict[str, list[float]] = {LABELS[True]: [], LABELS[False]: []}
            seconds = dict.fromkeys(samples, 0.0)
            for trigger in (True, False) * ROUNDS:  # alternated: the machine's load weighs on both alike
                await pool.execute("TRUNCATE call_records")
                switch = "ENABLE" if trigger else "DISABLE"
                await pool.execute(f"ALTER TABLE call_records {switch} TRIGGER call_records_classify_caller")
                batches = [
                    [_record(i, numbers[i % len(numbers)], at) for i in range(start, min(start + BATCH, written))]
                    for start in range(0, written, BATCH)
                ]
                row = await _timed(batches, LABELS[trigger], repo.upsert_many)
                samples[row.name].extend(row.samples_ms)
                seconds[row.name] += row.seconds
            rows.extend(Row(name, len(s), seconds[name], tuple(s)) for name, s in samples.items())
            classified = await pool.fetchval("SELECT count(*) FROM call_records WHERE caller_kind IS NOT NULL")
            assert classified == 0  # the last run had the trigger off
            return Result(version, tuple(rows), report.created, len(report.refused))
        finally:
            await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def run_bench(records: int = 5000, queries: int = 200, written: int = 2000) -> Result:
    if records < 1 or queries < 1 or written < 1:
        raise ValueError("records, queries and records-written must be at least 1")
    return asyncio.run(_run(records, queries, written))


def table(result: Result) -> str:
    lines = [
        f"PostgreSQL {result.postgres_version}; {result.imported} offices imported, {result.refused} refused",
        f"{'row':<28}{'count':>8}{'seconds':>10}{'per s':>10}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}",
    ]
    for row in result.rows:
        lines.append(
            f"{row.name:<28}{row.count:>8}{row.seconds:>10.2f}{row.count / row.seconds:>10.1f}"
            f"{row.quantile(0.5):>10.2f}{row.quantile(0.95):>10.2f}{row.quantile(1.0):>10.2f}"
        )
    by_name = {r.name: r for r in result.rows}
    on, off = by_name["record write, classified"], by_name["record write, trigger off"]
    lines.append(
        f"classification cost per batch of {BATCH}: p50 {on.quantile(0.5) - off.quantile(0.5):+.2f} ms, "
        f"p95 {on.quantile(0.95) - off.quantile(0.95):+.2f} ms"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.directory", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--records-written", type=int, default=2000)
    args = parser.parse_args(argv)
    print(f"python -m bench.directory {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip())
    print(table(run_bench(args.records, args.queries, args.records_written)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
