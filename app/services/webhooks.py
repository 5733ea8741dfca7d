"""Webhooks (推送): county systems get the change feed pushed; chat robots get digests.

A `json` webhook keeps its own cursor into the change feed (starting at the feed's head
when registered). The worker sends the changes after the cursor in batches, in commit
order, limited to the webhook's types and township (never users or tokens), signed with
`X-Rectify-Signature: sha256=<hex HMAC-SHA256 of the body>`; only a 2xx answer moves the
cursor, so every change reaches the receiver once per success. A failure is retried after
`WEBHOOK_RETRY_BASE_SECONDS`, doubling up to `WEBHOOK_RETRY_MAX_SECONDS`; a webhook
failing for `WEBHOOK_PAUSE_AFTER_HOURS` is paused and the county admins are told.

`wecom` (企业微信群机器人) and `dingtalk` (钉钉机器人) webhooks get the township's daily
digest as readable Chinese text instead of raw changes, queued by `queue_digests` (at most
one per webhook and day: a unique key) and sent by the same worker.

Several workers may run against one PostgreSQL: each takes a webhook's row with
`SELECT ... FOR UPDATE SKIP LOCKED` and holds it until the delivery is recorded, so no
batch goes out twice. On SQLite run one worker (the HTTP call happens outside any
transaction there, so the app's writes never wait for a receiver).
"""

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import httpx
from sqlalchemy import Engine, Table, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from app import clock
from app.config import Settings
from app.db import new_session, transaction
from app.labels import label
from app.listing import Item, columns_of, items
from app.models.base import utcnow
from app.models.branch import Branch
from app.models.change import Change
from app.models.notification import NotificationKind
from app.models.rectification import IN_PROGRESS_STATUSES, Rectification
from app.models.task import Task, TaskStatus
from app.models.township import Township
from app.models.user import Role
from app.models.webhook import (
    DeliveryKind,
    DeliveryStatus,
    Webhook,
    WebhookCreate,
    WebhookDelivery,
    WebhookDeliveryPublic,
    WebhookFormat,
    WebhookPublic,
    WebhookUpdate,
)
from app.services.actors import Actor, require_county_admin
from app.services.changefeed import PRIVATE_TYPES, known_types, read_changes
from app.services.errors import Invalid, NotFound
from app.services.notifications import notify_county_admins, remind
from app.services.pagination import PageParams, decode_cursor, encode_cursor
from app.services.records import apply_changes, check_version
from app.services.rectifications import overdue_visits_of

log = logging.getLogger("rectify.worker")
CHAT_FORMATS = (WebhookFormat.wecom, WebhookFormat.dingtalk)
CHAT_TEXT_LIMIT = 2000  # WeCom takes at most 2048 bytes of text; keep it readable anyway
USER_AGENT = "Rectify-Webhook/1.0"


# ---------------------------------------------------------------- signing and bodies


