"""Exports written by PostgreSQL's own `COPY`: each cell rendered in SQL, the rows as COPY
writes them, Python passing whole chunks on.

On PostgreSQL a CSV or NDJSON export whose columns all have an SQL rendering here is read
as `COPY (<the export's SELECT, each column rendered as its cell>) TO STDOUT`: the database
writes every cell's text (and CSV's quoting) in C, in its own process, while this one only
joins rows into chunks. The bytes are those of the Python writers (`cells.csv_columns`
with `csv.writer`, `exports.as_ndjson`), which stay the path on SQLite and for a column
rendered only in Python (JSON: its key order and number forms are Python's); tests compare
the two paths on the same rows, byte for byte.

CSV rules carried over (`cells.csv_cell`): an integer or a code as stored; None and "" as
nothing (PostgreSQL would quote ""); a boolean as true/false; a date as ISO 8601; an
instant as `datetime.isoformat()` of the aware UTC value (`2026-11-30T08:00:00+00:00`,
microseconds only when not zero); a text prefixed with `'` when it starts like a formula
(`cells.FORMULA_START`), and without the control characters `forms.strip_control` drops —
found by a byte scan of each chunk (`_suspect`), the rare chunk holding one being rewritten
through `cells.safe_text` (`_cleaned`). Rows end in CRLF, as `csv.writer` ends them.
"""

import csv
import io
import json
import re
from collections.abc import Generator, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    Engine,
    Integer,
    Numeric,
    Select,
    String,
    Text,
    TypeDecorator,
    case,
    cast,
    func,
    literal_column,
    type_coerce,
)
from sqlalchemy import Enum as SAEnum

from app.models.base import UTCDateTime
from app.services.cells import FORMULA_START, TEXT, safe_text
from app.services.streaming import read_ahead

CHUNK = 64 * 1024  # bytes of rows gathered before a chunk is handed on
CSV_OPTIONS = "FORMAT csv"
# one column whose text is the whole line: a quote and a delimiter no JSON line holds raw
# (JSON escapes every character below U+0020), so COPY writes the line as it is
LINE_OPTIONS = "FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02'"
_FORMULA_CODES = tuple(ord(c) for c in FORMULA_START)


def sql_available(engine: Engine) -> bool:
    """Whether `engine` is PostgreSQL (COPY exists), so the SQL renderings apply."""
    return engine.dialect.name == "postgresql"


# ---------------------------------------------------------------- cells in SQL


