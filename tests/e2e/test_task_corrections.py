"""Correcting tasks on a phone (390×844): extending a started task's due date with a reason,
cancelling a task, confirming a due date already past, and Back after verifying."""

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from app.models.task import TaskStatus
from app.models.user import Role
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

TODAY = date.today()


@dataclass(frozen=True)
class Ledger:
    problem_id: int
    working: int  # in progress, due in 5 days
    waiting: int  # submitted by the secretary


@pytest.fixture
def ledger(engine) -> Ledger:  # type: ignore[no-untyped-def]
    with committed(engine) as s:
        township = make_township(s, name="十四道沟镇")
        branch = make_branch(s, township, name="干沟子村党支部")
        campaign = make_campaign(s, name="2025年整顿软弱涣散基层党组织")
        problem = make_problem(s, campaign, township, branch=branch,
                               description="组织生活不正常,主题党日流于形式")
        secretary = make_user(s, Role.branch_secretary, branch=branch, username="secretary")
        make_user(s, Role.township_staff, township=township, username="staff")
        working = make_task(s, problem, title="整理党员档案", status=TaskStatus.in_progress,
                            due_on=TODAY + timedelta(days=5))
        waiting = make_task(s, problem, title="建立三会一课台账", status=TaskStatus.submitted,
                            submitted_by_id=secretary.id, submitted_by="干沟子村书记",
                            submitted_by_role=Role.branch_secretary)
        return Ledger(problem.id, working.id, waiting.id)


def fits_phone(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def confirm_all(page: Page) -> list[str]:
    asked: list[str] = []

    def accept(dialog) -> None:  # type: ignore[no-untyped-def]
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return asked


def test_staff_extends_a_started_task_with_a_reason(  # type: ignore[no-untyped-def]
    page: Page, ledger: Ledger, log_in, shoot
) -> None:
    log_in(page, "staff")
    page.goto(f"/tasks/{ledger.working}")
    old_due = (TODAY + timedelta(days=5)).isoformat()
    new_due = (TODAY + timedelta(days=35)).isoformat()
    page.locator("#task-edit summary").click()
    form = page.locator("#edit-form")
    form.get_by_label("整改时限", exact=True).fill(new_due)
    form.get_by_role("button", name="保存修改").click()
    expect(page.locator("#err-reason")).to_have_text("任务已开始,调整整改时限(延期)须填写原因")
    expect(form.get_by_label("延期原因(任务已开始,调整整改时限须填写)")).to_have_attribute(
        "aria-invalid", "true")
    fits_phone(page)
    shoot(page, "task-extend-needs-reason")

    form.get_by_label("延期原因(任务已开始,调整整改时限须填写)").fill("汛期道路中断,无法施工")
    form.get_by_role("button", name="保存修改").click()
    expect(page.locator("#task-detail").get_by_role("status")).to_have_text("已保存")
    expect(page.locator(".facts")).to_contain_text(new_due)
    extend = page.locator("#timeline li.tl-extend")
    expect(extend).to_have_count(1)
    expect(extend).to_contain_text(f"延期:整改时限 {old_due} → {new_due}")
    expect(extend).to_contain_text("原因:汛期道路中断,无法施工")
    fits_phone(page)
    shoot(page, "task-extended")


def test_staff_cancels_a_task_with_a_reason(  # type: ignore[no-untyped-def]
    page: Page, ledger: Ledger, log_in, shoot
) -> None:
    asked = confirm_all(page)
    log_in(page, "staff")
    page.goto(f"/tasks/{ledger.working}")
    cancel = page.locator("#transition-form").get_by_role("button", name="撤销任务", exact=True)
    cancel.click()
    assert "确定撤销此任务吗" in asked[-1]
    expect(page.locator("#err-note")).to_have_text("撤销任务须填写原因")
    page.locator("#note").fill("已并入“建立三会一课台账”任务")
    cancel.click()
    expect(page.locator("#task-status")).to_have_text("已撤销")
    expect(page.locator("#status-note")).to_contain_text("已并入“建立三会一课台账”任务")
    expect(page.locator("#timeline")).to_contain_text("撤销任务:已并入“建立三会一课台账”任务")
    expect(page.locator("#transition-form")).to_have_count(0)
    expect(page.locator("#task-edit")).to_have_count(0)
    fits_phone(page)
    shoot(page, "task-cancelled")

    page.goto("/tasks")
    column = page.locator(".board-col").filter(has=page.locator("#col-cancelled"))
    expect(column.get_by_role("link", name="整理党员档案")).to_be_visible()
    expect(column.locator(".count")).to_have_text("1")
    fits_phone(page)


def test_a_due_date_already_past_is_confirmed_on_the_page(  # type: ignore[no-untyped-def]
    page: Page, ledger: Ledger, log_in
) -> None:
    log_in(page, "staff")
    page.goto(f"/problems/{ledger.problem_id}")
    page.get_by_text("新增整改任务").click()
    form = page.locator("form[hx-post='/api/v1/tasks']")
    form.get_by_label("整改措施").fill("补录:三月主题党日")
    form.get_by_label("整改时限").fill((TODAY - timedelta(days=10)).isoformat())
    # declined: nothing is sent
    page.once("dialog", lambda d: d.dismiss())
    form.get_by_role("button", name="保存").click()
    page.wait_for_timeout(300)
    expect(page.locator("#task-rows")).not_to_contain_text("补录:三月主题党日")
    # confirmed: saved, and overdue at once
    asked = confirm_all(page)
    form.get_by_role("button", name="保存").click()
    card = page.locator("#task-rows .task-card", has_text="补录:三月主题党日")
    expect(card).to_contain_text("已逾期")
    assert "整改时限早于今天" in asked[-1]
    fits_phone(page)


def test_back_after_verifying_shows_the_fresh_page(  # type: ignore[no-untyped-def]
    page: Page, ledger: Ledger, log_in, shoot
) -> None:
    log_in(page, "staff")
    page.goto("/tasks")
    submitted = page.locator(".board-col").filter(has=page.locator("#col-submitted"))
    submitted.get_by_role("link", name="建立三会一课台账").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{ledger.waiting}$"))
    expect(page.locator("#task-status")).to_have_text("待验收")
    page.locator("#transition-form").get_by_role("button", name="验收销号").click()
    expect(page.locator("#task-status")).to_have_text("已销号")

    page.get_by_role("link", name="任务", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tasks$"))
    page.go_back()
    expect(page).to_have_url(re.compile(rf"/tasks/{ledger.waiting}$"))
    # the page is asked for again: the verified task, without the old buttons
    expect(page.locator("#task-status")).to_have_text("已销号")
    expect(page.locator("#transition-form")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("他人")
    fits_phone(page)
    shoot(page, "task-back-after-verify")
