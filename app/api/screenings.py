"""`/screenings`, `/screening-progress` and `/early-warnings`."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlmodel import Session

from app import clock
from app.api.deps import (
    CurrentActor,
    DeletionReason,
    IfMatch,
    PageDep,
    SessionDep,
    SettingsDep,
)
from app.api.represent import (
    Page,
    attachment_headers,
    json_list,
    respond,
    respond_page,
    wants_html,
)
from app.api.routing import TransactionRoute
from app.models.campaign import Criterion, CriterionKind
from app.models.screening import (
    Conclusion,
    EarlyWarning,
    Screening,
    ScreeningCreate,
    ScreeningProgress,
    ScreeningPublic,
    ScreeningToProblems,
    ScreeningUpdate,
)
from app.models.user import Role
from app.services import screenings as svc
from app.services.actors import Actor
from app.services.branches import get_branch
from app.services.campaigns import campaign_criteria, get_campaign
from app.services.errors import PreconditionFailed
from app.services.warnings import early_warnings, warnings_xlsx

router = APIRouter(tags=["screenings"], route_class=TransactionRoute)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def load_screening(session: SessionDep, actor: CurrentActor,
                   screening_id: int = Path()) -> Screening:
    return svc.get_screening(session=session, actor=actor, screening_id=screening_id)


ScreeningDep = Annotated[Screening, Depends(load_screening)]

# 待定 first: the form preselects no judgement
CONCLUSION_CHOICES = [Conclusion.pending, Conclusion.weak_lax, Conclusion.sound]


def may_screen(role: Role | None) -> bool:
    """Who fills in screenings on the pages: township staff and the county."""
    return role in (Role.county_admin, Role.township_staff)


def checklist(session: Session, campaign_id: int) -> list[Criterion]:
    """The campaign's criteria still in use, in order: the rows of the screening form."""
    return [c for c in campaign_criteria(session, campaign_id)
            if c.kind == CriterionKind.criterion and not c.retired]


def screening_form_context(session: Session, actor: Actor,
                           screening: Screening) -> dict[str, Any]:
    """What the screening form shows for a saved screening: its answers per criterion, the
    retired ones apart, read-only for those who may not screen."""
    public = svc.screening_public(session, screening)
    criteria = checklist(session, screening.campaign_id)
    active = {c.code for c in criteria}
    return {
        "campaign": get_campaign(session=session, campaign_id=screening.campaign_id),
        "branch": get_branch(session=session, actor=actor, branch_id=screening.branch_id),
        "screening": public, "criteria": criteria, "conclusions": CONCLUSION_CHOICES,
        "results": {r.code: r for r in public.results},
        "retired_results": [r for r in public.results if r.code not in active],
        "readonly": not may_screen(actor.role),
    }


@router.get("/screenings", response_model=Page[ScreeningPublic])
def list_screenings(request: Request, session: SessionDep, actor: CurrentActor, page: PageDep,
                    campaign_id: int | None = None, branch_id: int | None = None,
                    township_id: int | None = None,
                    conclusion: Conclusion | None = None) -> Response:
    """Screenings the caller may see, each with its results per criterion."""
    filters = svc.ScreeningFilters(campaign_id=campaign_id, branch_id=branch_id,
                                   township_id=township_id, conclusion=conclusion)
    items, cursor = svc.list_screenings(session=session, actor=actor, filters=filters, page=page)
    return respond_page(request, items, cursor)


@router.post("/screenings", status_code=201, response_model=ScreeningPublic)
def create_screening(body: ScreeningCreate, request: Request, session: SessionDep,
                     actor: CurrentActor) -> Response:
    """Record a screening (one per campaign and branch); `weak_lax` marks the branch."""
    s = svc.create_screening(session=session, actor=actor, data=body)
    return respond(request, svc.screening_public(session, s), status_code=201, etag=s.version,
                   location=f"/api/v1/screenings/{s.id}",
                   fragment="fragments/screening_saved.html", page_url=f"/screenings/{s.id}")


