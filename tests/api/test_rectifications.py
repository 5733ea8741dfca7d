"""整顿转化 through the API: every transition by every role, apply blocked by open tasks,
acceptance grading and conversion, revisits and relapse, repeat listing, visits and the
summary and upward table against hand counts."""

import io
from datetime import date, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session

from app.models.branch import Branch, BranchKind
from app.models.task import TaskStatus
from app.models.user import Role
from tests.factories import (
    assert_problem,
    committed,
    make_branch,
    make_campaign,
    make_problem,
    make_task,
    make_township,
    make_user,
)

API = "/api/v1"
FULL = [("leadership", 20), ("organisation_life", 15), ("member_management", 15),
        ("rules_openness", 15), ("collective_economy", 15), ("service_stability", 10),
        ("problem_rectification", 10)]


@pytest.fixture
def campaign(engine: Engine, world: Any) -> Any:
    with committed(engine) as s:
        return make_campaign(s)


def propose(client: Any, campaign: Any, branch_id: int, **extra: Any) -> dict[str, Any]:
    r = client.post(f"{API}/rectifications", json={
        "campaign_id": campaign.id, "branch_id": branch_id, "weak_types": ["soft", "poor"],
        "reason": "班子软弱,集体经济薄弱", **extra})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def move(client: Any, rect: dict[str, Any], action: str, note: str | None = None) -> Any:
    current = client.get(f"{API}/rectifications/{rect['id']}")
    version = current.json()["version"] if current.status_code == 200 else rect["version"]
    return client.post(f"{API}/rectifications/{rect['id']}/transitions",
                       json={"action": action, "note": note, "version": version})


def designated(login: Any, campaign: Any, branch_id: int) -> dict[str, Any]:
    rect = propose(login("staff"), campaign, branch_id)
    r = move(login("admin"), rect, "designate")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def scores(total_off: float = 0) -> list[dict[str, Any]]:
    """The full sheet, `total_off` points taken off the first item."""
    out = [{"code": c, "score": str(p)} for c, p in FULL]
    out[0]["score"] = str(20 - total_off)
    return out


def accept(client: Any, rect_id: int, *, off: float = 0, overall: tuple[int, int, int] = (10, 0, 0),
           held_on: str = "2026-10-31") -> Any:
    return client.post(f"{API}/acceptances", json={
        "rectification_id": rect_id, "held_on": held_on, "item_scores": scores(off),
        "ratings": [{"dimension": "overall", "satisfied": overall[0], "basic": overall[1],
                     "dissatisfied": overall[2]}]})


def applied(login: Any, campaign: Any, world: Any) -> dict[str, Any]:
    """A rectification designated a year ago (the county corrects the date), applied."""
    rect = designated(login, campaign, world.branch.id)
    r = login("admin").patch(f"{API}/rectifications/{rect['id']}", json={
        "designated_on": (date.today() - timedelta(days=365)).isoformat(),
        "version": rect["version"]})
    assert r.status_code == 200, r.text
    r = move(login("staff"), r.json(), "apply")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


# ---------------------------------------------------------------- transitions × roles

WHO = ["admin", "staff", "otherstaff", "secretary", "viewer"]
# expected status per action and caller, from the state each action leaves from
EXPECTED = {
    "designate": {"admin": 200, "staff": 403, "otherstaff": 404, "secretary": 403, "viewer": 403},
    "withdraw": {"admin": 200, "staff": 403, "otherstaff": 404, "secretary": 403, "viewer": 403},
    "approve_plan": {"admin": 200, "staff": 403, "otherstaff": 404, "secretary": 403,
                     "viewer": 403},
    "apply": {"admin": 200, "staff": 200, "otherstaff": 404, "secretary": 403, "viewer": 403},
}


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("action", list(EXPECTED))
def test_every_transition_by_every_role(login: Any, world: Any, campaign: Any, action: str,
                                        who: str) -> None:
    staff = login("staff")
    if action in ("designate", "withdraw"):
        rect = propose(staff, campaign, world.branch.id)
    else:
        rect = designated(login, campaign, world.branch.id)
        if action == "approve_plan":
            r = staff.patch(f"{API}/rectifications/{rect['id']}",
                            json={"plan": "一村一策:配强班子", "version": rect["version"]})
            assert r.status_code == 200, r.text
    r = move(login(who), rect, action, note="不符合认定条件" if action == "withdraw" else None)
    assert r.status_code == EXPECTED[action][who], r.text
    if r.status_code == 200:
        body = r.json()
        assert body["status"] == {"designate": "designated", "withdraw": "withdrawn",
                                  "approve_plan": "designated", "apply": "applied"}[action]
        if action == "approve_plan":
            assert body["plan_approved_on"] and body["plan_approved_by"]


