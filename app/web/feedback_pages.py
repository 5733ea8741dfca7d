"""Pages of the feedback forms: entry on a phone, the township's overview, consolidation, and
the pages that correct a returned form, an opinion, a suggestion or an issuance."""

from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from app import assets
from app.api.deps import CurrentActor, SessionDep
from app.api.represent import with_cursor
from app.api.routing import TransactionRoute
from app.listing import ItemsPage
from app.models.branch import Branch
from app.models.feedback import (
    FeedbackForm,
    RespondentKind,
    Satisfaction,
    Theme,
)
from app.models.user import Role
from app.services import campaigns as campaign_svc
from app.services import feedback as svc
from app.services.actors import Actor
from app.services.branches import branch_choices
from app.services.errors import Forbidden
from app.services.pagination import MAX_LIMIT, PageParams
from app.web.pages import BlankIsNone, render

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
                  branch_id: Annotated[int | None, BlankIsNone] = None,
                  cursor: str | None = None) -> Response:
    """The township's forms: statistics, issuance per branch, returned forms (newest first,
    by branch; the filter and the page are in the address, so Back comes back to them)."""
    campaign = campaign_svc.latest_active(session=session)
    cid = campaign.id if campaign else None
    stats = svc.feedback_stats(session=session, actor=actor, campaign_id=cid,
                               branch_id=branch_id)
    issuances, _ = svc.list_issuances(session=session, actor=actor, campaign_id=cid,
                                      township_id=None, page=PageParams(limit=MAX_LIMIT))
    forms, next_cursor = svc.list_forms(
        session=session, actor=actor,
        filters=svc.FormFilters(campaign_id=cid, branch_id=branch_id),
        page=PageParams(cursor=cursor),
    )
    issued = {i.branch_id: i for i in issuances}
    return render(
        request, "pages/feedback.html", actor, campaign=campaign, stats=stats,
        branches=branch_choices(session=session, actor=actor), issued=issued,
        data=ItemsPage(forms, next_cursor),
        next_page=with_cursor(request, "/feedback", next_cursor),
        first_page=f"/feedback?branch_id={branch_id}" if branch_id else "/feedback",
        branch_id=branch_id, paged=cursor is not None,
        may_write=actor.role in (Role.county_admin, Role.township_staff),
        may_enter=actor.role != Role.viewer,
    )


@router.get("/feedback/forms/{form_id}")
def form_page(request: Request, session: SessionDep, actor: CurrentActor, form_id: int,
              delete: bool = False) -> Response:
    """One returned form with its opinions; 修改 and 删除 for whoever may write it."""
    form = svc.get_form(session=session, actor=actor, form_id=form_id)
    return render(request, "pages/feedback_form.html", actor,
                  data=svc.form_public(session, form),
                  may_write=svc.may_write_form(actor, form), open_delete=delete)


def _writable_form(session: SessionDep, actor: Actor, form_id: int) -> FeedbackForm:
    form = svc.get_form(session=session, actor=actor, form_id=form_id)
    if not svc.may_write_form(actor, form):
        raise Forbidden("只能修改本支部(乡镇工作人员:本乡镇)的征求意见表")
    return form


@router.get("/feedback/forms/{form_id}/edit")
def edit_form_page(request: Request, session: SessionDep, actor: CurrentActor,
                   form_id: int) -> Response:
    """Correct a returned form's respondent, satisfaction or branch."""
    form = _writable_form(session, actor, form_id)
    branches = [b for b in branch_choices(session=session, actor=actor,
                                          township_id=form.township_id)
                if actor.role != Role.branch_secretary or b.id == form.branch_id]
    return render(request, "pages/feedback_form_edit.html", actor, form=form,
                  branches=branches, kinds=list(RespondentKind),
                  satisfactions=list(Satisfaction))


@router.get("/feedback/opinions/{opinion_id}/edit")
def edit_opinion_page(request: Request, session: SessionDep, actor: CurrentActor,
                      opinion_id: int, delete: bool = False) -> Response:
    """Correct one opinion's text or theme, or delete it with a reason."""
    opinion = svc.get_opinion(session=session, actor=actor, opinion_id=opinion_id)
    _writable_form(session, actor, opinion.form_id)
    return render(request, "pages/opinion_edit.html", actor, opinion=opinion,
                  themes=list(Theme), open_delete=delete)


def _require_staff(actor: Actor) -> None:
    if actor.role not in (Role.county_admin, Role.township_staff):
        raise Forbidden("只有乡镇工作人员和县委组织部可以修改")


@router.get("/feedback/suggestions/{suggestion_id}/edit")
def edit_suggestion_page(request: Request, session: SessionDep, actor: CurrentActor,
                         suggestion_id: int, delete: bool = False) -> Response:
    """Reword a suggestion, take opinions out of it, or delete it with a reason."""
    _require_staff(actor)
    suggestion = svc.get_suggestion(session=session, actor=actor, suggestion_id=suggestion_id)
    opinions, _ = svc.list_opinions(
        session=session, actor=actor,
        filters=svc.OpinionFilters(suggestion_id=suggestion.id), page=PageParams(limit=500))
    return render(request, "pages/suggestion_edit.html", actor, suggestion=suggestion,
                  opinions=opinions, themes=list(Theme), open_delete=delete)


@router.get("/feedback/issuances/{issuance_id}/edit")
def edit_issuance_page(request: Request, session: SessionDep, actor: CurrentActor,
                       issuance_id: int, delete: bool = False) -> Response:
    """Correct the number of forms handed out to a branch, or delete the row."""
    _require_staff(actor)
    issuance = svc.get_issuance(session=session, actor=actor, issuance_id=issuance_id)
    branch = session.get(Branch, issuance.branch_id)
    public = svc.issuance_public(issuance, branch.name if branch else None,
                                 svc.returned_for(session, issuance))
    return render(request, "pages/issuance_edit.html", actor, issuance=public,
                  open_delete=delete)


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
        opinions=ItemsPage(opinions, cursor),
        more_url=with_cursor(request, "/api/v1/opinions", cursor),
        suggestions=ItemsPage(suggestions, None),
        themes=list(Theme), theme=theme, branch_id=branch_id,
        branches=branch_choices(session=session, actor=actor),
        criteria=campaign_svc.campaign_criteria(session, cid),
        township_id=actor.township_id,
    )
