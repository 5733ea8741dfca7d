"""`/healthz` (process up) and `/readyz` (database reachable, schema at head)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.migrate import schema_problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at head."""
    try:
        problem = await run_in_threadpool(schema_problem, request.app.state.engine)
    except Exception as exc:  # noqa: BLE001 - any failure to reach the database means not ready
        detail = f"数据库无法连接:{exc.__class__.__name__}"
        return JSONResponse({"status": "unavailable", "detail": detail}, status_code=503)
    if problem:
        return JSONResponse({"status": "unavailable", "detail": problem}, status_code=503)
    return JSONResponse({"status": "ok"})
