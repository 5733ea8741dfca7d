"""Evidence files on progress updates: accepted kinds, size limit, type by content, generated
storage names, downloads within scope, and the duplicate-evidence flag (纸面销号)."""

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, func, select

from app.models.campaign import Campaign
from app.models.task import Attachment, ProgressUpdate, Task, TaskStatus
from app.models.user import Role
from tests.factories import (
    assert_problem,
    committed,
    make_branch,
    make_campaign,
    make_problem,
    make_task,
    make_user,
)

API = "/api/v1"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---------------------------------------------------------------- tiny real files


def jpeg(extra: bytes = b"") -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + extra + \
        b"\xff\xd9"


def png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document>整改报告</w:document>")
    return buffer.getvalue()


def xlsx() -> bytes:
    book = Workbook()
    book.active.append(["党员", "签到"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def stored_files(upload_dir: Path) -> list[Path]:
    return sorted(p for p in upload_dir.rglob("*") if p.is_file()) if upload_dir.exists() else []


# ---------------------------------------------------------------- arrangement


@pytest.fixture
def tasks(engine: Engine, world: Any) -> dict[str, int]:
    with committed(engine) as s:
        sibling = make_branch(s, world.township, name="甲二村党支部")
        make_user(s, Role.branch_secretary, branch=sibling, username="siblingsecretary")
        make_user(s, Role.branch_secretary, branch=world.other_branch, username="othersecretary")
        campaign = make_campaign(s)
        problem = make_problem(s, campaign, world.township, branch=world.branch)
        return {
            "a": make_task(s, problem, title="健全三会一课制度").id,
            "b": make_task(s, problem, title="规范党费收缴").id,
        }


def upload(client: Any, task_id: int, *files: tuple[str, bytes, str], note: str = "整改进展"
           ) -> Any:
    return client.post(f"{API}/tasks/{task_id}/updates", data={"note": note},
                       files=[("files", f) for f in files])


def raw_upload(client: Any, task_id: int, file_name: bytes, content: bytes,
               note: str = "整改进展") -> Any:
    """A multipart body written by hand, so the file name reaches the server byte for byte
    (a client library would escape control characters)."""
    boundary = b"----rectify-test-boundary"
    body = b"".join([
        b"--" + boundary + b"\r\n",
        b'Content-Disposition: form-data; name="note"\r\n\r\n', note.encode(), b"\r\n",
        b"--" + boundary + b"\r\n",
        b'Content-Disposition: form-data; name="files"; filename="' + file_name + b'"\r\n',
        b"Content-Type: application/octet-stream\r\n\r\n", content, b"\r\n",
        b"--" + boundary + b"--\r\n",
    ])
    return client.post(f"{API}/tasks/{task_id}/updates", content=body, headers={
        "Content-Type": "multipart/form-data; boundary=" + boundary.decode()})


def counts(engine: Engine) -> tuple[int, int]:
    with committed(engine) as s:
        return (s.scalar(select(func.count()).select_from(ProgressUpdate)) or 0,
                s.scalar(select(func.count()).select_from(Attachment)) or 0)


# ---------------------------------------------------------------- accepted kinds


@pytest.mark.parametrize(("name", "make", "content_type"), [
    ("现场照片.jpg", jpeg, "image/jpeg"),
    ("签到表.png", png, "image/png"),
    ("会议记录.pdf", pdf, "application/pdf"),
    ("整改报告.docx", docx, DOCX),
    ("党员名册.xlsx", xlsx, XLSX),
])
def test_accepted_kinds_are_stored_and_downloaded_unchanged(
    tasks: dict[str, int], login: Any, settings: Any, name: str, make: Any, content_type: str
) -> None:
    content = make()
    secretary = login("secretary")
    r = upload(secretary, tasks["a"], (name, content, "application/octet-stream"),
               note="召开组织生活会")
    assert r.status_code == 201, r.text
    update = r.json()
    assert update["note"] == "召开组织生活会"
    [a] = update["attachments"]
    assert a["file_name"] == name
    assert a["content_type"] == content_type
    assert a["size"] == len(content)
    assert a["sha256"] == hashlib.sha256(content).hexdigest()
    assert a["url"] == f"{API}/attachments/{a['id']}"
    assert a["is_image"] is content_type.startswith("image/")

    for who in ("secretary", "staff", "admin", "viewer"):
        got = login(who).get(a["url"])
        assert got.status_code == 200, (who, got.text)
        assert got.content == content
        assert got.headers["content-type"].startswith(content_type)

    [path] = stored_files(settings.upload_dir)
    assert path.read_bytes() == content
    assert name not in str(path) and path.suffix == ""

    listed = secretary.get(f"{API}/tasks/{tasks['a']}/updates").json()
    assert [f["file_name"] for u in listed for f in u["attachments"]] == [name]


def test_several_files_in_one_update(tasks: dict[str, int], login: Any) -> None:
    r = upload(login("secretary"), tasks["a"], ("a.jpg", jpeg(b"1"), "image/jpeg"),
               ("b.pdf", pdf(), "application/pdf"))
    assert r.status_code == 201, r.text
    assert [a["file_name"] for a in r.json()["attachments"]] == ["a.jpg", "b.pdf"]


def test_a_note_is_required(tasks: dict[str, int], login: Any, engine: Engine,
                            settings: Any) -> None:
    secretary = login("secretary")
    assert_problem(upload(secretary, tasks["a"], ("a.jpg", jpeg(), "image/jpeg"), note="  "),
                   422, field="note")
    assert_problem(secretary.post(f"{API}/tasks/{tasks['a']}/updates", data={}), 422,
                   field="note")
    assert counts(engine) == (0, 0)
    assert stored_files(settings.upload_dir) == []


# ---------------------------------------------------------------- refused files


def test_a_file_over_the_limit_answers_413_and_nothing_is_stored(
    tasks: dict[str, int], login: Any, engine: Engine, settings: Any
) -> None:
    settings.max_upload_mb = 1
    big = jpeg(b"\x00" * (1024 * 1024 + 512 * 1024))
    r = upload(login("secretary"), tasks["a"], ("small.jpg", jpeg(), "image/jpeg"),
               ("big.jpg", big, "image/jpeg"))
    body = assert_problem(r, 413)
    assert "1 MB" in body["detail"] and "big.jpg" in body["detail"]
    assert counts(engine) == (0, 0)
    assert stored_files(settings.upload_dir) == []
    with committed(engine) as s:
        task = s.get(Task, tasks["a"])
        assert task is not None and task.status == TaskStatus.pending and task.version == 1


@pytest.mark.parametrize("content", [
    b"<!DOCTYPE html><html><script>alert(1)</script></html>",
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64,
    b"#!/bin/sh\nrm -rf /\n",
    b"PK\x03\x04 not really a zip",
])
def test_the_type_is_decided_by_content_not_name(
    tasks: dict[str, int], login: Any, engine: Engine, settings: Any, content: bytes
) -> None:
    r = upload(login("secretary"), tasks["a"], ("photo.jpg", content, "image/jpeg"))
    body = assert_problem(r, 422, field="files")
    assert "文件类型" in body["detail"]
    assert counts(engine) == (0, 0)
    assert stored_files(settings.upload_dir) == []


def test_an_empty_file_is_refused(tasks: dict[str, int], login: Any, engine: Engine) -> None:
    assert_problem(upload(login("secretary"), tasks["a"], ("empty.pdf", b"", "application/pdf")),
                   422, field="files")
    assert counts(engine) == (0, 0)


@pytest.mark.parametrize(("sent", "shown"), [
    (b"../../etc/passwd.jpg", "passwd.jpg"),
    (b"..\\..\\x.jpg", "x.jpg"),
    (b"/var/www/evil.jpg", "evil.jpg"),
    (b"photo\x00.php.jpg", "photo.php.jpg"),
    (b"a\x07b\x1bc\x7f.jpg", "abc.jpg"),
    (b"..", None),
    ("现场\u202egpj.exe".encode(), "现场gpj.exe"),
])
def test_path_tricks_in_the_name_are_stored_under_a_generated_name(
    tasks: dict[str, int], login: Any, settings: Any, tmp_path: Path,
    sent: bytes, shown: str | None,
) -> None:
    content = jpeg(sent)
    r = raw_upload(login("secretary"), tasks["a"], sent, content)
    assert r.status_code == 201, r.text
    [a] = r.json()["attachments"]
    name = a["file_name"]
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert all(ch.isprintable() for ch in name)
    assert name == (shown or "佐证材料.jpg")
    [path] = stored_files(settings.upload_dir)
    assert path.resolve().is_relative_to(settings.upload_dir.resolve())
    assert path.read_bytes() == content
    assert len(path.name) == 32 and all(c in "0123456789abcdef" for c in path.name)
    outside = [p for p in tmp_path.rglob("*") if p.is_file()
               and not p.resolve().is_relative_to(settings.upload_dir.resolve())]
    assert outside == []
    got = login("staff").get(a["url"])
    assert got.status_code == 200 and got.content == content


# ---------------------------------------------------------------- who may upload and download


def test_uploads_and_downloads_follow_the_task_scope(
    tasks: dict[str, int], login: Any, settings: Any
) -> None:
    content = pdf()
    r = upload(login("secretary"), tasks["a"], ("会议记录.pdf", content, "application/pdf"))
    assert r.status_code == 201, r.text
    url = r.json()["attachments"][0]["url"]
    for who in ("siblingsecretary", "othersecretary", "otherstaff"):
        got = login(who).get(url)
        body = assert_problem(got, 404)
        assert content not in got.content and "不存在" in body["detail"]
    assert_problem(login("staff").get(f"{API}/attachments/999999"), 404)
    assert_problem(login("otherstaff").post(f"{API}/tasks/{tasks['a']}/updates",
                                            data={"note": "x"}), 404)
    assert_problem(login("viewer").post(f"{API}/tasks/{tasks['a']}/updates",
                                        data={"note": "x"}), 403)
    assert len(stored_files(settings.upload_dir)) == 1


def test_no_progress_on_a_verified_task(
    engine: Engine, tasks: dict[str, int], login: Any, settings: Any
) -> None:
    with committed(engine) as s:
        task = s.get(Task, tasks["a"])
        assert task is not None
        task.status = TaskStatus.verified
    r = upload(login("staff"), tasks["a"], ("a.jpg", jpeg(), "image/jpeg"))
    assert_problem(r, 409)
    assert stored_files(settings.upload_dir) == []


# ---------------------------------------------------------------- duplicate evidence (纸面销号)


def _submit(client: Any, task_id: int) -> Any:
    version = client.get(f"{API}/tasks/{task_id}").headers["ETag"]
    return client.post(f"{API}/tasks/{task_id}/transitions", json={"action": "submit"},
                       headers={"If-Match": version})


def test_the_same_file_on_two_tasks_is_flagged_and_needs_confirmation_to_verify(
    tasks: dict[str, int], login: Any
) -> None:
    secretary, staff = login("secretary"), login("staff")
    photo = jpeg(b"the same photo")
    assert upload(secretary, tasks["a"], ("会议照片.jpg", photo, "image/jpeg")).status_code == 201
    assert upload(secretary, tasks["b"], ("换个名字.jpg", photo, "image/jpeg")).status_code == 201
    sha = hashlib.sha256(photo).hexdigest()

    a = staff.get(f"{API}/tasks/{tasks['a']}").json()
    b = staff.get(f"{API}/tasks/{tasks['b']}").json()
    assert a["duplicate_evidence"] == [
        {"sha256": sha, "file_name": "会议照片.jpg", "other_task_ids": [tasks["b"]],
         "elsewhere": False}]
    assert b["duplicate_evidence"] == [
        {"sha256": sha, "file_name": "换个名字.jpg", "other_task_ids": [tasks["a"]],
         "elsewhere": False}]
    listed = {t["id"]: t for t in staff.get(f"{API}/tasks").json()["items"]}
    assert listed[tasks["a"]]["duplicate_evidence"][0]["other_task_ids"] == [tasks["b"]]
    html = staff.get(f"{API}/tasks/{tasks['a']}", headers={"HX-Request": "true"}).text
    assert "疑似纸面销号" in html and f"/tasks/{tasks['b']}" in html

    assert _submit(secretary, tasks["a"]).status_code == 200
    etag = staff.get(f"{API}/tasks/{tasks['a']}").headers["ETag"]
    r = staff.post(f"{API}/tasks/{tasks['a']}/transitions", json={"action": "verify"},
                   headers={"If-Match": etag})
    body = assert_problem(r, 409)
    assert "会议照片.jpg" in body["detail"] and "纸面销号" in body["detail"]
    assert staff.get(f"{API}/tasks/{tasks['a']}").json()["status"] == "submitted"
    r = staff.post(f"{API}/tasks/{tasks['a']}/transitions",
                   json={"action": "verify", "confirm_duplicate_evidence": True},
                   headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "verified"


def test_different_files_are_not_flagged(tasks: dict[str, int], login: Any) -> None:
    secretary, staff = login("secretary"), login("staff")
    assert upload(secretary, tasks["a"], ("a.jpg", jpeg(b"a"), "image/jpeg")).status_code == 201
    assert upload(secretary, tasks["b"], ("a.jpg", jpeg(b"b"), "image/jpeg")).status_code == 201
    # the same file twice on one task is not evidence reused elsewhere
    assert upload(secretary, tasks["a"], ("a2.jpg", jpeg(b"a"), "image/jpeg")).status_code == 201
    assert staff.get(f"{API}/tasks/{tasks['a']}").json()["duplicate_evidence"] == []
    assert _submit(secretary, tasks["a"]).status_code == 200
    etag = staff.get(f"{API}/tasks/{tasks['a']}").headers["ETag"]
    r = staff.post(f"{API}/tasks/{tasks['a']}/transitions", json={"action": "verify"},
                   headers={"If-Match": etag})
    assert r.status_code == 200, r.text


def test_a_task_of_another_township_sharing_evidence_is_flagged_too(
    engine: Engine, world: Any, tasks: dict[str, int], login: Any
) -> None:
    with committed(engine) as s:
        ours = s.get(Task, tasks["a"])
        assert ours is not None
        campaign = s.get(Campaign, ours.campaign_id)
        other = make_problem(s, campaign, world.other_township, branch=world.other_branch)
        theirs = make_task(s, other).id
    photo = jpeg(b"shared across townships")
    for who, task_id in (("secretary", tasks["a"]), ("othersecretary", theirs)):
        assert upload(login(who), task_id, ("x.jpg", photo, "image/jpeg")).status_code == 201
    # staff of this township learn that the file is used elsewhere, not where (issue 10)
    dup = login("staff").get(f"{API}/tasks/{tasks['a']}").json()["duplicate_evidence"]
    assert dup[0]["other_task_ids"] == [] and dup[0]["elsewhere"] is True
    html = login("staff").get(f"{API}/tasks/{tasks['a']}", headers={"HX-Request": "true"}).text
    assert "其他单位任务" in html and f"/tasks/{theirs}" not in html
    # the county sees both townships: it is told which task
    dup = login("admin").get(f"{API}/tasks/{tasks['a']}").json()["duplicate_evidence"]
    assert dup[0]["other_task_ids"] == [theirs] and dup[0]["elsewhere"] is False
