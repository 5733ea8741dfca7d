"""Browser tests: the real app under uvicorn on a free local port, driven by Chromium.

They run on SQLite only (the pages are the same on both databases; the API tests cover
PostgreSQL). Chromium comes from Debian's package (`make browser`); without it the tests are
skipped with that reason. Screenshots go to `test-artifacts/` (gitignored).
"""

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import Engine

from app.config import Settings
from app.main import create_app
from tests.factories import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run on the SQLite database only: skip their PostgreSQL runs before any
    database is made for them."""
    here = Path(__file__).parent
    sqlite_only = pytest.mark.skip(reason="browser tests run on SQLite only")
    for item in items:
        if here not in Path(str(item.fspath)).parents:
            continue
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database", "sqlite") != "sqlite":
            item.add_marker(sqlite_only)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(settings: Settings, engine: Engine) -> Iterator[str]:
    """The app on a fresh database, served by uvicorn in a thread; answers its base URL."""
    if engine.dialect.name != "sqlite":
        pytest.skip("browser tests run on SQLite only")
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings, engine), host="127.0.0.1", port=port, log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="e2e-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start for the browser tests")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator["object"]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make browser` to install Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser, live_server: str):  # type: ignore[no-untyped-def]
    """A fresh browser profile at phone size, its requests resolved against the live server."""
    ctx = browser.new_context(
        base_url=live_server, viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai",
        device_scale_factor=1, has_touch=True, is_mobile=False,
    )
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):  # type: ignore[no-untyped-def]
    return context.new_page()


@pytest.fixture
def shoot() -> Callable[..., None]:
    """`shoot(page, name)`: screenshots into test-artifacts/ at phone and desktop size.

    `<name>-phone.png` is the screen as the user sees it; `<name>-phone-full.png` the whole page.
    """
    ARTIFACTS.mkdir(exist_ok=True)

    def _shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
        before = page.viewport_size
        for size_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
            page.set_viewport_size(size)
            page.wait_for_timeout(100)  # let the layout and any scroll settle
            page.screenshot(path=ARTIFACTS / f"{name}-{size_name}.png")
            page.screenshot(path=ARTIFACTS / f"{name}-{size_name}-full.png", full_page=True)
        page.set_viewport_size(before)

    return _shoot


@pytest.fixture
def log_in() -> Callable[..., None]:
    """`log_in(page, username)`: signs in through the login form and waits for the redirect."""

    def _log_in(page, username: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
        page.goto("/login")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(lambda url: "/login" not in url)

    return _log_in
