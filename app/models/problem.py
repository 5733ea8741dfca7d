"""Problems (问题清单): found by a screening, from consolidated opinions, or by other checks."""

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from app.models.base import Versioned, enum_type
from app.models.forms import BlankIsNull


class ProblemSource(StrEnum):
    screening = "screening"
    feedback = "feedback"
    inspection = "inspection"
    self_check = "self_check"


class ProblemBase(SQLModel):
    """Fields a client sets on a problem."""

    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    township_id: int = Field(foreign_key="township.id", index=True)
    branch_id: int | None = Field(default=None, foreign_key="branch.id", index=True)
    category: str = Field(min_length=1, max_length=40)
    source: ProblemSource = Field(sa_type=enum_type(ProblemSource))
    description: str = Field(min_length=1, max_length=2000)


class Problem(ProblemBase, Versioned, table=True):
    """The problem table; `branch_id` null means township-wide."""

    __feed_type__: ClassVar[str | None] = "problem"
    # the summary counts a campaign's problems by category from this alone (index-only scan)
    __table_args__ = (
        Index("ix_problem_campaign_category_live", "campaign_id", "category",
              sqlite_where=text("deleted_at IS NULL"),
              postgresql_where=text("deleted_at IS NULL")),
    )


class ProblemCreate(BlankIsNull, ProblemBase):
    """Body of `POST /problems`."""


class ProblemUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /problems/{id}`."""

    branch_id: int | None = None
    category: str | None = Field(default=None, min_length=1, max_length=40)
    source: ProblemSource | None = None
    description: str | None = Field(default=None, min_length=1, max_length=2000)
    version: int | None = None


class ProblemPublic(ProblemBase):
    """A problem as the API answers it, with its branch's name and its tasks' count."""

    id: int
    version: int
    created_at: datetime
    updated_at: datetime
    branch_name: str | None = None
    township_name: str | None = None
    task_count: int = 0
