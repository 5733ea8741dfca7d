"""Fixtures: a fresh, migrated database per backend, emptied after every test.

Every test that uses the database runs on SQLite and on PostgreSQL (the machine's server at
127.0.0.1:5432; a fresh database per run, dropped at the end). Without a reachable
PostgreSQL the PostgreSQL runs are skipped, so the suite passes on SQLite alone.
"""

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Tests compute "today" with date.today(); the app reads the same clock under test.
os.environ["TIMEZONE"] = "local"
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.migrate import upgrade
from app.models.base import metadata
from app.models.user import Role
from tests.factories import PASSWORD

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = [b for b in os.environ.get("TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


def _pg_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


@dataclass
class Database:
    backend: str
    url: str
    engine: Engine


@pytest.fixture(scope="session", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    backend = request.param
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("db") / "rectify.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        engine = make_engine(url)
        yield Database(backend, url, engine)
        engine.dispose()
        return
    if not _pg_available():
        pytest.skip("PostgreSQL is not reachable at " + PG_ADMIN_URL)
    name = f"rectify_test_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    engine = make_engine(url, pool_size=20)
    try:
        yield Database(backend, url, engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty(engine: Engine) -> None:
    """Empty every table, then restore the rows the migrations seed."""
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))
        conn.execute(text("INSERT INTO change_counter (id, value) VALUES (1, 0)"))
    # put back what the migrations seed, so every test starts from a freshly migrated state
    from tests.factories import (
        committed,
        ensure_default_acceptance_items,
        ensure_default_criteria,
    )

    with committed(engine) as session:
        ensure_default_criteria(session)
        ensure_default_acceptance_items(session)


@pytest.fixture
def engine(database: Database) -> Iterator[Engine]:
    yield database.engine
    _empty(database.engine)


@pytest.fixture
def settings(database: Database, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database.url, upload_dir=tmp_path / "uploads", login_delay_seconds=0.0,
        db_pool_size=20 if database.backend == "postgresql" else 10,
    )


@pytest.fixture
def app(settings: Settings, engine: Engine):  # type: ignore[no-untyped-def]
    return create_app(settings, engine)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as c:
        yield c


class Browser:
    """A signed-in API client: the session cookie plus the CSRF header, as a page sends them."""

    def __init__(self, app, username: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
        self.client = TestClient(app)
        self.client.__enter__()
        r = self.client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert r.status_code == 200, r.text
        self.csrf = r.json()["csrf_token"]
        self.client.headers["X-CSRF-Token"] = self.csrf

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.client, name)

    def close(self) -> None:
        self.client.__exit__(None, None, None)


@pytest.fixture
def login(app) -> Iterator:  # type: ignore[no-untyped-def,type-arg]
    """`login(username)` answers a signed-in client."""
    opened: list[Browser] = []

    def _login(username: str, password: str = PASSWORD) -> Browser:
        b = Browser(app, username, password)
        opened.append(b)
        return b

    yield _login
    for b in opened:
        b.close()


@dataclass
class World:
    """Two townships, a branch in each, and one user of every role in the first."""

    township: object
    other_township: object
    branch: object
    other_branch: object
    users: dict[Role | str, str]


@pytest.fixture
def world(engine: Engine) -> World:
    from tests.factories import committed, make_branch, make_township, make_user

    with committed(engine) as s:
        t1 = make_township(s, name="甲镇")
        t2 = make_township(s, name="乙镇")
        b1 = make_branch(s, t1, name="甲一村党支部")
        b2 = make_branch(s, t2, name="乙一村党支部")
        users = {
            Role.county_admin: make_user(s, Role.county_admin, username="admin").username,
            Role.township_staff: make_user(
                s, Role.township_staff, township=t1, username="staff"
            ).username,
            Role.branch_secretary: make_user(
                s, Role.branch_secretary, branch=b1, username="secretary"
            ).username,
            Role.viewer: make_user(s, Role.viewer, township=t1, username="viewer").username,
            "county_viewer": make_user(s, Role.viewer, username="countyviewer").username,
            "other_staff": make_user(
                s, Role.township_staff, township=t2, username="otherstaff"
            ).username,
        }
        return World(t1, t2, b1, b2, users)


@pytest.fixture(autouse=True)
def _today_of_the_test(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test module's `TODAY` (and `YEAR`), taken when the module was imported, taken
    again as the test starts: a run that crosses midnight would otherwise build and check
    its data with yesterday's date while the service counts from today's."""
    from datetime import date

    module = request.module
    if isinstance(getattr(module, "TODAY", None), date):
        monkeypatch.setattr(module, "TODAY", date.today())
        if hasattr(module, "YEAR"):
            monkeypatch.setattr(module, "YEAR", date.today().year)


@pytest.fixture
def county_time() -> Iterator[None]:
    """The county's clock (TIMEZONE=Asia/Shanghai) instead of the machine's, for tests of how
    instants are shown as the county's dates and times."""
    from app.config import get_settings

    os.environ["TIMEZONE"] = "Asia/Shanghai"
    get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ["TIMEZONE"] = "local"
        get_settings.cache_clear()
