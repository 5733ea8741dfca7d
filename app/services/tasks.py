"""Tasks (整改任务) through their whole life: plan, progress, evidence, verification.

pending ──start──▶ in_progress ──submit──▶ submitted ──verify──▶ verified
                        ▲                      │
                        └──── reject (reason) ─┘
verified ──reopen (county admin, reason)──▶ in_progress
pending | in_progress ──cancel (township or county, reason)──▶ cancelled

`overdue` is derived (due before today, pending or in progress), never stored; a cancelled
task is never overdue. Moving the due date of a started task is an extension (延期) and
needs a reason; a task is deleted only while pending.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    case,
    exists,
    false,
    func,
    not_,
    select,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from app import clock
from app.db import set_audit_action, set_audit_reason
from app.labels import label
from app.listing import Derive, Item, columns_of, derive_page, items
from app.models.audit import AuditEvent
from app.models.base import utcnow
from app.models.branch import Branch
from app.models.problem import Problem
from app.models.task import (
    Attachment,
    AttachmentPublic,
    DuplicateEvidence,
    ProgressUpdate,
    ProgressUpdatePublic,
    Task,
    TaskAction,
    TaskCreate,
    TaskPublic,
    TaskStatus,
    TaskUpdate,
    TimelineEntry,
)
from app.models.user import Role
from app.services.actors import Actor, record_visible, require_township_write
from app.services.deadlines import DeadlineBucket, deadline_condition
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.evidence import StoredFile, store_upload
from app.services.notifications import notify_task_event, urge_entries
from app.services.pagination import PageParams, keyset_rows
from app.services.records import (
    apply_changes,
    check_branch_in,
    check_version,
    get_visible,
    soft_delete,
    where_equal,
)

OPEN_STATUSES = (TaskStatus.pending, TaskStatus.in_progress)
ROLE_RANK = {Role.branch_secretary: 1, Role.township_staff: 2, Role.county_admin: 3}

# action: (statuses it leaves from, status it arrives at)
TRANSITIONS: dict[TaskAction, tuple[tuple[TaskStatus, ...], TaskStatus]] = {
    TaskAction.start: ((TaskStatus.pending,), TaskStatus.in_progress),
    TaskAction.submit: ((TaskStatus.in_progress,), TaskStatus.submitted),
    TaskAction.verify: ((TaskStatus.submitted,), TaskStatus.verified),
    TaskAction.reject: ((TaskStatus.submitted,), TaskStatus.in_progress),
    TaskAction.reopen: ((TaskStatus.verified,), TaskStatus.in_progress),
    TaskAction.cancel: ((TaskStatus.pending, TaskStatus.in_progress), TaskStatus.cancelled),
}
# actions that must give a reason (the note)
REASON_REQUIRED = (TaskAction.reject, TaskAction.reopen, TaskAction.cancel)
PAST_DUE_MESSAGE = "整改时限早于今天,保存后任务立即逾期;确属补录请确认后再保存"


def is_overdue(task: Task, today: date | None = None) -> bool:
    return task.due_on < (today or clock.today()) and task.status in OPEN_STATUSES


def overdue_condition(today: date | None = None) -> ColumnElement[bool]:
    return and_(col(Task.due_on) < (today or clock.today()), col(Task.status).in_(OPEN_STATUSES))


def _visible(actor: Actor) -> ColumnElement[bool]:
    return record_visible(actor, col(Task.township_id), col(Task.branch_id))


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class TaskFilters:
    status: TaskStatus | None = None
    overdue: bool | None = None
    branch_id: int | None = None
    township_id: int | None = None
    problem_id: int | None = None
    campaign_id: int | None = None
    due_before: date | None = None
    deadline: DeadlineBucket | None = None


_TASK: Table = Task.__table__  # type: ignore[attr-defined]
_PROBLEM: Table = Problem.__table__  # type: ignore[attr-defined]
_BRANCH: Table = Branch.__table__  # type: ignore[attr-defined]


def _where_filters(stmt: Any, actor: Actor, filters: TaskFilters, today: date | None) -> Any:
    """`stmt` (over task, problem and branch) narrowed to the visible, live tasks matching
    `filters`."""
    stmt = stmt.where(col(Task.deleted_at).is_(None), _visible(actor))
    stmt = where_equal(stmt, Task, filters,
                       ("status", "branch_id", "township_id", "problem_id", "campaign_id"))
    if filters.due_before is not None:
        stmt = stmt.where(col(Task.due_on) < filters.due_before)
    if filters.deadline is not None:
        stmt = stmt.where(deadline_condition(filters.deadline, today or clock.today()))
    if filters.overdue is True:
        stmt = stmt.where(overdue_condition(today))
    elif filters.overdue is False:
        stmt = stmt.where(not_(overdue_condition(today)))
    return stmt


def filtered_tasks(actor: Actor, filters: TaskFilters, today: date | None = None) -> Any:
    """The SELECT of the visible, live tasks matching `filters` (with branch and problem)."""
    stmt = (
        select(Task, Branch.name, Problem.description, Problem.category, Problem.branch_id)
        .join(Problem, col(Problem.id) == Task.problem_id)
        .outerjoin(Branch, col(Branch.id) == Task.branch_id)
    )
    return _where_filters(stmt, actor, filters, today)


def _public_stmt(today: date) -> Select[Any]:
    """Tasks as `TaskPublic` columns: the task's, `overdue` by `today` (its SQL condition),
    the branch's name and the problem's description, category and branch; `returned` and
    `duplicate_evidence` come per page (`_returned_of_page`, `_duplicates_of_page`)."""
    return (
        select(*columns_of(TaskPublic, _TASK, overdue=overdue_condition(today),
                           branch_name=_BRANCH.c.name,
                           problem_description=_PROBLEM.c.description,
                           problem_category=_PROBLEM.c.category,
                           problem_branch_id=_PROBLEM.c.branch_id))
        .join_from(_TASK, _PROBLEM, _PROBLEM.c.id == _TASK.c.problem_id)
        .outerjoin(_BRANCH, _BRANCH.c.id == _TASK.c.branch_id)
    )


def duplicate_evidence(
    session: Session, task_ids: Sequence[int], actor: Actor | None
) -> dict[int, list[DuplicateEvidence]]:
    """For each task, its files whose sha256 is also evidence on another task. Only tasks
    `actor` may see are named; the others only set `elsewhere` (no actor: none named)."""
    if not task_ids:
        return {}
    other = aliased(Attachment)
    other_task = aliased(Task)
    named = (record_visible(actor, col(other_task.township_id), col(other_task.branch_id))
             if actor is not None else false())
    rows = session.execute(
        select(Attachment.task_id, Attachment.sha256, Attachment.file_name, other.task_id,
               case((named, True), else_=False))
        .join(other, and_(other.sha256 == Attachment.sha256, other.task_id != Attachment.task_id,
                          col(other.deleted_at).is_(None)))
        .join(other_task, col(other_task.id) == other.task_id)
        .where(col(Attachment.task_id).in_(task_ids), col(Attachment.deleted_at).is_(None))
        .order_by(Attachment.task_id, Attachment.sha256, other.task_id)
    ).all()
    found: dict[int, dict[str, DuplicateEvidence]] = {}
    for task_id, sha, name, other_id, visible in rows:
        per_task = found.setdefault(task_id, {})
        entry = per_task.setdefault(sha, DuplicateEvidence(sha256=sha, file_name=name,
                                                           other_task_ids=[]))
        if not visible:
            entry.elsewhere = True
        elif other_id not in entry.other_task_ids:
            entry.other_task_ids.append(other_id)
    return {t: list(v.values()) for t, v in found.items()}


def returned_tasks(session: Session, tasks: Sequence[Any]) -> set[int]:
    """Of `tasks` (`Task`s, or rows with their `id`, `status` and `status_note`), the ids of
    those in progress because the last move into `in_progress` was a reject (已退回), not a
    start or a reopen."""
    ids = [t.id for t in tasks if t.status == TaskStatus.in_progress and t.status_note]
    if not ids:
        return set()
    last: dict[int, str] = {}
    for entity_id, action in session.execute(
        select(AuditEvent.entity_id, AuditEvent.action)
        .where(AuditEvent.entity_type == "task", col(AuditEvent.entity_id).in_(ids),
               col(AuditEvent.action).in_(("start", "reject", "reopen")))
        .order_by(AuditEvent.id)
    ):
        last[entity_id] = action
    return {i for i, action in last.items() if action == "reject"}


def _returned_of_page(session: Session, rows: Sequence[Any], _actor: Any) -> Derive:
    """`TaskPublic.returned` of a page's rows: one query for the page."""
    returned = returned_tasks(session, rows)
    return lambda row: row.id in returned


