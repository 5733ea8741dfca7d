"""Corrections (DESIGN "Corrections"): PATCH with If-Match and DELETE with a reason for
returned forms, opinions, suggestions, issuances, activities and problems, by whoever may
write the record; the suggestion rules; branches and townships with live records are not
deleted; the history page (修改记录) in Chinese."""

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from app.models.campaign import Campaign, CampaignStatus, Criterion, CriterionKind
from app.models.user import Role, TokenScope
from tests.factories import (
    assert_problem,
    bearer,
    committed,
    make_branch,
    make_problem,
    make_task,
    make_token,
    make_township,
    make_user,
)

API = "/api/v1"
FORMS = f"{API}/feedback-forms"
OPINIONS = f"{API}/opinions"
SUGGESTIONS = f"{API}/suggestions"
ISSUANCES = f"{API}/form-issuances"


def v(n: int) -> dict[str, str]:
    return {"If-Match": f'"{n}"'}


@pytest.fixture
def campaign_id(engine: Engine, world: Any) -> int:
    with committed(engine) as s:
        c = Campaign(name="2026年专项整治", starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31),
                     status=CampaignStatus.active)
        s.add(c)
        s.flush()
        for i, code in enumerate(("weak_leadership", "other")):
            s.add(Criterion(campaign_id=c.id, code=code, label=f"类别{code}", position=i,
                            kind=CriterionKind.category))
        return int(c.id)  # type: ignore[arg-type]


def enter_form(client: Any, campaign_id: int, branch_id: int, *texts: str,
               **overrides: Any) -> dict[str, Any]:
    body = {"campaign_id": campaign_id, "branch_id": branch_id, "respondent_kind": "villager",
            "anonymous": True, "satisfaction": "satisfied",
            "opinions": [{"text": t, "theme": "prosperity"} for t in (texts or ("多办实事",))],
            **overrides}
    r = client.post(FORMS, json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def audit(engine: Engine, entity_type: str, entity_id: int) -> list[tuple[str, str | None, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT action, reason, changes FROM audit_event WHERE entity_type = :t "
            "AND entity_id = :i ORDER BY id"), {"t": entity_type, "i": entity_id}).all()
    return [(a, r, c) for a, r, c in rows]


# ---------------------------------------------------------------- returned forms


def test_whoever_may_write_a_form_corrects_it_others_get_404_or_403(world, login, campaign_id,
                                                                   engine):
    f = enter_form(login("secretary"), campaign_id, world.branch.id)
    url = f"{FORMS}/{f['id']}"
    change = {"respondent_kind": "party_member"}
    # out of scope: not found; in scope without the right to write: forbidden
    assert_problem(login("otherstaff").patch(url, json=change, headers=v(1)), 404)
    with committed(engine) as s:
        other_secretary = make_branch(s, world.township, name="甲二村党支部")
        make_user(s, Role.branch_secretary, branch=other_secretary, username="secretary2")
        read_token = make_token(s, scope=TokenScope.read)
        other_token = make_token(s, scope=TokenScope.write, township=world.other_township)
    assert_problem(login("secretary2").patch(url, json=change, headers=v(1)), 404)
    assert_problem(login("viewer").patch(url, json=change, headers=v(1)), 403)
    assert_problem(login("countyviewer").patch(url, json=change, headers=v(1)), 403)
    client = login("admin").client
    assert_problem(client.patch(url, json=change, headers={**v(1), **bearer(read_token)}), 403)
    assert_problem(client.patch(url, json=change, headers={**v(1), **bearer(other_token)}), 404)

    secretary = login("secretary")
    assert_problem(secretary.patch(url, json=change), 428)
    r = secretary.patch(url, json=change, headers=v(1))
    assert r.status_code == 200, r.text
    assert r.json()["respondent_kind"] == "party_member" and r.headers["ETag"] == '"2"'
    assert_problem(login("staff").patch(url, json={"satisfaction": "dissatisfied"},
                                        headers=v(1)), 412)
    r = login("staff").patch(url, json={"satisfaction": "dissatisfied", "version": 2})
    assert r.status_code == 200 and r.json()["satisfaction"] == "dissatisfied"
    r = login("admin").patch(url, json={"satisfaction": None}, headers=v(3))
    assert r.status_code == 200 and r.json()["satisfaction"] is None


def test_an_anonymous_form_never_stores_a_name_even_when_patched(world, login, campaign_id,
                                                                 engine):
    staff = login("staff")
    f = enter_form(staff, campaign_id, world.branch.id)
    url = f"{FORMS}/{f['id']}"
    r = staff.patch(url, json={"respondent_name": "张三"}, headers=v(1))
    assert r.status_code == 200 and r.json()["respondent_name"] is None
    assert_problem(staff.patch(url, json={"anonymous": False}, headers=v(1)), 422,
                   field="respondent_name")
    r = staff.patch(url, json={"anonymous": False, "respondent_name": " 李四 "}, headers=v(1))
    assert r.status_code == 200 and r.json()["respondent_name"] == "李四"
    r = staff.patch(url, json={"anonymous": True, "respondent_name": "李四"}, headers=v(2))
    assert r.status_code == 200 and r.json()["respondent_name"] is None
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT respondent_name FROM feedback_form WHERE id = :i"),
                              {"i": f["id"]}).scalar_one()
    assert stored is None
    # the name was never in the audit while the form was anonymous
    first_patch = audit(engine, "feedback_form", f["id"])[1]
    assert "张三" not in str(first_patch)


