"""Reading the change feed: every committed change once, in commit order."""

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import Row, select, tuple_
from sqlmodel import Session, col

from app.models.change import Change, ChangePage, ChangePublic
from app.models.user import Role
from app.services.actors import Actor
from app.services.errors import Forbidden, Invalid
from app.services.pagination import decode_cursor, encode_cursor


def parse_types(types: str | None) -> list[str] | None:
    if not types:
        return None
    wanted = [t.strip() for t in types.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in known_types()]
    if unknown:
        raise Invalid("types", f"未知的记录类型:{', '.join(unknown)}")
    return wanted


def known_types() -> set[str]:
    from app.models.base import Versioned

    return {
        m.class_.__feed_type__
        for m in Versioned._sa_registry.mappers  # type: ignore[attr-defined]
        if getattr(m.class_, "__feed_type__", None)
    }


PRIVATE_TYPES = ("user", "api_token")


def _page(
    session: Session, actor: Actor, cursor: str | None, limit: int,
    types: Sequence[str] | None,
) -> tuple[list[Row[Any]], str | None, bool]:
    """Rows (type, entity_id, op, version, data) of a page after `cursor`, as Core rows (no
    ORM objects); the next cursor and whether more follow."""
    if actor.role == Role.branch_secretary:
        raise Forbidden("变更流供系统和县、乡镇用户读取,党支部书记不能使用")
    stmt = select(Change.commit_seq, Change.id, Change.type, Change.entity_id, Change.op,
                  Change.version, Change.data)
    if not actor.is_county_admin:
        stmt = stmt.where(col(Change.type).not_in(PRIVATE_TYPES))
    if actor.township_id is not None:
        stmt = stmt.where(Change.township_id == actor.township_id)
    if cursor:
        seq, last_id = decode_cursor(cursor, 2, [col(Change.commit_seq), col(Change.id)])
        stmt = stmt.where(tuple_(col(Change.commit_seq), col(Change.id)) > tuple_(seq, last_id))
    if types:
        stmt = stmt.where(col(Change.type).in_(types))
    rows = list(session.execute(stmt.order_by(Change.commit_seq, Change.id).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor([rows[-1][0], rows[-1][1]]) if rows else cursor
    return rows, next_cursor, has_more


def read_changes(
    *, session: Session, actor: Actor, cursor: str | None, limit: int,
    types: Sequence[str] | None,
) -> ChangePage:
    """A page of the feed after `cursor`, limited to what the actor may read.

    Users and tokens appear only to county administrators; a township-scoped reader sees
    its township's changes. A branch secretary: `Forbidden`; a forged cursor: `Invalid`.
    """
    rows, next_cursor, has_more = _page(session, actor, cursor, limit, types)
    return ChangePage(
        changes=[ChangePublic(type=t, id=e, op=o, version=v, data=d)
                 for _seq, _id, t, e, o, v, d in rows],
        next_cursor=next_cursor,
        has_more=has_more,
    )


def changes_json(
    *, session: Session, actor: Actor, cursor: str | None, limit: int,
    types: Sequence[str] | None,
) -> bytes:
    """The same page as `read_changes`, as the JSON of a `ChangePage` (UTF-8 bytes, the same
    fields in the same order), encoded once for the whole page without a model per change."""
    rows, next_cursor, has_more = _page(session, actor, cursor, limit, types)
    return orjson.dumps({
        "changes": [{"type": t, "id": e, "op": o, "version": v, "data": d}
                    for _seq, _id, t, e, o, v, d in rows],
        "next_cursor": next_cursor,
        "has_more": has_more,
    })


def iter_changes(
    *, session: Session, actor: Actor, types: Sequence[str] | None
) -> Iterator[ChangePublic]:
    """The whole feed from the start, streamed in commit order."""
    cursor: str | None = None
    while True:
        page = read_changes(session=session, actor=actor, cursor=cursor, limit=1000, types=types)
        yield from page.changes
        if not page.has_more:
            return
        cursor = page.next_cursor
