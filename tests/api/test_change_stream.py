"""The streamed change feed `/changes.ndjson`: the paged feed's changes, in one response.

Its lines are the concatenation of the pages followed from the same cursor (same fields,
values and order), `X-Next-Cursor` continues where it ended, and scope, the types filter
and a forged cursor are as for `/changes`. On PostgreSQL the lines are written by COPY, on
SQLite in Python: both compared with the pages.
"""

import base64
import json
from typing import Any

from sqlalchemy import text

from app.models.user import TokenScope
from tests.factories import assert_problem, bearer, committed, make_token

BRANCHES = "/api/v1/branches"
CHANGES = "/api/v1/changes"
STREAM = "/api/v1/changes.ndjson"


def new_branch(township_id: int, name: str, **overrides: object) -> dict[str, Any]:
    return {"township_id": township_id, "name": name, "kind": "village", "member_count": 20,
            "members_35_under": 5, "members_36_55": 10, "members_56_over": 5,
            "secretary_is_director": True, **overrides}


def stream(client: Any, headers: dict[str, str] | None = None,
           **params: str) -> tuple[list[dict[str, Any]], str]:
    """The stream's changes (each line parsed) and its X-Next-Cursor."""
    r = client.get(STREAM, params=params, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    body = r.content
    assert body == b"" or body.endswith(b"\n")
    lines = body.splitlines()
    assert all(line for line in lines)
    return [json.loads(line) for line in lines], r.headers["x-next-cursor"]


def paged(client: Any, headers: dict[str, str] | None = None, cursor: str | None = None,
          **params: str) -> tuple[list[dict[str, Any]], str | None]:
    """The paged feed followed from `cursor` to its end (small pages): changes and cursor."""
    changes: list[dict[str, Any]] = []
    for _ in range(1000):
        query = {"limit": "3", **params, **({"cursor": cursor} if cursor else {})}
        r = client.get(CHANGES, params=query, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        changes += page["changes"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return changes, cursor
    raise AssertionError("the paged feed did not end")


def some_changes(world: Any, admin: Any) -> None:
    """Creations, an update, a deletion; texts JSON must escape."""
    names = ["引号\"与\\反斜杠村党支部", "换行村党支部", "表情😀村党支部"]
    ids = []
    for name in names:
        r = admin.post(BRANCHES, json=new_branch(world.township.id, name,
                                                 notes="第一行\n第二行\t制表 'q' </script>"))
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    admin.post(BRANCHES, json=new_branch(world.other_township.id, "乙二村党支部"))
    r = admin.patch(f"{BRANCHES}/{ids[0]}", json={"member_count": 21},
                    headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    r = admin.delete(f"{BRANCHES}/{ids[1]}", headers={"If-Match": '"1"'})
    assert r.status_code in (200, 204), r.text


def test_stream_is_the_paged_feed_in_one_response(world, login):
    admin = login("admin")
    some_changes(world, admin)
    everything, last = paged(admin)
    streamed, next_cursor = stream(admin)
    assert streamed == everything
    assert next_cursor == last
    assert {c["type"] for c in streamed} >= {"township", "branch", "user"}
    assert [c["op"] for c in streamed].count("delete") == 1
    assert all(set(c) == {"type", "id", "op", "version", "data"} for c in streamed)
    # from a cursor in the middle: the rest, as the pages give it
    cursor = admin.get(CHANGES, params={"limit": 4}).json()["next_cursor"]
    rest, last = paged(admin, cursor=cursor)
    assert len(rest) == len(everything) - 4
    assert stream(admin, cursor=cursor) == (rest, last)


def test_next_cursor_continues_with_either_form(world, login):
    admin = login("admin")
    _, cursor = stream(admin)
    # nothing new: an empty body, the same cursor
    assert stream(admin, cursor=cursor) == ([], cursor)
    r = admin.patch(f"{BRANCHES}/{world.branch.id}", json={"notes": "后来的"},
                    headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    page = admin.get(CHANGES, params={"cursor": cursor}).json()
    assert [(c["type"], c["id"], c["op"], c["version"]) for c in page["changes"]] == [
        ("branch", world.branch.id, "upsert", 2)]
    assert page["changes"][0]["data"]["notes"] == "后来的"
    streamed, after = stream(admin, cursor=cursor)
    assert streamed == page["changes"]
    assert after == page["next_cursor"]


def test_data_stored_with_line_breaks_stays_one_line(world, login, engine):
    """JSON text stored with whitespace (line breaks between tokens, as another writer may
    store it) still makes one line of the same value."""
    stored = '{\n  "name": "多行\\n文本",\r\n  "n": [1, 2.5, null, true],\n  "o": {}\n}'
    with engine.begin() as conn:
        seq = conn.execute(text(
            "UPDATE change_counter SET value = value + 1 WHERE id = 1 RETURNING value"
        )).scalar_one()
        conn.execute(text(
            "INSERT INTO change (commit_seq, type, entity_id, op, township_id, version, data) "
            "VALUES (:seq, 'branch', 999, 'upsert', :t, 1, :data)"),
            {"seq": seq, "t": world.township.id, "data": stored})
    admin = login("admin")
    streamed, _ = stream(admin, types="branch")
    assert streamed == paged(admin, types="branch")[0]
    assert streamed[-1]["data"] == json.loads(stored)


def test_scope_is_the_paged_feeds(world, login, client, engine):
    admin = login("admin")
    some_changes(world, admin)
    with committed(engine) as s:
        township_token = bearer(make_token(s, scope=TokenScope.read, township=world.township))
        county_token = bearer(make_token(s, scope=TokenScope.read))
    # a township's staff and token: their township's changes only, no users or tokens
    staff = login("staff")
    streamed, cursor = stream(staff)
    assert (streamed, cursor) == paged(staff)
    assert {c["type"] for c in streamed} == {"township", "branch"}
    assert world.other_branch.id not in {c["id"] for c in streamed if c["type"] == "branch"}
    assert {c["data"]["township_id"] for c in streamed
            if c["type"] == "branch" and c["data"]} == {world.township.id}
    assert stream(client, township_token) == paged(client, township_token)
    assert stream(client, township_token)[0] == streamed
    # county readers but the admin: everything but users and tokens
    for reader, headers in ((login("countyviewer"), None), (client, county_token)):
        streamed, _ = stream(reader, headers)
        assert (streamed, _) == paged(reader, headers)
        assert {c["type"] for c in streamed} == {"township", "branch"}
        assert world.other_branch.id in {c["id"] for c in streamed}
    assert {"user", "api_token"} <= {c["type"] for c in stream(admin)[0]}
    assert_problem(login("secretary").get(STREAM), 403)


def test_types_filter(world, login):
    admin = login("admin")
    some_changes(world, admin)
    streamed, cursor = stream(admin, types="branch")
    assert {c["type"] for c in streamed} == {"branch"}
    assert (streamed, cursor) == paged(admin, types="branch")
    both, _ = stream(admin, types="township,user")
    assert {c["type"] for c in both} == {"township", "user"}
    assert both == paged(admin, types="township,user")[0]
    assert_problem(admin.get(STREAM, params={"types": "branch,planet"}), 422, field="types")


def test_a_type_with_nothing_after_the_cursor_answers_the_cursor(world, login):
    admin = login("admin")
    _, cursor = stream(admin, types="branch")
    # the given cursor comes back with nothing after it, of any type asked for
    assert stream(admin, cursor=cursor, types="township") == ([], cursor)
    r = admin.get(STREAM, params={"cursor": cursor, "types": "township"})
    assert (r.content, r.headers["x-next-cursor"]) == (b"", cursor)
    # no cursor and nothing to read: an empty cursor, to start from the start
    assert stream(admin, types="campaign") == ([], "")


def forged(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_a_forged_cursor_is_422(world, login):
    admin = login("admin")
    for cursor in ("not-a-cursor!", forged([1]), forged(["a", 1]), forged([2**70, 1]),
                   forged({"seq": 1})):
        assert_problem(admin.get(STREAM, params={"cursor": cursor}), 422, field="cursor")
        assert_problem(admin.get(CHANGES, params={"cursor": cursor}), 422, field="cursor")


def test_the_stream_is_documented(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    operation = paths["/api/v1/changes.ndjson"]["get"]
    assert "application/x-ndjson" in operation["responses"]["200"]["content"]
    assert "X-Next-Cursor" in operation["responses"]["200"]["headers"]
    assert operation["description"]
    assert "/api/v1/changes" in paths


def test_a_change_committed_after_the_head_is_left_for_the_next_read(world, login, engine):
    """The head is read first, the rows later on another connection: a change committed
    between the two is not in this stream but after its cursor."""
    from app.db import new_session
    from app.services.actors import SYSTEM
    from app.services.changefeed import ndjson_changes, stream_changes

    with new_session(engine) as session:
        feed = stream_changes(session=session, actor=SYSTEM, cursor=None, types=None)
    admin = login("admin")
    r = admin.patch(f"{BRANCHES}/{world.branch.id}", json={"notes": "头之后"},
                    headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert feed.stmt is not None
    lines = [json.loads(line) for line in b"".join(ndjson_changes(engine, feed.stmt)).splitlines()]
    before, _ = paged(admin)
    assert lines == before[:-1]
    assert before[-1]["version"] == 2
    assert stream(admin, cursor=feed.next_cursor or "") == ([before[-1]], paged(admin)[1])
