"""Townships (乡镇党委): the units a county deployment serves."""

from datetime import datetime
from typing import ClassVar

from pydantic import computed_field, field_validator
from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from app.models.base import Versioned
from app.models.forms import BlankIsNull


class TownshipBase(SQLModel):
    """Fields a client sets, with their limits."""

    name: str = Field(min_length=1, max_length=50)
    code: str = Field(min_length=1, max_length=20)
    # the signature of the township's reports (落款), e.g. 中共十四道沟镇委员会; unset:
    # 中共{name}委员会
    party_committee_name: str | None = Field(default=None, max_length=100)

    @field_validator("name", "code")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    @field_validator("party_committee_name")
    @classmethod
    def _strip_optional(cls, v: str | None) -> str | None:
        return (v.strip() or None) if v is not None else None

    def committee_name(self) -> str:
        """The signature of its reports: `party_committee_name`, or 中共{name}委员会."""
        return self.party_committee_name or f"中共{self.name}委员会"


class Township(TownshipBase, Versioned, table=True):
    """The township table; `code` is unique among live townships."""

    __feed_type__: ClassVar[str | None] = "township"
    __table_args__ = (
        Index(
            "uq_township_code_live", "code", unique=True,
            sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL"),
        ),
    )


    def feed_township_id(self) -> int | None:
        return self.id


class TownshipCreate(BlankIsNull, TownshipBase):
    """Body of `POST /townships`."""


class TownshipUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /townships/{id}`: every field optional."""

    name: str | None = Field(default=None, min_length=1, max_length=50)
    code: str | None = Field(default=None, min_length=1, max_length=20)
    party_committee_name: str | None = Field(default=None, max_length=100)
    version: int | None = None

    @field_validator("party_committee_name")
    @classmethod
    def _strip_optional(cls, v: str | None) -> str | None:
        return (v.strip() or None) if v is not None else None


class TownshipPublic(TownshipBase):
    """A township as the API answers it, with the signature its reports carry."""

    id: int
    version: int
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def signature(self) -> str:
        """落款 of its reports (`party_committee_name`, or 中共{name}委员会)."""
        return self.committee_name()
