def test_health_and_ready(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}


def test_staff_lists_own_branches(world, login):
    staff = login("staff")
    r = staff.get("/api/v1/branches")
    assert r.status_code == 200
    assert [b["name"] for b in r.json()["items"]] == ["甲一村党支部"]
