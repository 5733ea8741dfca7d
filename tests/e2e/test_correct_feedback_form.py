"""Correcting a returned form on a phone (390×844): a village secretary finds the form in the
list, opens it, corrects an opinion's text, saves and sees the correction; the history page
(修改记录) shows who changed the text from what to what. A slip in the correction gets its
message beside the field; deleting an opinion asks for the reason."""

from datetime import date

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from app.models.campaign import Campaign, CampaignStatus
from app.models.feedback import FeedbackForm, Opinion, Theme
from app.models.user import Role
from tests.factories import committed, make_branch, make_township, make_user

pytestmark = pytest.mark.e2e


@pytest.fixture
def form_id(engine: Engine) -> int:
    """A returned form of 小营子村 with two opinions, entered by its secretary `sec` (李书记)."""
    with committed(engine) as s:
        township = make_township(s, name="十四道沟镇")
        branch = make_branch(s, township, name="小营子村党支部")
        other = make_branch(s, township, name="大营子村党支部")
        campaign = Campaign(name="2026年软弱涣散党组织专项整治", starts_on=date(2026, 1, 1),
                            ends_on=date(2026, 12, 31), status=CampaignStatus.active)
        s.add(campaign)
        s.flush()
        user = make_user(s, Role.branch_secretary, branch=branch, username="sec")
        user.display_name = "李书记"
        for b in (other, branch):  # the secretary's form is the newest; the other is not hers
            form = FeedbackForm(campaign_id=campaign.id, branch_id=b.id,  # type: ignore[arg-type]
                                township_id=township.id, submitted_by="李书记")  # type: ignore[arg-type]
            s.add(form)
            s.flush()
            for t in ("希望多组织技能培训", "村务公开不及时"):
                s.add(Opinion(text=t, theme=Theme.member_quality, form_id=form.id,  # type: ignore[arg-type]
                              campaign_id=campaign.id, township_id=township.id,  # type: ignore[arg-type]
                              branch_id=b.id))
        s.flush()
        return form.id  # type: ignore[return-value]


def assert_fits_phone(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def stored_texts(engine: Engine, form_id: int) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT text FROM opinion WHERE form_id = :f AND deleted_at IS NULL ORDER BY id"),
            {"f": form_id}).scalars())


def test_a_secretary_corrects_an_opinion_of_a_returned_form(page: Page, log_in, shoot, engine,
                                                            form_id):
    log_in(page, "sec")
    page.goto("/feedback")
    card = page.locator(f"#form-{form_id}")
    expect(card).to_contain_text("村务公开不及时")
    expect(page.locator("article[id^=form-]")).to_have_count(1)  # her branch's only
    assert_fits_phone(page)
    card.get_by_role("link", name="修改", exact=True).click()
    page.wait_for_url(f"**/feedback/forms/{form_id}")
    expect(page.get_by_role("heading", name="小营子村党支部 · 征求意见表")).to_be_visible()
    assert_fits_phone(page)

    page.locator("#form-opinions li", has_text="村务公开不及时").get_by_role(
        "link", name="修改", exact=True).click()
    page.wait_for_url("**/feedback/opinions/*/edit")
    box = page.get_by_label("意见内容")
    # a blank text is refused beside the field, the page kept
    box.fill("   ")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#err-text")).to_have_text("不能为空")
    assert_fits_phone(page)
    shoot(page, "correct-opinion-error")

    box.fill("村务公开不及时,希望每月公开一次")
    page.get_by_label("类别").select_option(label="转变工作作风")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(f"**/feedback/forms/{form_id}")
    expect(page.get_by_role("status")).to_contain_text("已保存")
    item = page.locator("#form-opinions li", has_text="希望每月公开一次")
    expect(item).to_contain_text("转变工作作风")
    assert stored_texts(engine, form_id) == ["希望多组织技能培训",
                                             "村务公开不及时,希望每月公开一次"]
    shoot(page, "correct-opinion-saved")

    item.get_by_role("link", name="修改记录").click()
    page.wait_for_url("**/history/opinion/*")
    expect(page.get_by_role("heading", name="修改记录 · 意见(编号")).to_be_visible()
    latest = page.locator(".history-entry").last
    expect(latest.locator(".history-action")).to_have_text("修改")
    expect(latest.locator(".history-who")).to_have_text("李书记")
    text_row = latest.locator("tr", has_text="内容")
    expect(text_row).to_contain_text("村务公开不及时")
    expect(text_row).to_contain_text("村务公开不及时,希望每月公开一次")
    expect(latest.locator("tr", has_text="类别")).to_contain_text("提高党员素质")
    expect(latest.locator("tr", has_text="类别")).to_contain_text("转变工作作风")
    assert_fits_phone(page)
    shoot(page, "correct-opinion-history")

    # back on the form, the other opinion is deleted with a reason asked for beside the field
    page.go_back()
    page.wait_for_url(f"**/feedback/forms/{form_id}")
    page.reload()
    page.locator("#form-opinions li", has_text="技能培训").get_by_role(
        "link", name="删除", exact=True).click()
    page.wait_for_url("**/edit?delete=1*")
    page.on("dialog", lambda d: d.accept())
    page.get_by_role("button", name="确认删除").click()
    expect(page.locator("#err-reason")).to_have_text("请填写删除原因")
    page.get_by_label("删除原因").fill("与另一张表重复")
    page.get_by_role("button", name="确认删除").click()
    page.wait_for_url(f"**/feedback/forms/{form_id}")
    expect(page.locator("#form-opinions li")).to_have_count(1)
    assert stored_texts(engine, form_id) == ["村务公开不及时,希望每月公开一次"]
