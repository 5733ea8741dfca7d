"""整顿转化 in a browser at 390×844: the township proposes, the county designates, the first
secretary logs a visit on the phone page, and the county enters a score sheet that totals
and grades as it is filled."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from app.models.user import Role
from tests.e2e.conftest import PHONE
from tests.factories import committed, make_branch, make_campaign, make_township, make_user


@pytest.fixture
def place(engine: Any) -> dict[str, Any]:
    with committed(engine) as s:
        township = make_township(s, name="望江镇")
        branch = make_branch(s, township, name="柳河村党支部")
        make_campaign(s, name="集中整顿软弱涣散基层党组织")
        make_user(s, Role.county_admin, username="admin")
        make_user(s, Role.township_staff, township=township, username="staff")
        make_user(s, Role.branch_secretary, branch=branch, username="secretary")
    return {"branch": branch}


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide at phone width"


def _own_page(browser: Any, live_server: str) -> Page:
    """A page in a browser profile of its own (its own sign-in), at phone size."""
    ctx = browser.new_context(base_url=live_server, viewport=PHONE, locale="zh-CN",
                              timezone_id="Asia/Shanghai", has_touch=True)
    ctx.set_default_timeout(10_000)
    return ctx.new_page()  # type: ignore[no-any-return]


def test_propose_designate_visit_and_score(page: Page, browser: Any, live_server: str,
                                           place: dict[str, Any], log_in: Any,
                                           shoot: Any) -> None:
    # --- the township proposes a branch
    log_in(page, "staff")
    page.goto("/rectifications")
    page.get_by_text("拟认定软弱涣散党组织").click()
    form = page.locator("#propose-form")
    form.get_by_label("党支部").select_option(label="柳河村党支部")
    form.get_by_label("认定理由").fill("班子软弱,集体经济薄弱")
    form.get_by_role("button", name="提交拟认定").click()
    expect(page.locator("#err-weak_types")).not_to_be_empty()  # no type ticked: said beside it
    form.get_by_label("软").check()
    form.get_by_label("穷").check()
    form.get_by_role("button", name="提交拟认定").click()
    expect(page.get_by_text("已提交拟认定,待县委组织部认定")).to_be_visible()
    _no_sideways_scroll(page)
    shoot(page, "rectification-proposed")
    page.get_by_role("link", name="柳河村党支部").first.click()
    expect(page.locator("#rect-status")).to_have_text("拟认定")
    expect(page.get_by_role("button", name="认定", exact=True)).to_have_count(0)
    # the township writes the plan and the four liaisons
    page.get_by_text("修改整顿方案、整顿时限和包联力量").click()
    page.get_by_label("整顿方案").fill("配强班子,规范“三会一课”")
    page.locator("#liaison-first_secretary-name").fill("郑某")
    page.locator("#liaison-county_leader-name").fill("周某")
    page.get_by_role("button", name="保存").first.click()
    expect(page.get_by_text("已保存")).to_be_visible()
    expect(page.locator("#liaisons")).to_contain_text("郑某")

    # --- the county designates
    county = _own_page(browser, live_server)
    log_in(county, "admin")
    county.goto(page.url)
    county.get_by_role("button", name="认定", exact=True).click()
    expect(county.locator("#rect-status")).to_have_text("已认定")
    expect(county.get_by_text("公示期", exact=True)).to_be_visible()
    county.get_by_role("button", name="审定整顿方案").click()
    expect(county.locator("#plan-approval")).to_contain_text("已审定")
    _no_sideways_scroll(county)
    shoot(county, "rectification-designated")
    rect_url = county.url

    # --- the first secretary logs a visit on the phone page
    secretary = _own_page(browser, live_server)
    log_in(secretary, "secretary")
    secretary.goto(rect_url + "/visit")
    expect(secretary.get_by_label("走访人身份")).to_have_value("first_secretary")
    expect(secretary.get_by_label("走访人", exact=True)).to_have_value("郑某")
    secretary.get_by_label("走访情况(可不填)").fill("走访党员3户")
    secretary.get_by_role("button", name="保存走访记录").click()
    expect(secretary.locator("#visit-saved")).to_contain_text("第一书记 郑某")
    _no_sideways_scroll(secretary)
    shoot(secretary, "rectification-visit")

    # --- the township applies, the county enters the score sheet
    page.goto(rect_url)
    page.get_by_role("button", name="申请验收").click()
    expect(page.locator("#rect-status")).to_have_text("申请验收")
    county.goto(rect_url)
    county.get_by_role("link", name="组织验收(评分)").click()
    scores = {"leadership": "18", "organisation_life": "12", "member_management": "12",
              "rules_openness": "10", "collective_economy": "10", "service_stability": "7"}
    for code, value in scores.items():
        county.locator(f"#score-{code}").fill(value)
    expect(county.locator("#grade")).to_contain_text("尚未填完")
    county.locator("#score-problem_rectification").fill("0.5")  # 69.5
    expect(county.locator("#total")).to_have_text("69.5")
    expect(county.locator("#grade")).to_have_text("不合格")
    county.locator("#score-problem_rectification").fill("1")  # 70
    expect(county.locator("#grade")).to_have_text("基本合格")
    county.locator("#score-problem_rectification").fill("10")  # 79
    county.locator("#rating-overall-satisfied").fill("20")
    county.locator("#rating-overall-dissatisfied").fill("21")
    expect(county.locator("#grade")).to_have_text("不合格(一票否决)")
    county.locator("#rating-overall-dissatisfied").fill("2")
    expect(county.locator("#grade")).to_have_text("基本合格")
    _no_sideways_scroll(county)
    shoot(county, "rectification-score-sheet")
    county.get_by_role("button", name="保存验收结果").click()
    county.wait_for_url(rect_url)
    expect(county.locator("#rect-status")).to_have_text("已转化")
    expect(county.locator("#acceptances")).to_contain_text("基本合格")
    expect(county.locator("#revisits")).to_contain_text("转化后6个月")
    for other in (county, secretary):
        other.context.close()
