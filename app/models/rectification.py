"""Rectification of a weak branch (整顿转化): designation, plan, liaisons, visits,
acceptance with its score sheet, and the revisits after conversion."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field as PydanticField
from pydantic import field_validator
from sqlalchemy import JSON, Index, Numeric, text
from sqlmodel import Field, SQLModel

from app.models.base import Timestamped, Versioned, enum_type
from app.models.forms import BlankIsNull


class RectificationStatus(StrEnum):
    proposed = "proposed"
    designated = "designated"
    applied = "applied"
    converted = "converted"
    withdrawn = "withdrawn"


# Statuses that count as designated (past `proposed`, not withdrawn).
DESIGNATED_STATUSES = (RectificationStatus.designated, RectificationStatus.applied,
                       RectificationStatus.converted)
IN_PROGRESS_STATUSES = (RectificationStatus.designated, RectificationStatus.applied)


class RectificationAction(StrEnum):
    designate = "designate"
    withdraw = "withdraw"
    apply = "apply"
    approve_plan = "approve_plan"


class WeakType(StrEnum):
    soft = "soft"
    lax = "lax"
    chaotic = "chaotic"
    poor = "poor"


class LiaisonRole(StrEnum):
    county_leader = "county_leader"
    township_leader = "township_leader"
    first_secretary = "first_secretary"
    helper_unit = "helper_unit"


class Grade(StrEnum):
    fail = "fail"
    basic = "basic"
    pass_ = "pass"


class RatingDimension(StrEnum):
    ability = "ability"
    style = "style"
    integrity = "integrity"
    results = "results"
    overall = "overall"


class RevisitResult(StrEnum):
    holds = "holds"
    relapsed = "relapsed"


class Liaison(SQLModel):
    """One of the four liaisons (四个一): `helper_unit` has a name and no post."""

    role: LiaisonRole
    name: str = Field(min_length=1, max_length=100)
    post: str | None = Field(default=None, max_length=100)


def _one_or_many(value: Any) -> Any:
    """A form with one box ticked sends a text, not a list: take it as a list of one."""
    return [value] if isinstance(value, str) else value


def _distinct_types(value: list[WeakType]) -> list[WeakType]:
    if not value:
        raise ValueError("请至少选择一种类型(软、散、乱、穷)")
    return [t for t in WeakType if t in value]


def _distinct_roles(value: list[Liaison] | None) -> list[Liaison] | None:
    if value is None:
        return None
    roles = [item.role for item in value]
    if len(roles) != len(set(roles)):
        raise ValueError("每种包联角色只能填写一位")
    return value


# ------------------------------------------------------------------ rectification


def liaisons_of(record: Any) -> list[Liaison]:
    """The named liaisons of `record` (a `Rectification`, or a row with its `<role>_name`
    and `<role>_post` columns; the helper unit has no post), in the order of `LiaisonRole`."""
    out = []
    for role in LiaisonRole:
        name = getattr(record, f"{role.value}_name")
        if name:
            post = getattr(record, f"{role.value}_post", None)
            out.append(Liaison(role=role, name=name, post=post))
    return out


class Rectification(Versioned, table=True):
    """One weak branch's rectification in a campaign (one per campaign and branch).

    The four liaisons are columns (name and post each; the helper unit a name), so the
    summary counts them by SQL; the API shows them as `liaisons: [{role, name, post}]`.
    """

    __feed_type__: ClassVar[str | None] = "rectification"
    __table_args__ = (
        Index("uq_rectification_campaign_branch", "campaign_id", "branch_id", unique=True),
    )
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    township_id: int = Field(foreign_key="township.id", index=True)
    branch_id: int = Field(foreign_key="branch.id", index=True)
    screening_id: int | None = Field(default=None, foreign_key="screening.id")
    status: RectificationStatus = Field(
        default=RectificationStatus.proposed, sa_type=enum_type(RectificationStatus), index=True
    )
    status_note: str | None = Field(default=None, max_length=1000)
    weak_types: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    reason: str = Field(max_length=2000)
    proposed_by: str = Field(max_length=100)
    proposed_on: date
    designated_by: str | None = Field(default=None, max_length=100)
    designated_on: date | None = None
    publicity_from: date | None = None
    publicity_until: date | None = None
    target_on: date | None = None
    plan: str | None = Field(default=None, max_length=5000)
    plan_approved_by: str | None = Field(default=None, max_length=100)
    plan_approved_on: date | None = None
    county_leader_name: str | None = Field(default=None, max_length=100)
    county_leader_post: str | None = Field(default=None, max_length=100)
    township_leader_name: str | None = Field(default=None, max_length=100)
    township_leader_post: str | None = Field(default=None, max_length=100)
    first_secretary_name: str | None = Field(default=None, max_length=100)
    first_secretary_post: str | None = Field(default=None, max_length=100)
    helper_unit_name: str | None = Field(default=None, max_length=100)
    converted_on: date | None = None
    relapse_count: int = Field(default=0, nullable=False)

    def liaisons(self) -> list[Liaison]:
        """The named liaisons, in the order of `LiaisonRole`."""
        return liaisons_of(self)

    def set_liaisons(self, liaisons: list[Liaison]) -> None:
        """Replace the four liaisons with `liaisons` (a role not given is cleared)."""
        given = {item.role: item for item in liaisons}
        for role in LiaisonRole:
            item = given.get(role)
            setattr(self, f"{role.value}_name", item.name if item else None)
            if role != LiaisonRole.helper_unit:
                setattr(self, f"{role.value}_post", item.post if item else None)


class RectificationCreate(BlankIsNull, SQLModel):
    """Body of `POST /rectifications`: the township proposes a branch (拟认定)."""

    campaign_id: int = Field(ge=1, le=2**31 - 1)
    branch_id: int = Field(ge=1, le=2**31 - 1)
    screening_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    # validated when missing too (a form with no box ticked sends none): "tick one", not "必填"
    weak_types: list[WeakType] = PydanticField(default_factory=list, validate_default=True)
    reason: str = Field(min_length=1, max_length=2000)
    target_on: date | None = None

    check_types = field_validator("weak_types")(_distinct_types)
    as_list = field_validator("weak_types", mode="before")(_one_or_many)


class RectificationUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /rectifications/{id}`: `liaisons` replaces the list."""

    weak_types: list[WeakType] | None = None
    reason: str | None = Field(default=None, min_length=1, max_length=2000)
    target_on: date | None = None
    plan: str | None = Field(default=None, max_length=5000)
    liaisons: list[Liaison] | None = None
    designated_on: date | None = None
    publicity_until: date | None = None
    version: int | None = None

    as_list = field_validator("weak_types", mode="before")(_one_or_many)

    @field_validator("weak_types")
    @classmethod
    def check_types(cls, value: list[WeakType] | None) -> list[WeakType] | None:
        return None if value is None else _distinct_types(value)

    check_roles = field_validator("liaisons")(_distinct_roles)