def sign_body(secret: str, body: bytes) -> str:
    """The `X-Rectify-Signature` value of a JSON delivery: `sha256=<hex HMAC-SHA256>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签: `&timestamp=<ms>&sign=<urlencoded base64 HMAC-SHA256 of
    "<timestamp>\\n<secret>" keyed by the secret>` appended to the robot's URL."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(),
                      hashlib.sha256).digest()
    sign = quote_plus(base64.b64encode(digest).decode())
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={sign}"


def chat_body(text: str) -> bytes:
    """A text message in the shape both WeCom and DingTalk group robots take:
    `{"msgtype": "text", "text": {"content": ...}}`."""
    content = text if len(text) <= CHAT_TEXT_LIMIT else text[: CHAT_TEXT_LIMIT - 1] + "…"
    return json.dumps({"msgtype": "text", "text": {"content": content}},
                      ensure_ascii=False).encode()


def _json_bytes(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode()


# ---------------------------------------------------------------- the daily digest


@dataclass(frozen=True)
class DigestSection:
    """One part of the digest: a heading and the lines under it (a registry, so the
    rectification module can add "visits overdue" beside the task sections)."""

    title: str
    lines: Callable[[Session, int | None, date, Settings], list[str]]


def _task_lines(session: Session, township_id: int | None, *conds: Any) -> list[str]:
    stmt = (
        select(Task.title, Task.due_on, Branch.name, Township.name)
        .join(Township, col(Township.id) == Task.township_id)
        .outerjoin(Branch, col(Branch.id) == Task.branch_id)
        .where(col(Task.deleted_at).is_(None), *conds)
        .order_by(Task.due_on, Task.id)
    )
    if township_id is not None:
        stmt = stmt.where(Task.township_id == township_id)
    return [
        f"{branch or township}:{title}(整改时限 {due.isoformat()})"
        for title, due, branch, township in session.execute(stmt)
    ]


_OPEN = (TaskStatus.pending, TaskStatus.in_progress)


def _visit_lines(session: Session, township_id: int | None, today: date,
                 settings: Settings) -> list[str]:
    """Branches in rectification whose liaisons missed their rhythm (包联走访超期)."""
    stmt = select(Rectification).where(col(Rectification.deleted_at).is_(None),
                                       col(Rectification.status).in_(IN_PROGRESS_STATUSES))
    if township_id is not None:
        stmt = stmt.where(Rectification.township_id == township_id)
    missed = overdue_visits_of(session=session, rects=list(session.scalars(stmt)),
                               settings=settings, today=today)
    names: dict[int, str] = dict(session.execute(
        select(Branch.id, Branch.name).where(col(Branch.id).in_(list(missed)))).all())
    return [
        f"{names.get(branch_id, '党支部')}:包联"
        + "、".join(label("liaison_role", v.role) for v in visits) + "未按期走访"
        for branch_id, visits in sorted(missed.items())
    ]

DIGEST_SECTIONS: list[DigestSection] = [
    DigestSection("即将到期", lambda s, t, today, st: _task_lines(
        s, t, col(Task.status).in_(_OPEN), col(Task.due_on) >= today,
        col(Task.due_on) <= today + timedelta(days=st.remind_due_soon_days))),
    DigestSection("已超期", lambda s, t, today, st: _task_lines(
        s, t, col(Task.status).in_(_OPEN), col(Task.due_on) < today)),
    DigestSection("待验收", lambda s, t, today, st: _task_lines(
        s, t, Task.status == TaskStatus.submitted)),
    DigestSection("包联走访超期", _visit_lines),
]
MAX_LINES = 8


def digest_text(
    *, session: Session, settings: Settings, township_id: int | None, today: date
) -> str | None:
    """The day's digest in Chinese for a township (or the county), None when nothing is
    due, overdue or waiting."""
    parts = []
    for section in DIGEST_SECTIONS:
        lines = section.lines(session, township_id, today, settings)
        if not lines:
            continue
        shown = [f"· {x}" for x in lines[:MAX_LINES]]
        if len(lines) > MAX_LINES:
            shown.append(f"……等共 {len(lines)} 项")
        parts.append(f"{section.title} {len(lines)} 项:\n" + "\n".join(shown))
    if not parts:
        return None
    place = "全县"
    if township_id is not None:
        township = session.get(Township, township_id)
        place = township.name if township else place
    base = settings.public_base_url.rstrip("/")
    link = f"\n详情:{base}/tasks" if base else ""
    return f"【专项整治提醒】{place} {today.isoformat()}\n" + "\n\n".join(parts) + link


def queue_digests(*, session: Session, settings: Settings, today: date | None = None) -> int:
    """Queue today's digest for every active chat webhook (at most one per webhook and day,
    however often this runs). Answers how many were queued now."""
    today = today or clock.today()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    queued = 0
    for webhook in session.scalars(_live().where(col(Webhook.format).in_(CHAT_FORMATS),
                                                 col(Webhook.active).is_(True))):
        text = digest_text(session=session, settings=settings, township_id=webhook.township_id,
                           today=today)
        if text is None:
            continue
        now = utcnow()
        table = WebhookDelivery.__table__  # type: ignore[attr-defined]
        queued += len(session.execute(
            insert(table).values(
                webhook_id=webhook.id, kind=DeliveryKind.digest.value,
                status=DeliveryStatus.pending.value, digest_day=today,
                payload=chat_body(text).decode(), change_count=0, attempts=0,
                created_at=now, updated_at=now,
            ).on_conflict_do_nothing(index_elements=["webhook_id", "digest_day"])
            .returning(table.c.id)
        ).all())
    return queued


def run_daily(engine: Engine, settings: Settings) -> tuple[dict[str, int], int]:
    """`rectify remind`: the day's notifications and chat digests, in one transaction."""
    with transaction(engine, actor="system:remind") as session:
        made = remind(session=session, settings=settings)
        digests = queue_digests(session=session, settings=settings)
    return made, digests


