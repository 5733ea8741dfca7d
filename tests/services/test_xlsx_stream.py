"""The .xlsx exports are streamed as they are written (cells.xlsx_chunks): no database here,
only the writers fed with rows."""

import io
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import xlsxwriter
from openpyxl import load_workbook

from app.services.cells import XlsxCells
from app.services.exports import as_xlsx
from app.services.ledger import HEADERS, xlsx_stream

COLUMNS = ("id", "name", "amount", "ok", "due_on", "at", "note")


def _table_rows(n: int) -> Iterator[tuple[Any, ...]]:
    for i in range(1, n + 1):
        yield (i, f"支部{i}", Decimal("12.5"), i % 2 == 0, date(2030, 6, 30),
               datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC), f"=HYPERLINK(\"x\")\x07{i}")


def _ledger_row(n: int) -> list[Any]:
    return [n, "甲一村党支部", "巡察反馈/班子不团结", "@问题", "措施", "村党支部", "张书记",
            date(2030, 6, 30), "整改中", "", "", ""]


def test_a_table_export_opens_with_typed_safe_cells() -> None:
    book = load_workbook(io.BytesIO(b"".join(as_xlsx(COLUMNS, _table_rows(3), "tasks"))))
    assert book.sheetnames == ["tasks"]
    sheet = book.active
    assert [c.value for c in sheet[1]] == list(COLUMNS) and sheet[1][0].font.b
    row = [c.value for c in sheet[2]]
    assert row[0] == 1 and row[1] == "支部1" and row[2] == 12.5 and row[3] is False
    assert row[4] == datetime(2030, 6, 30) and sheet["E2"].number_format == "yyyy-mm-dd"
    assert isinstance(row[5], datetime)  # in the pages' time zone, no tzinfo
    assert sheet["F2"].number_format == "yyyy-mm-dd hh:mm:ss"
    # a would-be formula stays text, no link, the control character dropped
    assert row[6] == "'=HYPERLINK(\"x\")1" and sheet["G2"].data_type == "s"
    assert sheet["G2"].hyperlink is None
    assert sheet.max_row == 4


def test_the_ledger_opens_with_its_header_rows_and_print_setup() -> None:
    rows = iter([_ledger_row(1), _ledger_row(2)])
    book = load_workbook(io.BytesIO(b"".join(xlsx_stream(rows, "甲镇整改台账"))))
    sheet = book["整改台账"]
    assert sheet["A1"].value == "甲镇整改台账"
    assert [c.value for c in sheet[2]] == HEADERS
    assert [c.value for c in sheet[3]][:4] == [1, "甲一村党支部", "巡察反馈/班子不团结", "'@问题"]
    assert sheet["H3"].value == datetime(2030, 6, 30) and sheet["A4"].value == 2
    assert sheet.print_title_rows == "$1:$2"
    assert sheet.freeze_panes == "A3"
    assert sheet.page_setup.orientation == "landscape" and int(sheet.page_setup.paperSize) == 9
    assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
    assert int(sheet.page_setup.fitToHeight) == 0
    assert sheet.oddFooter.center.text == "第 &P 页,共 &N 页"
    assert sheet.column_dimensions["D"].width == pytest.approx(36.7109375)


