"""Whole-table exports: formats, scope and filters."""

import contextlib
import csv
import gc
import io
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest
from openpyxl import load_workbook
from starlette.requests import ClientDisconnect

from app.api.exports import _stream
from app.models.feedback import Opinion, Theme
from app.models.user import Role
from tests.factories import (
    committed,
    make_branch,
    make_campaign,
    make_feedback_form,
    make_screening,
    make_township,
    make_user,
)


def _arrange(engine):
    with committed(engine) as s:
        campaign = make_campaign(s)
        a, b = make_township(s), make_township(s)
        ba, bb = make_branch(s, a), make_branch(s, b)
        for branch, theme in ((ba, Theme.service), (ba, Theme.prosperity), (bb, Theme.other)):
            form = make_feedback_form(s, campaign, branch)
            s.add(Opinion(text=f"意见{theme.value}", theme=theme, form_id=form.id,
                          campaign_id=campaign.id, township_id=branch.township_id,
                          branch_id=branch.id))
        make_screening(s, campaign, ba)
        make_user(s, Role.township_staff, township=a, username="staff_a")
        make_user(s, Role.county_admin, username="admin")
        return campaign.id, ba.id


def test_opinions_ndjson_is_scoped_and_filtered(engine, login):
    _cid, branch_a = _arrange(engine)
    staff = login("staff_a")
    r = staff.get("/api/v1/exports/opinions.ndjson")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in r.text.splitlines()]
    assert {x["branch_id"] for x in records} == {branch_a}
    assert sorted(x["theme"] for x in records) == ["prosperity", "service"]
    r = staff.get("/api/v1/exports/opinions.ndjson", params={"theme": "service"})
    assert [json.loads(line)["text"] for line in r.text.splitlines()] == ["意见service"]
    admin_lines = login("admin").get("/api/v1/exports/opinions.ndjson").text.splitlines()
    assert len(admin_lines) == 3


def test_feedback_forms_csv_has_a_header_and_no_names(engine, login):
    _arrange(engine)
    r = login("admin").get("/api/v1/exports/feedback-forms.csv")
    assert r.status_code == 200
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["id", "campaign_id", "township_id"]
    assert len(table) == 4
    name_col = table[0].index("respondent_name")
    assert all(row[name_col] == "" for row in table[1:])


def test_screenings_xlsx_opens(engine, login):
    _arrange(engine)
    r = login("admin").get("/api/v1/exports/screenings.xlsx")
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    header = [c.value for c in ws[1]]
    assert header[:3] == ["id", "campaign_id", "township_id"]
    assert ws.max_row == 2
    assert ws.cell(row=2, column=header.index("led_by") + 1).value == "王书记"


def test_unknown_table_or_format_is_a_clear_error(engine, login):
    _arrange(engine)
    admin = login("admin")
    r = admin.get("/api/v1/exports/users.csv")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "table"
    r = admin.get("/api/v1/exports/opinions.pdf")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "format"
    r = admin.get("/api/v1/exports/opinions")  # the table without a format names the formats
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "format"
    assert "opinions.csv" in r.json()["detail"]
    r = admin.get("/api/v1/exports/opinions.csv", params={"branch_id": "x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "branch_id"


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "xlsx"])
def test_export_filters_are_read_as_the_lists_read_them(engine, login, fmt):
    """A code the list refuses is refused (not an empty file); a full-width number is a
    number, as in the list."""
    _arrange(engine)
    admin = login("admin")
    for table, params in (("tasks", {"status": "x' OR '1'='1"}), ("opinions", {"theme": "\u202e"}),
                          ("branches", {"kind": "village;DROP"})):
        assert admin.get(f"/api/v1/{table}", params=params).status_code == 422
        r = admin.get(f"/api/v1/exports/{table}.{fmt}", params=params)
        assert r.status_code == 422, (table, r.status_code)
        field = next(iter(params))
        assert r.json()["errors"][0]["field"] == field and "可选" in r.json()["detail"]
    listed = admin.get("/api/v1/opinions", params={"limit": 500, "branch_id": "１"})
    assert listed.status_code == 200
    r = admin.get(f"/api/v1/exports/opinions.{fmt}", params={"branch_id": "１"})
    assert r.status_code == 200


@pytest.mark.parametrize("spec_version", ["2.3", "2.4"])
def test_an_aborted_download_closes_its_rows_at_once(spec_version: str) -> None:
    """The client goes away after the first chunk: the rows (and their database reader)
    are closed when the response ends, not whenever the garbage collector runs."""
    closed = threading.Event()

    def chunks() -> Iterator[bytes]:
        try:
            for _ in range(1000):
                yield b"x" * 1000
        finally:
            closed.set()

    async def download() -> None:
        response = await _stream(chunks, "text/csv", "台账.csv")
        sent: list[dict[str, object]] = []
        gone = anyio.Event()

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.body" and len(sent) > 1:
                gone.set()
                raise OSError("connection reset")  # ASGI 2.4: send fails
            sent.append(message)

        async def receive() -> dict[str, object]:
            await gone.wait()  # ASGI 2.3: the server reports the disconnect
            return {"type": "http.disconnect"}

        scope = {"type": "http", "asgi": {"spec_version": spec_version}}
        with contextlib.suppress(ClientDisconnect, OSError):
            await response(scope, receive, send)  # type: ignore[arg-type]
        assert closed.is_set()
        del response

    gc.disable()  # what is asserted must not depend on a collection
    try:  # in a thread of its own: a browser test's loop may be running in this one
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(anyio.run, download).result()
    finally:
        gc.enable()


def test_bulk_streams_are_gzipped_fast_and_pages_as_before(engine, login):
    """CSV and NDJSON downloads at gzip level 1 (the header's XFL byte says "fastest"), a
    JSON page at the middleware's own level; both decode to what was sent."""
    import gzip

    _arrange(engine)
    with committed(engine) as s:
        township = make_township(s)
        for _ in range(30):
            make_branch(s, township)
    admin = login("admin")
    for path, fastest in (("/api/v1/exports/branches.csv", True),
                          ("/api/v1/exports/branches.ndjson", True),
                          ("/api/v1/branches?limit=100", False)):
        with admin.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as r:
            raw = b"".join(r.iter_raw())
        assert r.headers["content-encoding"] == "gzip", path
        assert raw[8] == (4 if fastest else 0), path  # XFL: 4 = fastest, 0 = level 2-8
        plain = admin.get(path, headers={"Accept-Encoding": "identity"}).content
        assert gzip.decompress(raw) == plain, path