def _duplicates_of_page(session: Session, rows: Sequence[Any], actor: Any) -> Derive:
    """`TaskPublic.duplicate_evidence` of a page's rows as `actor` may read them (None: no
    other task named): one query for the page."""
    found = duplicate_evidence(session, [row.id for row in rows], actor)
    return lambda row: found.get(row.id, [])


derive_page(TaskPublic, "returned", _returned_of_page)
derive_page(TaskPublic, "duplicate_evidence", _duplicates_of_page)


def list_tasks(
    *, session: Session, actor: Actor, filters: TaskFilters, page: PageParams,
    order: str = "id", today: date | None = None,
) -> tuple[list[Item], str | None]:
    """A page of tasks the actor may see, filtered: `TaskPublic` items (`overdue` by `today`,
    default the clock's) and the next page's cursor (None on the last). `order="due"` sorts
    by due date (then id), else by id. Raises Invalid (`cursor`) for a cursor this list and
    order did not give."""
    today = today or clock.today()
    stmt = _where_filters(_public_stmt(today), actor, filters, today)
    if order == "due":
        keys = [_TASK.c.due_on, _TASK.c.id]

        def key_of(r: Any) -> list[Any]:
            return [r.due_on.isoformat(), r.id]
    else:
        keys = [_TASK.c.id]

        def key_of(r: Any) -> list[Any]:
            return [r.id]
    rows, cursor = keyset_rows(session, stmt, keys=keys, key_of=key_of, page=page)
    return items(TaskPublic, rows, session=session, context=actor), cursor


