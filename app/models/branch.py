"""Branches (党支部): the register, with the figures that signal trouble."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from pydantic import field_validator
from sqlalchemy import Index, Numeric, text
from sqlmodel import Field, SQLModel

from app import clock
from app.models.base import Versioned, enum_type
from app.models.forms import BlankIsNull

MIN_BIRTH_YEAR = 1920
MIN_SECRETARY_AGE = 18


class BranchKind(StrEnum):
    village = "village"
    community = "community"
    organ = "organ"
    enterprise = "enterprise"
    school = "school"
    other = "other"


class BranchFlag(StrEnum):
    age_bands_incomplete = "age_bands_incomplete"
    secretary_60_plus = "secretary_60_plus"
    no_dual_role = "no_dual_role"
    low_collective_income = "low_collective_income"
    no_young_members = "no_young_members"


AGE_BANDS = ("members_35_under", "members_36_55", "members_56_over")


def check_birth_year(year: int | None) -> int | None:
    """A secretary is at least 18 and born after 1920."""
    if year is None:
        return None
    latest = clock.today().year - MIN_SECRETARY_AGE
    if not MIN_BIRTH_YEAR <= year <= latest:
        raise ValueError(f"出生年份应在 {MIN_BIRTH_YEAR} 到 {latest} 之间")
    return year


class BranchFields(SQLModel):
    """The register's figures, shared by the table and its create/update bodies."""

    kind: BranchKind = Field(default=BranchKind.village, sa_type=enum_type(BranchKind))
    member_count: int = Field(default=0, ge=0, le=100000)
    members_35_under: int | None = Field(default=None, ge=0, le=100000)
    members_36_55: int | None = Field(default=None, ge=0, le=100000)
    members_56_over: int | None = Field(default=None, ge=0, le=100000)
    applicants_35_under: int | None = Field(default=None, ge=0, le=100000)
    secretary_name: str | None = Field(default=None, max_length=50)
    secretary_birth_year: int | None = None
    secretary_is_director: bool = False
    collective_income_wan: Decimal | None = Field(
        default=None, ge=0, le=Decimal("99999999"), decimal_places=2, sa_type=Numeric(12, 2)
    )
    income_sources: str | None = Field(default=None, max_length=500)
    is_weak_lax: bool = False
    notes: str | None = Field(default=None, max_length=2000)


class BranchBase(BranchFields):
    """Fields a client sets on create, with their limits."""

    township_id: int = Field(foreign_key="township.id", index=True)
    name: str = Field(min_length=1, max_length=50)

    @field_validator("name")
    @classmethod
    def _strip_name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("名称不能为空")
        return v

    @field_validator("secretary_birth_year")
    @classmethod
    def _plausible_birth_year(cls, v: int | None) -> int | None:
        return check_birth_year(v)


class Branch(BranchBase, Versioned, table=True):
    """The branch table; names are unique among a township's live branches."""

    __feed_type__: ClassVar[str | None] = "branch"
    __table_args__ = (
        Index(
            "uq_branch_township_name_live", "township_id", "name", unique=True,
            sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL"),
        ),
    )


class BranchCreate(BlankIsNull, BranchBase):
    """Body of `POST /branches`."""


class BranchUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /branches/{id}`: only the fields sent change."""

    name: str | None = Field(default=None, min_length=1, max_length=50)
    kind: BranchKind | None = None
    member_count: int | None = Field(default=None, ge=0, le=100000)
    members_35_under: int | None = Field(default=None, ge=0, le=100000)
    members_36_55: int | None = Field(default=None, ge=0, le=100000)
    members_56_over: int | None = Field(default=None, ge=0, le=100000)
    applicants_35_under: int | None = Field(default=None, ge=0, le=100000)
    secretary_name: str | None = Field(default=None, max_length=50)
    secretary_birth_year: int | None = None
    secretary_is_director: bool | None = None
    collective_income_wan: Decimal | None = Field(
        default=None, ge=0, le=Decimal("99999999"), decimal_places=2
    )
    income_sources: str | None = Field(default=None, max_length=500)
    is_weak_lax: bool | None = None
    notes: str | None = Field(default=None, max_length=2000)
    version: int | None = None

    @field_validator("secretary_birth_year")
    @classmethod
    def _plausible_birth_year(cls, v: int | None) -> int | None:
        return check_birth_year(v)


class BranchPublic(BranchBase):
    """A branch as the API answers it, with its derived `flags`."""

    id: int
    version: int
    created_at: datetime
    updated_at: datetime
    township_name: str | None = None
    flags: list[BranchFlag] = []
