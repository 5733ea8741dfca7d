"""Campaigns (专项整治) and the weak-and-lax criteria (软弱涣散情形) they screen against."""

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import model_validator
from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from app.models.base import Timestamped, Versioned, enum_type
from app.models.forms import BlankIsNull


class CampaignStatus(StrEnum):
    active = "active"
    closed = "closed"


class CampaignBase(SQLModel):
    """Fields a client sets on a campaign."""

    name: str = Field(min_length=1, max_length=100)
    starts_on: date
    screening_due: date | None = None
    ends_on: date
    status: CampaignStatus = Field(default=CampaignStatus.active, sa_type=enum_type(CampaignStatus))


def check_campaign_dates(
    starts_on: date | None, screening_due: date | None, ends_on: date | None
) -> None:
    if starts_on and ends_on and ends_on < starts_on:
        raise ValueError("结束日期不能早于开始日期")
    if screening_due and starts_on and screening_due < starts_on:
        raise ValueError("排查截止日期不能早于开始日期")
    if screening_due and ends_on and screening_due > ends_on:
        raise ValueError("排查截止日期不能晚于结束日期")


class Campaign(CampaignBase, Versioned, table=True):
    """The campaign table: problems, tasks, screenings and forms belong to one."""

    __feed_type__: ClassVar[str | None] = "campaign"


class CampaignCreate(BlankIsNull, CampaignBase):
    """Body of `POST /campaigns`."""

    @model_validator(mode="after")
    def _dates(self) -> "CampaignCreate":
        check_campaign_dates(self.starts_on, self.screening_due, self.ends_on)
        return self


class CampaignUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /campaigns/{id}`."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    starts_on: date | None = None
    screening_due: date | None = None
    ends_on: date | None = None
    status: CampaignStatus | None = None
    version: int | None = None


class CampaignPublic(CampaignBase):
    """A campaign as the API answers it."""

    id: int
    version: int
    created_at: datetime
    updated_at: datetime


class CriterionKind(StrEnum):
    criterion = "criterion"  # a weak-and-lax situation screened against
    category = "category"  # a problem category outside the criteria


class Criterion(Timestamped, table=True):
    """One criterion or problem category; `campaign_id` null is the default set.

    A campaign that carries its own rows uses those instead of the defaults. Codes never
    change meaning; an item is retired, not deleted, so old results stay readable.
    """

    __tablename__ = "criterion"
    __table_args__ = (
        Index("uq_criterion_campaign_code", "campaign_id", "code", unique=True),
        Index("uq_criterion_default_code", "code", unique=True,
              sqlite_where=text("campaign_id IS NULL"),
              postgresql_where=text("campaign_id IS NULL")),
    )
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id")
    code: str = Field(max_length=40)
    label: str = Field(max_length=200)
    kind: CriterionKind = Field(sa_type=enum_type(CriterionKind))
    position: int = 0
    retired: bool = False


class CriterionCreate(BlankIsNull, SQLModel):
    """Body of `POST /campaigns/{id}/criteria`: a new item with a new code."""

    # pydantic 2 ignores SQLModel's `regex=`; the pattern must be given as `pattern`
    code: str = Field(min_length=2, max_length=40,
                      schema_extra={"pattern": r"^[a-z][a-z0-9_]*$"})
    label: str = Field(min_length=1, max_length=200)
    kind: CriterionKind = CriterionKind.criterion


class CriterionUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /campaigns/{id}/criteria/{code}`: reword, retire or restore."""

    label: str | None = Field(default=None, min_length=1, max_length=200)
    retired: bool | None = None


class CriterionPublic(SQLModel):
    """A criterion or category as `GET /criteria` answers it."""

    code: str
    label: str
    kind: CriterionKind
    position: int
    retired: bool
    campaign_id: int | None
