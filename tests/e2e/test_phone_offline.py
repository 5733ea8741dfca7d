"""A village secretary's phone on a weak or absent signal, in Chromium at 390×844.

Her pages open offline from the last visit; a progress report with a 12-megapixel photo
made while offline is kept on the phone (shrunk), survives a reload, and is sent once when
the signal returns; a phone whose storage cannot be written says so and still sends what
was entered; a new build is picked up on the next online visit; and on a phone shared by
two secretaries neither sees nor sends the other's queued entries. Counts are checked in
the database.
"""

import io
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, Route, expect
from sqlalchemy import Engine, text

from app import assets
from app.models.campaign import Campaign, CampaignStatus
from app.models.user import Role
from app.services import evidence
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

# IndexedDB and localStorage refuse every write, as on a phone whose storage is full
FULL_STORAGE = """
(() => {
  const full = () => { throw new DOMException("QuotaExceededError", "QuotaExceededError"); };
  IDBObjectStore.prototype.put = full;
  IDBObjectStore.prototype.add = full;
  Storage.prototype.setItem = full;
})();
"""


@dataclass(frozen=True)
class Villages:
    task_a: int
    task_b: int
    branch_a: int


@pytest.fixture
def villages(engine: Engine) -> Villages:
    """Two villages of one township, a task each, and their secretaries `seca` and `secb`."""
    with committed(engine) as s:
        township = make_township(s, name="十四道沟镇")
        a = make_branch(s, township, name="小营子村党支部")
        b = make_branch(s, township, name="干沟子村党支部")
        campaign = make_campaign(s, name="2026年整顿软弱涣散基层党组织")
        s.add(Campaign(name="征求意见", starts_on=campaign.starts_on, ends_on=campaign.ends_on,
                       status=CampaignStatus.active))
        task_a = make_task(s, make_problem(s, campaign, township, branch=a), title="规范三会一课")
        task_b = make_task(s, make_problem(s, campaign, township, branch=b), title="整顿党员档案")
        make_user(s, Role.branch_secretary, branch=a, username="seca").display_name = "甲书记"
        make_user(s, Role.branch_secretary, branch=b, username="secb").display_name = "乙书记"
        return Villages(task_a.id, task_b.id, a.id)  # type: ignore[arg-type]


def twelve_megapixels() -> bytes:
    """A 4000×3000 camera JPEG with detail, a rotation and a location in its EXIF."""
    noise = Image.effect_noise((1000, 750), 40).resize((4000, 3000))
    img = Image.merge("RGB", (noise, Image.linear_gradient("L").resize((4000, 3000)), noise))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(evidence.GPS_IFD).update({1: "N", 2: (41.0, 56.0, 12.0)})
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


def reports(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(text("SELECT count(*) FROM progress_update")).scalar_one(),
                conn.execute(text("SELECT count(*) FROM attachment")).scalar_one())


def worker_ready(page: Page, path: str) -> None:
    """Wait until the service worker runs and has stored `path` for offline use."""
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function(
        "async p => !!(await (await caches.open('rectify-pages')).match(p))", arg=path, polling=200)


def open_task(page: Page, task_id: int) -> None:
    page.goto(f"/tasks/{task_id}")
    page.goto(f"/tasks/{task_id}")  # the second visit is through the worker, which keeps it
    worker_ready(page, f"/tasks/{task_id}")
    expect(page.locator("#report-form")).to_be_visible()


def queue_report(page: Page, note: str, photo: bytes) -> None:
    form = page.locator("#report-form")
    form.get_by_label("进展情况").fill(note)
    form.locator("#update-files").set_input_files(
        {"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": photo})
    form.get_by_role("button", name="上报进展").click()


