"""The county summary at two scales: a county (300 branches, 10,000 tasks) and a province
(50,000 branches, 1,000,000 tasks), each with proportional problems, screenings, form
issuances, returned forms and opinions.

Times `app.services.report.summary` (SYSTEM actor, the generated campaign, the whole
county) as the median of 5 runs after one warm-up, and one township's summary; prints them
against the targets (200 ms and 1 s) and, as a machine-independent yardstick, against one
plain `count(*)` scan of every table the summary reads. The slowest SQL statements of a run
are listed; `--explain` adds `EXPLAIN (ANALYZE, BUFFERS)` of the slowest.

    .venv/bin/python -m bench.summary_scale                  # both scales
    .venv/bin/python -m bench.summary_scale --only county
    .venv/bin/python -m bench.summary_scale --province-branches 20000 --province-tasks 400000
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from typing import Any

from sqlalchemy import Engine, event, text

from bench.common import (
    Generated,
    Scale,
    bench_database,
    generate,
    log,
    machine,
    median,
    pg_version,
    verdict,
)

RUNS = 5
SCANNED = ("branch", "screening", "form_issuance", "feedback_form", "opinion", "suggestion",
           "problem", "task")


class StatementTimer:
    """Times every SQL statement the engine runs while `recording` is on."""

    def __init__(self, engine: Engine) -> None:
        self.recording = False
        self.times: dict[str, list[float]] = defaultdict(list)
        self.params: dict[str, Any] = {}
        self._started: list[float] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        elapsed = time.perf_counter() - self._started.pop()
        if self.recording:
            self.times[statement].append(elapsed)
            self.params[statement] = params

    def slowest(self, n: int = 5) -> list[tuple[float, str]]:
        ranked = sorted(((median(v), s) for s, v in self.times.items()), reverse=True)
        return ranked[:n]


def run_summary(engine: Engine, campaign_id: int, township_id: int | None) -> float:
    from app.db import new_session
    from app.services.actors import SYSTEM
    from app.services.report import summary

    session = new_session(engine)
    try:
        started = time.perf_counter()
        summary(session=session, actor=SYSTEM, campaign_id=campaign_id, township_id=township_id)
        return time.perf_counter() - started
    finally:
        session.close()


def scan_baseline(engine: Engine) -> float:
    """One `count(*)` over each table the summary reads: the cost of touching the data once."""
    with engine.connect() as conn:
        started = time.perf_counter()
        for table in SCANNED:
            conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        return time.perf_counter() - started


def explain(engine: Engine, statement: str, params: Any) -> None:
    with engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).all()
    log("      " + "\n      ".join(row[0] for row in plan))


def measure(label: str, scale: Scale, target_s: float, *, explain_slowest: bool) -> dict[str, Any]:
    from app.db import make_engine

    log(f"\n== {label}: {scale.branches:,} branches, {scale.tasks:,} tasks ==")
    with bench_database() as url:
        engine = make_engine(url)
        try:
            data: Generated = generate(engine, scale)
            township = data.township_ids[0]
            timer = StatementTimer(engine)
            run_summary(engine, data.campaign_id, None)  # warm-up (caches, plans)
            timer.recording = True
            county = [run_summary(engine, data.campaign_id, None) for _ in range(RUNS)]
            timer.recording = False
            run_summary(engine, data.campaign_id, township)
            one = [run_summary(engine, data.campaign_id, township) for _ in range(RUNS)]
            scans = median([scan_baseline(engine) for _ in range(3)])
            result = {
                "label": label, "county": median(county), "township": median(one),
                "scan": scans, "target": target_s, "version": pg_version(engine),
                "generated_s": data.seconds, "counts": data.counts,
                "township_branches": len(data.branches_of(township)),
            }
            log(f"  county summary   median {result['county'] * 1000:9.1f} ms "
                f"(runs: {', '.join(f'{t * 1000:.0f}' for t in county)} ms)"
                f"   target < {target_s * 1000:.0f} ms: {verdict(result['county'] < target_s)}")
            log(f"  township summary median {result['township'] * 1000:9.1f} ms "
                f"({result['township_branches']} branches)")
            log(f"  baseline: one count(*) scan of the {len(SCANNED)} tables read "
                f"{scans * 1000:.1f} ms; summary / scan = {result['county'] / scans:.2f}x")
            log("  slowest statements of the county summary (median):")
            slowest = timer.slowest()
            for seconds, statement in slowest:
                log(f"    {seconds * 1000:8.1f} ms  {' '.join(statement.split())[:110]}")
            if explain_slowest and slowest:
                statement = slowest[0][1]
                log("  EXPLAIN (ANALYZE, BUFFERS) of the slowest:")
                explain(engine, statement, timer.params[statement])
            return result
        finally:
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("county", "province"))
    parser.add_argument("--province-branches", type=int, default=50_000)
    parser.add_argument("--province-tasks", type=int, default=1_000_000)
    parser.add_argument("--explain", action="store_true",
                        help="EXPLAIN ANALYZE the slowest statement of each scale")
    args = parser.parse_args()
    log(f"machine: {machine()}")
    results = []
    if args.only in (None, "county"):
        results.append(measure("county", Scale.proportional(300, 10_000), 0.2,
                               explain_slowest=args.explain))
    if args.only in (None, "province"):
        results.append(measure(
            "province", Scale.proportional(args.province_branches, args.province_tasks), 1.0,
            explain_slowest=args.explain))
    log(f"\nPostgreSQL {results[0]['version']}")
    log(f"{'scale':<10}{'summary':>12}{'target':>10}{'township':>12}{'scan':>10}{'ratio':>8}")
    for r in results:
        log(f"{r['label']:<10}{r['county'] * 1000:>9.0f} ms{r['target'] * 1000:>7.0f} ms"
            f"{r['township'] * 1000:>9.1f} ms{r['scan'] * 1000:>7.0f} ms"
            f"{r['county'] / r['scan']:>7.2f}x  {verdict(r['county'] < r['target'])}")


if __name__ == "__main__":
    main()