def get_task(*, session: Session, actor: Actor, task_id: int, for_update: bool = False) -> Task:
    """The task if the actor may see it; `for_update` locks its row until the transaction
    ends, so a concurrent change waits and then sees the new version (412, not a lost race)."""
    return get_visible(session, Task, task_id, _visible(actor), "整改任务不存在或无权查看",
                       for_update=for_update)


def task_public(session: Session, task: Task, actor: Actor | None = None) -> TaskPublic:
    """The task as answered to `actor` (without one, no other task is named): the list's
    item of it."""
    session.flush()
    row = session.connection().execute(
        _public_stmt(clock.today()).where(_TASK.c.id == task.id)).one()
    return TaskPublic.model_validate(items(TaskPublic, [row], session=session, context=actor)[0])


def status_counts(*, session: Session, actor: Actor, filters: TaskFilters) -> dict[str, int]:
    """Tasks per status and overdue, for the board's headings."""
    base = filtered_tasks(actor, TaskFilters(**{**filters.__dict__, "status": None}))
    sub = base.subquery()
    counts = dict(session.execute(
        select(sub.c.status, func.count()).group_by(sub.c.status)
    ).all())
    overdue = session.execute(
        select(func.count()).select_from(
            filtered_tasks(actor, TaskFilters(**{**filters.__dict__, "overdue": True})).subquery()
        )
    ).scalar_one()
    return {**{s.value: int(counts.get(s, counts.get(s.value, 0))) for s in TaskStatus},
            "overdue": int(overdue)}


