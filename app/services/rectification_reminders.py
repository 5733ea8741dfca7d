"""The time-driven reminders of 整顿转化: liaisons who missed their rhythm, revisits falling
due, and acceptances owed. Each is a reminder source of `app.services.notifications`.

- `visit_overdue`: a designated branch whose liaison has not visited within the role's rhythm
  (DESIGN: county leader 30 days, township leader 14, first secretary 7) → the township's
  staff and the branch's secretaries (a first secretary may hold that role).
- `revisit_due`: a 回头看 not yet done, due within `REMIND_DUE_SOON_DAYS` or past → the
  township's staff.
- `acceptance_due`: a designated branch past its `target_on` that has not applied → the
  township's staff; an applied branch waiting for the county's acceptance → the county admins.
"""

from collections.abc import Iterator
from datetime import date, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlmodel import Session, col

from app.config import Settings
from app.labels import label
from app.models.branch import Branch
from app.models.notification import NotificationKind
from app.models.rectification import (
    IN_PROGRESS_STATUSES,
    Rectification,
    RectificationStatus,
    Revisit,
)
from app.models.user import Role, User
from app.services.notifications import Reminder, live_user, reminder_source
from app.services.rectifications import overdue_visits_of


def _url(rectification_id: int) -> str:
    return f"/rectifications/{rectification_id}"


def _township_staff(township_id: object) -> ColumnElement[bool]:
    return and_(live_user(Role.township_staff), User.township_id == township_id)


@reminder_source(NotificationKind.visit_overdue)
def visits_overdue(session: Session, today: date, settings: Settings) -> Iterator[Reminder]:
    """Rectifications in progress with a liaison past its rhythm, to the township's staff and
    the branch's secretaries (one notification a day per rectification)."""
    rects = list(session.scalars(select(Rectification).where(
        col(Rectification.deleted_at).is_(None),
        col(Rectification.status).in_(IN_PROGRESS_STATUSES))))
    by_branch = overdue_visits_of(session=session, rects=rects, settings=settings, today=today)
    for rect in rects:
        missed = by_branch.get(rect.branch_id)
        if not missed or rect.id is None:
            continue
        branch = session.get(Branch, rect.branch_id)
        names = "、".join(
            f"{label('liaison_role', v.role)}(应于 {v.due_by.isoformat()} 前)"
            for v in missed if v.due_by is not None
        )
        message = f"{branch.name if branch else '党支部'}:包联{names}未按期走访"
        users = session.scalars(select(User.id).where(or_(
            _township_staff(rect.township_id),
            and_(live_user(Role.branch_secretary), User.branch_id == rect.branch_id),
        )).order_by(User.id))
        for user_id in users:
            yield Reminder(user_id, "rectification", rect.id, message, _url(rect.id))


@reminder_source(NotificationKind.revisit_due)
def revisits_due(session: Session, today: date, settings: Settings) -> Iterator[Reminder]:
    """回头看 not yet done and due within `REMIND_DUE_SOON_DAYS` (or past), to the staff."""
    until = today + timedelta(days=settings.remind_due_soon_days)
    rows = session.execute(
        select(User.id, Revisit.id, Revisit.rectification_id, Revisit.due_on, Revisit.months,
               Branch.name)
        .join(Branch, col(Branch.id) == Revisit.branch_id)
        .join(User, _township_staff(Revisit.township_id))
        .where(col(Revisit.deleted_at).is_(None), col(Revisit.done_on).is_(None),
               col(Revisit.due_on) <= until)
        .order_by(Revisit.id, User.id)
    )
    for user_id, revisit_id, rect_id, due_on, months, branch in rows:
        when = "已到期" if due_on < today else f"将于 {due_on.isoformat()} 到期"
        yield Reminder(user_id, "revisit", revisit_id,
                       f"{branch}转化后 {months} 个月的回头看{when}", _url(rect_id))


@reminder_source(NotificationKind.acceptance_due)
def acceptances_due(session: Session, today: date, settings: Settings) -> Iterator[Reminder]:
    """Past `target_on` without applying → the township's staff; applied → the county."""
    late = session.execute(
        select(User.id, Rectification.id, Rectification.target_on, Branch.name)
        .join(Branch, col(Branch.id) == Rectification.branch_id)
        .join(User, _township_staff(Rectification.township_id))
        .where(col(Rectification.deleted_at).is_(None),
               Rectification.status == RectificationStatus.designated,
               col(Rectification.target_on) < today)
        .order_by(Rectification.id, User.id)
    )
    for user_id, rect_id, target_on, branch in late:
        yield Reminder(user_id, "rectification", rect_id,
                       f"{branch}整顿时限 {target_on.isoformat()} 已过,尚未申请验收",
                       _url(rect_id))
    waiting = session.execute(
        select(User.id, Rectification.id, Branch.name)
        .join(Branch, col(Branch.id) == Rectification.branch_id)
        .join(User, live_user(Role.county_admin))
        .where(col(Rectification.deleted_at).is_(None),
               Rectification.status == RectificationStatus.applied)
        .order_by(Rectification.id, User.id)
    )
    for user_id, rect_id, branch in waiting:
        yield Reminder(user_id, "rectification", rect_id, f"{branch}已申请验收,待县里验收",
                       _url(rect_id))
