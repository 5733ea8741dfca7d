"""Shared columns, the UTC timestamp type and the naming convention of every table."""

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import DateTime, Enum, MetaData, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


# Derived fields a record's change-feed data carries beside its columns, by feed type
# (e.g. a branch's `flags`). The services that own the rule register them: tables know no
# rules.
FEED_EXTRAS: dict[str, Callable[[Any], dict[str, Any]]] = {}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: the same values on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any]:
        # the same as `process_result_value`, without TypeDecorator's wrapper per value:
        # lists read thousands of timestamps
        impl = self.impl_instance.result_processor(dialect, coltype)
        if impl is None:
            return lambda value: None if value is None else value.replace(tzinfo=UTC)
        return lambda value: None if value is None else self.process_result_value(
            impl(value), dialect)


def enum_type(enum: type[StrEnum]) -> Enum:
    """A VARCHAR column holding an enum's codes (no database enum type to migrate)."""
    return Enum(enum, native_enum=False, length=30, values_callable=lambda e: [m.value for m in e])


def utc_field(*, nullable: bool = True, index: bool = False, **kw: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index, **kw)


class Timestamped(SQLModel):
    """`id`, `created_at`, `updated_at`: every table has them."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Versioned(Timestamped):
    """A mutable record: optimistic `version` (checked on UPDATE) and soft deletion."""

    version: int = Field(default=1, nullable=False)
    deleted_at: datetime | None = utc_field()

    # The change feed's record name and the schema its `data` is written with.
    # A table joins the change feed and the audit trail by setting both.
    __feed_type__: ClassVar[str | None] = None

    @declared_attr  # type: ignore[misc]
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]

    def feed_data(self) -> dict[str, Any]:
        """The record as the change feed and the audit trail see it (with any `FEED_EXTRAS`)."""
        data = self.model_dump(mode="json")
        extra = FEED_EXTRAS.get(self.__feed_type__ or "")
        if extra is not None:
            data.update(extra(self))
        return data

    def feed_township_id(self) -> int | None:
        """The township a change belongs to (None: county-wide), for scoped feed readers."""
        value = getattr(self, "township_id", None)
        return value if isinstance(value, int) else None

    def audit_redacted(self) -> frozenset[str]:
        """Fields whose values never reach the audit trail."""
        return frozenset()
