"""How rows become list items and a page of them becomes JSON: decided here, once, for every
list (the API's pages, their htmx fragments and the pages that show the same lists).

A list's service selects plain columns (SQLAlchemy Core over the table, no ORM entities),
labelled as the fields of the list's public schema, and turns the rows into items with
`items(Schema, rows)`: one `Item` per row, its keys in the schema's field order, the derived
fields (a branch's `flags`, ...) computed by the small functions the service that owns the
rule registered with `derive`; a field that needs more of the database than the row (a
task's duplicate evidence, looked up for the whole page in one query) from the rule registered
with `derive_page`, which `items` calls once a page with the session, the page's rows and the
list's `context` (e.g. the actor reading it). `page_json` writes a page as the API answers
it, with orjson, equal to what pydantic writes for the schema (enums as their values,
`Decimal` as a string, aware datetimes in UTC with `Z`); schema instances (one record's
answer) are written by the same function, each dumped once, never re-validated.

Neutral: the services, the API and the pages import it; it imports none of them.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Table
from sqlalchemy.orm import Session

Derive = Callable[[Any], Any]
# called once per page with the names of the selected columns (so positions are looked up,
# and today's date or a setting read, once), answering the function that computes the field
# from each row
DeriveRule = Callable[[Sequence[str]], Derive]

# called once per page with the session, the page's rows and the list's context (what
# `items` was given, e.g. the actor reading the list), answering the function that computes
# the field from each row; it may query the database once for the whole page
PageRule = Callable[[Session, Sequence[Any], Any], Derive]

_DERIVED: dict[type[BaseModel], dict[str, DeriveRule]] = {}
_PAGE_DERIVED: dict[type[BaseModel], dict[str | tuple[str, ...], PageRule]] = {}


class Item(dict[str, Any]):
    """One list item: a dict (written as a JSON object as it is) whose keys also read as
    attributes (`item.name`), as templates and page code read a schema instance."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class ItemsPage:
    """A page of items and the cursor of the next page (None on the last), for templates."""

    items: Sequence[Any]
    next_cursor: str | None


def derive(schema: type[BaseModel], field: str, rule: DeriveRule) -> None:
    """Register how `field` of `schema` is computed: `rule(selected)`, called once per page
    with the names of the selected columns, answers the function of a selected row (a
    SQLAlchemy `Row`) that gives the field's value. Raises ValueError when the schema has no
    such field."""
    if field not in fields_of(schema):
        raise ValueError(f"{schema.__name__} has no field {field!r}")
    _DERIVED.setdefault(schema, {})[field] = rule


def derive_page(schema: type[BaseModel], field: str | tuple[str, ...], rule: PageRule) -> None:
    """Register how `field` of `schema` is computed from the whole page: `rule(session, rows,
    context)`, called once per page by `items` with the session, the page's `Row`s and the
    `context` `items` was given, answers the function of a row that gives the field's value
    (e.g. a dict looked up by the row's id). With a tuple of fields (computed together, e.g.
    a rectification's last visits and whether one is missed), the function answers a tuple
    of their values, in that order. Raises ValueError when the schema has no such field."""
    names = (field,) if isinstance(field, str) else field
    for name in names:
        if name not in fields_of(schema):
            raise ValueError(f"{schema.__name__} has no field {name!r}")
    _PAGE_DERIVED.setdefault(schema, {})[field if isinstance(field, str) else names] = rule


def _page_derived(schema: type[BaseModel], rows: Sequence[Any], session: Session | None,
                  context: Any) -> dict[str, Derive]:
    """The per-row functions of `schema`'s `derive_page` fields for this page (each rule
    called once; a group's values computed once a row)."""
    rules = _PAGE_DERIVED.get(schema, {})
    if rules and session is None:
        raise ValueError(f"{schema.__name__}'s items need the session")
    out: dict[str, Derive] = {}
    for key, rule in rules.items():
        per_row = rule(session, rows, context)  # type: ignore[arg-type]
        if isinstance(key, str):
            out[key] = per_row
            continue
        values = {id(row): per_row(row) for row in rows}
        for position, name in enumerate(key):
            out[name] = _nth_of(values, position)
    return out


def _nth_of(values: dict[int, tuple[Any, ...]], position: int) -> Derive:
    return lambda row: values[id(row)][position]


def fields_of(schema: type[BaseModel]) -> list[str]:
    """The names of `schema`'s fields in the order the API writes them (computed fields
    last, as pydantic writes them)."""
    return [*schema.model_fields, *schema.model_computed_fields]


def columns_of(schema: type[BaseModel], table: Table,
               **extra: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """What a list of `schema` selects: `table`'s columns named as the schema's fields, in
    the schema's order, and `extra` expressions (labelled with their field's name) for
    fields the table does not hold, e.g. a joined township's name."""
    return [extra[name].label(name) if name in extra else table.c[name]
            for name in fields_of(schema) if name in extra or name in table.c]


def items(schema: type[BaseModel], rows: Sequence[Any], *, session: Session | None = None,
          context: Any = None) -> list[Item]:
    """One `Item` per row of `schema`'s fields, in its order: a derived field from its
    registered function (`derive`, or `derive_page` called once with `session`, the rows and
    `context`), every other field from the selected column of its name.

    `rows`: SQLAlchemy `Row`s. A field neither selected nor derived takes the schema's
    default; raises ValueError when it has none, or when the schema has a `derive_page`
    field and no `session` is given (programming errors, caught by the list's tests).
    """
    if not rows:
        return []
    selected: tuple[str, ...] = rows[0]._fields
    derived: dict[str, Derive] = {
        **{name: rule(selected) for name, rule in _DERIVED.get(schema, {}).items()},
        **_page_derived(schema, rows, session, context),
    }
    names = fields_of(schema)
    plain = [name for name in names if name not in derived]
    rules = [(name, derived[name]) for name in names if name in derived]
    if selected[: len(plain)] == tuple(plain) and names[: len(plain)] == plain:
        # the usual shape: the row starts with the schema's selected fields in its order
        # and the derived fields come last (zip stops at the last field name)
        page = [Item(zip(plain, row, strict=False)) for row in rows]
        for name, compute in rules:
            for item, row in zip(page, rows, strict=True):
                item[name] = compute(row)
        return page
    computed = dict(rules)
    getters: list[Derive] = [
        computed[name] if name in computed
        else itemgetter(selected.index(name)) if name in selected
        else _default_of(schema, name)
        for name in names
    ]
    return [Item(zip(names, [get(row) for get in getters], strict=True)) for row in rows]


def _default_of(schema: type[BaseModel], name: str) -> Derive:
    """A field neither selected nor derived answers the schema's default (a token's
    `secret`, shown only when created). Raises ValueError when it has none."""
    field = schema.model_fields.get(name)
    if field is None or field.is_required():
        raise ValueError(f"{schema.__name__}.{name} is neither selected nor derived")
    return lambda _row: field.get_default(call_default_factory=True)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump()
    raise TypeError(f"{type(value).__name__} is not written as JSON")


def to_json(value: Any) -> bytes:
    """`value` (items, schema instances, plain data) as JSON, the way pydantic writes it."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_UTC_Z)


def page_json(page_items: Sequence[Any], next_cursor: str | None) -> bytes:
    """`{"items": [...], "next_cursor": ...}` of a list page, as the API answers it."""
    return to_json({"items": page_items, "next_cursor": next_cursor})
