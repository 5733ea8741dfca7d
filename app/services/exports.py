"""Whole-table exports streamed as CSV, NDJSON or XLSX, in the reader's scope.

Rows are read with Core (no ORM objects) through a server-side cursor in batches and
written out as they come, so memory stays flat whatever the number of rows.
"""

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import ColumnElement, Engine, Select, select
from sqlmodel import col

from app import clock
from app.labels import LABELS
from app.models.activity import Activity
from app.models.branch import Branch
from app.models.feedback import FeedbackForm, Opinion
from app.models.forms import TEXT_MESSAGE, Int, SafeText
from app.models.problem import Problem
from app.models.rectification import Acceptance, LiaisonVisit, Rectification, Revisit
from app.models.screening import Screening
from app.models.task import Task
from app.services import cells as cells_module
from app.services import pg_copy
from app.services.actors import Actor, branch_visible, record_visible
from app.services.cells import (
    DAY,
    INT,
    TEXT,
    StreamedWorkbook,
    XlsxCells,
    close_source,
    csv_columns,
    csv_head,
    csv_kind,
    xlsx_chunks,
    xlsx_rows_chunks,
)
from app.services.errors import Invalid
from app.services.streaming import row_batches, rows_of


@dataclass(frozen=True)
class ExportSpec:
    """A table that can be exported: its columns and the filters its list takes."""

    model: Any
    columns: tuple[str, ...]
    filters: dict[str, type]
    scope: Callable[[Actor], ColumnElement[bool]]


def _placed(model: Any) -> Callable[[Actor], ColumnElement[bool]]:
    return lambda actor: record_visible(actor, col(model.township_id), col(model.branch_id))


EXPORTS: dict[str, ExportSpec] = {
    "branches": ExportSpec(
        Branch,
        ("id", "township_id", "name", "kind", "member_count", "members_35_under",
         "members_36_55", "members_56_over", "applicants_35_under", "secretary_name",
         "secretary_birth_year", "secretary_is_director", "collective_income_wan",
         "income_sources", "is_weak_lax", "notes", "version", "updated_at"),
        {"township_id": int, "kind": str}, branch_visible,
    ),
    "problems": ExportSpec(
        Problem,
        ("id", "campaign_id", "township_id", "branch_id", "category", "source", "description",
         "version", "updated_at"),
        {"campaign_id": int, "township_id": int, "branch_id": int, "category": str,
         "source": str}, _placed(Problem),
    ),
    "tasks": ExportSpec(
        Task,
        ("id", "problem_id", "campaign_id", "township_id", "branch_id", "title", "description",
         "responsible_unit", "responsible_person", "due_on", "status", "submitted_at",
         "submitted_by", "verified_at", "verified_by", "version", "updated_at"),
        {"campaign_id": int, "township_id": int, "branch_id": int, "problem_id": int,
         "status": str}, _placed(Task),
    ),
    "feedback-forms": ExportSpec(
        FeedbackForm,
        ("id", "campaign_id", "township_id", "branch_id", "respondent_kind", "anonymous",
         "respondent_name", "satisfaction", "submitted_by", "submitted_at", "version"),
        {"campaign_id": int, "township_id": int, "branch_id": int}, _placed(FeedbackForm),
    ),
    "opinions": ExportSpec(
        Opinion,
        ("id", "form_id", "campaign_id", "township_id", "branch_id", "theme", "text",
         "suggestion_id", "version", "created_at"),
        {"campaign_id": int, "township_id": int, "branch_id": int, "theme": str},
        _placed(Opinion),
    ),
    "screenings": ExportSpec(
        Screening,
        ("id", "campaign_id", "township_id", "branch_id", "led_by", "led_by_title",
         "screened_on", "conclusion", "summary", "results", "version", "updated_at"),
        {"campaign_id": int, "township_id": int, "branch_id": int, "conclusion": str},
        _placed(Screening),
    ),
    "rectifications": ExportSpec(
        Rectification,
        ("id", "campaign_id", "township_id", "branch_id", "screening_id", "status",
         "weak_types", "reason", "proposed_by", "proposed_on", "designated_by", "designated_on",
         "publicity_from", "publicity_until", "target_on", "plan", "plan_approved_by",
         "plan_approved_on", "county_leader_name", "county_leader_post",
         "township_leader_name", "township_leader_post", "first_secretary_name",
         "first_secretary_post", "helper_unit_name", "converted_on", "relapse_count",
         "version", "updated_at"),
        {"campaign_id": int, "township_id": int, "branch_id": int, "status": str},
        _placed(Rectification),
    ),
    "liaison-visits": ExportSpec(
        LiaisonVisit,
        ("id", "rectification_id", "campaign_id", "township_id", "branch_id", "role",
         "visitor_name", "visited_on", "summary", "recorded_by", "version"),
        {"campaign_id": int, "township_id": int, "branch_id": int, "rectification_id": int},
        _placed(LiaisonVisit),
    ),
    "acceptances": ExportSpec(
        Acceptance,
        ("id", "rectification_id", "campaign_id", "township_id", "branch_id", "held_on",
         "item_scores", "ratings", "note", "total", "grade", "recorded_by", "version"),
        {"campaign_id": int, "township_id": int, "branch_id": int}, _placed(Acceptance),
    ),
    "revisits": ExportSpec(
        Revisit,
        ("id", "rectification_id", "campaign_id", "township_id", "branch_id", "months",
         "due_on", "done_on", "result", "note", "version"),
        {"campaign_id": int, "township_id": int, "branch_id": int}, _placed(Revisit),
    ),
    "activities": ExportSpec(
        Activity,
        ("id", "campaign_id", "township_id", "branch_id", "kind", "held_on", "title",
         "participants", "summary", "version"),
        {"campaign_id": int, "township_id": int, "kind": str}, _placed(Activity),
    ),
}
FORMATS = ("csv", "ndjson", "xlsx")
FILTER_TYPES: dict[type, TypeAdapter[Any]] = {int: TypeAdapter(Int), str: TypeAdapter(SafeText)}


