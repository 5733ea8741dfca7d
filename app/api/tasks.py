"""`/tasks`: rectification tasks, their transitions, progress updates and evidence files."""

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Request, Response, UploadFile
from fastapi.responses import FileResponse

from app import clock
from app.api.deps import (
    CurrentActor,
    DeletionReason,
    IfMatch,
    PageDep,
    SessionDep,
    SettingsDep,
)
from app.api.represent import Page, json_list, respond, respond_page, wants_html
from app.api.routing import TransactionRoute
from app.models.task import (
    ProgressUpdatePublic,
    Task,
    TaskCreate,
    TaskPublic,
    TaskStatus,
    TaskUpdate,
    TransitionRequest,
)
from app.services import tasks as svc
from app.services.actors import Actor, actor_names
from app.services.branches import branch_choices
from app.services.deadlines import DeadlineBucket
from app.services.errors import PreconditionFailed
from app.services.evidence import ensure_thumbnail, file_path

router = APIRouter(tags=["tasks"], route_class=TransactionRoute)


def load_task(request: Request, session: SessionDep, actor: CurrentActor,
              task_id: int = Path()) -> Task:
    write = request.method not in ("GET", "HEAD")
    return svc.get_task(session=session, actor=actor, task_id=task_id, for_update=write)


TaskDep = Annotated[Task, Depends(load_task)]


def task_page_context(session: SessionDep, actor: CurrentActor, task: Task) -> dict[str, object]:
    """What the task fragment shows besides the task: its timeline, the allowed actions and
    whether the actor may correct (修改/删除) it."""
    timeline = svc.timeline(session=session, task=task)
    may_edit = svc.may_edit(actor, task)
    return {
        "timeline": timeline,
        "people": actor_names(session, {e.actor for e in timeline}),
        "actions": svc.allowed_actions(session, actor, task),
        "may_report": svc.may_work_on(actor, task) and task.status in svc.OPEN_STATUSES,
        "may_edit": may_edit,
        "branches": (branch_choices(session=session, actor=actor, township_id=task.township_id)
                     if may_edit else []),
        "today": clock.today(),
    }


def stale_page(request: Request, session: SessionDep, actor: Actor, task: Task,
               exc: PreconditionFailed) -> Response:
    """For a page (htmx), a 412 shows the current task with the message instead of the
    user's stale copy; API clients get the problem+json."""
    if not wants_html(request):
        raise exc
    session.refresh(task)
    return respond(request, svc.task_public(session, task), status_code=412, etag=task.version,
                   fragment="fragments/task_detail.html",
                   context={**task_page_context(session, actor, task), "stale": exc})


async def task_filters(
    status: TaskStatus | None = None, overdue: bool | None = None,
    branch_id: int | None = None, township_id: int | None = None,
    problem_id: int | None = None, campaign_id: int | None = None,
    due_before: date | None = None, deadline: DeadlineBucket | None = None,
) -> svc.TaskFilters:
    """The filters of the task list, taken alike by its exports."""
    return svc.TaskFilters(status=status, overdue=overdue, branch_id=branch_id,
                           township_id=township_id, problem_id=problem_id,
                           campaign_id=campaign_id, due_before=due_before,
                           deadline=deadline)


TaskFiltersDep = Annotated[svc.TaskFilters, Depends(task_filters)]


@router.get("/tasks", response_model=Page[TaskPublic])
def list_tasks(
    request: Request, session: SessionDep, actor: CurrentActor, page: PageDep,
    filters: TaskFiltersDep, order: Literal["id", "due"] = "id",
) -> Response:
    """Tasks the caller may see; `overdue` is derived from the due date. `order=due` pages
    by (due date, id), as the task board shows them."""
    items, cursor = svc.list_tasks(session=session, actor=actor, filters=filters, page=page,
                                   order=order)
    return respond_page(request, items, cursor, fragment="fragments/task_cards.html",
                        more_path="/api/v1/tasks")


@router.post("/tasks", status_code=201, response_model=TaskPublic)
def create_task(body: TaskCreate, request: Request, session: SessionDep,
                actor: CurrentActor) -> Response:
    """Add a measure against a problem, with who is responsible and by when."""
    task = svc.create_task(session=session, actor=actor, data=body)
    return respond(request, svc.task_public(session, task, actor), status_code=201,
                   etag=task.version, location=f"/api/v1/tasks/{task.id}",
                   fragment="fragments/task_cards.html",
                   context={"single": True})


@router.get("/tasks/{task_id}", response_model=TaskPublic)
def read_task(request: Request, task: TaskDep, session: SessionDep,
              actor: CurrentActor) -> Response:
    """One task with `overdue` and `duplicate_evidence`."""
    return respond(request, svc.task_public(session, task, actor), etag=task.version,
                   fragment="fragments/task_detail.html",
                   context=task_page_context(session, actor, task))


