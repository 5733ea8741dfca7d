"""Screenings (排查摸底) through the API: who may record them, one per campaign and branch,
results checked against the campaign's criteria, the weak-and-lax mark, hits turned into
problems, criteria a campaign customises, progress against the due date, feed and audit."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from app.models.base import utcnow
from app.models.branch import BranchKind
from app.models.campaign import CampaignStatus
from app.models.screening import Conclusion
from app.models.user import Role, TokenScope
from tests.factories import (
    assert_problem,
    bearer,
    committed,
    default_criteria,
    make_branch,
    make_campaign,
    make_screening,
    make_token,
    make_township,
    make_user,
)

API = "/api/v1"
TODAY = date.today()
CRITERIA = [(code, label) for code, label, kind in default_criteria() if kind == "criterion"]
CODES = [code for code, _ in CRITERIA]
LABEL = dict(CRITERIA)


def results(hits: dict[str, str | None] | None = None, *, skip: tuple[str, ...] = (),
            codes: list[str] | None = None) -> list[dict[str, Any]]:
    """One result per criterion (`codes`, default: the default set), hits with their notes."""
    hits = hits or {}
    return [{"code": c, "hit": c in hits, "note": hits.get(c)}
            for c in (codes or CODES) if c not in skip]


def body(campaign_id: int, branch_id: int, **overrides: Any) -> dict[str, Any]:
    """A valid body of `POST /screenings`: a sound conclusion, every criterion answered."""
    return {"campaign_id": campaign_id, "branch_id": branch_id, "led_by": "刘镇长",
            "led_by_title": "镇党委副书记", "screened_on": "2025-03-10", "conclusion": "sound",
            "summary": "班子健全,组织生活正常", "results": results(), **overrides}


def if_match(version: int) -> dict[str, str]:
    return {"If-Match": f'"{version}"'}


def weak_lax_of(client: Any, branch_id: int) -> bool:
    r = client.get(f"{API}/branches/{branch_id}")
    assert r.status_code == 200, r.text
    return bool(r.json()["is_weak_lax"])


@dataclass
class Setup:
    world: Any
    campaign_id: int
    other_campaign_id: int


@pytest.fixture
def setup(engine: Engine, world: Any) -> Setup:
    with committed(engine) as s:
        campaign = make_campaign(s, name="2025年整顿软弱涣散基层党组织")
        other = make_campaign(s, name="2025年下半年回头看", starts_on=date(2025, 7, 1),
                              screening_due=date(2025, 8, 31))
        return Setup(world, campaign.id, other.id)


def create(client: Any, setup: Setup, branch_id: int | None = None, **overrides: Any) -> Any:
    return client.post(f"{API}/screenings",
                       json=body(setup.campaign_id, branch_id or setup.world.branch.id,
                                 **overrides))


# --- who may record and read a screening -------------------------------------------------


def test_staff_records_a_screening_of_own_township(setup, login):
    staff = login("staff")
    r = create(staff, setup, conclusion="weak_lax",
               results=results({"rules_ignored": "全年未开展主题党日", "poor_service": None}))
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["campaign_id"] == setup.campaign_id
    assert s["branch_id"] == setup.world.branch.id
    assert s["township_id"] == setup.world.township.id
    assert s["branch_name"] == "甲一村党支部"
    assert (s["led_by"], s["led_by_title"]) == ("刘镇长", "镇党委副书记")
    assert s["screened_on"] == "2025-03-10"
    assert s["conclusion"] == "weak_lax"
    assert s["version"] == 1
    assert s["late"] is False  # screened before the due date 2025-03-31
    assert [r["code"] for r in s["results"]] == CODES
    hit = {r["code"]: r for r in s["results"] if r["hit"]}
    assert set(hit) == {"rules_ignored", "poor_service"}
    assert hit["rules_ignored"]["label"] == LABEL["rules_ignored"]
    assert hit["rules_ignored"]["note"] == "全年未开展主题党日"
    assert hit["rules_ignored"]["retired"] is False
    assert hit["rules_ignored"]["problem_id"] is None
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == f"{API}/screenings/{s['id']}"
    assert staff.get(r.headers["Location"]).json() == s
    assert weak_lax_of(staff, setup.world.branch.id) is True


def test_staff_patches_own_township_screening(setup, login):
    staff = login("staff")
    sid = create(staff, setup, conclusion="pending", results=[]).json()["id"]
    r = staff.patch(f"{API}/screenings/{sid}", headers=if_match(1), json={
        "summary": "补充走访3户", "conclusion": "sound", "results": results()})
    assert r.status_code == 200, r.text
    assert (r.json()["conclusion"], r.json()["summary"], r.json()["version"]) == (
        "sound", "补充走访3户", 2)
    assert r.headers["ETag"] == '"2"'
    # the version may come in the body instead of If-Match
    r = staff.patch(f"{API}/screenings/{sid}", json={"led_by": "赵书记", "version": 2})
    assert r.status_code == 200, r.text
    assert r.json()["led_by"] == "赵书记"


def test_patch_needs_the_current_version(setup, login):
    staff = login("staff")
    sid = create(staff, setup).json()["id"]
    assert_problem(staff.patch(f"{API}/screenings/{sid}", json={"summary": "x"}), 428)
    assert_problem(staff.patch(f"{API}/screenings/{sid}", json={"summary": "x"},
                               headers=if_match(5)), 412)


def test_staff_cannot_screen_a_branch_of_another_township(setup, login):
    staff = login("staff")
    assert_problem(create(staff, setup, setup.world.other_branch.id), 422, field="branch_id")


def test_staff_neither_reads_nor_changes_another_townships_screening(setup, login):
    admin, staff = login("admin"), login("staff")
    r = create(admin, setup, setup.world.other_branch.id, conclusion="weak_lax",
               results=results({"team_disunity": "两委不和"}))
    assert r.status_code == 201, r.text
    url = f"{API}/screenings/{r.json()['id']}"
    assert_problem(staff.get(url), 404)
    assert_problem(staff.patch(url, json={"summary": "改"}, headers=if_match(1)), 404)
    assert_problem(staff.post(f"{url}/problems", json={}), 404)
    assert staff.get(f"{API}/screenings").json()["items"] == []
    assert admin.get(url).json()["summary"] == "班子健全,组织生活正常"


def test_county_admin_screens_any_township(setup, login):
    admin = login("admin")
    for branch in (setup.world.branch, setup.world.other_branch):
        assert create(admin, setup, branch.id).status_code == 201
    listed = admin.get(f"{API}/screenings").json()["items"]
    assert sorted(s["branch_name"] for s in listed) == ["乙一村党支部", "甲一村党支部"]


def test_secretary_reads_own_branch_screening_but_may_not_write(setup, login):
    admin, secretary = login("admin"), login("secretary")
    own = create(admin, setup).json()
    other = create(admin, setup, setup.world.other_branch.id).json()
    assert_problem(create(secretary, setup), 403)
    assert_problem(create(secretary, setup, setup.world.other_branch.id), 422, field="branch_id")
    assert secretary.get(f"{API}/screenings/{own['id']}").status_code == 200
    assert [s["id"] for s in secretary.get(f"{API}/screenings").json()["items"]] == [own["id"]]
    assert_problem(secretary.get(f"{API}/screenings/{other['id']}"), 404)
    assert_problem(secretary.patch(f"{API}/screenings/{own['id']}", json={"summary": "改"},
                                   headers=if_match(1)), 403)
    assert_problem(secretary.post(f"{API}/screenings/{own['id']}/problems", json={}), 403)


def test_viewer_reads_within_scope_and_writes_nothing(setup, login):
    admin = login("admin")
    own = create(admin, setup).json()
    other = create(admin, setup, setup.world.other_branch.id).json()
    viewer, county_viewer = login("viewer"), login("countyviewer")
    assert_problem(create(viewer, setup), 403)
    assert_problem(viewer.patch(f"{API}/screenings/{own['id']}", json={"summary": "改"},
                                headers=if_match(1)), 403)
    assert viewer.get(f"{API}/screenings/{own['id']}").status_code == 200
    assert_problem(viewer.get(f"{API}/screenings/{other['id']}"), 404)
    assert [s["id"] for s in viewer.get(f"{API}/screenings").json()["items"]] == [own["id"]]
    assert len(county_viewer.get(f"{API}/screenings").json()["items"]) == 2


def test_tokens_read_within_their_township_and_write_only_with_write_scope(setup, engine,
                                                                           login, client):
    with committed(engine) as s:
        township_read = make_token(s, scope=TokenScope.read, township=setup.world.township)
        county_write = make_token(s, scope=TokenScope.write)
    admin = login("admin")
    create(admin, setup)
    create(admin, setup, setup.world.other_branch.id)
    items = client.get(f"{API}/screenings", headers=bearer(township_read)).json()["items"]
    assert [s["branch_name"] for s in items] == ["甲一村党支部"]
    r = client.post(f"{API}/screenings", headers=bearer(township_read),
                    json=body(setup.other_campaign_id, setup.world.branch.id))
    assert_problem(r, 403)
    r = client.post(f"{API}/screenings", headers=bearer(county_write),
                    json=body(setup.other_campaign_id, setup.world.branch.id))
    assert r.status_code == 201, r.text


def test_list_filters(setup, login):
    admin = login("admin")
    create(admin, setup, conclusion="weak_lax", results=results({"rules_ignored": None}))
    create(admin, setup, setup.world.other_branch.id)
    r = admin.post(f"{API}/screenings", json=body(setup.other_campaign_id, setup.world.branch.id))
    assert r.status_code == 201, r.text

    def branches(**params: Any) -> list[tuple[str, int]]:
        items = admin.get(f"{API}/screenings", params=params).json()["items"]
        return [(s["branch_name"], s["campaign_id"]) for s in items]

    assert branches(campaign_id=setup.other_campaign_id) == [
        ("甲一村党支部", setup.other_campaign_id)]
    assert branches(township_id=setup.world.other_township.id) == [
        ("乙一村党支部", setup.campaign_id)]
    assert branches(conclusion="weak_lax") == [("甲一村党支部", setup.campaign_id)]
    assert len(branches(branch_id=setup.world.branch.id)) == 2
    assert_problem(admin.get(f"{API}/screenings", params={"conclusion": "bad"}), 422)


# --- one per campaign and branch, and what the results must hold ------------------------


def test_one_screening_per_campaign_and_branch(setup, login):
    staff = login("staff")
    assert create(staff, setup).status_code == 201
    body_ = assert_problem(create(staff, setup, conclusion="pending", results=[]), 409)
    assert "已有" in body_["detail"]
    # the same branch in another campaign is another screening
    r = staff.post(f"{API}/screenings", json=body(setup.other_campaign_id, setup.world.branch.id))
    assert r.status_code == 201, r.text


def test_unknown_campaign_or_branch_is_a_field_error(setup, login):
    staff = login("staff")
    assert_problem(staff.post(f"{API}/screenings", json=body(9999, setup.world.branch.id)),
                   422, field="campaign_id")
    assert_problem(create(staff, setup, 9999), 422, field="branch_id")


def test_unknown_criterion_code_is_refused(setup, login):
    staff = login("staff")
    r = create(staff, setup, conclusion="pending",
               results=[{"code": "no_such_thing", "hit": True, "note": None}])
    body_ = assert_problem(r, 422, field="results")
    assert "no_such_thing" in body_["errors"][0]["message"]
    # a problem category is not a criterion to screen against
    r = create(staff, setup, conclusion="pending",
               results=[{"code": "aging_members", "hit": True, "note": None}])
    assert_problem(r, 422, field="results")


def test_a_criterion_answered_twice_is_refused(setup, login):
    staff = login("staff")
    r = create(staff, setup, results=[*results(), {"code": "rules_ignored", "hit": False}])
    body_ = assert_problem(r, 422, field="results")
    assert LABEL["rules_ignored"] in body_["errors"][0]["message"]


@pytest.mark.parametrize("conclusion", ["weak_lax", "sound"])
def test_a_conclusion_needs_every_active_criterion(setup, login, conclusion):
    staff = login("staff")
    r = create(staff, setup, conclusion=conclusion,
               results=results({"rules_ignored": None}, skip=("clan_interference",)))
    body_ = assert_problem(r, 422, field="results")
    assert LABEL["clan_interference"] in body_["errors"][0]["message"]


def test_sound_with_a_hit_needs_the_judgement_in_the_summary(setup, login):
    staff = login("staff")
    hits = results({"weak_collective_economy": "集体收入依靠租赁"})
    r = create(staff, setup, conclusion="sound", results=hits, summary="  ")
    body_ = assert_problem(r, 422, field="summary")
    assert "研判意见" in body_["errors"][0]["message"]
    r = create(staff, setup, conclusion="sound", results=hits,
               summary="收入来源单一但班子健全,经研判不列为软弱涣散")
    assert r.status_code == 201, r.text
    assert r.json()["conclusion"] == "sound"
    assert not weak_lax_of(staff, setup.world.branch.id)
    # the judgement cannot be blanked later while the noted criterion stands
    assert_problem(staff.patch(f"{API}/screenings/{r.json()['id']}", json={"summary": ""},
                               headers=if_match(1)), 422, field="summary")
    report = staff.get(f"{API}/reports/summary",
                       params={"campaign_id": setup.campaign_id}).json()
    flagged = [w for w in report["warnings"] if w["code"] == "sound_with_hits"]
    assert len(flagged) == 1 and "甲一村党支部" in flagged[0]["message"]
    assert LABEL["weak_collective_economy"] in flagged[0]["message"]


def test_every_noted_criterion_is_named_in_the_order_of_the_results(setup, login):
    staff = login("staff")
    first, last = CODES[0], CODES[-1]
    r = create(staff, setup, conclusion="sound", results=results({last: "b", first: "a"}),
               summary="经研判不列为软弱涣散")
    assert r.status_code == 201, r.text
    report = staff.get(f"{API}/reports/summary",
                       params={"campaign_id": setup.campaign_id}).json()
    flagged = [w for w in report["warnings"] if w["code"] == "sound_with_hits"]
    assert len(flagged) == 1
    assert f"“{LABEL[first]}、{LABEL[last]}”" in flagged[0]["message"]


def test_a_sound_screening_without_hits_is_not_warned(setup, login):
    staff = login("staff")
    assert create(staff, setup).status_code == 201
    report = staff.get(f"{API}/reports/summary",
                       params={"campaign_id": setup.campaign_id}).json()
    assert not [w for w in report["warnings"] if w["code"] == "sound_with_hits"]


def test_a_client_cannot_link_a_result_to_a_problem_on_create(setup, login):
    staff = login("staff")
    sent = results({"rules_ignored": "x"})
    sent[0]["problem_id"] = 999
    for r in sent:
        r["problem_id"] = 999
    r = create(staff, setup, conclusion="weak_lax", results=sent)
    assert r.status_code == 201, r.text
    assert all(x["problem_id"] is None for x in r.json()["results"])


DELETE_BY = {"staff": 204, "admin": 204, "otherstaff": 404, "secretary": 403, "viewer": 403}


@pytest.mark.parametrize(("who", "expected"), list(DELETE_BY.items()))
def test_deleting_a_screening_per_role(setup, login, who, expected):
    staff = login("staff")
    made = create(staff, setup, conclusion="weak_lax", results=results({"rules_ignored": "x"}))
    sid = made.json()["id"]
    assert weak_lax_of(staff, setup.world.branch.id)
    r = login(who).request("DELETE", f"{API}/screenings/{sid}", headers=if_match(1),
                           params={"reason": "录入了错误的党支部"})
    if expected == 204:
        assert r.status_code == 204, r.text
        assert staff.get(f"{API}/screenings/{sid}").status_code == 404
        assert not weak_lax_of(staff, setup.world.branch.id)  # the mark it gave is gone
        events = login("admin").get(f"{API}/audit-events",
                                    params={"entity_type": "screening", "entity_id": sid})
        assert events.status_code == 200, events.text
        items = events.json()["items"]
        assert any(e["reason"] == "录入了错误的党支部" for e in items)
    else:
        assert_problem(r, expected)
        assert staff.get(f"{API}/screenings/{sid}").status_code == 200


def test_deleting_a_screening_needs_a_reason_and_the_version(setup, login):
    staff = login("staff")
    sid = create(staff, setup).json()["id"]
    assert_problem(staff.request("DELETE", f"{API}/screenings/{sid}", headers=if_match(1)),
                   422, field="reason")
    assert_problem(staff.request("DELETE", f"{API}/screenings/{sid}",
                                 params={"reason": "重复"}), 428)
    assert_problem(staff.request("DELETE", f"{API}/screenings/{sid}", headers=if_match(7),
                                 params={"reason": "重复"}), 412)
    r = staff.request("DELETE", f"{API}/screenings/{sid}", json={"reason": "重复录入"},
                      headers=if_match(1))
    assert r.status_code == 204, r.text


def test_the_new_screening_form_preselects_no_conclusion(setup, login):
    html = login("staff").get(f"/screenings/new?branch_id={setup.world.branch.id}").text
    assert '<option value="pending" selected>' in html
    assert '<option value="weak_lax" selected>' not in html


def test_weak_lax_without_a_hit_is_refused(setup, login):
    staff = login("staff")
    assert_problem(create(staff, setup, conclusion="weak_lax"), 422, field="conclusion")


def test_pending_allows_partial_results(setup, login):
    staff = login("staff")
    r = create(staff, setup, conclusion="pending",
               results=[{"code": "poor_service", "hit": True, "note": "群众反映办事难"}])
    assert r.status_code == 201, r.text
    assert [(x["code"], x["hit"]) for x in r.json()["results"]] == [("poor_service", True)]
    r = staff.post(f"{API}/screenings", json=body(setup.other_campaign_id, setup.world.branch.id,
                                                  conclusion="pending", results=[]))
    assert r.status_code == 201, r.text


def test_concluding_a_partial_screening_by_patch_is_checked(setup, login):
    staff = login("staff")
    sid = create(staff, setup, conclusion="pending",
                 results=[{"code": "poor_service", "hit": True}]).json()["id"]
    url = f"{API}/screenings/{sid}"
    assert_problem(staff.patch(url, json={"conclusion": "weak_lax"}, headers=if_match(1)),
                   422, field="results")
    assert staff.get(url).json()["conclusion"] == "pending"  # nothing half-written
    r = staff.patch(url, headers=if_match(1), json={
        "conclusion": "weak_lax", "results": results({"poor_service": "群众反映办事难"})})
    assert r.status_code == 200, r.text
    # sound with a noted criterion needs the judgement (研判意见) in the summary
    assert_problem(staff.patch(url, json={"conclusion": "sound", "summary": None},
                               headers=if_match(2)), 422, field="summary")


@pytest.mark.parametrize(("field", "value"), [
    ("led_by", "   "), ("led_by", ""), ("screened_on", "2025-02-30"), ("conclusion", "bad"),
    ("summary", "长" * 2001),
])
def test_bad_fields_are_named(setup, login, field, value):
    staff = login("staff")
    assert_problem(create(staff, setup, **{field: value}), 422, field=field)


def test_a_note_too_long_is_refused(setup, login):
    staff = login("staff")
    r = create(staff, setup, conclusion="pending",
               results=[{"code": "poor_service", "hit": True, "note": "长" * 501}])
    assert_problem(r, 422)


# --- the weak-and-lax mark on the branch ------------------------------------------------


def test_weak_lax_marks_the_branch_and_sound_clears_it(setup, login):
    staff = login("staff")
    branch_id = setup.world.branch.id
    assert weak_lax_of(staff, branch_id) is False
    r = create(staff, setup, conclusion="weak_lax", results=results({"rules_ignored": None}))
    assert weak_lax_of(staff, branch_id) is True
    r = staff.patch(f"{API}/screenings/{r.json()['id']}", headers=if_match(1),
                    json={"conclusion": "sound", "results": results()})
    assert r.status_code == 200, r.text
    assert weak_lax_of(staff, branch_id) is False


def test_the_mark_stays_while_another_active_campaign_concludes_weak_lax(setup, login):
    staff = login("staff")
    branch_id = setup.world.branch.id
    create(staff, setup, conclusion="weak_lax", results=results({"rules_ignored": None}))
    r = staff.post(f"{API}/screenings", json=body(
        setup.other_campaign_id, branch_id, conclusion="weak_lax",
        results=results({"poor_service": None})))
    assert r.status_code == 201, r.text
    r = staff.patch(f"{API}/screenings/{r.json()['id']}", headers=if_match(1),
                    json={"conclusion": "sound", "results": results()})
    assert r.status_code == 200, r.text
    assert weak_lax_of(staff, branch_id) is True


def test_a_closed_campaigns_conclusion_does_not_keep_the_mark(setup, engine, login):
    with committed(engine) as s:
        closed = make_campaign(s, name="2023年专项整治", starts_on=date(2023, 1, 1),
                               screening_due=date(2023, 3, 31), ends_on=date(2023, 12, 31),
                               status=CampaignStatus.closed)
        make_screening(s, closed, setup.world.branch, hits={"rules_ignored": None})
    staff = login("staff")
    r = create(staff, setup, conclusion="weak_lax", results=results({"rules_ignored": None}))
    r = staff.patch(f"{API}/screenings/{r.json()['id']}", headers=if_match(1),
                    json={"conclusion": "sound", "results": results()})
    assert r.status_code == 200, r.text
    assert weak_lax_of(staff, setup.world.branch.id) is False


def test_a_pending_screening_keeps_a_designation_made_on_the_register(setup, login):
    staff = login("staff")
    branch_id = setup.world.branch.id
    r = staff.patch(f"{API}/branches/{branch_id}", json={"is_weak_lax": True},
                    headers=if_match(1))
    assert r.status_code == 200, r.text
    r = create(staff, setup, conclusion="pending",
               results=[{"code": "rules_ignored", "hit": True, "note": "待核实"}])
    assert r.status_code == 201, r.text
    assert weak_lax_of(staff, branch_id) is True
    r = staff.patch(f"{API}/screenings/{r.json()['id']}", json={"summary": "继续走访"},
                    headers=if_match(1))
    assert r.status_code == 200, r.text
    assert weak_lax_of(staff, branch_id) is True


# --- hits become problems of the ledger --------------------------------------------------


def test_hits_become_problems_in_one_action(setup, login):
    staff = login("staff")
    s = create(staff, setup, conclusion="weak_lax", results=results(
        {"rules_ignored": "全年未开展主题党日", "poor_service": None})).json()
    r = staff.post(f"{API}/screenings/{s['id']}/problems", json={})
    assert r.status_code == 201, r.text
    converted = {x["code"]: x["problem_id"] for x in r.json()["results"] if x["problem_id"]}
    assert set(converted) == {"rules_ignored", "poor_service"}
    assert r.json()["version"] == 2

    problems = staff.get(f"{API}/problems", params={"source": "screening"}).json()["items"]
    assert len(problems) == 2
    by_category = {p["category"]: p for p in problems}
    assert set(by_category) == {"rules_ignored", "poor_service"}
    p = by_category["rules_ignored"]
    assert p["id"] == converted["rules_ignored"]
    assert (p["campaign_id"], p["township_id"], p["branch_id"], p["source"]) == (
        setup.campaign_id, setup.world.township.id, setup.world.branch.id, "screening")
    assert p["description"] == f"{LABEL['rules_ignored']}:全年未开展主题党日"
    assert by_category["poor_service"]["description"] == LABEL["poor_service"]
    # the screening remembers which problem each hit became
    again = staff.get(f"{API}/screenings/{s['id']}").json()
    assert {x["code"]: x["problem_id"] for x in again["results"] if x["problem_id"]} == converted

    assert_problem(staff.post(f"{API}/screenings/{s['id']}/problems", json={}), 409)
    assert len(staff.get(f"{API}/problems").json()["items"]) == 2


def test_chosen_hits_become_problems_one_at_a_time(setup, login):
    staff = login("staff")
    sid = create(staff, setup, conclusion="weak_lax", results=results(
        {"rules_ignored": None, "poor_service": None})).json()["id"]
    url = f"{API}/screenings/{sid}/problems"
    r = staff.post(url, json={"codes": ["poor_service"]})
    assert r.status_code == 201, r.text
    assert [x["code"] for x in r.json()["results"] if x["problem_id"]] == ["poor_service"]
    assert_problem(staff.post(url, json={"codes": ["poor_service"]}), 409)
    assert_problem(staff.post(url, json={"codes": ["team_disunity"]}), 409)  # not a hit
    r = staff.post(url, json={})
    assert r.status_code == 201, r.text
    assert len([x for x in r.json()["results"] if x["problem_id"]]) == 2
    assert len(staff.get(f"{API}/problems").json()["items"]) == 2


def test_a_screening_without_hits_has_nothing_to_convert(setup, login):
    staff = login("staff")
    sid = create(staff, setup).json()["id"]
    assert_problem(staff.post(f"{API}/screenings/{sid}/problems", json={}), 409)
    assert staff.get(f"{API}/problems").json()["items"] == []


def test_editing_results_keeps_the_link_to_the_problem(setup, login):
    staff = login("staff")
    sid = create(staff, setup, conclusion="weak_lax",
                 results=results({"rules_ignored": "原说明"})).json()["id"]
    problem_id = staff.post(f"{API}/screenings/{sid}/problems", json={}).json()["results"][
        CODES.index("rules_ignored")]["problem_id"]
    r = staff.patch(f"{API}/screenings/{sid}", headers=if_match(2), json={
        "results": results({"rules_ignored": "补充说明", "poor_service": None})})
    assert r.status_code == 200, r.text
    links = {x["code"]: x["problem_id"] for x in r.json()["results"]}
    assert links["rules_ignored"] == problem_id
    assert links["poor_service"] is None
    # a client cannot point a result at a problem of its own choosing
    r = staff.patch(f"{API}/screenings/{sid}", headers=if_match(3), json={
        "results": [{**x, "problem_id": 424242 if x["code"] == "team_disunity" else None}
                    for x in results({"rules_ignored": "补充说明", "poor_service": None})]})
    assert r.status_code == 200, r.text
    links = {x["code"]: x["problem_id"] for x in r.json()["results"]}
    assert links["team_disunity"] is None
    assert links["rules_ignored"] == problem_id
    r = staff.post(f"{API}/screenings/{sid}/problems", json={})
    assert r.status_code == 201, r.text
    assert len(staff.get(f"{API}/problems").json()["items"]) == 2


# --- criteria a campaign customises --------------------------------------------------------


def criteria(client: Any, campaign_id: int | None = None) -> list[dict[str, Any]]:
    params = {"campaign_id": campaign_id} if campaign_id else {}
    r = client.get(f"{API}/criteria", params=params)
    assert r.status_code == 200, r.text
    return list(r.json())


def in_order(items: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(code, label, kind): the criteria in their order, then the categories in theirs."""
    ordered = sorted(items, key=lambda c: (c["kind"] != "criterion", c["position"]))
    return [(c["code"], c["label"], c["kind"]) for c in ordered]


