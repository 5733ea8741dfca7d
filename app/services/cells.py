"""The one writer of cells that people open (CSV and XLSX exports).

Every user text is written as text: never a formula (a text that would start with `=`,
`+`, `-`, `@`, tab or carriage return is prefixed with `'`), never a link, and without the
control characters a Word or Excel file cannot hold (legacy rows may still have them).
Numbers, dates and booleans are typed cells in XLSX. NDJSON and the JSON API do not come
here: they stay byte-faithful.
"""

import csv
import io
import itertools
import json
import stat
import zlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import islice
from typing import Any

import xlsxwriter
from sqlalchemy import TypeDecorator
from sqlalchemy import types as sa_types
from stream_zip import ZIP_32, MemberFile, stream_zip
from xlsxwriter.format import Format
from xlsxwriter.packager import Packager
from xlsxwriter.worksheet import Worksheet

from app.models.forms import strip_control

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 64 * 1024  # bytes of .xlsx sent at once
# deflate level of the .xlsx parts: 1, three times as fast as zipfile's default 6 on a
# sheet's XML (480 against 135 MB/s here) for files about 5 % larger
ZIP_LEVEL = 1


def safe_text(value: str) -> str:
    """`value` as a cell's text: control characters dropped, a would-be formula quoted."""
    text = strip_control(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _plain(value: Any) -> Any:
    """An enum as its code, a list or dict as JSON text; anything else unchanged."""
    value = getattr(value, "value", value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def csv_cell(value: Any) -> str:
    """A value as CSV text: numbers and dates in their plain form, texts made safe."""
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return str(value)
    return safe_text(str(value))


INT, TEXT, DAY, ANY = "int", "text", "day", "any"
_FORMULA_FIRST = frozenset(c for c in FORMULA_START if c.isprintable())


def csv_kind(sql_type: Any) -> str:
    """How `csv_columns` writes a column of this SQL type: INT (integers), TEXT (plain
    strings), DAY (dates and instants) or ANY (`csv_cell` for each value)."""
    if isinstance(sql_type, TypeDecorator):
        sql_type = sql_type.impl
    if isinstance(sql_type, sa_types.Enum):  # before String: an Enum is a String
        return ANY
    if isinstance(sql_type, sa_types.Integer):
        return INT
    if isinstance(sql_type, sa_types.String):
        return TEXT
    if isinstance(sql_type, sa_types.Date | sa_types.DateTime):
        return DAY
    return ANY


def csv_columns(kinds: Sequence[str], rows: Sequence[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    """The cells of a batch of rows for `csv.writer`, converted column by column: the same
    text `csv_cell` gives for each value (the writer writes an int as `str` and None as
    nothing), with the work done once per column instead of once per cell.

    `kinds[i]` (see `csv_kind`) promises the values of column i: INT: int or None (never a
    bool); TEXT: str or None; DAY: date, datetime, None or ""; ANY: anything."""
    if not rows:
        return iter(())
    columns: list[Sequence[Any]] = []
    for kind, values in zip(kinds, zip(*rows, strict=True), strict=True):
        if kind == INT:
            columns.append(values)
        elif kind == TEXT:
            # printable text not starting like a formula is its own safe text
            columns.append(["" if v is None else v
                            if v.isprintable() and v[:1] not in _FORMULA_FIRST
                            else safe_text(v) for v in values])
        elif kind == DAY:
            columns.append([v.isoformat() if v else "" for v in values])
        else:
            columns.append([csv_cell(v) for v in values])
    return zip(*columns, strict=True)


def csv_head(columns: Sequence[str]) -> bytes:
    """A CSV's first bytes: the UTF-8 BOM (so Excel reads the Chinese) and the header row."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    csv.writer(buffer).writerow(columns)
    return buffer.getvalue().encode()


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """`items` in lists of `size` (the last may be shorter; none empty)."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


class XlsxCells:
    """Typed cells on one worksheet: text as text, numbers as numbers, dates as dates."""

    def __init__(self, book: xlsxwriter.Workbook, sheet: Worksheet,
                 base: dict[str, Any] | None = None) -> None:
        base = base or {}
        self.sheet = sheet
        self.text: Format = book.add_format(base)
        self.day: Format = book.add_format({**base, "num_format": "yyyy-mm-dd"})
        self.instant: Format = book.add_format({**base, "num_format": "yyyy-mm-dd hh:mm:ss"})

    def styles(self) -> dict[str, int]:
        """The format index (`s` of a `<c>`) of texts and numbers, days and instants."""
        return {"text": self.text._get_xf_index(), "day": self.day._get_xf_index(),
                "instant": self.instant._get_xf_index()}

    def write(self, row: int, column: int, value: Any) -> None:
        """Write one value as the cell of its type."""
        value = _plain(value)
        sheet = self.sheet
        if value is None or value == "":
            sheet.write_blank(row, column, None, self.text)
        elif isinstance(value, bool):
            sheet.write_boolean(row, column, value, self.text)
        elif isinstance(value, int | float | Decimal):
            if value != value:  # a legacy NaN (PostgreSQL's numeric holds one): its text
                sheet.write_string(row, column, "NaN", self.text)
            else:
                sheet.write_number(row, column, float(value), self.text)
        elif isinstance(value, datetime):
            utc = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
            sheet.write_datetime(row, column, utc, self.instant)
        elif isinstance(value, date):
            sheet.write_datetime(row, column, datetime(value.year, value.month, value.day),
                                 self.day)
        else:
            sheet.write_string(row, column, safe_text(str(value)), self.text)

    def write_row(self, row: int, values: Iterable[Any]) -> None:
        """Write one row of values as typed cells. On the last row a sheet holds (Excel's
        1,048,576 rows, 0-based `LAST_ROW`) it writes `SHEET_FULL_NOTE` instead and raises
        SheetFull: rows past it would be dropped without a word."""
        if row >= LAST_ROW:
            self.sheet.write_string(row, 0, SHEET_FULL_NOTE, self.text)
            raise SheetFull(row)
        for column, value in enumerate(values):
            self.write(row, column, value)


LAST_ROW = 1_048_575  # the 0-based index of a worksheet's last row (Excel 2007 and later)
SHEET_FULL_NOTE = ("已达到 Excel 单表上限 1,048,576 行,以下记录未写入本表;"
                   "请缩小筛选范围分批导出,或导出 CSV")


class SheetFull(Exception):
    """A worksheet has no row left; `args[0]` is the row the note was written on."""


def small_workbook() -> tuple[xlsxwriter.Workbook, io.BytesIO]:
    """A workbook written in memory, for the small tables (templates, rankings, checks):
    nothing touches the temporary folder. Close the book, then take the buffer's value."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False, "strings_to_numbers": False})
    return book, out


class StreamedSheet(Worksheet):
    """A constant-memory worksheet whose finished rows go to an in-memory buffer that
    `xlsx_chunks` drains as they come, instead of XlsxWriter's temporary file.

    XlsxWriter itself writes every piece of XML: the sheet's head (its own `_write_*`
    methods up to `<sheetData>`), the rows (`_write_single_row`, inline strings as in
    constant_memory mode) and its tail (the `_write_*` methods after `</sheetData>`).
    The sheet's `<dimension>` is left out (optional; not known before the rows end)."""

    def _initialize(self, init_data: dict[str, Any]) -> None:
        # an in-memory workbook turns constant_memory off and would not open a temp file
        super()._initialize({**init_data, "constant_memory": False})
        self.constant_memory = True
        self.row_data_fh = io.StringIO()
        self.row_data_fh_closed = False
        self.fh = self.row_data_fh

    def _opt_close(self) -> None:  # nothing on disk to close
        pass

    def _opt_reopen(self) -> None:  # nothing on disk to reopen
        pass

    def _assemble_xml_file(self) -> None:
        # the sheet was streamed already (head, rows, tail); the packager's copy stays empty
        pass

    def buffered(self) -> int:
        """Characters of finished rows waiting in the buffer."""
        return self.row_data_fh.tell()

    def drain(self) -> bytes:
        """The finished rows written since the last drain, as UTF-8."""
        buffer = self.row_data_fh
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode()

    def _xml_part(self, *writers: Any) -> bytes:
        out = io.StringIO()
        self.fh = out
        try:
            for write in writers:
                write()
        finally:
            self.fh = self.row_data_fh
        return out.getvalue().encode()

    def head(self) -> bytes:
        """The sheet's XML up to and including `<sheetData>`: call it once the columns,
        panes and print setup are set (they are written here), before or after rows."""
        return self._xml_part(
            self._xml_declaration, self._write_worksheet, self._write_sheet_pr,
            self._write_sheet_views, self._write_sheet_format_pr, self._write_cols,
            lambda: self._xml_start_tag("sheetData"))

    def tail(self) -> bytes:
        """The last row, then the XML from `</sheetData>` to the end (margins, page
        setup, header and footer...)."""
        self._write_single_row()
        last = self.drain()
        return last + self._xml_part(
            lambda: self._xml_end_tag("sheetData"),
            self._write_sheet_protection, self._write_protected_ranges,
            self._write_auto_filter, self._write_merge_cells, self._write_conditional_formats,
            self._write_data_validations, self._write_hyperlinks, self._write_print_options,
            self._write_page_margins, self._write_page_setup, self._write_header_footer,
            self._write_row_breaks, self._write_col_breaks, self._write_ignored_errors,
            self._write_drawings, self._write_legacy_drawing, self._write_legacy_drawing_hf,
            self._write_picture, self._write_table_parts, self._write_ext_list,
            lambda: self._xml_end_tag("worksheet"))


class _PartsPackager(Packager):
    """XlsxWriter's packager keeping the parts it writes (in memory) for `xlsx_chunks`."""

    parts: list[tuple[Any, str, bool]]

    def _create_package(self) -> list[tuple[Any, str, bool]]:
        self.parts = super()._create_package()
        return []  # the workbook's own zip file gets nothing


class StreamedWorkbook(xlsxwriter.Workbook):
    """A workbook of one `StreamedSheet` written as it goes: nothing touches the disk.

    Formats, columns, panes, print setup and header rows are set on `sheet` first; then
    `xlsx_chunks(book, rows_written)` answers the .xlsx bytes while the rows are written."""

    def __init__(self, sheet_name: str) -> None:
        super().__init__(io.BytesIO(), {"in_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False, "strings_to_numbers": False})
        self.sheet: StreamedSheet = self.add_worksheet(sheet_name[:31],
                                                       worksheet_class=StreamedSheet)
        self.sheet.select()  # the one sheet, selected (its view is written before close)
        self.packager = _PartsPackager()

    def _get_packager(self) -> Packager:
        return self.packager

    def other_parts(self) -> list[tuple[str, bytes]]:
        """Close the book; its parts other than the (already streamed) sheet, as
        (name in the package, bytes): workbook, styles, content types, rels, docProps.
        ValueError if another sheet was added."""
        if self.worksheets() != [self.sheet]:
            raise ValueError("a streamed workbook holds its one streamed sheet only")
        self.sheet.fh = io.StringIO()  # the packager's last-row flush goes nowhere
        self.close()
        return [(name, data.getvalue() if binary else data.getvalue().encode())
                for data, name, binary in self.packager.parts if name != SHEET_PART]


SHEET_PART = "xl/worksheets/sheet1.xml"
ZIP_TIME = datetime(1980, 1, 1)  # what XlsxWriter stamps on the parts of in-memory books
ZIP_MODE = stat.S_IFREG | 0o644
DRAIN_AT = 64 * 1024  # characters of finished rows sent on at once


def xlsx_chunks(book: StreamedWorkbook, rows_written: Iterable[object]) -> Iterator[bytes]:
    """The .xlsx file of `book` as it is written: the ZIP (by stream-zip) opens with the
    sheet, whose rows are deflated and sent while `rows_written` (an iterator that writes
    the rows on `book.sheet`, one step a row) is consumed; then the other parts.

    Memory stays flat: finished rows are held until about 64 K characters have gathered.
    Nothing is written to disk, so an aborted download leaves nothing behind; closing the
    answer closes `rows_written`. Errors of `rows_written` propagate (the download is cut
    off)."""
    sheet = book.sheet
    steps = iter(rows_written)

    def sheet_xml() -> Iterator[bytes]:
        yield sheet.head()
        try:
            for _ in steps:
                if sheet.buffered() >= DRAIN_AT:
                    yield sheet.drain()
        except SheetFull:
            pass  # the note is its last row; the rows after it are not read
        yield sheet.drain()
        yield sheet.tail()

    # the first row is written before the first byte: a failing query fails the request
    # instead of cutting a download off (`primed`)
    return _zipped(book, sheet_xml(), steps, lambda: next(steps, None))


def xlsx_rows_chunks(book: StreamedWorkbook, rows_xml: Iterator[bytes], room: int,
                     note_format: Format) -> Iterator[bytes]:
    """The .xlsx file of `book` as `xlsx_chunks` streams it, its rows after those written
    on `book.sheet` (a title, the header) given as XML: `rows_xml` yields chunks of
    `<row>` elements each ending in "\n" (`pg_copy.xlsx_rows_select`, which writes them
    in the database; give it one row more than `room`). `room`: the rows the sheet has
    left before `LAST_ROW`; a row beyond them is not written: `SHEET_FULL_NOTE` is, on
    `LAST_ROW`, in `note_format`."""
    sheet = book.sheet
    pending: list[bytes] = []

    def sheet_xml() -> Iterator[bytes]:
        yield sheet.head()
        sheet._write_single_row()  # the rows written on the sheet, before the others
        yield sheet.drain()
        left = room
        for chunk in itertools.chain(pending, rows_xml):
            lines = chunk.count(b"\n")
            if lines > left:  # the sheet is full: the note instead of the rest
                cut = 0
                for _ in range(left):
                    cut = chunk.index(b"\n", cut) + 1
                yield chunk[:cut]
                sheet.write_string(LAST_ROW, 0, SHEET_FULL_NOTE, note_format)
                break
            left -= lines
            yield chunk
        yield sheet.tail()

    def first() -> None:  # read before the first byte, as `xlsx_chunks` does
        pending.extend(islice(rows_xml, 1))

    return _zipped(book, sheet_xml(), rows_xml, first)


def _zipped(book: StreamedWorkbook, sheet_xml: Iterator[bytes], source: Iterator[Any],
            prime: Any) -> Iterator[bytes]:
    """The ZIP of `book` (its sheet from `sheet_xml`, then its other parts); `prime()` is
    called before the first byte; `source` is closed when the answer ends or is
    aborted."""

    def members() -> Iterator[MemberFile]:
        # Zip32, not Zip64: not every reader of OOXML packages (Office, WPS, .NET's
        # System.IO.Packaging) takes Zip64 records; a sheet of Excel's 1,048,576 rows stays
        # under 4 GiB unless its rows average over 4 KB (stream-zip raises then, cutting the
        # download off rather than writing a broken file)
        yield SHEET_PART, ZIP_TIME, ZIP_MODE, ZIP_32, sheet_xml
        for name, data in book.other_parts():
            yield name, ZIP_TIME, ZIP_MODE, ZIP_32, (data,)

    zipped = stream_zip(members(), chunk_size=CHUNK, get_compressobj=_deflate,
                        extended_timestamps=False)

    def chunks() -> Iterator[bytes]:
        try:
            prime()
            yield from zipped
        finally:  # done or aborted: stop the rows now (stream-zip's own generators may
            # wait for the garbage collector), and with them their database reader
            close_source(source)

    return chunks()


def close_source(items: Iterable[Any]) -> None:
    """Close `items` if it can be closed (a generator, a reader of rows)."""
    close = getattr(items, "close", None)
    if close is not None:
        close()


def _deflate() -> "zlib._Compress":
    return zlib.compressobj(level=ZIP_LEVEL, wbits=-zlib.MAX_WBITS)


def primed(rows: Iterator[Any]) -> Iterator[Any]:
    """`rows` with its first row already read, so a failing query fails before the
    response starts instead of cutting a download off."""
    try:
        first = next(rows)
    except StopIteration:
        return iter(())

    def chained() -> Iterator[Any]:
        try:
            yield first
            yield from rows
        finally:  # closed after the first row (an aborted download): close `rows` too
            close_source(rows)

    return chained()