def test_every_part_is_what_xlsxwriter_writes_itself_but_the_dimension() -> None:
    """The streamed package holds the same XML as XlsxWriter's own constant-memory file."""
    def fill(book: Any, sheet: Any) -> None:
        book.set_properties({"created": datetime(2026, 11, 30)})
        sheet.set_column(0, 0, 12)
        sheet.freeze_panes(1, 0)
        sheet.repeat_rows(0)
        sheet.set_footer("&C第 &P 页")
        sheet.write_row(0, 0, COLUMNS, book.add_format({"bold": True}))

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False, "strings_to_numbers": False})
    sheet = book.add_worksheet("tasks")
    fill(book, sheet)
    cells = XlsxCells(book, sheet)
    for r, row in enumerate(_table_rows(50), start=1):
        cells.write_row(r, row)
    book.close()
    theirs = zipfile.ZipFile(out)

    from app.services.cells import StreamedWorkbook, xlsx_chunks

    streamed = StreamedWorkbook("tasks")
    fill(streamed, streamed.sheet)
    streamed_cells = XlsxCells(streamed, streamed.sheet)

    def written() -> Iterator[None]:
        for r, row in enumerate(_table_rows(50), start=1):
            streamed_cells.write_row(r, row)
            yield None

    ours = zipfile.ZipFile(io.BytesIO(b"".join(xlsx_chunks(streamed, written()))))
    assert ours.testzip() is None
    assert sorted(ours.namelist()) == sorted(theirs.namelist())
    for name in theirs.namelist():
        expected = theirs.read(name)
        if name == "xl/worksheets/sheet1.xml":
            expected = expected.replace(b'<dimension ref="A1:G51"/>', b"")
        assert ours.read(name) == expected, name


def _failing_after(n: int) -> Iterator[tuple[Any, ...]]:
    yield from _table_rows(n)
    raise RuntimeError("the database went away")


def test_the_first_bytes_come_before_the_rows_end() -> None:
    chunks = as_xlsx(COLUMNS, _failing_after(20_000), "tasks")
    first = next(chunks)
    assert first.startswith(b"PK\x03\x04") and b"xl/worksheets/sheet1.xml" in first
    with pytest.raises(RuntimeError, match="went away"):
        for _ in chunks:
            pass


def test_a_failing_query_fails_before_the_first_byte() -> None:
    """The first chunk is asked for before the response starts (`primed`): the rows'
    first step runs by then, so a query that fails answers an error, not a cut file."""
    def failing() -> Iterator[tuple[Any, ...]]:
        raise RuntimeError("no such column")
        yield ()

    with pytest.raises(RuntimeError, match="no such column"):
        next(as_xlsx(COLUMNS, failing(), "tasks"))


def test_the_ledger_streams_too() -> None:
    def failing() -> Iterator[list[Any]]:
        for n in range(1, 20_001):
            yield _ledger_row(n)
        raise RuntimeError("cut off")

    chunks = xlsx_stream(failing(), "台账")
    assert next(chunks).startswith(b"PK\x03\x04")
    with pytest.raises(RuntimeError, match="cut off"):
        list(chunks)


def test_an_aborted_download_leaves_no_file(tmp_path: Any, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    chunks = as_xlsx(COLUMNS, _table_rows(50_000), "tasks")
    next(chunks)
    next(chunks)
    chunks.close()  # the client went away
    assert list(tmp_path.iterdir()) == []
    b"".join(as_xlsx(COLUMNS, _table_rows(100), "tasks"))  # a finished one neither
    assert list(tmp_path.iterdir()) == []


def test_a_sheet_that_reaches_excels_last_row_says_so_instead_of_dropping_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.services import cells

    monkeypatch.setattr(cells, "LAST_ROW", 4)  # Excel's 1,048,576 rows, scaled down
    read: list[int] = []

    def rows() -> Iterator[tuple[Any, ...]]:
        for row in _table_rows(10):
            read.append(row[0])
            yield row

    data = b"".join(as_xlsx(COLUMNS, rows(), "tasks"))
    sheet = load_workbook(io.BytesIO(data)).active
    assert [sheet.cell(r, 1).value for r in range(2, 5)] == [1, 2, 3]
    assert sheet["A5"].value == cells.SHEET_FULL_NOTE and sheet.max_row == 5
    assert read == [1, 2, 3, 4]  # the rows after the note are not read
    with zipfile.ZipFile(io.BytesIO(data)) as package:  # no Zip64 record anywhere
        assert package.testzip() is None
    assert b"PK\x06\x06" not in data and b"PK\x06\x07" not in data
