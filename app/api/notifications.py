"""`/notifications` (one's own 提醒) and `/tasks/{id}/urge` (催办)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.api.deps import CurrentActor, PageDep, SessionDep
from app.api.represent import Page, respond, respond_page
from app.api.routing import TransactionRoute
from app.api.tasks import TaskDep, task_page_context
from app.models.notification import (
    NotificationPublic,
    NotificationUpdate,
    TaskUrgePublic,
    UnreadCount,
    UrgeRequest,
)
from app.services import notifications as svc
from app.services import tasks as task_svc

router = APIRouter(tags=["notifications"], route_class=TransactionRoute)


@router.get("/notifications", response_model=Page[NotificationPublic])
def list_notifications(
    request: Request, session: SessionDep, actor: CurrentActor, page: PageDep,
    unread: Annotated[bool | None, Query(description="true: 只看未读")] = None,
) -> Response:
    """The caller's own notifications, newest first."""
    items, cursor = svc.list_notifications(session=session, actor=actor, unread=unread, page=page)
    return respond_page(request, items, cursor, fragment="fragments/notification_rows.html",
                        more_path="/api/v1/notifications")


@router.get("/notifications/count", response_model=UnreadCount)
def unread_count(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """How many of the caller's notifications are unread (the bell)."""
    return respond(request, UnreadCount(unread=svc.unread_count(session=session, actor=actor)),
                   fragment="fragments/notification_bell.html")


@router.post("/notifications/mark-all-read", response_model=UnreadCount)
def mark_all_read(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Mark all of the caller's notifications read; answers the unread count left (0)."""
    svc.mark_all_read(session=session, actor=actor)
    return respond(request, UnreadCount(unread=svc.unread_count(session=session, actor=actor)),
                   fragment="fragments/notification_bell.html")


@router.patch("/notifications/{notification_id}", response_model=NotificationPublic)
def update_notification(
    body: NotificationUpdate, request: Request, session: SessionDep, actor: CurrentActor,
    notification_id: int = Path(),
) -> Response:
    """`{read: true}` marks one's own notification read (`false`: unread again)."""
    found = svc.get_notification(session=session, actor=actor, notification_id=notification_id)
    found = svc.mark_read(session=session, notification=found, read=body.read)
    public = NotificationPublic.model_validate(found, from_attributes=True)
    return respond(request, public, fragment="fragments/notification_rows.html",
                   context={"data": Page[NotificationPublic](items=[public], next_cursor=None),
                            "more_url": None})


@router.post("/tasks/{task_id}/urge", status_code=201, response_model=TaskUrgePublic)
def urge_task(body: UrgeRequest, request: Request, task: TaskDep, session: SessionDep,
              actor: CurrentActor) -> Response:
    """催办: township staff or the county urge an open task; the secretaries are told."""
    urge = svc.urge_task(session=session, actor=actor, task=task, note=body.note)
    return respond(request, TaskUrgePublic.model_validate(urge, from_attributes=True),
                   status_code=201, fragment="fragments/task_detail.html",
                   context={"data": task_svc.task_public(session, task),
                            **task_page_context(session, actor, task), "urged": True})
