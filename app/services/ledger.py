"""The rectification ledger (整改台账): one row per task, streamed as CSV or XLSX.

Rows come from SQL queries read through server-side cursors in batches (the tasks, and
their evidence files in the same task order, merged as they come), and are written out as
they arrive, so memory does not grow with the number of tasks. The workbook prints: A4
landscape fitted to the page width, the title and header rows on every page.
"""

import csv
import io
from collections.abc import Generator, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Engine,
    Select,
    String,
    case,
    cast,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlmodel import col

from app import clock
from app.labels import label
from app.models.branch import Branch
from app.models.campaign import Criterion
from app.models.problem import Problem, ProblemSource
from app.models.task import Attachment, ProgressUpdate, Task, TaskStatus
from app.models.township import Township
from app.services import cells as cells_module
from app.services import pg_copy
from app.services.actors import Actor
from app.services.cells import (
    DAY,
    INT,
    TEXT,
    StreamedWorkbook,
    XlsxCells,
    batched,
    close_source,
    csv_columns,
    csv_head,
    xlsx_chunks,
    xlsx_rows_chunks,
)
from app.services.streaming import BATCH, row_batches, rows_of
from app.services.tasks import TaskFilters, filtered_tasks, overdue_condition

WHOLE_TOWNSHIP = "全乡镇"  # the branch cell of a township-wide task
OVERDUE_MARK = "(已逾期)"
VERIFIED_NOTE = "同意销号"  # the verdict of a verification given without a note
EVIDENCE_SEPARATOR = "、"
HEADERS = [
    "序号", "党支部", "问题来源/类别", "问题描述", "整改措施", "责任单位", "责任人",
    "整改时限", "进展/完成情况", "佐证材料", "验收人/验收意见", "销号日期",
]


def ledger_select(actor: Actor, filters: TaskFilters, latest_note: Any = None
                  ) -> Select[Any]:
    """The ledger's tasks (the `/tasks` filters, the reader's scope) with their problem,
    branch and latest progress note, in task order: one SELECT over the list's own joins.
    `latest_note`: the note's column when the caller joins the notes itself (by default
    a subquery per task)."""
    if latest_note is None:
        latest_note = (
            select(ProgressUpdate.note)
            .where(ProgressUpdate.task_id == Task.id, col(ProgressUpdate.deleted_at).is_(None))
            .order_by(col(ProgressUpdate.id).desc())
            .limit(1)
            .correlate(Task)
            .scalar_subquery()
        )
    return (
        filtered_tasks(actor, filters)
        .with_only_columns(
            # the codes as stored (plain strings), not converted to enums row by row
            Task.id, Branch.name, type_coerce(Problem.source, String), Problem.category,
            Problem.description, Task.title, Task.description, Task.responsible_unit,
            Task.responsible_person, Task.due_on, type_coerce(Task.status, String),
            latest_note, Task.verified_by,
            Task.status_note, Task.verified_at, overdue_condition(),
        )
        .order_by(Task.id)
    )


def _category_labels(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Criterion.code, Criterion.label).where(col(Criterion.campaign_id).is_(None))
        )
        return {str(code): str(text) for code, text in rows}


def evidence_select(actor: Actor, filters: TaskFilters) -> Select[Any]:
    """The tasks' evidence files in task order, each task's in the order they were given."""
    return (
        filtered_tasks(actor, filters)
        .with_only_columns(Attachment.task_id, Attachment.sha256, Attachment.file_name,
                           Attachment.created_at)
        .join(Attachment, col(Attachment.task_id) == Task.id)
        .where(col(Attachment.deleted_at).is_(None))
        .order_by(Attachment.task_id, Attachment.id)
    )


def _source_labels() -> dict[str, str]:
    return {s.value: label("problem_source", s) for s in ProblemSource}


