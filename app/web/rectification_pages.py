"""Pages of rectification (整顿转化): the board by status, a rectification, the score sheet
and the phone page for a liaison's visit."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from app import clock
from app.api.deps import CurrentActor, SessionDep, SettingsDep
from app.api.rectifications import RectificationDep, rectification_context
from app.api.routing import TransactionRoute
from app.listing import Item
from app.models.rectification import (
    LiaisonRole,
    RatingDimension,
    RectificationStatus,
    WeakType,
)
from app.models.user import Role
from app.services import rectifications as svc
from app.services import townships as township_svc
from app.services.actors import Actor
from app.services.branches import branch_choices
from app.services.campaigns import latest_active
from app.services.errors import Conflict, Forbidden
from app.services.pagination import MAX_LIMIT, PageParams
from app.web.pages import render

router = APIRouter(route_class=TransactionRoute, include_in_schema=False,
                   default_response_class=HTMLResponse)


@router.get("/rectifications")
def board(request: Request, session: SessionDep, actor: CurrentActor, settings: SettingsDep,
          township_id: int | None = None) -> Response:
    """Rectifications by status for the county or one township; overdue ones marked."""
    campaign = latest_active(session=session)
    township_id = township_id or actor.township_id
    columns = []
    revisits: list[Item] = []
    if campaign is not None:
        revisits, _ = svc.list_revisits(
            session=session, actor=actor, page=PageParams(limit=MAX_LIMIT),
            filters=svc.RevisitFilters(campaign_id=campaign.id, township_id=township_id,
                                       due=True))
        for status in RectificationStatus:
            items, _ = svc.list_rectifications(
                session=session, actor=actor, settings=settings,
                filters=svc.RectificationFilters(campaign_id=campaign.id,
                                                 township_id=township_id, status=status),
                page=PageParams(limit=MAX_LIMIT))
            columns.append((status.value, items))
    may_propose = campaign is not None and (
        actor.role == Role.county_admin
        or (actor.role == Role.township_staff and actor.township_id is not None))
    return render(request, "pages/rectifications.html", actor, campaign=campaign,
                  columns=columns, township_id=township_id, may_propose=may_propose,
                  revisits=revisits,
                  townships=township_svc.all_townships(session=session, actor=actor),
                  branches=_proposable(session, actor, campaign.id, township_id)
                  if campaign is not None and may_propose else [],
                  weak_types=list(WeakType))


def _proposable(session: Session, actor: Actor, campaign_id: int | None,
                township_id: int | None) -> list[Any]:
    """The branches the actor may propose (拟认定): those without a rectification in the
    campaign yet (`propose` would refuse the others with 409)."""
    taken = svc.branches_with_rectification(session, campaign_id) if campaign_id else set()
    return [b for b in branch_choices(session=session, actor=actor, township_id=township_id)
            if b.id not in taken]


@router.get("/rectifications/{rectification_id}")
def rectification_page(request: Request, rect: RectificationDep, session: SessionDep,
                       actor: CurrentActor, settings: SettingsDep) -> Response:
    """One rectification: reason, publicity, plan, liaisons, tasks, acceptances, revisits."""
    return render(request, "pages/rectification.html", actor,
                  data=svc.rectification_public(session, rect, settings),
                  **rectification_context(session, actor, settings, rect))


@router.get("/rectifications/{rectification_id}/visit")
def visit_page(request: Request, rect: RectificationDep, session: SessionDep,
               actor: CurrentActor, settings: SettingsDep) -> Response:
    """The phone page: a liaison's visit in under a minute."""
    if not svc.may_visit(actor, rect):
        raise Forbidden("当前账号不能记录该党支部的包联走访")
    data = svc.rectification_public(session, rect, settings)
    roles = ([LiaisonRole.first_secretary] if actor.role == Role.branch_secretary
             else list(LiaisonRole))
    names = {item.role.value: item.name for item in data.liaisons}
    return render(request, "pages/rectification_visit.html", actor, data=data, roles=roles,
                  names=names, today=clock.today())


@router.get("/rectifications/{rectification_id}/acceptance")
def acceptance_page(request: Request, rect: RectificationDep, session: SessionDep,
                    actor: CurrentActor, settings: SettingsDep) -> Response:
    """The score sheet: totals as it is filled and shows the grade before saving."""
    if not svc.may_accept(actor):
        raise Forbidden("只有县委组织部可以组织验收")
    if rect.status != RectificationStatus.applied:
        raise Conflict("该党支部尚未申请验收")
    return render(request, "pages/rectification_acceptance.html", actor,
                  data=svc.rectification_public(session, rect, settings),
                  items=svc.acceptance_items(session, rect.campaign_id),
                  dimensions=list(RatingDimension), today=clock.today(),
                  pass_mark=settings.acceptance_pass_mark,
                  good_mark=settings.acceptance_good_mark)
