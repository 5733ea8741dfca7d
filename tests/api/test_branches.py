"""The branch register over HTTP: who may do what, filters with their flags, validation."""

from datetime import date
from decimal import Decimal

import pytest

from app.models.branch import BranchKind
from app.models.user import TokenScope
from tests.factories import assert_problem, bearer, committed, make_branch, make_token

API = "/api/v1/branches"
THIS_YEAR = date.today().year


def new_branch(township_id: int, **overrides: object) -> dict[str, object]:
    """A valid body of `POST /branches`."""
    return {
        "township_id": township_id, "name": "新建村党支部", "kind": "village",
        "member_count": 20, "members_35_under": 4, "members_36_55": 10, "members_56_over": 6,
        "secretary_name": "王书记", "secretary_birth_year": 1975,
        "secretary_is_director": True, **overrides,
    }


def names(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [b["name"] for b in response.json()["items"]]


def branch_count(engine) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    with engine.connect() as conn:
        live = text("SELECT count(*) FROM branch WHERE deleted_at IS NULL")
        return conn.execute(live).scalar_one()  # type: ignore[no-any-return]


def if_match(version: int = 1) -> dict[str, str]:
    return {"If-Match": f'"{version}"'}


# --- county administrator ---------------------------------------------------------------


def test_county_admin_lists_branches_of_every_township(world, login):
    admin = login("admin")
    assert sorted(names(admin.get(API))) == ["乙一村党支部", "甲一村党支部"]


def test_county_admin_creates_branch_in_any_township(world, login):
    admin = login("admin")
    r = admin.post(API, json=new_branch(world.other_township.id))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "新建村党支部"
    assert body["township_id"] == world.other_township.id
    assert body["township_name"] == "乙镇"
    assert body["version"] == 1
    assert body["flags"] == []
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == f"{API}/{body['id']}"
    assert admin.get(r.headers["Location"]).json()["name"] == "新建村党支部"


def test_county_admin_reads_patches_and_deletes_any_branch(world, login):
    admin = login("admin")
    url = f"{API}/{world.other_branch.id}"
    assert admin.get(url).json()["name"] == "乙一村党支部"
    r = admin.patch(url, json={"member_count": 40, "members_56_over": 20}, headers=if_match(1))
    assert r.status_code == 200, r.text
    assert r.json()["member_count"] == 40
    assert admin.delete(url, headers=if_match(2)).status_code == 204
    assert_problem(admin.get(url), 404)
    assert names(admin.get(API)) == ["甲一村党支部"]


# --- township staff ---------------------------------------------------------------------


def test_staff_lists_only_own_township_branches(world, login):
    staff = login("staff")
    assert names(staff.get(API)) == ["甲一村党支部"]
    assert names(staff.get(API, params={"township_id": world.other_township.id})) == []


def test_staff_creates_patches_and_deletes_own_township_branch(world, login):
    staff = login("staff")
    r = staff.post(API, json=new_branch(world.township.id))
    assert r.status_code == 201, r.text
    url = f"{API}/{r.json()['id']}"
    r = staff.patch(url, json={"notes": "已核实"}, headers=if_match(1))
    assert r.status_code == 200, r.text
    assert r.json()["notes"] == "已核实"
    assert staff.delete(url, headers=if_match(2)).status_code == 204


def test_staff_cannot_read_patch_or_delete_other_township_branch(world, login, engine):
    staff = login("staff")
    url = f"{API}/{world.other_branch.id}"
    assert_problem(staff.get(url), 404)
    assert_problem(staff.patch(url, json={"notes": "x"}, headers=if_match(1)), 404)
    assert_problem(staff.delete(url, headers=if_match(1)), 404)
    assert login("admin").get(url).json()["version"] == 1


def test_staff_cannot_create_branch_in_other_township(world, login, engine):
    staff = login("staff")
    body = assert_problem(staff.post(API, json=new_branch(world.other_township.id)), 403)
    assert "本乡镇" in body["detail"]
    assert branch_count(engine) == 2


# --- branch secretary -------------------------------------------------------------------


def test_secretary_reads_only_own_branch(world, login, engine):
    with committed(engine) as s:
        sibling = make_branch(s, world.township, name="甲二村党支部")
    secretary = login("secretary")
    assert names(secretary.get(API)) == ["甲一村党支部"]
    assert secretary.get(f"{API}/{world.branch.id}").status_code == 200
    assert_problem(secretary.get(f"{API}/{sibling.id}"), 404)
    assert_problem(secretary.get(f"{API}/{world.other_branch.id}"), 404)


def test_secretary_cannot_write_branches(world, login, engine):
    secretary = login("secretary")
    own = f"{API}/{world.branch.id}"
    assert_problem(secretary.post(API, json=new_branch(world.township.id)), 403)
    assert_problem(secretary.patch(own, json={"member_count": 31}, headers=if_match(1)), 403)
    assert_problem(secretary.delete(own, headers=if_match(1)), 403)
    assert secretary.get(own).json()["member_count"] == 30
    assert branch_count(engine) == 2


# --- viewers ----------------------------------------------------------------------------


def test_township_viewer_reads_own_township_only(world, login):
    viewer = login("viewer")
    assert names(viewer.get(API)) == ["甲一村党支部"]
    assert viewer.get(f"{API}/{world.branch.id}").status_code == 200
    assert_problem(viewer.get(f"{API}/{world.other_branch.id}"), 404)


def test_county_viewer_reads_every_branch(world, login):
    viewer = login("countyviewer")
    assert sorted(names(viewer.get(API))) == ["乙一村党支部", "甲一村党支部"]
    assert viewer.get(f"{API}/{world.other_branch.id}").status_code == 200


@pytest.mark.parametrize("username", ["viewer", "countyviewer"])
def test_viewer_cannot_write_branches(world, login, engine, username):
    viewer = login(username)
    own = f"{API}/{world.branch.id}"
    assert_problem(viewer.post(API, json=new_branch(world.township.id)), 403)
    assert_problem(viewer.patch(own, json={"notes": "x"}, headers=if_match(1)), 403)
    assert_problem(viewer.delete(own, headers=if_match(1)), 403)
    assert branch_count(engine) == 2


# --- API tokens -------------------------------------------------------------------------


def test_read_token_reads_but_cannot_write(world, client, engine):
    with committed(engine) as s:
        auth = bearer(make_token(s, scope=TokenScope.read))
    assert sorted(names(client.get(API, headers=auth))) == ["乙一村党支部", "甲一村党支部"]
    url = f"{API}/{world.branch.id}"
    assert client.get(url, headers=auth).status_code == 200
    detail = assert_problem(client.post(API, json=new_branch(world.township.id), headers=auth),
                            403)["detail"]
    assert "只有读取权限" in detail
    assert_problem(client.patch(url, json={"notes": "x"}, headers={**auth, **if_match(1)}), 403)
    assert_problem(client.delete(url, headers={**auth, **if_match(1)}), 403)
    assert branch_count(engine) == 2


def test_write_token_creates_patches_and_deletes(world, client, engine):
    with committed(engine) as s:
        auth = bearer(make_token(s, scope=TokenScope.write))
    r = client.post(API, json=new_branch(world.other_township.id), headers=auth)
    assert r.status_code == 201, r.text
    url = f"{API}/{r.json()['id']}"
    r = client.patch(url, json={"secretary_is_director": False}, headers={**auth, **if_match(1)})
    assert r.status_code == 200, r.text
    assert r.json()["flags"] == ["no_dual_role"]
    assert client.delete(url, headers={**auth, **if_match(2)}).status_code == 204
    assert_problem(client.get(url, headers=auth), 404)


def test_township_token_cannot_reach_other_township_branch(world, client, engine):
    with committed(engine) as s:
        auth = bearer(make_token(s, scope=TokenScope.write, township=world.township))
    assert names(client.get(API, headers=auth)) == ["甲一村党支部"]
    other = f"{API}/{world.other_branch.id}"
    assert_problem(client.get(other, headers=auth), 404)
    assert_problem(client.patch(other, json={"notes": "x"}, headers={**auth, **if_match(1)}), 404)
    assert_problem(client.delete(other, headers={**auth, **if_match(1)}), 404)
    assert_problem(client.post(API, json=new_branch(world.other_township.id), headers=auth), 403)
    r = client.post(API, json=new_branch(world.township.id), headers=auth)
    assert r.status_code == 201, r.text


# --- unauthenticated --------------------------------------------------------------------


def test_unauthenticated_requests_get_401_problem(world, client, engine):
    url = f"{API}/{world.branch.id}"
    for response in (
        client.get(API), client.get(url), client.post(API, json=new_branch(world.township.id)),
        client.patch(url, json={"notes": "x"}, headers=if_match(1)),
        client.delete(url, headers=if_match(1)),
    ):
        body = assert_problem(response, 401)
        assert body["detail"] == "请先登录"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert branch_count(engine) == 2


@pytest.mark.parametrize("authorization", ["Bearer rct_not-a-real-token", "Basic YWRtaW46eA==",
                                           "Bearer "])
def test_bad_authorization_header_gets_401(world, client, authorization):
    assert_problem(client.get(API, headers={"Authorization": authorization}), 401)


# --- filters and flags ------------------------------------------------------------------


@pytest.fixture
def register(world, engine):  # type: ignore[no-untyped-def]
    """Branches of 甲镇, each showing one warning flag (or, by name, none)."""
    with committed(engine) as s:
        t = world.township
        make_branch(s, t, name="年龄段不全村党支部", members_35_under=5, members_36_55=10,
                    members_56_over=5)
        make_branch(s, t, name="年龄未登记村党支部", member_count=10, members_35_under=None,
                    members_36_55=None, members_56_over=None)
        make_branch(s, t, name="老书记村党支部", secretary_name="李老",
                    secretary_birth_year=THIS_YEAR - 60)
        make_branch(s, t, name="五十九岁书记村党支部", secretary_birth_year=THIS_YEAR - 59)
        make_branch(s, t, name="未一肩挑村党支部", secretary_is_director=False)
        make_branch(s, t, name="未一肩挑社区党支部", kind=BranchKind.community,
                    secretary_is_director=False)
        make_branch(s, t, name="收入低村党支部", collective_income_wan=Decimal("4.99"))
        make_branch(s, t, name="收入五万村党支部", collective_income_wan=Decimal("5.00"))
        make_branch(s, t, name="收入低社区党支部", kind=BranchKind.community,
                    collective_income_wan=Decimal("1"))
        make_branch(s, t, name="无青年村党支部", members_35_under=0, members_36_55=20,
                    members_56_over=10)
        make_branch(s, t, name="镇机关党支部", kind=BranchKind.organ, secretary_name="张明")
    return world


FLAG_CASES = {
    "age_bands_incomplete": {"年龄段不全村党支部", "年龄未登记村党支部"},
    "secretary_60_plus": {"老书记村党支部"},
    "no_dual_role": {"未一肩挑村党支部"},
    "low_collective_income": {"收入低村党支部"},
    "no_young_members": {"无青年村党支部"},
}


@pytest.mark.parametrize("flag", sorted(FLAG_CASES))
def test_flag_filter_lists_exactly_the_flagged_branches(register, login, flag):
    admin = login("admin")
    r = admin.get(API, params={"flag": flag})
    assert set(names(r)) == FLAG_CASES[flag]
    assert all(b["flags"] == [flag] for b in r.json()["items"])


def test_each_branch_carries_its_flags(register, login):
    admin = login("admin")
    flags = {b["name"]: b["flags"] for b in admin.get(API, params={"limit": 500}).json()["items"]}
    for flag, flagged in FLAG_CASES.items():
        for name in flagged:
            assert flags[name] == [flag], name
    for healthy in ("甲一村党支部", "五十九岁书记村党支部", "未一肩挑社区党支部",
                    "收入五万村党支部", "收入低社区党支部", "镇机关党支部"):
        assert flags[healthy] == [], healthy


def test_branch_with_several_warnings_carries_every_flag(world, login, engine):
    with committed(engine) as s:
        b = make_branch(s, world.township, name="问题多村党支部", members_35_under=0,
                        members_36_55=10, members_56_over=10, secretary_birth_year=1950,
                        secretary_is_director=False, collective_income_wan=Decimal("0.5"))
    r = login("admin").get(f"{API}/{b.id}")
    assert r.json()["flags"] == ["age_bands_incomplete", "secretary_60_plus", "no_dual_role",
                                 "low_collective_income", "no_young_members"]


def test_flag_filter_stays_within_the_callers_township(register, login, engine):
    with committed(engine) as s:
        make_branch(s, register.other_township, name="乙镇老书记村党支部",
                    secretary_birth_year=1950)
    old_secretaries = {"flag": "secretary_60_plus"}
    assert names(login("staff").get(API, params=old_secretaries)) == ["老书记村党支部"]
    assert set(names(login("admin").get(API, params=old_secretaries))) == {
        "老书记村党支部", "乙镇老书记村党支部"}


def test_unknown_flag_is_422(world, login):
    assert_problem(login("admin").get(API, params={"flag": "rich"}), 422, field="flag")


def test_filter_by_township(register, login):
    admin = login("admin")
    assert names(admin.get(API, params={"township_id": register.other_township.id})) == [
        "乙一村党支部"]
    assert "乙一村党支部" not in names(admin.get(API, params={"township_id": register.township.id}))


def test_filter_by_kind(register, login):
    admin = login("admin")
    assert set(names(admin.get(API, params={"kind": "community"}))) == {
        "未一肩挑社区党支部", "收入低社区党支部"}
    assert names(admin.get(API, params={"kind": "organ"})) == ["镇机关党支部"]
    assert names(admin.get(API, params={"kind": "school"})) == []
    assert_problem(admin.get(API, params={"kind": "city"}), 422, field="kind")


def test_q_matches_branch_name_or_secretary_name(register, login):
    admin = login("admin")
    assert set(names(admin.get(API, params={"q": "社区"}))) == {"未一肩挑社区党支部",
                                                             "收入低社区党支部"}
    assert names(admin.get(API, params={"q": "张明"})) == ["镇机关党支部"]
    assert names(admin.get(API, params={"q": "李老"})) == ["老书记村党支部"]
    assert names(admin.get(API, params={"q": "没有这个"})) == []


def test_filters_combine(register, login):
    admin = login("admin")
    r = admin.get(API, params={"kind": "community", "q": "收入",
                               "township_id": register.township.id})
    assert names(r) == ["收入低社区党支部"]


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["member_count", "members_35_under", "members_36_55",
                                   "members_56_over", "applicants_35_under"])
