"""A village secretary's phone on Slow 3G: bytes moved and time to usable for the feedback
form page and a task page with 3 photos, on a first and a repeat visit, and what a
12-megapixel photo becomes before it leaves the phone.

The app runs in this process (uvicorn in a thread, a temporary SQLite database with the
demo data, port 8121). Chromium (/usr/bin/chromium, through Playwright) at 390×844 is slowed
to Chromium's Slow 3G figures — 400 kbit/s down and up, 400 ms round trip — in two ways,
each measured:

- `cdp`: DevTools' `Network.emulateNetworkConditions` on the page, as the design names it.
  It slows the page's own requests only; a service worker's fetches are not slowed, so a
  repeat visit (its page comes through the worker) looks faster than it is.
- `relay`: a TCP relay in front of the app (port 8122) that delays each chunk by half the
  round trip and meters each direction to 400 kbit/s, shared by all connections: the
  service worker's fetches are slowed too. Bytes are counted at the relay (all traffic,
  headers included).

A first visit is a new browser profile signed in through the API (no page, no service
worker, no cache yet); a repeat visit is the same page opened again in that profile after
the first visit has finished (service worker installed). "Usable" is the moment the page's
controls work: the form's script has read the queue (feedback) or the report form's script
is ready (task). Bytes are counted until the network has been idle for 0.5 s, so they
include the service worker's background caching on a first visit.

Targets (DESIGN.md, phones): usable within 4 s on a first visit and 1 s on a repeat visit;
a 12-megapixel photo leaves the phone as at most 500 KB.

    python -m bench.phone
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from bench.common import log, machine, verdict

APP_PORT = 8121
RELAY_PORT = 8122
RATE = 400_000 / 8  # bytes per second, each direction
RTT = 0.4  # seconds
CHROMIUM = "/usr/bin/chromium"
FIRST_TARGET, REPEAT_TARGET, PHOTO_TARGET = 4.0, 1.0, 500 * 1024


def twelve_megapixel_photo() -> bytes:
    """A 4000×3000 camera-like JPEG: detail (noise), a gradient, an EXIF rotation."""
    noise = Image.effect_noise((1000, 750), 40).resize((4000, 3000))
    gradient = Image.linear_gradient("L").resize((4000, 3000))
    img = Image.merge("RGB", (noise, gradient, noise))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


# ---------------------------------------------------------------- the app and the relay


@contextmanager
def app_server(folder: Path) -> Iterator[tuple[str, int]]:
    """The app on a demo database; answers its base URL and a task id of the secretary's."""
    import uvicorn
    from sqlalchemy import text
    from sqlmodel import Session

    from app.config import Settings
    from app.db import get_engine
    from app.main import create_app
    from app.migrate import upgrade
    from app.services.demo import load_demo

    url = f"sqlite:///{folder / 'phone.db'}"
    upgrade(url)
    settings = Settings(database_url=url, upload_dir=folder / "uploads",
                        environment="development")
    engine = get_engine(settings)
    with Session(engine) as session:
        load_demo(session)
        session.commit()
        task_id = session.execute(text(
            "SELECT t.id FROM task t JOIN user_account u ON u.branch_id = t.branch_id "
            "WHERE u.username = 'secretary' ORDER BY t.id LIMIT 1")).scalar_one()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, engine), host="127.0.0.1",
                                           port=APP_PORT, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{APP_PORT}", int(task_id)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Meter:
    """One direction of the slow link: a shared 400 kbit/s budget, and a byte count."""

    def __init__(self) -> None:
        self.free_at = 0.0
        self.bytes = 0

    def arrival(self, n: int) -> float:
        """When `n` bytes sent now arrive: after the bytes ahead of them, and half a round trip."""
        now = time.monotonic()
        self.free_at = max(self.free_at, now) + n / RATE
        self.bytes += n
        return self.free_at + RTT / 2


class Relay:
    """127.0.0.1:RELAY_PORT → the app, at Slow 3G (in a thread with its own event loop)."""

    def __init__(self) -> None:
        self.down, self.up = Meter(), Meter()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    meter: Meter) -> None:
        # reading goes on while earlier chunks are still on their way (a pipe, not a queue
        # of round trips)
        in_flight: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                at, chunk = await in_flight.get()
                if not chunk:
                    return
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                writer.write(chunk)
                await writer.drain()

        delivering = asyncio.ensure_future(deliver())
        try:
            while chunk := await reader.read(16384):
                in_flight.put_nowait((meter.arrival(len(chunk)), chunk))
        except ConnectionError:
            pass
        finally:
            in_flight.put_nowait((0.0, b""))
            with suppress(ConnectionError):
                await delivering
            writer.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            app_r, app_w = await asyncio.open_connection("127.0.0.1", APP_PORT)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(self._pipe(client_r, app_w, self.up),
                             self._pipe(app_r, client_w, self.down))

    def __enter__(self) -> Relay:
        self.thread.start()
        started = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", RELAY_PORT), self.loop)
        self.server = started.result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    def moved(self) -> int:
        return self.down.bytes + self.up.bytes


# ---------------------------------------------------------------- measuring