def test_a_form_moves_to_another_branch_of_its_township_with_its_opinions(world, login,
                                                                          campaign_id, engine):
    with committed(engine) as s:
        sibling = make_branch(s, world.township, name="甲二村党支部")
    staff = login("staff")
    f = enter_form(staff, campaign_id, world.branch.id, "修路")
    url = f"{FORMS}/{f['id']}"
    assert_problem(staff.patch(url, json={"branch_id": world.other_branch.id}, headers=v(1)),
                   422, field="branch_id")
    r = staff.patch(url, json={"branch_id": sibling.id}, headers=v(1))
    assert r.status_code == 200, r.text
    assert r.json()["opinions"][0]["branch_id"] == sibling.id
    # a secretary cannot move a form out of her branch
    f2 = enter_form(login("secretary"), campaign_id, world.branch.id)
    assert_problem(login("secretary").patch(f"{FORMS}/{f2['id']}",
                                            json={"branch_id": sibling.id}, headers=v(1)),
                   422, field="branch_id")


def test_deleting_a_form_needs_a_reason_and_takes_its_opinions(world, login, campaign_id,
                                                              engine):
    secretary = login("secretary")
    f = enter_form(secretary, campaign_id, world.branch.id, "修路", "路灯")
    url = f"{FORMS}/{f['id']}"
    assert_problem(secretary.delete(url, headers=v(1)), 422, field="reason")
    assert_problem(secretary.delete(url, params={"reason": "  "}, headers=v(1)), 422,
                   field="reason")
    assert_problem(secretary.delete(url, params={"reason": "重复录入"}), 428)
    assert_problem(secretary.delete(url, params={"reason": "重复录入"}, headers=v(5)), 412)
    assert_problem(login("viewer").delete(url, params={"reason": "x"}, headers=v(1)), 403)
    assert_problem(login("otherstaff").delete(url, params={"reason": "x"}, headers=v(1)), 404)
    r = secretary.request("DELETE", url, json={"reason": "重复录入"}, headers=v(1))
    assert r.status_code == 204, r.text
    assert_problem(secretary.get(url), 404)
    assert secretary.get(OPINIONS).json()["items"] == []
    stats = secretary.get(f"{API}/feedback-stats", params={"campaign_id": campaign_id}).json()
    assert (stats["returned"], stats["opinions"]) == (0, 0)
    events = audit(engine, "feedback_form", f["id"])
    assert events[-1][:2] == ("delete", "重复录入")
    assert audit(engine, "opinion", f["opinions"][0]["id"])[-1][:2] == ("delete", "重复录入")


