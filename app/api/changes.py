"""`/changes`: the change feed county systems pull incrementally, by pages
(`/changes`) or as one stream (`/changes.ndjson`)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import CurrentActor, SessionDep
from app.api.routing import TransactionRoute
from app.api.streams import stream_response
from app.models.change import ChangePage
from app.services.changefeed import (
    FeedStream,
    changes_json,
    ndjson_changes,
    parse_types,
    stream_changes,
)
from app.services.pagination import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(tags=["changes"], route_class=TransactionRoute)

NEXT_CURSOR = "X-Next-Cursor"
CursorQuery = Annotated[
    str | None, Query(description="上次返回的 next_cursor(或 X-Next-Cursor);为空则从头开始")
]
TypesQuery = Annotated[str | None, Query(description="逗号分隔的记录类型,如 branch,task")]


@router.get("/changes", response_model=ChangePage)
def list_changes(
    session: SessionDep, actor: CurrentActor, cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    types: TypesQuery = None,
) -> Response:
    """Every committed change after `cursor`, once each, in commit order."""
    body = changes_json(
        session=session, actor=actor, cursor=cursor, limit=limit, types=parse_types(types)
    )
    return Response(body, media_type="application/json", headers={"Vary": "HX-Request"})


@router.get("/changes.ndjson", responses={200: {
    "description": "每行一个变更(与 /changes 的 changes 元素相同的字段和值)",
    "headers": {NEXT_CURSOR: {
        "description": "最后一个变更的游标(为空时即所给的 cursor),可用于下次请求",
        "schema": {"type": "string"}}},
}})
async def stream_feed(
    request: Request, session: SessionDep, actor: CurrentActor, cursor: CursorQuery = None,
    types: TypesQuery = None,
) -> StreamingResponse:
    """Every committed change after `cursor` up to the last one committed when the request
    starts, streamed as NDJSON: one JSON object a line (`type`, `id`, `op`, `version`,
    `data`, as an element of `/changes`' `changes`), in commit order, with the same scope.
    `X-Next-Cursor` is the cursor of the last line (the given `cursor` when there is none),
    to continue from with either form."""
    wanted = parse_types(types)

    def head() -> FeedStream:
        feed = stream_changes(session=session, actor=actor, cursor=cursor, types=wanted)
        # the rows are read on a connection of their own: the request's goes back to the
        # pool now rather than after the stream's first chunk (two at once per request)
        session.commit()
        return feed

    feed = await run_in_threadpool(head)
    engine = request.app.state.engine
    stmt = feed.stmt
    return await stream_response(
        lambda: iter(()) if stmt is None else ndjson_changes(engine, stmt),
        "application/x-ndjson", {NEXT_CURSOR: feed.next_cursor or ""})
