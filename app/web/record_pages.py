"""Pages to correct a record and to read its history (修改记录): the history of any type
of record, and the edit pages of activities and problems."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse

from app.api.deps import CurrentActor, SessionDep
from app.api.routing import TransactionRoute
from app.models.activity import ActivityKind
from app.models.problem import ProblemSource
from app.models.user import Role
from app.services import activities as activity_svc
from app.services import campaigns as campaign_svc
from app.services import problems as problem_svc
from app.services.actors import Actor
from app.services.branches import branch_choices
from app.services.errors import Forbidden
from app.services.history import record_history, record_page
from app.services.pagination import PageParams
from app.web.pages import render

router = APIRouter(route_class=TransactionRoute, include_in_schema=False,
                   default_response_class=HTMLResponse)


@router.get("/history/{entity_type}/{entity_id}")
def history_page(
    request: Request, session: SessionDep, actor: CurrentActor,
    entity_type: Annotated[str, Path(max_length=40)], entity_id: int,
    cursor: str | None = None,
) -> Response:
    """A record's 修改记录: who changed which field from what to what, when, and why."""
    entries, next_cursor = record_history(
        session=session, actor=actor, entity_type=entity_type, entity_id=entity_id,
        page=PageParams(limit=200, cursor=cursor),
    )
    return render(request, "pages/history.html", actor, entries=entries,
                  entity_type=entity_type, entity_id=entity_id,
                  back=record_page(entity_type, entity_id),
                  next_page=(f"/history/{entity_type}/{entity_id}?cursor={next_cursor}"
                             if next_cursor else None))


def _require_writer(actor: Actor, township_id: int, what: str) -> None:
    if actor.role == Role.county_admin:
        return
    if actor.role == Role.township_staff and actor.township_id == township_id:
        return
    raise Forbidden(f"当前账号不能修改{what}")


@router.get("/activities/{activity_id}/edit")
def edit_activity_page(request: Request, session: SessionDep, actor: CurrentActor,
                       activity_id: int, delete: bool = False) -> Response:
    """Correct an activity, or delete it with a reason."""
    activity = activity_svc.get_activity(session=session, actor=actor, activity_id=activity_id)
    _require_writer(actor, activity.township_id, "工作开展情况")
    return render(request, "pages/activity_edit.html", actor, activity=activity,
                  kinds=list(ActivityKind), open_delete=delete,
                  branches=branch_choices(session=session, actor=actor,
                                          township_id=activity.township_id))


@router.get("/problems/{problem_id}/edit")
def edit_problem_page(request: Request, session: SessionDep, actor: CurrentActor,
                      problem_id: int, delete: bool = False) -> Response:
    """Correct a problem, or delete it (with a reason) once no task is against it."""
    problem = problem_svc.get_problem(session=session, actor=actor, problem_id=problem_id)
    _require_writer(actor, problem.township_id, "问题清单")
    return render(request, "pages/problem_edit.html", actor,
                  problem=problem_svc.problem_public(session, problem), open_delete=delete,
                  sources=list(ProblemSource),
                  criteria=campaign_svc.campaign_criteria(session, problem.campaign_id),
                  branches=branch_choices(session=session, actor=actor,
                                          township_id=problem.township_id))
