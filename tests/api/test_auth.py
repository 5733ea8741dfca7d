"""Signing in and out: the session cookie, CSRF token, throttling, and who am I."""

from datetime import timedelta

from sqlalchemy import update

from app.models.base import utcnow
from app.models.user import LoginSession, Role, TokenScope
from tests.factories import PASSWORD, assert_problem, bearer, committed, make_token, make_user

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"


def sign_in(client, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post(LOGIN, json={"username": username, "password": password})


def test_login_sets_httponly_samesite_lax_cookie_and_answers_csrf_token(world, client):
    r = sign_in(client, "staff")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["username"] == "staff"
    assert body["user"]["role"] == "township_staff"
    assert body["user"]["township_id"] == world.township.id
    assert "password_hash" not in body["user"] and "password" not in body["user"]
    assert len(body["csrf_token"]) >= 32
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("rectify_session=")
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes


def test_session_cookie_identifies_the_user(world, client):
    sign_in(client, "staff")
    r = client.get(ME)
    assert r.status_code == 200, r.text
    assert (r.json()["username"], r.json()["role"]) == ("staff", "township_staff")


def test_username_is_trimmed_on_login(world, client):
    assert sign_in(client, "  staff ").status_code == 200


def test_wrong_password_is_401_with_chinese_detail(world, client):
    r = sign_in(client, "staff", "wrong-password")
    body = assert_problem(r, 401)
    assert body["detail"] == "用户名或密码错误"
    assert "set-cookie" not in r.headers
    assert_problem(client.get(ME), 401)


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(world, client):
    body = assert_problem(sign_in(client, "nobody"), 401)
    assert body["detail"] == "用户名或密码错误"


def test_login_is_locked_after_max_failures_even_with_right_password(world, client, settings):
    assert settings.login_max_failures == 5
    for _ in range(settings.login_max_failures):
        assert_problem(sign_in(client, "staff", "wrong-password"), 401)
    r = sign_in(client, "staff")
    body = assert_problem(r, 429)
    assert "登录失败次数过多" in body["detail"]
    retry_after = int(r.headers["Retry-After"])
    assert 0 < retry_after <= settings.login_lock_minutes * 60 + 1
    assert_problem(client.get(ME), 401)


def test_lock_of_one_username_leaves_others_alone(world, client, settings):
    for _ in range(settings.login_max_failures):
        sign_in(client, "staff", "wrong-password")
    assert sign_in(client, "admin").status_code == 200


def test_failures_below_the_limit_are_forgotten_after_a_success(world, client, settings):
    for _ in range(settings.login_max_failures - 1):
        assert_problem(sign_in(client, "staff", "wrong-password"), 401)
    assert sign_in(client, "staff").status_code == 200
    for _ in range(settings.login_max_failures - 1):
        assert_problem(sign_in(client, "staff", "wrong-password"), 401)
    assert sign_in(client, "staff").status_code == 200


def test_inactive_user_cannot_log_in(world, client, engine):
    with committed(engine) as s:
        make_user(s, Role.township_staff, township=world.township, username="gone", active=False)
    body = assert_problem(sign_in(client, "gone"), 401)
    assert body["detail"] == "用户名或密码错误"


def test_deactivated_users_open_session_stops_working(world, login):
    staff = login("staff")
    admin = login("admin")
    staff_id = staff.get(ME).json()["id"]
    r = admin.patch(f"/api/v1/users/{staff_id}", json={"active": False, "version": 1})
    assert r.status_code == 200, r.text
    assert_problem(staff.get(ME), 401)
    assert_problem(staff.get("/api/v1/branches"), 401)


def test_expired_session_is_401(world, login, engine):
    staff = login("staff")
    with committed(engine) as s:
        s.execute(update(LoginSession).values(expires_at=utcnow() - timedelta(minutes=1)))
    assert_problem(staff.get(ME), 401)


def test_logout_ends_the_session(world, login):
    staff = login("staff")
    cookie = staff.cookies.get("rectify_session")
    r = staff.post("/api/v1/auth/logout")
    assert r.status_code == 204, r.text
    assert "rectify_session" not in staff.cookies
    assert_problem(staff.get(ME), 401)
    # the old cookie, sent again by hand, is dead on the server too
    staff.cookies.set("rectify_session", cookie)
    assert_problem(staff.get(ME), 401)


def test_logout_needs_the_csrf_token(world, login):
    staff = login("staff")
    del staff.headers["X-CSRF-Token"]
    assert_problem(staff.post("/api/v1/auth/logout"), 403)
    assert staff.get(ME).status_code == 200


def test_me_without_credentials_is_401(world, client):
    assert_problem(client.get(ME), 401)


def test_me_with_an_api_token_is_404(world, client, engine):
    with committed(engine) as s:
        secret = make_token(s, scope=TokenScope.read)
    assert_problem(client.get(ME, headers=bearer(secret)), 404)


def test_login_body_is_validated(world, client):
    assert_problem(client.post(LOGIN, json={"username": "staff"}), 422, field="password")
    assert_problem(client.post(LOGIN, json={"password": PASSWORD}), 422, field="username")


def test_htmx_login_redirects_to_next(world, client):
    r = client.post(LOGIN, params={"next": "/branches"}, headers={"HX-Request": "true"},
                    json={"username": "staff", "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.headers["HX-Redirect"] == "/branches"


def test_each_login_gets_its_own_session_and_csrf_token(world, login):
    first, second = login("staff"), login("staff")
    assert first.csrf != second.csrf
    first.post("/api/v1/auth/logout")
    assert second.get(ME).status_code == 200


def test_login_never_redirects_to_another_site(world, client):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        client.cookies.clear()
        r = client.post(LOGIN, params={"next": target}, headers={"HX-Request": "true"},
                        json={"username": "staff", "password": PASSWORD})
        assert r.status_code == 200, r.text
        assert r.headers["HX-Redirect"] == "/"