def test_the_default_criteria_are_seeded(setup, login):
    staff = login("staff")
    items = criteria(staff)
    assert in_order(items) == default_criteria()
    assert all(c["campaign_id"] is None and c["retired"] is False for c in items)
    assert in_order(criteria(staff, setup.campaign_id)) == default_criteria()


def test_county_admin_adds_rewords_and_retires_criteria_of_a_campaign(setup, login):
    admin = login("admin")
    base = f"{API}/campaigns/{setup.campaign_id}/criteria"
    r = admin.post(base, json={"code": "cadre_absent", "label": "村干部长期不在岗"})
    assert r.status_code == 201, r.text
    assert r.json() == {"code": "cadre_absent", "label": "村干部长期不在岗", "kind": "criterion",
                        "position": r.json()["position"], "retired": False,
                        "campaign_id": setup.campaign_id}
    r = admin.patch(f"{base}/rules_ignored", json={"label": "组织生活不正常"})
    assert r.status_code == 200, r.text
    assert (r.json()["code"], r.json()["label"]) == ("rules_ignored", "组织生活不正常")
    r = admin.patch(f"{base}/election_bribery", json={"retired": True})
    assert r.status_code == 200, r.text
    assert r.json()["retired"] is True

    own = {c["code"]: c for c in criteria(admin, setup.campaign_id)}
    assert len(own) == len(default_criteria()) + 1
    assert own["cadre_absent"]["kind"] == "criterion"
    assert own["rules_ignored"]["label"] == "组织生活不正常"
    assert own["election_bribery"]["retired"] is True
    assert all(c["campaign_id"] == setup.campaign_id for c in own.values())
    # the default set and other campaigns are untouched
    assert in_order(criteria(admin)) == default_criteria()
    assert not any(c["retired"] for c in criteria(admin, setup.other_campaign_id))

    # restore
    r = admin.patch(f"{base}/election_bribery", json={"retired": False})
    assert r.status_code == 200 and r.json()["retired"] is False


