"""Keyset pagination with opaque cursors: no OFFSET, so page 2,000 costs what page 1 does."""

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, tuple_
from sqlmodel import Session

from app.services.errors import Invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
BAD_CURSOR = "分页游标无效,请从第一页重新获取"


@dataclass(frozen=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    cursor: str, width: int, keys: Sequence[ColumnElement[Any]] | None = None
) -> list[Any]:
    """The values of a cursor; with `keys`, each converted to its column's type.

    A forged cursor (wrong shape or types) is refused here, so it never reaches SQL as a 500.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("cursor", BAD_CURSOR) from exc
    if not isinstance(values, list) or len(values) != width:
        raise Invalid("cursor", BAD_CURSOR)
    if keys is None:
        return values
    return [_cursor_value(v, k) for v, k in zip(values, keys, strict=True)]


def _cursor_value(value: Any, key: ColumnElement[Any]) -> Any:
    try:
        expected = key.type.python_type
    except NotImplementedError:
        expected = str
    if expected is int:
        if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
            return value
    elif isinstance(value, str):
        if expected not in (date, datetime):
            return value
        try:
            return expected.fromisoformat(value)
        except ValueError:
            pass
    raise Invalid("cursor", BAD_CURSOR)


def _after(stmt: Select[Any], keys: Sequence[ColumnElement[Any]], cursor: str) -> Select[Any]:
    after = decode_cursor(cursor, len(keys), keys)
    cond = keys[0] > after[0] if len(keys) == 1 else tuple_(*keys) > tuple_(*after)
    return stmt.where(cond)


def keyset_rows(
    session: Session,
    stmt: Select[Any],
    *,
    keys: Sequence[ColumnElement[Any]],
    key_of: Callable[[Any], Sequence[Any]],
    page: PageParams,
) -> tuple[list[Any], str | None]:
    """Rows of `stmt` (plain columns) after the cursor, ordered by `keys` (ascending; the
    last key must be unique), at most `page.limit`: run on the session's connection (its
    transaction, after flushing what the session holds), no ORM on the way.

    `key_of(row)` gives a row's values of `keys`. Answers SQLAlchemy `Row`s and the next
    page's cursor, or None on the last page. Raises Invalid (`cursor`) for a cursor of
    another shape."""
    session.flush()
    if page.cursor:
        stmt = _after(stmt, keys, page.cursor)
    rows = list(session.connection().execute(stmt.order_by(*keys).limit(page.limit + 1)).all())
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return rows, encode_cursor(key_of(rows[-1])) if more and rows else None
