"""Exports written by PostgreSQL's COPY (`app/services/pg_copy.py`) give the bytes of the
Python writers, on rows made to trip them: formula starts, control characters of every
class `strip_control` drops, quotes, commas, line breaks, empty texts, instants with and
without a fraction (and fractions ending in zeros), booleans, negative decimals."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from app.services import pg_copy
from app.services.actors import SYSTEM
from app.services.exports import (
    EXPORTS,
    as_csv,
    as_ndjson,
    csv_export,
    csv_kinds,
    export_select,
    ndjson_export,
    row_batches,
)
from tests.factories import (
    committed,
    make_branch,
    make_campaign,
    make_feedback_form,
    make_problem,
    make_task,
    make_township,
)

TRICKY = [
    "=1+1", "+8613800000000", "-5", "@SUM(A1)", "\t制表开头", "\r回车开头", "a,b", 'say "hi"',
    "第一行\n第二行", "crlf\r\n下一行", "", "  前导空格", "\\.", "反斜杠\\n", "ctl\x01x",
    "\x01=cmd()", "del\x7fx", "c1\x85x", "非字符\ufffex", "\uffff", "全角￥100", "°C·",
    "emoji😀", "\x01", "'已有引号", "普通文本",
]
CLEAN = [t for t in TRICKY if t.isprintable() or "\n" in t or "\t" in t or "\r" in t]
INSTANTS = [
    datetime(2026, 11, 30, 8, 0, 0, tzinfo=UTC),  # no fraction: isoformat writes none
    datetime(2026, 11, 30, 8, 0, 1, 120000, tzinfo=UTC),  # PostgreSQL would write .12
    datetime(2026, 11, 30, 8, 0, 2, 5, tzinfo=UTC),
    datetime(1999, 1, 2, 3, 4, 5, 999999, tzinfo=UTC),
]


@pytest.fixture
def postgres(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    return engine


def _arrange(engine, texts: list[str]) -> None:
    with committed(engine) as s:
        campaign = make_campaign(s)
        township = make_township(s)
        for i, value in enumerate(texts):
            branch = make_branch(s, township, collective_income_wan=Decimal(f"-{i}.05"),
                                 secretary_is_director=i % 2 == 0)
            problem = make_problem(s, campaign, township, branch=branch)
            task = make_task(s, problem)
            make_feedback_form(s, campaign, branch)
            at = INSTANTS[i % len(INSTANTS)].replace(tzinfo=None)
            # legacy rows: written past the input checks, as an old import could have
            s.execute(text(
                "UPDATE task SET title = :t, description = :d, responsible_unit = :u, "
                "responsible_person = NULL, submitted_by = :e, submitted_at = :at, "
                "updated_at = :at2, verified_at = NULL WHERE id = :id"),
                {"t": value or "-", "d": texts[(i + 1) % len(texts)], "u": value,
                 "e": texts[(i + 2) % len(texts)] or None, "at": at,
                 "at2": INSTANTS[(i + 1) % len(INSTANTS)].replace(tzinfo=None), "id": task.id})
            s.execute(text("UPDATE branch SET notes = :n, secretary_name = :s, updated_at = :at "
                           "WHERE id = :id"), {"n": value, "s": value[:20], "at": at,
                                               "id": branch.id})


def _python_csv(engine, spec, stmt) -> bytes:
    return b"".join(as_csv(spec.columns, csv_kinds(stmt), row_batches(engine, stmt)))


def _python_ndjson(engine, spec, stmt) -> bytes:
    return b"".join(as_ndjson(spec.columns, csv_kinds(stmt), row_batches(engine, stmt)))


@pytest.mark.parametrize("texts", [TRICKY, CLEAN], ids=["with-control-characters", "clean"])
def test_copy_writes_the_bytes_of_the_python_writers(postgres, texts):
    _arrange(postgres, texts)
    copied = set()
    for name, spec in EXPORTS.items():
        stmt = export_select(spec, SYSTEM, {})
        if pg_copy.csv_select(stmt) is not None:
            copied.add(name)
        assert b"".join(csv_export(postgres, spec.columns, stmt)) == \
            _python_csv(postgres, spec, stmt), name
        assert b"".join(ndjson_export(postgres, spec.columns, stmt)) == \
            _python_ndjson(postgres, spec, stmt), name
    # every table but those with a JSON column (Python's key order) goes through COPY
    assert set(EXPORTS) - copied == {"screenings", "rectifications", "acceptances"}


def test_tasks_and_branches_are_copied_not_written_in_python(postgres):
    for name in ("tasks", "branches", "feedback-forms"):
        stmt = export_select(EXPORTS[name], SYSTEM, {})
        assert pg_copy.csv_select(stmt) is not None, name
        assert pg_copy.ndjson_select(stmt, EXPORTS[name].columns) is not None, name


def test_a_filtered_and_scoped_copy_binds_its_parameters(postgres):
    _arrange(postgres, CLEAN[:4])
    with committed(postgres) as s:
        township_id = s.execute(text("SELECT max(township_id) FROM task")).scalar_one()
    spec = EXPORTS["tasks"]
    stmt = export_select(spec, SYSTEM, {"township_id": str(township_id), "status": "pending"})
    body = b"".join(csv_export(postgres, spec.columns, stmt))
    assert body == _python_csv(postgres, spec, stmt)
    assert body.count(b"\r\n") == 1 + 4


def test_suspect_finds_every_character_strip_control_drops():
    from app.models.forms import strip_control

    dropped = [chr(c) for c in range(0x110000)
               if not 0xD800 <= c <= 0xDFFF and strip_control(chr(c)) == ""]
    assert len(dropped) == 9 + 2 + 18 + 33 + 2  # C0 but tab/LF/CR, DEL and C1, FFFE/F
    for ch in dropped:
        assert pg_copy._suspect(("正文" + ch + "正文").encode()), hex(ord(ch))
    for kept in ("\t", "\n", "\r", "\u00a0", "°", "￥", "\uffef", "\ufffd", "正文"):
        assert not pg_copy._suspect(("a" + kept + "b").encode()), hex(ord(kept[0]))


def _arrange_ledger(engine) -> None:
    """Tasks of two townships with notes (the latest live one counts), files given twice
    or deleted, verified with and without a note, overdue, township-wide, an unknown
    category, and texts made to trip the cells."""
    with committed(engine) as s:
        campaign = make_campaign(s)
        townships = [make_township(s), make_township(s)]
        for i, value in enumerate(TRICKY):
            township = townships[i % 2]
            branch = make_branch(s, township, name=value or "-") if i % 3 else None
            problem = make_problem(s, campaign, township, branch=branch,
                                   category="rules_ignored" if i % 4 else f"自定{value}",
                                   source=("screening", "feedback", "inspection")[i % 3])
            task = make_task(s, problem, title=value or "-",
                             description=TRICKY[(i + 3) % len(TRICKY)] or None,
                             responsible_unit=value or None)
            at = INSTANTS[i % len(INSTANTS)].replace(tzinfo=None)
            s.execute(text(
                "UPDATE task SET status = :st, due_on = :due, verified_at = :at, "
                "verified_by = :by, status_note = :sn, title = :t WHERE id = :id"),
                {"st": ("pending", "in_progress", "submitted", "verified")[i % 4],
                 "due": datetime(2020 + i % 12, 1, 1).date(), "at": at if i % 4 == 3 else None,
                 "by": value or None, "sn": TRICKY[(i + 5) % len(TRICKY)] or None,
                 "t": value or "-", "id": task.id})
            for n in range(i % 3):  # 0, 1 or 2 notes; the second of two deleted when i % 5
                s.execute(text(
                    "INSERT INTO progress_update (created_at, updated_at, version, task_id, "
                    "township_id, author, note, deleted_at) VALUES (:at, :at, 1, :task, :tw, "
                    "'书记', :note, :gone)"),
                    {"at": at, "task": task.id, "tw": township.id,
                     "note": TRICKY[(i + n) % len(TRICKY)], "gone": at if n and i % 5 else None})
            update_id = s.execute(text("SELECT max(id) FROM progress_update")).scalar()
            for n in range(i % 4):  # the second file repeats the first's content
                s.execute(text(
                    "INSERT INTO attachment (created_at, updated_at, version, update_id, "
                    "task_id, township_id, file_name, content_type, size, sha256, storage_key, "
                    "deleted_at) VALUES (:at, :at, 1, :u, :task, :tw, :name, 'image/jpeg', 1, "
                    ":sha, :key, :gone)"),
                    {"at": INSTANTS[(i + n) % len(INSTANTS)].replace(tzinfo=None),
                     "u": update_id, "task": task.id, "tw": township.id,
                     "name": f"{value}照片{n}.jpg", "sha": f"{i:060d}{(0, 0, 2, 3)[n]:04d}",
                     "key": f"k{i}-{n}",
                     "gone": at if n == 3 else None})


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "local", "America/New_York"])
def test_the_ledger_copied_is_the_ledger_written_in_python(postgres, zone, monkeypatch):
    from app.config import get_settings
    from app.models.task import TaskStatus
    from app.services.ledger import (
        csv_stream,
        ledger_cells_select,
        ledger_rows,
        stream_ledger_csv,
    )
    from app.services.tasks import TaskFilters

    monkeypatch.setenv("TIMEZONE", zone)
    get_settings.cache_clear()
    _arrange_ledger(postgres)
    with committed(postgres) as s:
        township_id = s.execute(text("SELECT min(id) FROM township")).scalar_one()
    assert ledger_cells_select(SYSTEM, TaskFilters(), {}) is not None  # COPY writes it
    for filters in (TaskFilters(), TaskFilters(township_id=township_id),
                    TaskFilters(overdue=True), TaskFilters(status=TaskStatus.verified)):
        python = b"".join(csv_stream(ledger_rows(postgres, SYSTEM, filters)))
        assert b"".join(stream_ledger_csv(postgres, SYSTEM, filters)) == python, filters
        assert python.count(b"\r\n") > 1
    whole = b"".join(stream_ledger_csv(postgres, SYSTEM, TaskFilters())).decode()
    assert "照片0.jpg(" in whole and "照片2.jpg(" in whole  # files, named once each
    assert "照片1.jpg" not in whole and "照片3.jpg" not in whole  # repeated, deleted
    get_settings.cache_clear()


def _cells(data: bytes) -> list[list[tuple]]:
    """Every cell of the first sheet as openpyxl reads it: value, number format, bold,
    wrapped, border. An instant to the second: XlsxWriter writes a serial number with 16
    significant digits and PostgreSQL with all it needs, about a microsecond apart, which
    openpyxl's rounding to the millisecond may show (never a second: 1 in 10^6)."""
    import io

    from openpyxl import load_workbook

    def value(cell: Any) -> Any:
        v = cell.value
        return v.replace(microsecond=0) + timedelta(seconds=round(v.microsecond / 1e6)) \
            if isinstance(v, datetime) else v

    sheet = load_workbook(io.BytesIO(data)).active
    return [[(value(c), c.number_format, c.font.b, c.alignment.wrap_text,
              c.border.left.style) for c in row] for row in sheet.iter_rows()]


