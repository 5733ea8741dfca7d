"""The problem list (问题清单) and the criteria it is categorised by."""

from typing import Any

import pytest
from sqlalchemy import Engine

from app.models.campaign import Campaign
from app.models.user import TokenScope
from tests.factories import (
    assert_problem,
    bearer,
    committed,
    default_criteria,
    ensure_default_criteria,
    make_branch,
    make_campaign,
    make_problem,
    make_task,
    make_token,
)

API = "/api/v1"

CRITERIA_CODES = [
    "leadership_vacant", "secretary_unfit", "team_disunity", "rules_ignored", "election_bribery",
    "clan_interference", "village_affairs_chaos", "public_order_petitions",
    "weak_collective_economy", "poor_service",
]
CATEGORY_CODES = ["weakened_function", "aging_members", "discipline_violation", "dual_role_gap",
                  "other"]


@pytest.fixture
def campaign_id(engine: Engine, world: Any) -> int:
    with committed(engine) as s:
        return int(make_campaign(s, name="2025年整顿软弱涣散基层党组织").id)


def body(world: Any, campaign_id: int, **overrides: Any) -> dict[str, Any]:
    return {"campaign_id": campaign_id, "township_id": world.township.id,
            "branch_id": world.branch.id, "category": "aging_members", "source": "feedback",
            "description": "党员队伍老龄化,35岁以下党员仅6名", **overrides}


# ---------------------------------------------------------------- criteria


def test_criteria_lists_the_fifteen_defaults(engine: Engine, world: Any, login: Any) -> None:
    with committed(engine) as s:
        ensure_default_criteria(s)  # the migration's rows; emptying between tests drops them
    r = login("secretary").get(f"{API}/criteria")
    assert r.status_code == 200, r.text
    items = r.json()
    assert len(items) == 15
    by_kind = {k: [i["code"] for i in items if i["kind"] == k] for k in ("criterion", "category")}
    assert by_kind == {"criterion": CRITERIA_CODES, "category": CATEGORY_CODES}
    labels = {i["code"]: i["label"] for i in items}
    assert labels["weak_collective_economy"] == "集体经济薄弱、群众增收渠道少"
    assert labels["other"] == "其他"
    assert all(i["campaign_id"] is None and i["retired"] is False for i in items)
    assert {c: (lbl, k) for c, lbl, k in default_criteria()} == {
        i["code"]: (i["label"], i["kind"]) for i in items}


# ---------------------------------------------------------------- create, read, change, delete


