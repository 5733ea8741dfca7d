"""`/changes`: the change feed county systems pull incrementally."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import CurrentActor, SessionDep
from app.api.routing import TransactionRoute
from app.models.change import ChangePage
from app.services.changefeed import changes_json, parse_types
from app.services.pagination import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(prefix="/changes", tags=["changes"], route_class=TransactionRoute)


@router.get("", response_model=ChangePage)
def list_changes(
    session: SessionDep, actor: CurrentActor,
    cursor: Annotated[
        str | None, Query(description="上次返回的 next_cursor;为空则从头开始")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    types: Annotated[str | None, Query(description="逗号分隔的记录类型,如 branch,task")] = None,
) -> Response:
    """Every committed change after `cursor`, once each, in commit order."""
    body = changes_json(
        session=session, actor=actor, cursor=cursor, limit=limit, types=parse_types(types)
    )
    return Response(body, media_type="application/json", headers={"Vary": "HX-Request"})
