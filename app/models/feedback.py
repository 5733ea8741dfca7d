"""Feedback forms (党支部征求意见表): issuance, returned forms, their opinions, and the
suggestions (梳理出的意见建议) staff consolidate them into."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, field_validator, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, Versioned, enum_type, utcnow
from app.models.forms import BlankIsNull


class RespondentKind(StrEnum):
    party_member = "party_member"
    villager = "villager"
    cadre = "cadre"
    other = "other"


class Satisfaction(StrEnum):
    satisfied = "satisfied"
    basically = "basically"
    dissatisfied = "dissatisfied"


class Theme(StrEnum):
    prosperity = "prosperity"
    member_quality = "member_quality"
    service = "service"
    work_style = "work_style"
    organization = "organization"
    other = "other"


class FormIssuance(Versioned, table=True):
    """How many forms were handed out to one branch in one campaign."""

    __tablename__ = "form_issuance"
    __feed_type__: ClassVar[str | None] = "form_issuance"
    __table_args__ = (UniqueConstraint("campaign_id", "branch_id",
                                       name="uq_form_issuance_campaign_branch"),)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    branch_id: int = Field(foreign_key="branch.id", index=True)
    township_id: int = Field(foreign_key="township.id", index=True)
    issued: int = Field(ge=0)


class FormIssuancePut(BlankIsNull, SQLModel):
    """Body of `PUT /form-issuances`."""

    campaign_id: int
    branch_id: int
    issued: int = Field(ge=0, le=100000)
    version: int | None = None


class FormIssuanceUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /form-issuances/{id}`: correct the number handed out."""

    issued: int | None = Field(default=None, ge=0, le=100000)
    version: int | None = None


class FormIssuancePublic(SQLModel):
    """An issuance with the forms returned so far."""

    id: int
    version: int
    campaign_id: int
    branch_id: int
    township_id: int
    issued: int
    returned: int = 0
    branch_name: str | None = None


class OpinionIn(BlankIsNull, SQLModel):
    """One opinion written on a form."""

    text: str = Field(min_length=1, max_length=1000)
    theme: Theme = Theme.other

    @field_validator("text")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("意见内容不能为空")
        return v


class FeedbackFormBase(SQLModel):
    """Fields a client sets on a returned form."""

    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    branch_id: int = Field(foreign_key="branch.id", index=True)
    respondent_kind: RespondentKind = Field(
        default=RespondentKind.party_member, sa_type=enum_type(RespondentKind)
    )
    anonymous: bool = True
    respondent_name: str | None = Field(default=None, max_length=50)
    satisfaction: Satisfaction | None = Field(default=None, sa_type=enum_type(Satisfaction))


class FeedbackForm(FeedbackFormBase, Versioned, table=True):
    """A returned form; an anonymous one never holds a name."""

    __tablename__ = "feedback_form"
    __feed_type__: ClassVar[str | None] = "feedback_form"
    # the summary counts a campaign's returned forms from this alone (index-only scan)
    __table_args__ = (
        Index("ix_feedback_form_campaign_live", "campaign_id",
              sqlite_where=text("deleted_at IS NULL"),
              postgresql_where=text("deleted_at IS NULL")),
    )
    township_id: int = Field(foreign_key="township.id", index=True)
    submitted_by: str = Field(max_length=100)
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class FeedbackFormCreate(BlankIsNull, FeedbackFormBase):
    """Body of `POST /feedback-forms`: the form and its opinions, all stored or none."""

    opinions: list[OpinionIn] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _anonymous_has_no_name(self) -> "FeedbackFormCreate":
        # a named form without a name is refused by the service, on `respondent_name`
        if self.anonymous:
            self.respondent_name = None
        return self


class FeedbackFormUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /feedback-forms/{id}`: correct what the form says about its respondent,
    or the branch it was entered for (within the township). An anonymous form keeps no name."""

    branch_id: int | None = None
    respondent_kind: RespondentKind | None = None
    anonymous: bool | None = None
    respondent_name: str | None = Field(default=None, max_length=50)
    satisfaction: Satisfaction | None = None
    version: int | None = None


class OpinionBase(SQLModel):
    """An opinion's text and theme."""

    text: str = Field(max_length=1000)
    theme: Theme = Field(sa_type=enum_type(Theme), index=True)


class Opinion(OpinionBase, Versioned, table=True):
    """One opinion of a returned form; `suggestion_id` once consolidated (at most one)."""

    __feed_type__: ClassVar[str | None] = "opinion"
    # the summary counts a campaign's opinions by theme from this alone (index-only scan)
    __table_args__ = (
        Index("ix_opinion_campaign_theme_live", "campaign_id", "theme",
              sqlite_where=text("deleted_at IS NULL"),
              postgresql_where=text("deleted_at IS NULL")),
    )
    form_id: int = Field(foreign_key="feedback_form.id", index=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    township_id: int = Field(foreign_key="township.id", index=True)
    branch_id: int = Field(foreign_key="branch.id", index=True)
    suggestion_id: int | None = Field(default=None, foreign_key="suggestion.id", index=True)


class OpinionPublic(OpinionBase):
    """An opinion as the API answers it."""

    id: int
    version: int
    form_id: int
    campaign_id: int
    township_id: int
    branch_id: int
    suggestion_id: int | None
    branch_name: str | None = None
    created_at: datetime


class OpinionUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /opinions/{id}`: whoever may write the form corrects wording or theme."""

    text: str | None = Field(default=None, min_length=1, max_length=1000)
    theme: Theme | None = None
    version: int | None = None

    @field_validator("text")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.strip()
        if not v:
            raise ValueError("意见内容不能为空")
        return v


class FeedbackFormPublic(FeedbackFormBase):
    """A returned form with its opinions."""

    id: int
    version: int
    township_id: int
    submitted_by: str
    submitted_at: datetime
    opinions: list[OpinionPublic] = []
    branch_name: str | None = None


class SuggestionBase(SQLModel):
    """Fields staff set on a consolidated suggestion."""

    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    township_id: int = Field(foreign_key="township.id", index=True)
    text: str = Field(min_length=1, max_length=1000)
    theme: Theme = Field(sa_type=enum_type(Theme))


class Suggestion(SuggestionBase, Versioned, table=True):
    """A suggestion (梳理出的意见建议) standing for several opinions; may become a problem."""

    __feed_type__: ClassVar[str | None] = "suggestion"
    problem_id: int | None = Field(default=None, foreign_key="problem.id")


def _opinion_id_list(value: Any) -> Any:
    # a form with one box ticked sends one value, with none ticked nothing or a blank
    if value is None or value == "":
        return []
    if isinstance(value, str | int):
        return [value]
    if isinstance(value, list):
        return [v for v in value if v != ""]
    return value


OpinionIds = Annotated[list[int], BeforeValidator(_opinion_id_list)]


def _at_least_one(ids: list[int]) -> list[int]:
    if not ids:
        raise ValueError("请至少勾选一条意见")
    return ids


class SuggestionCreate(BlankIsNull, SQLModel):
    """Body of `POST /suggestions`; the township is the one of its opinions."""

    campaign_id: int
    township_id: int | None = Field(default=None, description="可省略:取所选意见所属的乡镇")
    text: str = Field(min_length=1, max_length=1000)
    theme: Theme
    # validated when missing too, so ticking nothing says what to do instead of "必填"
    opinion_ids: Annotated[OpinionIds, AfterValidator(_at_least_one)] = PydanticField(
        default_factory=list, max_length=500, validate_default=True)


class SuggestionUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /suggestions/{id}`; `opinion_ids` replaces the grouped opinions."""

    text: str | None = Field(default=None, min_length=1, max_length=1000)
    theme: Theme | None = None
    opinion_ids: Annotated[OpinionIds, AfterValidator(_at_least_one)] | None = Field(
        default=None, max_length=500)
    add_opinion_ids: Annotated[OpinionIds, AfterValidator(_at_least_one)] | None = Field(
        default=None, max_length=500, description="加入这条意见建议的意见(已归入的保留)")
    problem_id: int | None = None
    version: int | None = None


class SuggestionToProblem(BlankIsNull, SQLModel):
    """Body of `POST /suggestions/{id}/problem`: the problem to open from the suggestion."""

    category: str = Field(min_length=1, max_length=40)
    branch_id: int | None = None
    description: str | None = Field(default=None, max_length=2000)
    version: int | None = None


class SuggestionPublic(SuggestionBase):
    """A suggestion with the opinions it stands for."""

    id: int
    updated_at: datetime
    version: int
    problem_id: int | None
    opinion_ids: list[int] = []
    created_at: datetime


class FeedbackStats(SQLModel):
    """Forms and opinions of a scope (campaign, township, branch)."""

    issued: int
    returned: int
    return_rate: float | None
    opinions: int
    suggestions: int
    by_theme: dict[str, int]
    satisfaction: dict[str, int]
    satisfaction_share: dict[str, float]