class RectificationTransition(BlankIsNull, SQLModel):
    """Body of `POST /rectifications/{id}/transitions`."""

    action: RectificationAction
    note: str | None = Field(default=None, max_length=1000)
    version: int | None = None


class LastVisit(SQLModel):
    """A liaison's latest visit and whether its rhythm is missed."""

    role: LiaisonRole
    last_visited_on: date | None
    due_by: date | None
    overdue: bool


class RectificationPublic(SQLModel):
    """A rectification as the API answers it."""

    id: int
    version: int
    campaign_id: int
    township_id: int
    township_name: str | None = None
    branch_id: int
    branch_name: str | None = None
    screening_id: int | None
    status: RectificationStatus
    status_note: str | None
    weak_types: list[WeakType]
    reason: str
    proposed_by: str
    proposed_on: date
    designated_by: str | None
    designated_on: date | None
    publicity_from: date | None
    publicity_until: date | None
    target_on: date | None
    target_overdue: bool = False
    plan: str | None
    plan_approved_by: str | None
    plan_approved_on: date | None
    liaisons: list[Liaison]
    last_visits: list[LastVisit] = []
    visit_overdue: bool = False
    converted_on: date | None
    relapse_count: int
    repeat_listed: bool = False
    created_at: datetime
    updated_at: datetime


# ------------------------------------------------------------------ liaison visits


