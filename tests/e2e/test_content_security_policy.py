"""The pages work under the site's Content-Security-Policy: no violation in the browser on
the main pages (htmx, its extension, the site's scripts and styles all come from the site),
and /docs renders Swagger UI from the vendored files."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from app.services.demo import DEMO_PASSWORD, load_demo
from tests.factories import committed

pytestmark = pytest.mark.e2e

PAGES = ["/dashboard", "/townships", "/branches", "/screenings", "/feedback", "/activities",
         "/problems", "/tasks", "/logout"]


@pytest.fixture
def demo(engine: Any) -> None:
    with committed(engine) as s:
        load_demo(s)


def _watch(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text)
            if "Content Security Policy" in m.text or "Refused to" in m.text else None)
    page.on("pageerror", lambda e: seen.append(str(e)))
    return seen


def test_the_pages_raise_no_content_security_policy_violation(
    page: Page, demo: None, log_in: Any
) -> None:
    seen = _watch(page)
    log_in(page, "admin", DEMO_PASSWORD)
    for path in PAGES:
        response = page.goto(path)
        assert response is not None and response.ok, path
        assert "default-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof htmx") == "object"  # htmx loaded and running
    assert seen == []


def test_a_filter_with_an_inline_handler_still_works(page: Page, demo: None, log_in: Any) -> None:
    seen = _watch(page)
    log_in(page, "admin", DEMO_PASSWORD)
    page.goto("/tasks")
    page.locator("input[name=overdue]").check()
    page.wait_for_url("**overdue=true**")
    assert seen == []


def test_docs_render_swagger_ui_from_the_site(page: Page, live_server: str) -> None:
    seen = _watch(page)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url)
            if not r.url.startswith(live_server) and not r.url.startswith("data:") else None)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Rectify")
    assert outside == [] and seen == []
