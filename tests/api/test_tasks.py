"""Tasks through the API: who may move a task how, versions, concurrency, overdue, history.

The lifecycle (DESIGN.md):
pending ─start─▶ in_progress ─submit─▶ submitted ─verify─▶ verified;
submitted ─reject(reason)─▶ in_progress; verified ─reopen(county admin, reason)─▶ in_progress.
"""

import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import unescape as html_unescape
from typing import Any

import pytest
from sqlalchemy import Engine, select

import app.services.tasks as task_service
from app.models.task import TaskStatus
from app.models.user import Role, TokenScope, User
from tests.factories import (
    assert_problem,
    bearer,
    committed,
    make_branch,
    make_campaign,
    make_problem,
    make_task,
    make_token,
    make_user,
)

API = "/api/v1"
TODAY = date.today()


@dataclass
class Ledger:
    world: Any
    campaign_id: int
    problem_id: int  # 甲镇 / 甲一村 (the secretary's branch)
    other_problem_id: int  # 乙镇 / 乙一村
    user_ids: dict[str, int]
    read_token: str
    write_token: str


@pytest.fixture
def ledger(engine: Engine, world: Any) -> Ledger:
    with committed(engine) as s:
        sibling = make_branch(s, world.township, name="甲二村党支部")
        make_user(s, Role.branch_secretary, branch=sibling, username="siblingsecretary")
        make_user(s, Role.branch_secretary, branch=world.other_branch, username="othersecretary")
        make_user(s, Role.township_staff, township=world.township, username="staff2")
        make_user(s, Role.county_admin, username="admin2")
        campaign = make_campaign(s)
        problem = make_problem(s, campaign, world.township, branch=world.branch,
                               description="组织生活不经常")
        other = make_problem(s, campaign, world.other_township, branch=world.other_branch)
        read_token = make_token(s, scope=TokenScope.read)
        write_token = make_token(s, scope=TokenScope.write)
        ids = {u.username: u.id for u in s.scalars(select(User))}
        return Ledger(world, campaign.id, problem.id, other.id, ids, read_token, write_token)


def add_task(engine: Engine, ledger: Ledger, status: TaskStatus = TaskStatus.pending, *,
             submitted_by: str = "secretary", problem_id: int | None = None,
             **overrides: Any) -> int:
    """A task of the secretary's branch in `status` (submitted by `submitted_by` if it got
    that far), arranged directly in the database."""
    from app.models.problem import Problem

    values: dict[str, Any] = {"status": status}
    if status in (TaskStatus.submitted, TaskStatus.verified):
        with committed(engine) as s:
            user = s.scalars(select(User).where(User.username == submitted_by)).one()
            values.update(submitted_by_id=user.id, submitted_by=f"user:{user.username}",
                          submitted_by_role=user.role, submitted_at=datetime.now(UTC),
                          completed_at=datetime.now(UTC))
    if status == TaskStatus.verified:
        values.update(verified_at=datetime.now(UTC), verified_by="县委组织部")
    with committed(engine) as s:
        problem = s.get(Problem, problem_id or ledger.problem_id)
        return int(make_task(s, problem, **{**values, **overrides}).id)


def etag(response: Any) -> str:
    return str(response.headers["ETag"])


def current_version(engine: Engine, task_id: int) -> int:
    from app.models.task import Task

    with committed(engine) as s:
        task = s.get(Task, task_id)
        assert task is not None
        return task.version


@pytest.fixture
def move(engine: Engine) -> Any:
    """`move(client, task_id, action, note=...)` POSTs a transition; by default it sends the
    task's current version as If-Match (`version=None`: none; an int: in the body)."""

    def _move(client: Any, task_id: int, action: str, *, note: str | None = None,
              version: int | str | None = "current", headers: dict[str, str] | None = None,
              **body: Any) -> Any:
        headers = dict(headers or {})
        if version == "current":
            headers["If-Match"] = f'"{current_version(engine, task_id)}"'
        elif version is not None:
            body["version"] = version
        return client.post(f"{API}/tasks/{task_id}/transitions",
                           json={"action": action, "note": note, **body}, headers=headers)

    return _move


def stored(engine: Engine, task_id: int) -> Any:
    from app.models.task import Task

    with committed(engine) as s:
        task = s.get(Task, task_id)
        assert task is not None
        s.expunge(task)
        return task


# ---------------------------------------------------------------- who may do what

SOURCE = {
    "start": TaskStatus.pending, "submit": TaskStatus.in_progress,
    "verify": TaskStatus.submitted, "reject": TaskStatus.submitted,
    "reopen": TaskStatus.verified,
}
TARGET = {
    "start": "in_progress", "submit": "submitted", "verify": "verified",
    "reject": "in_progress", "reopen": "in_progress",
}
NOTE = {"submit": "已按月召开主题党日", "reject": "佐证材料不全", "reopen": "群众反映问题仍在"}
ALL_ACTIONS = list(SOURCE)


def expect(**codes: int) -> dict[str, int]:
    return {a: codes.get(a, codes.get("rest", 0)) for a in ALL_ACTIONS}


# who → expected status per action (tasks of 甲一村, submitted by its secretary)
MATRIX: dict[str, dict[str, int]] = {
    "secretary": expect(start=200, submit=200, rest=403),
    "siblingsecretary": expect(rest=404),  # another branch of the same township
    "othersecretary": expect(rest=404),  # a branch of another township
    "staff": expect(reopen=403, rest=200),
    "otherstaff": expect(rest=404),
    "admin": expect(rest=200),
    "viewer": expect(rest=403),
    "countyviewer": expect(rest=403),
    "read_token": expect(rest=403),
    "write_token": expect(rest=403),
}