def _evidence_by_task(rows: Iterator[Any]) -> Generator[tuple[int, str], None, None]:
    """(task id, “会议记录.pdf(2026-11-20)、照片.jpg(2026-11-21)”) per task with files: each
    file once (the same content given again is the same file), named and dated as first
    given."""
    current: int | None = None
    seen: set[str] = set()
    files: list[str] = []
    for task_id, sha256, name, at in rows:
        if task_id != current:
            if current is not None:
                yield current, EVIDENCE_SEPARATOR.join(files)
            current, seen, files = task_id, set(), []
        if sha256 in seen:
            continue
        seen.add(sha256)
        day = _local_day(at)
        files.append(f"{name}({day.isoformat()})" if isinstance(day, date) else name)
    if current is not None:
        yield current, EVIDENCE_SEPARATOR.join(files)


def ledger_rows(engine: Engine, actor: Actor, filters: TaskFilters) -> Iterator[list[Any]]:
    """The ledger's rows, in task order, read in batches through server-side cursors:
    [序号 int, 党支部, 问题来源/类别, 问题描述, 整改措施, 责任单位, 责任人 (texts), 整改时限
    date | None, 进展 text, 佐证材料 text, 验收意见 text, 销号日期 date | ""] (`LEDGER_KINDS`)."""
    categories = _category_labels(engine)
    sources = _source_labels()
    progress_of = {(s.value, overdue): label("task_status", s) + (OVERDUE_MARK if overdue else "")
                   for s in TaskStatus for overdue in (False, True)}
    verified = TaskStatus.verified.value
    tasks = rows_of(row_batches(engine, ledger_select(actor, filters)))
    files = rows_of(row_batches(engine, evidence_select(actor, filters)))
    evidence_rows = _evidence_by_task(files)
    try:
        pending = next(evidence_rows, None)
        pending_id = pending[0] if pending is not None else None
        for n, (task_id, branch, source, category, problem, title, detail, unit, person, due,
                status, note, verifier, status_note, verified_at, overdue) in enumerate(
                    tasks, start=1):
            while pending_id is not None and pending_id < task_id:
                pending = next(evidence_rows, None)
                pending_id = pending[0] if pending is not None else None
            evidence = pending[1] if pending is not None and pending_id == task_id else ""
            progress = progress_of[status, bool(overdue)]
            if note:
                progress += f":{note}"
            yield [
                n, branch or WHOLE_TOWNSHIP,
                f"{sources.get(source) or label('problem_source', source)}/"
                f"{categories.get(category, category)}",
                problem, title + f"({detail})" if detail else title, unit or "", person or "",
                due, progress, evidence or "",
                f"{verifier or ''}:{status_note or VERIFIED_NOTE}" if status == verified else "",
                _local_day(verified_at) if verified_at is not None else "",
            ]
    finally:  # an aborted download stops both readers
        evidence_rows.close()
        files.close()
        tasks.close()


LEDGER_KINDS = (INT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, DAY, TEXT, TEXT, TEXT, DAY)


def _local_day(at: Any) -> date | str:
    """The day of an instant as the pages show it (local time, not UTC)."""
    if not isinstance(at, datetime):
        return ""
    return clock.local_day(at)


