"""Notifications (提醒), 催办 and deadline buckets.

Each kind reaches exactly the people who must act and nobody else; the daily reminders
are idempotent; urging is allowed to township staff of the task's township and the county.
"""

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from app.config import Settings
from app.db import make_engine, transaction
from app.models.notification import Notification
from app.models.problem import Problem
from app.models.task import TaskStatus
from app.models.user import Role, TokenScope, User
from app.services.notifications import remind
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
class Setup:
    world: Any
    problem_id: int  # 甲镇 / 甲一村
    township_problem_id: int  # 甲镇, no branch
    other_problem_id: int  # 乙镇 / 乙一村
    sibling_problem_id: int  # 甲镇 / 甲二村
    ids: dict[str, int]
    write_token: str


@pytest.fixture
def setup(engine: Engine, world: Any) -> Setup:
    with committed(engine) as s:
        sibling = make_branch(s, world.township, name="甲二村党支部")
        make_user(s, Role.branch_secretary, branch=world.branch, username="secretary2")
        make_user(s, Role.branch_secretary, branch=world.branch, username="gone", active=False)
        make_user(s, Role.branch_secretary, branch=sibling, username="siblingsecretary")
        make_user(s, Role.branch_secretary, branch=world.other_branch, username="othersecretary")
        make_user(s, Role.township_staff, township=world.township, username="staff2")
        make_user(s, Role.county_admin, username="admin2")
        campaign = make_campaign(s)
        p1 = make_problem(s, campaign, world.township, branch=world.branch)
        pt = make_problem(s, campaign, world.township)
        p2 = make_problem(s, campaign, world.other_township, branch=world.other_branch)
        ps = make_problem(s, campaign, world.township, branch=sibling)
        token = make_token(s, scope=TokenScope.write)
        ids = {u.username: u.id for u in s.scalars(select(User))}
        return Setup(world, p1.id, pt.id, p2.id, ps.id, ids, token)


def add_task(engine: Engine, problem_id: int, *, due: int = 30,
             status: TaskStatus = TaskStatus.pending, **overrides: Any) -> int:
    with committed(engine) as s:
        problem = s.get(Problem, problem_id)
        return int(make_task(s, problem, due_on=TODAY + timedelta(days=due), status=status,
                             **overrides).id)


def received(engine: Engine) -> dict[str, set[tuple[str, int]]]:
    """username → {(kind, subject_id)} of every notification stored."""
    out: dict[str, set[tuple[str, int]]] = {}
    with committed(engine) as s:
        for username, kind, subject_id in s.execute(
            select(User.username, Notification.kind, Notification.subject_id)
            .join(User, User.id == Notification.user_id)
        ):
            out.setdefault(username, set()).add((getattr(kind, "value", kind), subject_id))
    return out


def count_notifications(engine: Engine) -> int:
    with committed(engine) as s:
        return int(s.execute(select(func.count()).select_from(Notification)).scalar_one())


def run_remind(engine: Engine, settings: Settings) -> dict[str, int]:
    with transaction(engine) as s:
        return remind(session=s, settings=settings)


def version_of(client: Any, task_id: int) -> str:
    return str(client.get(f"{API}/tasks/{task_id}").headers["ETag"])


def move(client: Any, task_id: int, action: str, note: str | None = None) -> Any:
    return client.post(f"{API}/tasks/{task_id}/transitions", json={"action": action, "note": note},
                       headers={"If-Match": version_of(client, task_id)})


# ---------------------------------------------------------------- time-driven kinds


