"""The soak profile: `POST /api/v1/feedback-forms` at 50 forms a second for 30 seconds on the
real app (uvicorn, one worker and then two, PostgreSQL), each form with its own
`Idempotency-Key` and 1-3 opinions, about 5 % of them sent a second time with the same key
and body 0-500 ms after the first (a phone retrying: some retries race the first request,
some follow its answer).

Then it checks that every acknowledged key is stored exactly once (rows in feedback_form,
opinions per form, replays answering the first response's Location) and that the server
still answers /healthz, and prints latency percentiles. Finally it ramps the rate (100,
200, 400, 800 forms/s for 10 s each, stopping at the first that fails, then halving the gap
twice between the last good rate, the soak's counting, and the first bad one) to find the
ceiling: the highest rate answered without errors and with p99 under 1 s. A server that
no longer answers /healthz after a stage is restarted before the next one (and the report
says so), so each stage is measured on a server that was answering.

Requests go out on a fixed schedule (open loop) and latency counts from the scheduled
moment, so a server that falls behind cannot hide it by slowing the client down. The client
shares the machine's 2 cores with the server and PostgreSQL.

The token is a write token limited to one township: what a township's secretary or staff
phone would hold (see `app.services.feedback._may_enter_forms`).

The whole run (soak, ramp) is done once per worker count (`--workers 1,2` by default, each
on a server of its own over the same database) and the ceilings compared.

    .venv/bin/python -m bench.form_soak [--rate 50] [--seconds 30] [--ramp 100,200,400,800]
                                        [--workers 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine, text

from bench.common import (
    THEMES,
    Scale,
    app_env,
    bench_database,
    create_token,
    generate,
    log,
    machine,
    percentile,
    pg_version,
    uvicorn_server,
    verdict,
)

PATH = "/api/v1/feedback-forms"
RETRY_SHARE = 0.05
DRAIN_SECONDS = 30.0  # how long a stage waits for answers after its last send
P99_LIMIT_MS = 1000.0


@dataclass
class Attempt:
    key: str
    retry: bool
    status: int  # 0: no answer (timeout or connection error)
    ms: float  # from the scheduled moment to the answer
    replayed: bool = False
    location: str | None = None
    error: str | None = None  # the client's exception when there was no answer


@dataclass
class Stage:
    rate: float
    seconds: float
    attempts: list[Attempt] = field(default_factory=list)
    opinions: dict[str, int] = field(default_factory=dict)  # key -> opinions sent
    unfinished: int = 0
    elapsed: float = 0.0

    @property
    def firsts(self) -> list[Attempt]:
        return [a for a in self.attempts if not a.retry]

    @property
    def retries(self) -> list[Attempt]:
        return [a for a in self.attempts if a.retry]

    @property
    def errors(self) -> int:
        """Answers other than 201 (a retry may also get 409 while its first is in flight)."""
        bad = sum(a.status != 201 for a in self.firsts)
        bad += sum(a.status not in (201, 409) for a in self.retries)
        return bad + self.unfinished

    def p(self, q: float) -> float:
        return percentile([a.ms for a in self.attempts if a.status], q)

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.p(99) < P99_LIMIT_MS

    @property
    def acked(self) -> set[str]:
        return {a.key for a in self.attempts if a.status == 201}


def form_body(rng: random.Random, campaign_id: int, branch_ids: list[int], key: str
              ) -> dict[str, Any]:
    """A returned form; the respondent's name carries the key, so the check can find it."""
    return {
        "campaign_id": campaign_id,
        "branch_id": rng.choice(branch_ids),
        "respondent_kind": rng.choice(["party_member", "villager", "cadre", "other"]),
        "anonymous": False,
        "respondent_name": key,
        "satisfaction": rng.choice(["satisfied", "basically", "dissatisfied", None]),
        "opinions": [
            {"text": f"希望加强村务公开,第{n + 1}条意见", "theme": rng.choice(THEMES)}
            for n in range(rng.randint(1, 3))
        ],
    }


async def _post(client: httpx.AsyncClient, stage: Stage, key: str, body: dict[str, Any],
                scheduled: float, retry: bool) -> None:
    loop = asyncio.get_running_loop()
    error = None
    try:
        response = await client.post(PATH, json=body, headers={"Idempotency-Key": key})
        status = response.status_code
        replayed = response.headers.get("idempotent-replayed") == "true"
        location = response.headers.get("location")
    except httpx.HTTPError as exc:
        status, replayed, location, error = 0, False, None, type(exc).__name__
    stage.attempts.append(Attempt(key=key, retry=retry, status=status,
                                  ms=(loop.time() - scheduled) * 1000, replayed=replayed,
                                  location=location, error=error))