def test_a_proposal_links_the_branch_screening(login: Any, world: Any, campaign: Any,
                                               engine: Engine) -> None:
    from tests.factories import make_screening

    with committed(engine) as s:
        screening = make_screening(s, campaign, world.branch)
    rect = propose(login("staff"), campaign, world.branch.id)
    assert rect["screening_id"] == screening.id
    page = login("staff").get(f"/rectifications/{rect['id']}").text
    assert f"/screenings/{screening.id}" in page


def test_proposing_is_for_the_township_and_the_county(login: Any, world: Any,
                                                      campaign: Any) -> None:
    body = {"campaign_id": campaign.id, "branch_id": world.branch.id, "weak_types": ["lax"],
            "reason": "组织生活不正常"}
    assert_problem(login("otherstaff").post(f"{API}/rectifications", json=body), 403)
    assert_problem(login("secretary").post(f"{API}/rectifications", json=body), 403)
    assert_problem(login("viewer").post(f"{API}/rectifications", json=body), 403)
    assert login("staff").post(f"{API}/rectifications", json=body).status_code == 201
    again = login("admin").post(f"{API}/rectifications", json=body)
    assert "已有整顿转化记录" in assert_problem(again, 409)["detail"]


def test_the_proposal_form_offers_only_branches_not_yet_proposed(
    engine: Engine, login: Any, world: Any, campaign: Any
) -> None:
    with committed(engine) as s:
        second = make_branch(s, world.township, name="甲二村党支部")
    option = '<option value="{}">'
    staff = login("staff")

    def choices() -> str:  # the propose form's branch select
        page = staff.get("/rectifications").text
        return page.split('id="branch_id"', 1)[1].split("</select>", 1)[0]

    assert option.format(world.branch.id) in choices()
    propose(staff, campaign, world.branch.id)
    offered = choices()
    assert option.format(world.branch.id) not in offered
    assert option.format(second.id) in offered


def test_proposal_needs_a_type_and_a_reason(login: Any, world: Any, campaign: Any) -> None:
    r = login("staff").post(f"{API}/rectifications", json={
        "campaign_id": campaign.id, "branch_id": world.branch.id, "weak_types": [],
        "reason": ""})
    assert_problem(r, 422, field="weak_types")
    assert_problem(r, 422, field="reason")


def test_a_proposal_with_no_type_ticked_says_to_tick_one(login: Any, world: Any,
                                                         campaign: Any) -> None:
    # the page's form sends no `weak_types` at all when no box is ticked
    r = login("staff").post(f"{API}/rectifications", json={
        "campaign_id": campaign.id, "branch_id": world.branch.id, "reason": "班子软弱"})
    body = assert_problem(r, 422, field="weak_types")
    assert [e["message"] for e in body["errors"]] == ["请至少选择一种类型(软、散、乱、穷)"]


