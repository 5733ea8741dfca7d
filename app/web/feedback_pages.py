"""Pages of the feedback forms: entry on a phone, the township's overview, consolidation."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from app.api.deps import CurrentActor, SessionDep
from app.api.represent import Page, with_cursor
from app.api.routing import TransactionRoute
from app.models.feedback import (
    FeedbackFormPublic,
    OpinionPublic,
    RespondentKind,
    Satisfaction,
    SuggestionPublic,
    Theme,
)
from app.models.user import Role
from app.services import campaigns as campaign_svc
from app.services import feedback as svc
from app.services.branches import branch_choices
from app.services.errors import Forbidden
from app.services.pagination import MAX_LIMIT, PageParams
from app.web import assets
from app.web.pages import render

router = APIRouter(route_class=TransactionRoute, include_in_schema=False,
                   default_response_class=HTMLResponse)



@router.get("/sw.js")
def service_worker() -> Response:
    """The service worker that keeps the secretary's pages usable offline (scope `/`), with
    the build hash and the hashed static URLs written in: a new build is a changed worker,
    which the browser installs on the next online visit."""
    return Response(assets.service_worker_source(), media_type="text/javascript",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})


@router.get("/feedback/new")
def feedback_entry_page(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Entering returned forms on a phone; works offline and sends when the signal returns."""
    if actor.role == Role.viewer:
        raise Forbidden("只读用户不能录入征求意见表")
    return render(
        request, "pages/feedback_new.html", actor,
        campaign=campaign_svc.latest_active(session=session),
        branches=branch_choices(session=session, actor=actor), themes=list(Theme),
        kinds=list(RespondentKind), satisfactions=list(Satisfaction),
    )


@router.get("/feedback")
def feedback_page(request: Request, session: SessionDep, actor: CurrentActor,
                  branch_id: int | None = None) -> Response:
    """The township's forms: statistics, issuance per branch, returned forms."""
    campaign = campaign_svc.latest_active(session=session)
    cid = campaign.id if campaign else None
    stats = svc.feedback_stats(session=session, actor=actor, campaign_id=cid,
                               branch_id=branch_id)
    issuances, _ = svc.list_issuances(session=session, actor=actor, campaign_id=cid,
                                      township_id=None, page=PageParams(limit=MAX_LIMIT))
    forms, cursor = svc.list_forms(
        session=session, actor=actor,
        filters=svc.FormFilters(campaign_id=cid, branch_id=branch_id), page=PageParams(),
    )
    issued = {i.branch_id: i for i in issuances}
    return render(
        request, "pages/feedback.html", actor, campaign=campaign, stats=stats,
        branches=branch_choices(session=session, actor=actor), issued=issued,
        data=Page[FeedbackFormPublic](items=forms, next_cursor=cursor),
        more_url=with_cursor(request, "/api/v1/feedback-forms", cursor),
        may_write=actor.role in (Role.county_admin, Role.township_staff),
    )


@router.get("/feedback/consolidate")
def consolidate_page(request: Request, session: SessionDep, actor: CurrentActor,
                     theme: Theme | None = None, branch_id: int | None = None) -> Response:
    """Staff group raw opinions into suggestions (梳理) and turn suggestions into problems."""
    if actor.role not in (Role.county_admin, Role.township_staff):
        raise Forbidden("只有乡镇工作人员和县委组织部可以梳理意见")
    campaign = campaign_svc.latest_active(session=session)
    cid = campaign.id if campaign else None
    opinions, cursor = svc.list_opinions(
        session=session, actor=actor,
        filters=svc.OpinionFilters(campaign_id=cid, theme=theme, branch_id=branch_id,
                                   consolidated=False),
        page=PageParams(limit=200),
    )
    suggestions, _ = svc.list_suggestions(session=session, actor=actor, campaign_id=cid,
                                          township_id=None, page=PageParams(limit=MAX_LIMIT))
    return render(
        request, "pages/feedback_consolidate.html", actor, campaign=campaign,
        opinions=Page[OpinionPublic](items=opinions, next_cursor=cursor),
        more_url=with_cursor(request, "/api/v1/opinions", cursor),
        suggestions=Page[SuggestionPublic](items=suggestions, next_cursor=None),
        themes=list(Theme), theme=theme, branch_id=branch_id,
        branches=branch_choices(session=session, actor=actor),
        criteria=campaign_svc.campaign_criteria(session, cid),
        township_id=actor.township_id,
    )
