"""The task lifecycle in the service layer: transitions, the actions offered, overdue at the
day boundary, the timeline, evidence storage and the duplicate-evidence check."""

import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from app.db import transaction
from app.models.task import Task, TaskAction, TaskStatus
from app.models.user import Role, User
from app.services import tasks as svc
from app.services.actors import Actor
from app.services.errors import Conflict, Forbidden, Invalid
from app.services.evidence import TooLarge, clean_file_name, sniff, store_upload
from tests.factories import (
    committed,
    make_branch,
    make_campaign,
    make_problem,
    make_task,
    make_township,
    make_user,
)

DAY = date(2025, 6, 15)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


def actor_of(user: User) -> Actor:
    return Actor(label=f"user:{user.username}", role=user.role, township_id=user.township_id,
                 branch_id=user.branch_id, user_id=user.id, display_name=user.display_name)


@pytest.fixture
def people(engine: Engine) -> dict[str, Any]:
    with committed(engine) as s:
        township = make_township(s, name="甲镇")
        other = make_township(s, name="乙镇")
        branch = make_branch(s, township, name="甲一村党支部")
        users = {
            "secretary": make_user(s, Role.branch_secretary, branch=branch),
            "staff": make_user(s, Role.township_staff, township=township),
            "staff2": make_user(s, Role.township_staff, township=township),
            "otherstaff": make_user(s, Role.township_staff, township=other),
            "admin": make_user(s, Role.county_admin),
            "viewer": make_user(s, Role.viewer, township=township),
        }
        campaign = make_campaign(s)
        problem = make_problem(s, campaign, township, branch=branch)
        return {"problem_id": problem.id, **{k: actor_of(u) for k, u in users.items()}}


def new_task(engine: Engine, people: dict[str, Any], **overrides: Any) -> int:
    from app.models.problem import Problem

    with committed(engine) as s:
        problem = s.get(Problem, people["problem_id"])
        return int(make_task(s, problem, **overrides).id)


def act(engine: Engine, who: Actor, task_id: int, action: str, note: str | None = None,
        **kw: Any) -> Task:
    with transaction(engine, actor=who.label) as s:
        task = svc.get_task(session=s, actor=who, task_id=task_id)
        return svc.transition(session=s, actor=who, task=task, action=TaskAction(action),
                              note=note, version=task.version, **kw)


def report(engine: Engine, who: Actor, task_id: int, note: str, files: list[Any] | None = None,
           upload_dir: Path | None = None, max_bytes: int = 1024 * 1024) -> Any:
    with transaction(engine, actor=who.label) as s:
        task = svc.get_task(session=s, actor=who, task_id=task_id)
        return svc.add_update(session=s, actor=who, task=task, note=note, files=files or [],
                              upload_dir=upload_dir, max_bytes=max_bytes)


def status_of(engine: Engine, task_id: int) -> TaskStatus:
    with committed(engine) as s:
        task = s.get(Task, task_id)
        assert task is not None
        return task.status


# ---------------------------------------------------------------- the whole life


def test_a_task_from_plan_to_verified_and_back(engine: Engine, people: dict[str, Any]) -> None:
    task_id = new_task(engine, people)
    secretary, staff, admin = people["secretary"], people["staff"], people["admin"]
    assert act(engine, secretary, task_id, "start").status == TaskStatus.in_progress
    report(engine, secretary, task_id, "召开支部委员会")
    submitted = act(engine, secretary, task_id, "submit")
    assert submitted.status == TaskStatus.submitted
    assert submitted.submitted_by_role == Role.branch_secretary
    assert submitted.completed_at is not None
    rejected = act(engine, staff, task_id, "reject", "缺少会议记录")
    assert rejected.status == TaskStatus.in_progress and rejected.completed_at is None
    assert rejected.status_note == "缺少会议记录"
    act(engine, secretary, task_id, "submit", "补充了会议记录")
    verified = act(engine, staff, task_id, "verify")
    assert verified.status == TaskStatus.verified and verified.verified_at is not None
    assert verified.verified_by == staff.display_name
    reopened = act(engine, admin, task_id, "reopen", "群众反映仍未整改")
    assert reopened.status == TaskStatus.in_progress
    assert reopened.verified_at is None and reopened.verified_by is None

    with committed(engine) as s:
        task = s.get(Task, task_id)
        assert task is not None
        entries = svc.timeline(session=s, task=task)
    steps = [(e.kind, e.action, e.note) for e in entries]
    assert steps == [
        ("created", "create", None),
        ("transition", "start", None),
        ("update", "update", "召开支部委员会"),
        ("transition", "submit", None),
        ("transition", "reject", "缺少会议记录"),
        ("update", "update", "补充了会议记录"),  # the submit note, shown once
        ("transition", "submit", None),
        ("transition", "verify", None),
        ("transition", "reopen", "群众反映仍未整改"),
    ]
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert {e.actor for e in entries if e.action == "reject"} == {staff.label}