def test_designation_sets_publicity_and_the_weak_flag(login: Any, world: Any, campaign: Any,
                                                      engine: Engine) -> None:
    rect = designated(login, campaign, world.branch.id)
    today = date.today()
    assert rect["designated_on"] == today.isoformat()
    assert rect["publicity_from"] == today.isoformat()
    assert rect["publicity_until"] == (today + timedelta(days=4)).isoformat()
    with Session(engine) as s:
        assert s.get(Branch, world.branch.id).is_weak_lax is True  # type: ignore[union-attr]
    admin = login("admin")
    shorter = admin.patch(f"{API}/rectifications/{rect['id']}", json={
        "publicity_until": (today + timedelta(days=3)).isoformat(), "version": rect["version"]})
    assert_problem(shorter, 422, field="publicity_until")
    longer = admin.patch(f"{API}/rectifications/{rect['id']}", json={
        "publicity_until": (today + timedelta(days=9)).isoformat(), "version": rect["version"]})
    assert longer.status_code == 200, longer.text
    staff_fix = login("staff").patch(f"{API}/rectifications/{rect['id']}", json={
        "designated_on": "2026-01-01", "version": longer.json()["version"]})
    assert_problem(staff_fix, 403)


def test_withdraw_needs_a_reason_and_a_wrong_move_says_why(login: Any, world: Any,
                                                          campaign: Any) -> None:
    rect = propose(login("staff"), campaign, world.branch.id)
    assert_problem(move(login("admin"), rect, "withdraw"), 422, field="note")
    r = move(login("staff"), rect, "apply")
    assert "不能申请验收" in assert_problem(r, 409)["detail"]
    r = move(login("admin"), rect, "withdraw", note="经研判不属于软弱涣散")
    assert r.json()["status"] == "withdrawn"
    events = login("admin").get(
        f"{API}/audit-events?entity_type=rectification&entity_id={rect['id']}").json()["items"]
    assert "经研判不属于软弱涣散" in [e.get("reason") for e in events]


def test_patch_needs_if_match(login: Any, world: Any, campaign: Any) -> None:
    rect = propose(login("staff"), campaign, world.branch.id)
    r = login("staff").patch(f"{API}/rectifications/{rect['id']}", json={"plan": "方案"})
    assert_problem(r, 428)
    r = login("staff").patch(f"{API}/rectifications/{rect['id']}", json={"plan": "方案"},
                             headers={"If-Match": '"99"'})
    assert_problem(r, 412)