def test_a_code_is_never_reused(setup, login):
    admin = login("admin")
    base = f"{API}/campaigns/{setup.campaign_id}/criteria"
    assert_problem(admin.post(base, json={"code": "rules_ignored", "label": "别的意思"}), 422,
                   field="code")
    assert_problem(admin.post(base, json={"code": "other", "label": "别的意思"}), 422,
                   field="code")
    assert admin.post(base, json={"code": "cadre_absent", "label": "村干部长期不在岗"}
                      ).status_code == 201
    assert_problem(admin.post(base, json={"code": "cadre_absent", "label": "另一个"}), 422,
                   field="code")
    assert_problem(admin.post(base, json={"code": "Bad Code", "label": "x"}), 422, field="code")
    assert_problem(admin.patch(f"{base}/no_such_code", json={"label": "x"}), 404)
    assert_problem(admin.post(f"{API}/campaigns/9999/criteria",
                              json={"code": "cadre_absent", "label": "x"}), 404)


def test_only_county_admin_changes_criteria(setup, login):
    base = f"{API}/campaigns/{setup.campaign_id}/criteria"
    for username in ("staff", "viewer", "secretary", "countyviewer"):
        user = login(username)
        assert_problem(user.post(base, json={"code": "cadre_absent", "label": "x"}), 403)
        assert_problem(user.patch(f"{base}/rules_ignored", json={"retired": True}), 403)
    assert not any(c["campaign_id"] for c in criteria(login("admin"), setup.campaign_id))