def parse_target(target: str) -> tuple[ExportSpec, str, str]:
    """`opinions.csv` → (the spec, "opinions", "csv"), or a field error."""
    name, dot, fmt = target.rpartition(".")
    if not dot and target in EXPORTS:  # `/exports/branches`: the table, without a format
        raise Invalid("format", f"请在表名后注明导出格式,例如 {target}.csv、"
                                f"{target}.ndjson 或 {target}.xlsx")
    if name not in EXPORTS:
        raise Invalid("table", f"不能导出“{name}”;可导出:{'、'.join(EXPORTS)}")
    if fmt not in FORMATS:
        raise Invalid("format", "导出格式应为 csv、ndjson 或 xlsx")
    return EXPORTS[name], name, fmt


def export_select(spec: ExportSpec, actor: Actor, params: dict[str, str]) -> Select[Any]:
    """The rows of `spec` the actor may see, narrowed by the list's filters in `params`.

    Filters are checked like every parameter (an id beyond the column, a text with control
    characters: `Invalid` naming the filter) before anything is streamed."""
    model = spec.model
    stmt = select(*[getattr(model, c) for c in spec.columns]).where(
        col(model.deleted_at).is_(None), spec.scope(actor)
    )
    for name, kind in spec.filters.items():
        raw = params.get(name)
        if raw in (None, ""):
            continue
        column = getattr(model, name)
        value = _filter_value(name, kind, raw, getattr(column.type, "enum_class", None))
        stmt = stmt.where(column == value)
    return stmt.order_by(model.id)


def _filter_value(name: str, kind: type, raw: str, codes: Any = None) -> Any:
    """`raw` as the filter's value, as the list reads it (a number typed with a Chinese
    input method is a number; a code of `codes`, the column's enum, one of them)."""
    try:
        value = FILTER_TYPES[kind].validate_python(raw)
    except ValidationError as exc:
        kind_of_error = exc.errors()[0]["type"]
        message = {"text_control": TEXT_MESSAGE, "int_parsing": "应为整数"}.get(
            kind_of_error, "超出可存储的范围")
        raise Invalid(name, message) from None
    if codes is not None and value not in {c.value for c in codes}:
        choices = "、".join(f"{_code_label(c.value)}({c.value})" for c in codes)
        raise Invalid(name, f"取值无效,可选:{choices}")
    return value


def _code_label(code: str) -> str:
    for group, labels in LABELS.items():
        if group != "field" and code in labels:
            return labels[code]
    return code


def rows(engine: Engine, stmt: Select[Any]) -> Iterator[tuple[Any, ...]]:
    """The rows of `stmt` one by one, read ahead in batches through a server-side cursor."""
    return rows_of(row_batches(engine, stmt))


def csv_kinds(stmt: Select[Any]) -> tuple[str, ...]:
    """How each selected column is written as CSV (`cells.csv_kind`)."""
    return tuple(csv_kind(c.type) for c in stmt.selected_columns)


