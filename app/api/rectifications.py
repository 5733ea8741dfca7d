"""`/rectifications`, their transitions and visits, `/acceptance-items`, `/acceptances`,
`/revisits` and the upward table `/reports/rectification-stats.xlsx` (整顿转化)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from sqlmodel import Session

from app import clock
from app.api.deps import CurrentActor, IfMatch, PageDep, SessionDep, SettingsDep
from app.api.represent import (
    Page,
    attachment_headers,
    json_list,
    respond,
    respond_page,
)
from app.api.routing import TransactionRoute
from app.config import Settings
from app.models.rectification import (
    Acceptance,
    AcceptanceCreate,
    AcceptanceItemPublic,
    AcceptancePublic,
    LiaisonRole,
    Rectification,
    RectificationCreate,
    RectificationPublic,
    RectificationStatus,
    RectificationTransition,
    RectificationUpdate,
    Revisit,
    RevisitPublic,
    RevisitUpdate,
    VisitCreate,
    VisitPublic,
)
from app.services import rectification_stats as stats
from app.services import rectifications as svc
from app.services.actors import Actor
from app.services.pagination import MAX_LIMIT, PageParams

router = APIRouter(tags=["rectifications"], route_class=TransactionRoute)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DETAIL = "fragments/rectification_detail.html"


def load_rectification(request: Request, session: SessionDep, actor: CurrentActor,
                       rectification_id: int = Path()) -> Rectification:
    write = request.method not in ("GET", "HEAD")
    return svc.get_rectification(session=session, actor=actor,
                                 rectification_id=rectification_id, for_update=write)


RectificationDep = Annotated[Rectification, Depends(load_rectification)]


def rectification_context(session: Session, actor: Actor, settings: Settings,
                          rect: Rectification) -> dict[str, Any]:
    """What the rectification page shows besides the record: actions, visits, the branch's
    problems and tasks, acceptances and revisits."""
    acceptances, _ = svc.list_acceptances(session=session, actor=actor,
                                          rectification_id=rect.id, campaign_id=None,
                                          page=PageParams(limit=MAX_LIMIT))
    revisits, _ = svc.list_revisits(session=session, actor=actor,
                                    filters=svc.RevisitFilters(rectification_id=rect.id),
                                    page=PageParams(limit=MAX_LIMIT))
    return {
        "actions": svc.allowed_actions(actor, rect),
        "may_edit": svc.may_edit(actor, rect),
        "may_visit": svc.may_visit(actor, rect),
        "may_accept": rect.status == RectificationStatus.applied and svc.may_accept(actor),
        "is_county": svc.may_accept(actor),
        "visits": svc.list_visits(session=session, rect=rect),
        "problems": svc.branch_tasks(session, rect),
        "acceptances": acceptances,
        "revisits": revisits,
        "roles": list(LiaisonRole),
        "today": clock.today(),
    }


def _detail(request: Request, session: Session, actor: Actor, settings: Settings,
            rect: Rectification, *, status_code: int = 200, **extra: Any) -> Response:
    return respond(request, svc.rectification_public(session, rect, settings),
                   status_code=status_code, etag=rect.version, fragment=DETAIL,
                   context={**rectification_context(session, actor, settings, rect), **extra})


@router.get("/rectifications", response_model=Page[RectificationPublic])
def list_rectifications(request: Request, session: SessionDep, actor: CurrentActor,
                        settings: SettingsDep, page: PageDep, campaign_id: int | None = None,
                        township_id: int | None = None, branch_id: int | None = None,
                        status: RectificationStatus | None = None) -> Response:
    """Rectifications the caller may see; each carries `visit_overdue` and `liaisons`."""
    filters = svc.RectificationFilters(campaign_id=campaign_id, township_id=township_id,
                                       branch_id=branch_id, status=status)
    items, cursor = svc.list_rectifications(session=session, actor=actor, settings=settings,
                                            filters=filters, page=page)
    return respond_page(request, items, cursor, fragment="fragments/rectification_cards.html",
                        more_path="/api/v1/rectifications")


@router.post("/rectifications", status_code=201, response_model=RectificationPublic)
def propose(body: RectificationCreate, request: Request, session: SessionDep,
            actor: CurrentActor, settings: SettingsDep) -> Response:
    """The township proposes a weak branch (拟认定) with its types and the reason."""
    rect = svc.propose(session=session, actor=actor, data=body)
    return respond(request, svc.rectification_public(session, rect, settings),
                   status_code=201, etag=rect.version,
                   location=f"/api/v1/rectifications/{rect.id}",
                   fragment="fragments/rectification_cards.html",
                   context={"single": True, "created": True})


@router.get("/rectifications/{rectification_id}", response_model=RectificationPublic)
def read_rectification(request: Request, rect: RectificationDep, session: SessionDep,
                       actor: CurrentActor, settings: SettingsDep) -> Response:
    """One rectification with its liaisons' last visits and `visit_overdue`."""
    return _detail(request, session, actor, settings, rect)