# ---------------------------------------------------------------- planning



def _check_past_due(due_on: date, allow_past_due: bool) -> None:
    """Refuse (field `due_on`) a due date already past unless the person confirmed it."""
    if due_on < clock.today() and not allow_past_due:
        raise Invalid("due_on", PAST_DUE_MESSAGE)


def create_task(*, session: Session, actor: Actor, data: TaskCreate) -> Task:
    """A new pending task against a visible problem of a township the actor writes.

    Raises Invalid (`problem_id`, `branch_id`, `due_on` when past without `allow_past_due`),
    Forbidden.
    """
    problem = session.scalars(
        select(Problem).where(
            Problem.id == data.problem_id, col(Problem.deleted_at).is_(None),
            record_visible(actor, col(Problem.township_id), col(Problem.branch_id)),
        )
    ).first()
    if problem is None:
        raise Invalid("problem_id", "所选问题不存在")
    require_township_write(actor, problem.township_id, "整改任务")
    _check_past_due(data.due_on, data.allow_past_due)
    branch_id = data.branch_id if data.branch_id is not None else problem.branch_id
    check_branch_in(session, problem.township_id, branch_id,
                    "所选党支部不存在或不属于该问题所在乡镇")
    task = Task.model_validate(
        {**data.model_dump(exclude={"allow_past_due"}), "branch_id": branch_id,
         "campaign_id": problem.campaign_id, "township_id": problem.township_id}
    )
    session.add(task)
    session.flush()
    return task


def update_task(
    *, session: Session, actor: Actor, task: Task, data: TaskUpdate, version: int | None
) -> Task:
    """Correct a task's plan (title, responsible, due date, branch).

    Moving `due_on` of a task that has started is an extension (audit action `extend`, with
    the reason). Raises Forbidden, PreconditionFailed/Required (412/428), Conflict (verified
    or cancelled), Invalid (`reason` for an extension without one, `due_on` when past
    without `allow_past_due`, `branch_id`).
    """
    require_township_write(actor, task.township_id, "整改任务")
    check_version(task, version, session=session, actor_label=actor.label)
    if task.status == TaskStatus.verified:
        raise Conflict("任务已销号,不能再修改;如需继续整改,请由县委组织部重新打开")
    if task.status == TaskStatus.cancelled:
        raise Conflict("任务已撤销,不能再修改")
    reason = (data.reason or "").strip() or None
    old_due = task.due_on
    moved = data.due_on is not None and data.due_on != old_due
    if moved:
        assert data.due_on is not None
        _check_past_due(data.due_on, data.allow_past_due)
        if task.status != TaskStatus.pending:
            if reason is None:
                raise Invalid("reason", "任务已开始,调整整改时限(延期)须填写原因")
            set_audit_action(session, task, "extend")
    # named before any query below can autoflush the change into its audit event
    set_audit_reason(session, task, reason)
    sent = apply_changes(task, data, exclude=frozenset({"reason", "allow_past_due"}))
    if "branch_id" in sent:
        problem = session.get(Problem, task.problem_id)
        assert problem is not None
        check_branch_in(session, problem.township_id, task.branch_id,
                        "所选党支部不存在或不属于该问题所在乡镇")
    session.add(task)
    session.flush()
    return task


def delete_task(
    *, session: Session, actor: Actor, task: Task, version: int | None, reason: str
) -> None:
    """Delete (soft) a task that has not started; a started one is cancelled instead.

    Raises Forbidden, PreconditionFailed/Required (412/428), Conflict (not pending).
    """
    require_township_write(actor, task.township_id, "整改任务")
    check_version(task, version, session=session, actor_label=actor.label)
    if task.status != TaskStatus.pending:
        status = label("task_status", task.status)
        raise Conflict(f"任务当前状态为“{status}”,只有未开始的任务可以删除;"
                       "已开始的任务请改用“撤销”并填写原因")
    soft_delete(task, session=session, reason=reason)
    session.add(task)
    session.flush()