@router.patch("/tasks/{task_id}", response_model=TaskPublic)
def update_task(body: TaskUpdate, request: Request, task: TaskDep, session: SessionDep,
                actor: CurrentActor, if_match: IfMatch) -> Response:
    """Change a task's plan; needs `If-Match` or `version` (412 when it changed meanwhile).

    Moving `due_on` after the task started is an extension and needs `reason`; a past
    `due_on` needs `allow_past_due: true`."""
    try:
        task = svc.update_task(session=session, actor=actor, task=task, data=body,
                               version=body.version if body.version is not None else if_match)
    except PreconditionFailed as exc:
        return stale_page(request, session, actor, task, exc)
    return respond(request, svc.task_public(session, task, actor), etag=task.version,
                   fragment="fragments/task_detail.html",
                   context={**task_page_context(session, actor, task), "saved": True})


@router.delete("/tasks/{task_id}", status_code=204)
def delete_task(request: Request, task: TaskDep, session: SessionDep, actor: CurrentActor,
                if_match: IfMatch, reason: DeletionReason) -> Response:
    """Delete (soft) a task still `pending`, with a reason (`?reason=` or body `{"reason"}`);
    a started task answers 409: cancel it instead. Needs `If-Match`."""
    problem_id = task.problem_id
    svc.delete_task(session=session, actor=actor, task=task, version=if_match, reason=reason)
    response = Response(status_code=204)
    if wants_html(request):
        response.headers["HX-Redirect"] = f"/problems/{problem_id}"
    return response


@router.post("/tasks/{task_id}/transitions", response_model=TaskPublic)
def transition_task(body: TransitionRequest, request: Request, task: TaskDep,
                    session: SessionDep, actor: CurrentActor, if_match: IfMatch) -> Response:
    """Start, submit, verify (销号), reject, reopen or cancel (撤销); refused moves answer 409
    with the reason. reject, reopen and cancel need `note` (the reason)."""
    try:
        task = svc.transition(
            session=session, actor=actor, task=task, action=body.action, note=body.note,
            version=body.version if body.version is not None else if_match,
            confirm_duplicate_evidence=body.confirm_duplicate_evidence,
        )
    except PreconditionFailed as exc:
        return stale_page(request, session, actor, task, exc)
    return respond(request, svc.task_public(session, task, actor), etag=task.version,
                   fragment="fragments/task_detail.html",
                   context=task_page_context(session, actor, task))


@router.get("/tasks/{task_id}/updates", response_model=list[ProgressUpdatePublic])
def list_updates(request: Request, task: TaskDep, session: SessionDep) -> Response:
    """The task's progress updates with their files, oldest first."""
    updates = svc.list_updates(session=session, task=task)
    return json_list(updates)


@router.post("/tasks/{task_id}/updates", status_code=201, response_model=ProgressUpdatePublic)
def add_update(
    request: Request, task: TaskDep, session: SessionDep, actor: CurrentActor,
    settings: SettingsDep,
    note: Annotated[str, Form(max_length=2000)],
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """A progress note with evidence files (multipart: `note`, `files`)."""
    uploads = [svc.Upload(name=f.filename, stream=f.file) for f in files or [] if f.filename]
    update = svc.add_update(
        session=session, actor=actor, task=task, note=note, files=uploads,
        upload_dir=settings.upload_dir, max_bytes=settings.max_upload_mb * 1024 * 1024,
    )
    public = next(u for u in svc.list_updates(session=session, task=task) if u.id == update.id)
    return respond(request, public, status_code=201,
                   location=f"/api/v1/tasks/{task.id}/updates",
                   fragment="fragments/task_detail.html",
                   context={"data": svc.task_public(session, task, actor),
                            **task_page_context(session, actor, task), "reported": True})


@router.get("/attachments/{attachment_id}")
def download_attachment(session: SessionDep, actor: CurrentActor, settings: SettingsDep,
                        attachment_id: int = Path(),
                        size: Literal["thumb"] | None = None) -> FileResponse:
    """The evidence file, after the same authorisation as its task; `?size=thumb` gives a
    small JPEG of a photo (the file itself when it is no picture)."""
    a = svc.get_attachment(session=session, actor=actor, attachment_id=attachment_id)
    thumb = ensure_thumbnail(settings.upload_dir, a.storage_key, a.content_type) \
        if size == "thumb" else None
    if thumb is not None:
        return FileResponse(thumb, media_type="image/jpeg", headers={
            "Cache-Control": "private, max-age=31536000, immutable",
            "ETag": f'"{a.sha256[:32]}-thumb"'})
    inline = a.content_type.startswith("image/") or a.content_type == "application/pdf"
    return FileResponse(
        file_path(settings.upload_dir, a.storage_key), media_type=a.content_type,
        filename=a.file_name, content_disposition_type="inline" if inline else "attachment",
        headers={"Cache-Control": "private, max-age=3600", "ETag": f'"{a.sha256}"'},
    )
