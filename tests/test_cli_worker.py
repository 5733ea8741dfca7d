"""`rectify remind` and `rectify worker` as an operator runs them."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from app.db import transaction
from app.models.user import Role
from app.models.webhook import WebhookCreate
from app.services import webhooks as webhook_svc
from app.services.actors import SYSTEM
from tests.factories import (
    make_branch,
    make_campaign,
    make_problem,
    make_task,
    make_township,
    make_user,
)
from tests.services.test_webhooks import Receiver, receivers  # noqa: F401 (fixture)
from tests.test_cli import db_url, reader, run, scalar, upgraded  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent


def _task_due_tomorrow(engine: Engine) -> None:
    with transaction(engine) as s:
        township = make_township(s, name="甲镇")
        branch = make_branch(s, township)
        make_user(s, Role.branch_secretary, branch=branch, username="sec")
        problem = make_problem(s, make_campaign(s), township, branch=branch)
        make_task(s, problem, due_on=date.today() + timedelta(days=1))


def test_remind_twice_makes_each_notification_once(reader: Engine) -> None:  # noqa: F811
    _task_due_tomorrow(reader)
    first = run("remind")
    assert "即将到期 1 条" in first.output
    second = run("remind")
    assert "即将到期 0 条" in second.output
    assert scalar(reader, "SELECT count(*) FROM notification") == 1


def test_worker_delivers_then_stops_on_sigterm(
    reader: Engine, upgraded: str, receivers: Callable[..., Receiver]  # noqa: F811
) -> None:
    receiver = receivers()
    with transaction(reader) as s:
        webhook_svc.create_webhook(session=s, actor=SYSTEM,
                                   data=WebhookCreate(url=receiver.url, secret="k"))
    _task_due_tomorrow(reader)
    env = {**os.environ, "DATABASE_URL": upgraded, "ENVIRONMENT": "development",
           "WORKER_POLL_SECONDS": "0.05", "PYTHONPATH": str(ROOT), "TIMEZONE": "local"}
    worker = subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; main()", "worker"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(receiver.delivered_changes()) < 5:  # township, branch, user, campaign, ...
            assert time.monotonic() < deadline, "the worker delivered nothing"
            assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=15)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, output
    assert "已停止" in output
    # the worker ran the day's reminders too
    with reader.connect() as conn:
        kinds = [k for (k,) in conn.execute(text("SELECT kind FROM notification"))]
    assert kinds == ["task_due_soon"]
    types = [t for t, *_ in receiver.delivered_changes()]
    assert "user" not in types and types.count("task") == 1