def _instant(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A UTC `timestamp` as `datetime.isoformat()` of the aware value writes it:
    `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00` (PostgreSQL's own text trims trailing zeros of
    the fraction; `isoformat` gives all six, or none when the fraction is zero). One
    to_char a value: it is the costly call."""
    whole = func.date_trunc("second", column) == column
    return case(
        (whole, func.to_char(column, 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"', type_=String)),
        else_=func.to_char(column, 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"', type_=String))


def _code_column(column: ColumnElement[Any]) -> ColumnElement[Any] | None:
    """An enum column as its stored code, when the codes stored are the enum's values."""
    sql_type = column.type
    enum_class = getattr(sql_type, "enum_class", None)
    stored = list(getattr(sql_type, "enums", ()))
    if enum_class is not None and stored != [e.value for e in enum_class]:
        return None  # names stored, values written: not the same text
    return type_coerce(column, String)


def _type_of(column: ColumnElement[Any]) -> Any:
    """The column's SQL type, a decorated one (AutoString...) as the type it stores, but
    for `UTCDateTime` (its values are rendered as aware instants)."""
    sql_type = column.type
    if isinstance(sql_type, TypeDecorator) and not isinstance(sql_type, UTCDateTime):
        return sql_type.impl
    return sql_type


def _numeric_ok(sql_type: Any) -> bool:
    # str(Decimal) is PostgreSQL's numeric text while the scale is fixed and small
    return bool(sql_type.asdecimal) and sql_type.scale is not None and sql_type.scale <= 6


def csv_cell_sql(column: ColumnElement[Any]) -> ColumnElement[Any] | None:
    """The CSV text `cells.csv_cell` writes for this column's values, as SQL (NULL for an
    empty cell), or None when only Python renders it (JSON, floats, unknown types).
    Texts are only formula-checked here; control characters are `_cleaned` in Python."""
    sql_type = _type_of(column)
    if isinstance(sql_type, UTCDateTime):
        return _instant(column)
    if isinstance(sql_type, SAEnum):
        return _code_column(column)
    if isinstance(sql_type, Boolean):
        return case((column.is_(True), literal_column("'true'")),
                    (column.is_(False), literal_column("'false'")))
    if isinstance(sql_type, Integer):
        return column
    if isinstance(sql_type, Numeric):
        return column if _numeric_ok(sql_type) else None
    if isinstance(sql_type, Date):
        return column
    if isinstance(sql_type, String):
        return safe_text_sql(column)
    return None


def safe_text_sql(text: ColumnElement[Any]) -> ColumnElement[Any]:
    """`cells.safe_text` of a text column but for the control characters (a byte scan
    finds those: `_suspect`): prefixed with `'` when it starts like a formula; NULL for
    "" (CSV writes both as nothing)."""
    return case((func.ascii(text).in_(_FORMULA_CODES), literal_column("''''", String) + text),
                else_=func.nullif(text, ""))


def json_value_sql(column: ColumnElement[Any]) -> ColumnElement[Any] | None:
    """The JSON `exports.as_ndjson` writes for this column's values (`null` included), as
    SQL text, or None when only Python renders it."""
    sql_type = _type_of(column)
    quoted: ColumnElement[Any] | None = None
    if isinstance(sql_type, UTCDateTime):
        quoted = _instant(column)
    elif isinstance(sql_type, SAEnum):
        code = _code_column(column)
        if code is None:
            return None
        quoted = code
    elif isinstance(sql_type, Boolean):
        return case((column.is_(True), literal_column("'true'")),
                    (column.is_(False), literal_column("'false'")), else_=literal_column("'null'"))
    elif isinstance(sql_type, Integer):
        return func.coalesce(cast(column, Text), literal_column("'null'"))
    elif isinstance(sql_type, Numeric):
        if not _numeric_ok(sql_type):
            return None
        quoted = cast(column, Text)  # `_json_value`: a Decimal as its text, a JSON string
    elif isinstance(sql_type, Date):
        quoted = cast(column, Text)
    elif isinstance(sql_type, String):
        quoted = type_coerce(column, String)
    else:
        return None
    return func.coalesce(cast(func.to_json(quoted), Text), literal_column("'null'"))


def csv_select(stmt: Select[Any]) -> Select[Any] | None:
    """`stmt` with each column rendered as its CSV cell, or None if one has no rendering."""
    cells = [csv_cell_sql(c) for c in stmt.selected_columns]
    if any(c is None for c in cells):
        return None
    return stmt.with_only_columns(*cells)  # type: ignore[arg-type]


def ndjson_select(stmt: Select[Any], names: Sequence[str]) -> Select[Any] | None:
    """`stmt` as one column, each row's JSON object as `exports.as_ndjson` writes it
    (`{"id": 1, "title": "…"}`: the standard library's separators, keys in `names`'
    order, text unescaped beyond what JSON requires), or None if a column has no
    rendering."""
    values = [json_value_sql(c) for c in stmt.selected_columns]
    if any(v is None for v in values):
        return None
    return stmt.with_only_columns(json_object_sql(names, values))  # type: ignore[arg-type]


def json_object_sql(names: Sequence[str], values: Sequence[ColumnElement[Any]]
                    ) -> ColumnElement[Any]:
    """The text of the JSON object `{"name": value, ...}` (the standard library's
    separators, keys in `names`' order), each value the SQL text of a JSON value, none NULL
    (`json_value_sql`)."""
    parts: list[Any] = []
    for i, (name, value) in enumerate(zip(names, values, strict=True)):
        key = ("{" if i == 0 else ", ") + json.dumps(name) + ": "
        parts += [literal_column("'" + key.replace("'", "''") + "'", Text), value]
    parts.append(literal_column("'}'", Text))
    return _joined(parts)  # type: ignore[no-any-return]


def _joined(parts: list[Any]) -> Any:
    """`parts[0] || parts[1] || ...` (none NULL): `||` rather than concat(), which looks
    each argument's output function up on every row (a fifth slower at 17 columns)."""
    line = parts[0]
    for part in parts[1:]:
        line = line + part
    return line


# ---------------------------------------------------------------- reading COPY


def _copied(engine: Engine, stmt: Select[Any], options: str, line_end: bytes,
            size: int) -> Iterator[bytes]:
    with engine.connect() as conn:
        # no JIT (its compile comes before the first row); ISO dates whatever the server's
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql("SET LOCAL DateStyle = 'ISO, YMD'")
        compiled = stmt.compile(dialect=conn.dialect,
                                compile_kwargs={"render_postcompile": True})
        # the binds as the driver gets them from SQLAlchemy (an enum as its code...)
        processors: dict[str, Any] = dict(compiled._bind_processors)
        params = {name: processors[name](value) if name in processors else value
                  for name, value in compiled.construct_params().items()}
        raw: Any = conn.connection.driver_connection
        buffer = bytearray()
        with raw.cursor() as cursor, cursor.copy(
                f"COPY ({compiled}) TO STDOUT ({options})", params) as copy:
            for row in copy:  # one message a row, ending in "\n"
                if line_end == b"\n":
                    buffer += row
                else:
                    buffer += row[:-1]
                    buffer += line_end
                if len(buffer) >= size:
                    yield bytes(buffer)
                    buffer.clear()
        if buffer:
            yield bytes(buffer)


def copy_chunks(engine: Engine, stmt: Select[Any], options: str = CSV_OPTIONS,
                line_end: bytes = b"\n", size: int = CHUNK) -> Generator[bytes, None, None]:
    """The rows `COPY (stmt) TO STDOUT (options)` writes, each ending in `line_end`, in
    chunks of whole rows of about `size` bytes, read on a connection of its own in a
    thread of their own a chunk or two ahead (`streaming.read_ahead`). PostgreSQL only.
    Errors of the query are raised at the first chunk; closing stops the COPY (psycopg
    cancels it) and returns the connection."""
    return read_ahead(lambda: _copied(engine, stmt, options, line_end, size))


# ---------------------------------------------------------------- control characters


# the UTF-8 of what `forms.strip_control` drops: C0 controls but tab, LF and CR; DEL;
# C1 controls (C2 80–9F); U+FFFE, U+FFFF (EF BF BE/BF); no surrogate is valid UTF-8
_CONTROL_UTF8 = re.compile(rb"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\xef\xbf[\xbe\xbf]")
_PLAIN_BYTES = bytes(b for b in range(256)
                     if not (0x01 <= b <= 0x08 or b in (0x0B, 0x0C) or 0x0E <= b <= 0x1F
                             or b == 0x7F))


def _suspect(chunk: bytes) -> bool:
    """Whether `chunk` holds a character `strip_control` drops (fast for the usual chunk:
    a byte delete and two substring looks; the pattern only when one of them hits)."""
    if chunk.translate(None, _PLAIN_BYTES) or b"\xc2" in chunk or b"\xef\xbf" in chunk:
        return _CONTROL_UTF8.search(chunk) is not None
    return False


def _cleaned(chunk: bytes, kinds: Sequence[str]) -> bytes:
    """CSV rows (CRLF-ended) rewritten with `safe_text` on the text columns (`kinds[i]`
    TEXT): the bytes `csv.writer` gives for the cleaned cells."""
    out = io.StringIO()
    writer = csv.writer(out)
    text_columns = [i for i, kind in enumerate(kinds) if kind == TEXT]
    for row in csv.reader(io.StringIO(chunk.decode(), newline="")):
        for i in text_columns:
            row[i] = safe_text(row[i])
        writer.writerow(row)
    return out.getvalue().encode()


def csv_rows(engine: Engine, stmt: Select[Any], kinds: Sequence[str]
             ) -> Generator[bytes, None, None] | None:
    """The CSV rows (no header) of `stmt` as `exports.as_csv` writes them, written by COPY
    in chunks; None when a column has no SQL rendering (`csv_select`). `kinds` as for
    `cells.csv_columns`."""
    rendered = csv_select(stmt)
    if rendered is None:
        return None
    chunks = copy_chunks(engine, rendered, CSV_OPTIONS, b"\r\n")

    def checked() -> Generator[bytes, None, None]:
        try:
            for chunk in chunks:
                yield _cleaned(chunk, kinds) if _suspect(chunk) else chunk
        finally:
            chunks.close()

    return checked()


def ndjson_lines(engine: Engine, stmt: Select[Any], names: Sequence[str]
                 ) -> Generator[bytes, None, None] | None:
    """The NDJSON of `stmt` as `exports.as_ndjson` writes it, written by COPY in chunks;
    None when a column has no SQL rendering (`ndjson_select`)."""
    rendered = ndjson_select(stmt, names)
    if rendered is None:
        return None
    return copy_chunks(engine, rendered, LINE_OPTIONS, b"\n")
