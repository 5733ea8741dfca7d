"""The rectification ledger (整改台账): one row per task, streamed as CSV or XLSX.

Rows come from one SQL query read through a server-side cursor in batches, and are
written out as they arrive, so memory does not grow with the number of tasks.
"""

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import IO, Any

from sqlalchemy import Engine, Select, func, select
from sqlmodel import col

from app.labels import label
from app.models.branch import Branch
from app.models.campaign import Criterion
from app.models.problem import Problem
from app.models.task import Attachment, ProgressUpdate, Task, TaskStatus
from app.services.actors import Actor
from app.services.cells import XlsxCells, csv_cell, finished, new_workbook
from app.services.tasks import TaskFilters, filtered_tasks, overdue_condition
from app.web.templating import LOCAL_TZ

HEADERS = [
    "序号", "党支部", "问题来源/类别", "问题描述", "整改措施", "责任单位", "责任人",
    "整改时限", "进展/完成情况", "佐证材料", "验收人/验收意见", "销号日期",
]
BATCH = 2000


def _ledger_select(engine: Engine, actor: Actor, filters: TaskFilters) -> Select[Any]:
    latest_note = (
        select(ProgressUpdate.note)
        .where(ProgressUpdate.task_id == Task.id, col(ProgressUpdate.deleted_at).is_(None))
        .order_by(col(ProgressUpdate.id).desc())
        .limit(1)
        .correlate(Task)
        .scalar_subquery()
    )
    if engine.dialect.name == "postgresql":
        names = func.string_agg(Attachment.file_name, "、")
    else:
        names = func.group_concat(Attachment.file_name, "、")
    evidence = (
        select(names)
        .where(Attachment.task_id == Task.id, col(Attachment.deleted_at).is_(None))
        .correlate(Task)
        .scalar_subquery()
    )
    ids = filtered_tasks(actor, filters).with_only_columns(col(Task.id)).subquery()
    return (
        select(
            Task.id, Branch.name, Problem.source, Problem.category, Problem.description,
            Task.title, Task.description, Task.responsible_unit, Task.responsible_person,
            Task.due_on, Task.status, latest_note, evidence, Task.verified_by,
            Task.status_note, Task.verified_at, overdue_condition(),
        )
        .join(Problem, col(Problem.id) == Task.problem_id)
        .outerjoin(Branch, col(Branch.id) == Task.branch_id)
        .where(col(Task.id).in_(select(ids.c.id)))
        .order_by(Task.id)
    )


def _category_labels(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Criterion.code, Criterion.label).where(col(Criterion.campaign_id).is_(None))
        )
        return {str(code): str(text) for code, text in rows}


def ledger_rows(engine: Engine, actor: Actor, filters: TaskFilters) -> Iterator[list[Any]]:
    """The ledger's rows, in task order, read in batches through a server-side cursor."""
    categories = _category_labels(engine)
    stmt = _ledger_select(engine, actor, filters)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(stmt)
        for n, r in enumerate(result, start=1):
            (_id, branch, source, category, problem, title, detail, unit, person, due,
             status, note, evidence, verifier, status_note, verified_at, overdue) = r
            status = TaskStatus(status)
            progress = label("task_status", status) + ("(已逾期)" if overdue else "")
            if note:
                progress += f":{note}"
            measure = title + (f"({detail})" if detail else "")
            verdict = ""
            if status == TaskStatus.verified:
                verdict = f"{verifier or ''}:{status_note or '同意销号'}"
            yield [
                n, branch or "全乡镇",
                f"{label('problem_source', source)}/{categories.get(category, category)}",
                problem, measure, unit or "", person or "", due, progress, evidence or "",
                verdict, _local_day(verified_at),
            ]


def _local_day(at: Any) -> date | str:
    """The day of an instant as the pages show it (local time, not UTC)."""
    if not isinstance(at, datetime):
        return ""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(LOCAL_TZ).date()


def csv_stream(rows: Iterator[list[Any]]) -> Iterator[bytes]:
    """CSV with a UTF-8 BOM (so Excel reads the Chinese), a header, then rows as they come."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(HEADERS)
    for i, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(v) for v in row])
        if i % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def xlsx_file(rows: Iterator[list[Any]], title: str) -> IO[bytes]:
    """Write the ledger to an unnamed temporary .xlsx (constant memory); answer the file,
    rewound (`cells.file_chunks` streams and closes it)."""
    book, out = new_workbook()
    try:
        sheet = book.add_worksheet("整改台账")
        bold = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "border": 1,
                                "bg_color": "#F2F2F2"})
        title_fmt = book.add_format({"bold": True, "font_size": 14})
        cells = XlsxCells(book, sheet, {"text_wrap": True, "valign": "top", "border": 1})
        widths = [6, 16, 22, 36, 36, 14, 10, 12, 36, 24, 24, 12]
        for i, w in enumerate(widths):
            sheet.set_column(i, i, w)
        sheet.write_string(0, 0, title, title_fmt)
        sheet.write_row(1, 0, HEADERS, bold)
        for r, row in enumerate(rows, start=2):
            cells.write_row(r, row)
        sheet.freeze_panes(2, 0)
    except BaseException:
        out.close()
        raise
    return finished(book, out)
