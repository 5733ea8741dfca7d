"""Campaigns and the criteria they screen against."""

from sqlalchemy import select
from sqlmodel import Session, col

from app.models.campaign import (
    Campaign,
    CampaignCreate,
    CampaignStatus,
    CampaignUpdate,
    Criterion,
    check_campaign_dates,
)
from app.services.actors import Actor, require_county_admin
from app.services.errors import Invalid, NotFound
from app.services.pagination import PageParams, keyset_page
from app.services.records import apply_changes, check_version


def list_campaigns(
    *, session: Session, page: PageParams, status: CampaignStatus | None = None
) -> tuple[list[Campaign], str | None]:
    stmt = select(Campaign).where(col(Campaign.deleted_at).is_(None))
    if status is not None:
        stmt = stmt.where(Campaign.status == status)
    rows, cursor = keyset_page(session, stmt, keys=[col(Campaign.id)],
                               key_of=lambda r: [r[0].id], page=page)
    return [r[0] for r in rows], cursor


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


def campaign_criteria(session: Session, campaign_id: int | None) -> list[Criterion]:
    """The campaign's own criteria and categories if it has any, else the default set."""
    own: list[Criterion] = []
    if campaign_id is not None:
        own = list(session.scalars(
            select(Criterion).where(Criterion.campaign_id == campaign_id)
            .order_by(Criterion.kind, Criterion.position)
        ))
    if own:
        return own
    return list(session.scalars(
        select(Criterion).where(col(Criterion.campaign_id).is_(None))
        .order_by(Criterion.kind, Criterion.position)
    ))


def check_category(session: Session, campaign_id: int, code: str) -> None:
    codes = {c.code for c in campaign_criteria(session, campaign_id) if not c.retired}
    if code not in codes:
        raise Invalid("category", f"问题类别“{code}”不在本次专项整治的清单中")
