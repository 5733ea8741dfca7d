"""Deadline buckets (按剩余天数分档), as the ledgers count them.

By days left (due_on − today) of open tasks (pending, in progress): `overdue` (< 0),
`within_10` (0–10), `within_20` (11–20), `later` (> 20); `done` for submitted or verified
tasks. Any other status (cancelled) is in no bucket. One SQL expression decides the bucket,
used by the task list's filter and by the summary's counts alike.
"""

from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_
from sqlmodel import col

from app.models.task import Task, TaskStatus

OPEN = (TaskStatus.pending, TaskStatus.in_progress)
DONE = (TaskStatus.submitted, TaskStatus.verified)


class DeadlineBucket(StrEnum):
    overdue = "overdue"
    within_10 = "within_10"
    within_20 = "within_20"
    later = "later"
    done = "done"


def deadline_condition(bucket: DeadlineBucket, today: date) -> ColumnElement[bool]:
    """SQL: the task is in `bucket` on `today`."""
    if bucket == DeadlineBucket.done:
        return col(Task.status).in_(DONE)
    due = col(Task.due_on)
    is_open = col(Task.status).in_(OPEN)
    if bucket == DeadlineBucket.overdue:
        return and_(is_open, due < today)
    if bucket == DeadlineBucket.within_10:
        return and_(is_open, due >= today, due <= today + timedelta(days=10))
    if bucket == DeadlineBucket.within_20:
        return and_(is_open, due > today + timedelta(days=10), due <= today + timedelta(days=20))
    return and_(is_open, due > today + timedelta(days=20))