def test_screenings_follow_the_campaigns_own_criteria(setup, login):
    admin, staff = login("admin"), login("staff")
    base = f"{API}/campaigns/{setup.campaign_id}/criteria"
    old = create(staff, setup, conclusion="weak_lax", results=results(
        {"election_bribery": "换届时有拉票", "rules_ignored": None})).json()

    assert admin.post(base, json={"code": "cadre_absent", "label": "村干部长期不在岗"}
                      ).status_code == 201
    assert admin.patch(f"{base}/election_bribery", json={"retired": True}).status_code == 200
    assert admin.patch(f"{base}/rules_ignored", json={"label": "组织生活不正常"}).status_code == 200

    # the old results stay readable, with their labels, the retired one marked
    read = {r["code"]: r for r in staff.get(f"{API}/screenings/{old['id']}").json()["results"]}
    assert read["election_bribery"] == {
        "code": "election_bribery", "label": LABEL["election_bribery"], "hit": True,
        "note": "换届时有拉票", "retired": True, "problem_id": None}
    assert read["rules_ignored"]["label"] == "组织生活不正常"
    assert read["rules_ignored"]["retired"] is False

    # a new screening answers the new item and no longer the retired one
    with_new = [*results(skip=("election_bribery",)),
                {"code": "cadre_absent", "hit": False, "note": None}]
    r = create(admin, setup, setup.world.other_branch.id, results=results(
        skip=("election_bribery",)))
    assert_problem(r, 422, field="results")  # cadre_absent is missing
    r = create(admin, setup, setup.world.other_branch.id, results=with_new)
    assert r.status_code == 201, r.text
    assert "election_bribery" not in {x["code"] for x in r.json()["results"]}
    labels = {x["code"]: x["label"] for x in r.json()["results"]}
    assert labels["cadre_absent"] == "村干部长期不在岗"


