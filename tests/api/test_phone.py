"""Light pages for phones on weak networks: compressed text, static files under hashed URLs
with a year's lifetime, a service worker keyed by the build, photos stored without their
location, thumbnails in timelines, and a progress report sent twice stored once."""

import gzip
import hashlib
import io
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import Engine, func, select

from app import assets
from app.models.task import Attachment, ProgressUpdate
from app.services import evidence
from tests.api.test_evidence import pdf, tasks, upload  # noqa: F401  (tasks: a fixture)
from tests.factories import committed

API = "/api/v1"
GPS = 0x8825


def camera_photo(size: tuple[int, int] = (400, 300), orientation: int = 6) -> bytes:
    """A JPEG as a phone camera writes it: EXIF with a maker, a rotation and a location."""
    img = Image.new("RGB", size, (30, 120, 200))
    for x in range(0, size[0], 20):  # some detail, so the picture is not trivial
        img.paste((200, 40, 40), (x, 0, x + 10, size[1] // 2))
    exif = Image.Exif()
    exif[0x010F] = "Phone Maker"
    exif[0x0112] = orientation
    gps = exif.get_ifd(GPS)
    gps.update({1: "N", 2: (41.0, 56.0, 12.0), 3: "E", 4: (117.0, 23.0, 5.0)})
    exif.get_ifd(0x8769)[0x9003] = "2026:11:30 09:00:00"
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def png_with_location() -> bytes:
    img = Image.new("RGB", (50, 40), (0, 128, 0))
    exif = Image.Exif()
    exif.get_ifd(GPS).update({1: "N", 2: (41.0, 56.0, 12.0)})
    out = io.BytesIO()
    img.save(out, "PNG", exif=exif.tobytes())
    data = out.getvalue()
    text = (b"XML:com.adobe.xmp\x00"
            b"<x:xmpmeta><exif:GPSLatitude>41,56N</exif:GPSLatitude></x:xmpmeta>")
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text + \
        struct.pack(">I", zlib.crc32(b"tEXt" + text))
    return data[:33] + chunk + data[33:]  # after IHDR


# ---------------------------------------------------------------- compression, static files


def test_pages_and_api_answers_are_compressed(world: Any, login: Any) -> None:
    secretary = login("secretary")
    page = secretary.get("/my/tasks", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200
    assert page.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in page.headers["Vary"]
    assert "我的支部任务" in page.text  # decoded by the client
    plain = secretary.get("/my/tasks", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert plain.text == page.text


def test_streamed_export_is_compressed_and_still_streams(world: Any, login: Any) -> None:
    staff = login("staff")
    with staff.stream("GET", f"{API}/reports/ledger.csv",
                      headers={"Accept-Encoding": "gzip"}) as r:
        assert r.status_code == 200
        assert r.headers["Content-Encoding"] == "gzip"
        assert "Content-Length" not in r.headers  # chunked: sent as it is made
        raw = b"".join(r.iter_raw())
    assert gzip.decompress(raw).decode("utf-8-sig").splitlines()[0].startswith("序号,党支部")


def test_xlsx_is_not_compressed_twice(world: Any, login: Any) -> None:
    r = login("staff").get(f"{API}/reports/ledger.xlsx", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert "Content-Encoding" not in r.headers


def test_static_files_have_hashed_urls_with_a_year_lifetime(world: Any, login: Any,
                                                            client: Any) -> None:
    page = login("secretary").get("/my/tasks").text
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert urls, page[:500]
    for url in urls:
        assert re.fullmatch(r"/static/[0-9a-f]{12}/[\w./-]+\.(?:js|css)", url), url
        r = client.get(url)
        assert r.status_code == 200, url
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        name = url.split("/", 3)[3]
        digest = hashlib.sha256((assets.STATIC_DIR / name).read_bytes()).hexdigest()
        assert url.split("/")[2] == digest[:12]
    # the plain name and an outdated hash still answer, revalidated on each use
    for url in ("/static/app.js", "/static/000000000000/app.js"):
        r = client.get(url)
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == "no-cache"
    assert client.get("/static/0123456789ab/nothing.js").status_code == 404


def test_service_worker_is_keyed_by_the_build(client: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    worker = client.get("/sw.js")
    assert worker.headers["Cache-Control"] == "no-cache"
    assert f'var BUILD = "{assets.build_hash()}";' in worker.text
    assert assets.static_url("app.js") in worker.text
    assert "__ASSETS__" not in worker.text

    # a changed file is a new build, and so a new worker
    copy = tmp_path / "static"
    copy.mkdir()
    for name in (*assets.asset_names(), "sw.js"):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes((assets.STATIC_DIR / name).read_bytes())
    def forget() -> None:
        for cached in (assets.file_hash, assets.asset_names, assets.build_hash):
            cached.cache_clear()

    monkeypatch.setattr(assets, "STATIC_DIR", copy)
    forget()
    try:
        before = assets.build_hash()
        (copy / "app.js").write_text((copy / "app.js").read_text() + "\n// v2\n")
        forget()
        assert assets.build_hash() != before
        assert f'"{assets.build_hash()}"' in assets.service_worker_source()
    finally:
        monkeypatch.undo()
        forget()


# ---------------------------------------------------------------- photos


def test_photo_is_stored_without_its_location(tasks: dict[str, int], login: Any,  # noqa: F811
                                              settings: Any) -> None:
    photo = camera_photo()
    assert GPS in Image.open(io.BytesIO(photo)).getexif()
    secretary = login("secretary")
    r = upload(secretary, tasks["a"], ("现场.jpg", photo, "image/jpeg"))
    assert r.status_code == 201, r.text
    [a] = r.json()["attachments"]
    stored = secretary.get(a["url"]).content
    exif = Image.open(io.BytesIO(stored)).getexif()
    assert GPS not in exif and not exif.get_ifd(GPS)
    assert exif[0x0112] == 6 and exif[0x010F] == "Phone Maker"  # the rest is kept
    assert exif.get_ifd(0x8769)[0x9003] == "2026:11:30 09:00:00"
    # the picture itself is untouched: the same scan data, byte for byte
    assert stored[stored.index(b"\xff\xda"):] == photo[photo.index(b"\xff\xda"):]
    # the recorded hash is of the stored bytes, the file anyone downloads
    assert a["sha256"] == hashlib.sha256(stored).hexdigest()
    assert a["size"] == len(stored) < len(photo)


def test_png_loses_its_location_chunks(tasks: dict[str, int], login: Any) -> None:  # noqa: F811
    secretary = login("secretary")
    r = upload(secretary, tasks["a"], ("截图.png", png_with_location(), "image/png"))
    assert r.status_code == 201, r.text
    stored = secretary.get(r.json()["attachments"][0]["url"]).content
    assert b"eXIf" not in stored and b"GPSLatitude" not in stored
    assert Image.open(io.BytesIO(stored)).size == (50, 40)


def test_same_photo_on_two_tasks_is_still_flagged(tasks: dict[str, int], login: Any) -> None:  # noqa: F811
    photo = camera_photo()
    secretary = login("secretary")
    assert upload(secretary, tasks["a"], ("a.jpg", photo, "image/jpeg")).status_code == 201
    assert upload(secretary, tasks["b"], ("b.jpg", photo, "image/jpeg")).status_code == 201
    task = secretary.get(f"{API}/tasks/{tasks['b']}").json()
    assert [d["other_task_ids"] for d in task["duplicate_evidence"]] == [[tasks["a"]]]


def test_thumbnail_is_small_upright_and_made_once(tasks: dict[str, int], login: Any,  # noqa: F811
                                                  settings: Any) -> None:
    secretary = login("secretary")
    big = camera_photo(size=(2000, 1500), orientation=6)
    [a] = upload(secretary, tasks["a"], ("大图.jpg", big, "image/jpeg")).json()["attachments"]
    r = secretary.get(a["url"], params={"size": "thumb"})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/jpeg"
    assert "immutable" in r.headers["Cache-Control"]
    thumb = Image.open(io.BytesIO(r.content))
    assert thumb.size == (360, 480)  # turned upright (orientation 6), longest side 480
    assert len(r.content) < 60_000 < len(big)
    made = list((settings.upload_dir / "thumbs").rglob("*.jpg"))
    assert len(made) == 1
    mtime = made[0].stat().st_mtime_ns
    assert secretary.get(a["url"], params={"size": "thumb"}).content == r.content
    assert made[0].stat().st_mtime_ns == mtime  # served from disk, not made again
    # the timeline shows the thumbnail, linking to the photo
    page = secretary.get(f"/tasks/{tasks['a']}").text
    assert f'<img src="{a["url"]}?size=thumb"' in page
    # others may not see it, thumbnail or not
    assert login("othersecretary").get(a["url"], params={"size": "thumb"}).status_code == 404
    assert secretary.get(a["url"], params={"size": "huge"}).status_code == 422


def test_thumbnail_of_a_document_is_the_document(tasks: dict[str, int], login: Any) -> None:  # noqa: F811
    secretary = login("secretary")
    r = upload(secretary, tasks["a"], ("记录.pdf", pdf(), "application/pdf"))
    [a] = r.json()["attachments"]
    r = secretary.get(a["url"], params={"size": "thumb"})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.content == pdf()


# ---------------------------------------------------------------- replayed report


def test_report_with_photo_sent_twice_with_its_key_is_stored_once(
    tasks: dict[str, int], login: Any, engine: Engine  # noqa: F811
) -> None:
    """What a phone does: the same multipart bytes (fixed boundary) and the same key."""
    boundary = "----rectifyfixedboundary"
    body = b"".join([
        f"--{boundary}\r\n".encode(),
        b'Content-Disposition: form-data; name="note"\r\n\r\n', "照片补报".encode(), b"\r\n",
        f"--{boundary}\r\n".encode(),
        'Content-Disposition: form-data; name="files"; filename="现场.jpg"\r\n'.encode(),
        b"Content-Type: image/jpeg\r\n\r\n", camera_photo(), b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ])
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
               "Idempotency-Key": "phone-report-1"}
    secretary = login("secretary")
    first = secretary.post(f"{API}/tasks/{tasks['a']}/updates", content=body, headers=headers)
    again = secretary.post(f"{API}/tasks/{tasks['a']}/updates", content=body, headers=headers)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    with committed(engine) as s:
        assert s.scalar(select(func.count()).select_from(ProgressUpdate)) == 1
        assert s.scalar(select(func.count()).select_from(Attachment)) == 1


def test_webp_loses_its_exif_and_xmp() -> None:
    img = Image.new("RGB", (64, 48), (10, 200, 10))
    exif = Image.Exif()
    exif.get_ifd(GPS).update({1: "N", 2: (41.0, 56.0, 12.0)})
    out = io.BytesIO()
    img.save(out, "WEBP", exif=exif.tobytes(), xmp=b"<x:xmpmeta>GPSLatitude</x:xmpmeta>",
             lossless=True)
    data = out.getvalue()
    assert b"EXIF" in data and b"GPSLatitude" in data
    stripped = evidence.strip_location(data, "image/webp")
    assert stripped is not None
    assert b"EXIF" not in stripped and b"GPSLatitude" not in stripped
    again = Image.open(io.BytesIO(stripped))
    again.load()
    assert again.size == (64, 48) and not again.getexif().get_ifd(GPS)
    assert evidence.strip_location(stripped, "image/webp") is None  # nothing left to cut