def test_negative_count_is_refused(world, login, engine, field):
    r = login("admin").post(API, json=new_branch(world.township.id, **{field: -1}))
    body = assert_problem(r, 422, field=field)
    assert body["errors"][0]["message"] == "不能小于 0"
    assert branch_count(engine) == 2


def test_age_bands_above_member_count_are_refused(world, login, engine):
    r = login("admin").post(API, json=new_branch(world.township.id, member_count=10))
    body = assert_problem(r, 422, field="member_count")
    assert "超过党员总数" in body["detail"]
    assert branch_count(engine) == 2


def test_patch_lowering_member_count_below_age_bands_is_refused(world, login):
    admin = login("admin")
    url = f"{API}/{world.branch.id}"
    assert_problem(admin.patch(url, json={"member_count": 10}, headers=if_match(1)), 422,
                   field="member_count")
    after = admin.get(url).json()
    assert (after["member_count"], after["version"]) == (30, 1)


@pytest.mark.parametrize("year", [1800, 1919, THIS_YEAR + 1, THIS_YEAR - 10])
def test_implausible_secretary_birth_year_is_refused(world, login, year):
    admin = login("admin")
    r = admin.post(API, json=new_branch(world.township.id, secretary_birth_year=year))
    body = assert_problem(r, 422, field="secretary_birth_year")
    assert "出生年份" in body["errors"][0]["message"]
    r = admin.patch(f"{API}/{world.branch.id}", json={"secretary_birth_year": year},
                    headers=if_match(1))
    assert_problem(r, 422, field="secretary_birth_year")