# ---------------------------------------------------------------- lifecycle


def _is_branch_secretary_of(actor: Actor, task: Task) -> bool:
    return (actor.role == Role.branch_secretary and task.branch_id is not None
            and actor.branch_id == task.branch_id)


def may_work_on(actor: Actor, task: Task) -> bool:
    """Start, submit, report progress: the branch's secretary, its township's staff, county."""
    if actor.is_token:
        return False
    if actor.role == Role.county_admin:
        return True
    if actor.role == Role.township_staff:
        return actor.township_id == task.township_id
    return _is_branch_secretary_of(actor, task)


def may_edit(actor: Actor, task: Task) -> bool:
    """Whether the page offers 修改 (and 删除 while pending): staff of its township, county."""
    return (not actor.is_token and actor.role in (Role.county_admin, Role.township_staff)
            and actor.township_id in (None, task.township_id)
            and task.status not in (TaskStatus.verified, TaskStatus.cancelled))


def _may_verify(actor: Actor, task: Task) -> bool:
    if actor.is_token:
        return False
    if actor.role == Role.county_admin:
        return True
    return actor.role == Role.township_staff and actor.township_id == task.township_id


def _has_update_since_work_began(session: Session, task: Task) -> bool:
    """A progress note after the task last entered `in_progress`."""
    since = session.execute(
        select(func.max(AuditEvent.at)).where(
            AuditEvent.entity_type == "task", AuditEvent.entity_id == task.id,
            col(AuditEvent.action).in_(("start", "reject", "reopen")),
        )
    ).scalar_one_or_none()
    stmt = select(exists().where(
        ProgressUpdate.task_id == task.id, col(ProgressUpdate.deleted_at).is_(None),
        *([col(ProgressUpdate.created_at) >= since] if since else []),
    ))
    return bool(session.execute(stmt).scalar_one())


def allowed_actions(session: Session, actor: Actor, task: Task) -> list[TaskAction]:
    """The transitions this actor may try now (what the page shows as buttons)."""
    out = []
    for action, (sources, _target) in TRANSITIONS.items():
        if task.status not in sources:
            continue
        try:
            _authorise(actor, task, action)
        except Forbidden:
            continue
        out.append(action)
    return out


def _authorise(actor: Actor, task: Task, action: TaskAction) -> None:
    if actor.is_token:
        raise Forbidden("整改任务的流转须由登录用户操作,API 令牌不能操作")
    if action in (TaskAction.start, TaskAction.submit):
        if not may_work_on(actor, task):
            raise Forbidden("只有本支部书记、本乡镇工作人员或县委组织部可以操作此任务")
        return
    if action == TaskAction.reopen:
        if actor.role != Role.county_admin:
            raise Forbidden("只有县委组织部管理员可以重新打开已销号的任务")
        return
    if action == TaskAction.cancel:
        if not _may_verify(actor, task):
            raise Forbidden("只有本乡镇工作人员或县委组织部可以撤销此任务")
        return
    if not _may_verify(actor, task):
        raise Forbidden("只有本乡镇工作人员或县委组织部可以验收或退回此任务")
    if task.submitted_by_id is not None and task.submitted_by_id == actor.user_id:
        raise Forbidden("不能验收或退回自己提交的任务,须由他人验收")
    submitter_rank = ROLE_RANK.get(task.submitted_by_role or Role.branch_secretary, 1)
    actor_rank = ROLE_RANK.get(actor.role or Role.viewer, 0)
    both_county = actor.role == Role.county_admin == task.submitted_by_role
    if actor_rank <= submitter_rank and not both_county:
        raise Forbidden("验收须由比提交人更高一级的角色进行(乡镇工作人员提交的由县委组织部验收)")