@pytest.mark.parametrize("texts", [TRICKY, CLEAN], ids=["with-control-characters", "clean"])
def test_xlsx_rows_written_by_copy_are_the_cells_python_writes(postgres, texts):
    from app.services.exports import as_xlsx, rows, xlsx_export

    _arrange(postgres, texts)
    for name, spec in EXPORTS.items():
        stmt = export_select(spec, SYSTEM, {})
        copied = b"".join(xlsx_export(postgres, spec.columns, stmt, name))
        python = b"".join(as_xlsx(spec.columns, rows(postgres, stmt), name))
        assert _cells(copied) == _cells(python), name


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "local"])
def test_the_ledger_workbook_copied_has_the_cells_python_writes(postgres, zone, monkeypatch):
    from app.config import get_settings
    from app.services.ledger import ledger_rows, stream_ledger_xlsx, xlsx_stream
    from app.services.tasks import TaskFilters

    monkeypatch.setenv("TIMEZONE", zone)
    get_settings.cache_clear()
    _arrange_ledger(postgres)
    for filters in (TaskFilters(), TaskFilters(overdue=False)):
        copied = b"".join(stream_ledger_xlsx(postgres, SYSTEM, filters, "甲镇整改台账"))
        python = b"".join(xlsx_stream(ledger_rows(postgres, SYSTEM, filters), "甲镇整改台账"))
        assert _cells(copied) == _cells(python)
        assert len(_cells(copied)) == 2 + len(TRICKY) or filters.overdue is False
    get_settings.cache_clear()


