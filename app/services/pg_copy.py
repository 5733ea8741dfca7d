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
import html
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
    Float,
    Integer,
    Numeric,
    Select,
    String,
    Text,
    Time,
    TypeDecorator,
    and_,
    case,
    cast,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy import Enum as SAEnum
from xlsxwriter.utility import _utf16_len, _utf16_truncate

from app import clock
from app.models.base import UTCDateTime
from app.services.cells import FORMULA_START, TEXT, close_source, safe_text
from app.services.streaming import read_ahead

CHUNK = 64 * 1024  # bytes of rows gathered before a chunk is handed on
CSV_OPTIONS = "FORMAT csv"
# one column whose text is the whole line: a quote and a delimiter no JSON line holds raw
# (JSON escapes every character below U+0020), so COPY writes the line as it is
LINE_OPTIONS = "FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02'"
# one column whose text is the whole line, as it is (each row's header taken off)
BINARY_OPTIONS = "FORMAT binary"
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


# what a column's values are, for every rendering below (None: only Python renders them)
INSTANT_COL, CODE_COL, BOOLEAN_COL, INTEGER_COL, DECIMAL_COL, DATE_COL, TEXT_COL = (
    "instant", "code", "boolean", "integer", "decimal", "date", "text")


def _kind_of(column: ColumnElement[Any]) -> str | None:
    """What `column`'s values are: a UTC instant, an enum's code (when its stored codes
    are the enum's values), a boolean, an integer, a decimal of a small fixed scale, a
    date or a text; None for any other (JSON, floats), which only Python renders."""
    sql_type = _type_of(column)
    if isinstance(sql_type, UTCDateTime):
        return INSTANT_COL
    if isinstance(sql_type, SAEnum):
        return CODE_COL if _code_column(column) is not None else None
    if isinstance(sql_type, Boolean):
        return BOOLEAN_COL
    if isinstance(sql_type, Integer):
        return INTEGER_COL
    if isinstance(sql_type, Numeric):
        return DECIMAL_COL if _numeric_ok(sql_type) else None
    if isinstance(sql_type, Date):
        return DATE_COL
    if isinstance(sql_type, String):
        return TEXT_COL
    return None


def csv_cell_sql(column: ColumnElement[Any]) -> ColumnElement[Any] | None:
    """The CSV text `cells.csv_cell` writes for this column's values, as SQL (NULL for an
    empty cell), or None when only Python renders it (JSON, floats, unknown types).
    Texts are only formula-checked here; control characters are `_cleaned` in Python."""
    kind = _kind_of(column)
    if kind == INSTANT_COL:
        return _instant(column)
    if kind == CODE_COL:
        # a code is never like a formula, but a legacy row may hold any text there
        return safe_text_sql(type_coerce(column, String))
    if kind == BOOLEAN_COL:
        return case((column.is_(True), literal_column("'true'")),
                    (column.is_(False), literal_column("'false'")))
    if kind in (INTEGER_COL, DECIMAL_COL, DATE_COL):
        return column
    if kind == TEXT_COL:
        return safe_text_sql(column)
    return None