def test_a_replayed_proposal_is_stored_once(login: Any, world: Any, campaign: Any) -> None:
    staff = login("staff")
    body = {"campaign_id": campaign.id, "branch_id": world.branch.id, "weak_types": ["soft"],
            "reason": "班子软弱"}
    first = staff.post(f"{API}/rectifications", json=body, headers={"Idempotency-Key": "k-1"})
    again = staff.post(f"{API}/rectifications", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["id"] == again.json()["id"]


def test_liaisons_are_replaced_by_a_patch(login: Any, world: Any, campaign: Any) -> None:
    rect = designated(login, campaign, world.branch.id)
    staff = login("staff")
    r = staff.patch(f"{API}/rectifications/{rect['id']}", json={"version": rect["version"],
        "liaisons": [{"role": "county_leader", "name": "赵县长", "post": "副县长"},
                     {"role": "first_secretary", "name": "王五", "post": "县财政局干部"}]})
    assert r.status_code == 200, r.text
    assert [x["role"] for x in r.json()["liaisons"]] == ["county_leader", "first_secretary"]
    r = staff.patch(f"{API}/rectifications/{rect['id']}", json={
        "version": r.json()["version"],
        "liaisons": [{"role": "helper_unit", "name": "县交通局"}]})
    assert r.json()["liaisons"] == [{"role": "helper_unit", "name": "县交通局", "post": None}]
    twice = staff.patch(f"{API}/rectifications/{rect['id']}", json={
        "version": r.json()["version"], "liaisons": [{"role": "helper_unit", "name": "甲"},
                                                     {"role": "helper_unit", "name": "乙"}]})
    assert_problem(twice, 422, field="liaisons")


# ---------------------------------------------------------------- apply blocked by open tasks


def test_apply_is_refused_while_a_task_of_the_branch_is_open(login: Any, world: Any,
                                                            campaign: Any,
                                                            engine: Engine) -> None:
    with committed(engine) as s:
        problem = make_problem(s, campaign, world.township, branch=world.branch)
        open_task = make_task(s, problem, title="配齐村“两委”班子")
        make_task(s, problem, title="已完成的任务", status=TaskStatus.verified)
        other_campaign = make_campaign(s)
        other = make_problem(s, other_campaign, world.township, branch=world.branch)
        make_task(s, other, title="别的专项整治的任务")
    rect = designated(login, campaign, world.branch.id)
    r = move(login("staff"), rect, "apply")
    detail = assert_problem(r, 409)["detail"]
    assert "配齐村“两委”班子" in detail and "1项" in detail
    assert "已完成的任务" not in detail and "别的专项整治" not in detail
    with committed(engine) as s:
        from app.models.task import Task

        task = s.get(Task, open_task.id)
        task.status = TaskStatus.verified
    assert move(login("staff"), rect, "apply").status_code == 200


# ---------------------------------------------------------------- acceptance


def test_a_passing_acceptance_converts_and_schedules_revisits(login: Any, world: Any,
                                                             campaign: Any,
                                                             engine: Engine) -> None:
    rect = applied(login, campaign, world)
    assert_problem(accept(login("staff"), rect["id"]), 403)
    r = accept(login("admin"), rect["id"], off=15.5)  # 84.5
    assert r.status_code == 201, r.text
    assert r.json()["grade"] == "basic" and float(r.json()["total"]) == 84.5
    after = login("admin").get(f"{API}/rectifications/{rect['id']}").json()
    assert after["status"] == "converted" and after["converted_on"] == "2026-10-31"
    revisits = login("staff").get(f"{API}/revisits?rectification_id={rect['id']}").json()
    assert [(v["months"], v["due_on"]) for v in revisits["items"]] == [
        (6, "2027-04-30"), (12, "2027-10-31")]
    with Session(engine) as s:
        assert s.get(Branch, world.branch.id).is_weak_lax is False  # type: ignore[union-attr]


def test_a_failing_acceptance_returns_to_designated_with_the_reason(login: Any, world: Any,
                                                                   campaign: Any) -> None:
    rect = applied(login, campaign, world)
    r = accept(login("admin"), rect["id"], off=0, overall=(3, 1, 5))  # 100 points, vetoed
    assert r.json()["grade"] == "fail"
    assert r.json()["dissatisfied_share"] == pytest.approx(0.556)
    after = login("admin").get(f"{API}/rectifications/{rect['id']}").json()
    assert after["status"] == "designated"
    assert "一票否决" in after["status_note"]
    r = move(login("staff"), after, "apply")
    assert r.status_code == 200
    r = accept(login("admin"), rect["id"], off=0.5)  # 99.5, nobody dissatisfied
    assert r.json()["grade"] == "pass"


def test_the_score_sheet_is_checked_item_by_item(login: Any, world: Any, campaign: Any) -> None:
    rect = applied(login, campaign, world)
    admin = login("admin")
    missing = scores()[1:]
    r = admin.post(f"{API}/acceptances", json={"rectification_id": rect["id"],
                                               "held_on": "2026-10-31", "item_scores": missing})
    assert "班子建设" in assert_problem(r, 422, field="item_scores")["detail"]
    over = scores()
    over[0]["score"] = "21"
    r = admin.post(f"{API}/acceptances", json={"rectification_id": rect["id"],
                                               "held_on": "2026-10-31", "item_scores": over})
    assert "最多20分" in assert_problem(r, 422, field="item_scores")["detail"]
    r = admin.post(f"{API}/acceptances", json={
        "rectification_id": rect["id"], "item_scores": scores(),
        "held_on": (date.today() + timedelta(days=1)).isoformat()})
    assert_problem(r, 422, field="held_on")
    items = admin.get(f"{API}/acceptance-items?campaign_id={campaign.id}").json()
    assert sum(float(i["max_points"]) for i in items) == 100


# ---------------------------------------------------------------- revisits, relapse, repeat


def test_a_relapse_returns_the_branch_to_designated_and_counts(login: Any, world: Any,
                                                              campaign: Any,
                                                              engine: Engine) -> None:
    rect = applied(login, campaign, world)
    accept(login("admin"), rect["id"], held_on=(date.today() - timedelta(days=200)).isoformat())
    revisits = login("staff").get(f"{API}/revisits?rectification_id={rect['id']}").json()
    first = revisits["items"][0]
    assert first["due"] is True
    board = login("staff").get("/rectifications").text
    assert "到期待回头看" in board and "转化后6个月" in board
    assert_problem(login("staff").patch(f"{API}/revisits/{first['id']}", json={
        "result": "relapsed", "version": first["version"]}), 422, field="done_on")
    r = login("staff").patch(f"{API}/revisits/{first['id']}", json={
        "result": "relapsed", "done_on": date.today().isoformat(), "note": "班子又闹矛盾",
        "version": first["version"]})
    assert r.status_code == 200, r.text
    after = login("staff").get(f"{API}/rectifications/{rect['id']}").json()
    assert after["status"] == "designated" and after["relapse_count"] == 1
    left = login("staff").get(f"{API}/revisits?rectification_id={rect['id']}").json()["items"]
    assert [v["id"] for v in left] == [first["id"]]  # the 12-month revisit is dropped
    with Session(engine) as s:
        assert s.get(Branch, world.branch.id).is_weak_lax is True  # type: ignore[union-attr]
    summary = login("admin").get(f"{API}/reports/summary?campaign_id={campaign.id}").json()
    assert summary["rectifications"]["relapsed"] == 1


def test_a_branch_designated_in_two_campaigns_is_a_repeat_listing(login: Any, world: Any,
                                                                 campaign: Any,
                                                                 engine: Engine) -> None:
    with committed(engine) as s:
        later = make_campaign(s, starts_on=date(2026, 1, 1))
    designated(login, campaign, world.branch.id)
    second = designated(login, later, world.branch.id)
    assert second["repeat_listed"] is True
    summary = login("admin").get(f"{API}/reports/summary?campaign_id={later.id}").json()
    assert summary["rectifications"]["repeat_listed"] == 1
    assert "repeat_listed" in [w["code"] for w in summary["warnings"]]


# ---------------------------------------------------------------- visits


def test_visits_by_staff_and_by_the_secretary_as_first_secretary(login: Any, world: Any,
                                                                campaign: Any) -> None:
    rect = designated(login, campaign, world.branch.id)
    visit = {"role": "first_secretary", "visitor_name": "王五",
             "visited_on": date.today().isoformat(), "summary": "走访党员3户"}
    r = login("secretary").post(f"{API}/rectifications/{rect['id']}/visits", json=visit)
    assert r.status_code == 201, r.text
    r = login("secretary").post(f"{API}/rectifications/{rect['id']}/visits",
                                json={**visit, "role": "county_leader"})
    assert_problem(r, 422, field="role")
    r = login("otherstaff").post(f"{API}/rectifications/{rect['id']}/visits", json=visit)
    assert_problem(r, 404)
    r = login("staff").post(f"{API}/rectifications/{rect['id']}/visits", json={
        **visit, "visited_on": (date.today() + timedelta(days=1)).isoformat()})
    assert_problem(r, 422, field="visited_on")
    listed = login("viewer").get(f"{API}/rectifications/{rect['id']}/visits").json()
    assert [v["visitor_name"] for v in listed] == ["王五"]


def test_a_missed_rhythm_is_visit_overdue_and_warned(login: Any, world: Any, campaign: Any,
                                                     engine: Engine) -> None:
    rect = designated(login, campaign, world.branch.id)
    admin = login("admin")
    r = admin.patch(f"{API}/rectifications/{rect['id']}", json={
        "designated_on": (date.today() - timedelta(days=40)).isoformat(),
        "liaisons": [{"role": "first_secretary", "name": "王五"}], "version": rect["version"]})
    assert r.status_code == 200, r.text
    assert r.json()["visit_overdue"] is True
    listed = admin.get(f"{API}/rectifications?status=designated").json()["items"]
    assert listed[0]["visit_overdue"] is True
    warnings = admin.get(f"{API}/early-warnings?campaign_id={campaign.id}").json()
    rows = warnings["items"] if isinstance(warnings, dict) else warnings
    codes = [c["code"] for w in rows if w["branch_id"] == world.branch.id for c in w["reasons"]]
    assert "visit_overdue" in codes
    summary = admin.get(f"{API}/reports/summary?campaign_id={campaign.id}").json()
    assert {"liaisons_overdue", "rectification_plan_not_approved"} <= {
        w["code"] for w in summary["warnings"]}
    login("staff").post(f"{API}/rectifications/{rect['id']}/visits", json={
        "role": "first_secretary", "visitor_name": "王五", "visited_on": date.today().isoformat()})
    assert admin.get(f"{API}/rectifications/{rect['id']}").json()["visit_overdue"] is False


def test_secretaries_read_their_branch_only(login: Any, world: Any, campaign: Any,
                                            engine: Engine) -> None:
    mine = propose(login("staff"), campaign, world.branch.id)
    other = propose(login("otherstaff"), campaign, world.other_branch.id)
    secretary = login("secretary")
    assert secretary.get(f"{API}/rectifications/{mine['id']}").status_code == 200
    assert_problem(secretary.get(f"{API}/rectifications/{other['id']}"), 404)
    assert [r["id"] for r in secretary.get(f"{API}/rectifications").json()["items"]] == [
        mine["id"]]


def test_changes_audit_and_exports_carry_rectifications(login: Any, world: Any,
                                                        campaign: Any) -> None:
    rect = applied(login, campaign, world)
    accept(login("admin"), rect["id"])
    admin = login("admin")
    types = {c["type"] for c in admin.get(f"{API}/changes?limit=500").json()["changes"]}
    assert {"rectification", "acceptance", "revisit"} <= types
    audit = admin.get(f"{API}/audit-events?entity_type=rectification&entity_id={rect['id']}")
    assert len(audit.json()["items"]) >= 3
    for table in ("rectifications", "acceptances", "revisits", "liaison-visits"):
        r = admin.get(f"{API}/exports/{table}.csv")
        assert r.status_code == 200, table
    assert str(rect["id"]) in admin.get(f"{API}/exports/rectifications.csv").text


# ---------------------------------------------------------------- figures against hand counts


@pytest.fixture
def county(engine: Engine, world: Any, campaign: Any) -> dict[str, Any]:
    """A second fixture: 丙镇 with 4 village branches and a community; 甲镇 (world) adds its
    one branch. Hand counts are in the test."""
    with committed(engine) as s:
        t3 = make_township(s, name="丙镇")
        ids = [make_branch(s, t3, name=f"丙{i}村党支部").id for i in range(4)]
        ids.append(make_branch(s, t3, name="丙社区党支部", kind=BranchKind.community).id)
        make_branch(s, t3, name="丙镇机关党支部", kind=BranchKind.organ)
        make_user(s, Role.township_staff, township=t3, username="staff3")
    return {"township": t3, "branches": ids}


def test_summary_and_upward_table_match_hand_counts(login: Any, world: Any, campaign: Any,
                                                    county: dict[str, Any],
                                                    engine: Engine) -> None:
    staff3, admin = login("staff3"), login("admin")
    b = county["branches"]
    rects = [propose(staff3, campaign, bid) for bid in b[:4]]  # 4 proposed
    for r in rects[:3]:  # 3 designated
        assert move(admin, r, "designate").status_code == 200
    year_ago = (date.today() - timedelta(days=365)).isoformat()
    r = admin.patch(f"{API}/rectifications/{rects[0]['id']}", json={
        "version": admin.get(f"{API}/rectifications/{rects[0]['id']}").json()["version"],
        "designated_on": year_ago,
        "liaisons": [{"role": "first_secretary", "name": "甲"},
                     {"role": "county_leader", "name": "乙"}]})
    assert r.status_code == 200, r.text
    assert move(staff3, rects[0], "apply").status_code == 200
    held = (date.today() - timedelta(days=200)).isoformat()  # its 6-month revisit is due
    converted = accept(admin, rects[0]["id"], held_on=held)
    assert converted.status_code == 201, converted.text  # 1 converted
    r = staff3.patch(f"{API}/rectifications/{rects[1]['id']}", json={
        "version": admin.get(f"{API}/rectifications/{rects[1]['id']}").json()["version"],
        "target_on": (date.today() - timedelta(days=1)).isoformat()})  # 1 past its target
    assert r.status_code == 200 and r.json()["target_overdue"] is True
    with committed(engine) as s:
        p = make_problem(s, campaign, county["township"],
                         branch=s.get(Branch, b[1]))
        make_task(s, p, status=TaskStatus.verified)
        make_task(s, p, status=TaskStatus.verified)
        make_task(s, p)
    summary = admin.get(f"{API}/reports/summary?campaign_id={campaign.id}"
                        f"&township_id={county['township'].id}").json()["rectifications"]
    # 丙镇: target 5 (4 villages + community), designated 3, converted 1
    assert summary["designated"] == 3
    assert summary["share"] == 0.6
    assert summary["converted"] == 1
    assert summary["conversion_rate"] == 0.333
    assert summary["in_progress"] == 2 and summary["overdue"] == 1
    assert summary["first_secretaries"] == 1 and summary["county_liaisons"] == 1
    assert summary["by_type"] == {"soft": 3, "lax": 0, "chaotic": 0, "poor": 3}
    assert summary["revisits_due"] == 1 and summary["relapsed"] == 0
    assert summary["repeat_listed"] == 0
    r = admin.get(f"{API}/reports/rectification-stats.xlsx?campaign_id={campaign.id}")
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content)).active
    rows = {row[0]: row[1:] for row in sheet.iter_rows(min_row=3, values_only=True)}
    # 党组织数, 排查数, 认定数, 占比, 已转化数, 转化率, 第一书记数, 县级领导包联数, 解决问题数
    assert rows["丙镇"] == (5, 0, 3, 0.6, 1, 0.333, 1, 1, 2)
    assert rows["甲镇"] == (1, 0, 0, 0, 0, 0, 0, 0, 0)
    assert rows["合计"] == (7, 0, 3, 0.429, 1, 0.333, 1, 1, 2)
    assert isinstance(rows["合计"][3], float)
    own = login("staff").get(f"{API}/reports/rectification-stats.xlsx").content
    own_rows = [row[0] for row in load_workbook(io.BytesIO(own)).active.iter_rows(
        min_row=3, values_only=True)]
    assert own_rows == ["甲镇", "合计"]


