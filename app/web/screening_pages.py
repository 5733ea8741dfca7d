"""Pages of the screenings: progress with the due-date countdown, the phone checklist,
and the early-warning list."""

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from app.api.deps import CurrentActor, SessionDep, SettingsDep
from app.api.routing import TransactionRoute
from app.api.screenings import (
    CONCLUSION_CHOICES,
    checklist,
    may_screen,
    screening_form_context,
)
from app.services import campaigns as campaign_svc
from app.services import screenings as svc
from app.services import townships as township_svc
from app.services.branches import get_branch
from app.services.errors import Forbidden, NotFound
from app.services.warnings import early_warnings, thresholds
from app.web.pages import render

router = APIRouter(route_class=TransactionRoute, include_in_schema=False,
                   default_response_class=HTMLResponse)


@router.get("/screenings")
def progress_page(request: Request, session: SessionDep, actor: CurrentActor,
                  campaign_id: int | None = None) -> Response:
    campaign = (campaign_svc.get_campaign(session=session, campaign_id=campaign_id)
                if campaign_id else campaign_svc.latest_active(session=session))
    progress = (svc.screening_progress(session=session, actor=actor, campaign_id=campaign.id,
                                       township_id=None) if campaign else None)
    return render(request, "pages/screenings.html", actor, campaign=campaign,
                  progress=progress, may_screen=may_screen(actor.role))


@router.get("/screenings/new")
def new_screening_page(request: Request, session: SessionDep, actor: CurrentActor,
                       branch_id: int) -> Response:
    if not may_screen(actor.role):
        raise Forbidden("只有乡镇工作人员和县委组织部可以填写排查记录")
    campaign = campaign_svc.latest_active(session=session)
    if campaign is None:
        raise NotFound("还没有进行中的专项整治")
    branch = get_branch(session=session, actor=actor, branch_id=branch_id)
    return render(request, "pages/screening_form.html", actor, campaign=campaign,
                  branch=branch, screening=None, criteria=checklist(session, campaign.id),
                  conclusions=CONCLUSION_CHOICES, results={})


@router.get("/screenings/{screening_id}")
def screening_page(request: Request, session: SessionDep, actor: CurrentActor,
                   screening_id: int) -> Response:
    s = svc.get_screening(session=session, actor=actor, screening_id=screening_id)
    return render(request, "pages/screening_form.html", actor,
                  **screening_form_context(session, actor, s))


@router.get("/warnings")
def warnings_page(request: Request, session: SessionDep, actor: CurrentActor,
                  settings: SettingsDep, township_id: int | None = None) -> Response:
    """The ranked list, filtered by township, with the thresholds in force (read-only)."""
    campaign = campaign_svc.latest_active(session=session)
    items = early_warnings(session=session, actor=actor, settings=settings,
                           campaign_id=campaign.id if campaign else None,
                           township_id=township_id)
    query = {k: v for k, v in (("campaign_id", campaign.id if campaign else None),
                               ("township_id", township_id)) if v is not None}
    return render(request, "pages/warnings.html", actor, items=items, campaign=campaign,
                  thresholds=thresholds(settings), township_id=township_id,
                  townships=township_svc.all_townships(session=session, actor=actor),
                  xlsx_url="/api/v1/early-warnings.xlsx"
                  + (f"?{urlencode(query)}" if query else ""))