# ---------------------------------------------------------------- administration


def _live() -> Any:
    return select(Webhook).where(col(Webhook.deleted_at).is_(None))


def head_cursor(session: Session) -> str | None:
    """The change feed's current end, as a cursor (None while the feed is empty)."""
    last = session.execute(
        select(Change.commit_seq, Change.id)
        .order_by(col(Change.commit_seq).desc(), col(Change.id).desc()).limit(1)
    ).first()
    return encode_cursor([last[0], last[1]]) if last else None


def _validate(session: Session, webhook: Webhook) -> None:
    if not webhook.url.startswith(("http://", "https://")):
        raise Invalid("url", "推送地址须以 http:// 或 https:// 开头")
    unknown = [t for t in webhook.types if t not in known_types() or t in PRIVATE_TYPES]
    if unknown:
        raise Invalid("types", f"未知或不可推送的记录类型:{', '.join(unknown)}")
    if webhook.format == WebhookFormat.json and not webhook.secret:
        raise Invalid("secret", "JSON 推送须设置签名密钥,接收方用它验证签名")
    if webhook.township_id is not None:
        township = session.get(Township, webhook.township_id)
        if township is None or township.deleted_at is not None:
            raise Invalid("township_id", "所选乡镇不存在")


def create_webhook(*, session: Session, actor: Actor, data: WebhookCreate) -> Webhook:
    """Register a webhook (county admin); it starts at the change feed's head."""
    require_county_admin(actor, "管理推送")
    webhook = Webhook.model_validate({**data.model_dump(), "cursor": head_cursor(session)})
    webhook.types = sorted(set(webhook.types))
    _validate(session, webhook)
    session.add(webhook)
    session.flush()
    return webhook


def get_webhook(*, session: Session, actor: Actor, webhook_id: int,
                for_update: bool = False) -> Webhook:
    """A live webhook (county admin; 403 for others, 404 when it does not exist)."""
    require_county_admin(actor, "管理推送")
    stmt = _live().where(Webhook.id == webhook_id)
    found = session.scalars(stmt.with_for_update() if for_update else stmt).first()
    if found is None:
        raise NotFound("推送不存在")
    return found


def list_webhooks(*, session: Session, actor: Actor) -> list[Webhook]:
    """Every live webhook (county admin)."""
    require_county_admin(actor, "管理推送")
    return list(session.scalars(_live().order_by(Webhook.id)))


def update_webhook(*, session: Session, actor: Actor, webhook: Webhook, data: WebhookUpdate,
                   version: int | None) -> Webhook:
    """Change a webhook (If-Match); switching a paused one on clears its failure streak."""
    check_version(webhook, version)
    was_active = webhook.active
    sent = apply_changes(webhook, data, exclude=frozenset({"secret"}))
    if "types" in sent:
        webhook.types = sorted(set(webhook.types or []))
    if data.secret:  # a blank secret keeps the one set before
        webhook.secret = data.secret
    _validate(session, webhook)
    if webhook.active and not was_active:
        webhook.paused_at = webhook.failing_since = webhook.next_attempt_at = None
    session.add(webhook)
    session.flush()
    return webhook