def test_forms_list_newest_first_by_branch(world, login, campaign_id):
    staff = login("staff")
    with_branch = [enter_form(staff, campaign_id, world.branch.id, f"意见{i}")["id"]
                   for i in range(3)]
    page = staff.get(FORMS, params={"limit": 2, "branch_id": world.branch.id}).json()
    assert [f["id"] for f in page["items"]] == with_branch[::-1][:2]
    rest = staff.get(FORMS, params={"limit": 2, "branch_id": world.branch.id,
                                    "cursor": page["next_cursor"]}).json()
    assert [f["id"] for f in rest["items"]] == [with_branch[0]] and rest["next_cursor"] is None


# ---------------------------------------------------------------- opinions


@pytest.fixture
def grouped(world, login, campaign_id) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A form of two opinions entered by the secretary; the first grouped in a suggestion."""
    f = enter_form(login("secretary"), campaign_id, world.branch.id, "修路", "路灯")
    ids = [o["id"] for o in f["opinions"]]
    s = login("staff").post(SUGGESTIONS, json={
        "campaign_id": campaign_id, "text": "加强基础设施建设", "theme": "prosperity",
        "opinion_ids": ids[:1]})
    assert s.status_code == 201, s.text
    return {"form": f, "ids": ids, "suggestion": s.json()}


def test_opinions_are_corrected_by_the_secretary_and_staff_also_once_grouped(world, login,
                                                                            grouped, engine):
    grouped_id, free_id = grouped["ids"]
    url = f"{OPINIONS}/{grouped_id}"
    # grouping moved it to version 2
    r = login("secretary").patch(url, json={"text": "  修通村道  "}, headers=v(2))
    assert r.status_code == 200, r.text
    assert r.json()["text"] == "修通村道" and r.json()["suggestion_id"] is not None
    assert_problem(login("secretary").patch(url, json={"text": "  "}, headers=v(3)), 422,
                   field="text")
    assert_problem(login("staff").patch(url, json={"theme": "service"}, headers=v(2)), 412)
    assert login("staff").patch(url, json={"theme": "service"}, headers=v(3)).status_code == 200
    assert_problem(login("viewer").patch(url, json={"theme": "other"}, headers=v(4)), 403)
    assert_problem(login("otherstaff").patch(url, json={"theme": "other"}, headers=v(4)), 404)
    assert_problem(login("otherstaff").delete(f"{OPINIONS}/{free_id}", params={"reason": "x"},
                                              headers=v(1)), 404)


def test_a_grouped_opinion_is_not_deleted_until_it_leaves_its_suggestion(world, login, grouped,
                                                                        engine):
    grouped_id, free_id = grouped["ids"]
    secretary = login("secretary")
    body = assert_problem(secretary.delete(f"{OPINIONS}/{grouped_id}",
                                           params={"reason": "写错了"}, headers=v(2)), 409)
    assert "加强基础设施建设" in body["detail"]
    # the form cannot go either while one of its opinions is grouped
    body = assert_problem(secretary.delete(f"{FORMS}/{grouped['form']['id']}",
                                           params={"reason": "写错了"}, headers=v(1)), 409)
    assert "加强基础设施建设" in body["detail"]
    # the last opinion of a form goes with the form, not alone
    s = grouped["suggestion"]
    r = login("staff").patch(f"{SUGGESTIONS}/{s['id']}", json={"opinion_ids": [free_id]},
                             headers=v(1))
    assert r.status_code == 200, r.text
    assert secretary.get(f"{OPINIONS}/{grouped_id}").json()["suggestion_id"] is None
    r = secretary.delete(f"{OPINIONS}/{grouped_id}", params={"reason": "写错了"}, headers=v(3))
    assert r.status_code == 204, r.text
    assert audit(engine, "opinion", grouped_id)[-1][:2] == ("delete", "写错了")
    assert [o["id"] for o in secretary.get(f"{FORMS}/{grouped['form']['id']}").json()[
        "opinions"]] == [free_id]
    r = login("staff").patch(f"{SUGGESTIONS}/{s['id']}", json={"opinion_ids": [grouped_id]},
                             headers=v(2))
    assert_problem(r, 422, field="opinion_ids")  # the deleted one is no longer there
    r = login("staff").delete(f"{SUGGESTIONS}/{s['id']}", params={"reason": "x"},
                              headers=v(2))
    assert r.status_code == 204, r.text
    last = assert_problem(secretary.request("DELETE", f"{OPINIONS}/{free_id}",
                                            json={"reason": "x"}, headers=v(3)), 409)
    assert "整张意见表" in last["detail"]


# ---------------------------------------------------------------- suggestions


def test_a_suggestion_takes_its_township_from_its_opinions(world, login, campaign_id, engine):
    admin = login("admin")
    here = enter_form(admin, campaign_id, world.branch.id, "修路")["opinions"][0]["id"]
    there = enter_form(admin, campaign_id, world.other_branch.id, "别处")["opinions"][0]["id"]
    body = {"campaign_id": campaign_id, "text": "加强基础设施建设", "theme": "prosperity"}
    r = login("staff").post(SUGGESTIONS, json={**body, "opinion_ids": [here]})
    assert r.status_code == 201, r.text
    assert r.json()["township_id"] == world.township.id
    both = assert_problem(admin.post(SUGGESTIONS, json={**body, "opinion_ids": [here, there]}),
                          422, field="opinion_ids")
    assert "不同乡镇" in both["detail"]
    assert_problem(admin.post(SUGGESTIONS, json={**body, "opinion_ids": [there],
                                                 "township_id": world.township.id}),
                   422, field="opinion_ids")
    # staff write their own township's suggestions only
    assert_problem(login("staff").post(SUGGESTIONS, json={**body, "opinion_ids": [there]}), 403)
    none = assert_problem(login("staff").post(SUGGESTIONS, json=body), 422, field="opinion_ids")
    assert none["errors"][0]["message"] == "请至少勾选一条意见"
    assert "必填" not in none["detail"]


def test_opinions_are_added_to_an_existing_suggestion(world, login, grouped, engine):
    grouped_id, free_id = grouped["ids"]
    s = grouped["suggestion"]
    url = f"{SUGGESTIONS}/{s['id']}"
    staff = login("staff")
    none = assert_problem(staff.patch(url, json={"add_opinion_ids": [""]}, headers=v(1)), 422,
                          field="add_opinion_ids")
    assert none["errors"][0]["message"] == "请至少勾选一条意见"
    r = staff.patch(url, json={"add_opinion_ids": [str(free_id), ""]}, headers=v(1))
    assert r.status_code == 200, r.text
    assert r.json()["opinion_ids"] == [grouped_id, free_id] and r.json()["version"] == 2
    assert staff.get(f"{OPINIONS}/{free_id}").json()["suggestion_id"] == s["id"]
    assert_problem(login("secretary").patch(url, json={"text": "x"}, headers=v(2)), 403)
    assert_problem(login("otherstaff").patch(url, json={"text": "x"}, headers=v(2)), 404)


def test_deleting_a_suggestion_releases_its_opinions_unless_it_became_a_problem(
        world, login, grouped, engine):
    s = grouped["suggestion"]
    url = f"{SUGGESTIONS}/{s['id']}"
    staff = login("staff")
    p = staff.post(f"{url}/problem", json={"category": "other"})
    assert p.status_code == 201, p.text
    conflict = assert_problem(staff.delete(url, params={"reason": "x"}, headers=v(2)), 409)
    assert str(p.json()["id"]) in conflict["detail"]
    r = staff.delete(f"{API}/problems/{p.json()['id']}", params={"reason": "归并错了"},
                     headers=v(1))
    assert r.status_code == 204, r.text
    # the problem gone, the suggestion can become a problem again
    unlinked = staff.get(url).json()
    assert unlinked["problem_id"] is None and unlinked["version"] == 3
    assert_problem(staff.delete(url, headers=v(3)), 422, field="reason")
    assert_problem(login("secretary").delete(url, params={"reason": "x"}, headers=v(3)), 403)
    r = staff.delete(url, params={"reason": "归并错了"}, headers=v(3))
    assert r.status_code == 204, r.text
    assert staff.get(f"{OPINIONS}/{grouped['ids'][0]}").json()["suggestion_id"] is None
    assert audit(engine, "suggestion", s["id"])[-1][:2] == ("delete", "归并错了")
    assert staff.get(f"{API}/feedback-stats").json()["suggestions"] == 0


def test_a_problem_from_one_branchs_opinions_carries_that_branch(world, login, campaign_id):
    admin = login("admin")
    with_branch = enter_form(admin, campaign_id, world.branch.id, "修路", "路灯")
    ids = [o["id"] for o in with_branch["opinions"]]
    s = admin.post(SUGGESTIONS, json={"campaign_id": campaign_id, "text": "基础设施",
                                      "theme": "prosperity", "opinion_ids": ids}).json()
    p = admin.post(f"{SUGGESTIONS}/{s['id']}/problem", json={"category": "other"}).json()
    assert p["branch_id"] == world.branch.id
    page = admin.get(f"/problems/{p['id']}")
    assert page.status_code == 200
    assert "来源意见(2 条)" in page.text and "修路" in page.text and "路灯" in page.text

    with committed(admin.app.state.engine) as sess:
        sibling = make_branch(sess, world.township, name="甲二村党支部")
    there = enter_form(admin, campaign_id, sibling.id, "别的村")["opinions"][0]["id"]
    mine = enter_form(admin, campaign_id, world.branch.id, "本村")["opinions"][0]["id"]
    s = admin.post(SUGGESTIONS, json={"campaign_id": campaign_id, "text": "两个村",
                                      "theme": "other", "opinion_ids": [there, mine]}).json()
    p = admin.post(f"{SUGGESTIONS}/{s['id']}/problem", json={"category": "other"}).json()
    assert p["branch_id"] is None


# ---------------------------------------------------------------- issuances


def test_issuance_rows_are_corrected_and_deleted_with_a_reason(world, login, campaign_id,
                                                              engine):
    staff = login("staff")
    row = staff.put(ISSUANCES, json={"campaign_id": campaign_id, "branch_id": world.branch.id,
                                     "issued": 20}).json()
    url = f"{ISSUANCES}/{row['id']}"
    r = staff.get(url)
    assert r.status_code == 200 and r.headers["ETag"] == '"1"'
    assert_problem(staff.patch(url, json={"issued": 30}), 428)
    assert_problem(staff.patch(url, json={"issued": -1}, headers=v(1)), 422, field="issued")
    r = staff.patch(url, json={"issued": 30}, headers=v(1))
    assert r.status_code == 200 and r.json()["issued"] == 30
    assert_problem(staff.patch(url, json={"issued": 31}, headers=v(1)), 412)
    assert_problem(login("secretary").patch(url, json={"issued": 1}, headers=v(2)), 403)
    assert_problem(login("otherstaff").patch(url, json={"issued": 1}, headers=v(2)), 404)
    assert_problem(login("viewer").delete(url, params={"reason": "x"}, headers=v(2)), 403)
    assert_problem(staff.delete(url, headers=v(2)), 422, field="reason")
    assert staff.delete(url, params={"reason": "支部填错"}, headers=v(2)).status_code == 204
    assert audit(engine, "form_issuance", row["id"])[-1][:2] == ("delete", "支部填错")
    assert staff.get(ISSUANCES).json()["items"] == []
    assert staff.get(f"{API}/feedback-stats").json()["issued"] == 0
    # setting it again brings the row back
    again = staff.put(ISSUANCES, json={"campaign_id": campaign_id, "branch_id": world.branch.id,
                                       "issued": 25})
    assert again.status_code == 200 and again.json()["id"] == row["id"]
    assert staff.get(f"{API}/feedback-stats").json()["issued"] == 25


# ---------------------------------------------------------------- activities and problems


def test_activity_delete_needs_a_reason_and_the_audit_keeps_it(world, login, campaign_id,
                                                              engine):
    staff = login("staff")
    a = staff.post(f"{API}/activities", json={
        "campaign_id": campaign_id, "township_id": world.township.id, "kind": "meeting",
        "held_on": "2026-03-01", "title": "专题会议"}).json()
    url = f"{API}/activities/{a['id']}"
    assert_problem(staff.delete(url, headers=v(1)), 422, field="reason")
    assert_problem(staff.delete(url, params={"reason": "x"}), 428)
    assert_problem(staff.delete(url, params={"reason": "x"}, headers=v(2)), 412)
    assert_problem(login("otherstaff").delete(url, params={"reason": "x"}, headers=v(1)), 404)
    assert_problem(login("secretary").delete(url, params={"reason": "x"}, headers=v(1)), 404)
    assert_problem(login("viewer").delete(url, params={"reason": "x"}, headers=v(1)), 403)
    r = staff.request("DELETE", url, json={"reason": "日期录错,重新录入"}, headers=v(1))
    assert r.status_code == 204, r.text
    assert audit(engine, "activity", a["id"])[-1][:2] == ("delete", "日期录错,重新录入")
    assert_problem(staff.get(url), 404)


def test_a_problem_with_live_tasks_names_them_and_stays(world, login, campaign_id, engine):
    with committed(engine) as s:
        campaign = s.get(Campaign, campaign_id)
        problem = make_problem(s, campaign, world.township, category="other")
        make_task(s, problem, title="发展年轻党员")
        make_task(s, problem, title="规范三会一课")
    url = f"{API}/problems/{problem.id}"
    staff = login("staff")
    assert_problem(staff.delete(url, headers=v(1)), 422, field="reason")
    body = assert_problem(staff.delete(url, params={"reason": "x"}, headers=v(1)), 409)
    assert "发展年轻党员" in body["detail"] and "规范三会一课" in body["detail"]
    assert "2 项" in body["detail"]
    assert staff.get(url).status_code == 200


def test_delete_endpoints_document_where_the_reason_goes(client):
    spec = client.get(f"{API}/openapi.json").json()
    for path in ("/feedback-forms/{form_id}", "/opinions/{opinion_id}",
                 "/suggestions/{suggestion_id}", "/form-issuances/{issuance_id}",
                 "/activities/{activity_id}", "/problems/{problem_id}"):
        op = spec["paths"][f"{API}{path}"]["delete"]
        assert "?reason=" in op["description"] and '{"reason"' in op["description"], path
        assert "reason" in [p["name"] for p in op["parameters"]], path
        assert "patch" in spec["paths"][f"{API}{path}"], path


# ---------------------------------------------------------------- branches and townships


def test_a_branch_with_records_is_not_deleted_409_names_them(world, login, campaign_id, engine):
    admin = login("admin")
    enter_form(admin, campaign_id, world.branch.id)
    enter_form(admin, campaign_id, world.branch.id)
    with committed(engine) as s:
        problem = make_problem(s, s.get(Campaign, campaign_id), world.township,
                               branch=world.branch, category="other")
        make_task(s, problem)
    url = f"{API}/branches/{world.branch.id}"
    body = assert_problem(admin.delete(url, headers=v(1)), 409)
    for named in ("问题 1 条", "整改任务 1 项", "征求意见表 2 份", "用户 1 个"):
        assert named in body["detail"], body["detail"]
    assert admin.get(url).status_code == 200


def test_a_township_with_an_overdue_task_is_not_deleted_so_the_task_cannot_linger(
        world, login, campaign_id, engine):
    with committed(engine) as s:
        township = make_township(s, name="丁镇")
        branch = make_branch(s, township, name="丁一村党支部")
        problem = make_problem(s, s.get(Campaign, campaign_id), township, branch=branch,
                               category="other")
        task = make_task(s, problem, due_on=date.today() - timedelta(days=3))
    admin = login("admin")
    assert_problem(admin.delete(f"{API}/branches/{branch.id}", headers=v(1)), 409)
    body = assert_problem(admin.delete(f"{API}/townships/{township.id}", headers=v(1)), 409)
    for named in ("党支部 1 个", "问题 1 条", "整改任务 1 项"):
        assert named in body["detail"], body["detail"]
    # the township and its overdue task stay together: the overdue list names a live township
    assert admin.get(f"{API}/townships/{township.id}").status_code == 200
    overdue = admin.get(f"{API}/tasks", params={"overdue": "true"}).json()["items"]
    assert [t["id"] for t in overdue] == [task.id]
    assert {t["township_id"] for t in overdue} == {township.id}


# ---------------------------------------------------------------- the history page


def test_the_history_page_shows_who_changed_which_field_from_what_to_what(world, login,
                                                                         grouped, engine):
    grouped_id, free_id = grouped["ids"]
    secretary = login("secretary")
    r = secretary.patch(f"{OPINIONS}/{free_id}", json={"text": "安装路灯", "theme": "service"},
                        headers=v(1))
    assert r.status_code == 200, r.text
    page = secretary.get(f"/history/opinion/{free_id}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "修改记录" in html and "意见" in html
    assert "新建" in html and "修改" in html
    assert "branch_secretary " in html  # the display name of the factory's user
    assert "内容" in html and "路灯" in html and "安装路灯" in html
    assert "类别" in html and "带领群众致富" in html and "增强服务意识" in html
    # the reason of a deletion is shown
    staff = login("staff")
    s = grouped["suggestion"]
    staff.patch(f"{SUGGESTIONS}/{s['id']}", json={"opinion_ids": [free_id]}, headers=v(1))
    r = secretary.delete(f"{OPINIONS}/{grouped_id}", params={"reason": "与另一条重复"},
                         headers=v(3))
    assert r.status_code == 204, r.text
    # a deleted record's history stays readable to whoever could read the record
    assert login("otherstaff").get(f"/history/opinion/{grouped_id}").status_code == 404
    html = login("staff").get(f"/history/opinion/{grouped_id}").text
    assert "删除" in html and "原因:与另一条重复" in html
    assert "所属意见建议" in html


def test_the_history_page_is_scoped_as_the_audit_events(world, login, grouped):
    form_id = grouped["form"]["id"]
    assert login("secretary").get(f"/history/feedback_form/{form_id}").status_code == 200
    assert login("viewer").get(f"/history/feedback_form/{form_id}").status_code == 200
    assert login("otherstaff").get(f"/history/feedback_form/{form_id}").status_code == 404
    r = login("staff").get(f"{API}/audit-events", params={"entity_type": "feedback_form",
                                                         "entity_id": form_id})
    assert r.status_code == 200 and r.json()["items"][0]["action"] == "create"
    assert login("staff").get("/history/user/1").status_code == 422


def test_the_history_page_serves_every_type_by_url_tasks_included(world, login, campaign_id,
                                                                  engine):
    with committed(engine) as s:
        problem = make_problem(s, s.get(Campaign, campaign_id), world.township,
                               branch=world.branch, category="other")
    task = login("staff").post(f"{API}/tasks", json={
        "problem_id": problem.id, "title": "规范三会一课", "due_on": "2030-01-31"}).json()
    html = login("secretary").get(f"/history/task/{task['id']}").text
    assert "修改记录 · 整改任务" in html and "规范三会一课" in html and "整改措施" in html
    assert f'href="/tasks/{task["id"]}"' in html
    assert login("otherstaff").get(f"/history/task/{task['id']}").status_code == 404
