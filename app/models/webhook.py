"""Webhooks (推送): county systems and chat robots that receive changes or daily digests."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator
from sqlalchemy import JSON, BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import Timestamped, Versioned, enum_type, utc_field
from app.models.forms import BlankIsNull


class WebhookFormat(StrEnum):
    json = "json"
    wecom = "wecom"
    dingtalk = "dingtalk"


class DeliveryKind(StrEnum):
    changes = "changes"
    digest = "digest"
    test = "test"


class DeliveryStatus(StrEnum):
    pending = "pending"
    retrying = "retrying"
    delivered = "delivered"
    failed = "failed"


class WebhookBase(SQLModel):
    """Fields a county administrator sets on a webhook."""

    url: str = Field(min_length=8, max_length=500)
    types: list[str] = Field(default_factory=list, sa_type=JSON)
    format: WebhookFormat = Field(default=WebhookFormat.json, sa_type=enum_type(WebhookFormat))
    township_id: int | None = Field(default=None, foreign_key="township.id")
    active: bool = True


class Webhook(WebhookBase, Versioned, table=True):
    """A receiver with its own position in the change feed (`cursor`) and its retry state.

    The worker moves `cursor`, `next_attempt_at` and `failing_since` with plain UPDATEs, so
    an administrator's `version` is not disturbed by deliveries.
    """

    secret: str | None = Field(default=None, max_length=200)
    cursor: str | None = Field(default=None, max_length=200)
    next_attempt_at: datetime | None = utc_field(index=True)
    failing_since: datetime | None = utc_field()
    last_error: str | None = Field(default=None, max_length=500)
    paused_at: datetime | None = utc_field()


class TypesAsList(SQLModel):
    """`types` from a form arrives as one text, several, or nothing: always a list."""

    @field_validator("types", mode="before", check_fields=False)
    @classmethod
    def _types_as_list(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            return [v.strip() for v in value if isinstance(v, str) and v.strip()]
        return value


class WebhookCreate(TypesAsList, BlankIsNull, WebhookBase):
    """Body of `POST /webhooks`."""

    secret: str | None = Field(default=None, max_length=200)


class WebhookUpdate(TypesAsList, BlankIsNull, SQLModel):
    """Body of `PATCH /webhooks/{id}` (all optional)."""

    url: str | None = Field(default=None, min_length=8, max_length=500)
    types: list[str] | None = None
    format: WebhookFormat | None = None
    secret: str | None = Field(default=None, max_length=200)
    township_id: int | None = None
    active: bool | None = None
    version: int | None = None


class WebhookPublic(WebhookBase):
    """A webhook as the API answers it (the secret is never shown again)."""

    id: int
    version: int
    has_secret: bool
    next_attempt_at: datetime | None
    failing_since: datetime | None
    last_error: str | None
    paused_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookDelivery(Timestamped, table=True):
    """One delivery: a batch of changes, a day's digest or a test, with its attempts."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("webhook_id", "digest_day", name="uq_webhook_delivery_digest_day"),
        Index("ix_webhook_delivery_webhook_status", "webhook_id", "status", "id"),
    )
    webhook_id: int = Field(foreign_key="webhook.id")
    kind: DeliveryKind = Field(sa_type=enum_type(DeliveryKind))
    status: DeliveryStatus = Field(default=DeliveryStatus.pending,
                                   sa_type=enum_type(DeliveryStatus))
    digest_day: date | None = None
    payload: str | None = None  # the body to send (digests and tests)
    change_count: int = 0
    last_seq: int | None = Field(default=None, sa_type=BigInteger)
    attempts: int = 0
    response_status: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = utc_field()


class WebhookDeliveryPublic(SQLModel):
    """A delivery as the log shows it."""

    id: int
    webhook_id: int
    kind: DeliveryKind
    status: DeliveryStatus
    digest_day: date | None
    change_count: int
    attempts: int
    response_status: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
