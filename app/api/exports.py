"""Streamed exports: whole tables `/exports/{table}.{csv,ndjson,xlsx}` and the ledger
`/reports/ledger.{csv,xlsx}`.

Each checks its filters and reads its first rows before the response starts, so a bad
filter or a failing query answers 4xx/5xx instead of cutting a download off.
"""

from collections.abc import Callable, Iterator

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from app import clock
from app.api.deps import CurrentActor
from app.api.represent import attachment_headers
from app.api.routing import TransactionRoute
from app.api.tasks import TaskFiltersDep
from app.services.cells import close_source, primed
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


class ClosingStreamingResponse(StreamingResponse):
    """A download that closes its chunks (and so their database reader) as soon as it ends,
    sent or aborted. Starlette leaves an aborted download's iterator to the garbage
    collector, and an .xlsx's (stream-zip's generators) is freed only by a collection: until
    then its connection stays checked out, idle in a transaction."""

    def __init__(self, chunks: Iterator[bytes], **kwargs: object) -> None:
        super().__init__(chunks, **kwargs)  # type: ignore[arg-type]
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(close_source, self.chunks)


async def _stream(make: Callable[[], Iterator[bytes]], media_type: str, name: str
                  ) -> StreamingResponse:
    chunks = await run_in_threadpool(lambda: primed(make()))
    return ClosingStreamingResponse(chunks, media_type=media_type,
                                    headers=attachment_headers(name))


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
