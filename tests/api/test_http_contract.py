"""What every endpoint promises over HTTP: CSRF, ETag/If-Match, Idempotency-Key, the audit
trail, JSON or htmx fragments, keyset pages, request ids and the change feed."""

import base64
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.models.user import TokenScope
from tests.factories import assert_problem, bearer, committed, make_branch, make_token

BRANCHES = "/api/v1/branches"
AUDIT = "/api/v1/audit-events"
CHANGES = "/api/v1/changes"


def new_branch(township_id: int, name: str = "契约村党支部", **overrides: object) -> dict:  # type: ignore[type-arg]
    return {"township_id": township_id, "name": name, "kind": "village", "member_count": 20,
            "members_35_under": 5, "members_36_55": 10, "members_56_over": 5,
            "secretary_is_director": True, **overrides}


def count(engine, sql: str) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()  # type: ignore[no-any-return]


def live_branches_named(engine, name: str) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(  # type: ignore[no-any-return]
            text("SELECT count(*) FROM branch WHERE name = :n AND deleted_at IS NULL"), {"n": name}
        ).scalar_one()


def forged_cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# --- CSRF ---------------------------------------------------------------------------------


def test_cookie_post_without_csrf_header_is_403(world, login, engine):
    admin = login("admin")
    del admin.headers["X-CSRF-Token"]
    body = assert_problem(admin.post(BRANCHES, json=new_branch(world.township.id)), 403)
    assert "CSRF" in body["detail"]
    assert live_branches_named(engine, "契约村党支部") == 0


def test_cookie_patch_and_delete_without_csrf_header_are_403(world, login):
    admin = login("admin")
    del admin.headers["X-CSRF-Token"]
    url = f"{BRANCHES}/{world.branch.id}"
    assert_problem(admin.patch(url, json={"member_count": 31}, headers={"If-Match": '"1"'}), 403)
    assert_problem(admin.delete(url, headers={"If-Match": '"1"'}), 403)
    assert admin.get(url).json()["version"] == 1


def test_cookie_request_with_wrong_csrf_token_is_403(world, login, engine):
    admin = login("admin")
    admin.headers["X-CSRF-Token"] = "not-the-token"
    assert_problem(admin.post(BRANCHES, json=new_branch(world.township.id)), 403)
    url = f"{BRANCHES}/{world.branch.id}"
    assert_problem(admin.patch(url, json={"member_count": 31}, headers={"If-Match": '"1"'}), 403)
    assert live_branches_named(engine, "契约村党支部") == 0


def test_csrf_token_of_another_session_is_refused(world, login):
    admin, other = login("admin"), login("admin")
    admin.headers["X-CSRF-Token"] = other.csrf
    assert_problem(admin.post(BRANCHES, json=new_branch(world.township.id)), 403)


