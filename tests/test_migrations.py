"""The migrations build exactly the models' schema, run backwards, and gate the app.

Each test gets its own empty database (a SQLite file, or a new PostgreSQL database), so
going down to base and back never disturbs the suite's shared database.
"""

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

import app.models  # noqa: F401  (registers every table)
from app.cli import cli
from app.config import Settings, get_settings
from app.db import make_engine
from app.main import create_app
from app.migrate import UPGRADE_COMMAND, downgrade, upgrade
from app.models.base import metadata
from tests.conftest import BACKENDS, PG_ADMIN_URL, _pg_available


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if not _pg_available():
        pytest.skip("PostgreSQL is not reachable at " + PG_ADMIN_URL)
    name = f"rectify_mig_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _schema_diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_empty_builds_exactly_the_models(empty_url: str) -> None:
    upgrade(empty_url)
    assert _schema_diff(empty_url) == []
    assert _tables(empty_url) == set(metadata.tables) | {"alembic_version"}


def test_upgrade_seeds_the_change_counter(empty_url: str) -> None:
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id, value FROM change_counter")).all() == [(1, 0)]
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_every_table_and_upgrade_runs_again(empty_url: str) -> None:
    upgrade(empty_url)
    downgrade(empty_url, "base")
    assert _tables(empty_url) == {"alembic_version"}
    upgrade(empty_url)
    assert _schema_diff(empty_url) == []


def test_app_refuses_to_start_on_a_database_not_at_head(empty_url: str, tmp_path: Path) -> None:
    engine = make_engine(empty_url)
    try:
        app = create_app(Settings(database_url=empty_url, upload_dir=tmp_path), engine)
        with pytest.raises(RuntimeError, match=UPGRADE_COMMAND), TestClient(app):
            pass
    finally:
        engine.dispose()


def test_readyz_answers_503_naming_the_upgrade_command_when_not_at_head(
    empty_url: str, tmp_path: Path
) -> None:
    engine = make_engine(empty_url)
    try:
        app = create_app(Settings(database_url=empty_url, upload_dir=tmp_path), engine)
        client = TestClient(app)  # no `with`: the lifespan check would refuse to start
        r = client.get("/readyz")
        assert r.status_code == 503
        assert UPGRADE_COMMAND in r.json()["detail"]
        assert client.get("/healthz").status_code == 200
    finally:
        engine.dispose()


def test_readyz_answers_503_after_a_downgrade(empty_url: str, tmp_path: Path) -> None:
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        app = create_app(Settings(database_url=empty_url, upload_dir=tmp_path), engine)
        with TestClient(app) as client:
            assert client.get("/readyz").status_code == 200
            downgrade(empty_url, "base")
            assert client.get("/readyz").status_code == 503
    finally:
        engine.dispose()


def test_serve_exits_non_zero_naming_the_upgrade_command(
    empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.db

    monkeypatch.setenv("DATABASE_URL", empty_url)
    monkeypatch.setattr(app.db, "_engines", {})
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve", "--port", "8999"])
    finally:
        for engine in app.db._engines.values():
            engine.dispose()
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert UPGRADE_COMMAND in result.output
