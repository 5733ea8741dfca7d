"""Importing the branch register in a browser, at phone and desktop size: upload, the
preview with each error beside its row, correct the file, confirm."""

import io
import re
from typing import Any

import pytest
from openpyxl import Workbook
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlmodel import Session

from app.models.branch import Branch
from app.models.user import Role
from tests.e2e.conftest import DESKTOP
from tests.factories import committed, make_branch, make_township, make_user

pytestmark = pytest.mark.e2e

HEADERS = ["乡镇", "党支部名称", "类型", "党员总数", "35岁及以下党员", "36至55岁党员",
           "56岁及以上党员", "是否一肩挑"]


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    book.active.append(HEADERS)
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def township(engine):  # type: ignore[no-untyped-def]
    with committed(engine) as s:
        township = make_township(s, name="十四道沟镇")
        make_branch(s, township, name="十四道沟村党支部", member_count=30)
        make_user(s, Role.township_staff, township=township, username="staff")
        return township


def assert_fits_screen(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def choose(page: Page, content: bytes) -> None:
    page.get_by_label("名册文件").set_input_files(
        {"name": "名册.xlsx", "mimeType": "application/octet-stream", "buffer": content})


def test_staff_previews_fixes_and_imports_the_register(  # type: ignore[no-untyped-def]
    page: Page, township, engine, log_in, shoot
) -> None:
    log_in(page, "staff")
    page.goto("/branches")
    page.get_by_role("link", name="从 Excel 导入").click()
    expect(page).to_have_url(re.compile(r"/imports/branches$"))
    expect(page.get_by_role("heading", name="从 Excel 导入党支部名册")).to_be_visible()
    expect(page.get_by_role("link", name="下载导入模板(.xlsx)")).to_be_visible()

    page.get_by_role("button", name="上传并预览").click()
    expect(page.locator("#err-file")).to_have_text("请选择要导入的文件(.xlsx 或 .csv)")

    page.get_by_label("名册文件").set_input_files(
        {"name": "旧名册.xls", "mimeType": "application/vnd.ms-excel",
         "buffer": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512})
    page.get_by_role("button", name="上传并预览").click()
    expect(page.locator("#err-file")).to_contain_text("不支持旧版 Excel(.xls)文件")
    expect(page.locator("#import-preview")).to_be_empty()

    bad = xlsx([
        ["十四道沟镇", "十四道沟村党支部", "农村", 32, 4, 16, 12, "是"],
        ["十四道沟镇", "小营子村党支部", "村", "三十", 1, 1, 1, "是"],
        ["乙镇", "乙一村党支部", "农村", 10, 1, 1, 1, "否"],
    ])
    choose(page, bad)
    page.get_by_role("button", name="上传并预览").click()
    expect(page.get_by_role("heading", name="预览:名册.xlsx")).to_be_visible()
    expect(page.locator("#import-progress")).to_be_hidden()
    expect(page.locator("#count-errors")).to_have_text("2")
    row3 = page.locator("#row-3")
    expect(row3).to_contain_text("小营子村党支部")
    expect(row3.locator(".field-error")).to_have_count(2)
    expect(row3).to_contain_text("【类型】")
    expect(row3).to_contain_text("【党员总数】应为整数")
    expect(page.locator("#row-4")).to_contain_text("只能导入本乡镇(十四道沟镇)的党支部")
    expect(page.locator("#row-2")).to_contain_text("更新")
    expect(page.get_by_role("button", name=re.compile("确认导入"))).to_have_count(0)
    assert_fits_screen(page)
    shoot(page, "import-preview-errors")

    good = xlsx([
        ["十四道沟镇", "十四道沟村党支部", "农村", 32, 4, 16, 12, "是"],
        ["十四道沟镇", "小营子村党支部", "农村", "３０", 3, 15, 12, " 否 "],
    ])
    choose(page, good)
    page.get_by_role("button", name="上传并预览").click()
    expect(page.locator("#count-created")).to_have_text("1")
    expect(page.locator("#count-updated")).to_have_text("1")
    expect(page.locator("#row-2")).to_contain_text("更新:党员总数")
    with Session(engine) as s:  # the preview wrote nothing
        assert s.scalars(select(Branch).where(Branch.name == "小营子村党支部")).first() is None
    page.set_viewport_size(DESKTOP)
    assert_fits_screen(page)
    page.get_by_role("button", name="确认导入(新增 1,更新 1)").click()
    expect(page.get_by_role("heading", name="导入完成")).to_be_visible()
    expect(page.locator(".alert-ok")).to_contain_text("新增 1 个,更新 1 个")
    shoot(page, "import-done")
    with Session(engine) as s:
        branch = s.scalars(select(Branch).where(Branch.name == "小营子村党支部")).one()
        assert branch.member_count == 30 and branch.secretary_is_director is False
