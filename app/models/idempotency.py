"""Stored first responses of creating POSTs, keyed by `Idempotency-Key`."""

from datetime import datetime

from sqlalchemy import LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow


class IdempotencyRecord(SQLModel, table=True):
    """The key, who sent it, the body's hash and the response given the first time."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("principal", "key", name="uq_idempotency_principal_key"),)
    id: int | None = Field(default=None, primary_key=True)
    principal: str = Field(max_length=100)
    key: str = Field(max_length=200)
    method: str = Field(max_length=10)
    path: str = Field(max_length=300)
    body_sha256: str = Field(max_length=64)
    status_code: int | None = None
    content_type: str | None = Field(default=None, max_length=100)
    response_body: bytes | None = Field(default=None, sa_type=LargeBinary)
    location: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
