"""Feedback forms entered on a phone without a signal: kept on the phone, sent once.

A village secretary at 390×844 fills in a returned form while the network is off (Playwright's
offline mode), sees it kept as 待发送, reloads the page (served by the service worker), and
when the network returns sees it go through — stored exactly once, checked in the database.
"""

import re
from dataclasses import dataclass
from datetime import date

import pytest
from playwright.sync_api import Page, Route, expect
from sqlalchemy import Engine, text

from app.models.campaign import Campaign, CampaignStatus
from app.models.user import Role
from tests.factories import committed, make_branch, make_township, make_user

pytestmark = pytest.mark.e2e

QUEUE = "#fb-queue-list > li"


@dataclass
class Village:
    township_id: int
    branch_id: int
    campaign_id: int


@pytest.fixture
def village(engine: Engine) -> Village:
    """A township, a village branch, an active campaign and the branch's secretary `sec`."""
    with committed(engine) as s:
        township = make_township(s, name="十四道沟镇")
        branch = make_branch(s, township, name="小营子村党支部")
        campaign = Campaign(name="2026年软弱涣散党组织专项整治", starts_on=date(2026, 1, 1),
                            ends_on=date(2026, 12, 31), status=CampaignStatus.active)
        s.add(campaign)
        s.flush()
        user = make_user(s, Role.branch_secretary, branch=branch, username="sec")
        user.display_name = "李书记"
        return Village(township.id, branch.id, campaign.id)  # type: ignore[arg-type]


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        forms = conn.execute(text("SELECT count(*) FROM feedback_form")).scalar_one()
        opinions = conn.execute(text("SELECT count(*) FROM opinion")).scalar_one()
    return forms, opinions