@pytest.mark.parametrize("action", ALL_ACTIONS)
@pytest.mark.parametrize("who", list(MATRIX))
def test_transition_allowed_or_refused_per_role(
    engine: Engine, ledger: Ledger, login: Any, client: Any, who: str, action: str, move: Any
) -> None:
    task_id = add_task(engine, ledger, SOURCE[action])
    before = stored(engine, task_id)
    if who.endswith("_token"):
        caller, headers = client, bearer(getattr(ledger, who))
    else:
        caller, headers = login(who), {}
    r = move(caller, task_id, action, note=NOTE.get(action), headers=headers)
    expected = MATRIX[who][action]
    after = stored(engine, task_id)
    if expected == 200:
        assert r.status_code == 200, r.text
        assert r.json()["status"] == TARGET[action]
        assert etag(r) == f'"{before.version + 1}"'
        assert after.status == TARGET[action]
    else:
        body = assert_problem(r, expected)
        if expected == 404:
            assert "不存在" in body["detail"]
        assert after.status == before.status and after.version == before.version


def test_the_api_shows_the_allowed_actions_as_buttons_for_the_secretary_only_start(
    engine: Engine, ledger: Ledger, login: Any
) -> None:
    task_id = add_task(engine, ledger, TaskStatus.pending)
    html = login("secretary").get(f"{API}/tasks/{task_id}", headers={"HX-Request": "true"}).text
    assert 'value="start"' in html
    task_id = add_task(engine, ledger, TaskStatus.submitted)
    html = login("secretary").get(f"{API}/tasks/{task_id}", headers={"HX-Request": "true"}).text
    assert 'value="verify"' not in html and 'value="reject"' not in html
    html = login("staff").get(f"{API}/tasks/{task_id}", headers={"HX-Request": "true"}).text
    assert 'value="verify"' in html and 'value="reject"' in html


# ---------------------------------------------------------------- wrong state

WRONG_STATE = [
    (action, status)
    for action, source in SOURCE.items()
    for status in TaskStatus
    if status != source and not (action == "reject" and status == TaskStatus.submitted)
]


@pytest.mark.parametrize(("action", "status"), WRONG_STATE)
def test_a_move_from_the_wrong_state_answers_409_saying_why(
    engine: Engine, ledger: Ledger, login: Any, action: str, status: TaskStatus, move: Any
) -> None:
    task_id = add_task(engine, ledger, status, submitted_by="staff")
    r = move(login("admin"), task_id, action, note=NOTE.get(action, "说明"))
    body = assert_problem(r, 409)
    labels = {"pending": "未开始", "in_progress": "整改中", "submitted": "待验收",
              "verified": "已销号", "cancelled": "已撤销"}
    verbs = {"start": "开始整改", "submit": "提交验收", "verify": "验收销号", "reject": "退回",
             "reopen": "重新打开", "cancel": "撤销任务"}
    assert labels[status.value] in body["detail"] and verbs[action] in body["detail"]
    assert stored(engine, task_id).status == status


def test_verifying_a_pending_task_says_it_has_not_started(
    engine: Engine, ledger: Ledger, login: Any, move: Any
) -> None:
    task_id = add_task(engine, ledger, TaskStatus.pending)
    body = assert_problem(move(login("staff"), task_id, "verify"), 409)
    assert body["detail"] == "任务当前状态为“未开始”,不能验收销号"


def test_county_admin_reopens_only_a_verified_task(
    engine: Engine, ledger: Ledger, login: Any, move: Any
) -> None:
    admin = login("admin")
    submitted = add_task(engine, ledger, TaskStatus.submitted)
    assert_problem(move(admin, submitted, "reopen", note="再看看"), 409)
    verified = add_task(engine, ledger, TaskStatus.verified)
    r = move(admin, verified, "reopen", note="群众反映问题仍在")
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["status"] == "in_progress"
    assert data["verified_at"] is None and data["verified_by"] is None
    assert data["status_note"] == "群众反映问题仍在"


# ---------------------------------------------------------------- who verifies


def test_the_submitter_may_not_verify_their_own_task(
    engine: Engine, ledger: Ledger, login: Any, move: Any
) -> None:
    task_id = add_task(engine, ledger, TaskStatus.in_progress)
    staff = login("staff")
    assert move(staff, task_id, "submit", note="已整改完毕").status_code == 200
    body = assert_problem(move(staff, task_id, "verify"), 403)
    assert "自己提交" in body["detail"]
    assert_problem(move(staff, task_id, "reject", note="不行"), 403)
    assert stored(engine, task_id).status == TaskStatus.submitted


def test_a_task_submitted_by_township_staff_needs_a_county_admin_to_verify(
    engine: Engine, ledger: Ledger, login: Any, move: Any
) -> None:
    task_id = add_task(engine, ledger, TaskStatus.in_progress)
    assert move(login("staff"), task_id, "submit", note="已整改完毕").status_code == 200
    body = assert_problem(move(login("staff2"), task_id, "verify"), 403)
    assert "县委组织部" in body["detail"]
    r = move(login("admin"), task_id, "verify")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "verified"
    assert r.json()["verified_by"]
    assert r.json()["verified_at"]


def test_a_county_admin_may_not_verify_own_submission_but_another_admin_may(
    engine: Engine, ledger: Ledger, login: Any, move: Any
) -> None:
    task_id = add_task(engine, ledger, TaskStatus.in_progress)
    admin = login("admin")
    assert move(admin, task_id, "submit", note="县里直接整改完毕").status_code == 200
    assert_problem(move(admin, task_id, "verify"), 403)
    assert_problem(move(login("staff"), task_id, "verify"), 403)
    assert move(login("admin2"), task_id, "verify").status_code == 200