@router.patch("/rectifications/{rectification_id}", response_model=RectificationPublic)
def update_rectification(body: RectificationUpdate, request: Request, rect: RectificationDep,
                         session: SessionDep, actor: CurrentActor, settings: SettingsDep,
                         if_match: IfMatch) -> Response:
    """Change the plan, liaisons (the list is replaced), types, reason or target; the
    county corrects `designated_on` or lengthens the publicity. Needs `If-Match`."""
    rect = svc.update_rectification(
        session=session, actor=actor, rect=rect, data=body, settings=settings,
        version=body.version if body.version is not None else if_match)
    return _detail(request, session, actor, settings, rect, saved=True)


@router.post("/rectifications/{rectification_id}/transitions",
             response_model=RectificationPublic)
def transition(body: RectificationTransition, request: Request, rect: RectificationDep,
               session: SessionDep, actor: CurrentActor, settings: SettingsDep,
               if_match: IfMatch) -> Response:
    """Designate, withdraw, approve the plan (county) or apply for acceptance (township)."""
    rect = svc.transition(session=session, actor=actor, rect=rect, action=body.action,
                          note=body.note, settings=settings,
                          version=body.version if body.version is not None else if_match)
    return _detail(request, session, actor, settings, rect)


@router.get("/rectifications/{rectification_id}/visits", response_model=list[VisitPublic])
def list_visits(rect: RectificationDep, session: SessionDep) -> Response:
    """The liaisons' visits, latest first."""
    return json_list(svc.list_visits(session=session, rect=rect))


@router.post("/rectifications/{rectification_id}/visits", status_code=201,
             response_model=VisitPublic)
def add_visit(body: VisitCreate, request: Request, rect: RectificationDep,
              session: SessionDep, actor: CurrentActor) -> Response:
    """Log a liaison's visit (`{role, visitor_name, visited_on, summary}`)."""
    visit = svc.add_visit(session=session, actor=actor, rect=rect, data=body)
    public = VisitPublic.model_validate(visit, from_attributes=True)
    return respond(request, public, status_code=201, etag=visit.version,
                   location=f"/api/v1/rectifications/{rect.id}/visits",
                   fragment="fragments/visit_saved.html", context={"rect_id": rect.id})


@router.get("/acceptance-items", response_model=list[AcceptanceItemPublic])
def acceptance_items(session: SessionDep, actor: CurrentActor,
                     campaign_id: int | None = None) -> Response:
    """The acceptance score sheet of a campaign (its own, or the default 100 points)."""
    items = svc.acceptance_items(session, campaign_id)
    return json_list([AcceptanceItemPublic.model_validate(i, from_attributes=True)
                      for i in items])


@router.get("/acceptances", response_model=Page[AcceptancePublic])
def list_acceptances(session: SessionDep, actor: CurrentActor, page: PageDep,
                     request: Request, rectification_id: int | None = None,
                     campaign_id: int | None = None) -> Response:
    """Acceptances with their totals and grades."""
    items, cursor = svc.list_acceptances(session=session, actor=actor,
                                         rectification_id=rectification_id,
                                         campaign_id=campaign_id, page=page)
    return respond_page(request, items, cursor)


