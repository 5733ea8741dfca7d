"""The 整顿转化 reminders (visit_overdue, revisit_due, acceptance_due) reach whoever must act
and nobody else, once a day however often `remind` runs; the chat digest lists missed visits."""

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, select

from app.config import Settings
from app.db import transaction
from app.models.notification import Notification
from app.services.notifications import remind
from app.services.webhooks import digest_text
from tests.api.test_rectifications import FULL, applied, designated
from tests.factories import committed, make_campaign

API = "/api/v1"


def notified(engine: Engine, kind: str) -> set[tuple[str, str]]:
    """(username, message) of every notification of `kind`."""
    from app.models.user import User

    with transaction(engine, write=False) as s:
        rows = s.execute(select(User.username, Notification.message)
                         .join(User, User.id == Notification.user_id)
                         .where(Notification.kind == kind)).all()
    return {(u, m) for u, m in rows}


def run(engine: Engine, settings: Settings) -> dict[str, int]:
    with transaction(engine) as s:
        return remind(session=s, settings=settings)


def test_rectification_reminders_reach_those_who_must_act(
    engine: Engine, login: Any, world: Any, settings: Settings
) -> None:
    with committed(engine) as s:
        campaign = make_campaign(s)
    rect = designated(login, campaign, world.branch.id)
    admin = login("admin")
    long_ago = (date.today() - timedelta(days=40)).isoformat()
    r = admin.patch(f"{API}/rectifications/{rect['id']}", json={
        "designated_on": long_ago, "target_on": (date.today() - timedelta(days=1)).isoformat(),
        "liaisons": [{"role": "first_secretary", "name": "王五"}], "version": rect["version"]})
    assert r.status_code == 200, r.text

    made = run(engine, settings)
    assert made["visit_overdue"] == 2 and made["acceptance_due"] == 1
    visits = notified(engine, "visit_overdue")
    assert {u for u, _ in visits} == {"staff", "secretary"}
    assert all("第一书记" in m and "未按期走访" in m for _, m in visits)
    assert {u for u, _ in notified(engine, "acceptance_due")} == {"staff"}
    assert sum(run(engine, settings).values()) == 0  # the same day again: nothing new

    with transaction(engine, write=False) as s:
        text = digest_text(session=s, settings=settings, township_id=world.township.id,
                           today=date.today())
        other = digest_text(session=s, settings=settings, township_id=world.other_township.id,
                            today=date.today())
    assert text is not None and "包联走访超期 1 项" in text and "第一书记未按期走访" in text
    assert other is None


def test_applied_waits_for_the_county_and_revisits_fall_due(
    engine: Engine, login: Any, world: Any, settings: Settings
) -> None:
    with committed(engine) as s:
        campaign = make_campaign(s)
    rect = applied(login, campaign, world)  # designated a year ago, then applied
    run(engine, settings)
    assert {u for u, _ in notified(engine, "acceptance_due")} == {"admin"}

    held_on = date.today() - timedelta(days=200)
    r = login("admin").post(f"{API}/acceptances", json={
        "rectification_id": rect["id"], "held_on": held_on.isoformat(),
        "item_scores": [{"code": c, "score": str(p)} for c, p in FULL],
        "ratings": [{"dimension": "overall", "satisfied": 10, "basic": 0, "dissatisfied": 0}]})
    assert r.status_code in (200, 201), r.text
    made = run(engine, settings)
    assert made["revisit_due"] == 1  # the 6-month revisit is past due; the 12-month is not
    assert {u for u, _ in notified(engine, "revisit_due")} == {"staff"}