def transition(
    *, session: Session, actor: Actor, task: Task, action: TaskAction, note: str | None,
    version: int | None, confirm_duplicate_evidence: bool = False,
) -> Task:
    """Move `task` by `action`, or refuse with a reason (409, 403, 412, 422).

    reject, reopen and cancel need `note` (the reason; Invalid field `note`); the reason of
    a cancel is also the audit event's reason.
    """
    check_version(task, version, session=session, actor_label=actor.label)
    sources, target = TRANSITIONS[action]
    _authorise(actor, task, action)
    if task.status not in sources:
        status, verb = label("task_status", task.status), label("task_action", action)
        raise Conflict(f"任务当前状态为“{status}”,不能{verb}")
    note = (note or "").strip() or None
    if action in REASON_REQUIRED and not note:
        raise Invalid("note", f"{label('task_action', action)}须填写原因")
    if action == TaskAction.submit:
        if note:
            add_update(session=session, actor=actor, task=task, note=note, files=[])
        elif not _has_update_since_work_began(session, task):
            raise Invalid("note", "提交验收前须填写整改进展")
    if action == TaskAction.verify and not confirm_duplicate_evidence:
        duplicates = duplicate_evidence(session, [task.id], actor).get(task.id, [])
        if duplicates:
            names = "、".join(d.file_name for d in duplicates)
            raise Conflict(
                f"佐证材料“{names}”同时是其他任务的佐证材料(疑似纸面销号)。"
                "核实后如仍要销号,请确认后再验收"
            )
    now = utcnow()
    task.status = target
    task.status_note = note
    if action == TaskAction.submit:
        task.submitted_at, task.submitted_by_id = now, actor.user_id
        task.submitted_by = actor.display_name or actor.label
        task.submitted_by_role = actor.role
        task.completed_at = now
    elif action == TaskAction.verify:
        task.verified_at, task.verified_by = now, actor.display_name or actor.label
    elif action in (TaskAction.reject, TaskAction.reopen):
        task.completed_at = task.verified_at = task.verified_by = None
    set_audit_action(session, task, action.value)
    if action == TaskAction.cancel:
        set_audit_reason(session, task, note)
    session.add(task)
    session.flush()
    notify_task_event(session=session, task=task, action=action, actor=actor)
    return task


# ---------------------------------------------------------------- progress and evidence


@dataclass(frozen=True)
class Upload:
    """One file of a multipart upload."""

    name: str | None
    stream: BinaryIO


def add_update(
    *, session: Session, actor: Actor, task: Task, note: str, files: Sequence[Upload],
    upload_dir: Path | None = None, max_bytes: int = 0,
) -> ProgressUpdate:
    """A progress note with its evidence files, all stored or none."""
    if not may_work_on(actor, task):
        raise Forbidden("只有本支部书记、本乡镇工作人员或县委组织部可以填报整改进展")
    if task.status == TaskStatus.verified:
        raise Conflict("任务已销号,不能再填报进展")
    note = note.strip()
    if not note:
        raise Invalid("note", "请填写整改进展")
    if len(note) > 2000:
        raise Invalid("note", "整改进展不能超过 2000 个字")
    stored: list[StoredFile] = []
    try:
        for upload in files:
            assert upload_dir is not None
            stored.append(store_upload(upload.stream, original_name=upload.name,
                                       upload_dir=upload_dir, max_bytes=max_bytes))
        if task.status == TaskStatus.pending:
            # start first: the update must come after the start to count for submitting
            task.status = TaskStatus.in_progress
            set_audit_action(session, task, "start")
            session.add(task)
            session.flush()
        update = ProgressUpdate(task_id=task.id, township_id=task.township_id,  # type: ignore[arg-type]
                                author=actor.display_name or actor.label,
                                author_user_id=actor.user_id, note=note)
        session.add(update)
        session.flush()
        for f in stored:
            session.add(Attachment(
                update_id=update.id, task_id=task.id, township_id=task.township_id,  # type: ignore[arg-type]
                file_name=f.file_name, content_type=f.content_type, size=f.size,
                sha256=f.sha256, storage_key=f.storage_key,
            ))
        session.flush()
    except BaseException:
        if upload_dir is not None:
            for f in stored:
                (upload_dir / f.storage_key).unlink(missing_ok=True)
        raise
    return update


