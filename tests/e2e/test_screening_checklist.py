"""A screening on a phone: progress with its countdown, the checklist with big yes/no
toggles, hits turned into problems, the branch done, and the early-warning list."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from app.models.branch import BranchKind
from app.models.user import Role
from tests.factories import committed, make_branch, make_campaign, make_township, make_user

pytestmark = pytest.mark.e2e
TODAY = date.today()


@pytest.fixture
def township(engine):  # type: ignore[no-untyped-def]
    """十四道沟镇 with two villages and an organ branch (not a screening target), a campaign
    whose screening is due in 10 days, and a township_staff user `staff`."""
    with committed(engine) as s:
        township = make_township(s, name="十四道沟镇")
        make_branch(s, township, name="十四道沟村党支部", secretary_name="张建国",
                    secretary_birth_year=TODAY.year - 63, secretary_is_director=False,
                    collective_income_wan=Decimal("3"))
        make_branch(s, township, name="小营子村党支部")
        make_branch(s, township, name="镇机关党支部", kind=BranchKind.organ)
        make_campaign(s, name="2025年整顿软弱涣散基层党组织", starts_on=TODAY - timedelta(days=20),
                      screening_due=TODAY + timedelta(days=10), ends_on=TODAY + timedelta(days=120))
        staff = make_user(s, Role.township_staff, township=township, username="staff")
        staff.display_name = "王组织委员"
        return township


def assert_fits_phone(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def row(page: Page, branch: str):  # type: ignore[no-untyped-def]
    return page.locator("#progress-list li").filter(has_text=branch)


def criterion(page: Page, code: str):  # type: ignore[no-untyped-def]
    return page.locator(f'fieldset[data-criterion="{code}"]')


def test_staff_screens_a_branch_on_a_phone(page: Page, township, log_in, shoot) -> None:  # type: ignore[no-untyped-def]
    log_in(page, "staff")
    page.goto("/screenings")
    expect(page.get_by_role("heading", name="排查摸底进度")).to_be_visible()
    expect(page.locator("#countdown")).to_contain_text("还剩 10 天")
    expect(page.locator("#progress-list li")).to_have_count(2)  # the organ is no target
    expect(row(page, "十四道沟村党支部")).to_contain_text("未排查")
    expect(page.locator(".facts")).to_contain_text("应排查(村、社区)")
    assert_fits_phone(page)
    shoot(page, "screening-progress-before")

    row(page, "十四道沟村党支部").get_by_role("link", name="开始排查").click()
    expect(page).to_have_url(re.compile(r"/screenings/new\?branch_id=\d+$"))
    expect(page.get_by_role("heading", name="十四道沟村党支部 排查摸底")).to_be_visible()
    page.get_by_label("带队领导").fill("刘镇长")
    page.get_by_label("职务").fill("镇党委副书记")
    page.get_by_label("排查日期").fill(TODAY.isoformat())

    # the toggles are big: a thumb can hit them
    yes = criterion(page, "rules_ignored").locator("label").filter(has_text="存在").last
    box = yes.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 120, box
    # the radio inputs are visually hidden: tap the visible toggle
    criterion(page, "rules_ignored").get_by_text("存在", exact=True).click()
    criterion(page, "rules_ignored").locator("textarea").fill("全年未开展主题党日")
    criterion(page, "poor_service").get_by_text("存在", exact=True).click()
    criterion(page, "poor_service").locator("textarea").fill("群众反映办事难")
    expect(criterion(page, "rules_ignored")).to_have_class(re.compile(r"\bis-hit\b"))
    expect(criterion(page, "poor_service").locator('input[value="yes"]')).to_be_checked()
    expect(criterion(page, "team_disunity").locator('input[value="no"]')).to_be_checked()
    page.get_by_label("结论").select_option(label="软弱涣散")
    page.get_by_label("情况说明").fill("班子战斗力不强,组织生活不正常")
    criterion(page, "rules_ignored").scroll_into_view_if_needed()
    assert_fits_phone(page)
    page.screenshot(path=str(_artifacts() / "screening-checklist-390x844.png"))
    shoot(page, "screening-checklist")

    page.get_by_role("button", name="保存排查记录").click()
    saved = page.locator("#screening-saved")
    expect(saved.get_by_role("status")).to_contain_text("已保存十四道沟村党支部的排查记录")
    expect(saved).to_contain_text("软弱涣散")
    expect(saved).to_contain_text("组织制度形同虚设、不开展组织活动:全年未开展主题党日")
    expect(saved).to_contain_text("服务意识差、服务能力弱、群众意见大:群众反映办事难")
    expect(saved.locator("li")).to_have_count(2)
    assert_fits_phone(page)
    shoot(page, "screening-saved")

    saved.get_by_role("button", name="把发现的情形转为问题清单").click()
    expect(page.locator("#screening-saved").get_by_role("link", name="已转为问题")).to_have_count(2)
    expect(page.get_by_role("button", name="把发现的情形转为问题清单")).to_have_count(0)
    shoot(page, "screening-problems-made")

    page.goto("/problems")
    main = page.locator("#main")
    expect(main).to_contain_text("全年未开展主题党日")
    expect(main).to_contain_text("群众反映办事难")
    expect(main).to_contain_text("十四道沟村党支部")

    page.goto("/screenings")
    expect(row(page, "十四道沟村党支部")).to_contain_text("已完成")
    expect(row(page, "十四道沟村党支部").locator(".tag-danger")).to_have_text("软弱涣散")
    expect(row(page, "十四道沟村党支部").locator(".tag-ok")).to_have_text("已完成")
    expect(row(page, "十四道沟村党支部").get_by_role("link", name="查看")).to_be_visible()
    expect(row(page, "小营子村党支部")).to_contain_text("未排查")
    expect(page.locator(".facts")).to_contain_text("认定软弱涣散")
    assert_fits_phone(page)
    shoot(page, "screening-progress")

    # the saved screening opens again with its answers
    row(page, "十四道沟村党支部").get_by_role("link", name="查看").click()
    expect(page.get_by_label("带队领导")).to_have_value("刘镇长")
    expect(criterion(page, "rules_ignored").locator('input[value="yes"]')).to_be_checked()
    expect(criterion(page, "rules_ignored").locator("textarea")).to_have_value("全年未开展主题党日")
    expect(page.get_by_label("结论")).to_have_value("weak_lax")

    page.goto("/warnings")
    expect(page.get_by_role("heading", name="预警名单")).to_be_visible()
    warning = page.locator("#warning-list li.card").filter(has_text="十四道沟村党支部")
    expect(warning).to_contain_text("书记63岁")
    expect(warning).to_contain_text("一肩挑")
    expect(warning).to_contain_text("村集体经济收入3万元,低于5万元")
    # the screening just recorded counts: designated (4) and two noted criteria (2 × 1)
    expect(warning).to_contain_text("本次排查认定为软弱涣散")
    expect(warning).to_contain_text("本次排查发现2项软弱涣散情形")
    expect(warning.locator(".tag")).to_contain_text("风险 10.5")
    expect(warning.locator(".rank")).to_have_text("1")
    assert_fits_phone(page)
    shoot(page, "screening-warnings")


def test_a_conclusion_without_every_answer_is_refused_beside_the_field(  # type: ignore[no-untyped-def]
    page: Page, township, log_in
) -> None:
    log_in(page, "staff")
    page.goto("/screenings")
    row(page, "小营子村党支部").get_by_role("link", name="开始排查").click()
    page.get_by_label("带队领导").fill("刘镇长")
    page.get_by_label("排查日期").fill(TODAY.isoformat())
    page.get_by_label("结论").select_option(label="软弱涣散")
    page.get_by_role("button", name="保存排查记录").click()
    expect(page.locator("#err-conclusion")).to_contain_text("至少有一项情形存在")
    expect(page.get_by_label("带队领导")).to_have_value("刘镇长")
    page.get_by_label("结论").select_option(label="未发现软弱涣散")
    page.get_by_role("button", name="保存排查记录").click()
    expect(page.locator("#screening-saved")).to_contain_text("未发现软弱涣散")


def _artifacts():  # type: ignore[no-untyped-def]
    from tests.e2e.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
