"""`/activities`: the work done (工作开展情况)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from app.api.deletion import DELETE_DOC, deleted
from app.api.deps import CurrentActor, DeletionReason, IfMatch, PageDep, SessionDep
from app.api.represent import Page, respond, respond_page
from app.api.routing import TransactionRoute
from app.models.activity import (
    Activity,
    ActivityCreate,
    ActivityKind,
    ActivityPublic,
    ActivityUpdate,
)
from app.services import activities as svc

router = APIRouter(prefix="/activities", tags=["activities"], route_class=TransactionRoute)


def load_activity(session: SessionDep, actor: CurrentActor, activity_id: int = Path()) -> Activity:
    return svc.get_activity(session=session, actor=actor, activity_id=activity_id)


ActivityDep = Annotated[Activity, Depends(load_activity)]


@router.get("", response_model=Page[ActivityPublic])
def list_activities(request: Request, session: SessionDep, actor: CurrentActor, page: PageDep,
                    campaign_id: int | None = None, township_id: int | None = None,
                    kind: ActivityKind | None = None) -> Response:
    """Activities in date order."""
    filters = svc.ActivityFilters(campaign_id=campaign_id, township_id=township_id, kind=kind)
    items, cursor = svc.list_activities(session=session, actor=actor, filters=filters, page=page)
    return respond_page(request, items, cursor, fragment="fragments/activity_rows.html",
                        more_path="/api/v1/activities")


@router.post("", status_code=201, response_model=ActivityPublic)
def create_activity(body: ActivityCreate, request: Request, session: SessionDep,
                    actor: CurrentActor) -> Response:
    """Record a meeting, training, visit or warning education."""
    a = svc.create_activity(session=session, actor=actor, data=body)
    return respond(request, svc.activity_public(session, a), status_code=201, etag=a.version,
                   location=f"/api/v1/activities/{a.id}",
                   fragment="fragments/activity_rows.html", context={"single": True})


@router.get("/{activity_id}", response_model=ActivityPublic)
def read_activity(request: Request, activity: ActivityDep, session: SessionDep) -> Response:
    """One activity."""
    return respond(request, svc.activity_public(session, activity), etag=activity.version)


@router.patch("/{activity_id}", response_model=ActivityPublic)
def update_activity(body: ActivityUpdate, request: Request, activity: ActivityDep,
                    session: SessionDep, actor: CurrentActor, if_match: IfMatch) -> Response:
    """Change an activity; needs `If-Match` or `version`."""
    a = svc.update_activity(session=session, actor=actor, activity=activity, data=body,
                            version=body.version if body.version is not None else if_match)
    return respond(request, svc.activity_public(session, a), etag=a.version)


@router.delete("/{activity_id}", status_code=204, description=DELETE_DOC)
def delete_activity(request: Request, activity: ActivityDep, session: SessionDep,
                    actor: CurrentActor, if_match: IfMatch, reason: DeletionReason) -> Response:
    """Delete an activity (soft), with a reason."""
    svc.delete_activity(session=session, actor=actor, activity=activity, version=if_match,
                        reason=reason)
    return deleted(request, "/activities")
