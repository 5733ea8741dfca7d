"""A task from report to 销号 in real browsers: the branch secretary on a phone reports
progress with a photo and submits, township staff rejects with a reason, the secretary
resubmits, staff verifies and the board shows it verified; and the stale-page (412) path."""

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import BrowserContext, Page, expect

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

TASK_TITLE = "按月召开主题党日并留存影像资料"


@dataclass(frozen=True)
class Ledger:
    task_id: int


@pytest.fixture
def ledger(engine) -> Ledger:  # type: ignore[no-untyped-def]
    """十四道沟镇 with 干沟子村党支部, a campaign, a problem of the branch and a task of the
    branch due in 30 days; the branch's secretary `secretary` and township staff `staff`."""
    with committed(engine) as s:
        township = make_township(s, name="十四道沟镇")
        branch = make_branch(s, township, name="干沟子村党支部")
        campaign = make_campaign(s, name="2025年整顿软弱涣散基层党组织")
        problem = make_problem(s, campaign, township, branch=branch,
                               description="组织生活不正常,主题党日流于形式")
        task = make_task(s, problem, title=TASK_TITLE, responsible_person="书记甲",
                         responsible_unit="干沟子村党支部")
        secretary = make_user(s, Role.branch_secretary, branch=branch, username="secretary")
        secretary.display_name = "干沟子村书记"
        staff = make_user(s, Role.township_staff, township=township, username="staff")
        staff.display_name = "王组织委员"
        return Ledger(task_id=task.id)


@pytest.fixture
def desktop(browser, live_server: str) -> Iterator[BrowserContext]:  # type: ignore[no-untyped-def]
    """A second browser profile, at desktop size: township staff at the office."""
    ctx = browser.new_context(
        base_url=live_server, viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai",
        device_scale_factor=1,
    )
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


