"""A 50-row list page under load: `GET /api/v1/branches?limit=50` with a bearer token on the
real app (uvicorn, one worker, PostgreSQL with 100,000 branches and 1,000 more after them)
against a bare FastAPI app under the same uvicorn settings that answers the same bytes from
memory.

Load: `wrk` (1 thread, 64 connections) when installed, else an async httpx client (slower,
and itself CPU-bound on 2 cores). The two servers run side by side and are loaded in
alternating 5 s segments (bare, app, bare, app, ...; 15 s each in all, after a 2 s warm-up
each), so a neighbour's load on a shared machine falls on both alike. The same is done at
8 connections first, for a figure below the database pool's size. Then, one request at a
time, the latency of the first page against the page after 100,000 rows (keyset cursor) and
the last page.

Targets: requests/s at least 40 % of the bare app's, p99 under 100 ms at 64 connections,
the page 100,000 rows deep within 1.2x the first page's latency.

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
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI, Response
from sqlalchemy import text

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


def wrk_load(url: str, token: str | None, connections: int, seconds: int) -> Load:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 60,
                         check=True).stdout
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(x) for x in sock.groups()) if sock else 0)
    took = float(re.search(r"requests in ([\d.]+)s", out).group(1))  # type: ignore[union-attr]
    nan = float("nan")
    return Load(rps=requests / took, p50_ms=_ms(pct["50"]) if requests else nan,
                p99_ms=_ms(pct["99"]) if requests else nan, requests=requests, errors=errors,
                tool="wrk", seconds=took)


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


def alternate(app_url: str, bare_url: str, token: str, connections: int, seconds: int,
              segments: int = 3) -> tuple[Load, Load]:
    """Load the bare app and the real app in alternating segments; answers (app, bare)."""
    load(bare_url, None, connections, 2)
    load(app_url, token, connections, 2)
    apps, bares = [], []
    for _ in range(segments):
        bares.append(load(bare_url, None, connections, max(1, seconds // segments)))
        apps.append(load(app_url, token, connections, max(1, seconds // segments)))
    return combine(apps), combine(bares)


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
        results: dict[int, tuple[Load, Load]] = {}
        with tempfile.NamedTemporaryFile(suffix=".json") as body_file, \
                uvicorn_server(args.app, env=app_env(url)) as app_base:
            response = httpx.get(app_base + PATH, timeout=10,
                                 headers={"Authorization": f"Bearer {token}"})
            response.raise_for_status()
            body_file.write(response.content)
            body_file.flush()
            log(f"page: {len(response.json()['items'])} branches, {len(response.content):,} "
                f"bytes; {len(ids):,} branches in all")
            first_ms, deep_ms, tail_ms = sequential(
                app_base, token, [PATH, deep_path, tail_path], args.rounds)
            log(f"one at a time (medians of {args.rounds}): first page {first_ms:.2f} ms, "
                f"after {args.depth:,} rows {deep_ms:.2f} ms, last page {tail_ms:.2f} ms")
            with uvicorn_server("bench.list_page:bare_app",
                                env={BODY_ENV: body_file.name}) as bare_base:
                bare_body = httpx.get(bare_base + PATH, timeout=10).content
                assert bare_body == response.content, "the baseline must answer the same bytes"
                for connections in (args.low_connections, args.connections):
                    log(f"loading both, {connections} connections, {args.seconds} s each ...")
                    results[connections] = alternate(
                        app_base + PATH, bare_base + PATH, token, connections, args.seconds)
                    real, bare = results[connections]
                    log(f"  app {real.rps:.0f} req/s, bare {bare.rps:.0f} req/s, "
                        f"app errors {real.errors}")
            healthy = _answers(app_base + "/healthz")
            log(f"app answers /healthz after the load: {healthy}")

    real, bare = results[args.connections]
    ratio = real.rps / bare.rps
    deep_ratio = deep_ms / first_ms
    log(f"\n{machine()}; PostgreSQL {version}; load tool: {real.tool}")
    log(f"{'':<14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'requests':>10}{'errors':>8}")
    for connections, (r, b) in results.items():
        for name, x in ((f"app  c={connections}", r), (f"bare c={connections}", b)):
            log(f"{name:<14}{x.rps:>10.0f}{fmt(x.p50_ms):>10}{fmt(x.p99_ms):>10}"
                f"{x.requests:>10}{x.errors:>8}")
    low_real, low_bare = results[args.low_connections]
    log(f"app / bare requests/s at {args.low_connections} connections: "
        f"{low_real.rps / low_bare.rps:.1%} (for reference)")
    log(f"app / bare requests/s at {args.connections} connections: {ratio:.1%}   "
        f"target >= 40 %: {verdict(ratio >= 0.4 and not real.errors)}")
    log(f"app p99 at {args.connections} connections: {fmt(real.p99_ms)} ms   target < 100 ms: "
        f"{verdict(real.p99_ms < 100 and not real.errors)}")
    log(f"page after {args.depth:,} rows / first page: {deep_ratio:.2f}x "
        f"({deep_ms:.2f} / {first_ms:.2f} ms)   target <= 1.2x: {verdict(deep_ratio <= 1.2)}")
    log(f"last page / first page: {tail_ms / first_ms:.2f}x (for reference)")
    for connections, (r, _b) in results.items():
        if r.requests == 0:
            log(f"STALLED: the app answered no request at {connections} connections in "
                f"{r.seconds:.0f} s (and /healthz after the load: {healthy})")
    if real.errors or bare.errors:
        log(f"ERRORS (non-2xx, timeouts, socket errors): app {real.errors}, bare {bare.errors}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
