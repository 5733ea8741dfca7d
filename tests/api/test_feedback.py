"""Feedback forms over HTTP: who may enter and read them, anonymity, idempotent entry,
consolidation into suggestions and problems, issuance, statistics and the change feed."""

import json
import re
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.models.base import metadata
from app.models.campaign import Campaign, CampaignStatus, Criterion, CriterionKind
from app.models.user import Role, TokenScope
from tests.factories import (
    assert_problem,
    bearer,
    committed,
    make_branch,
    make_token,
    make_user,
)

FORMS = "/api/v1/feedback-forms"
OPINIONS = "/api/v1/opinions"
SUGGESTIONS = "/api/v1/suggestions"
ISSUANCES = "/api/v1/form-issuances"
STATS = "/api/v1/feedback-stats"


@pytest.fixture
def campaign_id(engine: Engine, world) -> int:  # type: ignore[no-untyped-def]
    """An active campaign with its own problem categories (`other`, `weak_leadership`)."""
    with committed(engine) as s:
        c = Campaign(name="2026年专项整治", starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31),
                     status=CampaignStatus.active)
        s.add(c)
        s.flush()
        for i, code in enumerate(("weak_leadership", "other")):
            s.add(Criterion(campaign_id=c.id, code=code, label=code, position=i,
                            kind=CriterionKind.category))
        return c.id  # type: ignore[return-value]


def form(campaign_id: int, branch_id: int, *texts: str, **overrides: Any) -> dict[str, Any]:
    """A valid body of `POST /feedback-forms`; each text an opinion (theme `prosperity`)."""
    return {
        "campaign_id": campaign_id, "branch_id": branch_id, "respondent_kind": "villager",
        "anonymous": True, "satisfaction": "satisfied",
        "opinions": [{"text": t, "theme": "prosperity"} for t in (texts or ("多办实事",))],
        **overrides,
    }


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def form_count(engine: Engine) -> int:
    return int(scalar(engine, "SELECT count(*) FROM feedback_form"))