def test_home_and_task_open_offline_from_the_last_visit(  # type: ignore[no-untyped-def]
    page: Page, context, villages: Villages, log_in, shoot
) -> None:
    log_in(page, "seca")
    expect(page).to_have_url(re.compile(r"/my/tasks$"))
    nav = page.get_by_role("navigation", name="主导航")
    expect(nav.get_by_role("link").first).to_have_text("我的任务")
    expect(nav.get_by_role("link").nth(1)).to_have_text("录入意见表")
    expect(nav.get_by_role("link", name="看板")).to_be_hidden()  # behind 更多
    nav.get_by_text("更多").click()
    expect(nav.get_by_role("link", name="看板")).to_be_visible()
    open_task(page, villages.task_a)
    page.goto("/")
    worker_ready(page, "/my/tasks")

    context.set_offline(True)
    page.goto("/")
    expect(page.get_by_role("heading", name="我的支部任务")).to_be_visible()
    expect(page.get_by_role("link", name="规范三会一课")).to_be_visible()
    shoot(page, "phone-offline-home")
    page.get_by_role("link", name="规范三会一课").click()
    expect(page.get_by_role("heading", name="规范三会一课")).to_be_visible()
    expect(page.locator("#report-form")).to_be_visible()
    page.goto("/branches")  # never opened: the worker says so in Chinese
    expect(page.get_by_role("heading", name="没有网络")).to_be_visible()


def test_report_with_photo_made_offline_is_sent_once_after_reconnecting(  # type: ignore[no-untyped-def]
    page: Page, context, villages: Villages, engine: Engine, settings, log_in, shoot
) -> None:
    log_in(page, "seca")
    open_task(page, villages.task_a)
    context.set_offline(True)
    queue_report(page, "已召开支委会,照片为会议现场", twelve_megapixels())
    expect(page.locator("#upload-status")).to_have_text("离线:已保存在手机上,有信号后自动发送。")
    item = page.locator("#outbox li")
    expect(item).to_contain_text("规范三会一课")
    expect(item).to_contain_text("待发送")
    shoot(page, "phone-report-queued")
    size = page.evaluate("RectifyReports.queue()[0].files[0].size")
    assert size <= 500 * 1024, size

    page.reload()  # offline: the page from the worker, the report from IndexedDB
    expect(page.locator("#outbox li")).to_contain_text("1 个文件")
    assert reports(engine) == (0, 0)

    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.headers.get("idempotency-key", ""))
            if r.method == "POST" and r.url.endswith("/updates") else None)
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#outbox li")).to_contain_text("已上报", timeout=20_000)
    page.evaluate("RectifyReports.flush()")  # nothing left to send
    assert reports(engine) == (1, 1)
    assert len(posts) == 1 and posts[0]

    with engine.connect() as conn:
        key, stored_size = conn.execute(text("SELECT storage_key, size FROM attachment")).one()
    stored = Image.open(settings.upload_dir / key)
    assert max(stored.size) == 1600 and stored.size == (1200, 1600)  # upright, shrunk
    assert stored_size <= 500 * 1024
    assert evidence.GPS_IFD not in stored.getexif()
    page.reload()
    expect(page.locator("#timeline li.tl-update")).to_contain_text("已召开支委会")


def test_full_storage_is_said_and_the_entry_still_goes(  # type: ignore[no-untyped-def]
    page: Page, context, villages: Villages, engine: Engine, log_in
) -> None:
    log_in(page, "seca")
    open_task(page, villages.task_a)
    context.add_init_script(FULL_STORAGE)
    page.reload()
    expect(page.locator("#report-form")).to_be_visible()
    context.set_offline(True)
    queue_report(page, "整理党员档案12份", twelve_megapixels())
    expect(page.locator("#upload-status")).to_contain_text("不能保存数据")
    expect(page.locator("#outbox")).to_contain_text("只保存在本页面里")
    expect(page.locator("#outbox li")).to_contain_text("待发送")

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#outbox li")).to_contain_text("已上报", timeout=20_000)
    assert reports(engine) == (1, 1)

    # the feedback form too: kept on the page, said so, sent
    page.goto("/feedback/new")
    context.set_offline(True)
    page.get_by_label("群众").check()
    page.get_by_label("第 1 条意见内容").fill("希望修通村道")
    page.get_by_label("第 1 条意见类别").select_option(index=1)
    page.get_by_role("button", name="保存并发送").click()
    expect(page.locator("#fb-notice")).to_contain_text("不能保存数据")
    expect(page.locator("#fb-queue-list > li")).to_contain_text("待发送")
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#fb-queue-list > li")).to_contain_text("已发送", timeout=20_000)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM feedback_form")).scalar_one() == 1


