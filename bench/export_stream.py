"""Exports and the change feed at N rows against PostgreSQL `COPY` of the same rows.

One throw-away PostgreSQL database (`bench.common.bench_database`) gets N tasks (default
100,000; half as many problems, a progress note on every second task, an evidence file on
every fourth) and N changes in the `change` table, all written by SQL on the server.

Every export form — the ledger (`/reports/ledger.csv`, `.xlsx`) and a table export
(`/exports/tasks.csv`, `.ndjson`, `.xlsx`) — is measured three ways:

- rows/s: the app's own stream (what its endpoints call: `stream_ledger_csv` /
  `stream_ledger_xlsx`, `csv_export` / `ndjson_export` / `xlsx_export`; on PostgreSQL the
  cells written by COPY, `app/services/pg_copy.py`), as `SYSTEM`, a county admin, consumed
  to the last byte in a fresh child process, against `COPY (<the rows' SELECT>) TO STDOUT
  (FORMAT csv)` through psycopg (`ledger_select` and `evidence_select` for the ledger, the
  export's SELECT for the table: the rows as the Python writers read them),
  measured right before the form so both see the same load on a shared machine;
- memory: that child's RSS growth (ru_maxrss after minus before, after a warm-up) and, in
  another child, Python's allocation peak under `tracemalloc` (slower, so not timed; for
  the .xlsx forms only with `--trace-xlsx`, as it takes minutes at 1,000,000 rows);
- first byte: the real app under uvicorn (`bench.common.uvicorn_server`, one worker), a
  bearer token, the time from sending the request to the first byte of the body over HTTP
  (the connection is closed then), three tries, the worst reported.

The change feed is pulled from the start by cursor at `limit=500` through the HTTP API the
way a county system does (one connection, each page's JSON parsed to find the next
cursor), against `COPY (SELECT type, entity_id, op, version, data FROM change WHERE type
NOT IN ('user', 'api_token') ORDER BY commit_seq, id) TO STDOUT` (what the feed gives the
bench's token); memory is the server process's peak RSS (VmHWM) growth. The streamed
feed is pulled in one request to `/changes.ndjson` from the start, its lines counted as
they arrive: `feed.ndjson` with httpx's default Accept-Encoding (gzip, as the paged feed
is pulled), `feed.ndjson-raw` uncompressed (`Accept-Encoding: identity`); each against
the same COPY measured right before it, on a fresh server of its own (peak RSS growth as
for the paged feed), then its first byte as for the exports.

Targets (DESIGN.md, issue 15): rows/s >= 0.5 of COPY, peak memory < 150 MB, first byte
within 1 s, at 1,000,000 rows.

    .venv/bin/python -m bench.export_stream                    # N = 100,000
    .venv/bin/python -m bench.export_stream --rows 1000000     # about 10 minutes
    .venv/bin/python -m bench.export_stream --forms ledger.csv,feed
    .venv/bin/python -m bench.export_stream --forms feed,feed.ndjson --no-trace

It stops by itself (`--timeout`, default 1500 s); the database is dropped on the way out,
also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/export_stream.py` as well as `-m`
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402

from bench.common import (  # noqa: E402
    Scale,
    app_env,
    bench_database,
    create_token,
    generate,
    log,
    machine,
    pg_version,
    uvicorn_server,
    vacuum_analyze,
    verdict,
)

CHILD_TIMEOUT = 900  # seconds any one export may take
FORMS = {  # name: (URL path, the SELECT it reads)
    "ledger.csv": ("/api/v1/reports/ledger.csv", "ledger"),
    "ledger.xlsx": ("/api/v1/reports/ledger.xlsx", "ledger"),
    "tasks.csv": ("/api/v1/exports/tasks.csv", "tasks"),
    "tasks.ndjson": ("/api/v1/exports/tasks.ndjson", "tasks"),
    "tasks.xlsx": ("/api/v1/exports/tasks.xlsx", "tasks"),
}
FEED_LIMIT = 500
STREAM_PATH = "/api/v1/changes.ndjson"
# the streamed feed as httpx asks for it (gzip), and uncompressed (`Accept-Encoding: identity`)
NDJSON_FEEDS = {"feed.ndjson": None, "feed.ndjson-raw": "identity"}
FEEDS = ("feed", *NDJSON_FEEDS)
MB = 1_000_000
TARGET_RATIO, TARGET_MB, TARGET_FIRST_BYTE = 0.5, 150, 1.0


# ---------------------------------------------------------------- the data


def generate_all(engine: Engine, n: int) -> None:
    """N tasks (common generator) plus progress notes, evidence files and N changes."""
    generate(engine, Scale(branches=3000, tasks=n, forms_per_branch=0))
    now = "(now() AT TIME ZONE 'utc')"
    with engine.begin() as conn:
        conn.execute(text(
            "DO $$ BEGIN IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
            "THEN SET LOCAL session_replication_role = replica; END IF; END $$"))
        steps = {
            # a progress note on every second task
            "progress_update": f"""
                INSERT INTO progress_update (id, created_at, updated_at, version, task_id,
                    township_id, author, note)
                SELECT t.id / 2, {now}, {now}, 1, t.id, t.township_id, '支部书记',
                    '已召开组织生活会,整改进展' || t.id
                FROM task t WHERE t.id % 2 = 0""",
            # an evidence file on every fourth task (on its note)
            "attachment": f"""
                INSERT INTO attachment (id, created_at, updated_at, version, update_id,
                    task_id, township_id, file_name, content_type, size, sha256, storage_key)
                SELECT t.id / 4, {now}, {now}, 1, t.id / 2, t.id, t.township_id,
                    '会议照片' || t.id || '.jpg', 'image/jpeg', 123456,
                    lpad(to_hex(t.id), 64, '0'), 'ab/' || lpad(to_hex(t.id), 32, '0')
                FROM task t WHERE t.id % 4 = 0""",
            # N changes, three to a commit, each a task's record as the feed carries it
            "change": f"""
                INSERT INTO change (commit_seq, type, entity_id, op, township_id, version,
                    data)
                SELECT 1 + (g - 1) / 3, 'task', t.id, 'upsert', t.township_id, t.version,
                    json_build_object(
                        'id', t.id, 'created_at', {now}, 'updated_at', {now},
                        'version', t.version, 'deleted_at', NULL,
                        'problem_id', t.problem_id, 'campaign_id', t.campaign_id,
                        'township_id', t.township_id, 'branch_id', t.branch_id,
                        'title', t.title, 'description', t.description,
                        'responsible_unit', t.responsible_unit,
                        'responsible_person', t.responsible_person, 'due_on', t.due_on,
                        'status', t.status, 'status_note', t.status_note,
                        'submitted_at', t.submitted_at, 'submitted_by', t.submitted_by,
                        'verified_at', t.verified_at, 'verified_by', t.verified_by)
                FROM generate_series(1, :n) g JOIN task t ON t.id = g""",
        }
        for table, sql in steps.items():
            t0 = time.perf_counter()
            count = conn.execute(text(sql), {"n": n}).rowcount
            log(f"  {table:<16} {count:>10,} rows  {time.perf_counter() - t0:6.1f} s")
        for table in ("progress_update", "attachment", "change"):
            conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"))
        conn.execute(text("UPDATE change_counter SET value = (SELECT max(commit_seq) "
                          "FROM change) WHERE id = 1"))
    vacuum_analyze(engine)


# ---------------------------------------------------------------- one export (child process)


def _stream(engine: Any, form: str) -> Any:
    """The bytes of `form` as the API streams them (the functions its endpoints call: on
    PostgreSQL written by COPY, `app/services/pg_copy.py`), as SYSTEM, with no filter."""
    from app.services.actors import SYSTEM
    from app.services.exports import EXPORTS, csv_export, export_select, ndjson_export, xlsx_export
    from app.services.ledger import stream_ledger_csv, stream_ledger_xlsx
    from app.services.tasks import TaskFilters

    if form == "ledger.csv":
        return stream_ledger_csv(engine, SYSTEM, TaskFilters())
    if form == "ledger.xlsx":
        return stream_ledger_xlsx(engine, SYSTEM, TaskFilters(), "整改台账")
    spec = EXPORTS["tasks"]
    stmt = export_select(spec, SYSTEM, {})
    if form == "tasks.csv":
        return csv_export(engine, spec.columns, stmt)
    if form == "tasks.ndjson":
        return ndjson_export(engine, spec.columns, stmt)
    return xlsx_export(engine, spec.columns, stmt, "tasks")


def child(url: str, form: str, mode: str) -> dict[str, Any]:
    """Run one export in this process, every byte consumed; answer what was measured."""
    import tracemalloc

    from app.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:  # warm up imports, the connection, the statement cache
        conn.execute(text("SELECT 1"))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    if mode == "trace":
        tracemalloc.start()
    started = time.perf_counter()
    nbytes = 0
    first: float | None = None
    for chunk in _stream(engine, form):
        if first is None:
            first = time.perf_counter() - started
        nbytes += len(chunk)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if mode == "trace" else None
    if mode == "trace":
        tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    engine.dispose()
    return {"bytes": nbytes, "seconds": seconds, "first_chunk": first, "traced_peak": peak,
            "rss_before": rss_before * 1024, "rss_growth": (rss_after - rss_before) * 1024}


def run_child(url: str, form: str, mode: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.export_stream", "--child", "--url", url,
           "--forms", form, "--mode", mode]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"export child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------- the COPY baselines


def _selects(source: str) -> list[Any]:
    from app.services.actors import SYSTEM
    from app.services.exports import EXPORTS, export_select
    from app.services.ledger import evidence_select, ledger_select
    from app.services.tasks import TaskFilters

    if source == "ledger":
        return [ledger_select(SYSTEM, TaskFilters()), evidence_select(SYSTEM, TaskFilters())]
    if source == "tasks":
        return [export_select(EXPORTS["tasks"], SYSTEM, {})]
    # what the feed gives a token that is not a county admin's (no users, no tokens)
    return [text("SELECT type, entity_id, op, version, data FROM change "
                 "WHERE type NOT IN ('user', 'api_token') ORDER BY commit_seq, id")]


def copy_baseline(engine: Engine, source: str) -> dict[str, Any]:
    """`COPY (<each SELECT of source>) TO STDOUT (FORMAT csv)`, one after another; the best
    of two runs after a warm-up. Rows are those of the first SELECT."""
    from sqlalchemy.dialects import postgresql

    sqls = [str(stmt.compile(dialect=postgresql.dialect(),
                             compile_kwargs={"literal_binds": True}))
            for stmt in _selects(source)]
    times, rows, nbytes = [], 0, 0
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        for _ in range(3):  # the first is a warm-up
            started = time.perf_counter()
            nbytes = 0
            for i, sql in enumerate(sqls):
                with conn.cursor() as cur, cur.copy(
                    f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"  # type: ignore[union-attr]
                ) as copy:
                    for block in copy:
                        nbytes += len(block)
                    if i == 0:
                        rows = cur.rowcount
            times.append(time.perf_counter() - started)
        conn.rollback()
    finally:
        raw.close()
    return {"rows": rows, "bytes": nbytes, "seconds": min(times[1:])}


# ---------------------------------------------------------------- over HTTP


def first_byte(base: str, path: str, token: str, tries: int = 3) -> list[float]:
    """Seconds from sending the request to the first byte of the body, per try."""
    seconds = []
    for _ in range(tries):
        with httpx.Client(timeout=120) as client:
            started = time.perf_counter()
            with client.stream("GET", base + path,
                               headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status_code == 200, (path, r.status_code, r.read()[:500])
                for chunk in r.iter_raw():
                    if chunk:
                        seconds.append(time.perf_counter() - started)
                        break
    return seconds


def server_pid(base: str) -> int | None:
    """The uvicorn process this run started for `base` (found by its port)."""
    port = base.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"uvicorn") for a in argv) and port.encode() in argv:
            return int(entry.name)
    return None


def vm_hwm(pid: int | None) -> int:
    """Peak RSS (VmHWM) of a process, in bytes; 0 when unknown."""
    if pid is None:
        return 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def pull_feed(base: str, token: str) -> dict[str, Any]:
    """The whole feed from the start, page by page at limit=500, as a county system pulls it."""
    import orjson

    headers = {"Authorization": f"Bearer {token}"}
    cursor: str | None = None
    rows = pages = nbytes = 0
    slowest = 0.0
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        client.get("/api/v1/changes", params={"limit": 1})  # warm up
        started = time.perf_counter()
        while True:
            params: dict[str, Any] = {"limit": FEED_LIMIT}
            if cursor:
                params["cursor"] = cursor
            t0 = time.perf_counter()
            r = client.get("/api/v1/changes", params=params)
            assert r.status_code == 200, r.text[:500]
            page = orjson.loads(r.content)
            slowest = max(slowest, time.perf_counter() - t0)
            rows += len(page["changes"])
            pages += 1
            nbytes += len(r.content)
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        seconds = time.perf_counter() - started
    return {"rows": rows, "pages": pages, "bytes": nbytes, "seconds": seconds,
            "slowest_page": slowest}


def pull_feed_ndjson(base: str, token: str, accept_encoding: str | None = None
                     ) -> dict[str, Any]:
    """The whole feed from the start in one request to `/changes.ndjson`, its lines counted
    as they arrive; `Accept-Encoding` the client's default (httpx: gzip, as for the paged
    feed) unless given."""
    headers = {"Authorization": f"Bearer {token}"}
    if accept_encoding is not None:
        headers["Accept-Encoding"] = accept_encoding
    rows = nbytes = 0
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        client.get(STREAM_PATH, params={"types": "campaign"})  # warm up
        started = time.perf_counter()
        first: float | None = None
        with client.stream("GET", STREAM_PATH) as r:
            assert r.status_code == 200, r.read()[:500]
            next_cursor = r.headers.get("x-next-cursor")
            encoding = r.headers.get("content-encoding", "identity")
            for chunk in r.iter_bytes():
                if first is None and chunk:
                    first = time.perf_counter() - started
                rows += chunk.count(b"\n")
                nbytes += len(chunk)
        seconds = time.perf_counter() - started
    return {"rows": rows, "bytes": nbytes, "seconds": seconds, "first_chunk": first,
            "next_cursor": next_cursor, "encoding": encoding}


def served_feed(url: str, token: str, pull: Any, first_byte_of: str | None = None
                ) -> dict[str, Any]:
    """`pull(base, token)` against a fresh server, with the server's peak RSS growth; then
    the first byte of `first_byte_of` (a path), if given."""
    with uvicorn_server("app.main:create_app", env=app_env(url)) as base:
        pid = server_pid(base)
        # warm up the server (imports, pool) before its memory is read
        httpx.get(base + "/api/v1/changes", params={"limit": FEED_LIMIT},
                  headers={"Authorization": f"Bearer {token}"}, timeout=60)
        before = vm_hwm(pid)
        r: dict[str, Any] = pull(base, token)
        r["rss_growth"] = vm_hwm(pid) - before if pid else None
        r["rss_before"] = before
        if first_byte_of is not None:
            tries = first_byte(base, first_byte_of, token)
            r["first_byte"] = max(tries)
            r["first_byte_tries"] = tries
    return r


# ---------------------------------------------------------------- the run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="N (default 100000)")
    parser.add_argument("--forms", default=",".join([*FORMS, *FEEDS]),
                        help="comma-separated, of " + ", ".join([*FORMS, *FEEDS]))
    parser.add_argument("--no-trace", action="store_true",
                        help="skip the tracemalloc children (RSS is still measured)")
    parser.add_argument("--trace-xlsx", action="store_true",
                        help="trace the .xlsx forms too (about 2.5 times their run each; "
                             "by default only their RSS is measured)")
    parser.add_argument("--timeout", type=int, default=1500, help="stop after this many s")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["time", "trace"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(child(args.url, args.forms, args.mode)), flush=True)
        return 0

    forms = [f for f in args.forms.split(",") if f]
    unknown = set(forms) - {*FORMS, *FEEDS}
    if unknown:
        parser.error(f"unknown forms: {', '.join(sorted(unknown))}")
    n = args.rows
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(SystemExit(142)))
    signal.alarm(args.timeout)  # bounded: the database is still dropped
    log(f"export_stream: N = {n:,}; {machine()}")
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    copies: dict[str, dict[str, Any]] = {}
    with bench_database() as url:
        from app.db import make_engine

        engine = make_engine(url)
        log(f"PostgreSQL {pg_version(engine)}; generating:")
        generate_all(engine, n)
        # each form's COPY right before it, so both see the same load on a shared machine
        for form in forms:
            if form in FEEDS:
                continue
            copies[form] = c = copy_baseline(engine, FORMS[form][1])
            assert c["rows"] == n, (form, c)
            r = run_child(url, form, "time")
            if not args.no_trace and (args.trace_xlsx or not form.endswith(".xlsx")):
                r["traced_peak"] = run_child(url, form, "trace")["traced_peak"]
            results[form] = r
            log(f"{form:<13} {n / r['seconds']:>10,.0f} rows/s ({r['seconds']:.2f} s, "
                f"{r['bytes'] / MB:.0f} MB); COPY {c['rows'] / c['seconds']:,.0f} rows/s "
                f"({c['seconds']:.2f} s); RSS growth {r['rss_growth'] / MB:.1f} MB (from "
                f"{r['rss_before'] / MB:.0f} MB)"
                + (f"; tracemalloc peak {r['traced_peak'] / MB:.1f} MB"
                   if r.get("traced_peak") is not None else "")
                + f"; load {os.getloadavg()[0]:.1f}")
        token = create_token(engine)
        with uvicorn_server("app.main:create_app", env=app_env(url)) as base:
            for form in forms:
                if form in FEEDS:
                    continue
                tries = first_byte(base, FORMS[form][0], token)
                results[form]["first_byte"] = max(tries)
                log(f"{form:<13} first byte over HTTP: "
                    + ", ".join(f"{s * 1000:.0f} ms" for s in tries))
        if "feed" in forms:
            copies["feed"] = c = copy_baseline(engine, "feed")
            assert c["rows"] == n, c
            r = served_feed(url, token, pull_feed)
            assert r["rows"] == n, r
            results["feed"] = r
            log(f"{'feed':<13} {n / r['seconds']:>10,.0f} rows/s ({r['seconds']:.1f} s, "
                f"{r['pages']:,} pages, slowest {r['slowest_page'] * 1000:.0f} ms, "
                f"{r['bytes'] / MB:.0f} MB of JSON); server peak RSS growth "
                f"{(r['rss_growth'] or 0) / MB:.1f} MB (from {r['rss_before'] / MB:.0f} MB); "
                f"COPY {c['rows'] / c['seconds']:,.0f} rows/s; load {os.getloadavg()[0]:.1f}")
        for form, accept_encoding in NDJSON_FEEDS.items():
            if form not in forms:
                continue
            copies[form] = c = copy_baseline(engine, "feed")
            assert c["rows"] == n, c
            r = served_feed(url, token, lambda base, token, e=accept_encoding:
                            pull_feed_ndjson(base, token, e), STREAM_PATH)
            assert r["rows"] == n, r
            assert r["next_cursor"], r
            results[form] = r
            log(f"{form:<13} first byte over HTTP: "
                + ", ".join(f"{s * 1000:.0f} ms" for s in r["first_byte_tries"]))
            log(f"{form:<13} {n / r['seconds']:>10,.0f} rows/s ({r['seconds']:.1f} s, "
                f"{r['bytes'] / MB:.0f} MB of NDJSON, sent as {r['encoding']}, first chunk "
                f"{(r['first_chunk'] or 0) * 1000:.0f} ms); server peak RSS growth "
                f"{(r['rss_growth'] or 0) / MB:.1f} MB (from {r['rss_before'] / MB:.0f} MB); "
                f"COPY {c['rows'] / c['seconds']:,.0f} rows/s; load {os.getloadavg()[0]:.1f}")
        engine.dispose()

    log("")
    log(f"summary (PostgreSQL, N = {n:,}, total {time.perf_counter() - started:.0f} s; "
        f"{machine()})")
    log(f"  {'form':<15} {'rows/s':>9} {'COPY':>9} {'ratio':>6}  {'RSS+':>7} {'traced':>7} "
        f"{'1st byte':>8}")
    for form, r in results.items():
        ours, copy = n / r["seconds"], copies[form]["rows"] / copies[form]["seconds"]
        ratio = ours / copy
        peak = max(r.get("rss_growth") or 0, r.get("traced_peak") or 0)
        fb = r.get("first_byte")
        ok = ratio >= TARGET_RATIO and peak < TARGET_MB * MB and (
            fb is None or fb < TARGET_FIRST_BYTE)
        traced = r.get("traced_peak")
        log(f"  {form:<15} {ours:>9,.0f} {copy:>9,.0f} {ratio:>6.2f}  "
            f"{(r.get('rss_growth') or 0) / MB:>5.1f}MB "
            f"{(f'{traced / MB:.1f}MB' if traced is not None else '-'):>7} "
            f"{(f'{fb * 1000:.0f}ms' if fb is not None else '-'):>8}  {verdict(ok)}"
            + "".join(f" [{why}]" for why, bad in (
                (f"ratio < {TARGET_RATIO}", ratio < TARGET_RATIO),
                (f"memory >= {TARGET_MB} MB", peak >= TARGET_MB * MB),
                (f"first byte >= {TARGET_FIRST_BYTE} s",
                 fb is not None and fb >= TARGET_FIRST_BYTE)) if bad))
    log(f"  targets: rows/s >= {TARGET_RATIO} of COPY, peak memory < {TARGET_MB} MB, "
        f"first byte < {TARGET_FIRST_BYTE} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
