"""Notifications (提醒): made at once by events in requests (submitted, rejected, urged) and
once a day by the reminder sources (due soon, overdue, ...); and 催办 (urging) of a task.

At most one notification per user, kind, subject and county day: the table's unique key
does it, and every insert is `INSERT ... ON CONFLICT DO NOTHING`, so running the reminders
twice, or in two processes at once, makes nothing twice.

Time-driven kinds come from `REMINDER_SOURCES`: one small function per kind that answers
`Reminder` rows (user, subject, message, link) from one SQL query. A new kind of reminder
is a new function decorated with `@reminder_source(kind)`.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from app import clock
from app.config import Settings
from app.labels import label
from app.listing import Item, columns_of, items
from app.models.base import utcnow
from app.models.notification import (
    Notification,
    NotificationKind,
    NotificationPublic,
    TaskUrge,
)
from app.models.task import Task, TaskAction, TaskStatus, TimelineEntry
from app.models.user import Role, User
from app.services.actors import Actor
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.pagination import PageParams, decode_cursor, encode_cursor

OPEN_STATUSES = (TaskStatus.pending, TaskStatus.in_progress)
_UNIQUE_KEY = ["user_id", "kind", "subject_type", "subject_id", "day"]
_CHUNK = 500


@dataclass(frozen=True)
class Reminder:
    """One notification to make: who gets it, about what, what it says, where it links."""

    user_id: int
    subject_type: str
    subject_id: int
    message: str
    url: str


ReminderSource = Callable[[Session, date, Settings], Iterable[Reminder]]
REMINDER_SOURCES: dict[NotificationKind, ReminderSource] = {}


def reminder_source(kind: NotificationKind) -> Callable[[ReminderSource], ReminderSource]:
    """Register `fn(session, today, settings) -> Iterable[Reminder]` as the source of `kind`."""

    def register(fn: ReminderSource) -> ReminderSource:
        REMINDER_SOURCES[kind] = fn
        return fn

    return register


# ---------------------------------------------------------------- making notifications


def notify(
    session: Session, kind: NotificationKind, reminders: Iterable[Reminder],
    day: date | None = None,
) -> int:
    """Store `reminders` as notifications of `kind` for `day` (default: the county's today),
    skipping any the user already has that day. Answers how many were new."""
    day = day or clock.today()
    now = utcnow()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    made = 0
    for chunk in _chunks(reminders):
        rows = [
            {"user_id": r.user_id, "kind": kind.value, "subject_type": r.subject_type,
             "subject_id": r.subject_id, "message": r.message[:500], "url": r.url[:200],
             "day": day, "created_at": now, "updated_at": now}
            for r in chunk
        ]
        table = Notification.__table__  # type: ignore[attr-defined]
        stmt = insert(table).values(rows).on_conflict_do_nothing(index_elements=_UNIQUE_KEY)
        made += len(session.execute(stmt.returning(table.c.id)).all())
    return made


def _chunks(items: Iterable[Reminder]) -> Iterator[list[Reminder]]:
    chunk: list[Reminder] = []
    seen: set[tuple[int, str, int]] = set()
    for r in items:
        key = (r.user_id, r.subject_type, r.subject_id)
        if key in seen:  # one statement must not name the same row twice (PostgreSQL)
            continue
        seen.add(key)
        chunk.append(r)
        if len(chunk) >= _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def remind(*, session: Session, settings: Settings, today: date | None = None) -> dict[str, int]:
    """Make the day's time-driven notifications from every registered source.

    Idempotent: answers how many were new per kind (0 everywhere on a second run that day).
    """
    today = today or clock.today()
    return {kind.value: notify(session, kind, source(session, today, settings), today)
            for kind, source in REMINDER_SOURCES.items()}


# ---------------------------------------------------------------- who must act


def live_user(role: Role) -> ColumnElement[bool]:
    return and_(User.role == role, col(User.active).is_(True),  # type: ignore[return-value]
                col(User.deleted_at).is_(None))


def task_owner_condition() -> ColumnElement[bool]:
    """SQL: the user works on the task — its branch's secretaries, or, for a township-wide
    task (no branch), its township's staff."""
    return or_(
        and_(col(Task.branch_id).is_not(None), live_user(Role.branch_secretary),
             User.branch_id == Task.branch_id),
        and_(col(Task.branch_id).is_(None), live_user(Role.township_staff),
             User.township_id == Task.township_id),
    )


def _task_owners(session: Session, task: Task) -> list[int]:
    return list(session.scalars(
        select(User.id).select_from(Task).join(User, task_owner_condition())
        .where(Task.id == task.id).order_by(User.id)
    ))


def _verifiers(session: Session, task: Task) -> list[int]:
    """Who may verify a submitted task: its township's staff when a secretary submitted;
    the county when staff (or the county) submitted."""
    if task.submitted_by_role in (Role.township_staff, Role.county_admin):
        cond = live_user(Role.county_admin)
    else:
        cond = and_(live_user(Role.township_staff), User.township_id == task.township_id)
    return list(session.scalars(select(User.id).where(cond).order_by(User.id)))


def _county_admins(session: Session) -> list[int]:
    return list(session.scalars(
        select(User.id).where(live_user(Role.county_admin)).order_by(User.id)
    ))


def _task_url(task_id: int) -> str:
    return f"/tasks/{task_id}"


def _for_task(users: Iterable[int], task: Task, message: str) -> list[Reminder]:
    assert task.id is not None
    return [Reminder(u, "task", task.id, message, _task_url(task.id)) for u in users]


def notify_task_event(*, session: Session, task: Task, action: TaskAction, actor: Actor) -> int:
    """Tell whoever must act now that `action` happened to `task` (same transaction):
    submitted → those who may verify it; rejected → its branch's secretaries (and the
    submitter). Other actions tell nobody. The actor is never told of their own act."""
    who = actor.display_name or actor.label
    if action == TaskAction.submit:
        users = _verifiers(session, task)
        kind, message = NotificationKind.task_submitted, f"{who}提交了任务“{task.title}”,待验收"
    elif action == TaskAction.reject:
        users = _task_owners(session, task)
        if task.submitted_by_id is not None and task.submitted_by_id not in users:
            users.append(task.submitted_by_id)
        reason = f":{task.status_note}" if task.status_note else ""
        kind, message = NotificationKind.task_rejected, f"任务“{task.title}”被{who}退回{reason}"
    else:
        return 0
    users = [u for u in users if u != actor.user_id]
    return notify(session, kind, _for_task(users, task, message))


# ---------------------------------------------------------------- reminder sources


def _open_tasks_with_owners(extra: ColumnElement[bool]) -> Any:
    return (
        select(User.id, Task.id, Task.title, Task.due_on)
        .select_from(Task).join(User, task_owner_condition())
        .where(col(Task.deleted_at).is_(None), col(Task.status).in_(OPEN_STATUSES), extra)
        .order_by(Task.id, User.id)
    )


@reminder_source(NotificationKind.task_due_soon)
def tasks_due_soon(session: Session, today: date, settings: Settings) -> Iterator[Reminder]:
    """Open tasks due today or within `REMIND_DUE_SOON_DAYS`, to whoever works on them."""
    until = today + timedelta(days=settings.remind_due_soon_days)
    stmt = _open_tasks_with_owners(and_(col(Task.due_on) >= today, col(Task.due_on) <= until))
    for user_id, task_id, title, due_on in session.execute(stmt):
        left = (due_on - today).days
        when = "今天到期" if left == 0 else f"还剩 {left} 天到期"
        yield Reminder(user_id, "task", task_id,
                       f"任务“{title}”{when}(整改时限 {due_on.isoformat()})", _task_url(task_id))


@reminder_source(NotificationKind.task_overdue)
def tasks_overdue(session: Session, today: date, settings: Settings) -> Iterator[Reminder]:
    """Open tasks past their due date, to whoever works on them (once a day while late)."""
    for user_id, task_id, title, due_on in session.execute(
        _open_tasks_with_owners(col(Task.due_on) < today)
    ):
        late = (today - due_on).days
        yield Reminder(user_id, "task", task_id,
                       f"任务“{title}”已超期 {late} 天(整改时限 {due_on.isoformat()})",
                       _task_url(task_id))


# ---------------------------------------------------------------- 催办


def may_urge(actor: Actor, task: Any) -> bool:
    """Whether `actor` may urge `task` now (a Task or TaskPublic): township staff of its
    township or the county admin, signed in, on an open task."""
    if actor.is_token or task.status not in OPEN_STATUSES:
        return False
    return actor.role == Role.county_admin or (
        actor.role == Role.township_staff and actor.township_id == task.township_id)


def urge_task(*, session: Session, actor: Actor, task: Task, note: str | None) -> TaskUrge:
    """Urge an open task: township staff of its township or the county admin.

    Raises Forbidden (403) for other roles and tokens, Conflict (409) unless the task is
    pending or in progress, Invalid (`note`) for a note over 1000 characters. The urging
    enters the timeline and notifies the branch's secretaries at once.
    """
    if actor.is_token:
        raise Forbidden("催办须由登录用户操作,API 令牌不能催办")
    staff_here = actor.role == Role.township_staff and actor.township_id == task.township_id
    if not (actor.role == Role.county_admin or staff_here):
        raise Forbidden("只有本乡镇工作人员或县委组织部可以催办")
    if task.status not in OPEN_STATUSES:
        raise Conflict(f"任务当前状态为“{label('task_status', task.status)}”,不能催办")
    note = (note or "").strip()
    if len(note) > 1000:
        raise Invalid("note", "催办说明不能超过 1000 个字")
    who = actor.display_name or actor.label
    urge = TaskUrge(task_id=task.id, township_id=task.township_id,  # type: ignore[arg-type]
                    user_id=actor.user_id, urged_by=who, note=note)
    session.add(urge)
    session.flush()
    message = f"{who}催办任务“{task.title}”" + (f":{note}" if note else "")
    notify(session, NotificationKind.task_urged, _for_task(_task_owners(session, task), task,
                                                           message))
    return urge


def urge_entries(*, session: Session, task_id: int) -> list[TimelineEntry]:
    """The task's urgings as timeline lines (who, when, the note)."""
    return [
        TimelineEntry(at=u.created_at, actor=u.urged_by, kind="urge", action="urge",
                      note=u.note or None)
        for u in session.scalars(
            select(TaskUrge).where(TaskUrge.task_id == task_id,
                                   col(TaskUrge.deleted_at).is_(None)).order_by(TaskUrge.id)
        )
    ]


# ---------------------------------------------------------------- reading one's own


def _own(actor: Actor) -> int:
    if actor.user_id is None:
        raise Forbidden("提醒只发给登录用户,API 令牌没有提醒")
    return actor.user_id


_NOTIFICATION: Table = Notification.__table__  # type: ignore[attr-defined]


def list_notifications(
    *, session: Session, actor: Actor, unread: bool | None, page: PageParams,
) -> tuple[list[Item], str | None]:
    """The actor's own notifications, newest first; `unread=True` only those not read."""
    stmt = select(*columns_of(NotificationPublic, _NOTIFICATION)).where(
        Notification.user_id == _own(actor))
    if unread is True:
        stmt = stmt.where(col(Notification.read_at).is_(None))
    elif unread is False:
        stmt = stmt.where(col(Notification.read_at).is_not(None))
    if page.cursor:
        (before,) = decode_cursor(page.cursor, 1, [col(Notification.id)])
        stmt = stmt.where(col(Notification.id) < before)
    session.flush()
    rows = session.connection().execute(
        stmt.order_by(col(Notification.id).desc()).limit(page.limit + 1)).all()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = encode_cursor([rows[-1].id]) if more and rows else None
    return items(NotificationPublic, rows), cursor


def unread_count(*, session: Session, actor: Actor) -> int:
    """How many of the actor's notifications are unread (0 for tokens)."""
    if actor.user_id is None:
        return 0
    return int(session.execute(
        select(func.count()).select_from(Notification).where(
            Notification.user_id == actor.user_id, col(Notification.read_at).is_(None))
    ).scalar_one())


def get_notification(*, session: Session, actor: Actor, notification_id: int) -> Notification:
    """One of the actor's own notifications; another user's answers 404."""
    found = session.get(Notification, notification_id)
    if found is None or found.user_id != _own(actor):
        raise NotFound("提醒不存在")
    return found


def mark_read(*, session: Session, notification: Notification, read: bool) -> Notification:
    """Mark one notification read (or unread again)."""
    if read and notification.read_at is None:
        notification.read_at = utcnow()
    elif not read:
        notification.read_at = None
    notification.updated_at = utcnow()
    session.add(notification)
    session.flush()
    return notification


def mark_all_read(*, session: Session, actor: Actor) -> int:
    """Mark every unread notification of the actor read; answers how many."""
    now = utcnow()
    result = session.execute(
        update(Notification)
        .where(col(Notification.user_id) == _own(actor), col(Notification.read_at).is_(None))
        .values(read_at=now, updated_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def notify_county_admins(
    session: Session, kind: NotificationKind, subject_type: str, subject_id: int,
    message: str, url: str,
) -> int:
    """Tell every active county administrator (e.g. a webhook was paused)."""
    return notify(session, kind, [Reminder(u, subject_type, subject_id, message, url)
                                  for u in _county_admins(session)])



# The rectification sources register themselves on import (they need this module first).
from app.services import rectification_reminders  # noqa: E402, F401