def test_reporting_on_a_pending_task_starts_it_and_counts_for_submit(
    engine: Engine, people: dict[str, Any]
) -> None:
    task_id = new_task(engine, people)
    report(engine, people["secretary"], task_id, "先干起来了")
    assert status_of(engine, task_id) == TaskStatus.in_progress
    assert act(engine, people["secretary"], task_id, "submit").status == TaskStatus.submitted


def test_submit_needs_a_note_since_work_last_began(
    engine: Engine, people: dict[str, Any]
) -> None:
    task_id = new_task(engine, people)
    secretary = people["secretary"]
    act(engine, secretary, task_id, "start")
    with pytest.raises(Invalid) as refused:
        act(engine, secretary, task_id, "submit")
    assert refused.value.errors[0].field == "note"
    report(engine, secretary, task_id, "做了")
    act(engine, secretary, task_id, "submit")
    act(engine, people["staff"], task_id, "reject", "不够")
    with pytest.raises(Invalid):
        act(engine, secretary, task_id, "submit")  # the note before the reject does not count
    assert status_of(engine, task_id) == TaskStatus.in_progress


# ---------------------------------------------------------------- what each one is offered

OFFERED = {
    # status: {who: actions offered}
    TaskStatus.pending: {"secretary": ["start"], "staff": ["start", "cancel"],
                         "admin": ["start", "cancel"], "viewer": []},
    TaskStatus.in_progress: {"secretary": ["submit"], "staff": ["submit", "cancel"],
                             "admin": ["submit", "cancel"], "viewer": []},
    TaskStatus.submitted: {"secretary": [], "staff": ["verify", "reject"],
                           "admin": ["verify", "reject"], "viewer": []},
    TaskStatus.verified: {"secretary": [], "staff": [], "admin": ["reopen"], "viewer": []},
    TaskStatus.cancelled: {"secretary": [], "staff": [], "admin": [], "viewer": []},
}


@pytest.mark.parametrize("status", list(TaskStatus))
def test_the_actions_offered_match_the_rules(
    engine: Engine, people: dict[str, Any], status: TaskStatus
) -> None:
    submitter = people["secretary"].user_id if status in (
        TaskStatus.submitted, TaskStatus.verified) else None
    task_id = new_task(engine, people, status=status, submitted_by_id=submitter,
                       submitted_by_role=Role.branch_secretary if submitter else None)
    with committed(engine) as s:
        task = s.get(Task, task_id)
        assert task is not None
        offered = {who: [a.value for a in svc.allowed_actions(s, people[who], task)]
                   for who in OFFERED[status]}
    assert offered == OFFERED[status]


def test_staff_submission_is_offered_for_verification_to_the_county_only(
    engine: Engine, people: dict[str, Any]
) -> None:
    task_id = new_task(engine, people, status=TaskStatus.submitted,
                       submitted_by_id=people["staff"].user_id,
                       submitted_by_role=Role.township_staff)
    with committed(engine) as s:
        task = s.get(Task, task_id)
        assert task is not None
        assert svc.allowed_actions(s, people["staff"], task) == []
        assert svc.allowed_actions(s, people["staff2"], task) == []
        assert svc.allowed_actions(s, people["admin"], task) == [TaskAction.verify,
                                                                 TaskAction.reject]
    with pytest.raises(Forbidden):
        act(engine, people["staff2"], task_id, "verify")
    assert act(engine, people["admin"], task_id, "verify").status == TaskStatus.verified


def test_a_token_moves_nothing(engine: Engine, people: dict[str, Any]) -> None:
    token = Actor(label="token:abc", role=None, township_id=None, token_id=1,
                  token_can_write=True)
    task_id = new_task(engine, people)
    with committed(engine) as s:
        task = s.get(Task, task_id)
        assert task is not None
        assert svc.allowed_actions(s, token, task) == []
        with pytest.raises(Forbidden):
            svc.transition(session=s, actor=token, task=task, action=TaskAction.start,
                           note=None, version=task.version)
        with pytest.raises(Forbidden):
            svc.add_update(session=s, actor=token, task=task, note="x", files=[])


# ---------------------------------------------------------------- overdue at the day boundary