# ---------------------------------------------------------------- the demo


def test_demo_figures_match_hand_counts_and_every_page_shows(login: Any, engine: Engine) -> None:
    from app.services.demo import DEMO_PASSWORD, load_demo

    with committed(engine) as s:
        load_demo(s)
    with committed(engine) as s:
        load_demo(s)  # idempotent
    admin = login("admin", DEMO_PASSWORD)
    campaign_id = admin.get(f"{API}/reports/summary").json()["scope"]["campaign_id"]
    towns = {t["name"]: t["id"] for t in admin.get(f"{API}/townships").json()["items"]}
    own = admin.get(f"{API}/reports/summary?township_id={towns['十四道沟镇']}").json()
    assert own["rectifications"]["designated"] == 0  # the report's township: none designated
    wj = admin.get(f"{API}/reports/summary?township_id={towns['望江镇']}").json()
    r = wj["rectifications"]
    # 望江镇: 5 villages + 1 community; 柳河 designated, 松岭 applied, 白桦 converted,
    # 红旗 relapsed (designated again), 青石 only proposed
    assert (r["designated"], r["share"], r["converted"], r["conversion_rate"]) == (
        4, 0.667, 1, 0.25)
    assert (r["in_progress"], r["relapsed"], r["first_secretaries"], r["county_liaisons"]) == (
        3, 1, 4, 4)
    assert r["by_type"] == {"soft": 4, "lax": 0, "chaotic": 0, "poor": 4}
    listed = admin.get(f"{API}/rectifications?township_id={towns['望江镇']}").json()["items"]
    assert sorted(x["status"] for x in listed) == [
        "applied", "converted", "designated", "designated", "proposed"]
    book = load_workbook(io.BytesIO(admin.get(
        f"{API}/reports/rectification-stats.xlsx?campaign_id={campaign_id}").content)).active
    rows = {row[0]: row[1:] for row in book.iter_rows(min_row=3, values_only=True)}
    assert rows["望江镇"] == (6, 0, 4, 0.667, 1, 0.25, 4, 4, 3)
    assert rows["十四道沟镇"] == (7, 7, 0, 0, 0, 0, 0, 0, 0)
    assert rows["合计"] == (13, 7, 4, 0.308, 1, 0.25, 4, 4, 3)
    docx = admin.get(f"{API}/reports/summary.html?township_id={towns['望江镇']}").text
    assert "共认定软弱涣散基层党组织4个" in docx and "转化率25%" in docx
    for rect in listed:
        page = admin.get(f"/rectifications/{rect['id']}")
        assert page.status_code == 200 and rect["branch_name"] in page.text
    assert "柳河村党支部" in admin.get("/rectifications").text
    assert "整顿转化状态" in admin.get(f"/dashboard?township_id={towns['望江镇']}").text
    applied_one = next(x for x in listed if x["status"] == "applied")
    sheet = admin.get(f"/rectifications/{applied_one['id']}/acceptance").text
    assert "班子建设" in sheet and "保存验收结果" in sheet
    secretary = login("secretary2", DEMO_PASSWORD)
    mine = secretary.get(f"{API}/rectifications").json()["items"]
    assert [x["branch_name"] for x in mine] == ["柳河村党支部"]
    assert "保存走访记录" in secretary.get(f"/rectifications/{mine[0]['id']}/visit").text


