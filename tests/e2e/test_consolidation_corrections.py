"""Township staff at 390×844 consolidate and correct: ticking no opinion says so beside the
button, opinions are added to an existing suggestion, a suggestion of one branch's opinions
becomes a problem of that branch showing its source opinions, and the problem is corrected
and deleted with a reason. Returned forms list newest first, by branch, and Back keeps the
place."""

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
def township(engine: Engine) -> dict[str, int]:
    """十四道沟镇 with two branches, staff `clerk`, and 55 returned forms (one opinion each):
    the first 54 of 小营子村, the newest of 大营子村."""
    with committed(engine) as s:
        town = make_township(s, name="十四道沟镇")
        small = make_branch(s, town, name="小营子村党支部")
        big = make_branch(s, town, name="大营子村党支部")
        campaign = Campaign(name="2026年软弱涣散党组织专项整治", starts_on=date(2026, 1, 1),
                            ends_on=date(2026, 12, 31), status=CampaignStatus.active)
        s.add(campaign)
        s.flush()
        clerk = make_user(s, Role.township_staff, township=town, username="clerk")
        clerk.display_name = "王委员"
        for i in range(55):
            branch = big if i == 54 else small
            form = FeedbackForm(campaign_id=campaign.id, branch_id=branch.id,  # type: ignore[arg-type]
                                township_id=town.id, submitted_by="李书记")  # type: ignore[arg-type]
            s.add(form)
            s.flush()
            s.add(Opinion(text=f"第{i + 1}份:希望修通村道", theme=Theme.prosperity,
                          form_id=form.id, campaign_id=campaign.id,  # type: ignore[arg-type]
                          township_id=town.id, branch_id=branch.id))  # type: ignore[arg-type]
        s.flush()
        return {"small": small.id, "big": big.id}  # type: ignore[dict-item]


def assert_fits_phone(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def test_returned_forms_newest_first_by_branch_and_back_keeps_the_place(page: Page, log_in,
                                                                        shoot, township):
    log_in(page, "clerk")
    page.goto("/feedback")
    first = page.locator("article[id^=form-]").first
    expect(first).to_contain_text("第55份")
    expect(first).to_contain_text("大营子村党支部")
    page.get_by_label("党支部", exact=True).select_option(label="小营子村党支部")
    page.wait_for_url(f"**/feedback?branch_id={township['small']}*")
    expect(page.locator("article[id^=form-]").first).to_contain_text("第54份")
    expect(page.locator("article[id^=form-]")).to_have_count(50)
    page.get_by_role("link", name="更早的 ›").click()
    page.wait_for_url("**cursor=*")
    expect(page.locator("article[id^=form-]")).to_have_count(4)
    expect(page.locator("article[id^=form-]").first).to_contain_text("第4份")
    assert_fits_phone(page)
    shoot(page, "feedback-list-page-2")
    page.locator("article[id^=form-]").first.get_by_role("link", name="修改", exact=True).click()
    page.wait_for_url("**/feedback/forms/*")
    page.go_back()
    expect(page.locator("article[id^=form-]").first).to_contain_text("第4份")
    expect(page.get_by_label("党支部", exact=True)).to_have_value(str(township["small"]))


def test_staff_consolidate_add_to_a_suggestion_and_correct_the_problem(page: Page, log_in,
                                                                       shoot, engine, township):
    log_in(page, "clerk")
    page.goto(f"/feedback/consolidate?branch_id={township['small']}")
    page.get_by_role("button", name="归并为意见建议").click()
    # the text is missing too; each message stands beside its own field
    page.get_by_label("意见建议").fill("加强村内道路建设")
    page.get_by_role("button", name="归并为意见建议").click()
    expect(page.locator("#err-opinion_ids")).to_have_text("请至少勾选一条意见")
    assert_fits_phone(page)

    picks = page.locator("#opinion-rows .opinion-pick")
    picks.filter(has_text="第1份").locator("input").check()
    page.get_by_role("button", name="归并为意见建议").click()
    card = page.locator("article[id^=suggestion-]").first
    expect(card).to_contain_text("归并意见 1 条")
    picks.filter(has_text="第2份").locator("input").check()
    picks.filter(has_text="第3份").locator("input").check()
    card.get_by_role("button", name="加入勾选的意见").click()
    expect(page.locator("article[id^=suggestion-]").first).to_contain_text("归并意见 3 条")
    expect(picks.filter(has_text="第2份")).to_have_count(0)
    shoot(page, "consolidate-added")

    card = page.locator("article[id^=suggestion-]").first
    card.get_by_label("问题类别").select_option(index=1)
    card.get_by_role("button", name="转为问题").click()
    card = page.locator("article[id^=suggestion-]").first
    card.get_by_role("link", name="已转为问题").click()
    page.wait_for_url("**/problems/*")
    expect(page.locator("#source-opinions")).to_contain_text("来源意见(3 条)")
    expect(page.get_by_text("小营子村党支部", exact=False).first).to_be_visible()
    problem_id = int(page.url.rsplit("/", 1)[1])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT branch_id FROM problem WHERE id = :i"),
                            {"i": problem_id}).scalar_one() == township["small"]
    assert_fits_phone(page)
    shoot(page, "problem-sources")

    page.get_by_role("link", name="修改", exact=True).click()
    page.wait_for_url("**/edit")
    page.get_by_label("问题描述").fill("村内道路年久失修,群众出行不便")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(f"**/problems/{problem_id}")
    expect(page.get_by_role("heading", name="村内道路年久失修,群众出行不便")).to_be_visible()

    page.get_by_role("link", name="删除", exact=True).click()
    page.on("dialog", lambda d: d.accept())
    page.get_by_label("删除原因").fill("与已有问题重复")
    page.get_by_role("button", name="确认删除").click()
    page.wait_for_url("**/problems")
    page.goto(f"/history/problem/{problem_id}")
    expect(page.locator(".history-entry").last).to_contain_text("原因:与已有问题重复")
    expect(page.locator(".history-entry").last.locator(".history-who")).to_have_text("王委员")