async def run_stage(client: httpx.AsyncClient, rate: float, seconds: float, *, prefix: str,
                    campaign_id: int, branch_ids: list[int], rng: random.Random) -> Stage:
    stage = Stage(rate=rate, seconds=seconds)
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []

    async def retry_later(key: str, body: dict[str, Any], at: float) -> None:
        await asyncio.sleep(max(0.0, at - loop.time()))
        await _post(client, stage, key, body, at, retry=True)

    started = loop.time() + 0.05
    for i in range(int(rate * seconds)):
        scheduled = started + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        key = f"{prefix}-{i:06d}"
        body = form_body(rng, campaign_id, branch_ids, key)
        stage.opinions[key] = len(body["opinions"])
        tasks.append(asyncio.create_task(_post(client, stage, key, body, scheduled, False)))
        if rng.random() < RETRY_SHARE:
            at = scheduled + rng.uniform(0.0, 0.5)
            tasks.append(asyncio.create_task(retry_later(key, body, at)))
    _done, pending = await asyncio.wait(tasks, timeout=DRAIN_SECONDS) if tasks else ((), ())
    for task in pending:
        task.cancel()
    stage.unfinished = len(pending)
    stage.elapsed = loop.time() - started
    return stage


@dataclass
class Check:
    acked: int
    stored_rows: int
    duplicated_keys: int
    missing: int  # acknowledged but not stored
    stored_unacked: int  # stored although no attempt got its 201 (e.g. a timed-out answer)
    opinion_mismatch: int
    location_mismatch: int

    @property
    def ok(self) -> bool:
        return not (self.duplicated_keys or self.missing or self.opinion_mismatch
                    or self.location_mismatch)


def check_stored(engine: Engine, stages: list[Stage], prefix: str) -> Check:
    """Every acknowledged key stored exactly once, with its opinions; replays agree.

    `prefix` begins every key of `stages` and no other key."""
    acked = set().union(*(s.acked for s in stages))
    expected = {k: n for s in stages for k, n in s.opinions.items()}
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT f.respondent_name, count(DISTINCT f.id), count(o.id) "
            "FROM feedback_form f LEFT JOIN opinion o ON o.form_id = f.id "
            "WHERE f.respondent_name LIKE :p GROUP BY f.respondent_name"),
            {"p": prefix + "%"}).all()
        stored_rows = conn.execute(text(
            "SELECT count(*) FROM feedback_form WHERE respondent_name LIKE :p"),
            {"p": prefix + "%"}).scalar_one()
    forms = {name: n for name, n, _ in rows}
    opinions = {name: o for name, _, o in rows}
    locations: dict[str, set[str]] = {}
    for s in stages:
        for a in s.attempts:
            if a.status == 201 and a.location:
                locations.setdefault(a.key, set()).add(a.location)
    return Check(
        acked=len(acked), stored_rows=int(stored_rows),
        duplicated_keys=sum(n > 1 for n in forms.values()),
        missing=len(acked - forms.keys()), stored_unacked=len(forms.keys() - acked),
        opinion_mismatch=sum(opinions[k] != expected[k] * forms[k] for k in forms),
        location_mismatch=sum(len(v) > 1 for v in locations.values()),
    )


def describe(stage: Stage) -> str:
    firsts, retries = stage.firsts, stage.retries
    statuses = Counter(a.error or a.status for a in stage.attempts)
    replayed = sum(a.replayed for a in retries)
    acks = sum(a.status == 201 for a in firsts)
    return (f"{stage.rate:>5.0f}/s x {stage.seconds:.0f} s: {len(firsts)} forms + "
            f"{len(retries)} retries ({replayed} answered as replays), "
            f"{acks / stage.elapsed:6.1f} acks/s; answers {dict(statuses)}"
            f"{f', {stage.unfinished} unanswered' if stage.unfinished else ''}; "
            f"latency p50 {stage.p(50):.0f} p90 {stage.p(90):.0f} p99 {stage.p(99):.0f} "
            f"max {stage.p(100):.0f} ms")


async def healthz(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/healthz", timeout=5)).status_code == 200
    except httpx.HTTPError:
        return False


class Server:
    """The app under uvicorn (`workers` processes), restartable between stages (a stalled
    server would make every later stage fail for the earlier stage's reason)."""

    def __init__(self, target: str, url: str, workers: int = 1) -> None:
        self.target, self.url, self.workers = target, url, workers
        self.stack = ExitStack()
        self.base = ""
        self.restarts = 0

    def start(self) -> None:
        self.base = self.stack.enter_context(
            uvicorn_server(self.target, env=app_env(self.url), workers=self.workers))

    def restart(self) -> None:
        self.stack.close()
        self.stack = ExitStack()
        self.restarts += 1
        self.start()

    def close(self) -> None:
        self.stack.close()


def new_client(base: str, token: str) -> httpx.AsyncClient:
    # idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them, so a
    # request never goes out on a connection the server is closing (a client-side artefact)
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512,
                          keepalive_expiry=2.0)
    return httpx.AsyncClient(base_url=base, limits=limits, timeout=DRAIN_SECONDS,
                             headers={"Authorization": f"Bearer {token}"})


