"""Campaigns and the criteria they screen against."""

from typing import Any

from sqlalchemy import Table, case, select
from sqlmodel import Session, col

from app.listing import Item, columns_of, items
from app.models.campaign import (
    Campaign,
    CampaignCreate,
    CampaignPublic,
    CampaignStatus,
    CampaignUpdate,
    Criterion,
    CriterionCreate,
    CriterionKind,
    CriterionUpdate,
    check_campaign_dates,
)
from app.services.actors import Actor, require_county_admin
from app.services.errors import Invalid, NotFound
from app.services.pagination import PageParams, keyset_rows
from app.services.records import apply_changes, check_version

_CAMPAIGN: Table = Campaign.__table__  # type: ignore[attr-defined]


def list_campaigns(
    *, session: Session, page: PageParams, status: CampaignStatus | None = None
) -> tuple[list[Item], str | None]:
    """A page of campaigns, oldest first (`CampaignPublic` items), and the next page's
    cursor (None on the last page)."""
    stmt = select(*columns_of(CampaignPublic, _CAMPAIGN)).where(
        _CAMPAIGN.c.deleted_at.is_(None))
    if status is not None:
        stmt = stmt.where(Campaign.status == status)
    rows, cursor = keyset_rows(session, stmt, keys=[_CAMPAIGN.c.id],
                               key_of=lambda r: [r.id], page=page)
    return items(CampaignPublic, rows), cursor


def all_campaigns(*, session: Session) -> list[Campaign]:
    """Every campaign, newest first (for choices on forms)."""
    stmt = select(Campaign).where(col(Campaign.deleted_at).is_(None)).order_by(
        col(Campaign.starts_on).desc(), col(Campaign.id).desc()
    )
    return list(session.scalars(stmt))


def latest_active(*, session: Session) -> Campaign | None:
    stmt = (
        select(Campaign)
        .where(col(Campaign.deleted_at).is_(None), Campaign.status == CampaignStatus.active)
        .order_by(col(Campaign.starts_on).desc(), col(Campaign.id).desc())
    )
    return session.scalars(stmt).first()


def get_campaign(*, session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.deleted_at is not None:
        raise NotFound("专项整治不存在")
    return campaign


def check_campaign(session: Session, campaign_id: int) -> Campaign:
    """The campaign for a new record, or a field error on `campaign_id`."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.deleted_at is not None:
        raise Invalid("campaign_id", "所选专项整治不存在")
    return campaign


def create_campaign(*, session: Session, actor: Actor, data: CampaignCreate) -> Campaign:
    require_county_admin(actor, "新建专项整治", allow_token=True)
    campaign = Campaign.model_validate(data)
    session.add(campaign)
    session.flush()
    return campaign


def update_campaign(
    *, session: Session, actor: Actor, campaign: Campaign, data: CampaignUpdate,
    version: int | None,
) -> Campaign:
    require_county_admin(actor, "修改专项整治", allow_token=True)
    check_version(campaign, version)
    apply_changes(campaign, data)
    try:
        check_campaign_dates(campaign.starts_on, campaign.screening_due, campaign.ends_on)
    except ValueError as exc:
        raise Invalid("ends_on", str(exc)) from None
    session.add(campaign)
    session.flush()
    return campaign


def _criteria_first() -> Any:
    return case((Criterion.kind == CriterionKind.criterion, 0), else_=1)


def campaign_criteria(session: Session, campaign_id: int | None) -> list[Criterion]:
    """The campaign's own criteria and categories if it has any, else the default set."""
    own: list[Criterion] = []
    if campaign_id is not None:
        own = list(session.scalars(
            select(Criterion).where(Criterion.campaign_id == campaign_id)
            .order_by(_criteria_first(), Criterion.position)
        ))
    if own:
        return own
    return list(session.scalars(
        select(Criterion).where(col(Criterion.campaign_id).is_(None))
        .order_by(_criteria_first(), Criterion.position)
    ))


def check_category(session: Session, campaign_id: int, code: str) -> None:
    codes = {c.code for c in campaign_criteria(session, campaign_id) if not c.retired}
    if code not in codes:
        raise Invalid("category", f"问题类别“{code}”不在本次专项整治的清单中")


def _own_criteria(session: Session, campaign: Campaign) -> list[Criterion]:
    """The campaign's own list, made from a copy of the defaults the first time it is changed."""
    own = list(session.scalars(select(Criterion).where(Criterion.campaign_id == campaign.id)))
    if own:
        return own
    for c in campaign_criteria(session, None):
        copy = Criterion(campaign_id=campaign.id, code=c.code, label=c.label, kind=c.kind,
                         position=c.position, retired=c.retired)
        session.add(copy)
        own.append(copy)
    session.flush()
    return own


def add_criterion(
    *, session: Session, actor: Actor, campaign: Campaign, data: CriterionCreate
) -> Criterion:
    """Add an item to the campaign's own list (codes are new; they never change meaning)."""
    require_county_admin(actor, "修改软弱涣散情形清单", allow_token=True)
    own = _own_criteria(session, campaign)
    defaults = {c.code for c in campaign_criteria(session, None)}
    if any(c.code == data.code for c in own) or data.code in defaults:
        raise Invalid("code", f"编码“{data.code}”已被使用;编码不能改作他用")
    criterion = Criterion(campaign_id=campaign.id, code=data.code, label=data.label,
                          kind=data.kind, position=max((c.position for c in own), default=0) + 1)
    session.add(criterion)
    session.flush()
    return criterion


def change_criterion(
    *, session: Session, actor: Actor, campaign: Campaign, code: str, data: CriterionUpdate
) -> Criterion:
    """Reword or retire (or restore) an item of the campaign's list."""
    require_county_admin(actor, "修改软弱涣散情形清单", allow_token=True)
    found = [c for c in _own_criteria(session, campaign) if c.code == code]
    if not found:
        raise NotFound("该情形不在本次专项整治的清单中")
    criterion = found[0]
    if data.label is not None:
        criterion.label = data.label
    if data.retired is not None:
        criterion.retired = data.retired
    session.add(criterion)
    session.flush()
    return criterion
