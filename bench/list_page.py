"""A 50-row list page under load: `GET /api/v1/branches?limit=50` with a bearer token on the
real app (uvicorn, one worker, PostgreSQL with 100,000 branches and 1,000 more after them)
against its floor and a bare reference, all under the same uvicorn flags.

- floor (`bench.list_page:floor_app`): the same page written by hand: the app's token check
  (the token by the sha256 of its secret; not deleted, revoked or expired) and the app's
  page SQL through psycopg 3 (an async pool as large as the app's), the same derived `flags`
  in Python, the JSON by orjson. Checked to answer JSON equal to the app's.
- bare (`bench.list_page:bare_app`): FastAPI answering the app's bytes from memory; a
  reference for what the framework and the load tool cost (checked byte for byte).

Load: `wrk` (1 thread) when installed, else an async httpx client (slower, and itself
CPU-bound on 2 cores). The three servers run side by side and are loaded in alternating 5 s
segments (app, floor, bare, app, ...; 15 s each in all, after a 2 s warm-up each), so a
neighbour's load on a shared machine falls on all alike; at 8 connections, then at 64.
Then, one request at a time, the latency of the first page against the page after 100,000
rows (keyset cursor) and the last page.

Targets (DESIGN.md): the app's requests/s at least 0.5 of the floor's at 8 and at 64
connections, its p99 at 64 connections no worse than 2x the floor's; the page 100,000 rows
deep within 1.2x the first page's latency.

    .venv/bin/python -m bench.list_page [--seconds 15] [--connections 64] [--depth 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Response
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from bench.common import (
    Scale,
    app_env,
    bench_database,
    create_token,
    generate,
    log,
    machine,
    median,
    percentile,
    pg_version,
    uvicorn_server,
    verdict,
)

PATH = "/api/v1/branches?limit=50"
BODY_ENV = "BENCH_BODY_FILE"


def bare_app() -> FastAPI:
    """The baseline: the same framework answering the same bytes from memory."""
    body = Path(os.environ[BODY_ENV]).read_bytes()
    app = FastAPI()

    @app.get("/api/v1/branches")
    async def branches() -> Response:
        return Response(content=body, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


FLOOR_DSN_ENV = "BENCH_FLOOR_DSN"

# The page's SQL as the app runs it for a county-wide token (`app.services.branches.
# list_branches`: every branch column and the township's name, live branches, keyset order).
FLOOR_PAGE_SQL = """
SELECT branch.kind, branch.member_count, branch.members_35_under, branch.members_36_55,
       branch.members_56_over, branch.applicants_35_under, branch.secretary_name,
       branch.secretary_birth_year, branch.secretary_is_director, branch.collective_income_wan,
       branch.income_sources, branch.is_weak_lax, branch.notes, branch.township_id, branch.name,
       branch.id, branch.version, branch.created_at, branch.updated_at, branch.deleted_at,
       township.name AS township_name