async def warm_up(client: httpx.AsyncClient, rng: random.Random, campaign_id: int,
                  branch_ids: list[int], prefix: str) -> None:
    """A few forms one at a time: imports, templates, connections and plans warm."""
    for i in range(5):
        key = f"{prefix}-{i}"
        response = await client.post(PATH, json=form_body(rng, campaign_id, branch_ids, key),
                                     headers={"Idempotency-Key": key})
        response.raise_for_status()


@dataclass
class Outcome:
    """What one server configuration achieved."""

    workers: int
    soak_ok: bool  # the soak without errors, every acknowledged form stored once
    soak_held: bool  # ... and answered in time (p99 under the limit): the rate was held
    ceiling: float | None  # forms/s; None: not even the lowest rate tried
    best: float  # most forms acknowledged per second in any stage


async def drive(server: Server, token: str, engine: Engine, args: argparse.Namespace,
                campaign_id: int, branch_ids: list[int]) -> Outcome:
    rng = random.Random(20261125)
    run = secrets.token_hex(3)
    client = new_client(server.base, token)
    try:
        await warm_up(client, rng, campaign_id, branch_ids, f"warm{run}")
        log(f"soak: {args.rate:.0f} forms/s for {args.seconds:.0f} s ...")
        soak = await run_stage(client, args.rate, args.seconds, prefix=f"soak{run}",
                               campaign_id=campaign_id, branch_ids=branch_ids, rng=rng)
        log("  " + describe(soak))
        check = check_stored(engine, [soak], f"soak{run}-")
        alive = await healthz(client)
        log(f"  stored: {check.stored_rows} rows for {check.acked} acknowledged keys; "
            f"duplicated keys {check.duplicated_keys}, missing {check.missing}, stored but "
            f"unacknowledged {check.stored_unacked}, opinion mismatches "
            f"{check.opinion_mismatch}, replay Location mismatches {check.location_mismatch}")
        log(f"  /healthz after the soak: {'ok' if alive else 'NO ANSWER'}")

        ramp: list[Stage] = []
        stalled: list[float] = []  # rates after which the server stopped answering /healthz
        good: float | None = None
        bad: float | None = None

        async def step(rate: float, answering: bool) -> tuple[bool, bool]:
            nonlocal client
            if not answering:
                log("  the server no longer answers /healthz: restarting it for the next stage")
                await client.aclose()
                await asyncio.to_thread(server.restart)
                client = new_client(server.base, token)
                await warm_up(client, rng, campaign_id, branch_ids, f"warm{run}r{int(rate)}")
            await asyncio.sleep(2)  # let the previous stage's tail settle
            stage = await run_stage(client, rate, args.ramp_seconds,
                                    prefix=f"ramp{run}r{int(rate)}", campaign_id=campaign_id,
                                    branch_ids=branch_ids, rng=rng)
            ramp.append(stage)
            answering = await healthz(client)
            if not answering:
                stalled.append(rate)
            log(f"  ramp {'ok  ' if stage.ok else 'FAIL'} " + describe(stage)
                + ("" if answering else "; then no answer to /healthz"))
            return stage.ok, answering

        answering = alive
        if soak.ok:
            good = args.rate  # the soak itself is a sustained rate
        for rate in sorted(args.ramp):
            ok, answering = await step(rate, answering)
            if not ok:
                bad = rate
                break
            good = rate
        for _ in range(2):  # two halvings between the last good and the first bad rate
            if good is None or bad is None or bad - good <= 0.15 * good:
                break
            middle = round((good + bad) / 2)
            ok, answering = await step(middle, answering)
            if ok:
                good = middle
            else:
                bad = middle
        ramp_check = check_stored(engine, ramp, f"ramp{run}r")
        alive_end = await healthz(client)
    finally:
        await client.aclose()

    workers = f"{server.workers} worker{'s' if server.workers > 1 else ''}"
    log(f"\n{machine()}; PostgreSQL {args.pg_version}; app {args.app}, {workers}")
    log(f"soak {args.rate:.0f}/s x {args.seconds:.0f} s: {len(soak.firsts)} forms, "
        f"{len(soak.retries)} retries, errors {soak.errors}; latency p50 {soak.p(50):.0f} / "
        f"p90 {soak.p(90):.0f} / p99 {soak.p(99):.0f} / max {soak.p(100):.0f} ms")
    soak_ok = check.ok and check.stored_rows == check.acked and soak.errors == 0
    log(f"  every acknowledged form stored exactly once: {verdict(soak_ok)} "
        f"({check.stored_rows} rows, {check.acked} keys acknowledged, "
        f"{check.duplicated_keys} duplicated)")
    log(f"  /healthz after the soak: {'ok' if alive else 'NO ANSWER'}")
    log(f"ramp: {', '.join(f'{s.rate:.0f}/s ' + ('ok' if s.ok else 'fail') for s in ramp)}; "
        f"stored once: {'yes' if ramp_check.ok else 'NO'} ({ramp_check.stored_rows} rows, "
        f"{ramp_check.acked} acknowledged, {ramp_check.duplicated_keys} duplicated, "
        f"{ramp_check.stored_unacked} stored but unacknowledged)")
    if stalled:
        log(f"  the server stopped answering (even /healthz) after the stages at "
            f"{', '.join(f'{r:.0f}/s' for r in stalled)}; restarted {server.restarts} time(s)")
    ceiling = (f"{good:.0f} forms/s" if good is not None
               else f"below {min([args.rate, *args.ramp]):.0f}/s")
    best = max((sum(a.status == 201 for a in s.firsts) / s.elapsed for s in [soak, *ramp]),
               default=0.0)
    log(f"ceiling with {workers} (no errors, p99 < {P99_LIMIT_MS:.0f} ms): {ceiling}; most "
        f"forms acknowledged per second in any stage: {best:.0f}; /healthz at the end: "
        f"{'ok' if alive_end else 'NO ANSWER'}")
    return Outcome(workers=server.workers, soak_ok=soak_ok, soak_held=soak_ok and soak.ok,
                   ceiling=good, best=best)