def test_csrf_is_checked_before_an_idempotency_key_is_claimed(world, login):
    admin = login("admin")
    csrf = admin.headers.pop("X-CSRF-Token")
    headers = {"Idempotency-Key": "k-csrf"}
    assert_problem(admin.post(BRANCHES, json=new_branch(world.township.id), headers=headers), 403)
    r = admin.post(BRANCHES, json=new_branch(world.township.id),
                   headers={**headers, "X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    assert "Idempotent-Replayed" not in r.headers


def test_cookie_get_needs_no_csrf_header(world, login):
    admin = login("admin")
    del admin.headers["X-CSRF-Token"]
    assert admin.get(BRANCHES).status_code == 200
    assert admin.get(f"{BRANCHES}/{world.branch.id}").status_code == 200


def test_bearer_token_needs_no_csrf_header(world, client, engine):
    with committed(engine) as s:
        auth = bearer(make_token(s, scope=TokenScope.write))
    r = client.post(BRANCHES, json=new_branch(world.township.id), headers=auth)
    assert r.status_code == 201, r.text
    r = client.patch(r.headers["Location"], json={"notes": "系统同步"},
                     headers={**auth, "If-Match": '"1"'})
    assert r.status_code == 200, r.text


# --- ETag / If-Match ----------------------------------------------------------------------


def test_single_branch_carries_its_version_as_etag(world, login):
    r = login("admin").get(f"{BRANCHES}/{world.branch.id}")
    assert r.headers["ETag"] == '"1"'
    assert r.json()["version"] == 1


def test_patch_without_if_match_or_version_is_428(world, login):
    admin = login("admin")
    url = f"{BRANCHES}/{world.branch.id}"
    body = assert_problem(admin.patch(url, json={"member_count": 31}), 428)
    assert "If-Match" in body["detail"]
    assert admin.get(url).json()["member_count"] == 30


def test_patch_with_correct_if_match_answers_new_version(world, login):
    r = login("admin").patch(f"{BRANCHES}/{world.branch.id}", json={"member_count": 31},
                             headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.json()["member_count"]) == (2, 31)
    assert r.headers["ETag"] == '"2"'


def test_patch_with_stale_if_match_is_412_with_current_etag(world, login):
    admin = login("admin")
    url = f"{BRANCHES}/{world.branch.id}"
    assert admin.patch(url, json={"member_count": 31}, headers={"If-Match": '"1"'}).status_code \
        == 200
    r = admin.patch(url, json={"member_count": 40}, headers={"If-Match": '"1"'})
    body = assert_problem(r, 412)
    assert r.headers["ETag"] == '"2"'
    assert body["current_version"] == 2
    assert admin.get(url).json()["member_count"] == 31


def test_version_in_body_works_like_if_match(world, login):
    admin = login("admin")
    url = f"{BRANCHES}/{world.branch.id}"
    r = admin.patch(url, json={"member_count": 31, "version": 1})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    r = admin.patch(url, json={"member_count": 32, "version": 1})
    assert_problem(r, 412)
    assert r.headers["ETag"] == '"2"'


def test_weak_etag_is_accepted_and_malformed_if_match_is_422(world, login):
    admin = login("admin")
    url = f"{BRANCHES}/{world.branch.id}"
    assert_problem(admin.patch(url, json={"notes": "x"}, headers={"If-Match": "yesterday"}), 422,
                   field="If-Match")
    r = admin.patch(url, json={"notes": "x"}, headers={"If-Match": 'W/"1"'})
    assert r.status_code == 200, r.text


def test_delete_needs_current_version(world, login):
    admin = login("admin")
    # a branch with nothing attached (world.branch has its secretary's account)
    url = f"{BRANCHES}/{admin.post(BRANCHES, json=new_branch(world.township.id)).json()['id']}"
    assert_problem(admin.delete(url), 428)
    admin.patch(url, json={"notes": "改过"}, headers={"If-Match": '"1"'})
    r = admin.delete(url, headers={"If-Match": '"1"'})
    assert_problem(r, 412)
    assert r.headers["ETag"] == '"2"'
    assert admin.get(url).status_code == 200
    assert admin.delete(url, headers={"If-Match": '"2"'}).status_code == 204
    assert_problem(admin.get(url), 404)


# --- Idempotency-Key ----------------------------------------------------------------------


def test_replay_with_same_key_and_body_answers_first_response(world, login, engine):
    admin = login("admin")
    headers = {"Idempotency-Key": "form-0001"}
    body = new_branch(world.township.id)
    first = admin.post(BRANCHES, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = admin.post(BRANCHES, json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert live_branches_named(engine, "契约村党支部") == 1


def test_same_key_with_different_body_is_422(world, login, engine):
    admin = login("admin")
    headers = {"Idempotency-Key": "form-0002"}
    assert admin.post(BRANCHES, json=new_branch(world.township.id), headers=headers).status_code \
        == 201
    r = admin.post(BRANCHES, json=new_branch(world.township.id, name="另一村党支部"),
                   headers=headers)
    body = assert_problem(r, 422)
    assert "Idempotency-Key" in body["detail"]
    assert live_branches_named(engine, "另一村党支部") == 0


def test_same_key_on_another_endpoint_is_422(world, login):
    admin = login("admin")
    headers = {"Idempotency-Key": "form-0003"}
    assert admin.post(BRANCHES, json=new_branch(world.township.id), headers=headers).status_code \
        == 201
    r = admin.post("/api/v1/townships", json=new_branch(world.township.id), headers=headers)
    assert_problem(r, 422)


def test_different_users_with_same_key_do_not_collide(world, login, engine):
    headers = {"Idempotency-Key": "shared-key"}
    a = login("admin").post(BRANCHES, json=new_branch(world.other_township.id), headers=headers)
    b = login("staff").post(BRANCHES, json=new_branch(world.township.id), headers=headers)
    assert (a.status_code, b.status_code) == (201, 201), (a.text, b.text)
    assert "Idempotent-Replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]
    assert live_branches_named(engine, "契约村党支部") == 2


def test_rejected_request_does_not_use_up_its_key(world, login, engine):
    admin = login("admin")
    headers = {"Idempotency-Key": "form-0004"}
    bad = admin.post(BRANCHES, json=new_branch(world.township.id, member_count=1), headers=headers)
    assert_problem(bad, 422, field="member_count")
    good = admin.post(BRANCHES, json=new_branch(world.township.id), headers=headers)
    assert good.status_code == 201, good.text
    assert "Idempotent-Replayed" not in good.headers
    assert count(engine, "SELECT count(*) FROM idempotency_record") == 1


def test_overlong_idempotency_key_is_422(world, login):
    r = login("admin").post(BRANCHES, json=new_branch(world.township.id),
                            headers={"Idempotency-Key": "k" * 201})
    assert_problem(r, 422)


@pytest.mark.parametrize("auth", ["cookie", "token"])
def test_concurrent_requests_with_same_key_store_one_branch(world, login, app, engine, auth):
    if auth == "cookie":
        admin = login("admin")
        headers = {"Cookie": f"rectify_session={admin.cookies.get('rectify_session')}",
                   "X-CSRF-Token": admin.csrf}
    else:
        with committed(engine) as s:
            headers = bearer(make_token(s, scope=TokenScope.write))
    headers["Idempotency-Key"] = "burst-1"
    body = new_branch(world.township.id, name="并发村党支部")
    n = 20
    start = threading.Barrier(n, timeout=30)

    def send(_: int):  # type: ignore[no-untyped-def]
        client = TestClient(app)
        start.wait()
        return client.post(BRANCHES, json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=n) as pool:
        responses = list(pool.map(send, range(n)))

    assert [r.status_code for r in responses] == [201] * n, [r.text for r in responses]
    (branch_id,) = {r.json()["id"] for r in responses}
    assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1
    assert live_branches_named(engine, "并发村党支部") == 1
    assert count(engine, "SELECT count(*) FROM idempotency_record") == 1
    assert count(engine, "SELECT count(*) FROM audit_event WHERE entity_type = 'branch' "
                         f"AND entity_id = {branch_id}") == 1


# --- audit trail --------------------------------------------------------------------------


def trail(client, branch_id: int) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    r = client.get(AUDIT, params={"entity_type": "branch", "entity_id": branch_id})
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def test_create_patch_and_delete_are_audited_with_actor_changes_and_request_id(world, login):
    admin = login("admin")
    r = admin.post(BRANCHES, json=new_branch(world.township.id, name="审计村党支部"),
                   headers={"X-Request-ID": "req-create-1"})
    branch_id = r.json()["id"]
    url = f"{BRANCHES}/{branch_id}"
    r = admin.patch(url, json={"member_count": 25, "notes": "复核"},
                    headers={"If-Match": '"1"', "X-Request-ID": "req-patch-1"})
    assert r.status_code == 200, r.text
    assert admin.delete(url, headers={"If-Match": '"2"', "X-Request-ID": "req-del-1"}) \
        .status_code == 204

    created, updated, deleted = trail(admin, branch_id)
    assert (created["action"], created["actor"], created["request_id"]) == (
        "create", "user:admin", "req-create-1")
    assert created["entity_type"] == "branch" and created["entity_id"] == branch_id
    assert created["changes"]["name"] == [None, "审计村党支部"]
    assert created["changes"]["member_count"] == [None, 20]

    assert (updated["action"], updated["actor"], updated["request_id"]) == (
        "update", "user:admin", "req-patch-1")
    assert updated["changes"] == {"member_count": [20, 25], "notes": [None, "复核"]}

    assert (deleted["action"], deleted["request_id"]) == ("delete", "req-del-1")
    old, new = deleted["changes"]["deleted_at"]
    assert old is None and new is not None


def test_token_writes_are_audited_under_the_token(world, client, login, engine):
    with committed(engine) as s:
        secret = make_token(s, scope=TokenScope.write)
    r = client.patch(f"{BRANCHES}/{world.branch.id}", json={"member_count": 31},
                     headers={**bearer(secret), "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    last = trail(login("admin"), world.branch.id)[-1]
    assert last["actor"] == f"token:{secret[:12]}"
    assert last["changes"] == {"member_count": [30, 31]}


def test_refused_writes_leave_no_audit_event(world, login):
    admin = login("admin")
    url = f"{BRANCHES}/{world.branch.id}"
    before = trail(admin, world.branch.id)
    assert_problem(admin.patch(url, json={"member_count": 1}, headers={"If-Match": '"1"'}), 422)
    assert_problem(admin.patch(url, json={"member_count": 31}, headers={"If-Match": '"9"'}), 412)
    assert trail(admin, world.branch.id) == before


def test_audit_events_filter_by_actor(world, login):
    admin = login("admin")
    admin.patch(f"{BRANCHES}/{world.branch.id}", json={"notes": "x"}, headers={"If-Match": '"1"'})
    r = admin.get(AUDIT, params={"actor": "user:admin"})
    items = r.json()["items"]
    assert items and all(e["actor"] == "user:admin" for e in items)


def test_staff_reads_trail_of_own_branch_only(world, login):
    staff = login("staff")
    r = staff.patch(f"{BRANCHES}/{world.branch.id}", json={"notes": "x"},
                    headers={"If-Match": '"1"'})
    assert r.status_code == 200
    assert [e["actor"] for e in trail(staff, world.branch.id)][-1] == "user:staff"
    r = staff.get(AUDIT, params={"entity_type": "branch", "entity_id": world.other_branch.id})
    assert_problem(r, 404)
    assert_problem(staff.get(AUDIT), 403)
    assert_problem(staff.get(AUDIT, params={"entity_type": "user", "entity_id": 1}), 422,
                   field="entity_type")


# --- one endpoint, two representations ----------------------------------------------------


def test_list_answers_json_by_default_and_html_to_htmx(world, login):
    admin = login("admin")
    r = admin.get(BRANCHES)
    assert r.headers["content-type"].startswith("application/json")
    assert "HX-Request" in r.headers["Vary"]
    html = admin.get(BRANCHES, headers={"HX-Request": "true"})
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "HX-Request" in html.headers["Vary"]
    assert "甲一村党支部" in html.text and "乙一村党支部" in html.text
    assert not html.text.lstrip().startswith("{")


def test_htmx_fragment_escapes_names(world, login, engine):
    with committed(engine) as s:
        make_branch(s, world.township, name="<script>alert(1)</script>村")
    html = login("admin").get(BRANCHES, headers={"HX-Request": "true"}).text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize("overrides", [{"member_count": -1}, {"member_count": 1}])
def test_htmx_validation_error_answers_field_fragment(world, login, overrides):
    r = login("admin").post(BRANCHES, json=new_branch(world.township.id, **overrides),
                            headers={"HX-Request": "true"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert 'id="err-member_count"' in r.text
    assert "hx-swap-oob" in r.text
    assert "HX-Request" in r.headers["Vary"]


# --- keyset pagination --------------------------------------------------------------------


def test_following_next_cursor_visits_every_branch_once(world, login, engine):
    with committed(engine) as s:
        for i in range(3):
            make_branch(s, world.township, name=f"分页{i}村党支部")
    admin = login("admin")
    seen: list[int] = []
    sizes: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = admin.get(BRANCHES, params=params).json()
        seen += [b["id"] for b in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes == [2, 2, 1]
    assert len(seen) == len(set(seen)) == 5
    assert seen == sorted(seen)


def test_cursor_pages_keep_their_filters(world, login, engine):
    with committed(engine) as s:
        for i in range(3):
            make_branch(s, world.township, name=f"分页{i}村党支部")
    admin = login("admin")
    first = admin.get(BRANCHES, params={"limit": 3, "township_id": world.township.id}).json()
    second = admin.get(BRANCHES, params={"limit": 3, "township_id": world.township.id,
                                         "cursor": first["next_cursor"]}).json()
    names = [b["name"] for b in first["items"] + second["items"]]
    assert len(names) == 4 and "乙一村党支部" not in names
    assert second["next_cursor"] is None


@pytest.mark.parametrize("limit", [0, 501, -1, "ten"])
def test_limit_out_of_range_is_422(world, login, limit):
    assert_problem(login("admin").get(BRANCHES, params={"limit": limit}), 422, field="limit")


def test_limit_500_is_allowed(world, login):
    assert login("admin").get(BRANCHES, params={"limit": 500}).status_code == 200


@pytest.mark.parametrize("cursor", [
    "garbage!!", "%%%", forged_cursor({"id": 1}), forged_cursor([1, 2]), forged_cursor(["x"]),
    forged_cursor([None]), forged_cursor([[1]]), forged_cursor([10**30]), forged_cursor([True]),
])
@pytest.mark.parametrize("path", [BRANCHES, "/api/v1/townships", AUDIT])
def test_garbage_cursor_is_422_problem(world, login, cursor, path):
    body = assert_problem(login("admin").get(path, params={"cursor": cursor}), 422,
                          field="cursor")
    assert "游标" in body["detail"]


# --- cross-cutting headers and errors -----------------------------------------------------


def test_request_id_is_echoed_or_generated(world, login):
    admin = login("admin")
    assert admin.get(BRANCHES, headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] \
        == "abc-123"
    generated = admin.get(BRANCHES).headers["X-Request-ID"]
    assert len(generated) == 16
    r = admin.get(f"{BRANCHES}/99999", headers={"X-Request-ID": "lost-1"})
    assert assert_problem(r, 404)["request_id"] == "lost-1"


def test_safe_default_headers(world, login):
    r = login("admin").get(BRANCHES)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"


def test_malformed_json_body_is_422_problem(world, login):
    r = login("admin").post(BRANCHES, content=b'{"name": ', headers={
        "Content-Type": "application/json"})
    body = assert_problem(r, 422, field="body")
    assert body["errors"] == [{"field": "body", "message": "请求体不是有效的 JSON"}]


def test_unknown_api_path_and_method_are_problems(world, login):
    admin = login("admin")
    assert_problem(admin.get("/api/v1/no-such-thing"), 404)
    assert_problem(admin.put(BRANCHES, json={}), 405)


def test_openapi_is_served(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert "/api/v1/branches" in r.json()["paths"]


# --- change feed --------------------------------------------------------------------------


def read_feed(client, **params: object) -> list[tuple]:  # type: ignore[no-untyped-def,type-arg]
    r = client.get(CHANGES, params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return [(c["type"], c["id"], c["op"], c["version"]) for c in r.json()["changes"]]


def test_feed_from_start_lists_township_and_branch_upserts_in_order(world, login):
    admin = login("admin")
    r = admin.get(CHANGES)
    page = r.json()
    register = [c for c in page["changes"] if c["type"] in ("township", "branch")]
    assert [(c["type"], c["id"], c["op"], c["version"]) for c in register] == [
        ("township", world.township.id, "upsert", 1),
        ("township", world.other_township.id, "upsert", 1),
        ("branch", world.branch.id, "upsert", 1),
        ("branch", world.other_branch.id, "upsert", 1),
    ]
    assert [c["data"]["name"] for c in register] == ["甲镇", "乙镇", "甲一村党支部", "乙一村党支部"]
    assert register[2]["data"]["township_id"] == world.township.id
    assert page["has_more"] is False
    assert page["next_cursor"]


def test_feed_reports_creation_then_deletion(world, login):
    admin = login("admin")
    r = admin.post(BRANCHES, json=new_branch(world.township.id))
    branch_id = r.json()["id"]
    admin.delete(f"{BRANCHES}/{branch_id}", headers={"If-Match": '"1"'})
    changes = admin.get(CHANGES, params={"types": "branch"}).json()["changes"]
    created, deleted = changes[-2:]
    assert (created["id"], created["op"], created["version"]) == (branch_id, "upsert", 1)
    assert created["data"]["name"] == "契约村党支部"
    assert created["data"]["flags"] == []
    assert (deleted["id"], deleted["op"], deleted["version"], deleted["data"]) == (
        branch_id, "delete", 2, None)


def test_following_feed_cursor_yields_each_change_once(world, login):
    admin = login("admin")
    for i in range(3):
        admin.post(BRANCHES, json=new_branch(world.township.id, name=f"变更{i}村党支部"))
    admin.patch(f"{BRANCHES}/{world.branch.id}", json={"notes": "x"}, headers={"If-Match": '"1"'})
    everything = read_feed(admin)
    followed: list[tuple] = []  # type: ignore[type-arg]
    cursor = None
    for _ in range(100):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = admin.get(CHANGES, params=params).json()
        followed += [(c["type"], c["id"], c["op"], c["version"]) for c in page["changes"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert followed == everything
    assert len(set(followed)) == len(followed)
    assert ("branch", world.branch.id, "upsert", 2) == followed[-1]
    # at the end the cursor stays put, and later changes come after it
    tail = admin.get(CHANGES, params={"cursor": cursor}).json()
    assert (tail["changes"], tail["next_cursor"], tail["has_more"]) == ([], cursor, False)
    admin.patch(f"{BRANCHES}/{world.branch.id}", json={"notes": "y"}, headers={"If-Match": '"2"'})
    assert read_feed(admin, cursor=cursor) == [("branch", world.branch.id, "upsert", 3)]


def test_feed_types_filter(world, login):
    admin = login("admin")
    assert {c[0] for c in read_feed(admin, types="branch")} == {"branch"}
    assert {c[0] for c in read_feed(admin, types="branch,township")} == {"branch", "township"}


def test_unknown_feed_type_is_422(world, login):
    assert_problem(login("admin").get(CHANGES, params={"types": "branch,planet"}), 422,
                   field="types")


def test_township_token_sees_only_its_townships_changes(world, client, login, engine):
    with committed(engine) as s:
        secret = make_token(s, scope=TokenScope.read, township=world.township)
    login("admin").post(BRANCHES, json=new_branch(world.other_township.id, name="乙二村党支部"))
    r = client.get(CHANGES, params={"limit": 500}, headers=bearer(secret))
    assert r.status_code == 200, r.text
    assert {(c["type"], c["id"]) for c in r.json()["changes"]} == {
        ("township", world.township.id), ("branch", world.branch.id)}


def test_county_readers_other_than_admin_never_see_users_or_tokens(world, login, client, engine):
    with committed(engine) as s:
        secret = make_token(s, scope=TokenScope.read)
    assert "user" in {c[0] for c in read_feed(login("admin"))}
    for reader in (login("countyviewer"), login("staff")):
        assert {c[0] for c in read_feed(reader)} <= {"township", "branch"}
    r = client.get(CHANGES, headers=bearer(secret))
    assert {c["type"] for c in r.json()["changes"]} == {"township", "branch"}


def test_staff_feed_is_limited_to_own_township(world, login):
    assert {(t, i) for t, i, _, _ in read_feed(login("staff"))} == {
        ("township", world.township.id), ("branch", world.branch.id)}


def test_secretary_cannot_read_the_feed(world, login):
    assert_problem(login("secretary").get(CHANGES), 403)


def test_refused_write_adds_no_change(world, login):
    admin = login("admin")
    before = read_feed(admin)
    assert_problem(admin.post(BRANCHES, json=new_branch(world.township.id, member_count=-5)), 422)
    assert_problem(admin.patch(f"{BRANCHES}/{world.branch.id}", json={"member_count": 1},
                               headers={"If-Match": '"1"'}), 422)
    assert read_feed(admin) == before