def test_a_task_submitted_by_the_secretary_is_verified_by_township_staff(
    engine: Engine, ledger: Ledger, login: Any, move: Any
) -> None:
    task_id = add_task(engine, ledger, TaskStatus.in_progress)
    assert move(login("secretary"), task_id, "submit", note="已整改").status_code == 200
    r = move(login("staff"), task_id, "verify")
    assert r.status_code == 200, r.text
    assert r.json()["verified_by"] == stored(engine, task_id).verified_by
    assert stored(engine, task_id).status == TaskStatus.verified


# ---------------------------------------------------------------- notes and reasons


def test_submit_needs_a_progress_note(
    engine: Engine, ledger: Ledger, login: Any, move: Any
) -> None:
    task_id = add_task(engine, ledger, TaskStatus.pending)
    secretary = login("secretary")
    assert move(secretary, task_id, "start").status_code == 200
    assert_problem(move(secretary, task_id, "submit"), 422, field="note")
    assert_problem(move(secretary, task_id, "submit", note="   "), 422, field="note")
    assert stored(engine, task_id).status == TaskStatus.in_progress
    r = move(secretary, task_id, "submit", note="本月已召开主题党日")
    assert r.status_code == 200, r.text
    updates = secretary.get(f"{API}/tasks/{task_id}/updates").json()
    assert [u["note"] for u in updates] == ["本月已召开主题党日"]


def test_submit_without_note_after_reporting_progress(
    engine: Engine, ledger: Ledger, login: Any, move: Any
) -> None:
    task_id = add_task(engine, ledger, TaskStatus.pending)
    secretary = login("secretary")
    assert move(secretary, task_id, "start").status_code == 200
    r = secretary.post(f"{API}/tasks/{task_id}/updates", data={"note": "已完成组织生活会"})
    assert r.status_code == 201, r.text
    r = move(secretary, task_id, "submit")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "submitted"


def test_reporting_progress_on_a_pending_task_starts_it_and_counts_for_submit(
    engine: Engine, ledger: Ledger, login: Any, move: Any
) -> None:
    """The secretary reports first (which starts the task), then submits without a note."""
    task_id = add_task(engine, ledger, TaskStatus.pending)
    secretary = login("secretary")
    r = secretary.post(f"{API}/tasks/{task_id}/updates", data={"note": "已完成组织生活会"})
    assert r.status_code == 201, r.text
    assert stored(engine, task_id).status == TaskStatus.in_progress
    r = move(secretary, task_id, "submit")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "submitted"


def test_after_a_reject_a_new_progress_note_is_needed(
    engine: Engine, ledger: Ledger, login: Any, move: Any
) -> None:
    task_id = add_task(engine, ledger, TaskStatus.in_progress)
    secretary, staff = login("secretary"), login("staff")
    assert move(secretary, task_id, "submit", note="第一次整改").status_code == 200
    assert move(staff, task_id, "reject", note="缺少会议记录").status_code == 200
    assert_problem(move(secretary, task_id, "submit"), 422, field="note")
    assert move(secretary, task_id, "submit", note="补充了会议记录").status_code == 200


@pytest.mark.parametrize("note", [None, "", "   "])
def test_reject_and_reopen_need_a_reason(
    engine: Engine, ledger: Ledger, login: Any, note: str | None, move: Any
) -> None:
    submitted = add_task(engine, ledger, TaskStatus.submitted)
    body = assert_problem(move(login("staff"), submitted, "reject", note=note), 422,
                          field="note")
    assert "原因" in body["errors"][0]["message"]
    verified = add_task(engine, ledger, TaskStatus.verified)
    assert_problem(move(login("admin"), verified, "reopen", note=note), 422, field="note")
    assert stored(engine, submitted).status == TaskStatus.submitted
    assert stored(engine, verified).status == TaskStatus.verified


# ---------------------------------------------------------------- versions