@pytest.mark.parametrize(("due", "status", "overdue"), [
    (DAY - timedelta(days=1), TaskStatus.pending, True),
    (DAY - timedelta(days=1), TaskStatus.in_progress, True),
    (DAY - timedelta(days=400), TaskStatus.in_progress, True),
    (DAY, TaskStatus.pending, False),
    (DAY, TaskStatus.in_progress, False),
    (DAY + timedelta(days=1), TaskStatus.pending, False),
    (DAY - timedelta(days=1), TaskStatus.submitted, False),
    (DAY - timedelta(days=1), TaskStatus.verified, False),
])
def test_overdue_in_python_and_in_sql_agree(
    engine: Engine, people: dict[str, Any], due: date, status: TaskStatus, overdue: bool
) -> None:
    task_id = new_task(engine, people, due_on=due, status=status)
    with committed(engine) as s:
        task = s.get(Task, task_id)
        assert task is not None
        assert svc.is_overdue(task, DAY) is overdue
        found = s.scalars(select(Task.id).where(svc.overdue_condition(DAY))).all()
        assert (task_id in found) is overdue
        filters = svc.TaskFilters(overdue=True)
        listed, _ = svc.list_tasks(session=s, actor=people["staff"], filters=filters,
                                   page=svc.PageParams(limit=50, cursor=None), today=DAY)
        assert [t.id for t in listed] == ([task_id] if overdue else [])
        counts = svc.status_counts(session=s, actor=people["staff"],
                                   filters=svc.TaskFilters())
        assert counts[status.value] == 1


# ---------------------------------------------------------------- evidence storage


def test_a_failed_file_leaves_no_file_and_no_update(
    engine: Engine, people: dict[str, Any], tmp_path: Path
) -> None:
    task_id = new_task(engine, people)
    files = [svc.Upload("ok.jpg", io.BytesIO(JPEG)), svc.Upload("bad.jpg", io.BytesIO(b"<html>"))]
    with pytest.raises(Invalid) as refused:
        report(engine, people["secretary"], task_id, "有照片", files, upload_dir=tmp_path)
    assert refused.value.errors[0].field == "files"
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    with committed(engine) as s:
        task = s.get(Task, task_id)
        assert task is not None
        assert svc.list_updates(session=s, task=task) == []
        assert task.status == TaskStatus.pending


def test_store_upload_refuses_a_file_over_the_limit(tmp_path: Path) -> None:
    with pytest.raises(TooLarge):
        store_upload(io.BytesIO(JPEG + b"\x00" * 2000), original_name="a.jpg",
                     upload_dir=tmp_path, max_bytes=1000)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    exact = store_upload(io.BytesIO(JPEG + b"\x00" * (1000 - len(JPEG))), original_name="a.jpg",
                         upload_dir=tmp_path, max_bytes=1000)
    assert exact.size == 1000
    assert (tmp_path / exact.storage_key).stat().st_size == 1000


@pytest.mark.parametrize(("name", "shown"), [
    ("../../etc/passwd.jpg", "passwd.jpg"),
    ("..\\..\\windows\\x.pdf", "x.pdf"),
    ("C:\\Users\\张三\\桌面\\照片.jpg", "照片.jpg"),
    ("photo\x00.jpg", "photo.jpg"),
    ("\x1b[31mred.jpg", "[31mred.jpg"),
    (".hidden.jpg", "hidden.jpg"),
    ("   ", "佐证材料.jpg"),
    (None, "佐证材料.jpg"),
    ("x" * 300 + ".jpg", "x" * 150),
])
def test_clean_file_name(name: str | None, shown: str) -> None:
    cleaned = clean_file_name(name, "image/jpeg")
    assert cleaned == shown
    assert "/" not in cleaned and "\\" not in cleaned


def test_sniff_tells_word_from_excel_97(tmp_path: Path) -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    word = tmp_path / "w"
    word.write_bytes(ole + b"\x00" * 100 + "WordDocument".encode("utf-16-le"))
    excel = tmp_path / "x"
    excel.write_bytes(ole + b"\x00" * 100 + "Workbook".encode("utf-16-le"))
    other = tmp_path / "o"
    other.write_bytes(ole + b"\x00" * 100)
    assert sniff(word.read_bytes()[:64], word) == "application/msword"
    assert sniff(excel.read_bytes()[:64], excel) == "application/vnd.ms-excel"
    assert sniff(other.read_bytes()[:64], other) is None


# ---------------------------------------------------------------- duplicate evidence


def test_duplicate_evidence_names_every_other_task(
    engine: Engine, people: dict[str, Any], tmp_path: Path
) -> None:
    a, b, c = (new_task(engine, people) for _ in range(3))
    for task_id, name in ((a, "a.jpg"), (b, "b.jpg"), (c, "c.jpg")):
        report(engine, people["secretary"], task_id, "照片",
               [svc.Upload(name, io.BytesIO(JPEG + b"same"))], upload_dir=tmp_path)
    with committed(engine) as s:
        found = svc.duplicate_evidence(s, [a, b, c], people["staff"])
    assert [(d.file_name, d.other_task_ids) for d in found[a]] == [("a.jpg", [b, c])]
    assert [(d.file_name, d.other_task_ids) for d in found[b]] == [("b.jpg", [a, c])]
    act(engine, people["secretary"], a, "submit")
    with pytest.raises(Conflict):
        act(engine, people["staff"], a, "verify")
    assert act(engine, people["staff"], a, "verify",
               confirm_duplicate_evidence=True).status == TaskStatus.verified
