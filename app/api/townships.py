"""`/townships`: the county's townships."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import CurrentActor, IfMatch, PageDep, SessionDep, TownshipDep
from app.api.represent import Page, respond, respond_page
from app.api.routing import TransactionRoute
from app.models.township import TownshipCreate, TownshipPublic, TownshipUpdate
from app.services import townships as svc

router = APIRouter(prefix="/townships", tags=["townships"], route_class=TransactionRoute)


@router.get("", response_model=Page[TownshipPublic])
def list_townships(
    request: Request, session: SessionDep, actor: CurrentActor, page: PageDep,
    q: Annotated[str | None, Query(max_length=50)] = None,
) -> Response:
    """Townships the caller may see."""
    rows, cursor = svc.list_townships(session=session, actor=actor, q=q, page=page)
    return respond_page(request, rows, cursor, fragment="fragments/township_rows.html")


@router.post("", status_code=201, response_model=TownshipPublic)
def create_township(
    body: TownshipCreate, request: Request, session: SessionDep, actor: CurrentActor
) -> Response:
    """Add a township (county administrators)."""
    township = svc.create_township(session=session, actor=actor, data=body)
    return respond(
        request, TownshipPublic.model_validate(township), status_code=201, etag=township.version,
        location=f"/api/v1/townships/{township.id}", fragment="fragments/township_rows.html",
        context={"single": True},
    )


@router.get("/{township_id}", response_model=TownshipPublic)
def read_township(request: Request, township: TownshipDep) -> Response:
    """One township."""
    return respond(request, TownshipPublic.model_validate(township), etag=township.version)


@router.patch("/{township_id}", response_model=TownshipPublic)
def update_township(
    body: TownshipUpdate, request: Request, township: TownshipDep, session: SessionDep,
    actor: CurrentActor, if_match: IfMatch,
) -> Response:
    """Change a township; needs `If-Match` or `version`."""
    township = svc.update_township(
        session=session, actor=actor, township=township, data=body,
        version=body.version if body.version is not None else if_match,
    )
    return respond(request, TownshipPublic.model_validate(township), etag=township.version,
                   fragment="fragments/township_rows.html", context={"single": True})


@router.delete("/{township_id}", status_code=204)
def delete_township(
    request: Request, township: TownshipDep, session: SessionDep, actor: CurrentActor,
    if_match: IfMatch,
) -> Response:
    """Delete a township without live branches (soft: the change feed reports it)."""
    svc.delete_township(session=session, actor=actor, township=township, version=if_match)
    return Response(status_code=204)
