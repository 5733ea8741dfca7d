"""The `rectify` command, run in-process against a temporary SQLite file."""

import re
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from typer.testing import CliRunner, Result

import app.db
from app import clock
from app.cli import cli
from app.config import get_settings
from app.db import make_engine
from app.main import create_app
from app.migrate import schema_problem
from app.services.demo import DEMO_TOWNSHIP
from tests.conftest import PG_ADMIN_URL, _pg_available

runner = CliRunner()
# the report's township; `rectify demo` also adds a neighbouring one (整顿转化) with 6 branches
OWN = "township_id = (SELECT id FROM township WHERE code = 'DEMO-SSDG')"
VILLAGE_ONLY = f"kind = 'village' AND deleted_at IS NULL AND {OWN}"


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """DATABASE_URL pointing at a new SQLite file, with the cached settings and engines reset."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.chdir(tmp_path)  # no stray .env, nothing written into the checkout
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("LOGIN_DELAY_SECONDS", "0")
    monkeypatch.setattr(app.db, "_engines", {})
    get_settings.cache_clear()
    yield url
    for engine in app.db._engines.values():
        engine.dispose()
    get_settings.cache_clear()


def run(*args: str) -> Result:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def upgraded(db_url: str) -> str:
    run("db", "upgrade")
    return db_url


@pytest.fixture
def reader(upgraded: str) -> Iterator[Engine]:
    engine = make_engine(upgraded)
    yield engine
    engine.dispose()


def scalar(engine: Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def counts(engine: Engine) -> dict[str, object]:
    tables = ("township", "branch", "user_account", "audit_event", "change")
    return {t: scalar(engine, f'SELECT count(*) FROM "{t}"') for t in tables}


def test_db_upgrade_brings_an_empty_file_to_head(db_url: str) -> None:
    result = run("db", "upgrade")
    assert "最新" in result.output
    engine = make_engine(db_url)
    try:
        assert schema_problem(engine) is None
    finally:
        engine.dispose()
    run("db", "upgrade")  # again: nothing to do, still fine


def test_demo_loads_the_report_figures(reader: Engine) -> None:
    run("demo")
    assert scalar(reader, "SELECT count(*) FROM township") == 2
    assert scalar(reader, "SELECT name FROM township WHERE code = 'DEMO-SSDG'") == DEMO_TOWNSHIP[0]
    assert scalar(reader, f"SELECT count(*) FROM branch WHERE {OWN}") == 9
    assert scalar(reader, f"SELECT sum(member_count) FROM branch WHERE {OWN}") == 271
    assert scalar(reader, f"SELECT count(*) FROM branch WHERE {VILLAGE_ONLY}") == 6
    assert scalar(reader, f"SELECT sum(member_count) FROM branch WHERE {VILLAGE_ONLY}") == 194
    bands = [
        scalar(reader, f"SELECT sum({col}) FROM branch WHERE {OWN}")
        for col in ("members_35_under", "members_36_55", "members_56_over")
    ]
    assert bands == [6, 92, 81]
    assert scalar(reader, f"SELECT sum(applicants_35_under) FROM branch WHERE {OWN}") == 27

    this_year = clock.today().year  # the county's year, as the demo computes it
    with reader.connect() as conn:
        ages = [
            this_year - year
            for (year,) in conn.execute(
                text(f"SELECT secretary_birth_year FROM branch WHERE {VILLAGE_ONLY}")
            )
        ]
        without_dual_role = sorted(
            name
            for (name,) in conn.execute(text(
                f"SELECT name FROM branch WHERE {VILLAGE_ONLY} AND NOT secretary_is_director"
            ))
        )
    assert len(ages) == 6
    assert sum(age >= 50 for age in ages) == 4
    assert sum(age >= 60 for age in ages) == 1 and 60 in ages
    assert without_dual_role == sorted(["望天鹅新村党支部", "鸡冠砬子村党支部"])


def test_demo_twice_changes_nothing_the_second_time(reader: Engine) -> None:
    first = run("demo")
    after_first = counts(reader)
    second = run("demo")
    assert counts(reader) == after_first
    assert after_first["branch"] == 9 + 6 and after_first["user_account"] == 4 + 2
    assert "demo-pass-2026" in first.output and "demo-pass-2026" in second.output


def test_user_create_then_login_through_the_api(upgraded: str) -> None:
    run("demo")
    run("user", "create", "alice", "--role", "township_staff",
        "--township", DEMO_TOWNSHIP[0], "--password", "alice-pass-123")
    with TestClient(create_app()) as client:
        r = client.post(
            "/api/v1/auth/login", json={"username": "alice", "password": "alice-pass-123"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["user"]["role"] == "township_staff"
        branches = client.get("/api/v1/branches", params={"limit": 500})
        assert branches.status_code == 200
        assert len(branches.json()["items"]) == 9
        wrong = client.post(
            "/api/v1/auth/login", json={"username": "alice", "password": "not-her-pass"}
        )
        assert wrong.status_code == 401


def test_user_create_names_an_unknown_township(upgraded: str) -> None:
    result = runner.invoke(cli, ["user", "create", "bob", "--role", "township_staff",
                                 "--township", "没有这个镇", "--password", "bob-pass-1234"])
    assert result.exit_code == 1
    assert "没有这个镇" in result.output


def test_token_create_prints_the_secret_alone_on_the_last_line(upgraded: str) -> None:
    run("demo")
    result = run("token", "create", "--name", "x", "--scope", "read")
    secret = result.stdout.rstrip("\n").splitlines()[-1]
    assert re.fullmatch(r"rct_[A-Za-z0-9_\-]{20,}", secret), secret

    with TestClient(create_app()) as client:
        r = client.get("/api/v1/branches", headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) == 9 + 6  # a county token: both demo townships
        forged = client.get(
            "/api/v1/branches", headers={"Authorization": f"Bearer {secret[:-1]}x"}
        )
        assert forged.status_code == 401


def test_backup_writes_a_sqlite_copy_with_the_branches(upgraded: str, tmp_path: Path) -> None:
    run("demo")
    target = tmp_path / "backup" / "copy.db"
    target.parent.mkdir()
    result = run("backup", str(target))
    assert str(target) in result.output
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute(f"SELECT count(*) FROM branch WHERE {OWN}").fetchone() == (9,)
        assert copy.execute(f"SELECT sum(member_count) FROM branch WHERE {OWN}").fetchone() == (
            271,)
    finally:
        copy.close()


@pytest.fixture
def pg_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A new PostgreSQL database, with DATABASE_URL pointing at it."""
    if not _pg_available():
        pytest.skip("PostgreSQL is not reachable at " + PG_ADMIN_URL)
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump / pg_restore are not installed")
    name = f"rectify_cli_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setattr(app.db, "_engines", {})
    get_settings.cache_clear()
    try:
        yield url
    finally:
        for engine in app.db._engines.values():
            engine.dispose()
        get_settings.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_backup_of_postgresql_is_a_dump_with_the_branches(pg_url: str, tmp_path: Path) -> None:
    run("db", "upgrade")
    run("demo")
    target = tmp_path / "rectify.dump"
    run("backup", str(target))
    listing = subprocess.run(["pg_restore", "--list", str(target)],
                             check=True, capture_output=True, text=True, timeout=60).stdout
    assert re.search(r"TABLE DATA public branch\b", listing)
    assert re.search(r"TABLE DATA public alembic_version\b", listing)
    branch_sql = subprocess.run(
        ["pg_restore", "--data-only", "--table=branch", "--file=-", str(target)],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    rows = branch_sql.split("FROM stdin;\n", 1)[1].split("\n\\.\n", 1)[0].splitlines()
    assert len(rows) == 9 + 6  # and the neighbouring demo township's
    assert sum("望天鹅新村党支部" in row for row in rows) == 1