def errors_of(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {e["field"]: e["message"] for e in response.json()["errors"]}


# --- entering forms: who may ------------------------------------------------------------


def test_secretary_enters_a_form_of_own_branch(world, login, campaign_id, engine):
    secretary = login("secretary")
    body = form(campaign_id, world.branch.id, "希望多组织技术培训", "村务要公开",
                respondent_kind="party_member", satisfaction="basically")
    body["opinions"][1]["theme"] = "work_style"
    r = secretary.post(FORMS, json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["branch_id"] == world.branch.id
    assert created["township_id"] == world.township.id
    assert created["branch_name"] == "甲一村党支部"
    assert created["respondent_kind"] == "party_member"
    assert created["satisfaction"] == "basically"
    assert created["submitted_by"]
    assert [(o["text"], o["theme"]) for o in created["opinions"]] == [
        ("希望多组织技术培训", "prosperity"), ("村务要公开", "work_style")]
    assert all(o["suggestion_id"] is None for o in created["opinions"])
    assert r.headers["Location"] == f"{FORMS}/{created['id']}"
    assert r.headers["ETag"] == '"1"'
    assert secretary.get(r.headers["Location"]).json()["id"] == created["id"]
    assert "Idempotent-Replayed" not in r.headers


def test_secretary_cannot_enter_or_read_forms_of_another_branch(world, login, campaign_id,
                                                                engine):
    with committed(engine) as s:
        sibling = make_branch(s, world.township, name="甲二村党支部")
    secretary = login("secretary")
    for branch_id in (sibling.id, world.other_branch.id, 999999):
        r = secretary.post(FORMS, json=form(campaign_id, branch_id))
        assert_problem(r, 422, field="branch_id")
    assert form_count(engine) == 0

    admin = login("admin")
    theirs = admin.post(FORMS, json=form(campaign_id, sibling.id)).json()
    assert_problem(secretary.get(f"{FORMS}/{theirs['id']}"), 404)
    assert secretary.get(FORMS).json()["items"] == []
    assert secretary.get(OPINIONS).json()["items"] == []
    assert_problem(secretary.get(f"{OPINIONS}/{theirs['opinions'][0]['id']}"), 404)


def test_viewers_may_not_enter_forms(world, login, campaign_id, engine):
    for username in ("viewer", "countyviewer"):
        r = login(username).post(FORMS, json=form(campaign_id, world.branch.id))
        body = assert_problem(r, 403)
        assert "本支部" in body["detail"] or "只读" in body["detail"] or body["detail"]
    assert form_count(engine) == 0


def test_staff_enter_forms_of_own_township_only(world, login, campaign_id, engine):
    staff, other = login("staff"), login("otherstaff")
    r = staff.post(FORMS, json=form(campaign_id, world.branch.id))
    assert r.status_code == 201, r.text
    assert_problem(other.post(FORMS, json=form(campaign_id, world.branch.id)), 422,
                   field="branch_id")
    assert_problem(other.get(f"{FORMS}/{r.json()['id']}"), 404)
    assert other.get(FORMS).json()["items"] == []
    assert [f["id"] for f in staff.get(FORMS).json()["items"]] == [r.json()["id"]]
    assert form_count(engine) == 1


def test_tokens_enter_forms_with_write_scope_in_their_township(world, client, campaign_id,
                                                               engine):
    with committed(engine) as s:
        read = make_token(s, scope=TokenScope.read)
        write = make_token(s, scope=TokenScope.write, township=world.township)
    assert_problem(client.post(FORMS, json=form(campaign_id, world.branch.id),
                               headers=bearer(read)), 403)
    assert_problem(client.post(FORMS, json=form(campaign_id, world.other_branch.id),
                               headers=bearer(write)), 422, field="branch_id")
    r = client.post(FORMS, json=form(campaign_id, world.branch.id), headers=bearer(write))
    assert r.status_code == 201, r.text


def test_session_without_csrf_token_cannot_enter_a_form(world, login, campaign_id, engine):
    secretary = login("secretary")
    del secretary.client.headers["X-CSRF-Token"]
    assert_problem(secretary.post(FORMS, json=form(campaign_id, world.branch.id)), 403)
    assert form_count(engine) == 0


# --- validation ---------------------------------------------------------------------------


def test_bad_forms_are_refused_with_chinese_messages_naming_the_field(world, login,
                                                                      campaign_id, engine):
    secretary = login("secretary")
    post = secretary.post
    b = world.branch.id
    assert_problem(post(FORMS, json=form(999999, b)), 422, field="campaign_id")
    assert_problem(post(FORMS, json=form(campaign_id, b, opinions=[])), 422, field="opinions")
    assert_problem(post(FORMS, json=form(campaign_id, b, "长" * 1001)), 422,
                   field="opinions.0.text")
    assert_problem(post(FORMS, json=form(campaign_id, b, "   ")), 422, field="opinions.0.text")
    bad_theme = form(campaign_id, b)
    bad_theme["opinions"][0]["theme"] = "weather"
    assert_problem(post(FORMS, json=bad_theme), 422, field="opinions.0.theme")
    assert_problem(post(FORMS, json=form(campaign_id, b, respondent_kind="alien")), 422,
                   field="respondent_kind")
    assert_problem(post(FORMS, json=form(campaign_id, b, satisfaction="so-so")), 422,
                   field="satisfaction")
    r = post(FORMS, content=b"{not json", headers={"Content-Type": "application/json"})
    assert_problem(r, 422)
    assert form_count(engine) == 0


def test_a_named_form_needs_the_name(world, login, campaign_id, engine):
    secretary = login("secretary")
    for name in (None, "", "   "):
        r = secretary.post(FORMS, json=form(campaign_id, world.branch.id, anonymous=False,
                                            respondent_name=name))
        body = assert_problem(r, 422, field="respondent_name")
        assert "姓名" in body["errors"][0]["message"]
    assert form_count(engine) == 0
    r = secretary.post(FORMS, json=form(campaign_id, world.branch.id, anonymous=False,
                                        respondent_name=" 王大成 "))
    assert r.status_code == 201, r.text
    assert r.json()["respondent_name"] == "王大成"
    assert r.json()["anonymous"] is False


def test_an_anonymous_form_holds_no_name_anywhere(world, login, campaign_id, engine):
    secretary = login("secretary")
    r = secretary.post(FORMS, json=form(campaign_id, world.branch.id, "低保评定要公开",
                                        anonymous=True, respondent_name="张秘密"),
                       headers={"Idempotency-Key": "anon-1"})
    assert r.status_code == 201, r.text
    assert r.json()["respondent_name"] is None
    assert "张秘密" not in r.text
    assert scalar(engine, "SELECT respondent_name FROM feedback_form") is None

    admin = login("admin")
    assert "张秘密" not in admin.get(f"{FORMS}/{r.json()['id']}").text
    assert "张秘密" not in admin.get(FORMS).text
    audit = admin.get("/api/v1/audit-events", params={"entity_type": "feedback_form"})
    assert audit.status_code == 200, audit.text
    assert audit.json()["items"], "the form's creation is audited"
    assert "张秘密" not in audit.text
    feed = admin.get("/api/v1/changes", params={"types": "feedback_form"})
    assert feed.json()["changes"][0]["data"]["respondent_name"] is None
    assert "张秘密" not in feed.text
    # nor in any row of any table (audit_event.changes, change.data, the stored response)
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(table.select()):
                assert "张秘密" not in repr(tuple(row)), f"the name is stored in {table.name}"


# --- idempotent entry ---------------------------------------------------------------------


def test_a_replayed_form_is_stored_once_and_answered_as_the_first_time(world, login,
                                                                       campaign_id, engine):
    secretary = login("secretary")
    body = form(campaign_id, world.branch.id, "第一条", "第二条")
    key = {"Idempotency-Key": "phone-7f3a"}
    first = secretary.post(FORMS, json=body, headers=key)
    assert first.status_code == 201, first.text
    for _ in range(2):
        again = secretary.post(FORMS, json=body, headers=key)
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.content == first.content
        assert again.headers["Location"] == first.headers["Location"]
    assert form_count(engine) == 1
    assert scalar(engine, "SELECT count(*) FROM opinion") == 2

    # another key is another form
    other = secretary.post(FORMS, json=body, headers={"Idempotency-Key": "phone-8e21"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert form_count(engine) == 2


def test_a_key_reused_for_another_body_is_refused(world, login, campaign_id, engine):
    secretary = login("secretary")
    key = {"Idempotency-Key": "phone-reused"}
    assert secretary.post(FORMS, json=form(campaign_id, world.branch.id, "甲"),
                          headers=key).status_code == 201
    r = secretary.post(FORMS, json=form(campaign_id, world.branch.id, "乙"), headers=key)
    body = assert_problem(r, 422)
    assert "Idempotency-Key" in body["detail"]
    assert form_count(engine) == 1


def test_a_refused_form_does_not_use_up_its_key(world, login, campaign_id, engine):
    secretary = login("secretary")
    key = {"Idempotency-Key": "phone-refused"}
    assert_problem(secretary.post(FORMS, json=form(999999, world.branch.id), headers=key), 422)
    r = secretary.post(FORMS, json=form(campaign_id, world.branch.id), headers=key)
    assert r.status_code == 201, r.text
    assert "Idempotent-Replayed" not in r.headers


def test_keys_belong_to_whoever_sent_them(world, login, campaign_id, engine):
    body = form(campaign_id, world.branch.id)
    key = {"Idempotency-Key": "same-key"}
    a = login("secretary").post(FORMS, json=body, headers=key)
    b = login("staff").post(FORMS, json=body, headers=key)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert form_count(engine) == 2


def test_twenty_simultaneous_sends_of_one_form_store_it_once(world, app, campaign_id, engine):
    with committed(engine) as s:
        secret = make_token(s, scope=TokenScope.write, township=world.township)
    body = form(campaign_id, world.branch.id, "同时发送", "二十次")
    headers = {**bearer(secret), "Idempotency-Key": "burst-1"}
    clients = [TestClient(app) for _ in range(20)]
    start = threading.Barrier(len(clients))
    results: list[Any] = [None] * len(clients)

    def send(i: int) -> None:
        start.wait()
        try:
            results[i] = clients[i].post(FORMS, json=body, headers=headers)
        except Exception as exc:  # noqa: BLE001
            results[i] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for c in clients:
        c.close()

    # every sender gets the one answer: one made it, the others are its replay
    statuses = [getattr(r, "status_code", r) for r in results]
    assert statuses == [201] * len(clients), statuses
    assert len({r.content for r in results}) == 1
    assert sorted(r.headers.get("Idempotent-Replayed", "first") for r in results) == [
        "first"] + ["true"] * (len(clients) - 1)
    assert form_count(engine) == 1
    assert scalar(engine, "SELECT count(*) FROM opinion") == 2
    assert scalar(engine, "SELECT count(*) FROM idempotency_record") == 1
    # a late resend still gets the first answer
    late = TestClient(app).post(FORMS, json=body, headers=headers)
    assert late.status_code == 201 and late.headers["Idempotent-Replayed"] == "true"


# --- consolidation ------------------------------------------------------------------------


@dataclass
class Opinions:
    ids: list[int]
    other_township_id: int


@pytest.fixture
def opinions(world, login, campaign_id) -> Opinions:  # type: ignore[no-untyped-def]
    """Four opinions in the first township (two forms), one in the other township."""
    admin = login("admin")
    a = admin.post(FORMS, json=form(campaign_id, world.branch.id, "修路", "路灯")).json()
    b = admin.post(FORMS, json=form(campaign_id, world.branch.id, "培训", "公开")).json()
    c = admin.post(FORMS, json=form(campaign_id, world.other_branch.id, "别处")).json()
    return Opinions([o["id"] for o in a["opinions"] + b["opinions"]], c["opinions"][0]["id"])


def suggestion(world, campaign_id: int, ids: list[int], **overrides: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {"campaign_id": campaign_id, "township_id": world.township.id,
            "text": "加强基础设施建设", "theme": "prosperity", "opinion_ids": ids, **overrides}


def test_staff_group_opinions_into_suggestions_once_each(world, login, campaign_id, opinions,
                                                         engine):
    staff = login("staff")
    r = staff.post(SUGGESTIONS, json=suggestion(world, campaign_id, opinions.ids[:2]))
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["opinion_ids"] == opinions.ids[:2]
    assert s["problem_id"] is None
    assert r.headers["Location"] == f"{SUGGESTIONS}/{s['id']}"
    grouped = staff.get(f"{OPINIONS}/{opinions.ids[0]}").json()
    assert grouped["suggestion_id"] == s["id"]

    # an opinion already grouped cannot go into a second suggestion
    twice = staff.post(SUGGESTIONS, json=suggestion(world, campaign_id, opinions.ids[1:3]))
    assert_problem(twice, 409)
    assert staff.get(f"{OPINIONS}/{opinions.ids[2]}").json()["suggestion_id"] is None

    # opinions of another township, or ones that do not exist, are refused
    assert_problem(staff.post(SUGGESTIONS, json=suggestion(
        world, campaign_id, [opinions.ids[2], opinions.other_township_id])), 422,
        field="opinion_ids")
    assert_problem(staff.post(SUGGESTIONS, json=suggestion(world, campaign_id, [999999])), 422,
                   field="opinion_ids")
    assert_problem(staff.post(SUGGESTIONS, json=suggestion(world, campaign_id, [])), 422,
                   field="opinion_ids")
    assert scalar(engine, "SELECT count(*) FROM suggestion") == 1

    def listed(**params: Any) -> list[int]:
        page = staff.get(OPINIONS, params=params)
        assert page.status_code == 200, page.text
        return [o["id"] for o in page.json()["items"]]

    assert listed(consolidated="false") == opinions.ids[2:]
    assert listed(consolidated="true") == opinions.ids[:2]
    assert listed() == opinions.ids


def test_only_staff_of_the_township_consolidate(world, login, campaign_id, opinions, engine):
    body = suggestion(world, campaign_id, opinions.ids[:1])
    assert_problem(login("secretary").post(SUGGESTIONS, json=body), 403)
    assert_problem(login("viewer").post(SUGGESTIONS, json=body), 403)
    assert_problem(login("otherstaff").post(SUGGESTIONS, json=body), 403)
    assert login("admin").post(SUGGESTIONS, json=body).status_code == 201
    assert scalar(engine, "SELECT count(*) FROM suggestion") == 1


def test_a_suggestion_becomes_a_problem_once(world, login, campaign_id, opinions, engine):
    staff = login("staff")
    s = staff.post(SUGGESTIONS, json=suggestion(world, campaign_id, opinions.ids[:2])).json()
    url = f"{SUGGESTIONS}/{s['id']}/problem"
    assert_problem(login("secretary").post(url, json={"category": "other"}), 403)
    assert_problem(staff.post(url, json={"category": "no_such_category"}), 422, field="category")

    r = staff.post(url, json={"category": "other", "branch_id": world.branch.id})
    assert r.status_code == 201, r.text
    problem = r.json()
    assert problem["source"] == "feedback"
    assert problem["category"] == "other"
    assert problem["township_id"] == world.township.id
    assert problem["campaign_id"] == campaign_id
    assert problem["branch_id"] == world.branch.id
    assert problem["description"] == "加强基础设施建设"
    assert r.headers["Location"] == f"/api/v1/problems/{problem['id']}"
    assert staff.get(f"{SUGGESTIONS}/{s['id']}").json()["problem_id"] == problem["id"]

    assert_problem(staff.post(url, json={"category": "other"}), 409)
    assert_problem(login("secretary").post(url, json={"category": "other"}), 403)
    assert_problem(login("viewer").post(url, json={"category": "other", "version": 1}), 403)
    assert scalar(engine, "SELECT count(*) FROM problem") == 1


def test_suggestions_are_read_within_the_township(world, login, campaign_id, opinions):
    s = login("staff").post(SUGGESTIONS, json=suggestion(world, campaign_id,
                                                         opinions.ids[:1])).json()
    url = f"{SUGGESTIONS}/{s['id']}"
    assert login("secretary").get(url).status_code == 200
    assert_problem(login("otherstaff").get(url), 404)
    assert login("otherstaff").get(SUGGESTIONS).json()["items"] == []


# --- issuance -----------------------------------------------------------------------------


def test_issuance_is_set_and_replaced_per_campaign_and_branch(world, login, campaign_id,
                                                              engine):
    staff = login("staff")
    body = {"campaign_id": campaign_id, "branch_id": world.branch.id, "issued": 30}
    first = staff.put(ISSUANCES, json=body)
    assert first.status_code == 200, first.text
    assert (first.json()["issued"], first.json()["returned"], first.json()["version"]) == (
        30, 0, 1)
    staff.post(FORMS, json=form(campaign_id, world.branch.id))
    second = staff.put(ISSUANCES, json={**body, "issued": 25})
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"]
    assert (second.json()["issued"], second.json()["returned"], second.json()["version"]) == (
        25, 1, 2)
    assert scalar(engine, "SELECT count(*) FROM form_issuance") == 1
    stale = staff.put(ISSUANCES, json={**body, "issued": 20, "version": 1})
    assert_problem(stale, 412)

    items = staff.get(ISSUANCES, params={"campaign_id": campaign_id}).json()["items"]
    assert [(i["branch_name"], i["issued"], i["returned"]) for i in items] == [
        ("甲一村党支部", 25, 1)]
    assert_problem(login("secretary").put(ISSUANCES, json=body), 403)
    assert_problem(login("otherstaff").put(ISSUANCES, json=body), 422, field="branch_id")
    assert_problem(staff.put(ISSUANCES, json={**body, "issued": -1}), 422, field="issued")


# --- statistics ---------------------------------------------------------------------------


@dataclass
class Counted:
    branch_id: int
    second_branch_id: int


@pytest.fixture
def counted(world, login, campaign_id, engine) -> Counted:  # type: ignore[no-untyped-def]
    """Hand-counted figures.

    甲镇: 甲一村 issued 10, forms: (satisfied: prosperity, service), (satisfied: prosperity),
          (no answer: work_style); 甲二村 issued 5, forms: (basically: organization, other,
          prosperity), (dissatisfied: member_quality). Suggestions: 2.
    乙镇: 乙一村 issued 7, one form (satisfied: service, service). Suggestions: 1.
    """
    with committed(engine) as s:
        second = make_branch(s, world.township, name="甲二村党支部")
        make_user(s, Role.branch_secretary, branch=second, username="secretary2")
    admin = login("admin")
    for branch_id, issued in ((world.branch.id, 10), (second.id, 5), (world.other_branch.id, 7)):
        r = admin.put(ISSUANCES, json={"campaign_id": campaign_id, "branch_id": branch_id,
                                       "issued": issued})
        assert r.status_code == 200, r.text

    def enter(branch_id: int, satisfaction: str | None, *themes: str) -> list[int]:
        body = form(campaign_id, branch_id, satisfaction=satisfaction)
        body["opinions"] = [{"text": f"意见{i}", "theme": t} for i, t in enumerate(themes)]
        r = admin.post(FORMS, json=body)
        assert r.status_code == 201, r.text
        return [o["id"] for o in r.json()["opinions"]]

    a = enter(world.branch.id, "satisfied", "prosperity", "service")
    b = enter(world.branch.id, "satisfied", "prosperity")
    enter(world.branch.id, None, "work_style")
    c = enter(second.id, "basically", "organization", "other", "prosperity")
    enter(second.id, "dissatisfied", "member_quality")
    d = enter(world.other_branch.id, "satisfied", "service", "service")
    for township_id, ids in ((world.township.id, [a[0], b[0], c[2]]),
                             (world.township.id, [a[1]]),
                             (world.other_township.id, d)):
        r = admin.post(SUGGESTIONS, json={"campaign_id": campaign_id, "township_id": township_id,
                                          "text": "梳理", "theme": "prosperity",
                                          "opinion_ids": ids})
        assert r.status_code == 201, r.text
    return Counted(world.branch.id, second.id)


def themes(**counts: int) -> dict[str, int]:
    return {t: counts.get(t, 0) for t in ("prosperity", "member_quality", "service",
                                          "work_style", "organization", "other")}


def stats_of(browser, **params: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = browser.get(STATS, params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_statistics_of_a_township_match_the_hand_count(world, login, campaign_id, counted):
    expected = {
        "issued": 15, "returned": 5, "return_rate": round(5 / 15, 4), "opinions": 8,
        "suggestions": 2,
        "by_theme": themes(prosperity=3, service=1, work_style=1, organization=1, other=1,
                           member_quality=1),
        "satisfaction": {"satisfied": 2, "basically": 1, "dissatisfied": 1},
        "satisfaction_share": {"satisfied": 0.5, "basically": 0.25, "dissatisfied": 0.25},
    }
    assert stats_of(login("staff"), campaign_id=campaign_id) == expected
    assert stats_of(login("admin"), campaign_id=campaign_id,
                    township_id=world.township.id) == expected
    assert stats_of(login("viewer")) == expected


def test_statistics_of_the_county_and_of_a_branch(world, login, campaign_id, counted):
    county = stats_of(login("admin"), campaign_id=campaign_id)
    assert (county["issued"], county["returned"], county["opinions"], county["suggestions"]) == (
        22, 6, 10, 3)
    assert county["return_rate"] == round(6 / 22, 4)
    assert county["by_theme"] == themes(prosperity=3, service=3, work_style=1, organization=1,
                                        other=1, member_quality=1)
    assert county["satisfaction"] == {"satisfied": 3, "basically": 1, "dissatisfied": 1}
    assert county["satisfaction_share"] == {"satisfied": 0.6, "basically": 0.2,
                                            "dissatisfied": 0.2}

    branch = stats_of(login("staff"), branch_id=counted.branch_id)
    assert (branch["issued"], branch["returned"], branch["opinions"]) == (10, 3, 4)
    assert branch["return_rate"] == 0.3
    assert branch["by_theme"] == themes(prosperity=2, service=1, work_style=1)
    assert branch["satisfaction"] == {"satisfied": 2, "basically": 0, "dissatisfied": 0}
    assert branch["satisfaction_share"] == {"satisfied": 1.0, "basically": 0.0,
                                            "dissatisfied": 0.0}

    # other township's staff see only their own figures, whatever they ask for
    other = stats_of(login("otherstaff"), township_id=world.township.id)
    assert (other["issued"], other["returned"], other["opinions"], other["suggestions"]) == (
        0, 0, 0, 0)
    assert other["return_rate"] is None
    assert other["satisfaction_share"] == {"satisfied": 0.0, "basically": 0.0,
                                           "dissatisfied": 0.0}


def test_a_secretary_sees_own_branch_figures_and_the_township_suggestions(
    world, login, campaign_id, counted
):
    secretary = login("secretary2")
    mine = stats_of(secretary)
    assert (mine["issued"], mine["returned"], mine["opinions"]) == (5, 2, 4)
    assert mine["by_theme"] == themes(organization=1, other=1, prosperity=1, member_quality=1)
    assert mine["satisfaction"] == {"satisfied": 0, "basically": 1, "dissatisfied": 1}
    # suggestions are the township's (梳理 happens there), as GET /suggestions shows them
    assert mine["suggestions"] == len(secretary.get(SUGGESTIONS).json()["items"]) == 2


# --- change feed --------------------------------------------------------------------------


def test_forms_opinions_suggestions_and_issuance_are_in_the_change_feed(world, login,
                                                                        campaign_id, opinions):
    staff, admin = login("staff"), login("admin")
    s = staff.post(SUGGESTIONS, json=suggestion(world, campaign_id, opinions.ids[:2])).json()
    staff.put(ISSUANCES, json={"campaign_id": campaign_id, "branch_id": world.branch.id,
                               "issued": 9})
    feed = admin.get("/api/v1/changes", params={
        "types": "feedback_form,opinion,suggestion,form_issuance", "limit": 500})
    assert feed.status_code == 200, feed.text
    changes = feed.json()["changes"]
    by_type: dict[str, set[int]] = {}
    for c in changes:
        by_type.setdefault(c["type"], set()).add(c["id"])
    assert len(by_type["feedback_form"]) == 3
    assert by_type["opinion"] == set(opinions.ids) | {opinions.other_township_id}
    assert by_type["suggestion"] == {s["id"]}
    assert len(by_type["form_issuance"]) == 1
    # grouping an opinion is a change of that opinion, carrying its new suggestion_id
    latest = {c["id"]: c for c in changes if c["type"] == "opinion"}
    assert latest[opinions.ids[0]]["data"]["suggestion_id"] == s["id"]
    assert latest[opinions.ids[0]]["version"] == 2
    assert all(c["op"] == "upsert" for c in changes)

    # staff of the other township read only their own township's changes
    theirs = login("otherstaff").get("/api/v1/changes", params={"types": "opinion"}).json()
    assert [c["id"] for c in theirs["changes"]] == [opinions.other_township_id]
    assert json.dumps(theirs, ensure_ascii=False).count("修路") == 0


# --- the entry page and its service worker -----------------------------------------------


def test_entry_page_is_for_those_who_may_enter_forms(world, login, campaign_id, client):
    page = login("secretary").get("/feedback/new")
    assert page.status_code == 200
    assert "甲一村党支部" in page.text and "2026年专项整治" in page.text
    assert re.search(r'<script src="/static/[0-9a-f]{12}/feedback.js" defer></script>', page.text)
    assert f'name="branch_id" value="{world.branch.id}"' in page.text
    assert "乙一村党支部" not in page.text
    assert login("viewer").get("/feedback/new").status_code == 403
    anonymous = client.get("/feedback/new", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["Location"].startswith("/login")

    worker = client.get("/sw.js")
    assert worker.status_code == 200
    assert worker.headers["Service-Worker-Allowed"] == "/"
    assert worker.headers["Cache-Control"] == "no-cache"
    assert worker.headers["Content-Type"].startswith("text/javascript")
    assert "/feedback/new" in worker.text