def test_editing_after_a_retirement_keeps_the_retired_result(setup, login):
    """The checklist page sends the active criteria only; the retired item's old result stays."""
    admin, staff = login("admin"), login("staff")
    s = create(staff, setup, conclusion="weak_lax", results=results(
        {"election_bribery": "换届时有拉票", "rules_ignored": None})).json()
    assert admin.patch(f"{API}/campaigns/{setup.campaign_id}/criteria/election_bribery",
                       json={"retired": True}).status_code == 200
    r = staff.patch(f"{API}/screenings/{s['id']}", headers=if_match(1), json={
        "summary": "复核", "results": results({"rules_ignored": "复核属实"},
                                              skip=("election_bribery",))})
    assert r.status_code == 200, r.text
    kept = {x["code"]: x for x in r.json()["results"]}
    assert kept["election_bribery"]["hit"] is True
    assert kept["election_bribery"]["note"] == "换届时有拉票"
    assert kept["election_bribery"]["retired"] is True
    assert kept["rules_ignored"]["note"] == "复核属实"


def test_a_hit_on_a_retired_criterion_does_not_block_the_others(setup, login):
    admin, staff = login("admin"), login("staff")
    s = create(staff, setup, conclusion="weak_lax", results=results(
        {"election_bribery": "换届时有拉票", "rules_ignored": None})).json()
    assert admin.patch(f"{API}/campaigns/{setup.campaign_id}/criteria/election_bribery",
                       json={"retired": True}).status_code == 200
    r = staff.post(f"{API}/screenings/{s['id']}/problems", json={})
    assert r.status_code == 201, r.text
    assert [x["code"] for x in r.json()["results"] if x["problem_id"]] == ["rules_ignored"]
    assert [p["category"] for p in staff.get(f"{API}/problems").json()["items"]] == [
        "rules_ignored"]
    assert_problem(staff.post(f"{API}/screenings/{s['id']}/problems", json={}), 409)