@pytest.fixture
def static_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The app's static files in a folder of their own, to be changed as an upgrade would."""
    copy = tmp_path / "static"
    shutil.copytree(assets.STATIC_DIR, copy)

    def forget() -> None:
        for cached in (assets.file_hash, assets.asset_names, assets.build_hash):
            cached.cache_clear()

    monkeypatch.setattr(assets, "STATIC_DIR", copy)
    forget()
    yield copy
    monkeypatch.undo()
    forget()


def test_an_upgrade_is_picked_up_on_the_next_online_visit(  # type: ignore[no-untyped-def]
    static_copy: Path, page: Page, context, villages: Villages, log_in
) -> None:
    log_in(page, "seca")
    page.goto("/my/tasks")
    worker_ready(page, "/my/tasks")
    old = assets.build_hash()
    assert page.evaluate("caches.keys()").count(f"rectify-static-{old}") == 1

    # the upgrade: a changed script, so a new build hash and a new worker
    app_js = static_copy / "app.js"
    app_js.write_text(app_js.read_text() + '\nwindow.__build = "v2";\n')
    for cached in (assets.file_hash, assets.asset_names, assets.build_hash):
        cached.cache_clear()
    new = assets.build_hash()
    assert new != old

    page.goto("/my/tasks")  # the next online visit
    assert page.evaluate("window.__build") == "v2"  # the new script, not the cached one
    page.wait_for_function(
        "async ([n, o]) => { const k = await caches.keys();"
        " return k.includes('rectify-static-' + n) && !k.includes('rectify-static-' + o); }",
        arg=[new, old], polling=200)
    context.set_offline(True)
    page.goto("/my/tasks")
    expect(page.get_by_role("heading", name="我的支部任务")).to_be_visible()
    assert page.evaluate("window.__build") == "v2"


def test_two_secretaries_on_one_phone_keep_their_own_queues(  # type: ignore[no-untyped-def]
    page: Page, context, villages: Villages, engine: Engine, log_in
) -> None:
    log_in(page, "seca")
    open_task(page, villages.task_a)
    context.set_offline(True)
    queue_report(page, "甲村的进展", twelve_megapixels())
    expect(page.locator("#outbox li")).to_contain_text("待发送")

    # the signal comes back but the server cannot be reached; 甲 hands the phone over
    def unreachable(route: Route) -> None:
        route.abort()

    context.route("**/api/v1/tasks/*/updates", unreachable)
    context.set_offline(False)
    page.goto("/logout")
    log_in(page, "secb")
    expect(page).to_have_url(re.compile(r"/my/tasks$"))
    assert page.evaluate("RectifyReports.queue().length") == 0
    expect(page.locator("#outbox")).to_be_hidden()
    expect(page.get_by_text("甲村的进展")).to_have_count(0)
    # 甲's stored pages went at sign-in: offline, 乙 gets no page of 甲's
    assert not page.evaluate(
        f"caches.open('rectify-pages').then(c => c.match('/tasks/{villages.task_a}'))"
        ".then(r => !!r)")
    context.unroute("**/api/v1/tasks/*/updates")
    page.reload()
    page.evaluate("RectifyReports.flush()")
    assert reports(engine) == (0, 0)  # 乙's phone session sends nothing of 甲's

    page.goto("/logout")
    log_in(page, "seca")
    expect(page.locator("#outbox li")).to_contain_text("已上报", timeout=20_000)
    assert reports(engine) == (1, 1)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT author FROM progress_update")).scalar_one() == "甲书记"
