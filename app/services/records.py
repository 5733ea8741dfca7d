"""What every mutable record shares: version checks, soft deletion, applying a PATCH."""

from typing import Any

from sqlmodel import SQLModel

from app.models.base import Versioned, utcnow
from app.services.errors import Invalid, PreconditionFailed, PreconditionRequired

ANY_VERSION = -1  # `If-Match: *`: whatever version is stored


def check_version(record: Versioned, expected: int | None) -> None:
    """Refuse a change made against another version than the stored one (412), or none (428)."""
    if expected == ANY_VERSION:
        return
    if expected is None:
        raise PreconditionRequired(
            "修改需要当前版本号:请带上 If-Match 请求头或在请求体中提供 version"
        )
    if expected != record.version:
        raise PreconditionFailed(current_version=record.version)


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


def soft_delete(record: Versioned) -> None:
    record.deleted_at = utcnow()