def test_a_stale_version_answers_412_with_the_current_etag(
    engine: Engine, ledger: Ledger, login: Any, move: Any
) -> None:
    task_id = add_task(engine, ledger)
    staff = login("staff")
    r = staff.patch(f"{API}/tasks/{task_id}", json={"title": "新措施"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert etag(r) == '"2"'
    r = staff.patch(f"{API}/tasks/{task_id}", json={"title": "又改"}, headers={"If-Match": '"1"'})
    body = assert_problem(r, 412)
    assert etag(r) == '"2"' and body["current_version"] == 2
    assert_problem(move(staff, task_id, "start", version=1), 412)
    assert_problem(move(staff, task_id, "start", headers={"If-Match": '"1"'}, version=None), 412)
    assert stored(engine, task_id).title == "新措施"


def test_no_version_answers_428(engine: Engine, ledger: Ledger, login: Any, move: Any) -> None:
    task_id = add_task(engine, ledger)
    staff = login("staff")
    assert_problem(staff.patch(f"{API}/tasks/{task_id}", json={"title": "新措施"}), 428)
    assert_problem(move(staff, task_id, "start", version=None), 428)
    r = move(staff, task_id, "start", version=1)  # version in the body instead of If-Match
    assert r.status_code == 200, r.text
    assert stored(engine, task_id).title != "新措施"


def test_patch_changes_the_plan_within_scope(engine: Engine, ledger: Ledger, login: Any) -> None:
    task_id = add_task(engine, ledger)
    new_due = (TODAY + timedelta(days=60)).isoformat()
    r = login("staff").patch(
        f"{API}/tasks/{task_id}", headers={"If-Match": '"1"'},
        json={"responsible_person": "李四", "due_on": new_due},
    )
    assert r.status_code == 200, r.text
    assert r.json()["responsible_person"] == "李四" and r.json()["due_on"] == new_due
    assert_problem(login("secretary").patch(f"{API}/tasks/{task_id}", json={"title": "x"},
                                            headers={"If-Match": '"2"'}), 403)
    assert_problem(login("otherstaff").patch(f"{API}/tasks/{task_id}", json={"title": "x"},
                                             headers={"If-Match": '"2"'}), 404)
    verified = add_task(engine, ledger, TaskStatus.verified)
    assert_problem(login("staff").patch(f"{API}/tasks/{verified}", json={"title": "x"},
                                        headers={"If-Match": '"1"'}), 409)


def test_create_task_checks_problem_and_branch(
    engine: Engine, ledger: Ledger, login: Any
) -> None:
    staff = login("staff")
    due = (TODAY + timedelta(days=10)).isoformat()
    r = staff.post(f"{API}/tasks", json={"problem_id": ledger.problem_id, "title": "建立台账",
                                         "responsible_person": "王五", "due_on": due})
    assert r.status_code == 201, r.text
    data = r.json()
    assert data["status"] == "pending" and data["branch_id"] == ledger.world.branch.id
    assert data["township_id"] == ledger.world.township.id and etag(r) == '"1"'
    assert r.headers["Location"] == f"{API}/tasks/{data['id']}"
    assert_problem(staff.post(f"{API}/tasks", json={
        "problem_id": ledger.problem_id, "title": "x", "due_on": due,
        "branch_id": ledger.world.other_branch.id}), 422, field="branch_id")
    assert_problem(staff.post(f"{API}/tasks", json={
        "problem_id": ledger.other_problem_id, "title": "x", "due_on": due}), 422,
        field="problem_id")
    assert_problem(login("secretary").post(f"{API}/tasks", json={
        "problem_id": ledger.problem_id, "title": "x", "due_on": due}), 403)


# ---------------------------------------------------------------- concurrency


def _slow_version_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold each request for a moment after it checked the version, so two requests that
    started together have both read the task before either writes (the race to lose)."""
    real = task_service.check_version

    def slow(record: Any, expected: int | None, **kw: Any) -> None:
        real(record, expected, **kw)
        time.sleep(0.3)

    monkeypatch.setattr(task_service, "check_version", slow)


def _together(*calls: Any) -> list[Any]:
    """Run the calls in threads released at the same instant; answer their responses."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert all(not t.is_alive() for t in threads)
    return results


def test_two_concurrent_patches_with_the_same_version_one_wins(
    engine: Engine, ledger: Ledger, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = add_task(engine, ledger)
    a, b = login("staff"), login("staff2")
    _slow_version_check(monkeypatch)
    results = _together(
        lambda: a.patch(f"{API}/tasks/{task_id}", json={"responsible_person": "甲"},
                        headers={"If-Match": '"1"'}),
        lambda: b.patch(f"{API}/tasks/{task_id}", json={"responsible_person": "乙"},
                        headers={"If-Match": '"1"'}),
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 412], [r.text for r in results]
    won = next(r for r in results if r.status_code == 200)
    lost = next(r for r in results if r.status_code == 412)
    assert_problem(lost, 412)
    assert etag(lost) == '"2"' == etag(won)
    task = stored(engine, task_id)
    assert task.version == 2 and task.responsible_person == won.json()["responsible_person"]


def test_two_concurrent_transitions_with_the_same_version_one_wins(
    engine: Engine, ledger: Ledger, login: Any, monkeypatch: pytest.MonkeyPatch, move: Any
) -> None:
    task_id = add_task(engine, ledger, TaskStatus.submitted)
    staff, admin = login("staff"), login("admin")
    _slow_version_check(monkeypatch)
    results = _together(
        lambda: move(staff, task_id, "verify", version=None, headers={"If-Match": '"1"'}),
        lambda: move(admin, task_id, "reject", note="证据不足", version=None,
                     headers={"If-Match": '"1"'}),
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 412], [r.text for r in results]
    won = next(r for r in results if r.status_code == 200)
    lost = next(r for r in results if r.status_code == 412)
    assert_problem(lost, 412)
    assert etag(lost) == '"2"' == etag(won)
    assert stored(engine, task_id).status == won.json()["status"]
    history = admin.get(f"{API}/audit-events",
                        params={"entity_type": "task", "entity_id": task_id}).json()["items"]
    assert len([e for e in history if e["action"] in ("verify", "reject")]) == 1


# ---------------------------------------------------------------- overdue and filters


@pytest.fixture
def board(engine: Engine, ledger: Ledger) -> dict[str, int]:
    yesterday, tomorrow = TODAY - timedelta(days=1), TODAY + timedelta(days=1)
    return {
        "pending_yesterday": add_task(engine, ledger, TaskStatus.pending, due_on=yesterday),
        "working_yesterday": add_task(engine, ledger, TaskStatus.in_progress, due_on=yesterday),
        "pending_today": add_task(engine, ledger, TaskStatus.pending, due_on=TODAY),
        "pending_tomorrow": add_task(engine, ledger, TaskStatus.pending, due_on=tomorrow),
        "submitted_yesterday": add_task(engine, ledger, TaskStatus.submitted, due_on=yesterday),
        "verified_last_month": add_task(engine, ledger, TaskStatus.verified,
                                        due_on=TODAY - timedelta(days=30)),
    }


def _ids(client: Any, **params: Any) -> set[int]:
    r = client.get(f"{API}/tasks", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return {t["id"] for t in r.json()["items"]}


def test_overdue_is_derived_at_the_day_boundary(
    board: dict[str, int], login: Any
) -> None:
    staff = login("staff")
    items = {t["id"]: t for t in staff.get(f"{API}/tasks", params={"limit": 500}).json()["items"]}
    overdue = {name for name, i in board.items() if items[i]["overdue"]}
    assert overdue == {"pending_yesterday", "working_yesterday"}
    one = staff.get(f"{API}/tasks/{board['pending_yesterday']}").json()
    assert one["overdue"] is True
    assert staff.get(f"{API}/tasks/{board['pending_today']}").json()["overdue"] is False


def test_overdue_status_and_due_before_filters(board: dict[str, int], login: Any) -> None:
    staff = login("staff")
    every = set(board.values())
    late = {board["pending_yesterday"], board["working_yesterday"]}
    assert _ids(staff, overdue="true") == late
    assert _ids(staff, overdue="false") == every - late
    assert _ids(staff, status="pending") == {
        board["pending_yesterday"], board["pending_today"], board["pending_tomorrow"]}
    assert _ids(staff, status="verified") == {board["verified_last_month"]}
    assert _ids(staff, status="pending", overdue="true") == {board["pending_yesterday"]}
    assert _ids(staff, due_before=TODAY.isoformat()) == {
        board["pending_yesterday"], board["working_yesterday"], board["submitted_yesterday"],
        board["verified_last_month"]}
    assert _ids(staff, due_before=(TODAY + timedelta(days=2)).isoformat()) == every
    assert_problem(staff.get(f"{API}/tasks", params={"status": "done"}), 422, field="status")
    assert_problem(staff.get(f"{API}/tasks", params={"due_before": "明天"}), 422,
                   field="due_before")


def test_lists_are_scoped(engine: Engine, ledger: Ledger, board: dict[str, int],
                          login: Any) -> None:
    theirs = add_task(engine, ledger, problem_id=ledger.other_problem_id)
    every = set(board.values())
    assert _ids(login("staff")) == every
    assert _ids(login("secretary")) == every
    assert _ids(login("siblingsecretary")) == set()
    assert _ids(login("otherstaff")) == {theirs}
    assert _ids(login("admin")) == every | {theirs}
    assert_problem(login("otherstaff").get(f"{API}/tasks/{board['pending_today']}"), 404)
    assert_problem(login("siblingsecretary").get(f"{API}/tasks/{board['pending_today']}"), 404)


# ---------------------------------------------------------------- history


def test_the_timeline_shows_every_step_and_the_reject_reason(
    engine: Engine, ledger: Ledger, login: Any, move: Any
) -> None:
    task_id = add_task(engine, ledger)
    secretary, staff = login("secretary"), login("staff")
    assert move(secretary, task_id, "start").status_code == 200
    r = secretary.post(f"{API}/tasks/{task_id}/updates", data={"note": "召开了组织生活会"})
    assert r.status_code == 201, r.text
    assert move(secretary, task_id, "submit").status_code == 200
    assert move(staff, task_id, "reject", note="缺少会议签到表").status_code == 200
    assert move(secretary, task_id, "submit", note="补交了签到表").status_code == 200
    r = move(staff, task_id, "verify")
    assert r.status_code == 200, r.text

    html = staff.get(f"{API}/tasks/{task_id}", headers={"HX-Request": "true"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    timeline = html.text[html.text.index('id="timeline"'):]
    steps = ["开始整改", "召开了组织生活会", "提交验收", "退回", "缺少会议签到表",
             "补交了签到表", "验收销号"]
    positions = [timeline.index(s) for s in steps]
    assert positions == sorted(positions), list(zip(steps, positions, strict=True))
    assert timeline.count("提交验收") >= 2

    events = staff.get(f"{API}/audit-events",
                       params={"entity_type": "task", "entity_id": task_id}).json()["items"]
    actions = [e["action"] for e in events]
    assert [a for a in actions if a in ("start", "submit", "reject", "verify")] == [
        "start", "submit", "reject", "submit", "verify"]
    reject = next(e for e in events if e["action"] == "reject")
    assert reject["changes"]["status"] == ["submitted", "in_progress"]
    assert reject["changes"]["status_note"][1] == "缺少会议签到表"
    assert reject["actor"] == "user:staff"


def test_changes_feed_carries_problems_tasks_updates_and_attachments(
    engine: Engine, ledger: Ledger, login: Any, client: Any
) -> None:
    task_id = add_task(engine, ledger)
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 100
    r = login("secretary").post(f"{API}/tasks/{task_id}/updates", data={"note": "现场照片"},
                                files={"files": ("现场.jpg", jpeg, "image/jpeg")})
    assert r.status_code == 201, r.text
    attachment_id = r.json()["attachments"][0]["id"]
    changes: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        page = client.get(f"{API}/changes", params={"cursor": cursor, "limit": 100} if cursor
                          else {"limit": 100}, headers=bearer(ledger.read_token)).json()
        changes += page["changes"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    found = {(c["type"], c["id"]): c for c in changes}
    assert ("problem", ledger.problem_id) in found
    task = found[("task", task_id)]
    assert task["data"]["status"] == "in_progress" and task["version"] == 2
    update_id = r.json()["id"]
    assert found[("progress_update", update_id)]["data"]["note"] == "现场照片"
    attachment = found[("attachment", attachment_id)]["data"]
    assert attachment["file_name"] == "现场.jpg" and attachment["size"] == len(jpeg)
    assert "storage_key" not in attachment
    assert attachment["sha256"] == r.json()["attachments"][0]["sha256"]


# ---------------------------------------------------------------- corrections (issue 9)


def _caller(who: str, ledger: Ledger, login: Any, client: Any) -> tuple[Any, dict[str, str]]:
    if who.endswith("_token"):
        return client, bearer(getattr(ledger, who))
    return login(who), {}


# who → expected status of cancelling a task of 甲一村 (township staff or county, reason)
CANCEL_BY = {
    "staff": 200, "admin": 200, "secretary": 403, "siblingsecretary": 404,
    "otherstaff": 404, "viewer": 403, "countyviewer": 403, "read_token": 403,
    "write_token": 403,
}


@pytest.mark.parametrize("source", [TaskStatus.pending, TaskStatus.in_progress])
@pytest.mark.parametrize("who", list(CANCEL_BY))
def test_cancel_per_role(engine: Engine, ledger: Ledger, login: Any, client: Any, move: Any,
                         who: str, source: TaskStatus) -> None:
    task_id = add_task(engine, ledger, source, due_on=TODAY - timedelta(days=3))
    caller, headers = _caller(who, ledger, login, client)
    r = move(caller, task_id, "cancel", note="问题已由县级统一解决", headers=headers)
    expected = CANCEL_BY[who]
    after = stored(engine, task_id)
    if expected == 200:
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "cancelled" and body["overdue"] is False  # never overdue
        assert after.status == TaskStatus.cancelled and after.status_note == "问题已由县级统一解决"
    else:
        assert_problem(r, expected)
        assert after.status == source and after.version == 1


@pytest.mark.parametrize("status", [TaskStatus.submitted, TaskStatus.verified,
                                    TaskStatus.cancelled])
def test_cancel_only_from_pending_or_in_progress(
    engine: Engine, ledger: Ledger, login: Any, move: Any, status: TaskStatus
) -> None:
    task_id = add_task(engine, ledger, status, submitted_by="staff")
    body = assert_problem(move(login("admin"), task_id, "cancel", note="不再需要"), 409)
    assert "撤销" in body["detail"]


@pytest.mark.parametrize("note", [None, "", "  "])
def test_cancel_needs_a_reason(engine: Engine, ledger: Ledger, login: Any, move: Any,
                               note: str | None) -> None:
    task_id = add_task(engine, ledger, TaskStatus.in_progress)
    assert_problem(move(login("staff"), task_id, "cancel", note=note), 422, field="note")
    assert stored(engine, task_id).status == TaskStatus.in_progress


def test_cancel_checks_the_version(engine: Engine, ledger: Ledger, login: Any,
                                   move: Any) -> None:
    task_id = add_task(engine, ledger)
    staff = login("staff")
    assert_problem(move(staff, task_id, "cancel", note="重复", version=None), 428)
    assert_problem(move(staff, task_id, "cancel", note="重复", version=5), 412)


def test_a_cancelled_task_is_counted_apart_and_never_overdue(
    engine: Engine, ledger: Ledger, login: Any, move: Any
) -> None:
    late = add_task(engine, ledger, TaskStatus.in_progress, due_on=TODAY - timedelta(days=2))
    add_task(engine, ledger, TaskStatus.pending)
    staff = login("staff")
    before = staff.get(f"{API}/reports/summary", params={"campaign_id": ledger.campaign_id}).json()
    assert before["tasks"]["overdue"] == 1 and before["tasks"]["total"] == 2
    assert move(staff, late, "cancel", note="合并到其他任务").status_code == 200
    after = staff.get(f"{API}/reports/summary", params={"campaign_id": ledger.campaign_id}).json()
    assert after["tasks"]["by_status"]["cancelled"] == 1
    assert after["tasks"]["total"] == 1 and after["tasks"]["overdue"] == 0
    assert late not in _ids(staff, overdue="true")
    assert late in _ids(staff, status="cancelled")
    assert_problem(staff.patch(f"{API}/tasks/{late}", json={"title": "x"},
                               headers={"If-Match": f'"{current_version(engine, late)}"'}), 409)
    html = staff.get(f"{API}/tasks/{late}", headers={"HX-Request": "true"}).text
    assert "已撤销" in html and "合并到其他任务" in html


DELETE_BY = {
    "staff": 204, "admin": 204, "write_token": 204, "secretary": 403,
    "siblingsecretary": 404, "otherstaff": 404, "viewer": 403, "read_token": 403,
}


@pytest.mark.parametrize("who", list(DELETE_BY))
def test_delete_a_pending_task_per_role(engine: Engine, ledger: Ledger, login: Any,
                                        client: Any, who: str) -> None:
    task_id = add_task(engine, ledger)
    caller, headers = _caller(who, ledger, login, client)
    r = caller.request("DELETE", f"{API}/tasks/{task_id}", params={"reason": "重复录入"},
                       headers={"If-Match": '"1"', **headers})
    if DELETE_BY[who] == 204:
        assert r.status_code == 204, r.text
        assert login("admin").get(f"{API}/tasks/{task_id}").status_code == 404
        events = login("admin").get(f"{API}/audit-events", params={
            "entity_type": "task", "entity_id": task_id}).json()["items"]
        assert [e["reason"] for e in events if e["action"] == "delete"] == ["重复录入"]
    else:
        assert_problem(r, DELETE_BY[who])
        assert stored(engine, task_id).deleted_at is None


@pytest.mark.parametrize("status", [TaskStatus.in_progress, TaskStatus.submitted,
                                    TaskStatus.verified, TaskStatus.cancelled])
def test_a_started_task_is_not_deleted_but_cancelled(
    engine: Engine, ledger: Ledger, login: Any, status: TaskStatus
) -> None:
    task_id = add_task(engine, ledger, status)
    r = login("staff").request("DELETE", f"{API}/tasks/{task_id}", json={"reason": "不需要"},
                               headers={"If-Match": '"1"'})
    body = assert_problem(r, 409)
    assert "撤销" in body["detail"]
    assert stored(engine, task_id).deleted_at is None


def test_delete_needs_a_reason_and_the_version(engine: Engine, ledger: Ledger,
                                               login: Any) -> None:
    task_id = add_task(engine, ledger)
    staff = login("staff")
    url = f"{API}/tasks/{task_id}"
    assert_problem(staff.request("DELETE", url, headers={"If-Match": '"1"'}), 422, field="reason")
    assert_problem(staff.request("DELETE", url, params={"reason": "重复"}), 428)
    assert_problem(staff.request("DELETE", url, params={"reason": "重复"},
                                 headers={"If-Match": '"9"'}), 412)
    assert stored(engine, task_id).deleted_at is None


def test_moving_the_due_date_of_a_started_task_is_an_extension_with_a_reason(
    engine: Engine, ledger: Ledger, login: Any
) -> None:
    old_due = TODAY + timedelta(days=5)
    task_id = add_task(engine, ledger, TaskStatus.in_progress, due_on=old_due)
    staff = login("staff")
    new_due = (TODAY + timedelta(days=40)).isoformat()
    url = f"{API}/tasks/{task_id}"
    body = assert_problem(staff.patch(url, json={"due_on": new_due}, headers={"If-Match": '"1"'}),
                          422, field="reason")
    assert "延期" in body["errors"][0]["message"]
    assert stored(engine, task_id).due_on == old_due
    # other corrections of a started task need no reason
    r = staff.patch(url, json={"responsible_person": "李四"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    # the whole form comes back (the branch too, unchanged): the reason still holds
    r = staff.patch(url, json={"due_on": new_due, "reason": "等待上级资金到位",
                               "branch_id": ledger.world.branch.id},
                    headers={"If-Match": '"2"'})
    assert r.status_code == 200, r.text
    assert r.json()["due_on"] == new_due
    events = login("admin").get(f"{API}/audit-events", params={
        "entity_type": "task", "entity_id": task_id}).json()["items"]
    extend = [e for e in events if e["action"] == "extend"]
    assert len(extend) == 1 and extend[0]["reason"] == "等待上级资金到位"
    assert extend[0]["changes"]["due_on"] == [old_due.isoformat(), new_due]
    timeline = staff.get(url, headers={"HX-Request": "true"}).text
    timeline = timeline[timeline.index('id="timeline"'):]
    assert "延期" in timeline and f"{old_due.isoformat()} → {new_due}" in timeline
    assert "等待上级资金到位" in timeline


def test_re_dating_a_pending_task_is_no_extension(engine: Engine, ledger: Ledger,
                                                  login: Any) -> None:
    task_id = add_task(engine, ledger)
    r = login("staff").patch(f"{API}/tasks/{task_id}", headers={"If-Match": '"1"'},
                             json={"due_on": (TODAY + timedelta(days=9)).isoformat()})
    assert r.status_code == 200, r.text


EXTEND_BY = {"staff": 200, "admin": 200, "write_token": 200, "secretary": 403,
             "otherstaff": 404, "viewer": 403, "read_token": 403}


@pytest.mark.parametrize("who", list(EXTEND_BY))
def test_extension_per_role(engine: Engine, ledger: Ledger, login: Any, client: Any,
                            who: str) -> None:
    task_id = add_task(engine, ledger, TaskStatus.in_progress)
    caller, headers = _caller(who, ledger, login, client)
    new_due = (TODAY + timedelta(days=90)).isoformat()
    r = caller.patch(f"{API}/tasks/{task_id}", json={"due_on": new_due, "reason": "汛期停工"},
                     headers={"If-Match": '"1"', **headers})
    if EXTEND_BY[who] == 200:
        assert r.status_code == 200, r.text
        assert stored(engine, task_id).due_on.isoformat() == new_due
    else:
        assert_problem(r, EXTEND_BY[who])
        assert stored(engine, task_id).version == 1


def test_a_due_date_already_past_needs_confirmation(engine: Engine, ledger: Ledger,
                                                    login: Any) -> None:
    staff = login("staff")
    past = (TODAY - timedelta(days=3)).isoformat()
    new = {"problem_id": ledger.problem_id, "title": "补录的任务", "due_on": past}
    body = assert_problem(staff.post(f"{API}/tasks", json=new), 422, field="due_on")
    assert "早于今天" in body["errors"][0]["message"]
    r = staff.post(f"{API}/tasks", json={**new, "allow_past_due": True})
    assert r.status_code == 201, r.text
    assert r.json()["overdue"] is True and "allow_past_due" not in r.json()
    task_id = add_task(engine, ledger)
    url = f"{API}/tasks/{task_id}"
    assert_problem(staff.patch(url, json={"due_on": past}, headers={"If-Match": '"1"'}),
                   422, field="due_on")
    r = staff.patch(url, json={"due_on": past, "allow_past_due": True},
                    headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    # correcting another field of a task already overdue is not refused for its due date
    r = staff.patch(url, json={"title": "改名", "due_on": past}, headers={"If-Match": '"2"'})
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- stale pages


def test_a_412_after_ones_own_change_does_not_blame_someone_else(
    engine: Engine, ledger: Ledger, login: Any, move: Any
) -> None:
    task_id = add_task(engine, ledger, TaskStatus.submitted)
    staff = login("staff")
    assert move(staff, task_id, "verify", version=1).status_code == 200
    # the old page (version 1) pressed again: the same person changed it
    r = move(staff, task_id, "reject", note="x", version=1)
    body = assert_problem(r, 412)
    assert "他人" not in body["title"] + body["detail"]
    assert "可能是您在另一页面的操作" in body["detail"]
    html = staff.post(f"{API}/tasks/{task_id}/transitions", headers={"HX-Request": "true"},
                      json={"action": "reject", "note": "x", "version": 1})
    assert html.status_code == 412
    assert 'id="task-detail"' in html.text and "已销号" in html.text  # the current record
    assert "可能是您在另一页面的操作" in html.text and "他人" not in html.text
    # someone else's change is named as such
    other = add_task(engine, ledger)
    assert move(login("staff2"), other, "start", version=1).status_code == 200
    body = assert_problem(move(staff, other, "cancel", note="x", version=1), 412)
    assert "他人" in body["title"]
    html = staff.post(f"{API}/tasks/{other}/transitions", headers={"HX-Request": "true"},
                      json={"action": "cancel", "note": "x", "version": 1})
    assert html.status_code == 412 and "已被他人修改" in html.text and "整改中" in html.text


def test_signed_in_answers_are_not_stored_by_the_browser(
    engine: Engine, ledger: Ledger, login: Any, client: Any
) -> None:
    task_id = add_task(engine, ledger)
    staff = login("staff")
    for url in (f"/tasks/{task_id}", "/tasks", "/dashboard", f"{API}/tasks/{task_id}"):
        r = staff.get(url)
        assert r.status_code == 200, (url, r.text)
        assert r.headers["cache-control"] == "no-store", url
    assert "no-store" not in staff.get("/static/app.css").headers.get("cache-control", "")
    r = client.get(f"{API}/tasks/{task_id}", headers=bearer(ledger.read_token))
    assert r.status_code == 200 and "cache-control" not in r.headers  # no session cookie


# ---------------------------------------------------------------- the board and the cards


def test_the_board_reaches_every_task_in_its_own_order(
    engine: Engine, ledger: Ledger, login: Any
) -> None:
    from app.models.problem import Problem

    with committed(engine) as s:
        problem = s.get(Problem, ledger.problem_id)
        made = [make_task(s, problem, due_on=TODAY + timedelta(days=i % 7)).id
                for i in range(117)]
    staff = login("staff")
    page = staff.get("/tasks")
    assert page.status_code == 200
    column = page.text[page.text.index('id="col-pending"'):page.text.index('id="col-in_progress"')]
    assert '<span class="count">117</span>' in column
    seen = [int(x) for x in re.findall(r'id="task-(\d+)"', column)]
    more = re.findall(r'hx-get="([^"]+)"', column)
    while more:
        url = html_unescape(more[0])
        fragment = staff.get(url, headers={"HX-Request": "true"})
        assert fragment.status_code == 200, fragment.text
        seen += [int(x) for x in re.findall(r'id="task-(\d+)"', fragment.text)]
        more = re.findall(r'hx-get="([^"]+)"', fragment.text)
    due = stored_due(engine, made)
    assert seen == sorted(made, key=lambda i: (due[i], i))


def stored_due(engine: Engine, ids: list[int]) -> dict[int, date]:
    from app.models.task import Task

    with committed(engine) as s:
        return {t.id: t.due_on for t in s.scalars(select(Task).where(Task.id.in_(ids)))}


def test_a_secretary_sees_returned_and_the_reason_after_a_reject(
    engine: Engine, ledger: Ledger, login: Any, move: Any
) -> None:
    task_id = add_task(engine, ledger, TaskStatus.submitted)
    assert move(login("staff"), task_id, "reject", note="缺少会议记录照片").status_code == 200
    secretary = login("secretary")
    card = secretary.get("/my/tasks").text
    card = card[card.index(f'id="task-{task_id}"'):]
    assert "已退回" in card and "缺少会议记录照片" in card and "整改中" not in card[:400]
    assert secretary.get(f"{API}/tasks/{task_id}").json()["returned"] is True
    # once she starts over and submits, it is no longer "returned"
    r = secretary.post(f"{API}/tasks/{task_id}/updates", data={"note": "补充了照片"})
    assert r.status_code == 201
    assert move(secretary, task_id, "submit").status_code == 200
    assert secretary.get(f"{API}/tasks/{task_id}").json()["returned"] is False


def test_the_dashboard_links_the_submitted_queue(
    engine: Engine, ledger: Ledger, login: Any
) -> None:
    waiting = add_task(engine, ledger, TaskStatus.submitted)
    working = add_task(engine, ledger, TaskStatus.in_progress)
    staff = login("staff")
    html = staff.get("/dashboard").text
    assert re.search(r'href="/tasks\?status=submitted"[^>]*>待验收 1 项', html)
    queue = staff.get("/tasks?status=submitted").text
    assert f'id="task-{waiting}"' in queue and f'id="task-{working}"' not in queue


def test_a_secretarys_dashboard_links_her_own_queues(
    engine: Engine, ledger: Ledger, login: Any
) -> None:
    waiting = add_task(engine, ledger, TaskStatus.submitted)
    working = add_task(engine, ledger, TaskStatus.in_progress)
    secretary = login("secretary")
    html = secretary.get("/dashboard").text
    assert 'href="/my/tasks?status=submitted"' in html
    queue = secretary.get("/my/tasks?status=submitted").text
    assert f'id="task-{waiting}"' in queue and f'id="task-{working}"' not in queue
    assert "查看全部" in queue
