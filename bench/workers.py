"""`rectify serve --workers 2` against `--workers 1`: the list page of `bench.list_page`
(`GET /api/v1/branches?limit=50` with a bearer token, PostgreSQL with 101,000 branches)
served by the project's own command, as an operator starts it, once with one worker and
once with two.

Both servers run side by side and are loaded in alternating segments (one worker, two
workers, one, two, ...; 15 s each in all, after a 2 s warm-up each) with `bench.list_page`'s
load (`wrk`, 1 thread, else an async httpx client), so a neighbour's load on a shared
machine falls on both alike; at 8 connections, then 64.

Target (DESIGN): two workers at least 1.5x one worker's requests/s, at each connection
count. The machine has 2 cores, shared by the workers, PostgreSQL and the load
tool: two workers cannot have a core each, so read the ratio with the load average.

    .venv/bin/python -m bench.workers [--seconds 15] [--connections 64] [--branches 101000]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx

from bench.common import (
    VENV_BIN,
    Scale,
    app_env,
    bench_database,
    create_token,
    free_port,
    generate,
    log,
    machine,
    pg_version,
    server_process,
    verdict,
)
from bench.list_page import PATH, Load, combine, load, log_loads

TARGET = 1.5


@contextmanager
def rectify_serve(url: str, workers: int) -> Iterator[str]:
    """`rectify serve --workers N` on a free port with the benchmark's database; its URL."""
    port = free_port()
    cmd = [str(VENV_BIN / "rectify"), "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers)]
    with server_process(cmd, port, name=f"rectify serve --workers {workers}",
                        env=app_env(url)) as base:
        yield base


def alternate(urls: dict[int, str], token: str, connections: int, seconds: int,
              segments: int = 3) -> dict[int, Load]:
    """Each server (by worker count) loaded in turn, `segments` times; the combined loads."""
    for url in urls.values():
        load(url, token, connections, 2)  # warm-up: imports, pools, plans
    parts: dict[int, list[Load]] = {n: [] for n in urls}
    for _ in range(segments):
        for n, url in urls.items():
            parts[n].append(load(url, token, connections, max(1, seconds // segments)))
    return {n: combine(p) for n, p in parts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--branches", type=int, default=101_000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--low-connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--segments", type=int, default=3)
    args = parser.parse_args()
    from app.db import make_engine

    log(f"machine: {machine()}")
    results: dict[int, dict[int, Load]] = {}
    with bench_database() as url:
        engine = make_engine(url)
        try:
            version = pg_version(engine)
            generate(engine, Scale(branches=args.branches, screenings=False, issuances=False))
            token = create_token(engine)
        finally:
            engine.dispose()
        with ExitStack() as stack:
            bases = {n: stack.enter_context(rectify_serve(url, n)) for n in (1, 2)}
            auth = {"Authorization": f"Bearer {token}"}
            pages = {n: httpx.get(base + PATH, headers=auth, timeout=10) for n, base in
                     bases.items()}
            for page in pages.values():
                page.raise_for_status()
            assert pages[1].json() == pages[2].json(), "both servers must answer the same page"
            log(f"page: {len(pages[1].json()['items'])} branches, {len(pages[1].content):,} "
                f"bytes")
            for connections in (args.low_connections, args.connections):
                log(f"loading both, {connections} connections, {args.seconds} s each ...")
                results[connections] = alternate({n: b + PATH for n, b in bases.items()},
                                                 token, connections, args.seconds,
                                                 args.segments)
                one, two = results[connections][1], results[connections][2]
                log(f"  1 worker {one.rps:.0f} req/s, 2 workers {two.rps:.0f} req/s, "
                    f"errors {one.errors} / {two.errors}; {machine()}")

    log(f"\n{machine()}; PostgreSQL {version}; load tool: "
        f"{results[args.connections][1].tool}")
    log_loads([(f"{n} worker(s) c={connections}", x)
               for connections, by_workers in results.items() for n, x in by_workers.items()])
    for connections, by_workers in results.items():
        ratio = by_workers[2].rps / by_workers[1].rps
        errors = by_workers[1].errors + by_workers[2].errors
        log(f"2 workers / 1 worker requests/s at {connections} connections: {ratio:.2f}x   "
            f"target >= {TARGET}x: {verdict(ratio >= TARGET and not errors)}")


if __name__ == "__main__":
    main()
