"""Townships: scoped queries and county-only changes."""

from sqlalchemy import Table, select
from sqlmodel import Session, col

from app.listing import Item, columns_of, derive, items
from app.models.township import (
    Township,
    TownshipBase,
    TownshipCreate,
    TownshipPublic,
    TownshipUpdate,
)
from app.services.actors import Actor, require_county_admin, township_visible
from app.services.dependents import refuse_township_with_records
from app.services.errors import Invalid
from app.services.pagination import PageParams, keyset_rows
from app.services.records import apply_changes, check_version, get_visible, soft_delete

_TOWNSHIP: Table = Township.__table__  # type: ignore[attr-defined]
# a township's signature (落款), by the rule its schema states
derive(TownshipPublic, "signature", lambda _selected: TownshipBase.committee_name)


def list_townships(
    *, session: Session, actor: Actor, q: str | None, page: PageParams
) -> tuple[list[Item], str | None]:
    """A page of the townships the actor may see (name containing `q`, literally):
    `TownshipPublic` items and the next page's cursor (None on the last page)."""
    stmt = select(*columns_of(TownshipPublic, _TOWNSHIP)).where(
        _TOWNSHIP.c.deleted_at.is_(None), township_visible(actor))
    if q:
        stmt = stmt.where(col(Township.name).contains(q.strip(), autoescape=True))
    rows, cursor = keyset_rows(
        session, stmt, keys=[_TOWNSHIP.c.id], key_of=lambda r: [r.id], page=page
    )
    return items(TownshipPublic, rows), cursor


def all_townships(*, session: Session, actor: Actor) -> list[Township]:
    """Every visible township, by name (for choices on forms)."""
    stmt = (
        select(Township)
        .where(col(Township.deleted_at).is_(None), township_visible(actor))
        .order_by(Township.name)
    )
    return list(session.scalars(stmt))


def get_township(*, session: Session, actor: Actor, township_id: int) -> Township:
    return get_visible(session, Township, township_id, township_visible(actor),
                       "乡镇不存在或无权查看")


def _check_unique_code(session: Session, township: Township) -> None:
    with session.no_autoflush:  # flushing the changed code first would hit the unique index
        clash = session.execute(
            select(Township.id).where(
                Township.code == township.code,
                col(Township.deleted_at).is_(None),
                Township.id != (township.id or 0),
            )
        ).first()
    if clash is not None:
        raise Invalid("code", f"编码“{township.code}”已被其他乡镇使用")


def create_township(*, session: Session, actor: Actor, data: TownshipCreate) -> Township:
    require_county_admin(actor, "新增乡镇", allow_token=True)
    township = Township.model_validate(data)
    _check_unique_code(session, township)
    session.add(township)
    session.flush()
    return township


def update_township(
    *, session: Session, actor: Actor, township: Township, data: TownshipUpdate,
    version: int | None,
) -> Township:
    require_county_admin(actor, "修改乡镇", allow_token=True)
    check_version(township, version)
    apply_changes(township, data)
    township.name, township.code = township.name.strip(), township.code.strip()
    _check_unique_code(session, township)
    session.add(township)
    session.flush()
    return township


def delete_township(
    *, session: Session, actor: Actor, township: Township, version: int | None
) -> None:
    """Soft-delete a township (county only); Conflict (409) naming what is still attached."""
    require_county_admin(actor, "删除乡镇", allow_token=True)
    check_version(township, version)
    refuse_township_with_records(session, township.id)  # type: ignore[arg-type]
    soft_delete(township)
    session.add(township)
    session.flush()
