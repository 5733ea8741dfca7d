"""Activities (工作开展情况): meetings, trainings, visits and warning education held."""

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from sqlmodel import Field, SQLModel

from app.models.base import Versioned, enum_type
from app.models.forms import BlankIsNull


class ActivityKind(StrEnum):
    meeting = "meeting"
    training = "training"
    warning_education = "warning_education"
    visit = "visit"
    other = "other"


class ActivityBase(SQLModel):
    """Fields a client sets on an activity."""

    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    township_id: int = Field(foreign_key="township.id", index=True)
    branch_id: int | None = Field(default=None, foreign_key="branch.id", index=True)
    kind: ActivityKind = Field(default=ActivityKind.meeting, sa_type=enum_type(ActivityKind))
    held_on: date
    title: str = Field(min_length=1, max_length=200)
    participants: int | None = Field(default=None, ge=0, le=100000)
    summary: str | None = Field(default=None, max_length=2000)


class Activity(ActivityBase, Versioned, table=True):
    """The activity table; `branch_id` null means township-wide."""

    __feed_type__: ClassVar[str | None] = "activity"


class ActivityCreate(BlankIsNull, ActivityBase):
    """Body of `POST /activities`."""


class ActivityUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /activities/{id}`."""

    branch_id: int | None = None
    kind: ActivityKind | None = None
    held_on: date | None = None
    title: str | None = Field(default=None, min_length=1, max_length=200)
    participants: int | None = Field(default=None, ge=0, le=100000)
    summary: str | None = Field(default=None, max_length=2000)
    version: int | None = None


class ActivityPublic(ActivityBase):
    """An activity as the API answers it."""

    id: int
    version: int
    created_at: datetime
    branch_name: str | None = None