def test_a_copied_sheet_that_reaches_excels_last_row_says_so(postgres, monkeypatch):
    import io

    from openpyxl import load_workbook

    from app.services import cells
    from app.services.exports import xlsx_export

    _arrange(postgres, CLEAN)
    monkeypatch.setattr(cells, "LAST_ROW", 4)  # Excel's 1,048,576 rows, scaled down
    spec = EXPORTS["tasks"]
    data = b"".join(xlsx_export(postgres, spec.columns, export_select(spec, SYSTEM, {}),
                                "tasks"))
    sheet = load_workbook(io.BytesIO(data)).active
    ids = [sheet.cell(r, 1).value for r in range(2, 5)]
    assert ids == sorted(ids) and len(ids) == 3
    assert sheet["A5"].value == cells.SHEET_FULL_NOTE and sheet.max_row == 5


def test_control_characters_in_copied_xml_are_cleaned_like_safe_text():
    row = ('<row r="2"><c s="2"><v>1</v></c>'
           '<c s="2" t="inlineStr"><is><t xml:space="preserve">\x01=cmd&amp;\x7f</t></is></c>'
           '<c s="2" t="inlineStr"><is><t xml:space="preserve">\x01\x85</t></is></c>'
           '<c s="2" t="inlineStr"><is><t xml:space="preserve">a&lt;b\ufffe</t></is></c>'
           '<c s="2" t="inlineStr"><is><t xml:space="preserve">干净</t></is></c></row>\n')
    chunk = row.encode()
    assert pg_copy._suspect(chunk)
    assert pg_copy._cleaned_xml(chunk).decode() == (
        '<row r="2"><c s="2"><v>1</v></c>'
        '<c s="2" t="inlineStr"><is><t xml:space="preserve">\'=cmd&amp;</t></is></c>'
        '<c s="2" t="inlineStr"><is><t xml:space="preserve"></t></is></c>'
        '<c s="2" t="inlineStr"><is><t xml:space="preserve">a&lt;b</t></is></c>'
        '<c s="2" t="inlineStr"><is><t xml:space="preserve">干净</t></is></c></row>\n')


