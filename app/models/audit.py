"""The append-only audit trail: who changed what, from which value to which."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """One write: actor, action, entity and the changed fields (old → new)."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity_type", "entity_id"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    actor: str = Field(max_length=100, index=True)
    action: str = Field(max_length=30)
    entity_type: str = Field(max_length=40)
    entity_id: int
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    request_id: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=500)


class AuditEventPublic(SQLModel):
    """An audit event as the API answers it."""

    id: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: int
    changes: dict[str, Any]
    request_id: str | None
    reason: str | None = None