@router.get("/screenings/{screening_id}", response_model=ScreeningPublic)
def read_screening(request: Request, screening: ScreeningDep, session: SessionDep) -> Response:
    """One screening."""
    return respond(request, svc.screening_public(session, screening), etag=screening.version)


@router.patch("/screenings/{screening_id}", response_model=ScreeningPublic)
def update_screening(body: ScreeningUpdate, request: Request, screening: ScreeningDep,
                     session: SessionDep, actor: CurrentActor, if_match: IfMatch) -> Response:
    """Change a screening's results or conclusion; needs `If-Match` or `version` (412 when it
    changed meanwhile; a page then gets the current record with the message)."""
    try:
        s = svc.update_screening(session=session, actor=actor, screening=screening, data=body,
                                 version=body.version if body.version is not None else if_match)
    except PreconditionFailed as exc:
        if not wants_html(request):
            raise
        session.refresh(screening)
        return respond(request, None, status_code=412, etag=screening.version,
                       fragment="fragments/screening_form.html",
                       context={**screening_form_context(session, actor, screening),
                                "stale": exc})
    return respond(request, svc.screening_public(session, s), etag=s.version,
                   fragment="fragments/screening_saved.html")


@router.delete("/screenings/{screening_id}", status_code=204)
def delete_screening(request: Request, screening: ScreeningDep, session: SessionDep,
                     actor: CurrentActor, if_match: IfMatch, reason: DeletionReason) -> Response:
    """Delete (soft) a screening, with a reason (`?reason=` or body `{"reason"}`); needs
    `If-Match`. A weak-and-lax mark only it gave the branch is cleared."""
    svc.delete_screening(session=session, actor=actor, screening=screening, version=if_match,
                         reason=reason)
    response = Response(status_code=204)
    if request.headers.get("hx-request") == "true":
        response.headers["HX-Redirect"] = "/screenings"
    return response


@router.post("/screenings/{screening_id}/problems", status_code=201,
             response_model=ScreeningPublic)
def screening_to_problems(body: ScreeningToProblems, request: Request, screening: ScreeningDep,
                          session: SessionDep, actor: CurrentActor) -> Response:
    """Turn hits into problems of the ledger (source: screening), pre-filled, in one action."""
    svc.hits_to_problems(session=session, actor=actor, screening=screening, codes=body.codes)
    return respond(request, svc.screening_public(session, screening), status_code=201,
                   etag=screening.version, fragment="fragments/screening_saved.html")


@router.get("/screening-progress", response_model=ScreeningProgress)
def screening_progress(request: Request, session: SessionDep, actor: CurrentActor,
                       campaign_id: int, township_id: int | None = None) -> Response:
    """Which village and community branches are screened, late, or still to do."""
    progress = svc.screening_progress(session=session, actor=actor, campaign_id=campaign_id,
                                      township_id=township_id)
    return respond(request, progress)


@router.get("/early-warnings", response_model=list[EarlyWarning])
def list_early_warnings(request: Request, session: SessionDep, actor: CurrentActor,
                        settings: SettingsDep, campaign_id: int | None = None,
                        township_id: int | None = None,
                        limit: Annotated[int | None, Query(ge=1, le=500)] = None) -> Response:
    """Branches ranked by risk, each with `score` and `reasons: [{code, message, value}]`."""
    items = early_warnings(session=session, actor=actor, settings=settings,
                           campaign_id=campaign_id, township_id=township_id, limit=limit)
    return json_list(items)


@router.get("/early-warnings.xlsx", response_class=Response)
def early_warnings_xlsx(session: SessionDep, actor: CurrentActor, settings: SettingsDep,
                        campaign_id: int | None = None,
                        township_id: int | None = None) -> Response:
    """The ranked list as an Excel workbook (same filters as `/early-warnings`)."""
    items = early_warnings(session=session, actor=actor, settings=settings,
                           campaign_id=campaign_id, township_id=township_id)
    body = warnings_xlsx(items, f"预警名单({clock.today():%Y-%m-%d})")
    return Response(body, media_type=XLSX, headers=attachment_headers("预警名单.xlsx"))
