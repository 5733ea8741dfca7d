"""Webhook delivery: deliveries per second to a local receiver, and the lag behind commits.

    .venv/bin/python -m bench.webhooks                       # short run, PostgreSQL
    .venv/bin/python -m bench.webhooks --backlog 5000 --live-seconds 20 --workers 2

Two phases against a throw-away PostgreSQL database (see `common.bench_database`):

1. backlog: `--backlog` tasks are committed (one per transaction) while no worker runs;
   then `--workers` worker threads (each with its own engine, as separate processes would
   have) drain it to `--webhooks` JSON webhooks. Printed: deliveries per second (HTTP POSTs
   answered 2xx), changes per second, and that every receiver got every change once.
2. live: the workers keep running while one writer commits a task every
   1/`--rate` seconds for `--live-seconds`; for each task, lag = the moment its change
   reached the receiver − the moment its transaction committed. Printed: median, p95, max.

The receiver is a ThreadingHTTPServer on 127.0.0.1 (`--port`, default 8141) answering 200.
Everything stops by itself: the phases are bounded by `--timeout`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.common import bench_database, log


class Receiver:
    """Counts deliveries and remembers when each task's change arrived."""

    def __init__(self, port: int) -> None:
        self.lock = threading.Lock()
        self.deliveries = 0
        self.seen: dict[tuple[str, int, str], int] = {}  # (type, id, path) -> times received
        self.arrived: dict[int, float] = {}  # task id -> first arrival
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.time()
                changes = json.loads(body)["changes"]
                with receiver.lock:
                    receiver.deliveries += 1
                    for c in changes:
                        key = (c["type"], c["id"], self.path)
                        receiver.seen[key] = receiver.seen.get(key, 0) + 1
                        if c["type"] == "task":
                            receiver.arrived.setdefault(c["id"], now)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def changes(self) -> int:
        with self.lock:
            return sum(self.seen.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=1000)
    parser.add_argument("--webhooks", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100, help="changes per delivery")
    parser.add_argument("--rate", type=float, default=20.0, help="live commits per second")
    parser.add_argument("--live-seconds", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=8141)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()

    from app.config import Settings
    from app.db import make_engine, transaction
    from app.models.campaign import Campaign
    from app.models.problem import Problem, ProblemSource
    from app.models.task import Task
    from app.models.township import Township
    from app.models.webhook import WebhookCreate
    from app.services import webhooks as svc
    from app.services.actors import SYSTEM

    receiver = Receiver(args.port)
    with bench_database("rectify_bench_hooks") as url:
        settings = Settings(database_url=url, webhook_batch_size=args.batch,
                            worker_poll_seconds=0.02, webhook_timeout_seconds=10)
        engine = make_engine(url, pool_size=4)
        with transaction(engine) as s:
            township = Township(name="基准镇", code="B0001")
            campaign = Campaign(name="基准", starts_on=date(2026, 1, 1),
                                screening_due=date(2026, 3, 1), ends_on=date(2027, 1, 1))
            s.add_all([township, campaign])
            s.flush()
            problem = Problem(campaign_id=campaign.id, township_id=township.id,  # type: ignore[arg-type]
                              category="other", source=ProblemSource.inspection,
                              description="基准问题")
            s.add(problem)
            s.flush()
            keys = {"problem_id": problem.id, "campaign_id": campaign.id,
                    "township_id": township.id}
            for i in range(args.webhooks):
                svc.create_webhook(session=s, actor=SYSTEM, data=WebhookCreate(
                    url=f"http://127.0.0.1:{args.port}/hook{i}", secret="bench-secret"))

        committed_at: dict[int, float] = {}

        def commit_task(n: int) -> None:
            with transaction(engine) as s:
                task = Task(title=f"基准任务{n}", due_on=date.today() + timedelta(days=30),
                            **keys)
                s.add(task)
                s.flush()
                task_id = task.id
            committed_at[task_id] = time.time()  # type: ignore[index]

        log(f"backlog: committing {args.backlog} tasks, one per transaction ...")
        for n in range(args.backlog):
            commit_task(n)
        expected = args.backlog * args.webhooks

        stop = threading.Event()
        engines = [make_engine(url, pool_size=2) for _ in range(args.workers)]
        workers = [threading.Thread(target=svc.run_worker, kwargs={
            "engine": e, "settings": settings, "stop": stop, "daily": False}) for e in engines]
        started = time.monotonic()
        for w in workers:
            w.start()
        try:
            while receiver.changes() < expected:
                if time.monotonic() - started > args.timeout:
                    log("timed out draining the backlog")
                    return 1
                time.sleep(0.01)
            drained = time.monotonic() - started
            deliveries = receiver.deliveries
            log(f"backlog drained in {drained:.2f} s by {args.workers} workers: "
                f"{deliveries / drained:.1f} deliveries/s, {expected / drained:.0f} changes/s "
                f"(batch {args.batch}, {args.webhooks} webhooks)")

            log(f"live: {args.rate:g} commits/s for {args.live_seconds:g} s ...")
            before = set(committed_at)
            n, t0 = args.backlog, time.monotonic()
            while time.monotonic() - t0 < args.live_seconds:
                commit_task(n)
                n += 1
                time.sleep(max(0.0, t0 + (n - args.backlog) / args.rate - time.monotonic()))
            live = [t for t in committed_at if t not in before]
            wait_until = time.monotonic() + 30
            while any(t not in receiver.arrived for t in live) and time.monotonic() < wait_until:
                time.sleep(0.01)
            lags = sorted(receiver.arrived[t] - committed_at[t] for t in live
                          if t in receiver.arrived)
        finally:
            stop.set()
            for w in workers:
                w.join(30)
            for e in engines:
                e.dispose()
            engine.dispose()
        if lags:
            p95 = lags[min(len(lags) - 1, int(0.95 * len(lags)))]
            log(f"lag behind commits over {len(lags)} tasks: median "
                f"{statistics.median(lags) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
                f"max {lags[-1] * 1000:.0f} ms")
        duplicates = sum(1 for v in receiver.seen.values() if v > 1)
        total = len(committed_at) * args.webhooks
        got = sum(1 for (kind, _id, _p) in receiver.seen if kind == "task")
        log(f"every change once: {got} of {total} task changes received, "
            f"{duplicates} received more than once")
        return 0 if duplicates == 0 and got == total else 1


if __name__ == "__main__":
    sys.exit(main())
