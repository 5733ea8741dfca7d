"""Notifications (提醒) to one user, and urgings (催办) of a task."""

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import Timestamped, Versioned, enum_type, utc_field


class NotificationKind(StrEnum):
    task_due_soon = "task_due_soon"
    task_overdue = "task_overdue"
    task_submitted = "task_submitted"
    task_rejected = "task_rejected"
    task_urged = "task_urged"
    visit_overdue = "visit_overdue"
    revisit_due = "revisit_due"
    acceptance_due = "acceptance_due"
    webhook_paused = "webhook_paused"


class Notification(Timestamped, table=True):
    """A message to one user; at most one per user, kind, subject and (county) day."""

    __table_args__ = (
        UniqueConstraint("user_id", "kind", "subject_type", "subject_id", "day",
                         name="uq_notification_once_a_day"),
        Index("ix_notification_user_unread", "user_id", "read_at", "id"),
    )
    user_id: int = Field(foreign_key="user_account.id")
    kind: NotificationKind = Field(sa_type=enum_type(NotificationKind))
    subject_type: str = Field(max_length=40)
    subject_id: int
    message: str = Field(max_length=500)
    url: str = Field(max_length=200)
    day: date
    read_at: datetime | None = utc_field()


class NotificationPublic(SQLModel):
    """A notification as its user reads it."""

    id: int
    kind: NotificationKind
    subject_type: str
    subject_id: int
    message: str
    url: str
    created_at: datetime
    read_at: datetime | None


class NotificationUpdate(SQLModel):
    """Body of `PATCH /notifications/{id}`."""

    read: bool


class UnreadCount(SQLModel):
    """The bell's figure."""

    unread: int


class TaskUrge(Versioned, table=True):
    """One 催办 of a task: who urged, when, and the note; it enters the task's timeline."""

    __tablename__ = "task_urge"
    __feed_type__: ClassVar[str | None] = "task_urge"
    task_id: int = Field(foreign_key="task.id", index=True)
    township_id: int = Field(foreign_key="township.id")
    user_id: int | None = Field(default=None, foreign_key="user_account.id")
    urged_by: str = Field(max_length=100)
    note: str = Field(max_length=1000)


class UrgeRequest(SQLModel):
    """Body of `POST /tasks/{id}/urge`."""

    note: str = Field(default="", max_length=1000)


class TaskUrgePublic(SQLModel):
    """A 催办 as the API answers it."""

    id: int
    task_id: int
    urged_by: str
    note: str
    created_at: datetime
