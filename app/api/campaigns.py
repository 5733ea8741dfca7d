"""`/campaigns` and `/criteria`."""

from fastapi import APIRouter, Path, Request, Response

from app.api.deps import CurrentActor, IfMatch, PageDep, SessionDep
from app.api.represent import Page, json_list, respond, respond_page
from app.api.routing import TransactionRoute
from app.models.campaign import (
    CampaignCreate,
    CampaignPublic,
    CampaignStatus,
    CampaignUpdate,
    CriterionCreate,
    CriterionPublic,
    CriterionUpdate,
)
from app.services import campaigns as svc

router = APIRouter(tags=["campaigns"], route_class=TransactionRoute)


@router.get("/campaigns", response_model=Page[CampaignPublic])
def list_campaigns(request: Request, session: SessionDep, actor: CurrentActor, page: PageDep,
                   status: CampaignStatus | None = None) -> Response:
    """Campaigns, oldest first."""
    rows, cursor = svc.list_campaigns(session=session, page=page, status=status)
    return respond_page(request, rows, cursor)


@router.post("/campaigns", status_code=201, response_model=CampaignPublic)
def create_campaign(body: CampaignCreate, request: Request, session: SessionDep,
                    actor: CurrentActor) -> Response:
    """Start a campaign (county administrators)."""
    campaign = svc.create_campaign(session=session, actor=actor, data=body)
    return respond(request, CampaignPublic.model_validate(campaign), status_code=201,
                   etag=campaign.version, location=f"/api/v1/campaigns/{campaign.id}",
                   fragment="fragments/campaign_created.html")


@router.get("/campaigns/{campaign_id}", response_model=CampaignPublic)
def read_campaign(request: Request, session: SessionDep, actor: CurrentActor,
                  campaign_id: int = Path()) -> Response:
    """One campaign."""
    campaign = svc.get_campaign(session=session, campaign_id=campaign_id)
    return respond(request, CampaignPublic.model_validate(campaign), etag=campaign.version)


@router.patch("/campaigns/{campaign_id}", response_model=CampaignPublic)
def update_campaign(body: CampaignUpdate, request: Request, session: SessionDep,
                    actor: CurrentActor, if_match: IfMatch,
                    campaign_id: int = Path()) -> Response:
    """Change a campaign's dates, name or status."""
    campaign = svc.get_campaign(session=session, campaign_id=campaign_id)
    campaign = svc.update_campaign(session=session, actor=actor, campaign=campaign, data=body,
                                   version=body.version if body.version is not None else if_match)
    return respond(request, CampaignPublic.model_validate(campaign), etag=campaign.version)


@router.get("/criteria", response_model=list[CriterionPublic])
def list_criteria(request: Request, session: SessionDep, actor: CurrentActor,
                  campaign_id: int | None = None) -> Response:
    """The weak-and-lax criteria and problem categories (the campaign's, or the defaults)."""
    rows = svc.campaign_criteria(session, campaign_id)
    items = [CriterionPublic.model_validate(c, from_attributes=True) for c in rows]
    return json_list(items)


@router.post("/campaigns/{campaign_id}/criteria", status_code=201, response_model=CriterionPublic)
def add_criterion(body: CriterionCreate, request: Request, session: SessionDep,
                  actor: CurrentActor, campaign_id: int = Path()) -> Response:
    """Add an item to the campaign's own list (a copy of the defaults is made first)."""
    campaign = svc.get_campaign(session=session, campaign_id=campaign_id)
    criterion = svc.add_criterion(session=session, actor=actor, campaign=campaign, data=body)
    return respond(request, CriterionPublic.model_validate(criterion, from_attributes=True),
                   status_code=201)


@router.patch("/campaigns/{campaign_id}/criteria/{code}", response_model=CriterionPublic)
def change_criterion(body: CriterionUpdate, request: Request, session: SessionDep,
                     actor: CurrentActor, campaign_id: int = Path(),
                     code: str = Path(max_length=40)) -> Response:
    """Reword, retire or restore an item; its code keeps its meaning."""
    campaign = svc.get_campaign(session=session, campaign_id=campaign_id)
    criterion = svc.change_criterion(session=session, actor=actor, campaign=campaign, code=code,
                                     data=body)
    return respond(request, CriterionPublic.model_validate(criterion, from_attributes=True))
