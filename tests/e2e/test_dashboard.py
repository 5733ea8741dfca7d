"""The dashboard, the report and the activities page on the demo township (the township of
the report the service grew from), at phone and desktop width."""

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from app.services.demo import DEMO_PASSWORD, load_demo
from tests.e2e.conftest import DESKTOP, PHONE
from tests.factories import committed

pytestmark = pytest.mark.e2e

REPORT_SENTENCE = "十四道沟镇共有9个党支部,党员271人,其中农村党支部6个,农村党员194人"


@pytest.fixture
def demo(engine) -> None:  # type: ignore[no-untyped-def]
    """十四道沟镇 as `rectify demo` loads it: 9 branches, 271 members, the report's campaign."""
    with committed(engine) as s:
        load_demo(s)


def assert_fits_screen(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def card(page: Page, heading: str):  # type: ignore[no-untyped-def]
    return page.locator(".dash .card").filter(has=page.get_by_role("heading", name=heading))


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_dashboard_shows_the_reports_figures(  # type: ignore[no-untyped-def]
    page: Page, demo, log_in, shoot, size: dict[str, int]
) -> None:
    page.set_viewport_size(size)
    log_in(page, "staff", DEMO_PASSWORD)
    page.goto("/dashboard")
    expect(page.get_by_role("heading", name="十四道沟镇工作看板")).to_be_visible()

    basic = card(page, "基本情况")
    expect(basic).to_contain_text("党支部 9 个(农村 6 个),党员 271 人(农村 194 人)")
    ages = basic.locator("figcaption")
    expect(ages).to_have_text(
        "党员年龄结构:35岁及以下 6 人,36至55岁 92 人,56岁及以上 81 人,年龄未登记 92 人"
    )
    expect(basic.get_by_role("img", name="党员年龄结构")).to_be_visible()
    expect(basic).to_contain_text("35岁及以下入党申请人/积极分子 27 人")
    expect(basic).to_contain_text("村书记 6 人,其中50岁以上 4 人、60岁以上 1 人,未“一肩挑” 2 个")

    warning = page.locator("#summary-warnings")
    expect(warning).to_contain_text("数据核对提示")
    expect(warning).to_contain_text("179")
    expect(warning).to_contain_text("271")

    screening = card(page, "排查摸底")
    expect(screening.locator("figcaption")).to_contain_text("排查进度:已排查 7 / 7(100.0%)")
    expect(screening).to_contain_text("认定软弱涣散 0 个")

    feedback = card(page, "征求意见")
    expect(feedback.locator("figcaption").first).to_have_text("回收率:收回 160 / 200(80.0%)")
    expect(feedback).to_contain_text("梳理出意见建议 7 条")

    tasks = card(page, "整改任务")
    expect(tasks.locator("figcaption")).to_have_text(
        "任务状态:未开始 12 项,整改中 0 项,待验收 0 项,已销号 0 项"
    )
    expect(tasks).to_contain_text("问题 6 个,任务 12 项,逾期 1 项")
    expect(tasks.get_by_role("link", name="逾期 1 项")).to_have_attribute(
        "href", "/tasks?overdue=true"
    )

    alerts = card(page, "预警前十").locator("li")
    assert 1 <= alerts.count() <= 10
    expect(alerts.first.get_by_role("link")).to_have_attribute(
        "href", re.compile(r"^/branches/\d+$")
    )
    expect(alerts.first.locator(".tag-danger")).to_have_text(re.compile(r"^风险 \d+(\.\d+)?$"))
    expect(card(page, "预警前十")).to_contain_text("干沟子村党支部")

    # every chart's labels are inside its box
    for svg in page.locator(".chart svg").all():
        box = svg.bounding_box()
        assert box is not None and box["width"] > 0
        for text in svg.locator("text").all():
            t = text.bounding_box()
            assert t is not None
            assert t["x"] + t["width"] <= box["x"] + box["width"] + 1, text.text_content()
    assert_fits_screen(page)
    shoot(page, "dashboard")


def test_the_report_and_the_activities_page(  # type: ignore[no-untyped-def]
    page: Page, demo, log_in, shoot
) -> None:
    log_in(page, "staff", DEMO_PASSWORD)
    page.goto("/dashboard")
    page.get_by_role("link", name="工作汇报").click()
    expect(page).to_have_url(re.compile(r"/api/v1/reports/summary\.html\?township_id=\d+$"))
    expect(page.locator("article")).to_contain_text(REPORT_SENTENCE)
    page.goto("/api/v1/reports/summary.html")  # staff: their own township without asking
    expect(page.locator("article")).to_contain_text(REPORT_SENTENCE)
    expect(page.get_by_role("heading", name="基本情况")).to_be_visible()
    expect(page.get_by_role("heading", name="工作开展情况")).to_be_visible()
    expect(page.get_by_role("heading", name="存在的问题")).to_be_visible()
    expect(page.get_by_role("heading", name="下一步工作打算")).to_be_visible()
    expect(page.locator(".checks")).to_contain_text("179")
    assert_fits_screen(page)
    shoot(page, "report")

    page.goto("/activities")
    expect(page.get_by_role("heading", name="工作开展情况")).to_be_visible()
    rows = page.locator("#activity-rows article")
    expect(rows).to_have_count(3)
    form = page.locator("form[hx-post='/api/v1/activities']")
    form.get_by_label("类型").select_option(label="警示教育")
    form.get_by_label("日期").fill(date.today().isoformat())
    form.get_by_label("内容").fill("组织全镇党员观看警示教育片")
    form.get_by_label("党支部").select_option(label="干沟子村党支部")
    form.get_by_label("参加人数").fill("41")
    form.get_by_label("情况说明").fill("以案为鉴,警钟长鸣")
    assert_fits_screen(page)
    shoot(page, "activities-form")
    form.get_by_role("button", name="保存").click()

    expect(rows).to_have_count(4)
    added = rows.first
    expect(added).to_contain_text("组织全镇党员观看警示教育片")
    expect(added).to_contain_text("警示教育")
    expect(added).to_contain_text("干沟子村党支部")
    expect(added).to_contain_text("41 人参加")
    expect(added).to_contain_text("以案为鉴,警钟长鸣")
    expect(form.get_by_label("内容")).to_have_value("")  # the form is ready for the next one
    expect(page.locator("#flash")).to_be_empty()

    page.reload()
    expect(rows.filter(has_text="组织全镇党员观看警示教育片")).to_have_count(1)
    assert_fits_screen(page)
    shoot(page, "activities")


def test_the_task_board_on_the_demo(page: Page, demo, log_in, shoot) -> None:  # type: ignore[no-untyped-def]
    log_in(page, "staff", DEMO_PASSWORD)
    page.goto("/tasks")
    pending = page.locator(".board-col").filter(has=page.locator("#col-pending"))
    expect(pending.locator(".count")).to_have_text("12")
    expect(pending.locator(".task-card")).to_have_count(12)
    late = pending.locator(".task-card.is-overdue")
    expect(late).to_have_count(1)
    expect(late).to_contain_text("冷沟子村林下经济和绿色生态旅游")
    expect(late.locator(".tag-danger")).to_have_text("已逾期")
    assert_fits_screen(page)
    shoot(page, "task-board-demo")

    page.get_by_label("只看逾期(1)").check()
    expect(page).to_have_url(re.compile(r"/tasks\?.*overdue=true"))
    expect(page.locator(".task-card")).to_have_count(1)
    expect(page.get_by_label("只看逾期(1)")).to_be_checked()

    page.get_by_label("只看逾期(1)").uncheck()
    expect(page.locator(".task-card")).to_have_count(12)
    page.get_by_label("党支部").select_option(label="干沟子村党支部")
    expect(page).to_have_url(re.compile(r"/tasks\?branch_id=\d+$"))
    expect(page.locator(".task-card")).to_have_count(1)
    expect(page.locator(".task-card")).to_contain_text("干沟子村人参种植观光采摘项目")


def test_staff_adds_a_task_to_a_problem(page: Page, demo, log_in, shoot) -> None:  # type: ignore[no-untyped-def]
    log_in(page, "staff", DEMO_PASSWORD)
    page.goto("/problems")
    expect(page.locator("#problem-rows article")).to_have_count(6)
    assert_fits_screen(page)
    shoot(page, "problems")
    page.get_by_role("link", name=re.compile("^党员队伍老龄化严重")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("党员队伍老龄化严重")
    expect(page.locator("#task-rows .task-card")).to_have_count(1)
    page.locator("summary", has_text="新增整改任务").click()
    form = page.locator("form[hx-post='/api/v1/tasks']")
    form.get_by_role("button", name="保存").click()  # the browser asks for the required fields
    expect(page.locator("#task-rows .task-card")).to_have_count(1)
    form.get_by_label("整改措施").fill("每个村确定2名35岁以下入党积极分子")
    form.get_by_label("党支部").select_option(label="冷沟子村党支部")
    form.get_by_label("整改时限").fill("2030-06-30")
    form.get_by_label("责任单位").fill("冷沟子村党支部")
    form.get_by_label("责任人").fill("书记戊")
    assert_fits_screen(page)
    shoot(page, "problem-add-task")
    form.get_by_role("button", name="保存").click()
    expect(page.locator("#task-rows .task-card")).to_have_count(2)
    added = page.locator("#task-rows .task-card").first
    expect(added).to_contain_text("每个村确定2名35岁以下入党积极分子")
    expect(added).to_contain_text("冷沟子村党支部")
    expect(added).to_contain_text("2030-06-30")
    expect(page.locator("#flash")).to_be_empty()