class LiaisonVisit(Versioned, table=True):
    """One visit of a liaison to a designated branch."""

    __feed_type__: ClassVar[str | None] = "liaison_visit"
    __tablename__ = "liaison_visit"
    rectification_id: int = Field(foreign_key="rectification.id", index=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    township_id: int = Field(foreign_key="township.id", index=True)
    branch_id: int = Field(foreign_key="branch.id", index=True)
    role: LiaisonRole = Field(sa_type=enum_type(LiaisonRole))
    visitor_name: str = Field(max_length=100)
    visited_on: date
    summary: str | None = Field(default=None, max_length=2000)
    recorded_by: str = Field(max_length=100)


class VisitCreate(BlankIsNull, SQLModel):
    """Body of `POST /rectifications/{id}/visits`."""

    role: LiaisonRole
    visitor_name: str = Field(min_length=1, max_length=100)
    visited_on: date
    summary: str | None = Field(default=None, max_length=2000)


class VisitPublic(SQLModel):
    """A liaison visit as the API answers it."""

    id: int
    version: int
    rectification_id: int
    branch_id: int
    role: LiaisonRole
    visitor_name: str
    visited_on: date
    summary: str | None
    recorded_by: str
    created_at: datetime


# ------------------------------------------------------------------ acceptance


class AcceptanceItem(Timestamped, table=True):
    """One line of the acceptance score sheet; `campaign_id` null is the default sheet.

    A campaign with rows of its own uses those instead of the defaults (like the criteria).
    """

    __tablename__ = "acceptance_item"
    __table_args__ = (
        Index("uq_acceptance_item_campaign_code", "campaign_id", "code", unique=True),
        Index("uq_acceptance_item_default_code", "code", unique=True,
              sqlite_where=text("campaign_id IS NULL"),
              postgresql_where=text("campaign_id IS NULL")),
    )
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id")
    code: str = Field(max_length=40)
    label: str = Field(max_length=200)
    max_points: Decimal = Field(sa_type=Numeric(6, 2))
    position: int = 0
    retired: bool = False


class AcceptanceItemPublic(SQLModel):
    """A line of the score sheet as `GET /acceptance-items` answers it."""

    code: str
    label: str
    max_points: Decimal
    position: int
    campaign_id: int | None


class ItemScore(SQLModel):
    """The points one item of the sheet got."""

    code: str = Field(min_length=1, max_length=40)
    score: Decimal = Field(ge=0, le=1000, max_digits=6, decimal_places=2)


class Rating(SQLModel):
    """Tallies of the representatives' rating (民主测评) on one dimension."""

    dimension: RatingDimension
    satisfied: int = Field(default=0, ge=0, le=100000)
    basic: int = Field(default=0, ge=0, le=100000)
    dissatisfied: int = Field(default=0, ge=0, le=100000)


class Acceptance(Versioned, table=True):
    """The county's acceptance (验收) of an applied rectification, with its derived grade."""

    __feed_type__: ClassVar[str | None] = "acceptance"
    rectification_id: int = Field(foreign_key="rectification.id", index=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    township_id: int = Field(foreign_key="township.id", index=True)
    branch_id: int = Field(foreign_key="branch.id", index=True)
    held_on: date
    item_scores: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON,
                                              nullable=False)
    ratings: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON, nullable=False)
    note: str | None = Field(default=None, max_length=2000)
    total: Decimal = Field(sa_type=Numeric(7, 2))
    grade: Grade = Field(sa_type=enum_type(Grade))
    recorded_by: str = Field(max_length=100)


class AcceptanceCreate(BlankIsNull, SQLModel):
    """Body of `POST /acceptances`."""

    rectification_id: int = Field(ge=1, le=2**31 - 1)
    held_on: date
    item_scores: list[ItemScore]
    ratings: list[Rating] = []
    note: str | None = Field(default=None, max_length=2000)


class AcceptancePublic(SQLModel):
    """An acceptance as the API answers it: `total`, the dissatisfied share and the grade."""

    id: int
    version: int
    rectification_id: int
    branch_id: int
    held_on: date
    item_scores: list[ItemScore]
    ratings: list[Rating]
    note: str | None
    total: Decimal
    dissatisfied_share: float | None
    grade: Grade
    recorded_by: str
    created_at: datetime


# ------------------------------------------------------------------ revisits


class Revisit(Versioned, table=True):
    """A revisit (回头看) falling due months after conversion."""

    __feed_type__: ClassVar[str | None] = "revisit"
    rectification_id: int = Field(foreign_key="rectification.id", index=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    township_id: int = Field(foreign_key="township.id", index=True)
    branch_id: int = Field(foreign_key="branch.id", index=True)
    months: int
    due_on: date = Field(index=True)
    done_on: date | None = None
    result: RevisitResult | None = Field(default=None, sa_type=enum_type(RevisitResult))
    note: str | None = Field(default=None, max_length=2000)


class RevisitUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /revisits/{id}`: what the revisit found."""

    result: RevisitResult | None = None
    done_on: date | None = None
    note: str | None = Field(default=None, max_length=2000)
    version: int | None = None


class RevisitPublic(SQLModel):
    """A revisit as the API answers it; `due` when not done and its day has come."""

    id: int
    version: int
    rectification_id: int
    branch_id: int
    branch_name: str | None = None
    months: int
    due_on: date
    done_on: date | None
    result: RevisitResult | None
    note: str | None
    due: bool = False


# ------------------------------------------------------------------ summary block


class RectificationFigures(SQLModel):
    """The summary's `rectifications` block (DESIGN.md, "The summary report")."""

    designated: int = 0
    share: float = 0.0
    converted: int = 0
    conversion_rate: float = 0.0
    in_progress: int = 0
    overdue: int = 0
    relapsed: int = 0
    repeat_listed: int = 0
    first_secretaries: int = 0
    county_liaisons: int = 0
    revisits_due: int = 0
    by_type: dict[str, int] = {}