def assert_fits_phone(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def open_entry_page(page: Page, log_in) -> None:  # type: ignore[no-untyped-def]
    """Sign in as the secretary, open the entry page and wait for its service worker."""
    log_in(page, "sec")
    page.goto("/feedback/new")
    expect(page.get_by_role("heading", name="录入征求意见表")).to_be_visible()
    assert page.evaluate("""navigator.serviceWorker.ready.then(r => r.active.state === "activated"
        ? "activated"
        : new Promise(done => r.active.addEventListener("statechange", e => {
            if (e.target.state === "activated") { done("activated"); }
          })))""") == "activated"
    # the worker has stored the page and its files once `ready` resolves (install finished)
    assert page.evaluate("caches.match('/feedback/new').then(r => !!r)")


def fill_form(page: Page, first: str, second: str | None = None) -> None:
    page.get_by_label("群众").check()
    page.get_by_label("基本满意").check()
    page.get_by_label("第 1 条意见内容").fill(first)
    page.get_by_label("第 1 条意见类别").select_option(label="带领群众致富")
    if second is not None:
        page.get_by_role("button", name="添加一条意见").click()
        page.get_by_label("第 2 条意见内容").fill(second)
        page.get_by_label("第 2 条意见类别").select_option(label="转变工作作风")


def test_form_filled_offline_is_kept_survives_a_reload_and_is_sent_once(  # type: ignore[no-untyped-def]
    page: Page, context, village: Village, engine: Engine, log_in, shoot
) -> None:
    open_entry_page(page, log_in)
    expect(page.locator("#fb-net")).to_contain_text("在线")
    expect(page.get_by_text("小营子村党支部")).to_be_visible()
    expect(page.get_by_text("2026年软弱涣散党组织专项整治")).to_be_visible()
    expect(page.get_by_label("填表人姓名")).to_be_hidden()  # anonymous by default
    assert_fits_phone(page)
    shoot(page, "feedback-empty")

    context.set_offline(True)
    expect(page.locator("#fb-net")).to_contain_text("离线")
    fill_form(page, "希望村里多组织技术种植培训,带动大家增收。",
              "村干部要多下户走访,听听群众意见。")
    page.get_by_role("button", name="保存并发送").click()

    entry = page.locator(QUEUE)
    expect(entry).to_have_count(1)
    expect(entry.first).to_contain_text("待发送")
    expect(entry.first).to_contain_text("2 条意见")
    expect(page.locator("#fb-notice")).to_contain_text("有信号后自动发送")
    # the form is empty again, ready for the next one
    expect(page.get_by_label("第 1 条意见内容")).to_have_value("")
    expect(page.get_by_label("第 2 条意见内容")).to_have_count(0)
    assert_fits_phone(page)
    shoot(page, "feedback-queued-offline")
    assert counts(engine) == (0, 0)

    # a reload without a signal: the page comes from the service worker, the queue is kept
    failed: list[str] = []
    context.on("requestfailed", lambda r: failed.append(r.url) if r.service_worker else None)
    response = page.reload()
    assert response is not None and response.from_service_worker
    assert any(u.endswith("/feedback/new") for u in failed), "the worker reached the network"
    expect(page.get_by_role("heading", name="录入征求意见表")).to_be_visible()
    expect(page.locator("#fb-net")).to_contain_text("离线")
    expect(entry).to_have_count(1)
    expect(entry.first).to_contain_text("待发送")
    assert counts(engine) == (0, 0)

    context.set_offline(False)
    expect(entry.first).to_contain_text(re.compile(r"已发送 \d\d:\d\d"), timeout=8_000)
    expect(page.locator("#fb-net")).to_contain_text("在线")
    assert_fits_phone(page)
    shoot(page, "feedback-sent")

    assert counts(engine) == (1, 2)
    with engine.connect() as conn:
        form = conn.execute(text(
            "SELECT branch_id, campaign_id, respondent_kind, anonymous, respondent_name, "
            "satisfaction, submitted_by FROM feedback_form")).one()
        opinions = conn.execute(text("SELECT theme, text FROM opinion ORDER BY id")).all()
    assert form.branch_id == village.branch_id
    assert form.campaign_id == village.campaign_id
    assert (form.respondent_kind, bool(form.anonymous), form.respondent_name) == (
        "villager", True, None)
    assert form.satisfaction == "basically"
    assert form.submitted_by == "李书记"
    assert [o.theme for o in opinions] == ["prosperity", "work_style"]
    assert opinions[1].text == "村干部要多下户走访,听听群众意见。"

    # reloading once more sends nothing again
    page.reload()
    expect(entry.first).to_contain_text("已发送")
    page.wait_for_timeout(500)
    assert counts(engine) == (1, 2)


def test_queue_survives_closing_the_browser(  # type: ignore[no-untyped-def]
    page: Page, context, village: Village, engine: Engine, log_in
) -> None:
    open_entry_page(page, log_in)
    context.set_offline(True)
    fill_form(page, "希望党员带头发展庭院经济。")
    page.get_by_role("button", name="保存并发送").click()
    expect(page.locator(QUEUE).first).to_contain_text("待发送")
    page.close()  # the secretary closes the page and comes back later with a signal

    context.set_offline(False)
    later = context.new_page()
    later.goto("/feedback/new")
    expect(later.locator(QUEUE).first).to_contain_text(re.compile(r"已发送 \d\d:\d\d"))
    assert counts(engine) == (1, 1)


def test_name_is_asked_only_when_not_anonymous(  # type: ignore[no-untyped-def]
    page: Page, village: Village, engine: Engine, log_in
) -> None:
    open_entry_page(page, log_in)
    page.get_by_label("第 1 条意见内容").fill("建议公开村务。")
    page.get_by_label("第 1 条意见类别").select_option(label="组织建设")
    page.get_by_label("匿名填写(不记录姓名)").uncheck()
    name = page.get_by_label("填表人姓名")
    expect(name).to_be_visible()
    expect(name).to_be_focused()
    page.get_by_role("button", name="保存并发送").click()
    expect(page.locator("#err-respondent_name")).to_have_text("实名填写须提供填表人姓名")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(page.locator(QUEUE)).to_have_count(0)

    name.fill("王大成")
    page.get_by_role("button", name="保存并发送").click()
    expect(page.locator(QUEUE).first).to_contain_text("已发送")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT anonymous, respondent_name FROM feedback_form")).one()
    assert (bool(row.anonymous), row.respondent_name) == (False, "王大成")


def test_opinion_needs_a_theme_and_rows_can_be_removed(  # type: ignore[no-untyped-def]
    page: Page, village: Village, engine: Engine, log_in
) -> None:
    open_entry_page(page, log_in)
    page.get_by_label("第 1 条意见内容").fill("第一条")
    page.get_by_role("button", name="添加一条意见").click()
    expect(page.get_by_label("第 2 条意见内容")).to_be_focused()
    page.get_by_label("第 2 条意见内容").fill("第二条")
    page.get_by_label("第 2 条意见类别").select_option(label="其他")
    page.get_by_role("button", name="保存并发送").click()
    expect(page.get_by_label("第 1 条意见类别")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#fb-errors")).to_contain_text("第 1 条意见·类别:请选择意见类别")

    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="删除第 1 条意见").click()
    expect(page.get_by_label("第 1 条意见内容")).to_have_value("第二条")
    expect(page.get_by_role("button", name="删除第 1 条意见")).to_be_hidden()  # the last row stays
    page.get_by_role("button", name="保存并发送").click()
    expect(page.locator(QUEUE).first).to_contain_text("已发送")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT text, theme FROM opinion")).all() == [("第二条", "other")]


def test_form_the_server_refuses_comes_back_with_its_messages(  # type: ignore[no-untyped-def]
    page: Page, context, village: Village, engine: Engine, log_in, shoot
) -> None:
    open_entry_page(page, log_in)
    context.set_offline(True)
    fill_form(page, "希望多修几条通组路。")
    page.get_by_role("button", name="保存并发送").click()
    expect(page.locator(QUEUE).first).to_contain_text("待发送")
    # while the phone had no signal, the campaign the form was entered for went away
    with committed(engine) as s:
        s.execute(text("UPDATE campaign SET deleted_at = CURRENT_TIMESTAMP"))
    context.set_offline(False)

    entry = page.locator(QUEUE).first
    expect(entry).to_contain_text("被退回")
    expect(entry).to_contain_text("专项整治:所选专项整治不存在")
    shoot(page, "feedback-rejected")
    page.reload()
    expect(entry).to_contain_text("被退回")  # never silently dropped
    assert counts(engine) == (0, 0)

    page.once("dialog", lambda d: d.accept())
    entry.get_by_role("button", name="放弃这份").click()
    expect(page.locator(QUEUE)).to_have_count(0)
    assert page.evaluate("window.RectifyFeedback.queue().length") == 0


def test_refused_form_is_corrected_and_resent(  # type: ignore[no-untyped-def]
    page: Page, village: Village, engine: Engine, log_in, shoot
) -> None:
    open_entry_page(page, log_in)
    page.get_by_label("第 1 条意见内容").evaluate("ta => ta.removeAttribute('maxlength')")
    page.get_by_label("第 1 条意见内容").fill("长" * 1001)
    page.get_by_label("第 1 条意见类别").select_option(label="增强服务意识")
    page.get_by_role("button", name="保存并发送").click()

    entry = page.locator(QUEUE).first
    expect(entry).to_contain_text("被退回")
    expect(entry).to_contain_text("第 1 条意见·内容:不能超过 1000 个字")

    entry.get_by_role("button", name="修改后重新发送").click()
    text_box = page.get_by_label("第 1 条意见内容")
    expect(text_box).to_have_value("长" * 1001)
    expect(text_box).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#fb-errors")).to_contain_text("不能超过 1000 个字")
    expect(page.get_by_label("第 1 条意见类别")).to_have_value("service")
    shoot(page, "feedback-editing-refused")
    text_box.fill("长" * 300)
    page.get_by_role("button", name="改好了,重新发送").click()

    expect(page.locator(QUEUE)).to_have_count(1)  # the corrected one replaces the refused one
    expect(entry).to_contain_text("已发送")
    assert counts(engine) == (1, 1)


def test_lost_answer_and_double_send_store_the_form_once(  # type: ignore[no-untyped-def]
    page: Page, village: Village, engine: Engine, log_in
) -> None:
    open_entry_page(page, log_in)
    seen: list[tuple[int, str | None]] = []
    page.on("response", lambda r: seen.append((r.status, r.headers.get("idempotent-replayed")))
            if r.url.endswith("/api/v1/feedback-forms") else None)

    # the first POST reaches the server and is stored, but its answer never arrives
    def lose_first_answer(route: Route) -> None:
        if not getattr(lose_first_answer, "done", False):
            lose_first_answer.done = True  # type: ignore[attr-defined]
            route.fetch()
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/v1/feedback-forms", lose_first_answer)
    fill_form(page, "希望把党员活动室利用起来。", "多开展志愿服务。")
    page.get_by_role("button", name="保存并发送").click()
    entry = page.locator(QUEUE).first
    expect(entry).to_contain_text("待发送")
    expect(entry).to_contain_text("网络不通")
    assert counts(engine) == (1, 2)  # stored, though the phone does not know it

    page.get_by_role("button", name="立即发送").click()
    expect(entry).to_contain_text("已发送")
    expect(entry).to_contain_text("重复发送只存一份")
    assert (201, "true") in seen
    assert counts(engine) == (1, 2)

    # the same entry sent twice at once, from the page's own send function
    page.unroute("**/api/v1/feedback-forms")
    page.evaluate("""([campaignId, branchId]) => RectifyFeedback.add(
        {id: 'k-twice', key: 'k-twice', actor: 'user:sec', state: 'pending',
         created_at: Date.now(), summary: {kind: 'villager', opinions: 1},
         payload: JSON.stringify({campaign_id: campaignId, branch_id: branchId,
           respondent_kind: 'villager', anonymous: true, respondent_name: null,
           satisfaction: null, opinions: [{text: '同时发两次', theme: 'other'}]})})
    """, [village.campaign_id, village.branch_id])
    outcomes = page.evaluate(
        "Promise.all([RectifyFeedback.sendNow('k-twice'), RectifyFeedback.sendNow('k-twice')])"
        ".then(rs => rs.map(r => r.kind))"
    )
    assert outcomes in (["sent", "sent"], ["sent", "retry"], ["retry", "sent"])
    expect(page.locator('#fb-queue-list > li[data-id="k-twice"]')).to_contain_text("已发送")
    with engine.connect() as conn:
        assert conn.execute(text(
            "SELECT count(*) FROM opinion WHERE text = '同时发两次'")).scalar_one() == 1
    assert counts(engine) == (2, 3)


def test_expired_login_keeps_the_form_until_signed_in_again(  # type: ignore[no-untyped-def]
    page: Page, context, village: Village, engine: Engine, log_in
) -> None:
    open_entry_page(page, log_in)
    context.set_offline(True)
    fill_form(page, "希望村里建个文化广场。")
    page.get_by_role("button", name="保存并发送").click()
    with committed(engine) as s:  # the session ends while the phone is offline
        s.execute(text("DELETE FROM login_session"))
    context.set_offline(False)

    entry = page.locator(QUEUE).first
    expect(entry).to_contain_text("登录已过期,请重新登录后自动发送")
    expect(entry).to_contain_text("待发送")
    assert counts(engine) == (0, 0)

    entry.get_by_role("link", name="重新登录").click()
    page.get_by_label("用户名").fill("sec")
    page.get_by_label("密码").fill("test-pass-123")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/feedback/new$"))
    expect(page.locator(QUEUE).first).to_contain_text("已发送")
    assert counts(engine) == (1, 1)


def test_without_an_active_campaign_the_page_says_so(  # type: ignore[no-untyped-def]
    page: Page, village: Village, engine: Engine, log_in, shoot
) -> None:
    with committed(engine) as s:
        s.execute(text("UPDATE campaign SET status = 'closed'"))
    log_in(page, "sec")
    page.goto("/feedback/new")
    expect(page.get_by_role("heading", name="暂不能录入")).to_be_visible()
    expect(page.get_by_text("目前没有进行中的专项整治")).to_be_visible()
    expect(page.get_by_role("button", name="保存并发送")).to_have_count(0)
    assert_fits_phone(page)
    shoot(page, "feedback-no-campaign")


def test_what_is_typed_survives_a_reload_before_submitting(  # type: ignore[no-untyped-def]
    page: Page, context, village: Village, log_in
) -> None:
    open_entry_page(page, log_in)
    context.set_offline(True)
    page.get_by_label("干部").check()
    page.get_by_label("第 1 条意见内容").fill("打到一半,手机没电了")
    page.wait_for_timeout(600)  # the draft is saved a moment after typing
    page.reload()
    expect(page.get_by_label("第 1 条意见内容")).to_have_value("打到一半,手机没电了")
    expect(page.get_by_label("干部")).to_be_checked()
    expect(page.locator("#fb-notice")).to_contain_text("已恢复上次没有提交的内容")


def test_forms_queued_by_the_earlier_version_move_to_indexeddb_and_are_sent(  # type: ignore[no-untyped-def]
    page: Page, village: Village, engine: Engine, log_in
) -> None:
    """Before this version the queue lived in localStorage: this account's entries are taken
    over and sent; another account's stay where they were."""
    open_entry_page(page, log_in)
    page.evaluate("""([campaignId, branchId]) => {
        const entry = (id, actor, text) => ({id: id, key: id, actor: actor, state: 'pending',
          created_at: Date.now(), summary: {kind: 'villager', opinions: 1},
          payload: JSON.stringify({campaign_id: campaignId, branch_id: branchId,
            respondent_kind: 'villager', anonymous: true, respondent_name: null,
            satisfaction: null, opinions: [{text: text, theme: 'other'}]})});
        localStorage.setItem('rectify.feedback.queue', JSON.stringify([
          entry('old-mine', 'user:sec', '旧版本保存的意见'),
          entry('old-theirs', 'user:someone', '别人的意见')]));
    }""", [village.campaign_id, village.branch_id])
    page.reload()
    expect(page.locator('#fb-queue-list > li[data-id="old-mine"]')).to_contain_text("已发送")
    expect(page.locator('#fb-queue-list > li[data-id="old-theirs"]')).to_have_count(0)
    left = page.evaluate("JSON.parse(localStorage.getItem('rectify.feedback.queue'))")
    assert [e["id"] for e in left] == ["old-theirs"]
    assert counts(engine) == (1, 1)
    with engine.connect() as conn:
        assert conn.execute(text(
            "SELECT count(*) FROM opinion WHERE text = '别人的意见'")).scalar_one() == 0
