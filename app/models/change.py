"""The change feed's storage: one row per committed change, numbered in commit order."""

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer
from sqlmodel import Field, SQLModel


class Change(SQLModel, table=True):
    """A committed upsert or deletion; `commit_seq` orders transactions as they committed."""

    __tablename__ = "change"
    __table_args__ = (Index("ix_change_seq_id", "commit_seq", "id"),)
    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    )
    commit_seq: int = Field(sa_type=BigInteger, nullable=False)
    type: str = Field(max_length=40)
    entity_id: int
    op: str = Field(max_length=10)
    township_id: int | None = None  # the township the record belongs to, for scoped readers
    version: int
    data: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class ChangeCounter(SQLModel, table=True):
    """A single row; taking it with UPDATE at commit serialises the numbering of commits."""

    __tablename__ = "change_counter"
    id: int = Field(default=1, primary_key=True)
    value: int = Field(default=0, sa_type=BigInteger, nullable=False)


class ChangePublic(SQLModel):
    """One entry of the feed."""

    type: str
    id: int
    op: str
    version: int
    data: dict[str, Any] | None


class ChangePage(SQLModel):
    """A page of the feed."""

    changes: list[ChangePublic]
    next_cursor: str | None
    has_more: bool