def assert_fits_phone(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def assert_big_enough(page: Page, locator) -> None:  # type: ignore[no-untyped-def]
    """A thumb can hit it: at least 44 px high."""
    box = locator.bounding_box()
    assert box is not None and box["height"] >= 44, box


def camera_photo(page: Page) -> bytes:
    """A real JPEG, as a phone camera would hand over, drawn by the browser's canvas."""
    data_url = page.evaluate("""() => {
        const c = document.createElement('canvas');
        c.width = 160; c.height = 120;
        const g = c.getContext('2d');
        g.fillStyle = '#2e7d32'; g.fillRect(0, 0, 160, 120);
        g.fillStyle = '#ffffff'; g.fillRect(30, 30, 100, 60);
        g.fillStyle = '#b71c1c'; g.fillRect(60, 45, 40, 30);
        return c.toDataURL('image/jpeg', 0.9);
    }""")
    jpeg = base64.b64decode(data_url.split(",", 1)[1])
    assert jpeg[:3] == b"\xff\xd8\xff"  # what app/services/evidence.sniff() takes for a JPEG
    return jpeg


def action(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator("#transition-form").get_by_role("button", name=name, exact=True)


def status(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#task-status")


def test_secretary_reports_with_a_photo_staff_rejects_then_verifies(  # type: ignore[no-untyped-def]
    page: Page, desktop: BrowserContext, ledger: Ledger, log_in, shoot
) -> None:
    # --- the secretary, on a phone (390×844), finds the task and starts work; starting and
    # submitting ask for confirmation, which she gives
    questions: list[str] = []

    def confirm(dialog) -> None:  # type: ignore[no-untyped-def]
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", confirm)
    log_in(page, "secretary")
    page.goto("/my/tasks")
    expect(page.get_by_role("heading", name="我的支部任务")).to_be_visible()
    card = page.locator(f"#task-{ledger.task_id}")
    expect(card).to_contain_text("未开始")
    expect(card).to_contain_text("干沟子村党支部")
    assert_fits_phone(page)
    shoot(page, "my-tasks")

    card.get_by_role("link", name=TASK_TITLE).click()
    expect(page).to_have_url(re.compile(rf"/tasks/{ledger.task_id}$"))
    expect(page.get_by_role("heading", name=TASK_TITLE)).to_be_visible()
    expect(status(page)).to_have_text("未开始")
    assert_big_enough(page, action(page, "开始整改"))
    action(page, "开始整改").click()
    expect(status(page)).to_have_text("整改中")
    assert questions and "确定开始整改" in questions[-1]
    expect(page.get_by_role("button", name="验收销号")).to_have_count(0)

    # --- a note and a photo: the chosen file is listed before it goes up
    form = page.locator("#report-form")
    form.get_by_label("进展情况").fill("已召开3月主题党日,全体党员参加,留存照片")
    expect(form.locator("#upload-status")).to_be_hidden()
    picker = form.locator("label[for=update-files]")
    expect(picker).to_have_text("拍照或选择佐证材料")
    assert_big_enough(page, picker)
    file_input = form.locator("#update-files")
    expect(file_input).to_have_attribute("accept", re.compile(r"image/\*"))
    expect(file_input).to_have_attribute("capture", "environment")
    file_input.set_input_files(
        {"name": "主题党日现场.jpg", "mimeType": "image/jpeg", "buffer": camera_photo(page)}
    )
    expect(form.locator("#file-list")).to_contain_text("已选择:主题党日现场.jpg")
    # the upload says how far it is (正在上传 N%)
    page.evaluate("""() => {
        window.__uploadProgress = [];
        new MutationObserver(() => {
            const box = document.getElementById('upload-status');
            if (box) { window.__uploadProgress.push(box.textContent); }
        }).observe(document.getElementById('main'), {subtree: true, childList: true,
                                                     characterData: true});
    }""")
    assert_fits_phone(page)
    shoot(page, "task-file-chosen")

    form.get_by_role("button", name="上报进展").click()
    expect(page.locator("#upload-status")).to_have_text("整改进展已上报")
    seen = page.evaluate("window.__uploadProgress")
    assert any(re.fullmatch(r"正在上传 \d{1,3}%", p) for p in seen), seen
    update = page.locator("#timeline li.tl-update")
    expect(update).to_have_count(1)
    expect(update).to_contain_text("干沟子村书记")
    expect(update).to_contain_text("已召开3月主题党日,全体党员参加,留存照片")
    thumb = update.locator("img")
    expect(thumb).to_have_attribute("src", re.compile(r"^/api/v1/attachments/\d+\?size=thumb$"))
    expect(thumb).to_have_attribute("alt", "主题党日现场.jpg")
    thumb.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    assert thumb.evaluate("img => img.naturalWidth") == 160
    assert_fits_phone(page)
    shoot(page, "task-after-upload")

    # --- submitted for acceptance; the secretary cannot verify it herself
    action(page, "提交验收").click()
    expect(status(page)).to_have_text("待验收")
    assert "确定提交验收" in questions[-1]
    expect(page.get_by_role("button", name="验收销号")).to_have_count(0)
    expect(page.get_by_role("button", name="退回")).to_have_count(0)

    # --- township staff, at the office, rejects: first without a reason
    staff = desktop.new_page()
    log_in(staff, "staff")
    staff.goto("/tasks")
    submitted = staff.locator(".board-col").filter(has=staff.locator("#col-submitted"))
    submitted.get_by_role("link", name=TASK_TITLE).click()
    expect(status(staff)).to_have_text("待验收")
    expect(staff.locator("#timeline")).to_contain_text("已召开3月主题党日")
    with staff.expect_response(lambda r: r.url.endswith("/transitions")) as answer:
        action(staff, "退回").click()
    assert answer.value.status == 422
    expect(staff.locator("#flash")).to_contain_text("输入有误")
    expect(staff.locator("#err-note")).to_have_text("退回须填写原因")
    expect(staff.locator("#note")).to_have_attribute("aria-invalid", "true")
    expect(status(staff)).to_have_text("待验收")
    shoot(staff, "task-reject-needs-reason")

    staff.get_by_label("验收意见(退回须填写原因)").fill("照片不清晰,请补充会议记录")
    action(staff, "退回").click()
    expect(status(staff)).to_have_text("已退回")
    expect(staff.locator("#flash")).to_be_empty()
    expect(staff.locator("#timeline")).to_contain_text("退回:照片不清晰,请补充会议记录")

    # --- the secretary sees why (已退回, not 整改中), and submits again (a note is needed
    # after a rejection); her note shows once in the timeline
    page.goto("/my/tasks")
    card = page.locator(f"#task-{ledger.task_id}")
    expect(card.locator(".status-tag")).to_have_text("已退回")
    expect(card).to_contain_text("照片不清晰,请补充会议记录")
    card.get_by_role("link", name=TASK_TITLE).click()
    expect(status(page)).to_have_text("已退回")
    expect(page.locator("#status-note")).to_contain_text("照片不清晰,请补充会议记录")
    action(page, "提交验收").click()
    expect(page.locator("#err-note")).to_have_text("提交验收前须填写整改进展")
    expect(status(page)).to_have_text("已退回")
    page.get_by_label("完成情况说明(提交验收时填写)").fill("已补充会议记录和签到表")
    action(page, "提交验收").click()
    expect(status(page)).to_have_text("待验收")
    expect(page.locator("#timeline")).to_contain_text("已补充会议记录和签到表")
    expect(page.locator("#timeline li", has_text="已补充会议记录和签到表")).to_have_count(1)
    expect(page.get_by_role("button", name="验收销号")).to_have_count(0)

    # --- staff verifies (验收销号)
    staff.reload()
    expect(status(staff)).to_have_text("待验收")
    action(staff, "验收销号").click()
    expect(status(staff)).to_have_text("已销号")
    expect(staff.locator(".facts")).to_contain_text("王组织委员")
    expect(staff.locator("#transition-form")).to_have_count(0)
    expect(staff.locator("#report-form")).to_have_count(0)

    # --- the board shows it verified
    staff.goto("/tasks")
    verified = staff.locator(".board-col").filter(has=staff.locator("#col-verified"))
    expect(verified.get_by_role("link", name=TASK_TITLE)).to_be_visible()
    expect(verified.locator(".count")).to_have_text("1")
    expect(submitted.get_by_role("link", name=TASK_TITLE)).to_have_count(0)
    shoot(staff, "task-board")

    # --- and the secretary's list, with no way to act on it any more
    page.goto("/my/tasks")
    expect(page.locator(f"#task-{ledger.task_id}")).to_contain_text("已销号")
    page.goto(f"/tasks/{ledger.task_id}")
    expect(status(page)).to_have_text("已销号")
    expect(page.get_by_role("button", name="验收销号")).to_have_count(0)
    expect(page.locator("#report-form")).to_have_count(0)


def test_a_stale_task_page_shows_the_current_record(  # type: ignore[no-untyped-def]
    page: Page, desktop: BrowserContext, ledger: Ledger, log_in, shoot
) -> None:
    """Two tabs of the same person: the second, stale one shows the current record and
    does not blame someone else; a change by another person is named as such."""
    desktop.on("page", lambda p: p.on("dialog", lambda d: d.accept()))
    first = desktop.new_page()
    log_in(first, "staff")
    first.goto(f"/tasks/{ledger.task_id}")
    second = desktop.new_page()
    second.goto(f"/tasks/{ledger.task_id}")
    expect(status(second)).to_have_text("未开始")

    action(first, "开始整改").click()
    expect(status(first)).to_have_text("整改中")

    with second.expect_response(lambda r: r.url.endswith("/transitions")) as answer:
        action(second, "开始整改").click()
    assert answer.value.status == 412
    note = second.locator("#stale-note")
    expect(note).to_have_text("此记录已更新(可能是您在另一页面的操作),已显示最新内容")
    expect(second.locator("#task-detail")).not_to_contain_text("他人")
    expect(status(second)).to_have_text("整改中")  # the current record, with its buttons
    expect(action(second, "提交验收")).to_be_visible()
    shoot(second, "task-412")

    # the secretary, on her phone, reports and submits: a change by someone else
    page.on("dialog", lambda d: d.accept())
    log_in(page, "secretary")
    page.goto(f"/tasks/{ledger.task_id}")
    page.locator("#report-form").get_by_label("进展情况").fill("已整改完毕")
    page.locator("#report-form").get_by_role("button", name="上报进展").click()
    expect(page.locator("#task-detail").get_by_role("status")).to_have_text("整改进展已上报")
    action(page, "提交验收").click()
    expect(status(page)).to_have_text("待验收")

    with second.expect_response(lambda r: r.url.endswith("/transitions")) as answer:
        action(second, "提交验收").click()
    assert answer.value.status == 412
    expect(second.locator("#stale-note")).to_have_text(
        "此记录已被他人修改,已显示最新内容,请核对后再操作")
    expect(status(second)).to_have_text("待验收")
