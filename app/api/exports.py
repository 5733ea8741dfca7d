"""Streamed exports: whole tables `/exports/{table}.{csv,ndjson,xlsx}` and the ledger
`/reports/ledger.{csv,xlsx}`.

Each checks its filters and reads its first rows before the response starts, so a bad
filter or a failing query answers 4xx/5xx instead of cutting a download off.
"""

from collections.abc import Callable, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app import clock
from app.api.deps import CurrentActor
from app.api.represent import attachment_headers
from app.api.routing import TransactionRoute
from app.api.streams import stream_response
from app.api.tasks import TaskFiltersDep
from app.services.exports import (
    csv_export,
    export_select,
    ndjson_export,
    parse_target,
    xlsx_export,
)
from app.services.ledger import ledger_heading, stream_ledger_csv, stream_ledger_xlsx

router = APIRouter(tags=["exports"], route_class=TransactionRoute)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


async def _stream(make: Callable[[], Iterator[bytes]], media_type: str, name: str
                  ) -> StreamingResponse:
    return await stream_response(make, media_type, attachment_headers(name))


@router.get("/reports/ledger.csv")
async def ledger_csv(
    request: Request, actor: CurrentActor, filters: TaskFiltersDep
) -> StreamingResponse:
    """The rectification ledger as CSV, one row per task, streamed; same filters as `/tasks`."""
    engine = request.app.state.engine
    return await _stream(lambda: stream_ledger_csv(engine, actor, filters), CSV,
                         "整改台账.csv")


@router.get("/reports/ledger.xlsx")
async def ledger_xlsx(
    request: Request, actor: CurrentActor, filters: TaskFiltersDep
) -> StreamingResponse:
    """The rectification ledger (问题清单、任务清单、责任清单) as an Excel workbook."""
    engine = request.app.state.engine
    title, name = await run_in_threadpool(
        lambda: ledger_heading(engine, actor, filters, clock.today()))
    return await _stream(lambda: stream_ledger_xlsx(engine, actor, filters, title), XLSX,
                         name)


@router.get("/exports/{target}")
async def export_table(request: Request, actor: CurrentActor, target: str) -> StreamingResponse:
    """A whole table (`branches`, `problems`, `tasks`, `feedback-forms`, `opinions`,
    `screenings`, `activities`) as `.csv`, `.ndjson` or `.xlsx`, streamed; same filters as
    its list."""
    spec, name, fmt = parse_target(target)
    stmt = export_select(spec, actor, dict(request.query_params))
    engine = request.app.state.engine
    if fmt == "csv":
        return await _stream(lambda: csv_export(engine, spec.columns, stmt), CSV,
                             f"{name}.csv")
    if fmt == "ndjson":
        return await _stream(lambda: ndjson_export(engine, spec.columns, stmt),
                             "application/x-ndjson", f"{name}.ndjson")
    return await _stream(lambda: xlsx_export(engine, spec.columns, stmt, name), XLSX,
                         f"{name}.xlsx")