def compare(outcomes: list[Outcome], args: argparse.Namespace) -> None:
    """The soak's verdict and the ceiling per worker count, and the ceilings' ratio."""
    log(f"\n{machine()}")
    log(f"soak {args.rate:.0f}/s x {args.seconds:.0f} s: 'stored once' is the target (no "
        f"errors, every acknowledged form stored once); 'held' adds p99 < {P99_LIMIT_MS:.0f} ms")
    log(f"{'workers':<9}{'stored once':<15}{'held':<6}{'ceiling':>12}{'best acks/s':>13}")
    for o in outcomes:
        ceiling = f"{o.ceiling:.0f}/s" if o.ceiling is not None else "none"
        log(f"{o.workers:<9}{verdict(o.soak_ok):<15}{'yes' if o.soak_held else 'NO':<6}"
            f"{ceiling:>12}{o.best:>13.0f}")
    by_workers = {o.workers: o for o in outcomes}
    one, two = by_workers.get(1), by_workers.get(2)
    if one and two and one.ceiling and two.ceiling:
        log(f"ceiling with 2 workers / 1 worker: {two.ceiling / one.ceiling:.2f}x; most "
            f"acknowledged per second: {two.best / one.best:.2f}x (the ramp's steps, "
            f"{', '.join(f'{r:.0f}' for r in sorted(args.ramp))}/s and two halvings, "
            f"bound the ceiling's precision)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--ramp", type=lambda s: [float(x) for x in s.split(",") if x],
                        default=[100, 200, 400, 800])
    parser.add_argument("--ramp-seconds", type=float, default=10)
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",") if x],
                        default=[1, 2],
                        help="uvicorn worker counts to soak and ramp, one after the other")
    parser.add_argument("--app", default="app.main:create_app",
                        help="the app factory uvicorn serves (to compare a variant)")
    args = parser.parse_args()
    from app.db import make_engine

    log(f"machine: {machine()}")
    with bench_database() as url:
        engine = make_engine(url)
        try:
            args.pg_version = pg_version(engine)
            data = generate(engine, Scale.proportional(300, 2000))
            township = data.township_ids[0]
            token = create_token(engine, write=True, township_id=township, name="soak")
            outcomes = []
            for workers in args.workers:
                log(f"\n== {workers} worker(s) ==")
                server = Server(args.app, url, workers)
                try:
                    server.start()
                    started = time.perf_counter()
                    outcomes.append(asyncio.run(drive(server, token, engine, args,
                                                      data.campaign_id,
                                                      data.branches_of(township))))
                    log(f"(driven for {time.perf_counter() - started:.0f} s)")
                finally:
                    server.close()
            compare(outcomes, args)
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
