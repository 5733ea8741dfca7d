"""The branch register in a browser at phone size: sign in, add, correct, find, edit."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from app.models.user import Role
from tests.factories import committed, make_branch, make_township, make_user

pytestmark = pytest.mark.e2e


@pytest.fixture
def township_with_staff(engine):  # type: ignore[no-untyped-def]
    """A township with two branches on its register and a township_staff user `staff`."""
    with committed(engine) as s:
        township = make_township(s, name="十四道沟镇")
        make_branch(s, township, name="十四道沟村党支部", secretary_name="张建国",
                    collective_income_wan=Decimal("3"), secretary_is_director=False)
        make_branch(s, township, name="小营子村党支部", secretary_name="李明",
                    secretary_birth_year=1960)
        staff = make_user(s, Role.township_staff, township=township, username="staff")
        staff.display_name = "王组织委员"
        return township


def assert_fits_phone(page: Page) -> None:
    """Nothing is wider than the screen: no sideways scrolling on a phone."""
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def test_login_refuses_a_wrong_password_then_returns_to_the_page_asked_for(  # type: ignore[no-untyped-def]
    page: Page, township_with_staff, shoot
) -> None:
    page.goto("/branches/new")
    expect(page).to_have_url(re.compile(r"/login\?next=/branches/new$"))

    page.get_by_label("用户名").fill("staff")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#flash")).to_contain_text("用户名或密码错误")
    expect(page.get_by_label("用户名")).to_have_value("staff")
    assert_fits_phone(page)
    shoot(page, "login-refused")

    page.get_by_label("密码").fill("test-pass-123")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/branches/new$"))
    expect(page.get_by_role("heading", name="新增党支部")).to_be_visible()
    expect(page.get_by_role("navigation", name="主导航")).to_be_visible()


def test_staff_registers_a_branch_on_a_phone(page: Page, township_with_staff, shoot) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    assert_fits_phone(page)
    shoot(page, "login")
    page.get_by_label("用户名").fill("staff")
    page.get_by_label("密码").fill("test-pass-123")
    page.get_by_role("button", name="登录").click()

    expect(page).to_have_url(re.compile(r"/dashboard$"))  # staff start at their dashboard
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="党支部").click()
    expect(page).to_have_url(re.compile(r"/branches$"))
    expect(page.get_by_role("heading", name="党支部名册")).to_be_visible()
    expect(page.get_by_role("link", name="十四道沟村党支部")).to_be_visible()
    assert_fits_phone(page)
    shoot(page, "branch-list")

    page.get_by_role("link", name="新增党支部").click()
    expect(page).to_have_url(re.compile(r"/branches/new$"))
    page.get_by_label("支部名称").fill("新民村党支部")
    page.get_by_label("党员总数").fill("12")
    page.get_by_label("35岁及以下", exact=True).fill("20")
    page.get_by_label("书记姓名").fill("赵新民")
    page.get_by_role("button", name="保存").click()

    error = page.locator("#err-member_count")
    expect(error).to_be_visible()
    expect(error).to_contain_text("超过党员总数")
    expect(page.locator("#flash")).to_contain_text("输入有误")
    expect(page.get_by_label("党员总数")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("支部名称")).to_have_value("新民村党支部")
    expect(page.get_by_label("党员总数")).to_have_value("12")
    expect(page.get_by_label("35岁及以下", exact=True)).to_have_value("20")
    expect(page.get_by_label("书记姓名")).to_have_value("赵新民")
    expect(page).to_have_url(re.compile(r"/branches/new$"))
    assert_fits_phone(page)
    shoot(page, "branch-form-error")

    page.get_by_label("党员总数").fill("32")
    page.get_by_role("button", name="保存").click()

    expect(page.get_by_role("heading", name="新民村党支部", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("已新增党支部")
    expect(page).to_have_url(re.compile(r"/branches/\d+$"))
    expect(page).to_have_title(re.compile("新民村党支部"))
    expect(page.locator("#flash")).to_be_empty()
    branch_url = page.url
    assert_fits_phone(page)
    shoot(page, "branch-detail")

    page.goto("/branches")
    created = page.get_by_role("link", name="新民村党支部")
    expect(created).to_be_visible()
    assert branch_url.endswith(str(created.get_attribute("href")))

    page.get_by_role("searchbox").fill("新民")
    expect(page.locator("#branch-rows article")).to_have_count(1)
    expect(page.locator("#branch-rows")).to_contain_text("新民村党支部")
    page.get_by_role("searchbox").fill("没有这个支部")
    expect(page.locator("#branch-rows")).to_contain_text("没有符合条件的党支部")
    page.get_by_role("searchbox").fill("赵新民")
    expect(page.locator("#branch-rows article")).to_have_count(1)
    expect(page.locator("#branch-rows")).to_contain_text("新民村党支部")
    expect(page).to_have_url(re.compile(r"/branches\?q=%E8%B5%B5%E6%96%B0%E6%B0%91$"))
    page.reload()
    expect(page.get_by_role("searchbox")).to_have_value("赵新民")
    expect(page.locator("#branch-rows article")).to_have_count(1)


def test_staff_edits_a_branch_and_a_stale_tab_is_told(  # type: ignore[no-untyped-def]
    page: Page, context, township_with_staff, log_in, shoot
) -> None:
    log_in(page, "staff")
    page.goto("/branches")
    page.get_by_role("link", name="小营子村党支部").click()
    expect(page).to_have_url(re.compile(r"/branches/\d+$"))
    detail_url = page.url

    page.get_by_role("link", name="修改").click()
    expect(page).to_have_url(re.compile(r"/branches/\d+/edit$"))
    expect(page.get_by_label("支部名称")).to_have_value("小营子村党支部")
    stale = context.new_page()
    stale.goto(page.url)

    page.get_by_label("书记姓名").fill("李明远")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status")).to_contain_text("已保存")
    expect(page.get_by_role("heading", name="小营子村党支部", level=1)).to_be_visible()
    expect(page.locator("#branch-detail")).to_contain_text("李明远")
    expect(page).to_have_url(detail_url)
    shoot(page, "branch-saved")

    stale.get_by_label("备注").fill("第二个标签页的修改")
    stale.get_by_role("button", name="保存").click()
    flash = stale.locator("#flash")
    expect(flash).to_contain_text("记录已被他人修改")
    reload_link = flash.get_by_role("link", name="刷新查看最新内容")
    expect(reload_link).to_be_visible()
    expect(stale.get_by_label("备注")).to_have_value("第二个标签页的修改")
    assert_fits_phone(stale)
    shoot(stale, "branch-form-412")

    reload_link.click()
    expect(stale.get_by_label("书记姓名")).to_have_value("李明远")
    expect(stale.locator("#flash")).to_be_empty()
