"""The one writer of cells that people open (CSV and XLSX exports).

Every user text is written as text: never a formula (a text that would start with `=`,
`+`, `-`, `@`, tab or carriage return is prefixed with `'`), never a link, and without the
control characters a Word or Excel file cannot hold (legacy rows may still have them).
Numbers, dates and booleans are typed cells in XLSX. NDJSON and the JSON API do not come
here: they stay byte-faithful.
"""

import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from app.models.forms import strip_control

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 256 * 1024


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


class XlsxCells:
    """Typed cells on one worksheet: text as text, numbers as numbers, dates as dates."""

    def __init__(self, book: xlsxwriter.Workbook, sheet: Worksheet,
                 base: dict[str, Any] | None = None) -> None:
        base = base or {}
        self.sheet = sheet
        self.text: Format = book.add_format(base)
        self.day: Format = book.add_format({**base, "num_format": "yyyy-mm-dd"})
        self.instant: Format = book.add_format({**base, "num_format": "yyyy-mm-dd hh:mm:ss"})

    def write(self, row: int, column: int, value: Any) -> None:
        """Write one value as the cell of its type."""
        value = _plain(value)
        sheet = self.sheet
        if value is None or value == "":
            sheet.write_blank(row, column, None, self.text)
        elif isinstance(value, bool):
            sheet.write_boolean(row, column, value, self.text)
        elif isinstance(value, int | float | Decimal):
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
        for column, value in enumerate(values):
            self.write(row, column, value)


def small_workbook() -> tuple[xlsxwriter.Workbook, io.BytesIO]:
    """A workbook written in memory, for the small tables (templates, rankings, checks):
    nothing touches the temporary folder. Close the book, then take the buffer's value."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False, "strings_to_numbers": False})
    return book, out


def new_workbook() -> tuple[xlsxwriter.Workbook, IO[bytes]]:
    """A constant-memory workbook written to an unnamed temporary file: nothing is left in
    the temporary folder however the download ends (done, aborted or failed)."""
    out = tempfile.TemporaryFile(prefix="export-", suffix=".xlsx")  # noqa: SIM115 (streamed)
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False, "strings_to_numbers": False})
    return book, out


def finished(book: xlsxwriter.Workbook, out: IO[bytes]) -> IO[bytes]:
    """Close `book` and answer its file, rewound for reading; the file is closed on error."""
    try:
        book.close()
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return out


def file_chunks(out: IO[bytes], chunk: int = CHUNK) -> Iterator[bytes]:
    """Stream a finished workbook's file; it is closed (and so gone) at the end."""
    try:
        while data := out.read(chunk):
            yield data
    finally:
        out.close()


def primed(rows: Iterator[Any]) -> Iterator[Any]:
    """`rows` with its first row already read, so a failing query fails before the
    response starts instead of cutting a download off."""
    try:
        first = next(rows)
    except StopIteration:
        return iter(())

    def chained() -> Iterator[Any]:
        yield first
        yield from rows

    return chained()
