"""Townships over HTTP: county administrators manage them, everyone else reads their own."""

import pytest

from app.models.user import TokenScope
from tests.factories import assert_problem, bearer, committed, make_token

API = "/api/v1/townships"


def names(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [t["name"] for t in response.json()["items"]]


def test_county_admin_creates_reads_patches_and_deletes_township(world, login):
    admin = login("admin")
    r = admin.post(API, json={"name": " 丙镇 ", "code": "341122103"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["name"], created["code"], created["version"]) == ("丙镇", "341122103", 1)
    assert r.headers["ETag"] == '"1"'
    url = r.headers["Location"]
    assert url == f"{API}/{created['id']}"

    r = admin.get(url)
    assert r.json()["name"] == "丙镇"
    assert r.headers["ETag"] == '"1"'

    r = admin.patch(url, json={"name": "丙镇人民政府"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["version"]) == ("丙镇人民政府", 2)
    assert r.headers["ETag"] == '"2"'

    assert admin.delete(url, headers={"If-Match": '"2"'}).status_code == 204
    assert_problem(admin.get(url), 404)
    assert "丙镇人民政府" not in names(admin.get(API))


def test_county_admin_lists_every_township(world, login):
    assert names(login("admin").get(API)) == ["甲镇", "乙镇"]


@pytest.mark.parametrize("username", ["staff", "viewer", "secretary"])
def test_township_users_see_only_their_own_township(world, login, username):
    user = login(username)
    assert names(user.get(API)) == ["甲镇"]
    assert user.get(f"{API}/{world.township.id}").status_code == 200
    assert_problem(user.get(f"{API}/{world.other_township.id}"), 404)


def test_county_viewer_sees_every_township(world, login):
    assert names(login("countyviewer").get(API)) == ["甲镇", "乙镇"]


def test_q_filters_townships_by_name(world, login):
    assert names(login("admin").get(API, params={"q": "乙"})) == ["乙镇"]


def test_staff_cannot_create_township(world, login):
    body = assert_problem(login("staff").post(API, json={"name": "丁镇", "code": "X1"}), 403)
    assert "县委组织部管理员" in body["detail"]
    assert names(login("admin").get(API)) == ["甲镇", "乙镇"]


def test_staff_cannot_change_or_delete_own_township(world, login):
    staff = login("staff")
    url = f"{API}/{world.township.id}"
    assert_problem(staff.patch(url, json={"name": "改名镇"}, headers={"If-Match": '"1"'}), 403)
    assert_problem(staff.delete(url, headers={"If-Match": '"1"'}), 403)
    assert staff.get(url).json()["name"] == "甲镇"


def test_staff_gets_404_for_other_township(world, login):
    staff = login("staff")
    url = f"{API}/{world.other_township.id}"
    assert_problem(staff.patch(url, json={"name": "改名镇"}, headers={"If-Match": '"1"'}), 404)
    assert_problem(staff.delete(url, headers={"If-Match": '"1"'}), 404)


def test_deleting_township_with_branches_is_409(world, login):
    admin = login("admin")
    url = f"{API}/{world.township.id}"
    body = assert_problem(admin.delete(url, headers={"If-Match": '"1"'}), 409)
    assert "还有党支部" in body["detail"]
    assert admin.get(url).status_code == 200


def test_township_can_be_deleted_once_its_branches_are(world, login):
    admin = login("admin")
    township = admin.post(API, json={"name": "丙镇", "code": "C999"}).json()
    branch = admin.post("/api/v1/branches", json={
        "township_id": township["id"], "name": "丙一村党支部", "kind": "village",
        "member_count": 3}).json()
    assert_problem(admin.delete(f"{API}/{township['id']}", headers={"If-Match": '"1"'}), 409)
    r = admin.delete(f"/api/v1/branches/{branch['id']}", headers={"If-Match": '"1"'})
    assert r.status_code == 204
    r = admin.delete(f"{API}/{township['id']}", headers={"If-Match": '"1"'})
    assert r.status_code == 204, r.text
    assert names(admin.get(API)) == ["甲镇", "乙镇"]


def test_duplicate_code_is_refused(world, login):
    admin = login("admin")
    r = admin.post(API, json={"name": "丙镇", "code": world.township.code})
    body = assert_problem(r, 422, field="code")
    assert world.township.code in body["detail"]
    assert names(admin.get(API)) == ["甲镇", "乙镇"]


def test_patching_to_a_taken_code_is_refused(world, login):
    admin = login("admin")
    r = admin.patch(f"{API}/{world.other_township.id}", json={"code": world.township.code},
                    headers={"If-Match": '"1"'})
    assert_problem(r, 422, field="code")
    assert admin.get(f"{API}/{world.other_township.id}").json()["code"] == world.other_township.code


def test_deleted_townships_code_can_be_reused(world, login):
    admin = login("admin")
    r = admin.post(API, json={"name": "丙镇", "code": "C-1"})
    assert admin.delete(r.headers["Location"], headers={"If-Match": '"1"'}).status_code == 204
    assert admin.post(API, json={"name": "丙镇", "code": "C-1"}).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [({"code": "C-2"}, "name"), ({"name": "丙镇"}, "code"), ({"name": "  ", "code": "C-3"}, "name"),
     ({"name": "丙镇", "code": "C" * 21}, "code")],
)
def test_invalid_township_is_refused(world, login, body, field):
    assert_problem(login("admin").post(API, json=body), 422, field=field)


def test_patch_needs_a_version(world, login):
    r = login("admin").patch(f"{API}/{world.township.id}", json={"name": "改名镇"})
    assert_problem(r, 428)


def test_patch_with_stale_version_is_412(world, login):
    admin = login("admin")
    url = f"{API}/{world.township.id}"
    assert admin.patch(url, json={"name": "改名镇", "version": 1}).status_code == 200
    r = admin.patch(url, json={"name": "再改名镇", "version": 1})
    assert_problem(r, 412)
    assert r.headers["ETag"] == '"2"'
    assert admin.get(url).json()["name"] == "改名镇"


def test_county_write_token_manages_townships(world, client, engine):
    with committed(engine) as s:
        auth = bearer(make_token(s, scope=TokenScope.write))
    r = client.post(API, json={"name": "丙镇", "code": "C-9"}, headers=auth)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("limited", [False, True])
def test_read_token_or_township_token_cannot_create_township(world, client, engine, limited):
    with committed(engine) as s:
        secret = make_token(s, scope=TokenScope.read if not limited else TokenScope.write,
                            township=world.township if limited else None)
    r = client.post(API, json={"name": "丙镇", "code": "C-9"}, headers=bearer(secret))
    assert_problem(r, 403)