def test_due_soon_and_overdue_reach_only_whoever_works_on_the_task(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    soon = add_task(engine, setup.problem_id, due=3)
    today = add_task(engine, setup.problem_id, due=0)
    late = add_task(engine, setup.problem_id, due=-2)
    add_task(engine, setup.problem_id, due=8)  # beyond the 7 days: nothing yet
    add_task(engine, setup.problem_id, due=-5, status=TaskStatus.submitted)  # done: nothing
    add_task(engine, setup.problem_id, due=-5, status=TaskStatus.verified)
    township_wide = add_task(engine, setup.township_problem_id, due=1)
    other = add_task(engine, setup.other_problem_id, due=-1)

    made = run_remind(engine, settings)

    secretaries = {("task_due_soon", soon), ("task_due_soon", today), ("task_overdue", late)}
    assert received(engine) == {
        "secretary": secretaries,
        "secretary2": secretaries,
        "staff": {("task_due_soon", township_wide)},
        "staff2": {("task_due_soon", township_wide)},
        "othersecretary": {("task_overdue", other)},
    }
    assert made["task_due_soon"] == 6 and made["task_overdue"] == 3


def test_remind_twice_a_day_makes_nothing_twice(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    add_task(engine, setup.problem_id, due=2)
    add_task(engine, setup.problem_id, due=-3)
    first = run_remind(engine, settings)
    stored = count_notifications(engine)
    second = run_remind(engine, settings)
    assert sum(first.values()) == stored == 4
    assert sum(second.values()) == 0
    assert count_notifications(engine) == stored
    # a new day may remind again
    with transaction(engine) as s:
        again = remind(session=s, settings=settings, today=TODAY + timedelta(days=1))
    assert again["task_overdue"] == 2


def test_remind_in_two_processes_at_once_makes_nothing_twice(
    database: Any, engine: Engine, settings: Settings, setup: Setup
) -> None:
    for due in (-3, -2, -1, 1, 2, 3):
        add_task(engine, setup.problem_id, due=due)
        add_task(engine, setup.township_problem_id, due=due)
    engines = [make_engine(database.url) for _ in range(2)]
    made: list[int] = []
    barrier = threading.Barrier(2)

    def run(e: Engine) -> None:
        barrier.wait()
        made.append(sum(run_remind(e, settings).values()))

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for e in engines:
        e.dispose()
    assert len(made) == 2  # both runs finished without an error
    assert count_notifications(engine) == sum(made) == 24  # 12 tasks × 2 people each


# ---------------------------------------------------------------- events in requests


def test_secretary_submitting_tells_the_township_staff_only(
    engine: Engine, login: Any, setup: Setup
) -> None:
    task = add_task(engine, setup.problem_id)
    secretary = login("secretary")
    assert move(secretary, task, "start").status_code == 200
    assert move(secretary, task, "submit", note="已召开主题党日").status_code == 200
    assert received(engine) == {"staff": {("task_submitted", task)},
                                "staff2": {("task_submitted", task)}}


def test_staff_submitting_tells_the_county(engine: Engine, login: Any, setup: Setup) -> None:
    task = add_task(engine, setup.township_problem_id)
    staff = login("staff")
    assert move(staff, task, "start").status_code == 200
    assert move(staff, task, "submit", note="已完成").status_code == 200
    assert received(engine) == {"admin": {("task_submitted", task)},
                                "admin2": {("task_submitted", task)}}


def test_rejecting_tells_the_branch_secretaries(engine: Engine, login: Any, setup: Setup) -> None:
    task = add_task(engine, setup.problem_id)
    secretary = login("secretary")
    move(secretary, task, "start")
    move(secretary, task, "submit", note="已完成")
    staff = login("staff")
    assert move(staff, task, "reject", note="缺少会议记录").status_code == 200
    got = received(engine)
    assert got["secretary"] == got["secretary2"] == {("task_rejected", task)}
    assert set(got) == {"secretary", "secretary2", "staff", "staff2"}  # staff: submitted only
    assert got["staff"] == {("task_submitted", task)}
    assert "缺少会议记录" in secretary.get(f"{API}/notifications").json()["items"][0]["message"]


# ---------------------------------------------------------------- 催办

URGE = {
    "admin": 201, "staff": 201, "otherstaff": 404, "secretary": 403, "viewer": 403,
    "countyviewer": 403,
}


@pytest.mark.parametrize(("username", "status"), URGE.items())
def test_urge_by_role(engine: Engine, login: Any, setup: Setup, username: str,
                      status: int) -> None:
    task = add_task(engine, setup.problem_id, status=TaskStatus.in_progress)
    r = login(username).post(f"{API}/tasks/{task}/urge", json={"note": "请本周内上报进展"})
    if status != 201:
        assert_problem(r, status)
        assert received(engine) == {}
        return
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["task_id"] == task and body["note"] == "请本周内上报进展"
    assert received(engine) == {"secretary": {("task_urged", task)},
                                "secretary2": {("task_urged", task)}}
    # the urging is in the task's timeline: who, when, the note
    page = login("secretary").get(f"/tasks/{task}")
    assert "催办:请本周内上报进展" in page.text


def test_urge_by_token_is_refused(client: Any, engine: Engine, setup: Setup) -> None:
    task = add_task(engine, setup.problem_id)
    r = client.post(f"{API}/tasks/{task}/urge", json={"note": "x"},
                    headers=bearer(setup.write_token))
    assert_problem(r, 403)


@pytest.mark.parametrize("status", [TaskStatus.submitted, TaskStatus.verified])
def test_only_open_tasks_can_be_urged(engine: Engine, login: Any, setup: Setup,
                                      status: TaskStatus) -> None:
    task = add_task(engine, setup.problem_id, status=status)
    r = login("staff").post(f"{API}/tasks/{task}/urge", json={"note": "快"})
    body = assert_problem(r, 409)
    assert "不能催办" in body["detail"]


def test_task_page_shows_the_urge_button_to_those_who_may_urge(
    engine: Engine, login: Any, setup: Setup
) -> None:
    task = add_task(engine, setup.problem_id)
    assert 'id="urge-form"' in login("staff").get(f"/tasks/{task}").text
    assert 'id="urge-form"' not in login("secretary").get(f"/tasks/{task}").text


# ---------------------------------------------------------------- reading one's own


def test_notifications_are_read_by_their_user_only(
    engine: Engine, settings: Settings, login: Any, setup: Setup
) -> None:
    task = add_task(engine, setup.problem_id, due=1)
    run_remind(engine, settings)
    secretary, other = login("secretary"), login("secretary2")
    items = secretary.get(f"{API}/notifications?unread=true").json()["items"]
    assert [(n["kind"], n["subject_type"], n["subject_id"], n["url"]) for n in items] == [
        ("task_due_soon", "task", task, f"/tasks/{task}")]
    mine = items[0]["id"]
    assert_problem(other.patch(f"{API}/notifications/{mine}", json={"read": True}), 404)
    assert secretary.get(f"{API}/notifications/count").json() == {"unread": 1}
    r = secretary.patch(f"{API}/notifications/{mine}", json={"read": True})
    assert r.status_code == 200 and r.json()["read_at"]
    assert secretary.get(f"{API}/notifications?unread=true").json()["items"] == []
    assert len(secretary.get(f"{API}/notifications").json()["items"]) == 1
    assert other.get(f"{API}/notifications/count").json() == {"unread": 1}
    assert other.post(f"{API}/notifications/mark-all-read").json() == {"unread": 0}
    assert secretary.get(f"{API}/notifications?unread=false").json()["items"][0]["id"] == mine


def test_bell_on_every_page_and_list_links_to_the_record(
    engine: Engine, settings: Settings, login: Any, setup: Setup
) -> None:
    task = add_task(engine, setup.problem_id, due=-1)
    run_remind(engine, settings)
    secretary = login("secretary")
    assert 'hx-get="/api/v1/notifications/count"' in secretary.get("/my/tasks").text
    bell = secretary.get(f"{API}/notifications/count", headers={"HX-Request": "true"})
    assert ">1<" in bell.text
    page = secretary.get("/notifications")
    assert "已超期" in page.text
    notification_id = secretary.get(f"{API}/notifications").json()["items"][0]["id"]
    assert f"/notifications/{notification_id}/open" in page.text
    r = secretary.get(f"/notifications/{notification_id}/open", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/tasks/{task}"
    assert secretary.get(f"{API}/notifications/count").json() == {"unread": 0}


def test_tokens_have_no_notifications(client: Any, setup: Setup) -> None:
    assert_problem(client.get(f"{API}/notifications", headers=bearer(setup.write_token)), 403)


# ---------------------------------------------------------------- deadline buckets


def test_deadline_buckets_in_the_list_and_the_summary(
    engine: Engine, login: Any, setup: Setup
) -> None:
    tasks = {
        "overdue": [add_task(engine, setup.problem_id, due=-1)],
        "within_10": [add_task(engine, setup.problem_id, due=0),
                      add_task(engine, setup.problem_id, due=10)],
        "within_20": [add_task(engine, setup.problem_id, due=11),
                      add_task(engine, setup.problem_id, due=20)],
        "later": [add_task(engine, setup.problem_id, due=21)],
        "done": [add_task(engine, setup.problem_id, due=-9, status=TaskStatus.submitted,
                          submitted_at=datetime.now(UTC)),
                 add_task(engine, setup.problem_id, due=5, status=TaskStatus.verified)],
    }
    staff = login("staff")
    for bucket, ids in tasks.items():
        items = staff.get(f"{API}/tasks?deadline={bucket}").json()["items"]
        assert sorted(t["id"] for t in items) == sorted(ids), bucket
    assert_problem(staff.get(f"{API}/tasks?deadline=soon"), 422, field="deadline")
    summary = staff.get(f"{API}/reports/summary").json()
    assert summary["tasks"]["by_deadline"] == {k: len(v) for k, v in tasks.items()}
    board = staff.get("/tasks?deadline=within_20")
    assert board.status_code == 200
    dashboard = staff.get("/dashboard").text
    assert "10天内到期" in dashboard and "/tasks?deadline=within_10" in dashboard
