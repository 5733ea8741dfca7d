"""Every figure of the summary (`GET /reports/summary`) is the number of items the matching
list endpoint answers with the same filters — for the county, a township, and a secretary.

The demo township (the report the service grew from) with a few additions: a cancelled
task (counted apart), an overdue one, and a second township whose records must not leak.
"""

import io
from datetime import date, timedelta
from typing import Any

import pytest
from docx import Document
from sqlalchemy import select

from app.models.branch import Branch
from app.models.problem import Problem
from app.models.task import TaskStatus
from app.models.township import Township
from app.services.demo import load_demo
from tests.factories import committed, make_branch, make_problem, make_task, make_township

API = "/api/v1"
PASSWORD = "demo-pass-2026"


@pytest.fixture
def demo(engine: Any) -> dict[str, int]:
    with committed(engine) as s:
        load_demo(s)
        township = s.scalars(select(Township).order_by(Township.id)).first()
        problem = s.scalars(select(Problem).where(Problem.deleted_at.is_(None))
                            .order_by(Problem.id)).first()
        assert township is not None and problem is not None
        make_task(s, problem, status=TaskStatus.cancelled, status_note="并入其他任务",
                  title="已撤销的措施", due_on=date.today() - timedelta(days=9))
        make_task(s, problem, status=TaskStatus.in_progress,
                  due_on=date.today() - timedelta(days=2))
        other = make_township(s, name="外镇")
        branch = make_branch(s, other, name="外村党支部")
        make_task(s, make_problem(s, problem_campaign(s, problem), other, branch=branch),
                  due_on=date.today() - timedelta(days=1))
        return {"township_id": township.id, "campaign_id": problem.campaign_id}


def problem_campaign(s: Any, problem: Problem) -> Any:
    from app.models.campaign import Campaign

    return s.get(Campaign, problem.campaign_id)


def count(client: Any, path: str, **params: Any) -> int:
    """How many items the list answers, following every page."""
    total, cursor = 0, None
    while True:
        query = {k: v for k, v in params.items() if v is not None}
        r = client.get(f"{API}{path}", params={**query, "limit": 200,
                                               **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, (path, r.text)
        body = r.json()
        total += len(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            return total


def check_agreement(client: Any, campaign_id: int, township_id: int | None) -> dict[str, Any]:
    s = client.get(f"{API}/reports/summary",
                   params={k: v for k, v in (("campaign_id", campaign_id),
                                             ("township_id", township_id)) if v}).json()
    same = {"campaign_id": campaign_id, "township_id": township_id}
    place = {"township_id": township_id}

    assert s["branches"]["total"] == count(client, "/branches", **place)
    for kind, n in s["branches"]["by_kind"].items():
        assert n == count(client, "/branches", kind=kind, **place), kind

    for status, n in s["tasks"]["by_status"].items():
        assert n == count(client, "/tasks", status=status, **same), status
    assert s["tasks"]["overdue"] == count(client, "/tasks", overdue="true", **same)
    # the total of the work leaves the cancelled ones out
    assert s["tasks"]["total"] == (count(client, "/tasks", **same)
                                   - count(client, "/tasks", status="cancelled", **same))

    assert s["problems"]["total"] == count(client, "/problems", **same)
    for category, n in s["problems"]["by_category"].items():
        assert n == count(client, "/problems", category=category, **same), category

    weak = count(client, "/screenings", conclusion="weak_lax", **same)
    sound = count(client, "/screenings", conclusion="sound", **same)
    assert s["screenings"]["weak_lax"] == weak
    assert s["screenings"]["done"] == weak + sound

    assert s["feedback"]["returned"] == count(client, "/feedback-forms", **same)
    assert s["feedback"]["opinions"] == count(client, "/opinions", **same)
    for theme, n in s["feedback"]["by_theme"].items():
        assert n == count(client, "/opinions", theme=theme, **same), theme
    assert s["feedback"]["suggestions"] == count(client, "/suggestions", **same)
    return s


def test_the_township_summary_agrees_with_the_lists(demo: dict[str, int], login: Any) -> None:
    s = check_agreement(login("staff", PASSWORD), demo["campaign_id"], demo["township_id"])
    assert s["tasks"]["by_status"]["cancelled"] == 1
    assert s["tasks"]["overdue"] >= 1
    assert s["feedback"]["suggestions"] == 7  # the report's figure, still


def test_a_cancelled_task_is_no_next_step_in_the_report(demo: dict[str, int],
                                                        login: Any) -> None:
    r = login("staff", PASSWORD).get(f"{API}/reports/summary.docx")
    assert r.status_code == 200
    text = "\n".join(p.text for p in Document(io.BytesIO(r.content)).paragraphs)
    assert "四、下一步工作打算" in text and "已撤销的措施" not in text


def test_the_county_summary_agrees_with_the_lists(demo: dict[str, int], login: Any) -> None:
    s = check_agreement(login("admin", PASSWORD), demo["campaign_id"], None)
    town = login("admin", PASSWORD).get(f"{API}/reports/summary", params=demo).json()
    assert s["tasks"]["overdue"] == town["tasks"]["overdue"] + 1  # 外镇's overdue task


def test_a_secretarys_summary_agrees_with_her_lists(demo: dict[str, int], login: Any) -> None:
    s = check_agreement(login("secretary", PASSWORD), demo["campaign_id"], None)
    assert s["branches"]["total"] == 1


def test_a_secretary_sees_her_branchs_board_and_report(demo: dict[str, int], engine: Any,
                                                       login: Any) -> None:
    from app.models.user import User

    with committed(engine) as s:
        user = s.scalars(select(User).where(User.username == "secretary")).one()
        branch = s.get(Branch, user.branch_id)
        assert branch is not None
        name = branch.name
    secretary = login("secretary", PASSWORD)
    html = secretary.get("/dashboard").text
    assert f"<h1>{name}工作看板</h1>" in html
    r = secretary.get(f"{API}/reports/summary.docx")
    assert r.status_code == 200, r.text
    text = "\n".join(p.text for p in Document(io.BytesIO(r.content)).paragraphs)
    assert "共有1个党支部" not in text and "个党支部" not in text.split("二、")[0]
    assert f"{name}软弱涣散基层党组织专项整治工作汇报" in text
    assert f"{name}现有党员" in text
    # staff still get the township's report
    staff_text = "\n".join(p.text for p in Document(io.BytesIO(login("staff", PASSWORD).get(
        f"{API}/reports/summary.docx").content)).paragraphs)
    assert "共有" in staff_text and "个党支部" in staff_text