def csv_stream(rows: Iterator[list[Any]]) -> Iterator[bytes]:
    """CSV with a UTF-8 BOM (so Excel reads the Chinese), a header, then rows as they come,
    a chunk per BATCH rows (cells as `cells.csv_cell` writes them, via `csv_columns`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(csv_head(HEADERS).decode())
    try:
        for batch in batched(rows, BATCH):
            writer.writerows(csv_columns(LEDGER_KINDS, batch))
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    finally:  # an aborted download stops the readers
        close_source(rows)
    yield buffer.getvalue().encode()


def stream_ledger_csv(engine: Engine, actor: Actor, filters: TaskFilters) -> Iterator[bytes]:
    """The ledger as CSV (`csv_stream` of `ledger_rows`): on PostgreSQL written by COPY
    from `ledger_cells_select` (the same bytes; the county's time zone known to the
    database), elsewhere in Python."""
    if pg_copy.sql_available(engine):
        cells = ledger_cells_select(actor, filters, _category_labels(engine))
        if cells is not None:
            return pg_copy.headed(csv_head(HEADERS), pg_copy.csv_rows(engine, cells,
                                                                      LEDGER_KINDS))
    return csv_stream(ledger_rows(engine, actor, filters))


def ledger_cells_select(actor: Actor, filters: TaskFilters, categories: dict[str, str],
                        task_id_last: bool = False) -> Select[Any] | None:
    """The ledger's rows as their CSV cells, in SQL (PostgreSQL): the twelve columns of
    `ledger_rows`, each text as `cells.safe_text` writes it but for control characters
    (`pg_copy.csv_rows` scans for those), in task order; `task_id_last`: the task's id
    after them, to order by. None when the county's time zone has no name the database
    knows and no fixed offset (then `ledger_rows` writes it in Python)."""
    verified_day = pg_copy.local_day_sql(col(Task.verified_at))
    file_day = pg_copy.local_day_sql(col(Attachment.created_at))
    if verified_day is None or file_day is None:
        return None
    def lit(value: str) -> Any:  # a text of these rules or a label: a bound value
        return literal(value, String)

    def mapped(codes: dict[str, str], value: Any) -> Any:
        return case({c: lit(t) for c, t in codes.items()}, value=value, else_=value) \
            if codes else value

    # each task's files in one pass over the files in scope, joined (a subquery per task
    # costs a lookup for every task, most of which have none); each content once, named
    # and dated as first given
    first_given = (
        select(Attachment.task_id, Attachment.id, Attachment.file_name, file_day.label("day"))
        .distinct(Attachment.task_id, Attachment.sha256)
        .where(col(Attachment.deleted_at).is_(None))
        .order_by(Attachment.task_id, Attachment.sha256, Attachment.id)
    )
    latest = (  # each task's latest note, likewise in one pass
        select(ProgressUpdate.task_id, ProgressUpdate.note)
        .distinct(ProgressUpdate.task_id)
        .where(col(ProgressUpdate.deleted_at).is_(None))
        .order_by(ProgressUpdate.task_id, col(ProgressUpdate.id).desc())
    )
    township_id = actor.township_id if actor.township_id is not None else filters.township_id
    if township_id is not None:  # a township's ledger passes over its own files and notes
        first_given = first_given.where(Attachment.township_id == township_id)
        latest = latest.where(ProgressUpdate.township_id == township_id)
    given = first_given.subquery()
    notes = latest.subquery()
    evidence = (
        select(given.c.task_id, func.string_agg(
            given.c.file_name + lit("(") + cast(given.c.day, String) + lit(")"),
            aggregate_order_by(lit(EVIDENCE_SEPARATOR), given.c.id)).label("files"))
        .group_by(given.c.task_id)
        .subquery()
    )
    # the values once (OFFSET 0 keeps PostgreSQL from copying a subquery into every
    # place its value is used below), their cells around them
    row = (ledger_select(actor, filters, notes.c.note)
           .outerjoin(notes, notes.c.task_id == Task.id)
           .outerjoin(evidence, evidence.c.task_id == Task.id)
           .add_columns(evidence.c.files, verified_day).offset(0).subquery())
    (task_id, branch, source, category, problem, title, detail, unit, person, due, status,
     note, verifier, status_note, _verified_at, overdue, files, verified_on) = row.c
    note_text = func.coalesce(note, "")
    detail_text = func.coalesce(detail, "")
    progress = (
        mapped({s.value: label("task_status", s) for s in TaskStatus}, status)
        + case((overdue, lit(OVERDUE_MARK)), else_=lit(""))
        + case((note_text != "", lit(":") + note_text), else_=lit(""))
    )
    verdict = case(
        (status == TaskStatus.verified.value,
         func.coalesce(verifier, "") + lit(":")
         + func.coalesce(func.nullif(status_note, ""), lit(VERIFIED_NOTE))),
        else_=lit(""))
    safe = pg_copy.safe_text_sql
    return select(
        func.row_number().over(order_by=task_id),
        safe(func.coalesce(func.nullif(branch, ""), lit(WHOLE_TOWNSHIP))),
        safe(mapped(_source_labels(), source) + lit("/") + mapped(categories, category)),
        safe(problem),
        safe(case((detail_text != "", title + lit("(") + detail_text + lit(")")),
                  else_=title)),
        safe(unit), safe(person), due, safe(progress), safe(files), safe(verdict),
        verified_on, *([task_id] if task_id_last else []),
    ).order_by(task_id)


def ledger_heading(engine: Engine, actor: Actor, filters: TaskFilters,
                   today: date) -> tuple[str, str]:
    """The ledger's title row and file name, naming whose ledger and the day:
    (十四道沟镇整改台账(2026年11月30日), 十四道沟镇整改台账_20261130.xlsx); the county's
    when no township is chosen or implied by the reader's scope."""
    # a reader limited to a township sees only its rows, whatever township was asked for
    township_id = actor.township_id if actor.township_id is not None else filters.township_id
    whose = "全县"
    if township_id is not None:
        with engine.connect() as conn:
            whose = conn.scalar(select(Township.name).where(Township.id == township_id)) or whose
    day = f"{today.year}年{today.month}月{today.day}日"
    return f"{whose}整改台账({day})", f"{whose}整改台账_{today:%Y%m%d}.xlsx"