def delete_webhook(*, session: Session, webhook: Webhook) -> None:
    """Stop and remove a webhook (soft: its delivery log stays)."""
    webhook.deleted_at = utcnow()
    webhook.active = False
    session.add(webhook)
    session.flush()


def webhook_public(webhook: Webhook) -> WebhookPublic:
    """The webhook as the API answers it: `has_secret` instead of the secret."""
    return WebhookPublic.model_validate(
        {**webhook.model_dump(), "has_secret": bool(webhook.secret)})


_DELIVERY: Table = WebhookDelivery.__table__  # type: ignore[attr-defined]


def list_deliveries(*, session: Session, webhook: Webhook, page: PageParams
                    ) -> tuple[list[Item], str | None]:
    """The webhook's delivery log, newest first: `WebhookDeliveryPublic` items and the next
    page's cursor (the last id shown; None on the last page). Raises Invalid (`cursor`) for
    a cursor this list did not give."""
    stmt = select(*columns_of(WebhookDeliveryPublic, _DELIVERY)).where(
        _DELIVERY.c.webhook_id == webhook.id)
    if page.cursor:
        (before,) = decode_cursor(page.cursor, 1, [_DELIVERY.c.id])
        stmt = stmt.where(_DELIVERY.c.id < before)
    session.flush()
    rows = list(session.connection().execute(
        stmt.order_by(_DELIVERY.c.id.desc()).limit(page.limit + 1)).all())
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = encode_cursor([rows[-1].id]) if more and rows else None
    return items(WebhookDeliveryPublic, rows), cursor


def send_test(*, session: Session, settings: Settings, webhook: Webhook,
              client: httpx.Client | None = None) -> WebhookDelivery:
    """测试推送: send a test message now and log it (the cursor does not move)."""
    if webhook.format in CHAT_FORMATS:
        body = chat_body(f"【专项整治提醒】测试推送:{clock.today().isoformat()} 推送设置正常。")
    else:
        body = _json_bytes({"webhook_id": webhook.id, "test": True, "changes": []})
    own = client is None
    client = client or httpx.Client(timeout=settings.webhook_timeout_seconds)
    job = _Job(webhook_id=webhook.id, url=webhook.url, format=webhook.format,  # type: ignore[arg-type]
               secret=webhook.secret, kind=DeliveryKind.test, body=body, delivery_id=None)
    try:
        status, error = post(client, job)
    finally:
        if own:
            client.close()
    now = utcnow()
    delivery = WebhookDelivery(
        webhook_id=webhook.id, kind=DeliveryKind.test,  # type: ignore[arg-type]
        status=DeliveryStatus.failed if error else DeliveryStatus.delivered,
        attempts=1, response_status=status, last_error=error,
        delivered_at=None if error else now,
    )
    session.add(delivery)
    session.flush()
    return delivery


# ---------------------------------------------------------------- sending


@dataclass
class _Job:
    """What one delivery sends, captured so the HTTP call needs no open session."""

    webhook_id: int
    url: str
    format: WebhookFormat
    secret: str | None
    kind: DeliveryKind
    body: bytes
    delivery_id: int | None  # the logged delivery it retries or sends, if any
    change_count: int = 0
    last_seq: int | None = None
    next_cursor: str | None = None


def post(client: httpx.Client, job: _Job) -> tuple[int | None, str | None]:
    """POST the job's body to its webhook; answers (HTTP status or None, error or None)."""
    url = job.url
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    if job.format == WebhookFormat.json:
        headers["X-Rectify-Event"] = job.kind.value
        if job.secret:
            headers["X-Rectify-Signature"] = sign_body(job.secret, job.body)
    elif job.format == WebhookFormat.dingtalk and job.secret:
        url = dingtalk_signed_url(url, job.secret, int(time.time() * 1000))
    try:
        response = client.post(url, content=job.body, headers=headers)
    except httpx.TimeoutException:
        return None, "接收方没有在限定时间内应答"
    except httpx.ConnectError:
        return None, "无法连接接收方:地址无法访问或对方拒绝连接,请核对推送地址"
    except httpx.HTTPError as exc:
        return None, f"推送失败({type(exc).__name__}),请核对推送地址和接收方"
    if not 200 <= response.status_code < 300:
        return response.status_code, f"接收方返回 HTTP {response.status_code}"
    if job.format in CHAT_FORMATS:
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if isinstance(answer, dict) and answer.get("errcode", 0) != 0:
            return response.status_code, (
                f"机器人返回错误 {answer.get('errcode')}:{answer.get('errmsg', '')}"[:500])
    return response.status_code, None