EXCEL_TEXTS = ["_x000D_字面", "a_x0041_b", "_x005F_x000D_", "前_x000d_后", "\x01\r=1", "\x01\r",
               "\x85\r@x", "\x01_x000D_", "]]>&<>", "\r", "a\rb"]
OLD_DAYS = [datetime(1900, 1, 1), datetime(1900, 1, 2), datetime(1900, 2, 28),
            datetime(1900, 3, 1), datetime(1899, 12, 31), datetime(9999, 12, 31)]
# UTC: in Asia/Shanghai (+08:05:43 then) 1 January 1900 in the morning, 28 February 1900
# before and after noon, 1 March 1900 just after midnight
OLD_INSTANTS = [datetime(1899, 12, 31, 20, 0), datetime(1900, 1, 1, 15, 0),
                datetime(1900, 2, 27, 16, 0, 0, 1), datetime(1900, 2, 28, 4, 0),
                datetime(1900, 2, 28, 15, 59, 59), datetime(1900, 2, 28, 16, 0, 0)]


def test_xlsx_copied_cells_hold_excel_escapes_and_old_dates_as_python_writes_them(postgres):
    """A literal `_xHHHH_` is written `_x005F_xHHHH_` (Excel would read the character
    HHHH); a text starting with a carriage return once its control characters go gets its
    `'`; days and instants before 1 March 1900 have XlsxWriter's serial numbers."""
    from app.services.exports import as_xlsx, rows, xlsx_export

    with committed(postgres) as s:
        campaign = make_campaign(s)
        township = make_township(s)
        for i, value in enumerate(EXCEL_TEXTS):
            branch = make_branch(s, township)
            task = make_task(s, make_problem(s, campaign, township, branch=branch))
            s.execute(text("UPDATE task SET title = :t, description = :t, due_on = :d, "
                           "submitted_at = :at, updated_at = :at WHERE id = :id"),
                      {"t": value, "d": OLD_DAYS[i % len(OLD_DAYS)].date(),
                       "at": OLD_INSTANTS[i % len(OLD_INSTANTS)], "id": task.id})
            s.execute(text("UPDATE branch SET notes = :n WHERE id = :id"),
                      {"n": value, "id": branch.id})
    for name in ("tasks", "branches"):
        spec = EXPORTS[name]
        stmt = export_select(spec, SYSTEM, {})
        copied = _cells(b"".join(xlsx_export(postgres, spec.columns, stmt, name)))
        python = _cells(b"".join(as_xlsx(spec.columns, rows(postgres, stmt), name)))
        assert copied == python, name
    assert ("_x005F_x000D_字面", "General", False, None, None) in copied[1]


