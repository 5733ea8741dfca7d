"""Reading the change feed: every committed change once, in commit order."""

import re
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, Row, Select, Text, cast, func, literal_column, select, tuple_
from sqlmodel import Session, col

from app.models.change import Change, ChangePage, ChangePublic
from app.models.user import Role
from app.services import pg_copy
from app.services.actors import Actor
from app.services.errors import Forbidden, Invalid
from app.services.pagination import decode_cursor, encode_cursor
from app.services.streaming import row_batches


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


def _scoped(actor: Actor, cursor: str | None, types: Sequence[str] | None,
            *columns: Any) -> Select[Any]:
    """SELECT `columns` of the changes after `cursor` that `actor` may read, of `types`
    (unordered). A branch secretary: `Forbidden`; a forged cursor: `Invalid`."""
    if actor.role == Role.branch_secretary:
        raise Forbidden("变更流供系统和县、乡镇用户读取,党支部书记不能使用")
    stmt = select(*columns)
    if not actor.is_county_admin:
        stmt = stmt.where(col(Change.type).not_in(PRIVATE_TYPES))
    if actor.township_id is not None:
        stmt = stmt.where(Change.township_id == actor.township_id)
    if cursor:
        seq, last_id = decode_cursor(cursor, 2, [col(Change.commit_seq), col(Change.id)])
        stmt = stmt.where(tuple_(col(Change.commit_seq), col(Change.id)) > tuple_(seq, last_id))
    if types:
        stmt = stmt.where(col(Change.type).in_(types))
    return stmt


def _page(
    session: Session, actor: Actor, cursor: str | None, limit: int,
    types: Sequence[str] | None,
) -> tuple[list[Row[Any]], str | None, bool]:
    """Rows (type, entity_id, op, version, data) of a page after `cursor`, as Core rows (no
    ORM objects); the next cursor and whether more follow."""
    stmt = _scoped(actor, cursor, types, Change.commit_seq, Change.id, Change.type,
                   Change.entity_id, Change.op, Change.version, Change.data)
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


# ---------------------------------------------------------------- the streamed feed

LINE_KEYS = ("type", "id", "op", "version", "data")  # a line's keys, as a page's change's


@dataclass(frozen=True)
class FeedStream:
    """What a streamed read of the feed sends: the SELECT of its rows (commit_seq, id, type,
    entity_id, op, version, data, in commit order; None when there are none) and the
    cursor after them."""

    stmt: Select[Any] | None
    next_cursor: str | None


def stream_changes(
    *, session: Session, actor: Actor, cursor: str | None, types: Sequence[str] | None
) -> FeedStream:
    """Every change after `cursor` that `actor` may read, of `types`, up to the last one
    committed now (the head): the same changes, in the same order, as following the paged
    feed from `cursor` to its end; the head's cursor, or `cursor` when there are none.

    The head is read here; the rows are read later, on another connection, bounded by it.
    A change's `commit_seq` is taken under a lock held until its commit (`app.db`), so every
    change up to the head is committed when the head is seen and no later one can fall
    below it. Scope and errors as `read_changes`."""
    head_stmt = _scoped(actor, cursor, types, Change.commit_seq, Change.id)
    head = session.execute(
        head_stmt.order_by(col(Change.commit_seq).desc(), col(Change.id).desc()).limit(1)
    ).first()
    if head is None:
        return FeedStream(None, cursor)
    stmt = _scoped(actor, cursor, types, Change.commit_seq, Change.id, Change.type,
                   Change.entity_id, Change.op, Change.version, Change.data)
    stmt = stmt.where(tuple_(col(Change.commit_seq), col(Change.id)) <= tuple_(head[0], head[1]))
    return FeedStream(stmt.order_by(Change.commit_seq, Change.id),
                      encode_cursor([head[0], head[1]]))


def ndjson_changes(engine: Engine, stmt: Select[Any]) -> Iterator[bytes]:
    """The rows of a `FeedStream.stmt` as NDJSON, one change a line with the fields and
    values of a page's change, in chunks of whole lines. On PostgreSQL each line is written
    by `COPY` (`pg_copy.copy_chunks`, `data` as stored); on SQLite in Python, by orjson,
    as the paged feed writes them."""
    if pg_copy.sql_available(engine):
        return _one_line_each(
            pg_copy.copy_chunks(engine, _line_select(stmt), pg_copy.LINE_OPTIONS))
    return _python_lines(row_batches(engine, stmt))


def _line_select(stmt: Select[Any]) -> Select[Any]:
    """`stmt` as one column, each row's line; `data` (PostgreSQL `json`) as its stored
    text (NULL: `null`).

    The lines are made over the rows read in order (a subquery the planner keeps apart,
    `OFFSET 0`), as COPY of the plain columns reads them: by the (commit_seq, id) index,
    the first row at once. Made in the same query level, their cost leads the planner to
    build every line in parallel workers and sort them all before the first is sent."""
    rows = stmt.offset(literal_column("0")).subquery("c")
    values = [pg_copy.json_value_sql(rows.c[name])
              for name in ("type", "entity_id", "op", "version")]
    values.append(func.coalesce(cast(rows.c.data, Text), literal_column("'null'", Text)))
    assert all(v is not None for v in values)
    line = pg_copy.json_object_sql(LINE_KEYS, values)  # type: ignore[arg-type]
    return select(line).order_by(rows.c.commit_seq, rows.c.id)


# COPY quotes (with LINE_OPTIONS' quote, \x01) a line holding a line break: one that `data`
# was stored with, as whitespace between its tokens (JSON escapes it inside a string)
_QUOTED_LINE = re.compile(rb"\x01([^\x01]*)\x01")


def _one_line_each(chunks: Generator[bytes, None, None]) -> Iterator[bytes]:
    """`chunks` with each quoted line unquoted, its line breaks made spaces (the same JSON
    value, on one line): a byte search per chunk, a rewrite of the rare chunk holding one."""
    try:
        for chunk in chunks:
            if b"\x01" in chunk:
                chunk = _QUOTED_LINE.sub(
                    lambda m: m.group(1).replace(b"\r", b" ").replace(b"\n", b" "), chunk)
            yield chunk
    finally:  # an aborted stream stops the COPY
        chunks.close()


def _python_lines(batches: Iterator[list[Any]]) -> Iterator[bytes]:
    dumps = orjson.dumps
    try:
        for batch in batches:
            if batch:
                yield b"".join(
                    dumps({"type": t, "id": e, "op": o, "version": v, "data": d}) + b"\n"
                    for _seq, _id, t, e, o, v, d in batch)
    finally:  # an aborted stream stops the reader
        close = getattr(batches, "close", None)
        if close is not None:
            close()
