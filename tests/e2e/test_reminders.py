"""催办 and the bell in real browsers: township staff urge a task at the office; the branch
secretary's phone shows the unread count, the list, and the task with the urging in its
timeline."""

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, expect

from app.models.user import Role
from tests.e2e.conftest import DESKTOP
from tests.factories import (
    committed,
    make_branch,
    make_campaign,
    make_problem,
    make_task,
    make_township,
    make_user,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def task_id(engine: Any) -> int:
    with committed(engine) as s:
        township = make_township(s, name="十四道沟镇")
        branch = make_branch(s, township, name="干沟子村党支部")
        problem = make_problem(s, make_campaign(s), township, branch=branch)
        task = make_task(s, problem, title="按月召开主题党日")
        make_user(s, Role.branch_secretary, branch=branch, username="secretary")
        staff = make_user(s, Role.township_staff, township=township, username="staff")
        staff.display_name = "王组织委员"
        return int(task.id)


@pytest.fixture
def desktop(browser: Any, live_server: str) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=live_server, viewport=DESKTOP, locale="zh-CN",
                              timezone_id="Asia/Shanghai")
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


def test_staff_urge_and_the_secretary_sees_it_under_the_bell(
    page: Any, desktop: BrowserContext, log_in: Any, shoot: Any, task_id: int
) -> None:
    office = desktop.new_page()
    log_in(office, "staff")
    office.goto(f"/tasks/{task_id}")
    office.get_by_label("催办说明(可选)").fill("请本周内上报整改进展")
    office.get_by_role("button", name="催办", exact=True).click()
    expect(office.locator("#task-detail .alert-ok")).to_contain_text("已催办")
    expect(office.locator("#timeline")).to_contain_text("王组织委员 催办:请本周内上报整改进展")

    log_in(page, "secretary")
    expect(page.locator("#bell-count")).to_have_text("1")
    page.get_by_role("link", name="提醒").click()
    notice = page.get_by_role(
        "link", name="王组织委员催办任务“按月召开主题党日”:请本周内上报整改进展")
    expect(notice).to_be_visible()
    shoot(page, "reminders-list")
    notice.click()
    page.wait_for_url(f"**/tasks/{task_id}")
    expect(page.locator("#timeline")).to_contain_text("催办:请本周内上报整改进展")
    expect(page.locator("#bell-count")).to_have_text("")