def _due(now: datetime) -> Any:
    return or_(col(Webhook.next_attempt_at).is_(None), col(Webhook.next_attempt_at) <= now)


def _next_job(session: Session, webhook: Webhook, settings: Settings) -> _Job | None:
    assert webhook.id is not None
    base = {"webhook_id": webhook.id, "url": webhook.url, "format": webhook.format,
            "secret": webhook.secret}
    queued = session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.webhook_id == webhook.id,
            col(WebhookDelivery.kind).in_((DeliveryKind.digest, DeliveryKind.test)),
            col(WebhookDelivery.status).in_((DeliveryStatus.pending, DeliveryStatus.retrying)),
        ).order_by(WebhookDelivery.id).limit(1)
    ).first()
    if queued is not None and queued.payload is not None:
        return _Job(**base, kind=queued.kind, body=queued.payload.encode(),
                    delivery_id=queued.id)
    if webhook.format != WebhookFormat.json:
        return None
    reader = Actor(label=f"webhook:{webhook.id}", role=Role.viewer,
                   township_id=webhook.township_id)
    page = read_changes(session=session, actor=reader, cursor=webhook.cursor,
                        limit=settings.webhook_batch_size, types=webhook.types or None)
    if not page.changes:
        return None
    retrying = session.scalars(
        select(WebhookDelivery.id).where(
            WebhookDelivery.webhook_id == webhook.id, WebhookDelivery.kind == DeliveryKind.changes,
            WebhookDelivery.status == DeliveryStatus.retrying,
        ).order_by(col(WebhookDelivery.id).desc()).limit(1)
    ).first()
    body = _json_bytes({
        "webhook_id": webhook.id, "cursor": webhook.cursor, "next_cursor": page.next_cursor,
        "changes": [c.model_dump(mode="json") for c in page.changes],
    })
    last_seq = decode_cursor(page.next_cursor, 2, [col(Change.commit_seq), col(Change.id)])[0] \
        if page.next_cursor else None
    return _Job(**base, kind=DeliveryKind.changes, body=body, delivery_id=retrying,
                change_count=len(page.changes), last_seq=last_seq, next_cursor=page.next_cursor)


def _record(session: Session, settings: Settings, job: _Job, status: int | None,
            error: str | None) -> None:
    """Log the attempt; on success move the cursor, on failure schedule the retry (or pause)."""
    now = utcnow()
    delivery = session.get(WebhookDelivery, job.delivery_id) if job.delivery_id else None
    if delivery is None:
        delivery = WebhookDelivery(webhook_id=job.webhook_id, kind=job.kind,
                                   change_count=job.change_count, last_seq=job.last_seq)
    delivery.attempts += 1
    delivery.response_status, delivery.last_error, delivery.updated_at = status, error, now
    delivery.change_count, delivery.last_seq = job.change_count, job.last_seq
    webhook_values: dict[str, Any]
    if error is None:
        delivery.status, delivery.delivered_at = DeliveryStatus.delivered, now
        webhook_values = {"next_attempt_at": None, "failing_since": None, "last_error": None}
        if job.kind == DeliveryKind.changes:
            webhook_values["cursor"] = job.next_cursor
    else:
        delivery.status = DeliveryStatus.retrying
        delay = min(settings.webhook_retry_base_seconds * 2 ** (delivery.attempts - 1),
                    settings.webhook_retry_max_seconds)
        failing_since = session.execute(
            select(Webhook.failing_since).where(Webhook.id == job.webhook_id)
        ).scalar_one() or now
        webhook_values = {"next_attempt_at": now + timedelta(seconds=delay),
                          "failing_since": failing_since, "last_error": error}
        if now - failing_since >= timedelta(hours=settings.webhook_pause_after_hours):
            delivery.status = DeliveryStatus.failed
            webhook_values.update(active=False, paused_at=now)
            notify_county_admins(
                session, NotificationKind.webhook_paused, "webhook", job.webhook_id,
                f"推送 {job.url} 已连续失败超过 {settings.webhook_pause_after_hours:g} 小时,"
                f"已暂停:{error}", f"/webhooks/{job.webhook_id}")
    session.add(delivery)
    session.execute(update(Webhook).where(col(Webhook.id) == job.webhook_id)
                    .values(**webhook_values))
    session.flush()