def _formula_start(text: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether a text starts like a formula (`cells.FORMULA_START`). The range test first:
    most texts start with a letter or a Chinese character, and one comparison settles them
    (a tenth faster over an export's text columns than the list alone)."""
    first = func.ascii(text)
    return and_(first <= max(_FORMULA_CODES), first.in_(_FORMULA_CODES))


def safe_text_sql(text: ColumnElement[Any]) -> ColumnElement[Any]:
    """`cells.safe_text` of a text column but for the control characters (a byte scan
    finds those: `_suspect`): prefixed with `'` when it starts like a formula; NULL for
    "" (CSV writes both as nothing)."""
    return case((_formula_start(text), literal_column("''''", String) + text),
                else_=func.nullif(text, ""))


def _local_timestamp(column: ColumnElement[Any]) -> ColumnElement[Any] | None:
    """A UTC `timestamp` column as the county's wall-clock time (`clock.local`), in SQL:
    by the zone's IANA name (PostgreSQL has the same database), or by its fixed offset
    (`local` is the server's offset now, as `clock.zone` takes it); None for another kind
    of zone."""
    zone = clock.zone()
    key = getattr(zone, "key", None)
    if key:
        return func.timezone(key, func.timezone("UTC", column))
    offset = zone.utcoffset(None)
    if offset is None:
        return None
    return column + func.make_interval(0, 0, 0, 0, 0, 0, offset.total_seconds())


def local_day_sql(column: ColumnElement[Any]) -> ColumnElement[Any] | None:
    """The county's date (`clock.local_day`) at a UTC `timestamp` column, in SQL; None
    when the zone has no SQL form (`_local_timestamp`)."""
    local = _local_timestamp(column)
    return None if local is None else cast(local, Date)


def json_value_sql(column: ColumnElement[Any]) -> ColumnElement[Any] | None:
    """The JSON `exports.as_ndjson` writes for this column's values (`null` included), as
    SQL text, or None when only Python renders it."""
    kind = _kind_of(column)
    quoted: ColumnElement[Any]
    if kind == BOOLEAN_COL:
        return case((column.is_(True), literal_column("'true'")),
                    (column.is_(False), literal_column("'false'")), else_=literal_column("'null'"))
    if kind == INTEGER_COL:
        return func.coalesce(cast(column, Text), literal_column("'null'"))
    if kind == INSTANT_COL:
        quoted = _instant(column)
    elif kind in (CODE_COL, TEXT_COL):
        quoted = type_coerce(column, String)
    elif kind in (DECIMAL_COL, DATE_COL):
        quoted = cast(column, Text)  # `_json_value`: a Decimal as its text, a JSON string
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


def _copied(engine: Engine, stmt: Select[Any], options: str, crlf: bool,
            size: int) -> Iterator[bytes]:
    with engine.connect() as conn:
        # no JIT (its compile comes before the first row); ISO dates whatever the server's
        # DateStyle
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql("SET LOCAL DateStyle = 'ISO, YMD'")
        # floats (a workbook's serial numbers) in their shortest exact form, as Python's
        conn.exec_driver_sql("SET LOCAL extra_float_digits = 1")
        # one process: a parallel plan funnels the wide rows of an ordered export through
        # its leader (Gather Merge), slower than one backend (the ledger: 7.2 s against
        # 5.7 s at 1,000,000 tasks)
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        compiled = stmt.compile(dialect=conn.dialect,
                                compile_kwargs={"render_postcompile": True})
        # the binds as the driver gets them from SQLAlchemy (an enum as its code...)
        processors: dict[str, Any] = dict(compiled._bind_processors)
        params = {name: processors[name](value) if name in processors else value
                  for name, value in compiled.construct_params().items()}
        raw: Any = conn.connection.driver_connection
        buffer = bytearray()
        rows = 0
        with raw.cursor() as cursor, cursor.copy(
                f"COPY ({compiled}) TO STDOUT ({options})", params) as copy:
            if options == BINARY_OPTIONS:
                for row in copy:
                    # a row of one field: field count (2 bytes), length (4), the text as
                    # it is; the file's header (19 bytes) comes first, its trailer (2)
                    # last
                    start = 19 if row[:11] == _SIGNATURE else 0
                    if len(row) > start + 6 and row[start:start + 2] == b"\x00\x01":
                        buffer += row[start + 6:]
                    if len(buffer) >= size:
                        yield bytes(buffer)
                        buffer.clear()
            else:
                for row in copy:  # one message a row, ending in "\n": as little as can be
                    buffer += row
                    rows += 1
                    if len(buffer) >= size:
                        yield _crlf(bytes(buffer), rows) if crlf else bytes(buffer)
                        buffer.clear()
                        rows = 0
        if buffer:
            yield _crlf(bytes(buffer), rows) if crlf else bytes(buffer)


def _crlf(chunk: bytes, rows: int) -> bytes:
    """CSV rows (`rows` of them, each ending in "\n") ending in CRLF instead, as
    `csv.writer` ends them: at once when the only line feeds are the rows' ends, else (a
    text holding a line break, quoted) read and written again by `csv`."""
    if chunk.count(b"\n") == rows:
        return chunk.replace(b"\n", b"\r\n")
    return _rewritten(chunk)


_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"  # a binary COPY's first bytes


def copy_chunks(engine: Engine, stmt: Select[Any], options: str = CSV_OPTIONS,
                crlf: bool = False, size: int = CHUNK) -> Generator[bytes, None, None]:
    """The rows `COPY (stmt) TO STDOUT (options)` writes (each ending in "\n"; `crlf`:
    CSV rows ending in CRLF, `_crlf`; binary: each row's one field as it is), in chunks
    of whole rows of about `size` bytes, read on a connection of its own in a thread of
    their own a chunk or two ahead (`streaming.read_ahead`). PostgreSQL only. Errors of
    the query are raised at the first chunk; closing stops the COPY (psycopg cancels it)
    and returns the connection."""
    return read_ahead(lambda: _copied(engine, stmt, options, crlf, size))


# ---------------------------------------------------------------- control characters


# the UTF-8 of what `forms.strip_control` drops: C0 controls but tab, LF and CR; DEL;
# C1 controls (C2 80–9F); U+FFFE, U+FFFF (EF BF BE/BF); no surrogate is valid UTF-8
_CONTROL_UTF8 = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\xef\xbf[\xbe\xbf]")
_PLAIN_BYTES = bytes(b for b in range(256)
                     if not (b <= 0x08 or b in (0x0B, 0x0C) or 0x0E <= b <= 0x1F
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
    text_columns = [i for i, kind in enumerate(kinds) if kind == TEXT]

    def clean(row: list[str]) -> list[str]:
        for i in text_columns:
            row[i] = safe_text(row[i])
        return row

    return _rewritten(chunk, clean)


def _rewritten(chunk: bytes, change: Any = None) -> bytes:
    """CSV rows read by `csv` and written again by `csv.writer` (CRLF-ended, its quoting),
    each changed by `change(row)` first when given."""
    rows = csv.reader(io.StringIO(chunk.decode(), newline=""))
    out = io.StringIO()
    csv.writer(out).writerows(rows if change is None else map(change, rows))
    return out.getvalue().encode()


def headed(head: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """`head`, then `chunks`: the first chunk read before anything is answered, so a
    failing query fails before a response starts (`cells.primed`)."""
    try:
        yield head + next(chunks, b"")
        yield from chunks
    finally:
        close_source(chunks)


def csv_rows(engine: Engine, cells: Select[Any], kinds: Sequence[str]
             ) -> Generator[bytes, None, None]:
    """The CSV rows (no header) of `cells`, a SELECT of cells rendered in SQL
    (`csv_select`, `ledger.ledger_cells_select`), as `csv.writer` writes them: written by
    COPY in chunks, a chunk holding a control character `_cleaned`. `kinds` as for
    `cells.csv_columns` (which columns are texts)."""
    chunks = copy_chunks(engine, cells, CSV_OPTIONS, crlf=True)
    try:
        for chunk in chunks:
            yield _cleaned(chunk, kinds) if _suspect(chunk) else chunk
    finally:
        chunks.close()


def ndjson_lines(engine: Engine, stmt: Select[Any], names: Sequence[str]
                 ) -> Generator[bytes, None, None] | None:
    """The NDJSON of `stmt` as `exports.as_ndjson` writes it, written by COPY in chunks;
    None when a column has no SQL rendering (`ndjson_select`)."""
    rendered = ndjson_select(stmt, names)
    if rendered is None:
        return None
    return copy_chunks(engine, rendered, LINE_OPTIONS)


# ---------------------------------------------------------------- .xlsx rows in SQL

# how a column becomes a cell of the sheet (what `cells.XlsxCells.write` makes of its
# values): a number, a boolean, a day, an instant (in the county's time zone), a text
# made safe here, or a text already made safe (`safe_text_sql`, NULL for none)
NUMBER, BOOLEAN, DAY_CELL, INSTANT, RAW_TEXT, SAFE_TEXT = (
    "number", "boolean", "day", "instant", "raw_text", "safe_text")
_EXCEL_EPOCH = "DATE '1899-12-30'"  # day 0 of Excel's 1900 system, from 1 March 1900 on


_XLSX_KINDS = {INSTANT_COL: INSTANT, CODE_COL: SAFE_TEXT, BOOLEAN_COL: BOOLEAN,
               INTEGER_COL: NUMBER, DECIMAL_COL: NUMBER, DATE_COL: DAY_CELL,
               TEXT_COL: RAW_TEXT}  # a code: never empty, never like a formula


def xlsx_kinds(stmt: Select[Any]) -> list[str] | None:
    """The cell kind of each column of `stmt`, or None when one has no SQL rendering."""
    kinds = [_kind_of(column) for column in stmt.selected_columns]
    if any(kind is None for kind in kinds):
        return None
    return [_XLSX_KINDS[kind] for kind in kinds if kind is not None]


_EXCEL_ESCAPE = "(_x[0-9a-fA-F]{4}_)"  # how Excel writes a character in XML: `_xHHHH_`


def _xml_text(text: ColumnElement[Any]) -> ColumnElement[Any]:
    """A text as a cell's XML character data, as XlsxWriter writes it: a literal `_xHHHH_`
    escaped as `_x005F_xHHHH_` (Excel would read it as the character HHHH), `&`, `<`, `>`
    escaped, a carriage return as `_x000D_` (XML would read it as a line feed; the other
    control characters `safe_text` keeps, tab and line feed, stay)."""
    literal = case((func.strpos(text, "_x") > 0,
                    func.regexp_replace(text, _EXCEL_ESCAPE, "_x005F\\1", "g")), else_=text)
    escaped = func.replace(func.replace(func.replace(literal, "&", "&amp;"), "<", "&lt;"),
                           ">", "&gt;")
    return func.replace(escaped, "\r", "_x000D_")


def _local_serial(column: ColumnElement[Any]) -> ColumnElement[Any] | None:
    """A UTC instant as Excel's serial day number of the county's wall-clock time,
    computed in XlsxWriter's order (`_datetime_to_excel_datetime`: days since 31 December
    1899, plus seconds and microseconds over 86,400, plus the day Excel gives 1900), so
    that it rounds as XlsxWriter's does."""
    local = _local_timestamp(column)
    if local is None:
        return None
    days = cast(local, Date) - literal_column("DATE '1899-12-31'")
    clock_seconds = func.extract("epoch", cast(local, Time))  # numeric: exact microseconds
    seconds = func.trunc(clock_seconds)
    micro = (clock_seconds - seconds) * 1000000
    fraction = (cast(seconds, Float) + cast(micro, Float) / 1e6) / 86400.0
    serial = days + fraction
    # as XlsxWriter: one day more after 28 February 1900 (Excel's 29 February 1900), one
    # less on 1 January 1900 (it takes that day for a time alone); the first test spares
    # the instants of this century the rest
    adjust = case((column >= literal_column("TIMESTAMP '1900-03-02'"), 1),
                  (serial > 59, 1),
                  (cast(local, Date) == literal_column("DATE '1900-01-01'"), -1), else_=0)
    return serial + adjust


def xlsx_cell_sql(value: ColumnElement[Any], kind: str, style: int, blank_style: int
                  ) -> ColumnElement[Any] | None:
    """The `<c>` element XlsxWriter writes for the value (without its optional `r`): a
    blank cell in `blank_style` for NULL (and for an empty text), `<v>` for numbers,
    booleans, days and instants (serial numbers) in `style`, an inline string
    `xml:space="preserve"`d for texts. None when the county's time zone has no SQL form."""
    blank = literal_column(f"'<c s=\"{blank_style}\"/>'", Text)

    def wrapped(head: str, inner: Any, tail: str) -> Any:
        return literal_column(f"'{head}'", Text) + inner + literal_column(f"'{tail}'", Text)

    number = (f'<c s="{style}"><v>', "</v></c>")
    inline = (f'<c s="{style}" t="inlineStr"><is><t xml:space="preserve">', "</t></is></c>")
    cell: Any
    if kind == NUMBER:
        cell = wrapped(number[0], cast(value, Text), number[1])
        if isinstance(_type_of(value), Numeric):  # a legacy NaN: no number, its text
            cell = case((value == literal_column("'NaN'::numeric"),
                         literal_column(f"'{inline[0]}NaN{inline[1]}'", Text)), else_=cell)
    elif kind == BOOLEAN:
        cell = case((value, literal_column(f"'<c s=\"{style}\" t=\"b\"><v>1</v></c>'", Text)),
                    else_=literal_column(f"'<c s=\"{style}\" t=\"b\"><v>0</v></c>'", Text))
    elif kind == DAY_CELL:
        # XlsxWriter counts from 31 December 1899 and skips Excel's 29 February 1900; it
        # writes 1 January 1900 as 0 (a time alone: `_datetime_to_excel_datetime`)
        day = case((value == literal_column("DATE '1900-01-01'"), 0),
                   (value < literal_column("DATE '1900-03-01'"),
                    value - literal_column("DATE '1899-12-31'")),
                   else_=value - literal_column(_EXCEL_EPOCH))
        cell = wrapped(number[0], cast(day, Text), number[1])
    elif kind == INSTANT:
        instant = _local_serial(value)
        if instant is None:
            return None
        cell = wrapped(number[0], cast(instant, Text), number[1])
    elif kind == RAW_TEXT:
        safe = case((_formula_start(value), literal_column("''''", String)
                     + value), else_=value)
        return case((func.coalesce(value, "") == "", blank),
                    else_=wrapped(inline[0], _xml_text(safe), inline[1]))
    else:  # SAFE_TEXT
        cell = wrapped(inline[0], _xml_text(value), inline[1])
    if not getattr(value, "nullable", True):
        return cell  # NOT NULL: no test a row
    return case((value.is_(None), blank), else_=cell)


def xlsx_rows_select(stmt: Select[Any], kinds: Sequence[str], styles: dict[str, int],
                     first_row: int, limit: int, order: int = 0, numbered: bool = False
                     ) -> Select[Any] | None:
    """`stmt`'s rows as the sheet's `<row>` elements, one a line, numbered from
    `first_row` (0-based, as XlsxWriter counts), at most `limit` of them, in the order of
    column `order` (one `stmt` is ordered by, so that the rows stream as they are read);
    `numbered`: the first column already counts the rows from 1. `kinds[i]`: the cell
    kind of column i (columns beyond `kinds` are not written). `styles`:
    `XlsxCells.styles()` (text, day, instant). None when a cell has no SQL form."""
    styles = {NUMBER: styles["text"], BOOLEAN: styles["text"], RAW_TEXT: styles["text"],
              SAFE_TEXT: styles["text"], DAY_CELL: styles["day"],
              INSTANT: styles["instant"]}
    rows = stmt.subquery()
    columns = list(rows.c)
    cells = [xlsx_cell_sql(c, kind, styles[kind], styles[RAW_TEXT])
             for c, kind in zip(columns, kinds, strict=False)]
    if any(c is None for c in cells):
        return None
    number = columns[0] if numbered else func.row_number().over(order_by=columns[order])
    line = _joined([literal_column("'<row r=\"'", Text), cast(number + first_row, Text),
                    literal_column("'\">'", Text), *cells, literal_column("'</row>\n'", Text)])
    return select(line).order_by(columns[order]).limit(limit)  # r is 1-based: n + first


def xlsx_row_chunks(engine: Engine, rows: Select[Any]) -> Generator[bytes, None, None]:
    """The `<row>` lines of `xlsx_rows_select`, each ending in "\\n", in chunks (COPY in
    binary: the XML as it is, no quoting), a line holding a control character cleaned
    (`_cleaned_xml`)."""
    chunks = copy_chunks(engine, rows, BINARY_OPTIONS)
    try:
        for chunk in chunks:
            yield _cleaned_xml(chunk) if _suspect(chunk) or _long_line(chunk) else chunk
    finally:
        chunks.close()


CELL_MAX = 32767  # UTF-16 units a cell's text holds (XlsxWriter cuts a longer one there)


def _long_line(chunk: bytes) -> bool:
    """Whether a row line of `chunk` may hold a text longer than a cell holds (no text is
    longer in UTF-16 units than its line is in UTF-8 bytes)."""
    return len(chunk) > CELL_MAX and max(map(len, chunk.split(b"\n"))) > CELL_MAX


_EXCEL_CHAR = re.compile(r"_x([0-9a-fA-F]{4})_")
_INLINE = re.compile(rb'<c s="(\d+)" t="inlineStr"><is><t xml:space="preserve">(.*?)</t></is></c>',
                     re.DOTALL)


def _cleaned_xml(chunk: bytes) -> bytes:
    """Row lines with `cells.safe_text` applied to every inline text again: the control
    characters go, and a text that then starts like a formula gets its `'` (one left
    empty stays an empty text, as XlsxWriter writes the safe text of such a value); a
    text longer than a cell holds is cut at `CELL_MAX` UTF-16 units, as XlsxWriter cuts
    it."""

    def clean(match: re.Match[bytes]) -> bytes:
        # the text as written (`_xHHHH_` read back, a carriage return among them), so
        # that one starting like a formula once its control characters go is found
        text = _EXCEL_CHAR.sub(lambda m: chr(int(m[1], 16)), html.unescape(match[2].decode()))
        safe = safe_text(text)
        if len(safe) > CELL_MAX // 2 and _utf16_len(safe) > CELL_MAX:
            safe = _utf16_truncate(safe, CELL_MAX)
        if safe == text:
            return match[0]
        escaped = _EXCEL_CHAR.sub(r"_x005F\g<0>", safe).replace("\r", "_x000D_")
        escaped = escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return (b'<c s="' + match[1] + b'" t="inlineStr"><is><t xml:space="preserve">'
                + escaped.encode() + b"</t></is></c>")

    return _INLINE.sub(clean, chunk)
