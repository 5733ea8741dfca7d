"""The dashboard (per township, or the county) and the activities page."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from app.api.deps import CurrentActor, SessionDep, SettingsDep
from app.api.routing import TransactionRoute
from app.listing import ItemsPage
from app.models.activity import ActivityKind
from app.models.user import Role
from app.services import activities as activity_svc
from app.services import townships as township_svc
from app.services.branches import branch_choices, get_branch
from app.services.campaigns import latest_active
from app.services.pagination import MAX_LIMIT, PageParams
from app.services.rectification_stats import status_counts
from app.services.report import summary
from app.services.screenings import screening_progress
from app.services.warnings import early_warnings
from app.web.pages import render

router = APIRouter(route_class=TransactionRoute, include_in_schema=False,
                   default_response_class=HTMLResponse)


@router.get("/dashboard")
def dashboard(request: Request, session: SessionDep, actor: CurrentActor,
              settings: SettingsDep, township_id: int | None = None) -> Response:
    """Screening progress, feedback, tasks, early warnings and age structure, with figures."""
    township_id = township_id or actor.township_id
    townships = township_svc.all_townships(session=session, actor=actor)
    data = summary(session=session, actor=actor, campaign_id=None, township_id=township_id)
    campaign = latest_active(session=session)
    progress = (screening_progress(session=session, actor=actor, campaign_id=campaign.id,
                                   township_id=township_id) if campaign else None)
    warnings = early_warnings(session=session, actor=actor, settings=settings,
                              campaign_id=campaign.id if campaign else None,
                              township_id=township_id, limit=10)
    current = next((t for t in townships if t.id == township_id), None)
    # a secretary's board is her branch's, under the branch's name
    branch = (get_branch(session=session, actor=actor, branch_id=actor.branch_id)
              if actor.role == Role.branch_secretary and actor.branch_id else None)
    return render(request, "pages/dashboard.html", actor, s=data, campaign=campaign,
                  progress=progress, warnings=warnings, townships=townships, current=current,
                  branch=branch, query=request.url.query, rect_statuses=status_counts(
                      session=session, actor=actor, campaign=campaign, township_id=township_id))


@router.get("/activities")
def activities_page(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Quick entry of meetings, trainings, visits and warning education, on a phone."""
    campaign = latest_active(session=session)
    items, cursor = activity_svc.list_activities(
        session=session, actor=actor,
        filters=activity_svc.ActivityFilters(campaign_id=campaign.id if campaign else None),
        page=PageParams(limit=MAX_LIMIT),
    )
    branches = branch_choices(session=session, actor=actor)
    return render(request, "pages/activities.html", actor, campaign=campaign,
                  data=ItemsPage(items, cursor),
                  kinds=list(ActivityKind), branches=branches,
                  townships=township_svc.all_townships(session=session, actor=actor),
                  may_write=actor.role in (Role.county_admin, Role.township_staff))
