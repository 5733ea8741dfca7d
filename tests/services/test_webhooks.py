"""Webhooks (推送): delivery of the change feed to local receivers, retries, township limits,
several workers at once, and the WeCom / DingTalk message shapes.

Every receiver is an HTTP server the test starts on 127.0.0.1 (a free port).
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, select

from app.config import Settings
from app.db import make_engine, transaction
from app.models.notification import Notification
from app.models.township import Township
from app.models.user import Role
from app.models.webhook import Webhook, WebhookCreate, WebhookDelivery, WebhookDeliveryPublic
from app.services import webhooks as svc
from app.services.actors import SYSTEM
from tests.factories import (
    assert_problem,
    committed,
    make_branch,
    make_campaign,
    make_problem,
    make_task,
    make_user,
)

API = "/api/v1"
SECRET = "s3cret-for-tests"


class Receiver:
    """A local HTTP receiver: records every request; fails the first `fail_first` with 500."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0, answer: bytes = b"{}") -> None:
        self.fail_first, self.delay, self.answer = fail_first, delay, answer
        self.requests: list[tuple[str, dict[str, str], bytes, int]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(receiver.delay)
                with receiver.lock:
                    status = 500 if len(receiver.requests) < receiver.fail_first else 200
                    receiver.requests.append((self.path, dict(self.headers), body, status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(receiver.answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def delivered_changes(self) -> list[tuple[str, int, int]]:
        """(type, id, version) of every change in the successful deliveries, in order."""
        out = []
        for _path, _headers, body, status in self.requests:
            if status == 200:
                out += [(c["type"], c["id"], c["version"]) for c in json.loads(body)["changes"]]
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def _make(**kw: Any) -> Receiver:
        r = Receiver(**kw)
        made.append(r)
        return r

    yield _make
    for r in made:
        r.close()


@pytest.fixture
def fast(settings: Settings) -> Settings:
    """Backoff made tiny so retries happen within the test."""
    return settings.model_copy(update={
        "webhook_retry_base_seconds": 0.01, "webhook_retry_max_seconds": 0.05,
        "webhook_batch_size": 3, "worker_poll_seconds": 0.01, "webhook_timeout_seconds": 5.0,
    })


def register(engine: Engine, url: str, **fields: Any) -> int:
    data = WebhookCreate(url=url, secret=fields.pop("secret", SECRET), **fields)
    with transaction(engine) as s:
        return int(svc.create_webhook(session=s, actor=SYSTEM, data=data).id)  # type: ignore[arg-type]


def make_changes(engine: Engine, township: Any, n: int) -> None:
    """`n` committed transactions, each creating a task (and the first its problem)."""
    with committed(engine) as s:
        campaign = make_campaign(s)
        problem = make_problem(s, campaign, s.get(Township, township.id))
    for _ in range(n):
        with committed(engine) as s:
            make_task(s, problem)


def feed_after_registration(engine: Engine, cursor: str | None,
                            township_id: int | None = None) -> list[tuple[str, int, int]]:
    from app.services.actors import Actor
    from app.services.changefeed import read_changes

    reader = Actor(label="t", role=Role.viewer, township_id=township_id)
    with committed(engine) as s:
        page = read_changes(session=s, actor=reader, cursor=cursor, limit=10_000, types=None)
    return [(c.type, c.id, c.version) for c in page.changes]


def drain(engine: Engine, settings: Settings, until: Callable[[], bool],
          timeout: float = 20.0) -> None:
    with httpx.Client(timeout=5) as client:
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, "deliveries did not finish in time"
            if not svc.deliver_due(engine=engine, settings=settings, client=client):
                time.sleep(0.01)


def webhook_row(engine: Engine, webhook_id: int) -> Webhook:
    with committed(engine) as s:
        w = s.get(Webhook, webhook_id)
        assert w is not None
        s.expunge(w)
        return w


# ---------------------------------------------------------------- JSON deliveries


def test_failing_receiver_gets_every_change_once_in_order_signed(
    engine: Engine, fast: Settings, world: Any, receivers: Callable[..., Receiver]
) -> None:
    make_changes(engine, world.township, 2)  # before registration: never delivered
    receiver = receivers(fail_first=3)
    webhook_id = register(engine, receiver.url)
    start = webhook_row(engine, webhook_id).cursor
    make_changes(engine, world.township, 7)
    expected = feed_after_registration(engine, start)
    assert len(expected) == 9  # campaign, problem, seven tasks

    drain(engine, fast, lambda: len(receiver.delivered_changes()) >= len(expected))

    assert receiver.delivered_changes() == expected
    assert [status for *_rest, status in receiver.requests[:4]] == [500, 500, 500, 200]
    for _path, headers, body, _status in receiver.requests:
        want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Rectify-Signature"] == want
        assert headers["Content-Type"].startswith("application/json")
    # nothing more to send: another pass delivers nothing
    with httpx.Client() as client:
        assert svc.deliver_due(engine=engine, settings=fast, client=client) == 0
    with committed(engine) as s:
        log = list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
    assert log[0].attempts == 4 and log[0].status == "delivered"
    assert log[0].last_error is None and log[0].response_status == 200
    assert sum(d.change_count for d in log) == 9
    assert all(d.status == "delivered" for d in log)


def test_retries_back_off_and_record_the_error(
    engine: Engine, settings: Settings, world: Any, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers(fail_first=100)
    webhook_id = register(engine, receiver.url)
    make_changes(engine, world.township, 1)
    with httpx.Client() as client:
        assert svc.deliver_due(engine=engine, settings=settings, client=client) == 1
        first = webhook_row(engine, webhook_id)
        # not due again before the backoff (5 s by default)
        assert svc.deliver_due(engine=engine, settings=settings, client=client) == 0
    assert first.next_attempt_at is not None and first.failing_since is not None
    wait = (first.next_attempt_at - first.failing_since).total_seconds()
    assert 4.9 <= wait <= 5.1
    assert first.last_error == "接收方返回 HTTP 500"
    assert first.cursor == webhook_row(engine, webhook_id).cursor  # the cursor did not move


def test_township_limited_webhook_never_receives_another_townships_change(
    engine: Engine, fast: Settings, world: Any, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    webhook_id = register(engine, receiver.url, township_id=world.township.id)
    start = webhook_row(engine, webhook_id).cursor
    make_changes(engine, world.other_township, 3)
    make_changes(engine, world.township, 2)
    make_changes(engine, world.other_township, 2)
    mine = feed_after_registration(engine, start, township_id=world.township.id)
    assert len(mine) == 3  # problem and two tasks (the campaign has no township)
    drain(engine, fast, lambda: len(receiver.delivered_changes()) >= len(mine))
    time.sleep(0.05)
    with httpx.Client() as client:
        svc.deliver_due(engine=engine, settings=fast, client=client)
    assert receiver.delivered_changes() == mine
    for *_rest, body, _status in receiver.requests:
        for change in json.loads(body)["changes"]:
            assert change["data"]["township_id"] == world.township.id


def test_types_limit_what_is_pushed(
    engine: Engine, fast: Settings, world: Any, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    register(engine, receiver.url, types=["problem"])
    make_changes(engine, world.township, 2)
    drain(engine, fast, lambda: len(receiver.delivered_changes()) >= 1)
    assert [t for t, *_ in receiver.delivered_changes()] == ["problem"]


def test_webhook_failing_for_a_day_is_paused_and_the_county_told(
    engine: Engine, fast: Settings, world: Any, receivers: Callable[..., Receiver]
) -> None:
    quick_pause = fast.model_copy(update={"webhook_pause_after_hours": 0.3 / 3600})
    receiver = receivers(fail_first=1000)
    webhook_id = register(engine, receiver.url)
    make_changes(engine, world.township, 1)
    drain(engine, quick_pause, lambda: webhook_row(engine, webhook_id).paused_at is not None)
    paused = webhook_row(engine, webhook_id)
    assert not paused.active and len(receiver.requests) >= 2
    with committed(engine) as s:
        notices = list(s.scalars(select(Notification)))
        failed = s.scalars(select(WebhookDelivery)).one()
    assert [(n.kind, n.subject_id, n.url) for n in notices] == [
        ("webhook_paused", webhook_id, f"/webhooks/{webhook_id}")]  # the one county admin
    assert failed.status == "failed"
    count = len(receiver.requests)
    with httpx.Client() as client:
        assert svc.deliver_due(engine=engine, settings=quick_pause, client=client) == 0
    assert len(receiver.requests) == count


def test_two_workers_on_postgresql_deliver_nothing_twice(
    database: Any, engine: Engine, fast: Settings, world: Any,
    receivers: Callable[..., Receiver],
) -> None:
    if database.backend != "postgresql":
        pytest.skip("SQLite runs one worker")
    slow = [receivers(delay=0.005) for _ in range(3)]
    starts = {}
    for r in slow:
        webhook_id = register(engine, r.url)
        starts[r] = webhook_row(engine, webhook_id).cursor
    make_changes(engine, world.township, 20)
    expected = feed_after_registration(engine, next(iter(starts.values())))
    stop = threading.Event()
    engines = [make_engine(database.url, pool_size=4) for _ in range(2)]
    workers = [threading.Thread(target=svc.run_worker, kwargs={
        "engine": e, "settings": fast, "stop": stop, "daily": False}) for e in engines]
    for w in workers:
        w.start()
    try:
        deadline = time.monotonic() + 30
        while any(len(r.delivered_changes()) < len(expected) for r in slow):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.2)  # a duplicate would arrive now
    finally:
        stop.set()
        for w in workers:
            w.join(10)
        for e in engines:
            e.dispose()
    for r in slow:
        assert r.delivered_changes() == expected
        assert all(status == 200 for *_rest, status in r.requests)


# ---------------------------------------------------------------- chat robots


def _due_tasks(engine: Engine, world: Any) -> None:
    with committed(engine) as s:
        campaign = make_campaign(s)
        branch = make_branch(s, s.get(Township, world.township.id), name="甲三村党支部")
        problem = make_problem(s, campaign, s.get(Township, world.township.id), branch=branch)
        make_task(s, problem, title="按月召开主题党日", due_on=date.today() + timedelta(days=2))
        make_task(s, problem, title="整理党员档案", due_on=date.today() - timedelta(days=1))
        other = make_problem(s, campaign, s.get(Township, world.other_township.id))
        make_task(s, other, title="乙镇的任务", due_on=date.today())


def test_wecom_digest_is_a_text_message_of_the_townships_reminders(
    engine: Engine, fast: Settings, world: Any, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers(answer=b'{"errcode":0,"errmsg":"ok"}')
    register(engine, receiver.url + "?key=abc", format="wecom", secret=None,
             township_id=world.township.id)
    _due_tasks(engine, world)
    made, digests = svc.run_daily(engine, fast)
    assert digests == 1 and svc.run_daily(engine, fast)[1] == 0  # one a day
    drain(engine, fast, lambda: len(receiver.requests) >= 1)
    path, headers, body, _status = receiver.requests[0]
    message = json.loads(body)
    assert set(message) == {"msgtype", "text"} and message["msgtype"] == "text"
    assert set(message["text"]) == {"content"}
    content = message["text"]["content"]
    assert content.startswith("【专项整治提醒】甲镇")
    assert "即将到期 1 项" in content and "按月召开主题党日" in content
    assert "已超期 1 项" in content and "整理党员档案" in content
    assert "乙镇的任务" not in content
    assert "X-Rectify-Signature" not in headers and path == "/hook?key=abc"


def test_dingtalk_digest_goes_to_the_signed_url(
    engine: Engine, fast: Settings, world: Any, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers(answer=b'{"errcode":0,"errmsg":"ok"}')
    secret = "SEC0123456789abcdef"
    register(engine, receiver.url + "?access_token=tok", format="dingtalk", secret=secret)
    _due_tasks(engine, world)
    svc.run_daily(engine, fast)
    drain(engine, fast, lambda: len(receiver.requests) >= 1)
    path, _headers, body, _status = receiver.requests[0]
    query = parse_qs(urlsplit(path).query)
    assert query["access_token"] == ["tok"]
    timestamp = query["timestamp"][0]
    assert abs(int(timestamp) - time.time() * 1000) < 60_000
    expected = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert query["sign"] == [expected]
    message = json.loads(body)
    assert message["msgtype"] == "text" and "全县" in message["text"]["content"]
    assert "乙镇的任务" in message["text"]["content"]  # a county-wide robot sees every township


def test_chat_robot_error_code_counts_as_a_failure(
    engine: Engine, fast: Settings, world: Any, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers(answer=b'{"errcode":310000,"errmsg":"keywords not in content"}')
    webhook_id = register(engine, receiver.url, format="dingtalk", secret=None)
    _due_tasks(engine, world)
    svc.run_daily(engine, fast)
    drain(engine, fast, lambda: webhook_row(engine, webhook_id).last_error is not None)
    assert "310000" in (webhook_row(engine, webhook_id).last_error or "")


# ---------------------------------------------------------------- the API and pages


def test_webhooks_are_for_the_county_admin(
    engine: Engine, login: Any, world: Any, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    staff = login("staff")
    assert_problem(staff.get(f"{API}/webhooks"), 403)
    assert_problem(staff.post(f"{API}/webhooks", json={"url": receiver.url, "secret": "x"}), 403)
    admin = login("admin")
    assert_problem(admin.post(f"{API}/webhooks", json={"url": receiver.url}), 422,
                   field="secret")
    assert_problem(admin.post(f"{API}/webhooks", json={"url": "ftp://x.example/a",
                                                       "secret": "k"}), 422, field="url")
    assert_problem(admin.post(f"{API}/webhooks", json={"url": receiver.url, "secret": "k",
                                                       "types": ["user"]}), 422, field="types")
    r = admin.post(f"{API}/webhooks", json={"url": receiver.url, "secret": "k",
                                            "types": ["task"], "format": "json"})
    assert r.status_code == 201, r.text
    hook = r.json()
    assert hook["has_secret"] is True and "secret" not in hook and hook["types"] == ["task"]
    r = admin.patch(f"{API}/webhooks/{hook['id']}", json={"active": False},
                    headers={"If-Match": f'"{hook["version"]}"'})
    assert r.status_code == 200 and r.json()["active"] is False
    tested = admin.post(f"{API}/webhooks/{hook['id']}/test")
    assert tested.status_code == 201 and tested.json()["status"] == "delivered"
    _path, headers, body, _status = receiver.requests[-1]
    assert json.loads(body)["test"] is True and headers["X-Rectify-Event"] == "test"
    log = admin.get(f"{API}/webhooks/{hook['id']}/deliveries").json()["items"]
    assert [(d["kind"], d["status"], d["attempts"]) for d in log] == [("test", "delivered", 1)]
    page = admin.get(f"/webhooks/{hook['id']}")
    assert "测试推送" in page.text and "已送达" in page.text
    assert "推送" in admin.get("/webhooks").text
    assert staff.get("/webhooks").status_code == 403
    assert admin.delete(f"{API}/webhooks/{hook['id']}").status_code == 204
    assert_problem(admin.get(f"{API}/webhooks/{hook['id']}"), 404)


def test_delivery_log_pages_newest_first(
    engine: Engine, login: Any, world: Any, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    admin = login("admin")
    hook = admin.post(f"{API}/webhooks", json={"url": receiver.url, "secret": "k",
                                               "types": ["task"], "format": "json"}).json()
    sent = [admin.post(f"{API}/webhooks/{hook['id']}/test").json()["id"] for _ in range(3)]
    first = admin.get(f"{API}/webhooks/{hook['id']}/deliveries?limit=2").json()
    assert [d["id"] for d in first["items"]] == sent[::-1][:2]
    assert list(first["items"][0]) == list(WebhookDeliveryPublic.model_fields)
    rest = admin.get(f"{API}/webhooks/{hook['id']}/deliveries?limit=2"
                     f"&cursor={first['next_cursor']}").json()
    assert [d["id"] for d in rest["items"]] == sent[:1] and rest["next_cursor"] is None
    fragment = admin.get(f"{API}/webhooks/{hook['id']}/deliveries?limit=2",
                         headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "已送达" in fragment.text


def test_form_sends_types_as_text_and_blank_secret_keeps_the_old_one(
    engine: Engine, login: Any, world: Any
) -> None:
    admin = login("admin")
    r = admin.post(f"{API}/webhooks", json={
        "url": "http://127.0.0.1:9/x", "secret": "k1", "types": ["", "task"],
        "township_id": "", "format": "json", "active": ["false", "true"]})
    assert r.status_code == 201, r.text
    hook = r.json()
    assert hook["types"] == ["task"] and hook["township_id"] is None and hook["active"]
    r = admin.patch(f"{API}/webhooks/{hook['id']}", json={
        "version": str(hook["version"]), "secret": "", "types": "", "url": hook["url"]})
    assert r.status_code == 200, r.text
    assert r.json()["types"] == [] and r.json()["has_secret"] is True
    page = admin.post(f"{API}/webhooks", headers={"HX-Request": "true"}, json={
        "url": "http://127.0.0.1:9/y", "secret": "k2", "township_id": str(world.township.id)})
    assert page.status_code == 201 and "推送已添加" in page.text
    assert "甲镇" in page.text and "全县" in page.text  # the new one, and the first


def test_only_active_county_admins_are_told(engine: Engine, world: Any) -> None:
    with committed(engine) as s:
        make_user(s, Role.county_admin, username="inactiveadmin", active=False)
    with transaction(engine) as s:
        from app.models.notification import NotificationKind
        from app.services.notifications import notify_county_admins

        made = notify_county_admins(s, NotificationKind.webhook_paused, "webhook", 1, "x",
                                    "/webhooks/1")
    assert made == 1  # the active county admin only


def test_a_paused_webhook_resumed_by_the_admin_delivers_what_it_missed(
    engine: Engine, fast: Settings, world: Any, login: Any, receivers: Callable[..., Receiver]
) -> None:
    quick_pause = fast.model_copy(update={"webhook_pause_after_hours": 0.0})
    receiver = receivers(fail_first=1)
    webhook_id = register(engine, receiver.url)
    start = webhook_row(engine, webhook_id).cursor
    make_changes(engine, world.township, 2)
    drain(engine, quick_pause, lambda: webhook_row(engine, webhook_id).paused_at is not None)
    make_changes(engine, world.township, 1)  # committed while paused
    admin = login("admin")
    hook = admin.get(f"{API}/webhooks/{webhook_id}").json()
    assert hook["active"] is False and hook["paused_at"]
    r = admin.patch(f"{API}/webhooks/{webhook_id}",
                    json={"active": True, "version": hook["version"]})
    assert r.status_code == 200 and r.json()["paused_at"] is None
    expected = feed_after_registration(engine, start)
    drain(engine, fast, lambda: len(receiver.delivered_changes()) >= len(expected))
    assert receiver.delivered_changes() == expected


def test_a_refused_connection_is_told_in_chinese() -> None:
    """The delivery log says in Chinese that the receiver could not be reached, without the
    operating system's English message."""
    import socket

    import httpx

    from app.models.webhook import DeliveryKind, WebhookFormat
    from app.services.webhooks import _Job, post

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    job = _Job(webhook_id=1, url=f"http://127.0.0.1:{port}/hook", format=WebhookFormat.json,
               secret="s", kind=DeliveryKind.test, body=b"{}", delivery_id=None)
    with httpx.Client(timeout=2) as client:
        status, error = post(client, job)
    assert status is None
    assert error is not None and error.startswith("无法连接接收方") and "Errno" not in error
