"""What every mutable record shares: version checks, soft deletion, applying a PATCH."""

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlmodel import Session, SQLModel, col

from app.db import set_audit_reason
from app.models.audit import AuditEvent
from app.models.base import Versioned, utcnow
from app.models.branch import Branch
from app.services.errors import Invalid, NotFound, PreconditionFailed, PreconditionRequired

R = TypeVar("R", bound=Versioned)

ANY_VERSION = -1  # `If-Match: *`: whatever version is stored


def check_version(
    record: Versioned, expected: int | None, *, session: Session | None = None,
    actor_label: str | None = None,
) -> None:
    """Refuse a change made against another version than the stored one (412), or none (428).

    Given `session` and `actor_label`, the 412 says whether every change since `expected`
    was the same actor's own (another page of theirs), so it does not blame someone else.
    """
    if expected == ANY_VERSION:
        return
    if expected is None:
        raise PreconditionRequired(
            "修改需要当前版本号:请带上 If-Match 请求头或在请求体中提供 version"
        )
    if expected != record.version:
        same = (session is not None and actor_label is not None
                and changed_only_by(session, record, expected, actor_label))
        raise PreconditionFailed(current_version=record.version, by_same_actor=same)


def changed_only_by(session: Session, record: Versioned, since: int, actor_label: str) -> bool:
    """Whether every audit event after version `since` of `record` is `actor_label`'s: each
    flushed change adds one version and one audit event, so they are the latest events."""
    newer = record.version - since
    if newer <= 0 or record.__feed_type__ is None:
        return False
    actors = session.scalars(
        select(AuditEvent.actor)
        .where(AuditEvent.entity_type == record.__feed_type__,
               AuditEvent.entity_id == record.id)  # type: ignore[attr-defined]
        .order_by(col(AuditEvent.id).desc()).limit(newer)
    ).all()
    return len(actors) == newer and all(a == actor_label for a in actors)


def apply_changes(
    record: Versioned, patch: SQLModel, *, exclude: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Set the fields a PATCH body sent (not `version`, nor `exclude`); answer them."""
    sent = patch.model_dump(exclude_unset=True, exclude={"version", *exclude})
    columns = type(record).__table__.c  # type: ignore[attr-defined]
    for name, value in sent.items():
        if value is None and not columns[name].nullable:
            raise Invalid(name, "不能为空")
        setattr(record, name, value)
    return sent


def soft_delete(
    record: Versioned, *, session: Session | None = None, reason: str | None = None
) -> None:
    """Mark `record` deleted; with `session` and `reason`, its audit event keeps the reason."""
    record.deleted_at = utcnow()
    if session is not None:
        set_audit_reason(session, record, reason)


def where_equal(
    stmt: Select[Any], model: Any, filters: object, names: Iterable[str]
) -> Select[Any]:
    """Narrow `stmt` to rows whose columns equal each filter that was given (not None)."""
    for name in names:
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(model, name) == value)
    return stmt


def get_visible(
    session: Session, model: type[R], record_id: int, visible: ColumnElement[bool],
    message: str, *, for_update: bool = False,
) -> R:
    """The live record `record_id` if `visible` lets the reader see it, else NotFound (404:
    a record outside one's scope is not distinguished from one that does not exist)."""
    stmt = select(model).where(
        model.id == record_id, col(model.deleted_at).is_(None), visible  # type: ignore[attr-defined]
    )
    found = session.scalars(stmt.with_for_update() if for_update else stmt).first()
    if found is None:
        raise NotFound(message)
    return found


def check_branch_in(
    session: Session, township_id: int, branch_id: int | None,
    message: str = "所选党支部不存在或不属于该乡镇",
) -> None:
    """Refuse (field `branch_id`) a branch that is gone or belongs to another township."""
    if branch_id is None:
        return
    branch = session.get(Branch, branch_id)
    if branch is None or branch.deleted_at is not None or branch.township_id != township_id:
        raise Invalid("branch_id", message)