def test_plausible_secretary_birth_year_is_kept(world, login):
    r = login("admin").post(API, json=new_branch(world.township.id, secretary_birth_year=1968))
    assert r.status_code == 201, r.text
    assert r.json()["secretary_birth_year"] == 1968


def test_duplicate_name_in_same_township_is_refused(world, login, engine):
    admin = login("admin")
    for name in ("甲一村党支部", "  甲一村党支部 "):
        r = admin.post(API, json=new_branch(world.township.id, name=name))
        body = assert_problem(r, 422, field="name")
        assert "甲一村党支部" in body["detail"]
    assert branch_count(engine) == 2


def test_same_name_in_another_township_is_allowed(world, login):
    r = login("admin").post(API, json=new_branch(world.other_township.id, name="甲一村党支部"))
    assert r.status_code == 201, r.text


def test_deleted_branch_name_can_be_reused(world, login):
    admin = login("admin")
    first = admin.post(API, json=new_branch(world.township.id, name="甲二村党支部")).json()
    assert admin.delete(f"{API}/{first['id']}", headers=if_match(1)).status_code == 204
    r = admin.post(API, json=new_branch(world.township.id, name="甲二村党支部"))
    assert r.status_code == 201, r.text
    assert r.json()["id"] != first["id"]


def test_renaming_to_a_taken_name_is_refused(world, login, engine):
    with committed(engine) as s:
        sibling = make_branch(s, world.township, name="甲二村党支部")
    admin = login("admin")
    r = admin.patch(f"{API}/{sibling.id}", json={"name": "甲一村党支部"}, headers=if_match(1))
    assert_problem(r, 422, field="name")
    assert admin.get(f"{API}/{sibling.id}").json()["name"] == "甲二村党支部"