def test_cleaning_copied_xml_reads_excel_escapes_first():
    row = ('<c s="2" t="inlineStr"><is><t xml:space="preserve">\x01_x000D_=1</t></is></c>'
           '<c s="2" t="inlineStr"><is><t xml:space="preserve">\x01_x005F_x000D_</t></is></c>')
    assert pg_copy._cleaned_xml(row.encode()).decode() == (
        '<c s="2" t="inlineStr"><is><t xml:space="preserve">\'_x000D_=1</t></is></c>'
        '<c s="2" t="inlineStr"><is><t xml:space="preserve">_x005F_x000D_</t></is></c>')


def test_a_legacy_nan_income_is_a_text_cell_not_a_broken_workbook(postgres):
    """PostgreSQL's numeric holds NaN; `<v>NaN</v>` would make the file unreadable."""
    from app.services.exports import as_xlsx, rows, xlsx_export

    with committed(postgres) as s:
        township = make_township(s)
        branch = make_branch(s, township)
        make_branch(s, township, collective_income_wan=Decimal("-1.50"))
        s.execute(text("UPDATE branch SET collective_income_wan = 'NaN' WHERE id = :id"),
                  {"id": branch.id})
    spec = EXPORTS["branches"]
    stmt = export_select(spec, SYSTEM, {})
    copied = _cells(b"".join(xlsx_export(postgres, spec.columns, stmt, "branches")))
    python = _cells(b"".join(as_xlsx(spec.columns, rows(postgres, stmt), "branches")))
    assert copied == python
    income = spec.columns.index("collective_income_wan")
    assert [r[income][0] for r in copied[1:]] == ["NaN", -1.5]
    assert b"NaN" in b"".join(csv_export(postgres, spec.columns, stmt))


def test_a_legacy_code_like_a_formula_is_quoted_in_a_copied_csv(postgres):
    """An enum column holding, in a legacy row, a text that is no code: COPY writes it as
    a text, never a formula (the Python writer cannot read such a row at all)."""
    _arrange(postgres, CLEAN[:2])
    with committed(postgres) as s:
        s.execute(text("""UPDATE task SET status = '=HYPERLINK("http://x","y")'"""))
    spec = EXPORTS["tasks"]
    body = b"".join(csv_export(postgres, spec.columns, export_select(spec, SYSTEM, {})))
    assert b',"\'=HYPERLINK(""http://x"",""y"")",' in body
    assert b',"=HYPERLINK' not in body and b",=HYPERLINK" not in body


def test_a_ledger_cell_longer_than_excel_holds_is_cut_as_python_cuts_it(postgres):
    """300 files of long names: the 佐证材料 cell would pass Excel's 32,767 characters
    (UTF-16 units: an emoji counts two); XlsxWriter cuts it there, so does the copied sheet."""
    from app.services.ledger import ledger_rows, stream_ledger_xlsx, xlsx_stream
    from app.services.tasks import TaskFilters

    with committed(postgres) as s:
        township = make_township(s)
        task = make_task(s, make_problem(s, make_campaign(s), township))
        s.execute(text(
            "INSERT INTO progress_update (created_at, updated_at, version, task_id, "
            "township_id, author, note) VALUES (now(), now(), 1, :t, :tw, '书记', '进展')"),
            {"t": task.id, "tw": township.id})
        s.execute(text(
            "INSERT INTO attachment (created_at, updated_at, version, update_id, task_id, "
            "township_id, file_name, content_type, size, sha256, storage_key) "
            "SELECT now(), now(), 1, (SELECT max(id) FROM progress_update), :t, :tw, "
            "repeat('照', 100) || repeat('😀', 50) || g || '.jpg', 'image/jpeg', 1, "
            "lpad(g::text, 64, '0'), 'k' || g FROM generate_series(1, 300) g"),
            {"t": task.id, "tw": township.id})
    copied = _cells(b"".join(stream_ledger_xlsx(postgres, SYSTEM, TaskFilters(), "台账")))
    python = _cells(b"".join(xlsx_stream(ledger_rows(postgres, SYSTEM, TaskFilters()), "台账")))
    assert copied == python
    files = max((str(c[0]) for c in copied[-1]), key=len)
    assert len(files.encode("utf-16-le")) // 2 in (32766, 32767)
