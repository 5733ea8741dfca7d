"""What the benchmarks share: a throw-away PostgreSQL database, a fast data generator,
the app (or a bare baseline) under uvicorn, an API token, and small statistics.

The generator writes with `INSERT ... SELECT generate_series(...)` on the server, so a
province (50,000 branches, 1,000,000 tasks, 1,000,000 forms) takes a minute or two, not
hours of ORM inserts. Bulk SQL skips the ORM's session events, so the `change` and
`audit_event` tables stay empty for generated rows; no benchmark here reads them.

Run the benchmarks from the project root as modules, e.g. `.venv/bin/python -m
bench.summary_scale`; `BENCH_PG_URL` names the PostgreSQL server (any database on it; each
benchmark creates `rectify_bench_<random>` beside it and drops it at the end).
"""

from __future__ import annotations

import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, text

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def log(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------- the database


def _sigterm_to_exit(_signum: int, _frame: Any) -> None:
    raise SystemExit(143)


@contextmanager
def bench_database(prefix: str = "rectify_bench") -> Iterator[str]:
    """A new PostgreSQL database migrated to head; dropped (WITH (FORCE)) on the way out."""
    from app.migrate import upgrade

    signal.signal(signal.SIGTERM, _sigterm_to_exit)  # so `finally` drops the database
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    try:
        started = time.perf_counter()
        upgrade(url)
        log(f"database {name} migrated to head in {time.perf_counter() - started:.1f} s")
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        log(f"database {name} dropped")


def pg_version(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SHOW server_version")).scalar_one())


# ---------------------------------------------------------------- the data generator

KINDS = ["village"] * 6 + ["community", "organ", "enterprise", "school"]  # 6 in 10 villages
CATEGORIES = [
    "leadership_vacant", "secretary_unfit", "team_disunity", "rules_ignored",
    "election_bribery", "clan_interference", "village_affairs_chaos", "public_order_petitions",
    "weak_collective_economy", "poor_service", "weakened_function", "aging_members",
    "discipline_violation", "dual_role_gap", "other",
]
SOURCES = ["screening", "feedback", "inspection", "self_check"]
STATUSES = ["pending", "in_progress", "submitted", "verified"]
THEMES = ["prosperity", "member_quality", "service", "work_style", "organization", "other"]
RESPONDENTS = ["party_member", "villager", "cadre", "other"]


def _sql_array(values: Sequence[str]) -> str:
    return "ARRAY[" + ",".join(f"'{v}'" for v in values) + "]"


@dataclass(frozen=True)
class Scale:
    """How much to generate. The defaults are proportions taken from the township report
    (about 15 branches a township, 20 returned forms a branch, 1-3 opinions a form)."""

    branches: int
    tasks: int = 0
    townships: int | None = None  # None: one per 15 branches
    forms_per_branch: int = 0
    tasks_per_problem: int = 2
    suggestions_per_township: int = 7
    screenings: bool = True
    issuances: bool = True

    @property
    def township_count(self) -> int:
        return self.townships or max(1, math.ceil(self.branches / 15))

    @classmethod
    def proportional(cls, branches: int, tasks: int) -> Scale:
        """Problems, screenings, issuances, forms and opinions in proportion to the branches."""
        return cls(branches=branches, tasks=tasks, forms_per_branch=20)


@dataclass
class Generated:
    campaign_id: int
    township_ids: list[int]
    branch_ids: range
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def branches_of(self, township_id: int) -> list[int]:
        """Ids of the generated branches in one township (contiguous blocks)."""
        per = math.ceil(len(self.branch_ids) / len(self.township_ids))
        index = self.township_ids.index(township_id)
        start = self.branch_ids.start + index * per
        return list(range(start, min(start + per, self.branch_ids.stop)))


def _next_id(conn: Any, table: str) -> int:
    return int(conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one())


def _setval(conn: Any, table: str) -> None:
    conn.execute(text(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
        f"(SELECT coalesce(max(id), 1) FROM {table}))"
    ))


def generate(engine: Engine, scale: Scale, *, quiet: bool = False) -> Generated:
    """Townships, branches, one active campaign and, per `scale`, screenings, form issuances,
    feedback forms with opinions, suggestions, problems and tasks; then VACUUM ANALYZE.

    Every NOT NULL column is filled, with values spread so every figure of the summary has
    something to count (kinds, age bands, overdue tasks, dissatisfied forms, ...).
    """
    started = time.perf_counter()
    now = "(now() AT TIME ZONE 'utc')"
    b_count, t_count = scale.branches, scale.township_count
    per = math.ceil(b_count / t_count)
    counts: dict[str, int] = {}

    def step(conn: Any, table: str, sql: str, **params: Any) -> None:
        t0 = time.perf_counter()
        n = conn.execute(text(sql), params).rowcount
        counts[table] = counts.get(table, 0) + n
        if not quiet:
            log(f"  {table:<14} {n:>10,} rows  {time.perf_counter() - t0:6.1f} s")

    with engine.begin() as conn:
        # Foreign keys are checked by per-row triggers, which cost more than the inserts;
        # the generator derives every reference from the ids it writes, so skip them here
        # (superuser only; elsewhere the checks simply run).
        conn.execute(text(
            "DO $$ BEGIN IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
            "THEN SET LOCAL session_replication_role = replica; END IF; END $$"
        ))
        t0, b0 = _next_id(conn, "township"), _next_id(conn, "branch")
        c0, p0, f0 = (_next_id(conn, "campaign"), _next_id(conn, "problem"),
                      _next_id(conn, "feedback_form"))
        # branch number g (1-based) lies in township number 1 + (g - 1) / per
        township_of = f"(:t0 + 1 + (({{g}} - 1) / {per}))"
        step(conn, "township", f"""
            INSERT INTO township (id, created_at, updated_at, version, name, code)
            SELECT :t0 + g, {now}, {now}, 1, '基准乡镇' || (:t0 + g), 'B' || (:t0 + g)
            FROM generate_series(1, :n) g""", t0=t0, n=t_count)
        step(conn, "branch", f"""
            INSERT INTO branch (id, created_at, updated_at, version, kind, member_count,
                members_35_under, members_36_55, members_56_over, applicants_35_under,
                secretary_name, secretary_birth_year, secretary_is_director,
                collective_income_wan, income_sources, is_weak_lax, notes, township_id, name)
            SELECT :b0 + g, {now}, {now}, 1, ({_sql_array(KINDS)})[1 + g % 10], m,
                g % 5, (m - g % 5) / 2,
                m - g % 5 - (m - g % 5) / 2 - CASE WHEN g % 7 = 0 THEN 3 ELSE 0 END,
                g % 4, '书记' || g, 1958 + g % 35, g % 3 <> 0,
                (g % 200) / 10.0, CASE WHEN g % 2 = 0 THEN '土地发包、光伏收益' END,
                g % 25 = 0, NULL, {township_of.format(g='g')}, '第' || g || '党支部'
            FROM generate_series(1, :n) g, LATERAL (SELECT 20 + g % 40 AS m) mm""",
             t0=t0, b0=b0, n=b_count)
        conn.execute(text(f"""
            INSERT INTO campaign (id, created_at, updated_at, version, name, starts_on,
                screening_due, ends_on, status)
            VALUES (:c, {now}, {now}, 1, '基准专项整治', current_date - 120,
                current_date - 60, current_date + 180, 'active')"""), {"c": c0 + 1})
        counts["campaign"] = 1
        campaign = c0 + 1
        if scale.screenings:
            # a criterion is noted for the weak-and-lax, the pending and one in 20 branches
            # more; those concluded sound carry the judgement the app requires (and the
            # summary warns of them, a branch each)
            step(conn, "screening", f"""
                INSERT INTO screening (created_at, updated_at, version, campaign_id, branch_id,
                    led_by, led_by_title, screened_on, conclusion, summary, township_id, results)
                SELECT {now}, {now}, 1, :c, b.id, '镇党委书记', '书记',
                    current_date - 120 + (b.id % 80),
                    CASE b.id % 20 WHEN 0 THEN 'weak_lax' WHEN 1 THEN 'pending' ELSE 'sound' END,
                    CASE WHEN b.id % 20 = 2 THEN '收入来源单一但班子健全,经研判不列为软弱涣散' END,
                    b.township_id,
                    CAST(CASE WHEN b.id % 20 IN (0, 1, 2) THEN
                    '[{{"code": "leadership_vacant", "hit": false, "note": null}},
                      {{"code": "weak_collective_economy", "hit": true, "note": "增收渠道少"}}]'
                    ELSE
                    '[{{"code": "leadership_vacant", "hit": false, "note": null}},
                      {{"code": "weak_collective_economy", "hit": false, "note": null}}]'
                    END AS json)
                FROM branch b
                WHERE b.id > :b0 AND b.kind IN ('village', 'community') AND b.id % 11 <> 0""",
                 c=campaign, b0=b0)
        if scale.issuances:
            step(conn, "form_issuance", f"""
                INSERT INTO form_issuance (created_at, updated_at, version, campaign_id,
                    branch_id, township_id, issued)
                SELECT {now}, {now}, 1, :c, b.id, b.township_id, :fpb + 2 + b.id % 3
                FROM branch b WHERE b.id > :b0""",
                 c=campaign, b0=b0, fpb=scale.forms_per_branch)
        forms = b_count * scale.forms_per_branch
        if forms:
            # form g goes to branch number 1 + (g - 1) % branches
            step(conn, "feedback_form", f"""
                INSERT INTO feedback_form (id, created_at, updated_at, version, campaign_id,
                    branch_id, respondent_kind, anonymous, respondent_name, satisfaction,
                    township_id, submitted_by, submitted_at)
                SELECT :f0 + g, {now}, {now}, 1, :c, :b0 + bn,
                    ({_sql_array(RESPONDENTS)})[1 + g % 4], g % 3 <> 0,
                    CASE WHEN g % 3 = 0 THEN '群众' || g END,
                    (ARRAY['satisfied', 'satisfied', 'basically', 'dissatisfied', NULL])[1 + g % 5],
                    {township_of.format(g='bn')}, 'bench', {now} - (g % 10000) * interval '1 minute'
                FROM generate_series(1, :n) g, LATERAL (SELECT 1 + (g - 1) % :nb AS bn) x""",
                 f0=f0, c=campaign, b0=b0, t0=t0, n=forms, nb=b_count)
            step(conn, "opinion", f"""
                INSERT INTO opinion (created_at, updated_at, version, text, theme, form_id,
                    campaign_id, township_id, branch_id)
                SELECT {now}, {now}, 1, '意见建议' || f.id || '-' || k,
                    ({_sql_array(THEMES)})[1 + (f.id + k) % 6], f.id, f.campaign_id,
                    f.township_id, f.branch_id
                FROM feedback_form f, LATERAL generate_series(1, 1 + f.id % 3) k
                WHERE f.id > :f0""", f0=f0)
            step(conn, "suggestion", f"""
                INSERT INTO suggestion (created_at, updated_at, version, campaign_id,
                    township_id, text, theme)
                SELECT {now}, {now}, 1, :c, :t0 + 1 + (g - 1) / :k, '梳理意见' || g,
                    ({_sql_array(THEMES)})[1 + g % 6]
                FROM generate_series(1, :n) g""",
                 c=campaign, t0=t0, k=scale.suggestions_per_township,
                 n=t_count * scale.suggestions_per_township)
        if scale.tasks:
            problems = math.ceil(scale.tasks / scale.tasks_per_problem)
            # problem p belongs to branch number 1 + (p - 1) % branches (every 20th: none)
            step(conn, "problem", f"""
                INSERT INTO problem (id, created_at, updated_at, version, campaign_id,
                    township_id, branch_id, category, source, description)
                SELECT :p0 + g, {now}, {now}, 1, :c, {township_of.format(g='bn')},
                    CASE WHEN g % 20 = 0 THEN NULL ELSE :b0 + bn END,
                    ({_sql_array(CATEGORIES)})[1 + g % 15], ({_sql_array(SOURCES)})[1 + g % 4],
                    '问题描述' || g
                FROM generate_series(1, :n) g, LATERAL (SELECT 1 + (g - 1) % :nb AS bn) x""",
                 p0=p0, c=campaign, b0=b0, t0=t0, n=problems, nb=b_count)
            step(conn, "task", f"""
                INSERT INTO task (created_at, updated_at, version, problem_id, branch_id, title,
                    description, responsible_unit, responsible_person, due_on, campaign_id,
                    township_id, status, completed_at, verified_at, verified_by)
                SELECT {now}, {now}, 1, :p0 + p,
                    CASE WHEN p % 20 = 0 THEN NULL ELSE :b0 + bn END, '整改措施' || g, NULL,
                    '村党支部', CASE WHEN g % 50 = 0 THEN NULL ELSE '责任人' || g END,
                    current_date + (g % 120) - 60, :c, {township_of.format(g='bn')}, st,
                    CASE WHEN st = 'verified' THEN {now} END,
                    CASE WHEN st = 'verified' THEN {now} END,
                    CASE WHEN st = 'verified' THEN '县委组织部' END
                FROM generate_series(1, :n) g,
                    LATERAL (SELECT 1 + (g - 1) / :tpp AS p) pp,
                    LATERAL (SELECT 1 + (p - 1) % :nb AS bn,
                                    ({_sql_array(STATUSES)})[1 + g % 4] AS st) x""",
                 p0=p0, b0=b0, t0=t0, c=campaign, n=scale.tasks, tpp=scale.tasks_per_problem,
                 nb=b_count)
        for table in ("township", "branch", "campaign", "problem", "feedback_form"):
            _setval(conn, table)
    vacuum_analyze(engine)
    seconds = time.perf_counter() - started
    if not quiet:
        log(f"  generated in {seconds:.1f} s (VACUUM ANALYZE included)")
    return Generated(campaign_id=campaign, township_ids=list(range(t0 + 1, t0 + t_count + 1)),
                     branch_ids=range(b0 + 1, b0 + b_count + 1), counts=counts,
                     seconds=seconds)


def vacuum_analyze(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


# ---------------------------------------------------------------- tokens


def create_token(engine: Engine, *, write: bool = False, township_id: int | None = None,
                 name: str = "bench") -> str:
    """A new API token's bearer secret (created through the service, in a transaction)."""
    from app.db import transaction
    from app.models.user import TokenScope
    from app.services.auth import create_api_token

    with transaction(engine) as session:
        _token, secret = create_api_token(
            session, name=name, scope=TokenScope.write if write else TokenScope.read,
            township_id=township_id, expires_at=None,
        )
    return secret


# ---------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


UVICORN_FLAGS = ["--host", "127.0.0.1", "--no-access-log", "--log-level", "warning"]


@contextmanager
def uvicorn_server(target: str, *, env: dict[str, str] | None = None, factory: bool = True,
                   ready_path: str = "/healthz", timeout: float = 60.0,
                   workers: int = 1) -> Iterator[str]:
    """`uvicorn target` in a subprocess (`workers` processes, no access log); yields its
    base URL.

    Its output goes to a temporary file, printed if it fails to start or dies early.
    """
    port = free_port()
    cmd = [str(VENV_BIN / "uvicorn"), target, *(["--factory"] if factory else []),
           *UVICORN_FLAGS, "--workers", str(workers), "--port", str(port)]
    with server_process(cmd, port, name=target, env=env, ready_path=ready_path,
                        timeout=timeout) as base:
        yield base


@contextmanager
def server_process(cmd: list[str], port: int, *, name: str, env: dict[str, str] | None = None,
                   ready_path: str = "/healthz", timeout: float = 60.0) -> Iterator[str]:
    """A server command listening on 127.0.0.1:`port`, run from the project root with this
    checkout's code first on the path; yields its base URL once `ready_path` answers 200,
    and stops it with SIGINT (a supervisor passes it on to its workers) on the way out.

    Its output goes to a temporary file, printed if it fails to start or dies early.
    """
    base = f"http://127.0.0.1:{port}"
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(cmd, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": path, **(env or {})},
                                stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own group: workers included

        def server_output() -> str:
            output.seek(0)
            return output.read().decode(errors="replace")[-4000:]

        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode}:\n{server_output()}")
                try:
                    if httpx.get(base + ready_path, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not answer {ready_path} within {timeout} s")
                time.sleep(0.2)
            yield base
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    log(f"{name} did not stop within 15 s of SIGINT; killed")
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
            if proc.returncode not in (0, -signal.SIGINT, -signal.SIGKILL):
                log(f"{name} ended with {proc.returncode}; last output:\n{server_output()}")


class ConcurrencyLimit:
    """ASGI middleware: at most `limit` requests inside the app at once, the rest wait here."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._semaphore: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:
            import asyncio

            self._semaphore = asyncio.Semaphore(self.limit)
        async with self._semaphore:
            await self.app(scope, receive, send)


def admission_limited_app() -> Any:
    """An experiment, not the app's code: the real app behind `ConcurrencyLimit` with as many
    requests inside as the database pool has connections (`--app
    bench.common:admission_limited_app`), to compare with the app as it is."""
    from app.config import get_settings
    from app.main import create_app

    settings = get_settings()
    return ConcurrencyLimit(create_app(settings), settings.db_pool_size)


def app_env(url: str) -> dict[str, str]:
    """Environment for the real app's process: the benchmark's database, nothing else."""
    return {"DATABASE_URL": url, "ENVIRONMENT": "development"}


# ---------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def machine() -> str:
    """CPUs, Python, and the load average: on a shared machine, read the figures with it."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs (nproc), Python {sys.version.split()[0]}, load average {load}"