def stream_ledger_xlsx(engine: Engine, actor: Actor, filters: TaskFilters, title: str
                       ) -> Iterator[bytes]:
    """The ledger as .xlsx (`xlsx_stream` of `ledger_rows`): on PostgreSQL its rows' XML
    written by COPY from `ledger_cells_select` (the same cells), elsewhere in Python."""
    if pg_copy.sql_available(engine):
        cells_select = ledger_cells_select(actor, filters, _category_labels(engine),
                                           task_id_last=True)
        if cells_select is not None:
            book, cells = _ledger_book(title)
            room = cells_module.LAST_ROW - 2  # rows below the title and the header
            # 序号 is the row's number already; the rows in task order as they come
            rows_xml = pg_copy.xlsx_rows_select(cells_select, LEDGER_XLSX_KINDS,
                                                cells.styles(), 2, room + 1,
                                                order=len(LEDGER_XLSX_KINDS), numbered=True)
            if rows_xml is not None:
                return xlsx_rows_chunks(book, pg_copy.xlsx_row_chunks(engine, rows_xml),
                                        room, cells.text)
    return xlsx_stream(ledger_rows(engine, actor, filters), title)


# the cells of `ledger_cells_select` on a sheet: 序号, six texts, 整改时限, three texts, 销号日期
LEDGER_XLSX_KINDS = (pg_copy.NUMBER, *[pg_copy.SAFE_TEXT] * 6, pg_copy.DAY_CELL,
                     *[pg_copy.SAFE_TEXT] * 3, pg_copy.DAY_CELL)


def _ledger_book(title: str) -> tuple[StreamedWorkbook, XlsxCells]:
    """The ledger's workbook up to its rows: the title row, the header row, the columns
    and the print setup (A4 landscape fitted to the page width, the title and the header
    repeated at the top of every page, the page number in the footer)."""
    book = StreamedWorkbook("整改台账")
    sheet = book.sheet
    bold = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "border": 1,
                            "bg_color": "#F2F2F2"})
    title_fmt = book.add_format({"bold": True, "font_size": 14})
    cells = XlsxCells(book, sheet, {"text_wrap": True, "valign": "top", "border": 1})
    widths = [6, 16, 22, 36, 36, 14, 10, 12, 36, 24, 24, 12]
    for i, w in enumerate(widths):
        sheet.set_column(i, i, w)
    # the print setup goes into the sheet's head and tail, so it is set before any row
    sheet.freeze_panes(2, 0)
    sheet.set_paper(9)  # A4
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)  # one page wide, as many tall as it takes
    sheet.repeat_rows(0, 1)
    sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    sheet.set_footer("&C第 &P 页,共 &N 页")
    sheet.write_string(0, 0, title, title_fmt)
    sheet.write_row(1, 0, HEADERS, bold)
    return book, cells


def xlsx_stream(rows: Iterator[list[Any]], title: str) -> Iterator[bytes]:
    """The ledger as .xlsx bytes, streamed as it is written (`cells.xlsx_chunks`): the
    title row, the header row (`_ledger_book`), then a row per task."""
    book, cells = _ledger_book(title)

    def written() -> Iterator[None]:
        try:
            for r, row in enumerate(rows, start=2):
                cells.write_row(r, row)
                yield None
        finally:
            close_source(rows)

    return xlsx_chunks(book, written())
