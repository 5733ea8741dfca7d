"""The ledger export streams: rows per second and memory at 10,000 rows and at N rows.

Generates N tasks (default 100,000; half as many problems, a progress note on every second
task, an evidence file on every fourth) with SQLAlchemy Core `executemany` into a fresh
database: PostgreSQL when `BENCH_DATABASE_URL` (default
postgresql+psycopg://postgres@127.0.0.1:5432/test) is reachable — a new database
`rectify_bench_<random>` beside it, dropped at the end — else a temporary SQLite file.
The first 10,000 tasks belong to one campaign, the rest to another, so the same export
with `campaign_id=` gives the 10k run and without it the N run.

Each export runs in a fresh child process (so the RSS high-water mark belongs to the export
alone): `app.services.ledger.ledger_rows` + `csv_stream` as `app.services.actors.SYSTEM`
(a county admin), every byte consumed. Three children time it (the median is
reported, `--repeat`); another measures Python's
allocation peak with `tracemalloc` (which slows Python down, so it is not timed). Printed:
rows/s, tracemalloc peak, RSS growth (`resource.getrusage` ru_maxrss after minus before),
and the ratio of the peaks at N and at 10k (flat memory: about 1).

On PostgreSQL the baseline is `COPY (<the export's own SELECT>) TO STDOUT (FORMAT csv)`
through psycopg, the same rows and columns; printed as our rows/s ÷ COPY rows/s (the
design's target: at least 0.5, and under 150 MB at 1,000,000 rows).

    .venv/bin/python -m bench.export_stream                 # N = 100,000
    .venv/bin/python -m bench.export_stream --rows 1000000
    BENCH_DATABASE_URL=sqlite:// .venv/bin/python -m bench.export_stream --rows 20000

It stops by itself: every child has a deadline and the whole run `--timeout` seconds
(default 1200); the database is dropped on the way out, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/export_stream.py` as well as `-m`
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, insert, text  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SMALL = 10_000
CHUNK = 10_000  # rows per executemany
CHILD_TIMEOUT = 600  # seconds any one export may take


def log(message: str) -> None:
    print(message, flush=True)


def _raise_exit(_signum: int, _frame: Any) -> None:
    raise SystemExit(143)


# ---------------------------------------------------------------- the database


def _pg_reachable(url: str) -> bool:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new database migrated to head (PostgreSQL if reachable, else SQLite); removed after."""
    from app.migrate import upgrade

    if admin_url.startswith("postgresql") and _pg_reachable(admin_url):
        name = f"rectify_bench_{secrets.token_hex(4)}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.rsplit("/", 1)[0] + "/" + name
        log(f"PostgreSQL: database {name}")
        try:
            upgrade(url)
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
            log(f"database {name} dropped")
        return
    if admin_url.startswith("postgresql"):
        log(f"PostgreSQL not reachable at {admin_url}: using SQLite")
    with tempfile.TemporaryDirectory(prefix="rectify_bench_") as folder:
        url = f"sqlite:///{folder}/bench.db"
        log(f"SQLite: {url}")
        upgrade(url)
        yield url


# ---------------------------------------------------------------- the data