def test_a_hit_on_a_new_criterion_becomes_a_problem_of_that_category(setup, login):
    admin, staff = login("admin"), login("staff")
    assert admin.post(f"{API}/campaigns/{setup.campaign_id}/criteria",
                      json={"code": "cadre_absent", "label": "村干部长期不在岗"}
                      ).status_code == 201
    s = create(staff, setup, conclusion="weak_lax", results=[
        *results(), {"code": "cadre_absent", "hit": True, "note": "主任外出务工"}]).json()
    assert staff.post(f"{API}/screenings/{s['id']}/problems", json={}).status_code == 201
    [p] = staff.get(f"{API}/problems").json()["items"]
    assert (p["category"], p["description"]) == ("cadre_absent", "村干部长期不在岗:主任外出务工")


# --- progress against the due date --------------------------------------------------------


@dataclass
class ProgressFixture:
    campaign_id: int
    t1: int
    t2: int
    names: dict[str, int]


@pytest.fixture
def progress_fixture(engine: Engine) -> ProgressFixture:
    """Campaign due 3 days ago. 东镇: villages A (done by due, weak_lax), B (done late),
    C (pending conclusion), D (not screened), community E (done by due), organ F and
    enterprise G (screened, but not targets), a deleted village X (screened, not counted).
    西镇: village H (not screened), community I (done by due). Another campaign screens D."""
    due = TODAY - timedelta(days=3)
    with committed(engine) as s:
        t1 = make_township(s, name="东镇")
        t2 = make_township(s, name="西镇")
        make_user(s, Role.township_staff, township=t1, username="eaststaff")
        make_user(s, Role.county_admin, username="countyadmin")
        campaign = make_campaign(s, starts_on=TODAY - timedelta(days=60), screening_due=due,
                                 ends_on=TODAY + timedelta(days=200))
        other = make_campaign(s, starts_on=TODAY - timedelta(days=30))
        b: dict[str, Any] = {}
        for key, township, kind in [
            ("A", t1, BranchKind.village), ("B", t1, BranchKind.village),
            ("C", t1, BranchKind.village), ("D", t1, BranchKind.village),
            ("E", t1, BranchKind.community), ("F", t1, BranchKind.organ),
            ("G", t1, BranchKind.enterprise), ("X", t1, BranchKind.village),
            ("H", t2, BranchKind.village), ("I", t2, BranchKind.community),
        ]:
            b[key] = make_branch(s, township, name=f"{key}党支部", kind=kind)
        make_screening(s, campaign, b["A"], hits={"rules_ignored": None},
                       screened_on=due - timedelta(days=1))
        make_screening(s, campaign, b["B"], screened_on=TODAY)
        make_screening(s, campaign, b["C"], results=[], conclusion=Conclusion.pending,
                       screened_on=due - timedelta(days=10))
        make_screening(s, campaign, b["E"], screened_on=due)
        make_screening(s, campaign, b["F"], screened_on=due)
        make_screening(s, campaign, b["G"], hits={"poor_service": None}, screened_on=due)
        make_screening(s, campaign, b["X"], screened_on=due)
        make_screening(s, campaign, b["I"], screened_on=due - timedelta(days=20))
        make_screening(s, other, b["D"], screened_on=due)
        b["X"].deleted_at = utcnow()
        return ProgressFixture(campaign.id, t1.id, t2.id, {k: v.id for k, v in b.items()})


