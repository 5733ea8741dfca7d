"""Activities (工作开展情况): scoped queries and changes."""

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, select
from sqlmodel import Session, col

from app.listing import Item, columns_of, items
from app.models.activity import (
    Activity,
    ActivityCreate,
    ActivityKind,
    ActivityPublic,
    ActivityUpdate,
)
from app.models.branch import Branch
from app.models.township import Township
from app.services.actors import Actor, record_visible, require_township_write
from app.services.campaigns import check_campaign
from app.services.errors import Invalid
from app.services.pagination import PageParams, keyset_rows
from app.services.records import (
    apply_changes,
    check_branch_in,
    check_version,
    get_visible,
    soft_delete,
    where_equal,
)


def _visible(actor: Actor) -> ColumnElement[bool]:
    return record_visible(actor, col(Activity.township_id), col(Activity.branch_id))


def create_activity(*, session: Session, actor: Actor, data: ActivityCreate) -> Activity:
    require_township_write(actor, data.township_id, "工作开展情况")
    township = session.get(Township, data.township_id)
    if township is None or township.deleted_at is not None:
        raise Invalid("township_id", "所选乡镇不存在")
    check_campaign(session, data.campaign_id)
    check_branch_in(session, data.township_id, data.branch_id)
    activity = Activity.model_validate(data)
    session.add(activity)
    session.flush()
    return activity


def get_activity(*, session: Session, actor: Actor, activity_id: int) -> Activity:
    return get_visible(session, Activity, activity_id, _visible(actor), "活动记录不存在或无权查看")


def update_activity(
    *, session: Session, actor: Actor, activity: Activity, data: ActivityUpdate,
    version: int | None,
) -> Activity:
    require_township_write(actor, activity.township_id, "工作开展情况")
    check_version(activity, version)
    sent = apply_changes(activity, data)
    if "branch_id" in sent:
        check_branch_in(session, activity.township_id, activity.branch_id)
    session.add(activity)
    session.flush()
    return activity


def delete_activity(
    *, session: Session, actor: Actor, activity: Activity, version: int | None, reason: str
) -> None:
    """Soft-delete an activity, keeping `reason` in its audit event (Forbidden, 428/412)."""
    require_township_write(actor, activity.township_id, "工作开展情况")
    check_version(activity, version)
    soft_delete(activity, session=session, reason=reason)
    session.add(activity)
    session.flush()


def activity_public(session: Session, a: Activity) -> ActivityPublic:
    branch = session.get(Branch, a.branch_id) if a.branch_id else None
    return ActivityPublic(**a.model_dump(), branch_name=branch.name if branch else None)


@dataclass(frozen=True)
class ActivityFilters:
    campaign_id: int | None = None
    township_id: int | None = None
    kind: ActivityKind | None = None


_ACTIVITY: Table = Activity.__table__  # type: ignore[attr-defined]
_BRANCH: Table = Branch.__table__  # type: ignore[attr-defined]


def list_activities(
    *, session: Session, actor: Actor, filters: ActivityFilters, page: PageParams,
) -> tuple[list[Item], str | None]:
    """Activities the actor may see in date order (then id), filtered: `ActivityPublic` items
    (with the branch's name, None township-wide) and the next page's cursor (None on the
    last). Raises Invalid (`cursor`) for a cursor this list did not give."""
    stmt = (
        select(*columns_of(ActivityPublic, _ACTIVITY, branch_name=_BRANCH.c.name))
        .join_from(_ACTIVITY, _BRANCH, _BRANCH.c.id == _ACTIVITY.c.branch_id, isouter=True)
        .where(_ACTIVITY.c.deleted_at.is_(None), _visible(actor))
    )
    stmt = where_equal(stmt, Activity, filters, ("campaign_id", "township_id", "kind"))
    rows, cursor = keyset_rows(
        session, stmt, keys=[_ACTIVITY.c.held_on, _ACTIVITY.c.id],
        key_of=lambda r: [r.held_on.isoformat(), r.id], page=page,
    )
    return items(ActivityPublic, rows), cursor