CATEGORIES = [
    "leadership_vacant", "secretary_unfit", "team_disunity", "rules_ignored",
    "election_bribery", "clan_interference", "village_affairs_chaos", "public_order_petitions",
    "weak_collective_economy", "poor_service", "weakened_function", "aging_members",
    "discipline_violation", "dual_role_gap", "other",
]


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def generate(engine: Engine, n: int, small: int) -> dict[str, Any]:
    """Townships, branches, two campaigns, n/2 problems, n tasks, updates and attachments."""
    from app.models.branch import Branch, BranchKind
    from app.models.campaign import Campaign
    from app.models.problem import Problem, ProblemSource
    from app.models.task import Attachment, ProgressUpdate, Task, TaskStatus
    from app.models.township import Township

    started = time.perf_counter()
    now = datetime.now(UTC)
    stamp = {"created_at": now, "updated_at": now, "version": 1}
    townships, per_township = 20, 15
    branches = townships * per_township
    problems = (n + 1) // 2
    statuses = list(TaskStatus)
    sources = list(ProblemSource)
    today = date.today()

    def township_of(branch: int) -> int:
        return 1 + (branch - 1) // per_township

    def branch_of_problem(p: int) -> int:
        return 1 + (p - 1) % branches

    def campaign_of_task(t: int) -> int:
        return 1 if t <= small else 2

    def problem_of_task(t: int) -> int:
        return 1 + (t - 1) // 2

    tables: list[tuple[Any, Iterator[dict[str, Any]]]] = [
        (Township, ({**stamp, "id": i, "name": f"基准镇{i}", "code": f"B{i:04d}"}
                    for i in range(1, townships + 1))),
        (Branch, ({**stamp, "id": b, "township_id": township_of(b), "name": f"第{b}村党支部",
                   "kind": BranchKind.village, "member_count": 30,
                   "secretary_is_director": b % 3 != 0, "is_weak_lax": b % 25 == 0}
                  for b in range(1, branches + 1))),
        (Campaign, ({**stamp, "id": c, "name": f"基准专项整治{c}",
                     "starts_on": today - timedelta(days=120),
                     "ends_on": today + timedelta(days=180)} for c in (1, 2))),
        # problem p serves tasks 2p-1 and 2p; its campaign is that of its first task
        (Problem, ({**stamp, "id": p, "campaign_id": campaign_of_task(2 * p - 1),
                    "township_id": township_of(branch_of_problem(p)),
                    "branch_id": None if p % 20 == 0 else branch_of_problem(p),
                    "category": CATEGORIES[p % 15], "source": sources[p % 4],
                    "description": f"问题描述{p}:组织生活不规范,“三会一课”落实不到位"}
                   for p in range(1, problems + 1))),
        (Task, ({**stamp, "id": t, "problem_id": problem_of_task(t),
                 "campaign_id": campaign_of_task(t),
                 "township_id": township_of(branch_of_problem(problem_of_task(t))),
                 "branch_id": (None if problem_of_task(t) % 20 == 0
                               else branch_of_problem(problem_of_task(t))),
                 "title": f"整改措施{t}:按月召开主题党日", "description": "建立会议记录",
                 "responsible_unit": "村党支部", "responsible_person": f"责任人{t % 97}",
                 "due_on": today + timedelta(days=t % 120 - 60),
                 "status": statuses[t % 4],
                 "verified_at": now if statuses[t % 4] == TaskStatus.verified else None,
                 "verified_by": "县委组织部" if statuses[t % 4] == TaskStatus.verified else None}
                for t in range(1, n + 1))),
        # a progress note on every second task (update u is on task 2u)
        (ProgressUpdate, ({**stamp, "id": u, "task_id": 2 * u,
                           "township_id": township_of(branch_of_problem(problem_of_task(2 * u))),
                           "author": "支部书记", "note": f"已召开组织生活会,整改进展{u}"}
                          for u in range(1, n // 2 + 1))),
        # an evidence file on every fourth task (on its update)
        (Attachment, ({**stamp, "id": a, "update_id": 2 * a, "task_id": 4 * a,
                       "township_id": township_of(branch_of_problem(problem_of_task(4 * a))),
                       "file_name": f"会议照片{a}.jpg", "content_type": "image/jpeg",
                       "size": 123_456, "sha256": f"{a:064x}", "storage_key": f"ab/{a:032x}"}
                      for a in range(1, n // 4 + 1))),
    ]
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        for model, rows in tables:
            table = model.__table__
            t0 = time.perf_counter()
            count = 0
            for batch in _chunks(rows):
                conn.execute(insert(table), batch)
                count += len(batch)
            counts[table.name] = count
            log(f"  {table.name:<16} {count:>10,} rows  {time.perf_counter() - t0:6.1f} s")
        if engine.dialect.name == "postgresql":
            for model, _rows in tables:
                name = model.__table__.name
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                  f"(SELECT coalesce(max(id), 1) FROM {name}))"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    seconds = time.perf_counter() - started
    log(f"  generated in {seconds:.1f} s")
    return {"counts": counts, "seconds": seconds}


# ---------------------------------------------------------------- one export (child process)


def _filters(campaign_id: int | None) -> Any:
    from app.services.tasks import TaskFilters

    return TaskFilters(campaign_id=campaign_id)


def child(url: str, campaign_id: int | None, mode: str) -> dict[str, Any]:
    """Run the CSV export once in this process; answer what was measured."""
    import tracemalloc

    from app.db import make_engine
    from app.services.actors import SYSTEM
    from app.services.ledger import csv_stream, ledger_rows

    engine = make_engine(url)
    # warm up: imports, the connection, the statement cache — an export of no rows
    for _ in csv_stream(ledger_rows(engine, SYSTEM, _filters(-1))):
        pass
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    if mode == "trace":
        tracemalloc.start()
        tracemalloc.reset_peak()
    started = time.perf_counter()
    nbytes = newlines = 0
    for chunk in csv_stream(ledger_rows(engine, SYSTEM, _filters(campaign_id))):
        nbytes += len(chunk)
        newlines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if mode == "trace" else None
    if mode == "trace":
        tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    engine.dispose()
    return {"rows": newlines - 1, "bytes": nbytes, "seconds": seconds,
            "traced_peak": peak, "rss_before_kib": rss_before,
            "rss_growth_kib": rss_after - rss_before}


def run_child(url: str, campaign_id: int | None, mode: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.export_stream", "--child", "--url", url,
           "--mode", mode] + (["--campaign", str(campaign_id)] if campaign_id else [])
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"export child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------- the COPY baseline


def copy_baseline(engine: Engine, campaign_id: int | None, runs: int = 3) -> dict[str, Any]:
    """`COPY (<the export's SELECT>) TO STDOUT (FORMAT csv)`: median seconds of `runs`."""
    from sqlalchemy.dialects import postgresql

    from app.services.actors import SYSTEM
    from app.services.ledger import _ledger_select

    stmt = _ledger_select(engine, SYSTEM, _filters(campaign_id))
    sql = str(stmt.compile(dialect=postgresql.dialect(),
                           compile_kwargs={"literal_binds": True}))
    times, rows, nbytes = [], 0, 0
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        for _ in range(runs + 1):  # the first is a warm-up
            started = time.perf_counter()
            nbytes = newlines = 0
            with conn.cursor() as cur, cur.copy(
                f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"  # type: ignore[arg-type]
            ) as copy:
                for block in copy:
                    nbytes += len(block)
                    newlines += bytes(block).count(b"\n")
            times.append(time.perf_counter() - started)
            rows = newlines
        conn.rollback()
    finally:
        raw.close()
    return {"rows": rows, "bytes": nbytes, "seconds": statistics.median(times[1:])}


# ---------------------------------------------------------------- the run


def mib(kib_or_bytes: float, *, kib: bool = False) -> float:
    return kib_or_bytes / 1024 if kib else kib_or_bytes / (1024 * 1024)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="N tasks (default 100000)")
    parser.add_argument("--timeout", type=int, default=1200, help="stop after this many s")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed exports per size, the median is reported (default 3)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--campaign", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["time", "trace"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(child(args.url, args.campaign, args.mode)), flush=True)
        return 0

    n = max(args.rows, SMALL + 1)
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGALRM, _raise_exit)
    signal.alarm(args.timeout)  # bounded: the `finally` below still drops the database
    admin_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    log(f"export_stream: N = {n:,} tasks, {os.cpu_count()} CPUs, Python "
        f"{sys.version.split()[0]}")
    started = time.perf_counter()
    with fresh_database(admin_url) as url:
        from app.db import make_engine

        engine = make_engine(url)
        backend = engine.dialect.name
        if backend == "postgresql":
            with engine.connect() as conn:
                log("server " + str(conn.execute(text("SHOW server_version")).scalar_one()))
        log("generating:")
        generate(engine, n, SMALL)

        results: dict[str, dict[str, Any]] = {}
        for label, campaign_id, expected in (("10k", 1, SMALL), ("N", None, n)):
            runs = [run_child(url, campaign_id, "time") for _ in range(args.repeat)]
            timed = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]  # the median
            traced = run_child(url, campaign_id, "trace")
            assert timed["rows"] == expected == traced["rows"], (label, timed, traced)
            results[label] = {**timed, "traced_peak": traced["traced_peak"]}
            if backend == "postgresql":
                results[label]["copy"] = copy_baseline(engine, campaign_id)
                assert results[label]["copy"]["rows"] == expected, results[label]["copy"]
            r = results[label]
            line = (f"{label:>3} ({r['rows']:,} rows): {r['rows'] / r['seconds']:>9,.0f} rows/s "
                    f"({r['seconds']:.2f} s, {mib(r['bytes']):.1f} MiB of CSV); tracemalloc "
                    f"peak {mib(r['traced_peak']):.2f} MiB; RSS growth "
                    f"{mib(r['rss_growth_kib'], kib=True):.1f} MiB "
                    f"(from {mib(r['rss_before_kib'], kib=True):.0f} MiB)")
            if "copy" in r:
                c = r["copy"]
                line += f"; COPY {c['rows'] / c['seconds']:,.0f} rows/s ({c['seconds']:.2f} s)"
            log(line)
        engine.dispose()

    small, big = results["10k"], results["N"]
    log("")
    log(f"summary ({backend}, N = {n:,}, total {time.perf_counter() - started:.0f} s)")
    log(f"  rows/s           10k: {small['rows'] / small['seconds']:>10,.0f}   "
        f"N: {big['rows'] / big['seconds']:>10,.0f}")
    log(f"  tracemalloc peak 10k: {mib(small['traced_peak']):>8.2f} MiB "
        f"N: {mib(big['traced_peak']):>8.2f} MiB   ratio N/10k "
        f"{big['traced_peak'] / small['traced_peak']:.2f}  (flat = 1)")
    # RSS grows in pages and the warm-up already touched most of them: under 1 MiB at 10k,
    # compare with 1 MiB instead of a ratio of noise
    rss_small = max(small["rss_growth_kib"], 1024)
    log(f"  RSS growth       10k: {mib(small['rss_growth_kib'], kib=True):>8.1f} MiB "
        f"N: {mib(big['rss_growth_kib'], kib=True):>8.1f} MiB   ratio N/max(10k, 1 MiB) "
        f"{big['rss_growth_kib'] / rss_small:.2f}")
    if backend == "postgresql":
        for label, r in (("10k", small), ("N", big)):
            ours, copy = r["rows"] / r["seconds"], r["copy"]["rows"] / r["copy"]["seconds"]
            log(f"  vs COPY          {label:>3}: ours {ours:,.0f} rows/s ÷ COPY {copy:,.0f} "
                f"rows/s = {ours / copy:.2f}  (target ≥ 0.5)")
    else:
        log("  no COPY baseline on SQLite")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
