"""Tasks (整改任务: 任务清单 + 责任清单), their progress updates and evidence files."""

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import BigInteger, Index, text
from sqlmodel import Field, SQLModel

from app.models.base import Versioned, enum_type, utc_field
from app.models.forms import BlankIsNull
from app.models.user import Role


class TaskStatus(StrEnum):
    pending = "pending"
    in_progress = "in_progress"
    submitted = "submitted"
    verified = "verified"
    cancelled = "cancelled"


class TaskAction(StrEnum):
    start = "start"
    submit = "submit"
    verify = "verify"
    reject = "reject"
    reopen = "reopen"
    cancel = "cancel"


# a live task without a responsible person: the predicate of the summary's partial index,
# written as the summary's condition is, so PostgreSQL can prove the index covers it
UNASSIGNED_LIVE = "deleted_at IS NULL AND coalesce(responsible_person, '') = ''"


class TaskBase(SQLModel):
    """Fields a client sets on a task."""

    problem_id: int = Field(foreign_key="problem.id", index=True)
    branch_id: int | None = Field(default=None, foreign_key="branch.id", index=True)
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    responsible_unit: str | None = Field(default=None, max_length=100)
    responsible_person: str | None = Field(default=None, max_length=50)
    due_on: date = Field(index=True)


class Task(TaskBase, Versioned, table=True):
    """The task table; township and campaign are copied from the problem for scoping."""

    __feed_type__: ClassVar[str | None] = "task"
    # the summary counts a campaign's tasks by status and due date, and those without a
    # responsible person, from these alone (index-only scans; deduplicated, so small)
    __table_args__ = (
        Index("ix_task_campaign_status_due_live", "campaign_id", "status", "due_on",
              sqlite_where=text("deleted_at IS NULL"),
              postgresql_where=text("deleted_at IS NULL")),
        Index("ix_task_campaign_unassigned_live", "campaign_id", "status",
              sqlite_where=text(UNASSIGNED_LIVE), postgresql_where=text(UNASSIGNED_LIVE)),
    )
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    township_id: int = Field(foreign_key="township.id", index=True)
    status: TaskStatus = Field(
        default=TaskStatus.pending, sa_type=enum_type(TaskStatus), index=True
    )
    status_note: str | None = Field(default=None, max_length=1000)
    submitted_at: datetime | None = utc_field()
    submitted_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    submitted_by: str | None = Field(default=None, max_length=100)
    submitted_by_role: Role | None = Field(default=None, sa_type=enum_type(Role))
    completed_at: datetime | None = utc_field()
    verified_at: datetime | None = utc_field()
    verified_by: str | None = Field(default=None, max_length=100)


class TaskCreate(BlankIsNull, TaskBase):
    """Body of `POST /tasks`; a due date already past needs `allow_past_due: true`."""

    allow_past_due: bool = False


class TaskUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /tasks/{id}`: the plan, not the status (that moves by transitions).

    Moving `due_on` once the task has started is an extension (延期) and needs `reason`;
    a due date already past needs `allow_past_due: true`.
    """

    branch_id: int | None = None
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    responsible_unit: str | None = Field(default=None, max_length=100)
    responsible_person: str | None = Field(default=None, max_length=50)
    due_on: date | None = None
    reason: str | None = Field(default=None, max_length=500)
    allow_past_due: bool = False
    version: int | None = None


class TransitionRequest(BlankIsNull, SQLModel):
    """Body of `POST /tasks/{id}/transitions`."""

    action: TaskAction
    note: str | None = Field(default=None, max_length=1000)
    version: int | None = None
    confirm_duplicate_evidence: bool = False


class DuplicateEvidence(SQLModel):
    """A file of this task that also serves as evidence on other tasks."""

    sha256: str
    file_name: str
    other_task_ids: list[int]  # only tasks the reader may see
    elsewhere: bool = False  # also evidence on tasks the reader may not see (not named)


class TaskPublic(TaskBase):
    """A task as the API answers it; `overdue` and `duplicate_evidence` are derived."""

    id: int
    version: int
    campaign_id: int
    township_id: int
    status: TaskStatus
    status_note: str | None
    submitted_at: datetime | None
    submitted_by: str | None
    completed_at: datetime | None
    verified_at: datetime | None
    verified_by: str | None
    created_at: datetime
    updated_at: datetime
    overdue: bool = False
    returned: bool = False  # in progress again after a reject (已退回), `status_note` the reason
    branch_name: str | None = None
    problem_description: str | None = None
    problem_category: str | None = None
    problem_branch_id: int | None = None  # None: a township-wide problem
    duplicate_evidence: list[DuplicateEvidence] = []


class ProgressUpdate(Versioned, table=True):
    """A dated note on a task, optionally with evidence files."""

    __tablename__ = "progress_update"
    __feed_type__: ClassVar[str | None] = "progress_update"
    task_id: int = Field(foreign_key="task.id", index=True)
    township_id: int = Field(foreign_key="township.id")
    author: str = Field(max_length=100)
    author_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    note: str = Field(max_length=2000)


class Attachment(Versioned, table=True):
    """An evidence file: its bytes live in storage under `storage_key`, never the user's name."""

    __feed_type__: ClassVar[str | None] = "attachment"
    update_id: int = Field(foreign_key="progress_update.id", index=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    township_id: int = Field(foreign_key="township.id")
    file_name: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    size: int = Field(sa_type=BigInteger)
    sha256: str = Field(max_length=64, index=True)
    storage_key: str = Field(max_length=100)

    def feed_data(self) -> dict[str, object]:
        data = super().feed_data()
        data.pop("storage_key", None)
        return data


class AttachmentPublic(SQLModel):
    """An evidence file as the API answers it (download at `url`)."""

    id: int
    task_id: int
    file_name: str
    content_type: str
    size: int
    sha256: str
    url: str
    is_image: bool


class ProgressUpdatePublic(SQLModel):
    """A progress update with its files."""

    id: int
    task_id: int
    author: str
    note: str
    created_at: datetime
    attachments: list[AttachmentPublic] = []


class TimelineEntry(SQLModel):
    """One line of a task's history: a transition or an update."""

    at: datetime
    actor: str
    kind: str  # "created", "transition", "update", "edit", "extend"
    action: str
    note: str | None = None
    reason: str | None = None
    due_from: date | None = None
    due_to: date | None = None
    update: ProgressUpdatePublic | None = None
