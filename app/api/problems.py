"""`/problems`: the problem list (问题清单)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from app.api.deletion import DELETE_DOC, deleted
from app.api.deps import CurrentActor, DeletionReason, IfMatch, PageDep, SessionDep
from app.api.represent import Page, respond, respond_page
from app.api.routing import TransactionRoute
from app.models.problem import (
    Problem,
    ProblemCreate,
    ProblemPublic,
    ProblemSource,
    ProblemUpdate,
)
from app.services import problems as svc

router = APIRouter(prefix="/problems", tags=["problems"], route_class=TransactionRoute)


def load_problem(session: SessionDep, actor: CurrentActor, problem_id: int = Path()) -> Problem:
    return svc.get_problem(session=session, actor=actor, problem_id=problem_id)


ProblemDep = Annotated[Problem, Depends(load_problem)]


@router.get("", response_model=Page[ProblemPublic])
def list_problems(
    request: Request, session: SessionDep, actor: CurrentActor, page: PageDep,
    campaign_id: int | None = None, township_id: int | None = None,
    branch_id: int | None = None, category: str | None = None,
    source: ProblemSource | None = None,
) -> Response:
    """Problems the caller may see."""
    filters = svc.ProblemFilters(campaign_id=campaign_id, township_id=township_id,
                                 branch_id=branch_id, category=category, source=source)
    items, cursor = svc.list_problems(session=session, actor=actor, filters=filters, page=page)
    return respond_page(request, items, cursor, fragment="fragments/problem_rows.html",
                        more_path="/api/v1/problems")


@router.post("", status_code=201, response_model=ProblemPublic)
def create_problem(body: ProblemCreate, request: Request, session: SessionDep,
                   actor: CurrentActor) -> Response:
    """Record a problem of a township or one of its branches."""
    problem = svc.create_problem(session=session, actor=actor, data=body)
    return respond(request, svc.problem_public(session, problem), status_code=201,
                   etag=problem.version, location=f"/api/v1/problems/{problem.id}",
                   fragment="fragments/problem_rows.html", context={"single": True})


@router.get("/{problem_id}", response_model=ProblemPublic)
def read_problem(request: Request, problem: ProblemDep, session: SessionDep) -> Response:
    """One problem."""
    return respond(request, svc.problem_public(session, problem), etag=problem.version)


@router.patch("/{problem_id}", response_model=ProblemPublic)
def update_problem(body: ProblemUpdate, request: Request, problem: ProblemDep,
                   session: SessionDep, actor: CurrentActor, if_match: IfMatch) -> Response:
    """Change a problem; needs `If-Match` or `version`."""
    problem = svc.update_problem(session=session, actor=actor, problem=problem, data=body,
                                 version=body.version if body.version is not None else if_match)
    return respond(request, svc.problem_public(session, problem), etag=problem.version)


@router.delete("/{problem_id}", status_code=204, description=DELETE_DOC)
def delete_problem(request: Request, problem: ProblemDep, session: SessionDep,
                   actor: CurrentActor, if_match: IfMatch, reason: DeletionReason) -> Response:
    """Delete a problem that has no live tasks, with a reason."""
    svc.delete_problem(session=session, actor=actor, problem=problem, version=if_match,
                       reason=reason)
    return deleted(request, "/problems")