def deliver_next(*, engine: Engine, settings: Settings, client: httpx.Client,
                 webhook_id: int) -> bool:
    """Send the webhook's next due delivery, if any; True when one was attempted.

    PostgreSQL: the webhook's row is taken `FOR UPDATE SKIP LOCKED` and held until the
    outcome is recorded, so another worker skips it meanwhile. SQLite (one worker): the
    HTTP call happens between a reading and a writing transaction.
    """
    pg = engine.dialect.name == "postgresql"
    session = new_session(engine)
    try:
        stmt = _live().where(Webhook.id == webhook_id, col(Webhook.active).is_(True),
                             _due(utcnow()))
        if pg:
            stmt = stmt.with_for_update(skip_locked=True)
        webhook = session.scalars(stmt).first()
        job = _next_job(session, webhook, settings) if webhook is not None else None
        if job is None:
            return False
        if not pg:
            session.rollback()
        status, error = post(client, job)
        if error:
            log.warning("webhook %s: %s", webhook_id, error)
        if pg:
            _record(session, settings, job, status, error)
            session.commit()
        else:
            with transaction(engine, actor="system:worker") as writer:
                _record(writer, settings, job, status, error)
        return True
    finally:
        session.close()


def due_webhook_ids(engine: Engine) -> list[int]:
    """Active webhooks whose next attempt is due (or who have never failed)."""
    with new_session(engine) as session:
        return list(session.scalars(
            select(Webhook.id).where(col(Webhook.deleted_at).is_(None),
                                     col(Webhook.active).is_(True), _due(utcnow()))
            .order_by(Webhook.id)
        ))


def deliver_due(*, engine: Engine, settings: Settings, client: httpx.Client,
                stop: threading.Event | None = None) -> int:
    """One pass: at most one delivery per due webhook. Answers how many were attempted."""
    sent = 0
    for webhook_id in due_webhook_ids(engine):
        if stop is not None and stop.is_set():
            break
        if deliver_next(engine=engine, settings=settings, client=client, webhook_id=webhook_id):
            sent += 1
    return sent


def run_worker(*, engine: Engine, settings: Settings, stop: threading.Event,
               client: httpx.Client | None = None, daily: bool = True) -> int:
    """Deliver until `stop` is set (the delivery in hand finishes first); with `daily`, run
    the reminders and digests when the county's day changes. Answers deliveries attempted."""
    own = client is None
    client = client or httpx.Client(timeout=settings.webhook_timeout_seconds)
    last_day: date | None = None
    total = 0
    try:
        while not stop.is_set():
            try:
                if daily and clock.today() != last_day:
                    made, digests = run_daily(engine, settings)
                    last_day = clock.today()
                    log.info("reminders %s, digests %s", made, digests)
                sent = deliver_due(engine=engine, settings=settings, client=client, stop=stop)
            except Exception:  # noqa: BLE001 - a lost database connection: wait, then go on
                log.exception("worker pass failed; retrying")
                stop.wait(max(settings.worker_poll_seconds, 5.0))
                continue
            total += sent
            if sent == 0:
                stop.wait(settings.worker_poll_seconds)
    finally:
        if own:
            client.close()
    return total