FROM branch JOIN township ON township.id = branch.township_id
WHERE branch.deleted_at IS NULL AND true
ORDER BY branch.id
LIMIT %s
"""
# The token check as the app makes it: the token by the sha256 of its secret, then in Python
# not deleted, not revoked, not expired.
FLOOR_TOKEN_SQL = """
SELECT id, prefix, name, scope, township_id, expires_at, revoked_at, last_used_at, deleted_at
FROM api_token WHERE secret_hash = %s
"""


def floor_app() -> Starlette:
    """The floor: the same page written by hand (the same SQL and token check through
    psycopg 3 with a small async pool, the JSON by orjson), no framework beyond routing."""
    import hashlib
    from base64 import urlsafe_b64encode
    from datetime import UTC, datetime

    import orjson
    from psycopg_pool import AsyncConnectionPool

    from app.clock import today
    from app.config import get_settings

    settings = get_settings()
    pool = AsyncConnectionPool(os.environ[FLOOR_DSN_ENV], min_size=settings.db_pool_size,
                               max_size=settings.db_pool_size, open=False)
    columns = [c.strip().split()[-1].split(".")[-1] for c in
               FLOOR_PAGE_SQL.split("SELECT", 1)[1].split("FROM", 1)[0].split(",")]
    unauthorized = Response(orjson.dumps({"status": 401}), status_code=401,
                            media_type="application/problem+json")

    def flags(b: dict[str, Any], limit_year: int) -> list[str]:
        bands = (b["members_35_under"] or 0) + (b["members_36_55"] or 0) + (
            b["members_56_over"] or 0)
        village = b["kind"] == "village"
        found = []
        if b["member_count"] > 0 and bands < b["member_count"]:
            found.append("age_bands_incomplete")
        if b["secretary_birth_year"] is not None and b["secretary_birth_year"] <= limit_year:
            found.append("secretary_60_plus")
        if village and not b["secretary_is_director"]:
            found.append("no_dual_role")
        if (village and b["collective_income_wan"] is not None
                and b["collective_income_wan"] < settings.low_income_threshold_wan):
            found.append("low_collective_income")
        if b["member_count"] > 0 and b["members_35_under"] == 0:
            found.append("no_young_members")
        return found

    async def branches(request: Request) -> Response:
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return unauthorized
        limit = int(request.query_params.get("limit", "50"))
        digest = hashlib.sha256(secret.strip().encode()).hexdigest()
        async with pool.connection() as conn:
            token = await (await conn.execute(FLOOR_TOKEN_SQL, (digest,))).fetchone()
            now = datetime.now(UTC).replace(tzinfo=None)
            if (token is None or token[8] is not None or token[6] is not None
                    or (token[5] is not None and token[5] <= now)):
                return unauthorized
            rows = await (await conn.execute(FLOOR_PAGE_SQL, (limit + 1,))).fetchall()
        limit_year = today().year - settings.secretary_age_limit
        items = []
        for row in rows[:limit]:
            item = dict(zip(columns, row, strict=True))
            del item["deleted_at"]
            item["flags"] = flags(item, limit_year)
            if item["collective_income_wan"] is not None:
                item["collective_income_wan"] = str(item["collective_income_wan"])
            items.append(item)
        cursor = None
        if len(rows) > limit:
            raw = orjson.dumps([items[-1]["id"]])
            cursor = urlsafe_b64encode(raw).decode().rstrip("=")
        body = orjson.dumps({"items": items, "next_cursor": cursor},
                            option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z)
        return Response(body, media_type="application/json", headers={"Vary": "HX-Request"})

    async def healthz(_request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await pool.open(wait=True)
        yield
        await pool.close()

    return Starlette(routes=[Route("/api/v1/branches", branches), Route("/healthz", healthz)],
                     lifespan=lifespan)


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    tool: str
    seconds: float


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(out: str) -> Load:
    """`wrk --latency`'s report as a `Load`: requests/s, the 50th and 99th percentiles in ms
    (wrk prints them in us, ms or s, padding a one-letter unit with a space: "  1.20s "),
    non-2xx answers and socket errors counted as errors. Raises RuntimeError when requests
    were made and the percentiles cannot be read. The one parser of wrk's output for every
    benchmark."""
    pct = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", out, re.M))
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(x) for x in sock.groups()) if sock else 0)
    took = float(re.search(r"requests in ([\d.]+)s", out).group(1))  # type: ignore[union-attr]
    if requests and not {"50", "99"} <= pct.keys():
        raise RuntimeError(f"wrk's latency distribution not understood:\n{out}")
    nan = float("nan")
    return Load(rps=requests / took, p50_ms=_ms(pct["50"]) if requests else nan,
                p99_ms=_ms(pct["99"]) if requests else nan, requests=requests, errors=errors,
                tool="wrk", seconds=took)


def wrk_load(url: str, token: str | None, connections: int, seconds: int) -> Load:
    """`url` loaded by `wrk` (1 thread, `connections`, `seconds`, bearer `token` if any)."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 60,
                         check=True).stdout
    return parse_wrk(out)


async def _httpx_load(url: str, token: str | None, connections: int, seconds: int) -> Load:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10, headers=headers) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(url)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return Load(rps=len(latencies) / elapsed, p50_ms=percentile(latencies, 50),
                p99_ms=percentile(latencies, 99), requests=len(latencies), errors=errors,
                tool="httpx", seconds=elapsed)