def progress(client: Any, campaign_id: int, township_id: int | None = None) -> dict[str, Any]:
    params: dict[str, int] = {"campaign_id": campaign_id}
    if township_id is not None:
        params["township_id"] = township_id
    r = client.get(f"{API}/screening-progress", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def figures(p: dict[str, Any]) -> tuple[int, ...]:
    return (p["target"], p["done"], p["done_by_due"], p["late"], p["todo"], p["weak_lax"])


def test_progress_for_the_county_and_per_township(progress_fixture, login):
    f = progress_fixture
    admin = login("countyadmin")
    county = progress(admin, f.campaign_id)
    assert county["campaign_id"] == f.campaign_id
    assert county["due"] == (TODAY - timedelta(days=3)).isoformat()
    assert county["days_left"] == -3
    #                        target done by_due late todo weak_lax
    assert figures(county) == (7, 4, 3, 1, 3, 1)
    states = {b["branch_name"][0]: b["state"] for b in county["branches"]}
    assert states == {"A": "done", "B": "late", "C": "pending", "D": "todo", "E": "done",
                      "H": "todo", "I": "done"}
    assert figures(progress(admin, f.campaign_id, f.t1)) == (5, 3, 2, 1, 2, 1)
    assert figures(progress(admin, f.campaign_id, f.t2)) == (2, 1, 1, 0, 1, 0)
    a = next(b for b in county["branches"] if b["branch_id"] == f.names["A"])
    assert (a["kind"], a["conclusion"], a["township_name"]) == ("village", "weak_lax", "东镇")
    assert a["screening_id"] is not None
    d = next(b for b in county["branches"] if b["branch_id"] == f.names["D"])
    assert (d["screening_id"], d["screened_on"], d["conclusion"]) == (None, None, None)


def test_staff_sees_the_progress_of_own_township(progress_fixture, login):
    f = progress_fixture
    staff = login("eaststaff")
    own = progress(staff, f.campaign_id)
    assert figures(own) == (5, 3, 2, 1, 2, 1)
    assert {b["township_id"] for b in own["branches"]} == {f.t1}
    assert figures(progress(staff, f.campaign_id, f.t2)) == (0, 0, 0, 0, 0, 0)


def test_days_left_counts_down_to_the_due_date(engine, login, world):
    with committed(engine) as s:
        soon = make_campaign(s, starts_on=TODAY - timedelta(days=5),
                             screening_due=TODAY + timedelta(days=12),
                             ends_on=TODAY + timedelta(days=100))
        today = make_campaign(s, starts_on=TODAY - timedelta(days=5), screening_due=TODAY,
                              ends_on=TODAY + timedelta(days=100))
        undated = make_campaign(s, starts_on=TODAY - timedelta(days=5), screening_due=None,
                                ends_on=TODAY + timedelta(days=100))
    admin = login("admin")
    assert progress(admin, soon.id)["days_left"] == 12
    assert progress(admin, today.id)["days_left"] == 0
    p = progress(admin, undated.id)
    assert (p["due"], p["days_left"]) == (None, None)
    assert figures(p) == (2, 0, 0, 0, 2, 0)


def test_progress_of_an_unknown_campaign_is_not_found(world, login):
    admin = login("admin")
    assert_problem(admin.get(f"{API}/screening-progress", params={"campaign_id": 9999}), 404)
    assert_problem(admin.get(f"{API}/screening-progress"), 422)


def test_a_screening_after_the_due_date_is_late(setup, login):
    staff = login("staff")
    r = create(staff, setup, screened_on="2025-04-02")
    assert r.status_code == 201, r.text
    assert r.json()["late"] is True


# --- change feed and audit trail ------------------------------------------------------------


def test_screenings_join_the_change_feed_and_the_audit_trail(setup, login):
    staff, admin = login("staff"), login("admin")
    sid = create(staff, setup, conclusion="pending", results=[]).json()["id"]
    r = staff.patch(f"{API}/screenings/{sid}", headers=if_match(1), json={
        "conclusion": "weak_lax", "results": results({"rules_ignored": "不开会"})})
    assert r.status_code == 200, r.text

    changes = admin.get(f"{API}/changes", params={"types": "screening"}).json()["changes"]
    assert [(c["type"], c["id"], c["op"], c["version"]) for c in changes] == [
        ("screening", sid, "upsert", 1), ("screening", sid, "upsert", 2)]
    assert changes[0]["data"]["conclusion"] == "pending"
    data = changes[1]["data"]
    assert data["conclusion"] == "weak_lax"
    assert data["branch_id"] == setup.world.branch.id
    assert {r["code"] for r in data["results"] if r["hit"]} == {"rules_ignored"}
    # the branch's new mark is a change of the branch
    branch_changes = admin.get(f"{API}/changes", params={"types": "branch"}).json()["changes"]
    assert any(c["id"] == setup.world.branch.id and c["data"]["is_weak_lax"]
               for c in branch_changes)
    # a township reader sees its own township's screenings only
    assert [c["id"] for c in staff.get(f"{API}/changes", params={"types": "screening"}
                                       ).json()["changes"]] == [sid, sid]
    other = login("otherstaff")
    assert other.get(f"{API}/changes", params={"types": "screening"}).json()["changes"] == []

    events = admin.get(f"{API}/audit-events",
                       params={"entity_type": "screening", "entity_id": sid}).json()["items"]
    assert [(e["action"], e["actor"]) for e in events] == [
        ("create", "user:staff"), ("update", "user:staff")]
    assert events[0]["changes"]["conclusion"] == [None, "pending"]
    assert events[1]["changes"]["conclusion"] == ["pending", "weak_lax"]
    assert "results" in events[1]["changes"]
    branch_events = admin.get(f"{API}/audit-events", params={
        "entity_type": "branch", "entity_id": setup.world.branch.id}).json()["items"]
    assert branch_events[-1]["changes"]["is_weak_lax"] == [False, True]


def test_hits_to_problems_are_audited(setup, login):
    staff, admin = login("staff"), login("admin")
    sid = create(staff, setup, conclusion="weak_lax",
                 results=results({"rules_ignored": None})).json()["id"]
    staff.post(f"{API}/screenings/{sid}/problems", json={})
    changes = admin.get(f"{API}/changes", params={"types": "problem,screening"}).json()["changes"]
    assert [(c["type"], c["op"]) for c in changes] == [
        ("screening", "upsert"), ("problem", "upsert"), ("screening", "upsert")]
    problem_events = admin.get(f"{API}/audit-events", params={"entity_type": "problem"}
                               ).json()["items"]
    assert [(e["action"], e["actor"]) for e in problem_events] == [("create", "user:staff")]


# --- the pages over the same data ---------------------------------------------------------


def test_pages_render_for_every_reader_and_readers_cannot_edit(setup, login):
    staff = login("staff")
    sid = create(staff, setup, conclusion="weak_lax",
                 results=results({"rules_ignored": "不开会"})).json()["id"]
    for username in ("staff", "viewer", "secretary", "admin"):
        user = login(username)
        for url in ("/screenings", f"/screenings/{sid}", "/warnings"):
            r = user.get(url)
            assert r.status_code == 200, (username, url, r.text[:300])
            assert r.headers["content-type"].startswith("text/html")
    form = login("viewer").get(f"/screenings/{sid}").text
    assert "保存排查记录" not in form and "disabled" in form
    assert "保存排查记录" in staff.get(f"/screenings/{sid}").text
    assert login("otherstaff").get(f"/screenings/{sid}").status_code == 404
    assert login("viewer").get(f"/screenings/new?branch_id={setup.world.branch.id}"
                               ).status_code == 403


def test_a_stale_screening_page_shows_the_current_record(setup, login):
    staff = login("staff")
    sid = create(staff, setup).json()["id"]
    url = f"{API}/screenings/{sid}"
    assert staff.patch(url, json={"summary": "第一次修改"}, headers=if_match(1)).status_code == 200
    # the same person's old tab saves again: no blame, the current record is shown
    r = staff.patch(url, json={"summary": "旧页面", "version": 1}, headers={"HX-Request": "true"})
    assert r.status_code == 412
    assert "可能是您在另一页面的操作" in r.text and "他人" not in r.text
    assert "第一次修改" in r.text and 'id="screening-form"' in r.text
    # someone else's change is named as such
    r = login("admin").patch(url, json={"summary": "县里修改"}, headers=if_match(2))
    assert r.status_code == 200
    r = staff.patch(url, json={"summary": "旧页面", "version": 2}, headers={"HX-Request": "true"})
    assert r.status_code == 412 and "此记录已被他人修改" in r.text and "县里修改" in r.text
    body_ = assert_problem(staff.patch(url, json={"summary": "x"}, headers=if_match(2)), 412)
    assert "他人" in body_["title"]