def attachment_public(a: Attachment) -> AttachmentPublic:
    return AttachmentPublic(
        id=a.id, task_id=a.task_id, file_name=a.file_name, content_type=a.content_type,  # type: ignore[arg-type]
        size=a.size, sha256=a.sha256, url=f"/api/v1/attachments/{a.id}",
        is_image=a.content_type.startswith("image/") and a.content_type != "image/heic",
    )


def list_updates(*, session: Session, task: Task) -> list[ProgressUpdatePublic]:
    updates = list(session.scalars(
        select(ProgressUpdate)
        .where(ProgressUpdate.task_id == task.id, col(ProgressUpdate.deleted_at).is_(None))
        .order_by(ProgressUpdate.id)
    ))
    files: dict[int, list[AttachmentPublic]] = {}
    for a in session.scalars(
        select(Attachment)
        .where(Attachment.task_id == task.id, col(Attachment.deleted_at).is_(None))
        .order_by(Attachment.id)
    ):
        files.setdefault(a.update_id, []).append(attachment_public(a))
    return [
        ProgressUpdatePublic(id=u.id, task_id=u.task_id, author=u.author, note=u.note,  # type: ignore[arg-type]
                             created_at=u.created_at, attachments=files.get(u.id or 0, []))
        for u in updates
    ]


def get_attachment(*, session: Session, actor: Actor, attachment_id: int) -> Attachment:
    """The file's record, after the same authorisation as its task (404 otherwise)."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.deleted_at is not None:
        raise NotFound("文件不存在或无权查看")
    try:
        get_task(session=session, actor=actor, task_id=attachment.task_id)
    except NotFound:
        raise NotFound("文件不存在或无权查看") from None
    return attachment


def timeline(*, session: Session, task: Task) -> list[TimelineEntry]:
    """Every transition, edit and progress update of the task, oldest first."""
    entries: list[TimelineEntry] = []
    for e in session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "task", AuditEvent.entity_id == task.id)
        .order_by(AuditEvent.id)
    ):
        if e.action == "create":
            entries.append(TimelineEntry(at=e.at, actor=e.actor, kind="created", action="create"))
        elif e.action in TaskAction.__members__:
            # a submit's note is stored as a progress update, shown as such
            note = (None if e.action == TaskAction.submit
                    else (e.changes.get("status_note") or [None, None])[1])
            entries.append(TimelineEntry(at=e.at, actor=e.actor, kind="transition",
                                         action=e.action, note=note))
        elif e.action == "extend":
            due_from, due_to = e.changes.get("due_on") or [None, None]
            entries.append(TimelineEntry(at=e.at, actor=e.actor, kind="extend", action="extend",
                                         reason=e.reason, due_from=due_from, due_to=due_to))
        else:
            fields = ",".join(k for k in e.changes if k != "status_note")
            entries.append(TimelineEntry(at=e.at, actor=e.actor, kind="edit", action=e.action,
                                         note=fields or None, reason=e.reason))
    for u in list_updates(session=session, task=task):
        entries.append(TimelineEntry(at=u.created_at, actor=u.author, kind="update",
                                     action="update", note=u.note, update=u))
    entries.extend(urge_entries(session=session, task_id=task.id))  # type: ignore[arg-type]
    entries.sort(key=lambda x: x.at)
    return entries