def load(url: str, token: str | None, connections: int, seconds: int) -> Load:
    if shutil.which("wrk"):
        return wrk_load(url, token, connections, seconds)
    return asyncio.run(_httpx_load(url, token, connections, seconds))


def combine(parts: list[Load]) -> Load:
    """Segments as one run: summed requests, errors and time; median p50; worst p99
    (not a number when a segment answered nothing)."""
    nan = float("nan")
    answered = [p for p in parts if p.requests]
    seconds = sum(p.seconds for p in parts)
    return Load(
        rps=sum(p.requests for p in parts) / seconds,
        p50_ms=median([p.p50_ms for p in answered]) if answered else nan,
        p99_ms=max(p.p99_ms for p in parts) if len(answered) == len(parts) else nan,
        requests=sum(p.requests for p in parts), errors=sum(p.errors for p in parts),
        tool=parts[0].tool, seconds=seconds,
    )


def alternate_all(targets: list[tuple[str, str | None]], connections: int, seconds: int,
                  segments: int = 3) -> list[Load]:
    """Load each (url, token) in turn, in `segments` rounds of alternating segments after a
    2 s warm-up each; answers one combined Load per target, in the order given."""
    for url, token in targets:
        load(url, token, connections, 2)
    parts: list[list[Load]] = [[] for _ in targets]
    for _ in range(segments):
        for (url, token), into in zip(targets, parts, strict=True):
            into.append(load(url, token, connections, max(1, seconds // segments)))
    return [combine(p) for p in parts]


def alternate(app_url: str, bare_url: str, token: str, connections: int, seconds: int,
              segments: int = 3) -> tuple[Load, Load]:
    """Load the bare app and the real app in alternating segments; answers (app, bare)."""
    bare, app = alternate_all([(bare_url, None), (app_url, token)], connections, seconds,
                              segments)
    return app, bare


def sequential(base: str, token: str, paths: list[str], rounds: int) -> list[float]:
    """Median latency (ms) of each path, requested one at a time, interleaved."""
    samples: list[list[float]] = [[] for _ in paths]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                      timeout=10) as client:
        for i in range(rounds + 10):
            for path, into in zip(paths, samples, strict=True):
                started = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                if i >= 10:  # the first ten rounds warm up
                    into.append(elapsed)
    return [median(s) for s in samples]


def log_loads(rows: list[tuple[str, Load]]) -> None:
    """Print a table of named loads: requests/s, p50, p99, requests and errors."""
    width = max(len(name) for name, _ in rows) + 2
    log(f"{'':<{width}}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'requests':>10}{'errors':>8}")
    for name, x in rows:
        log(f"{name:<{width}}{x.rps:>10.0f}{fmt(x.p50_ms):>10}{fmt(x.p99_ms):>10}"
            f"{x.requests:>10}{x.errors:>8}")


def fmt(value: float) -> str:
    return "n/a" if value != value else f"{value:.1f}"  # nan: no request answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depth", type=int, default=100_000,
                        help="rows before the deep page (1,000 more are generated after)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--low-connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=200, help="sequential samples per page")
    parser.add_argument("--app", default="app.main:create_app",
                        help="the app factory uvicorn serves (to compare a variant)")
    args = parser.parse_args()
    from app.db import make_engine
    from app.services.pagination import encode_cursor

    log(f"machine: {machine()}")
    with bench_database() as url:
        engine = make_engine(url)
        try:
            version = pg_version(engine)
            generate(engine, Scale(branches=args.depth + 1000, screenings=False,
                                   issuances=False))
            token = create_token(engine)
            with engine.connect() as conn:
                ids = conn.execute(text(
                    "SELECT id FROM branch WHERE deleted_at IS NULL ORDER BY id")).scalars().all()
        finally:
            engine.dispose()
        deep_path = f"{PATH}&cursor={encode_cursor([ids[args.depth - 1]])}"
        tail_path = f"{PATH}&cursor={encode_cursor([ids[-51]])}"
        auth = {"Authorization": f"Bearer {token}"}
        results: dict[int, dict[str, Load]] = {}
        with tempfile.NamedTemporaryFile(suffix=".json") as body_file, \
                uvicorn_server(args.app, env=app_env(url)) as app_base:
            response = httpx.get(app_base + PATH, timeout=10, headers=auth)
            response.raise_for_status()
            body_file.write(response.content)
            body_file.flush()
            log(f"page: {len(response.json()['items'])} branches, {len(response.content):,} "
                f"bytes; {len(ids):,} branches in all")
            first_ms, deep_ms, tail_ms = sequential(
                app_base, token, [PATH, deep_path, tail_path], args.rounds)
            log(f"one at a time (medians of {args.rounds}): first page {first_ms:.2f} ms, "
                f"after {args.depth:,} rows {deep_ms:.2f} ms, last page {tail_ms:.2f} ms")
            floor_env = {FLOOR_DSN_ENV: url.replace("postgresql+psycopg://", "postgresql://"),
                         **app_env(url)}
            with uvicorn_server("bench.list_page:bare_app",
                                env={BODY_ENV: body_file.name}) as bare_base, \
                    uvicorn_server("bench.list_page:floor_app", env=floor_env) as floor_base:
                bare_body = httpx.get(bare_base + PATH, timeout=10).content
                assert bare_body == response.content, "the baseline must answer the same bytes"
                floor_answer = httpx.get(floor_base + PATH, timeout=10, headers=auth)
                floor_answer.raise_for_status()
                assert floor_answer.json() == response.json(), \
                    "the floor must answer the same JSON as the app"
                same_bytes = floor_answer.content == response.content
                log(f"floor answers the same JSON as the app (byte for byte: {same_bytes})")
                for connections in (args.low_connections, args.connections):
                    log(f"loading app, floor and bare, {connections} connections, "
                        f"{args.seconds} s each ...")
                    real, floor, bare = alternate_all(
                        [(app_base + PATH, token), (floor_base + PATH, token),
                         (bare_base + PATH, None)], connections, args.seconds)
                    results[connections] = {"app": real, "floor": floor, "bare": bare}
                    log(f"  app {real.rps:.0f} req/s, floor {floor.rps:.0f} req/s, "
                        f"bare {bare.rps:.0f} req/s, app errors {real.errors}")
            healthy = _answers(app_base + "/healthz")
            log(f"app answers /healthz after the load: {healthy}")

    log(f"\n{machine()}; PostgreSQL {version}; load tool: {results[args.connections]['app'].tool}")
    log_loads([(f"{name} c={connections}", x)
               for connections, loads in results.items() for name, x in loads.items()])
    for connections, loads in results.items():
        real, floor = loads["app"], loads["floor"]
        ratio = real.rps / floor.rps
        log(f"app / floor requests/s at {connections} connections: {ratio:.2f}   "
            f"target >= 0.5: {verdict(ratio >= 0.5 and not real.errors)}")
    real, floor = results[args.connections]["app"], results[args.connections]["floor"]
    p99_ratio = real.p99_ms / floor.p99_ms
    log(f"app p99 / floor p99 at {args.connections} connections: {p99_ratio:.2f} "
        f"({fmt(real.p99_ms)} / {fmt(floor.p99_ms)} ms)   target <= 2: "
        f"{verdict(p99_ratio <= 2 and not real.errors)}")
    for connections, loads in results.items():
        log(f"app / bare requests/s at {connections} connections: "
            f"{loads['app'].rps / loads['bare'].rps:.1%}; floor / bare "
            f"{loads['floor'].rps / loads['bare'].rps:.1%} (for reference)")
    deep_ratio = deep_ms / first_ms
    log(f"page after {args.depth:,} rows / first page: {deep_ratio:.2f}x "
        f"({deep_ms:.2f} / {first_ms:.2f} ms)   target <= 1.2x: {verdict(deep_ratio <= 1.2)}")
    log(f"last page / first page: {tail_ms / first_ms:.2f}x (for reference)")
    for connections, loads in results.items():
        if loads["app"].requests == 0:
            log(f"STALLED: the app answered no request at {connections} connections in "
                f"{loads['app'].seconds:.0f} s (and /healthz after the load: {healthy})")
        errors = {name: x.errors for name, x in loads.items() if x.errors}
        if errors:
            log(f"ERRORS at {connections} connections (non-2xx, timeouts, socket errors): "
                f"{errors}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
