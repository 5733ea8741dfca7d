"""Streamed exports: `/exports/tasks.csv` and the ledger `/reports/ledger.xlsx`."""


from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app import clock
from app.api.deps import CurrentActor
from app.api.routing import TransactionRoute
from app.api.tasks import TaskFiltersDep
from app.services.exports import as_csv, as_ndjson, as_xlsx, export_select, parse_target, rows
from app.services.ledger import csv_stream, file_chunks, ledger_rows, ledger_workbook

router = APIRouter(tags=["exports"], route_class=TransactionRoute)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _disposition(name: str) -> dict[str, str]:
    from urllib.parse import quote

    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}


@router.get("/exports/tasks.csv")
def export_tasks_csv(
    request: Request, actor: CurrentActor, filters: TaskFiltersDep
) -> StreamingResponse:
    """The ledger as CSV, one row per task, streamed; same filters as `/tasks`."""
    rows = ledger_rows(request.app.state.engine, actor, filters)
    return StreamingResponse(csv_stream(rows), media_type="text/csv; charset=utf-8",
                             headers=_disposition("整改台账.csv"))


@router.get("/reports/ledger.xlsx")
async def ledger_xlsx(
    request: Request, actor: CurrentActor, filters: TaskFiltersDep
) -> StreamingResponse:
    """The rectification ledger (问题清单、任务清单、责任清单) as an Excel workbook."""
    engine = request.app.state.engine
    path, name = await run_in_threadpool(
        lambda: ledger_workbook(engine, actor, filters, clock.today()))
    return StreamingResponse(file_chunks(path), media_type=XLSX, headers=_disposition(name))


@router.get("/exports/{target}")
async def export_table(request: Request, actor: CurrentActor, target: str) -> StreamingResponse:
    """A whole table (`branches`, `problems`, `tasks`, `feedback-forms`, `opinions`,
    `screenings`, `activities`) as `.csv`, `.ndjson` or `.xlsx`, streamed; same filters as
    its list."""
    spec, name, fmt = parse_target(target)
    stmt = export_select(spec, actor, dict(request.query_params))
    engine = request.app.state.engine
    headers = _disposition(f"{name}.{fmt}")
    if fmt == "csv":
        return StreamingResponse(as_csv(spec.columns, rows(engine, stmt)),
                                 media_type="text/csv; charset=utf-8", headers=headers)
    if fmt == "ndjson":
        return StreamingResponse(as_ndjson(spec.columns, rows(engine, stmt)),
                                 media_type="application/x-ndjson", headers=headers)
    path = await run_in_threadpool(lambda: as_xlsx(spec.columns, rows(engine, stmt), name))
    return StreamingResponse(file_chunks(path), media_type=XLSX, headers=headers)