def test_tokens_follow_their_scope(client: Any, login: Any, world: Any, campaign: Any,
                                   engine: Engine) -> None:
    from app.models.user import TokenScope
    from tests.factories import bearer, make_token

    rect = propose(login("staff"), campaign, world.branch.id)
    with committed(engine) as s:
        county_write = make_token(s, scope=TokenScope.write)
        other_read = make_token(s, township=world.other_township)
        read = make_token(s)
    assert_problem(client.get(f"{API}/rectifications/{rect['id']}",
                              headers=bearer(other_read)), 404)
    r = client.post(f"{API}/rectifications/{rect['id']}/transitions",
                    json={"action": "designate", "version": rect["version"]},
                    headers=bearer(read))
    assert_problem(r, 403)
    r = client.post(f"{API}/rectifications/{rect['id']}/transitions",
                    json={"action": "designate", "version": rect["version"]},
                    headers=bearer(county_write))
    assert r.status_code == 200 and r.headers["ETag"] == f'"{r.json()["version"]}"'


def test_htmx_gets_the_page_fragment_with_the_allowed_actions(login: Any, world: Any,
                                                              campaign: Any) -> None:
    rect = propose(login("staff"), campaign, world.branch.id)
    hx = {"HX-Request": "true"}
    staff_html = login("staff").get(f"{API}/rectifications/{rect['id']}", headers=hx).text
    assert 'id="rectification-detail"' in staff_html and 'value="designate"' not in staff_html
    admin = login("admin")
    admin_html = admin.get(f"{API}/rectifications/{rect['id']}", headers=hx).text
    assert 'value="designate"' in admin_html and 'value="withdraw"' in admin_html
    r = admin.post(f"{API}/rectifications/{rect['id']}/transitions", headers=hx,
                   json={"action": "withdraw", "version": rect["version"]})
    assert r.status_code == 422 and 'id="err-note"' in r.text and "不予认定的理由" in r.text