def _json_value(value: Any) -> Any:
    value = getattr(value, "value", value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def csv_export(engine: Engine, columns: tuple[str, ...], stmt: Select[Any]) -> Iterator[bytes]:
    """The rows of `stmt` as `as_csv` writes them: on PostgreSQL written by COPY
    (`pg_copy.csv_rows`, the same bytes) when every column has an SQL rendering."""
    kinds = csv_kinds(stmt)
    cells = pg_copy.csv_select(stmt) if pg_copy.sql_available(engine) else None
    if cells is None:
        return as_csv(columns, kinds, row_batches(engine, stmt))
    return pg_copy.headed(csv_head(columns), pg_copy.csv_rows(engine, cells, kinds))


def ndjson_export(engine: Engine, columns: tuple[str, ...], stmt: Select[Any]
                  ) -> Iterator[bytes]:
    """The rows of `stmt` as `as_ndjson` writes them: on PostgreSQL written by COPY
    (`pg_copy.ndjson_lines`, the same bytes) when every column has an SQL rendering."""
    copied = pg_copy.ndjson_lines(engine, stmt, columns) if pg_copy.sql_available(engine) \
        else None
    if copied is None:
        return as_ndjson(columns, csv_kinds(stmt), row_batches(engine, stmt))
    return copied


def as_csv(columns: tuple[str, ...], kinds: tuple[str, ...],
           batches: Iterator[list[Any]]) -> Iterator[bytes]:
    """CSV for people (UTF-8 BOM for Excel), every cell as `cells.csv_cell` writes it
    (`cells.csv_columns`, column `i` of the kind `kinds[i]`); a chunk per batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    try:
        yield csv_head(columns)
        for batch in batches:
            writer.writerows(csv_columns(kinds, batch))
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    finally:
        close_source(batches)
    yield buffer.getvalue().encode()


_JSON = json.JSONEncoder(ensure_ascii=False, default=str)  # what json.dumps(...) made per row


def as_ndjson(columns: tuple[str, ...], kinds: tuple[str, ...],
              batches: Iterator[list[Any]]) -> Iterator[bytes]:
    """One JSON object per row, the values as stored (byte-faithful, no cell rules); values
    converted column by column (`kinds[i]` as for `as_csv`: integers and texts as they
    are, dates and instants in ISO 8601, anything else by `_json_value`); a chunk per
    batch of rows."""
    encode = _JSON.encode
    try:
        for batch in batches:
            if not batch:
                continue
            values: list[Sequence[Any]] = []
            for kind, column in zip(kinds, zip(*batch, strict=True), strict=True):
                if kind in (INT, TEXT):
                    values.append(column)
                elif kind == DAY:
                    values.append([None if v is None else v.isoformat() for v in column])
                else:
                    values.append([_json_value(v) for v in column])
            lines = [encode(dict(zip(columns, row, strict=True)))
                     for row in zip(*values, strict=True)]
            yield ("\n".join(lines) + "\n").encode()
    finally:  # an aborted download stops the reader
        close_source(batches)


def xlsx_export(engine: Engine, columns: tuple[str, ...], stmt: Select[Any], sheet: str
                ) -> Iterator[bytes]:
    """The rows of `stmt` as `as_xlsx` writes them: on PostgreSQL the rows' XML written by
    COPY (`pg_copy.xlsx_rows_select`: the same cells) when every column has an SQL form."""
    kinds = pg_copy.xlsx_kinds(stmt) if pg_copy.sql_available(engine) else None
    if kinds is not None:
        book, cells = _table_book(columns, sheet)
        room = cells_module.LAST_ROW - 1  # rows below the header
        rows_xml = pg_copy.xlsx_rows_select(stmt, kinds, cells.styles(), 1, room + 1)
        if rows_xml is not None:
            return xlsx_rows_chunks(book, pg_copy.xlsx_row_chunks(engine, rows_xml), room,
                                    cells.text)
    return as_xlsx(columns, rows(engine, stmt), sheet)


def _table_book(columns: tuple[str, ...], sheet: str) -> tuple[StreamedWorkbook, XlsxCells]:
    book = StreamedWorkbook(sheet)
    book.sheet.write_row(0, 0, columns, book.add_format({"bold": True}))
    return book, XlsxCells(book, book.sheet)


def as_xlsx(columns: tuple[str, ...], data: Iterator[tuple[Any, ...]],
            sheet: str) -> Iterator[bytes]:
    """The rows as .xlsx bytes streamed as they are written (`cells.xlsx_chunks`): a bold
    header of the column names, then typed cells through `cells.XlsxCells`."""
    book, cells = _table_book(columns, sheet)

    def written() -> Iterator[None]:
        try:
            for r, row in enumerate(data, start=1):
                cells.write_row(r, (_local(v) for v in row))
                yield None
        finally:
            close_source(data)

    return xlsx_chunks(book, written())


def _local(value: Any) -> Any:
    """An instant in the pages' time zone (what people read), other values unchanged."""
    if isinstance(value, datetime):
        return clock.local(value).replace(tzinfo=None)
    return value
