"""Screenings (排查摸底): a leader's check of one branch against the weak-and-lax criteria."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import field_validator
from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import Versioned, enum_type
from app.models.forms import BlankIsNull


class Conclusion(StrEnum):
    weak_lax = "weak_lax"
    sound = "sound"
    pending = "pending"


class CriterionResult(BlankIsNull, SQLModel):
    """The result of one criterion: hit or not, with a note."""

    code: str = Field(min_length=1, max_length=40)
    hit: bool = False
    note: str | None = Field(default=None, max_length=500)
    problem_id: int | None = None  # set when the hit became a problem of the ledger


class ScreeningBase(SQLModel):
    """Fields a client sets on a screening."""

    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    branch_id: int = Field(foreign_key="branch.id", index=True)
    led_by: str = Field(min_length=1, max_length=50)
    led_by_title: str | None = Field(default=None, max_length=50)
    screened_on: date
    conclusion: Conclusion = Field(default=Conclusion.pending, sa_type=enum_type(Conclusion))
    summary: str | None = Field(default=None, max_length=2000)


class Screening(ScreeningBase, Versioned, table=True):
    """One screening per campaign and branch; results hold one entry per criterion."""

    __feed_type__: ClassVar[str | None] = "screening"
    __table_args__ = (UniqueConstraint("campaign_id", "branch_id",
                                       name="uq_screening_campaign_branch"),)
    township_id: int = Field(foreign_key="township.id", index=True)
    results: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)


class ScreeningCreate(BlankIsNull, ScreeningBase):
    """Body of `POST /screenings`."""

    results: list[CriterionResult] = Field(default_factory=list, max_length=100)

    @field_validator("led_by")
    @classmethod
    def _strip(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("请填写带队领导")
        return v.strip()


class ScreeningUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /screenings/{id}`."""

    led_by: str | None = Field(default=None, min_length=1, max_length=50)
    led_by_title: str | None = Field(default=None, max_length=50)
    screened_on: date | None = None
    conclusion: Conclusion | None = None
    summary: str | None = Field(default=None, max_length=2000)
    results: list[CriterionResult] | None = Field(default=None, max_length=100)
    version: int | None = None


class ResultPublic(SQLModel):
    """A criterion's result with its label (kept readable after the criterion is retired)."""

    code: str
    label: str
    hit: bool
    note: str | None
    retired: bool = False
    problem_id: int | None = None


class ScreeningPublic(ScreeningBase):
    """A screening as the API answers it."""

    id: int
    version: int
    township_id: int
    results: list[ResultPublic]
    branch_name: str | None = None
    late: bool = False
    created_at: datetime
    updated_at: datetime


class ScreeningToProblems(BlankIsNull, SQLModel):
    """Body of `POST /screenings/{id}/problems`: which hits become problems (all if empty)."""

    codes: list[str] = Field(default_factory=list, max_length=100)


class BranchProgress(SQLModel):
    """One target branch in the screening progress."""

    branch_id: int
    branch_name: str
    township_id: int
    township_name: str
    kind: str
    state: str  # done, late, pending (screened, not concluded), todo
    screened_on: date | None = None
    conclusion: Conclusion | None = None
    screening_id: int | None = None


class ScreeningProgress(SQLModel):
    """Which target branches are screened, late, or still to do."""

    campaign_id: int
    due: date | None
    days_left: int | None
    target: int
    done: int
    done_by_due: int
    late: int
    todo: int
    weak_lax: int
    branches: list[BranchProgress]


class WarningReason(SQLModel):
    """One signal behind a branch's early-warning score, with its figure."""

    code: str
    message: str
    value: bool | int | float | str | None  # bool first: False stays false, not 0.0


class EarlyWarning(SQLModel):
    """A branch ranked by risk."""

    branch_id: int
    branch_name: str
    township_id: int
    township_name: str
    score: float
    reasons: list[WarningReason]