@router.post("/acceptances", status_code=201, response_model=AcceptancePublic)
def record_acceptance(body: AcceptanceCreate, request: Request, session: SessionDep,
                      actor: CurrentActor, settings: SettingsDep) -> Response:
    """The county records an acceptance: the grade converts the branch or returns it."""
    acceptance, rect = svc.record_acceptance(session=session, actor=actor, data=body,
                                             settings=settings)
    public = svc.acceptance_public(acceptance)
    headers_url = f"/rectifications/{rect.id}"
    response = respond(request, public, status_code=201, etag=acceptance.version,
                       location=f"/api/v1/acceptances/{acceptance.id}")
    if request.headers.get("hx-request") == "true":
        response.headers["HX-Redirect"] = headers_url
    return response


def _load_acceptance(session: SessionDep, actor: CurrentActor,
                     acceptance_id: int = Path()) -> Acceptance:
    return svc.get_acceptance(session=session, actor=actor, acceptance_id=acceptance_id)


@router.get("/acceptances/{acceptance_id}", response_model=AcceptancePublic)
def read_acceptance(request: Request,
                    acceptance: Annotated[Acceptance, Depends(_load_acceptance)]) -> Response:
    """One acceptance."""
    return respond(request, svc.acceptance_public(acceptance), etag=acceptance.version)


@router.get("/revisits", response_model=Page[RevisitPublic])
def list_revisits(request: Request, session: SessionDep, actor: CurrentActor, page: PageDep,
                  campaign_id: int | None = None, township_id: int | None = None,
                  rectification_id: int | None = None, due: bool | None = None) -> Response:
    """Revisits (回头看) by due date; `due=true`: not done and their day has come."""
    filters = svc.RevisitFilters(campaign_id=campaign_id, township_id=township_id,
                                 rectification_id=rectification_id, due=due)
    items, cursor = svc.list_revisits(session=session, actor=actor, filters=filters,
                                      page=page)
    return respond_page(request, items, cursor)


def _load_revisit(request: Request, session: SessionDep, actor: CurrentActor,
                  revisit_id: int = Path()) -> Revisit:
    return svc.get_revisit(session=session, actor=actor, revisit_id=revisit_id,
                           for_update=request.method not in ("GET", "HEAD"))


RevisitDep = Annotated[Revisit, Depends(_load_revisit)]


@router.get("/revisits/{revisit_id}", response_model=RevisitPublic)
def read_revisit(request: Request, revisit: RevisitDep) -> Response:
    """One revisit."""
    return respond(request, svc.revisit_public(revisit), etag=revisit.version)


@router.patch("/revisits/{revisit_id}", response_model=RevisitPublic)
def record_revisit(body: RevisitUpdate, request: Request, revisit: RevisitDep,
                   session: SessionDep, actor: CurrentActor, settings: SettingsDep,
                   if_match: IfMatch) -> Response:
    """Record what the revisit found; a relapse returns the branch to 已认定."""
    revisit = svc.record_revisit(
        session=session, actor=actor, revisit=revisit, data=body,
        version=body.version if body.version is not None else if_match)
    if request.headers.get("hx-request") == "true":
        rect = svc.get_rectification(session=session, actor=actor,
                                     rectification_id=revisit.rectification_id)
        return _detail(request, session, actor, settings, rect)
    return respond(request, svc.revisit_public(revisit), etag=revisit.version)


@router.get("/reports/rectification-stats.xlsx")
def rectification_stats(session: SessionDep, actor: CurrentActor,
                        campaign_id: int | None = None) -> Response:
    """The upward table (整顿转化情况统计表): a row per township and the county total."""
    rows, title = stats.upward_table(session=session, actor=actor, campaign_id=campaign_id)
    body = stats.stats_workbook(rows, title)
    return Response(body, media_type=XLSX,
                    headers=attachment_headers("软弱涣散基层党组织整顿转化情况统计表.xlsx"))
