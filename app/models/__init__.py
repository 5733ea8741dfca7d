"""All tables, imported so that `SQLModel.metadata` knows them (Alembic targets it)."""

from app.models.activity import Activity
from app.models.audit import AuditEvent
from app.models.base import metadata
from app.models.branch import Branch
from app.models.campaign import Campaign, Criterion
from app.models.change import Change, ChangeCounter
from app.models.feedback import FeedbackForm, FormIssuance, Opinion, Suggestion
from app.models.idempotency import IdempotencyRecord
from app.models.notification import Notification, TaskUrge
from app.models.problem import Problem
from app.models.rectification import (
    Acceptance,
    AcceptanceItem,
    LiaisonVisit,
    Rectification,
    Revisit,
)
from app.models.screening import Screening
from app.models.task import Attachment, ProgressUpdate, Task
from app.models.township import Township
from app.models.user import ApiToken, LoginSession, LoginThrottle, User
from app.models.webhook import Webhook, WebhookDelivery

__all__ = [
    "Acceptance",
    "AcceptanceItem",
    "Activity",
    "ApiToken",
    "Attachment",
    "AuditEvent",
    "Branch",
    "Campaign",
    "Change",
    "ChangeCounter",
    "Criterion",
    "FeedbackForm",
    "FormIssuance",
    "IdempotencyRecord",
    "LiaisonVisit",
    "LoginSession",
    "LoginThrottle",
    "Notification",
    "Opinion",
    "Problem",
    "ProgressUpdate",
    "Rectification",
    "Revisit",
    "Screening",
    "Suggestion",
    "Task",
    "TaskUrge",
    "Township",
    "User",
    "Webhook",
    "WebhookDelivery",
    "metadata",
]