def test_unknown_township_is_refused(world, login):
    r = login("admin").post(API, json=new_branch(99999))
    body = assert_problem(r, 422, field="township_id")
    assert body["detail"] == "所选乡镇不存在"


def test_invalid_kind_is_refused(world, login):
    r = login("admin").post(API, json=new_branch(world.township.id, kind="city"))
    body = assert_problem(r, 422, field="kind")
    assert "取值无效" in body["errors"][0]["message"]


@pytest.mark.parametrize("value", ["abc", 3.5, "12人"])
def test_non_integer_member_count_is_refused(world, login, value):
    r = login("admin").post(API, json=new_branch(world.township.id, member_count=value))
    body = assert_problem(r, 422, field="member_count")
    assert body["errors"][0]["message"] == "应为整数"


def test_patch_setting_member_count_to_null_is_refused(world, login):
    admin = login("admin")
    url = f"{API}/{world.branch.id}"
    r = admin.patch(url, json={"member_count": None}, headers=if_match(1))
    body = assert_problem(r, 422, field="member_count")
    assert body["errors"][0]["message"] == "不能为空"
    assert admin.get(url).json()["member_count"] == 30


@pytest.mark.parametrize("field", ["name", "township_id"])
def test_missing_required_field_is_refused(world, login, field):
    body = new_branch(world.township.id)
    del body[field]
    problem = assert_problem(login("admin").post(API, json=body), 422, field=field)
    assert problem["errors"][0]["message"] == "必填"


def test_blank_name_is_refused(world, login):
    assert_problem(login("admin").post(API, json=new_branch(world.township.id, name="   ")), 422,
                   field="name")


def test_income_with_three_decimals_is_refused(world, login):
    r = login("admin").post(API, json=new_branch(world.township.id, collective_income_wan="1.234"))
    assert_problem(r, 422, field="collective_income_wan")


def test_one_request_reports_every_invalid_field(world, login):
    r = login("admin").post(API, json=new_branch(world.township.id, member_count=-1,
                                                 kind="city", secretary_birth_year=1800))
    fields = {e["field"] for e in assert_problem(r, 422)["errors"]}
    assert fields == {"member_count", "kind", "secretary_birth_year"}