@dataclass
class Visit:
    page: str
    mode: str
    visit: str
    seconds: float
    kilobytes: float

    def target(self) -> float:
        return FIRST_TARGET if self.visit == "first" else REPEAT_TARGET


USABLE = {
    "form": ("/feedback/new",
             "() => !!window.RectifyFeedback"
             " && !!document.querySelector('#fb-opinions .fb-opinion')"),
    "task": (None, "() => !!window.RectifyReports && !!document.getElementById('report-form')"),
}


def new_context(browser: Any, base: str) -> Any:
    context = browser.new_context(base_url=base, viewport={"width": 390, "height": 844},
                                  locale="zh-CN", device_scale_factor=2, has_touch=True)
    from app.services.demo import DEMO_PASSWORD

    r = context.request.post("/api/v1/auth/login",
                             data={"username": "secretary", "password": DEMO_PASSWORD})
    assert r.ok, r.text()
    return context


def throttle(page: Any) -> Any:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": RTT * 1000,
        "downloadThroughput": RATE, "uploadThroughput": RATE})
    moved = {"bytes": 0}
    cdp.on("Network.loadingFinished",
           lambda e: moved.__setitem__("bytes", moved["bytes"] + e["encodedDataLength"]))
    return moved


def visit(page: Any, path: str, usable: str, counter: Any) -> tuple[float, int]:
    """Open `path`; seconds until usable, bytes moved until the network is idle."""
    before = counter()
    started = time.perf_counter()
    page.goto(path, wait_until="commit")
    page.wait_for_function(usable, timeout=60_000, polling=50)
    seconds = time.perf_counter() - started
    page.wait_for_load_state("networkidle", timeout=120_000)
    page.wait_for_timeout(500)
    return seconds, counter() - before


def measure(browser: Any, base: str, mode: str, task_id: int, relay: Relay | None) -> list[Visit]:
    results = []
    for name, (path, usable) in USABLE.items():
        target_path = path or f"/tasks/{task_id}"
        context = new_context(browser, base)
        page = context.new_page()
        if mode == "cdp":
            moved = throttle(page)

            def counter(moved: dict[str, int] = moved) -> int:
                return moved["bytes"]
        else:
            assert relay is not None
            counter = relay.moved
        for which in ("first", "repeat"):
            seconds, moved_bytes = visit(page, target_path, usable, counter)
            if which == "first":  # the worker is in place before the repeat visit
                page.evaluate("navigator.serviceWorker.ready.then(() => true)")
                page.wait_for_timeout(1500)
            results.append(Visit(name, mode, which, seconds, moved_bytes / 1024))
        context.close()
    return results


def add_photos(browser: Any, base: str, task_id: int, photo: bytes, folder: Path) -> int:
    """Three reports with a 12-megapixel photo each, through the task page (unthrottled):
    the photo is shrunk by the page. Answers the largest photo as the server received it
    (the canvas writes no EXIF, so the server's location cut leaves it as it came)."""
    from sqlalchemy import create_engine, text

    context = new_context(browser, base)
    page = context.new_page()
    page.goto(f"/tasks/{task_id}")
    for i in range(3):
        page.get_by_label("进展情况").fill(f"第{i + 1}次整改进展,附现场照片")
        page.locator("#update-files").set_input_files(
            {"name": f"IMG_{i}.jpg", "mimeType": "image/jpeg", "buffer": photo})
        page.get_by_role("button", name="上报进展").click()
        page.wait_for_function(
            "n => RectifyReports.queue().filter(e => e.state === 'sent').length === n",
            arg=i + 1, timeout=60_000)
        page.wait_for_function("() => !!document.getElementById('report-form')")
    context.close()
    engine = create_engine(f"sqlite:///{folder / 'phone.db'}")
    with engine.connect() as conn:
        count, largest = conn.execute(text("SELECT count(*), max(size) FROM attachment")).one()
    engine.dispose()
    assert count == 3, count
    return int(largest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    from playwright.sync_api import sync_playwright

    log(f"machine: {machine()}")
    photo = twelve_megapixel_photo()
    with tempfile.TemporaryDirectory() as tmp, app_server(Path(tmp)) as (base, task_id), \
            Relay() as relay, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        shrunk = add_photos(browser, base, task_id, photo, Path(tmp))
        results = measure(browser, base, "cdp", task_id, None)
        results += measure(browser, f"http://127.0.0.1:{RELAY_PORT}", "relay", task_id, relay)
        browser.close()

    log("\nSlow 3G (400 kbit/s down and up, 400 ms round trip), phone at 390×844")
    log(f"{'page':<6} {'throttle':<8} {'visit':<7} {'usable (s)':>10} {'moved (KB)':>10}  verdict")
    for r in results:
        ok = r.seconds <= r.target()
        log(f"{r.page:<6} {r.mode:<8} {r.visit:<7} {r.seconds:>10.2f} {r.kilobytes:>10.1f}  "
            f"{verdict(ok)} (≤ {r.target():.0f} s)")
    log(f"\n12-megapixel photo (4000×3000): {len(photo) / 1024:.0f} KB as taken → left the "
        f"phone as {shrunk / 1024:.0f} KB (largest of 3): "
        f"{verdict(shrunk <= PHOTO_TARGET)} (≤ 500 KB)")


if __name__ == "__main__":
    main()
