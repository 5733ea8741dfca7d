"""Two real server processes on one PostgreSQL database: nothing the contract promises is kept
in one process's memory.

Each test starts `rectify serve` twice (two processes, free ports on 127.0.0.1) against the
test run's fresh PostgreSQL database and shows across them: idempotency keys, login
throttling, sessions, the change feed and ETags. The processes are stopped at the end.
SQLite runs are skipped (one file, one process is its deployment).
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import PASSWORD

API = "/api/v1"
ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 90.0  # generous: the machine may be busy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One `rectify serve` process and an HTTP client aimed at it."""

    def __init__(self, database_url: str, tmp: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ, "DATABASE_URL": database_url, "UPLOAD_DIR": str(tmp / "uploads"),
            "LOGIN_DELAY_SECONDS": "0", "TIMEZONE": "local", "ENVIRONMENT": "development",
        }
        self.log = (tmp / f"server-{self.port}.log").open("wb")
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-c", "from app.cli import main; main()", "serve",
             "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server on {self.port} exited: {self.process.returncode}")
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"server on {self.port} did not start")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.log.close()


@pytest.fixture
def servers(database, engine, tmp_path: Path) -> Iterator[tuple[Server, Server]]:  # type: ignore[no-untyped-def]
    """Two server processes (A, B) on the test run's PostgreSQL database."""
    if database.backend != "postgresql":
        pytest.skip("several server processes share one PostgreSQL database, not a SQLite file")
    started = [Server(database.url, tmp_path), Server(database.url, tmp_path)]
    try:
        for server in started:
            server.wait_ready()
        yield started[0], started[1]
    finally:
        for server in started:
            server.stop()


def sign_in(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    return client.post(f"{API}/auth/login", json={"username": username, "password": password})


def signed_in(server: Server, username: str) -> httpx.Client:
    """A client of `server` with a session cookie and the CSRF header, as a page sends them."""
    client = server.client()
    r = sign_in(client, username)
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


def same_session_on(server: Server, other: httpx.Client) -> httpx.Client:
    """A client of `server` that sends `other`'s session cookie and CSRF header."""
    client = server.client()
    client.cookies.set("rectify_session", other.cookies["rectify_session"])
    client.headers["X-CSRF-Token"] = other.headers["X-CSRF-Token"]
    return client


def new_branch(township_id: int, name: str) -> dict[str, object]:
    return {"township_id": township_id, "name": name, "kind": "village", "member_count": 20,
            "members_35_under": 5, "members_36_55": 10, "members_56_over": 5,
            "secretary_is_director": True}


def live_branches_named(engine, name: str) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM branch WHERE name = :n AND deleted_at IS NULL"), {"n": name},
        ).scalar_one())


def test_two_processes_share_idempotency_throttling_sessions_feed_and_etags(
    world, servers, engine, settings,
):
    a, b = servers

    # --- sessions: signed in on A, the cookie works on B; logout on A ends it on B
    on_a = signed_in(a, "admin")
    on_b = same_session_on(b, on_a)
    me = on_b.get(f"{API}/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "admin"

    # --- idempotency: the same key sent to A then B makes one record; B replays A's answer
    key = {"Idempotency-Key": "two-processes-1"}
    body = new_branch(world.township.id, "双进程村党支部")
    first = on_a.post(f"{API}/branches", json=body, headers=key)
    assert first.status_code == 201, first.text
    again = on_b.post(f"{API}/branches", json=body, headers=key)
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert "Idempotent-Replayed" not in first.headers
    assert live_branches_named(engine, "双进程村党支部") == 1

    # --- ETags: a write on A makes B refuse the old version with 412
    branch_url = f"{API}/branches/{world.branch.id}"
    etag = on_b.get(branch_url).headers["ETag"]
    assert on_a.get(branch_url).headers["ETag"] == etag
    r = on_a.patch(branch_url, json={"notes": "甲进程改"}, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    stale = on_b.patch(branch_url, json={"notes": "乙进程改"}, headers={"If-Match": etag})
    assert stale.status_code == 412, stale.text
    assert on_b.get(branch_url).headers["ETag"] == r.headers["ETag"] != etag

    # --- change feed: writes on both, one reader following its cursor across both sees
    # every change once, in the order they were made
    made: list[int] = []
    for i in range(6):
        writer = on_a if i % 2 == 0 else on_b
        r = writer.post(f"{API}/branches", json=new_branch(world.township.id, f"交替{i}村党支部"))
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    whole = on_a.get(f"{API}/changes", params={"types": "branch", "limit": 500}).json()
    assert whole["has_more"] is False
    everything = [(c["id"], c["version"]) for c in whole["changes"]]
    followed: list[tuple[int, int]] = []
    cursor = None
    for page_number in range(100):
        reader = on_a if page_number % 2 == 0 else on_b
        params: dict[str, object] = {"types": "branch", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = reader.get(f"{API}/changes", params=params).json()
        followed += [(c["id"], c["version"]) for c in page["changes"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert followed == everything
    assert len(set(followed)) == len(followed)
    assert [i for i, _v in followed if i in made] == made  # creation order kept
    assert (world.branch.id, 2) in followed

    # logout on A ends the session on B too
    assert on_a.post(f"{API}/auth/logout").status_code == 204
    assert on_b.get(f"{API}/auth/me").status_code == 401

    # --- login throttling: failures on A count on B (same username, same address)
    with a.client() as client_a, b.client() as client_b:
        for n in range(settings.login_max_failures):
            failing = client_a if n % 2 == 0 else client_b
            assert sign_in(failing, "staff", "wrong-password").status_code == 401
        locked_on_b = sign_in(client_b, "staff")
        assert locked_on_b.status_code == 429, locked_on_b.text
        assert "登录失败次数过多" in locked_on_b.json()["detail"]
        assert sign_in(client_a, "staff").status_code == 429
        # another user is not locked, on either process
        assert sign_in(client_b, "admin").status_code == 200

    for client in (on_a, on_b):
        client.close()
