"""`/users` and `/tokens`: county administrators manage accounts and API tokens."""

from datetime import datetime, timedelta

import pytest

from app.models.base import utcnow
from app.models.user import TokenScope
from tests.factories import PASSWORD, assert_problem, bearer, committed, make_token

TOKENS = "/api/v1/tokens"
USERS = "/api/v1/users"


def token_by_secret(admin, secret: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The token record (as the admin sees it) whose prefix the secret starts with."""
    items = admin.get(TOKENS).json()["items"]
    (found,) = [t for t in items if secret.startswith(t["prefix"])]
    return found  # type: ignore[no-any-return]


# --- who may manage -----------------------------------------------------------------------


@pytest.mark.parametrize("username", ["staff", "secretary", "viewer", "countyviewer"])
def test_only_county_admin_manages_users_and_tokens(world, login, username):
    user = login(username)
    for r in (
        user.get(USERS), user.get(TOKENS),
        user.post(USERS, json={"username": "new", "display_name": "新人", "role": "viewer",
                               "password": PASSWORD}),
        user.post(TOKENS, json={"name": "县平台", "scope": "read"}),
    ):
        body = assert_problem(r, 403)
        assert "县委组织部管理员" in body["detail"]


def test_api_tokens_cannot_manage_users_or_tokens(world, client, engine):
    with committed(engine) as s:
        auth = bearer(make_token(s, scope=TokenScope.write))
    assert_problem(client.get(USERS, headers=auth), 403)
    r = client.post(TOKENS, json={"name": "自己造", "scope": "write"}, headers=auth)
    assert_problem(r, 403)


# --- tokens -------------------------------------------------------------------------------


def test_created_token_secret_is_shown_once(world, login, client):
    admin = login("admin")
    r = admin.post(TOKENS, json={"name": "县平台", "scope": "read"})
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["secret"]
    assert secret.startswith("rct_") and len(secret) > 30
    assert secret.startswith(created["prefix"])
    assert created["scope"] == "read"
    assert admin.get(r.headers["Location"]).json()["secret"] is None
    listed = admin.get(TOKENS)
    assert [t["secret"] for t in listed.json()["items"]] == [None]
    assert secret not in listed.text
    assert client.get("/api/v1/branches", headers=bearer(secret)).status_code == 200


def test_token_secret_never_reaches_audit_trail_or_change_feed(world, login):
    admin = login("admin")
    secret = admin.post(TOKENS, json={"name": "县平台", "scope": "read"}).json()["secret"]
    trail = admin.get("/api/v1/audit-events", params={"entity_type": "api_token"})
    assert trail.json()["items"][0]["changes"]["secret_hash"] == [None, "***"]
    feed = admin.get("/api/v1/changes", params={"types": "api_token"})
    assert feed.json()["changes"][0]["data"]["name"] == "县平台"
    for text in (trail.text, feed.text):
        assert secret not in text and secret[len("rct_"):] not in text
        assert "secret_hash\":\"" not in text.replace(" ", "")


def test_revoked_token_is_401(world, login, client):
    admin = login("admin")
    created = admin.post(TOKENS, json={"name": "县平台", "scope": "read"}).json()
    auth = bearer(created["secret"])
    assert client.get("/api/v1/branches", headers=auth).status_code == 200
    r = admin.patch(f"{TOKENS}/{created['id']}", json={"revoked": True, "version": 1})
    assert r.status_code == 200, r.text
    assert r.json()["revoked_at"] is not None
    body = assert_problem(client.get("/api/v1/branches", headers=auth), 401)
    assert body["detail"] == "API 令牌已被吊销"


def test_restored_token_works_again(world, login, client):
    admin = login("admin")
    created = admin.post(TOKENS, json={"name": "县平台", "scope": "read"}).json()
    url = f"{TOKENS}/{created['id']}"
    admin.patch(url, json={"revoked": True, "version": 1})
    assert admin.patch(url, json={"revoked": False, "version": 2}).json()["revoked_at"] is None
    assert client.get("/api/v1/branches", headers=bearer(created["secret"])).status_code == 200


def test_deleted_token_is_401_and_gone(world, login, client):
    admin = login("admin")
    created = admin.post(TOKENS, json={"name": "县平台", "scope": "read"}).json()
    assert admin.delete(f"{TOKENS}/{created['id']}").status_code == 204
    assert_problem(client.get("/api/v1/branches", headers=bearer(created["secret"])), 401)
    assert_problem(admin.get(f"{TOKENS}/{created['id']}"), 404)
    assert admin.get(TOKENS).json()["items"] == []


def test_expired_token_is_401(world, client, engine):
    with committed(engine) as s:
        secret = make_token(s, expires_at=utcnow() - timedelta(minutes=1))
    body = assert_problem(client.get("/api/v1/branches", headers=bearer(secret)), 401)
    assert body["detail"] == "API 令牌已过期"


def test_token_not_yet_expired_works(world, client, engine):
    with committed(engine) as s:
        secret = make_token(s, expires_at=utcnow() + timedelta(minutes=5))
    assert client.get("/api/v1/branches", headers=bearer(secret)).status_code == 200


def test_expires_days_sets_expiry(world, login):
    r = login("admin").post(TOKENS, json={"name": "县平台", "scope": "read", "expires_days": 30})
    assert r.status_code == 201, r.text
    expires = datetime.fromisoformat(r.json()["expires_at"])
    assert timedelta(days=29, hours=23) < expires - utcnow() <= timedelta(days=30)


def test_last_used_at_is_set_after_use(world, login, client, engine):
    with committed(engine) as s:
        secret = make_token(s, scope=TokenScope.read)
    admin = login("admin")
    assert token_by_secret(admin, secret)["last_used_at"] is None
    before = utcnow()
    assert client.get("/api/v1/branches", headers=bearer(secret)).status_code == 200
    used = token_by_secret(admin, secret)["last_used_at"]
    assert used is not None
    assert datetime.fromisoformat(used) >= before - timedelta(seconds=1)


def test_token_limited_to_unknown_township_is_refused(world, login):
    r = login("admin").post(TOKENS, json={"name": "县平台", "scope": "read", "township_id": 99999})
    assert_problem(r, 422, field="township_id")


@pytest.mark.parametrize(("body", "field"), [
    ({"scope": "read"}, "name"),
    ({"name": "县平台", "scope": "admin"}, "scope"),
    ({"name": "县平台", "expires_days": 0}, "expires_days"),
])
def test_invalid_token_is_refused(world, login, body, field):
    assert_problem(login("admin").post(TOKENS, json=body), 422, field=field)


def test_token_limited_to_township_created_over_api_sees_only_that_township(world, login, client):
    r = login("admin").post(TOKENS, json={"name": "甲镇平台", "scope": "read",
                                          "township_id": world.township.id})
    assert r.status_code == 201, r.text
    items = client.get("/api/v1/branches", headers=bearer(r.json()["secret"])).json()["items"]
    assert [b["name"] for b in items] == ["甲一村党支部"]


# --- users --------------------------------------------------------------------------------


def test_admin_creates_user_who_can_then_log_in(world, login):
    admin = login("admin")
    r = admin.post(USERS, json={"username": "zhang.san", "display_name": "张三",
                                "role": "township_staff", "township_id": world.township.id,
                                "password": "long-enough-1"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["username"], body["role"], body["township_id"]) == (
        "zhang.san", "township_staff", world.township.id)
    assert "password" not in body and "password_hash" not in body
    assert r.headers["Location"] == f"{USERS}/{body['id']}"
    me = login("zhang.san", "long-enough-1").get("/api/v1/auth/me").json()
    assert me["username"] == "zhang.san"


def test_secretary_takes_the_township_of_the_branch(world, login):
    r = login("admin").post(USERS, json={
        "username": "li", "display_name": "李书记", "role": "branch_secretary",
        "branch_id": world.other_branch.id, "password": "long-enough-1"})
    assert r.status_code == 201, r.text
    assert r.json()["township_id"] == world.other_township.id


def test_staff_without_township_is_refused(world, login):
    r = login("admin").post(USERS, json={"username": "wang", "display_name": "王",
                                         "role": "township_staff", "password": "long-enough-1"})
    body = assert_problem(r, 422, field="township_id")
    assert "乡镇" in body["detail"]


def test_secretary_without_branch_is_refused(world, login):
    r = login("admin").post(USERS, json={"username": "wang", "display_name": "王",
                                         "role": "branch_secretary",
                                         "township_id": world.township.id,
                                         "password": "long-enough-1"})
    assert_problem(r, 422, field="branch_id")


def test_duplicate_username_is_refused(world, login):
    admin = login("admin")
    r = admin.post(USERS, json={"username": "staff", "display_name": "另一个",
                                "role": "viewer", "password": "long-enough-1"})
    body = assert_problem(r, 422, field="username")
    assert "staff" in body["detail"]
    assert len([u for u in admin.get(USERS).json()["items"] if u["username"] == "staff"]) == 1


@pytest.mark.parametrize(("overrides", "field"), [
    ({"password": "short"}, "password"),
    ({"username": "有空格 的名字"}, "username"),
    ({"role": "superuser"}, "role"),
    ({"township_id": 99999, "role": "township_staff"}, "township_id"),
    ({"branch_id": 99999, "role": "branch_secretary"}, "branch_id"),
])
def test_invalid_user_is_refused(world, login, overrides, field):
    body = {"username": "newbie", "display_name": "新人", "role": "viewer",
            "password": "long-enough-1", **overrides}
    assert_problem(login("admin").post(USERS, json=body), 422, field=field)


def test_user_listing_shows_every_account_without_hashes(world, login):
    r = login("admin").get(USERS)
    assert {u["username"] for u in r.json()["items"]} == {
        "admin", "staff", "secretary", "viewer", "countyviewer", "otherstaff"}
    assert "password_hash" not in r.text and "argon2" not in r.text


def test_patch_user_needs_version_and_checks_placement(world, login):
    admin = login("admin")
    staff_id = next(u["id"] for u in admin.get(USERS).json()["items"] if u["username"] == "staff")
    url = f"{USERS}/{staff_id}"
    assert_problem(admin.patch(url, json={"display_name": "新名字"}), 428)
    assert_problem(admin.patch(url, json={"township_id": None, "version": 1}), 422,
                   field="township_id")
    r = admin.patch(url, json={"township_id": world.other_township.id, "version": 1})
    assert r.status_code == 200, r.text
    assert (r.json()["township_id"], r.json()["version"]) == (world.other_township.id, 2)


def test_changed_password_replaces_the_old_one(world, login, client):
    admin = login("admin")
    staff_id = next(u["id"] for u in admin.get(USERS).json()["items"] if u["username"] == "staff")
    r = admin.patch(f"{USERS}/{staff_id}", json={"password": "brand-new-pass", "version": 1})
    assert r.status_code == 200, r.text
    old = client.post("/api/v1/auth/login", json={"username": "staff", "password": PASSWORD})
    assert_problem(old, 401)
    new = client.post("/api/v1/auth/login",
                      json={"username": "staff", "password": "brand-new-pass"})
    assert new.status_code == 200


def test_deleted_user_cannot_log_in_and_name_is_free_again(world, login, client):
    admin = login("admin")
    staff_id = next(u["id"] for u in admin.get(USERS).json()["items"] if u["username"] == "staff")
    assert admin.delete(f"{USERS}/{staff_id}", headers={"If-Match": '"1"'}).status_code == 204
    assert_problem(admin.get(f"{USERS}/{staff_id}"), 404)
    r = client.post("/api/v1/auth/login", json={"username": "staff", "password": PASSWORD})
    assert_problem(r, 401)
    r = admin.post(USERS, json={"username": "staff", "display_name": "接任者", "role": "viewer",
                                "password": "long-enough-1"})
    assert r.status_code == 201, r.text