def test_staff_create_read_change_and_delete_a_problem_of_own_township(
    world: Any, campaign_id: int, login: Any
) -> None:
    staff = login("staff")
    r = staff.post(f"{API}/problems", json=body(world, campaign_id))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["branch_name"] == "甲一村党支部" and created["township_name"] == "甲镇"
    assert created["task_count"] == 0 and created["version"] == 1
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == f"{API}/problems/{created['id']}"
    url = f"{API}/problems/{created['id']}"

    assert staff.get(url).json()["description"] == "党员队伍老龄化,35岁以下党员仅6名"
    assert login("secretary").get(url).status_code == 200  # the branch's own problem
    assert login("viewer").get(url).status_code == 200

    r = staff.patch(url, json={"category": "dual_role_gap", "source": "inspection"},
                    headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert (r.json()["category"], r.json()["source"], r.json()["version"]) == (
        "dual_role_gap", "inspection", 2)
    assert_problem(staff.patch(url, json={"description": "x"}, headers={"If-Match": '"1"'}), 412)
    assert_problem(staff.patch(url, json={"description": "x"}), 428)
    assert_problem(staff.patch(url, json={"description": ""}, headers={"If-Match": '"2"'}), 422,
                   field="description")
    r = staff.patch(url, json={"branch_id": None}, headers={"If-Match": '"2"'})
    assert r.status_code == 200 and r.json()["branch_id"] is None, r.text
    assert r.json()["branch_name"] is None

    assert_problem(staff.delete(url, params={"reason": "录重了"}, headers={"If-Match": '"2"'}), 412)
    r = staff.delete(url, params={"reason": "录重了"}, headers={"If-Match": '"3"'})
    assert r.status_code == 204, r.text
    assert_problem(staff.get(url), 404)
    assert created["id"] not in [p["id"] for p in staff.get(f"{API}/problems").json()["items"]]


def test_others_may_not_write_problems(
    engine: Engine, world: Any, campaign_id: int, login: Any, client: Any
) -> None:
    body_other = body(world, campaign_id, township_id=world.other_township.id,
                      branch_id=world.other_branch.id)
    r = login("staff").post(f"{API}/problems", json=body_other)
    assert "本乡镇" in assert_problem(r, 403)["detail"]
    for who in ("secretary", "viewer", "countyviewer"):
        assert_problem(login(who).post(f"{API}/problems", json=body(world, campaign_id)), 403)
    with committed(engine) as s:
        read = make_token(s, scope=TokenScope.read)
        write = make_token(s, scope=TokenScope.write)
        problem_id = make_problem(s, s.get(Campaign, campaign_id), world.township).id
    assert_problem(client.post(f"{API}/problems", json=body(world, campaign_id),
                               headers=bearer(read)), 403)
    assert client.post(f"{API}/problems", json=body(world, campaign_id),
                       headers=bearer(write)).status_code == 201
    url = f"{API}/problems/{problem_id}"
    assert_problem(login("otherstaff").patch(url, json={"description": "x"},
                                             headers={"If-Match": '"1"'}), 404)
    assert_problem(login("otherstaff").delete(url, params={"reason": "x"},
                                              headers={"If-Match": '"1"'}), 404)
    assert_problem(login("viewer").patch(url, json={"description": "x"},
                                         headers={"If-Match": '"1"'}), 403)
    assert login("admin").patch(url, json={"description": "县里改"},
                                headers={"If-Match": '"1"'}).status_code == 200


@pytest.mark.parametrize("category", ["unknown_code", "Aging_Members", " aging_members"])
def test_category_must_be_a_code_of_the_criteria(
    world: Any, campaign_id: int, login: Any, category: str
) -> None:
    r = login("staff").post(f"{API}/problems", json=body(world, campaign_id, category=category))
    assert_problem(r, 422, field="category")


def test_every_default_code_is_a_valid_category(
    world: Any, campaign_id: int, login: Any
) -> None:
    staff = login("staff")
    for code in CRITERIA_CODES + CATEGORY_CODES:
        r = staff.post(f"{API}/problems", json=body(world, campaign_id, category=code))
        assert r.status_code == 201, (code, r.text)


def test_a_bad_category_in_a_patch_is_refused(
    world: Any, campaign_id: int, login: Any
) -> None:
    staff = login("staff")
    created = staff.post(f"{API}/problems", json=body(world, campaign_id)).json()
    r = staff.patch(f"{API}/problems/{created['id']}", json={"category": "nope"},
                    headers={"If-Match": '"1"'})
    assert_problem(r, 422, field="category")


def test_references_are_checked(world: Any, campaign_id: int, login: Any) -> None:
    staff = login("staff")
    r = staff.post(f"{API}/problems", json=body(world, campaign_id,
                                                 branch_id=world.other_branch.id))
    assert "不属于" in assert_problem(r, 422, field="branch_id")["detail"]
    assert_problem(staff.post(f"{API}/problems", json=body(world, campaign_id, branch_id=99999)),
                   422, field="branch_id")
    assert_problem(staff.post(f"{API}/problems", json=body(world, 99999)), 422,
                   field="campaign_id")
    assert_problem(staff.post(f"{API}/problems", json=body(world, campaign_id, source="rumour")),
                   422, field="source")
    assert_problem(staff.post(f"{API}/problems", json=body(world, campaign_id, description="")),
                   422, field="description")
    created = staff.post(f"{API}/problems", json=body(world, campaign_id)).json()
    r = staff.patch(f"{API}/problems/{created['id']}", json={"branch_id": world.other_branch.id},
                    headers={"If-Match": '"1"'})
    assert_problem(r, 422, field="branch_id")


def test_a_problem_with_live_tasks_is_not_deleted(
    engine: Engine, world: Any, campaign_id: int, login: Any
) -> None:
    staff = login("staff")
    created = staff.post(f"{API}/problems", json=body(world, campaign_id)).json()
    due = "2030-01-31"
    r = staff.post(f"{API}/tasks", json={"problem_id": created["id"], "title": "发展年轻党员",
                                         "due_on": due})
    assert r.status_code == 201, r.text
    url = f"{API}/problems/{created['id']}"
    assert staff.get(url).json()["task_count"] == 1
    conflict = assert_problem(staff.delete(url, params={"reason": "x"},
                                           headers={"If-Match": '"1"'}), 409)
    assert "整改任务" in conflict["detail"] and "发展年轻党员" in conflict["detail"]
    assert staff.get(url).status_code == 200


# ---------------------------------------------------------------- lists and filters


def test_filters_and_scope(engine: Engine, world: Any, campaign_id: int, login: Any) -> None:
    with committed(engine) as s:
        campaign = s.get(Campaign, campaign_id)
        later = make_campaign(s, name="第二轮")
        sibling = make_branch(s, world.township, name="甲二村党支部")
        p = {
            "ours_aging": make_problem(s, campaign, world.township, branch=world.branch,
                                       category="aging_members", source="feedback"),
            "ours_rules": make_problem(s, campaign, world.township, branch=world.branch,
                                       category="rules_ignored", source="screening"),
            "sibling": make_problem(s, campaign, world.township, branch=sibling,
                                    category="aging_members", source="inspection"),
            "township_wide": make_problem(s, campaign, world.township,
                                          category="weakened_function", source="self_check"),
            "later": make_problem(s, later, world.township, branch=world.branch,
                                  category="aging_members", source="feedback"),
            "theirs": make_problem(s, campaign, world.other_township, branch=world.other_branch,
                                   category="aging_members", source="feedback"),
        }
        ids = {k: v.id for k, v in p.items()}
        make_task(s, p["ours_rules"])
        later_id = later.id

    def names(client: Any, **params: Any) -> set[str]:
        r = client.get(f"{API}/problems", params=params)
        assert r.status_code == 200, r.text
        by_id = {v: k for k, v in ids.items()}
        return {by_id[i["id"]] for i in r.json()["items"]}

    admin, staff = login("admin"), login("staff")
    assert names(admin) == set(ids)
    assert names(admin, campaign_id=campaign_id) == set(ids) - {"later"}
    assert names(admin, campaign_id=later_id) == {"later"}
    assert names(admin, township_id=world.other_township.id) == {"theirs"}
    assert names(admin, branch_id=world.branch.id) == {"ours_aging", "ours_rules", "later"}
    assert names(admin, category="aging_members") == {
        "ours_aging", "sibling", "later", "theirs"}
    assert names(admin, source="screening") == {"ours_rules"}
    assert names(admin, category="aging_members", source="inspection") == {"sibling"}
    assert names(staff) == set(ids) - {"theirs"}
    assert names(staff, township_id=world.other_township.id) == set()
    assert names(login("otherstaff")) == {"theirs"}
    assert names(login("secretary")) == {"ours_aging", "ours_rules", "later"}
    assert_problem(admin.get(f"{API}/problems", params={"source": "rumour"}), 422, field="source")
    tasks = {i["id"]: i["task_count"] for i in admin.get(f"{API}/problems").json()["items"]}
    assert tasks[ids["ours_rules"]] == 1 and tasks[ids["ours_aging"]] == 0
    assert_problem(login("otherstaff").get(f"{API}/problems/{ids['ours_aging']}"), 404)
    assert_problem(login("secretary").get(f"{API}/problems/{ids['sibling']}"), 404)


def test_pages_follow_the_cursor(engine: Engine, world: Any, campaign_id: int,
                                 login: Any) -> None:
    with committed(engine) as s:
        campaign = s.get(Campaign, campaign_id)
        made = [make_problem(s, campaign, world.township).id for _ in range(7)]
    admin = login("admin")
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = admin.get(f"{API}/problems", params=params).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made


def test_problem_changes_appear_in_the_feed(
    engine: Engine, world: Any, campaign_id: int, login: Any
) -> None:
    staff = login("staff")
    created = staff.post(f"{API}/problems", json=body(world, campaign_id)).json()
    url = f"{API}/problems/{created['id']}"
    assert staff.delete(url, params={"reason": "录重了"},
                        headers={"If-Match": '"1"'}).status_code == 204
    changes = login("admin").get(f"{API}/changes", params={"types": "problem"}).json()["changes"]
    ours = [(c["op"], c["version"]) for c in changes if c["id"] == created["id"]]
    assert ours == [("upsert", 1), ("delete", 2)]
    assert changes[0]["data"]["category"] == "aging_members"
