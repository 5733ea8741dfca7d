"""The history page (修改记录) of every type of record speaks Chinese: each column it can show
has a field label, status codes and lists of codes are shown by their labels, and a type that
does not exist is a 404 for everyone (found by the QA walk after issues 9-14)."""

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import SQLModel

import app.main  # noqa: F401  (every model registered on the metadata)
from app.labels import LABELS
from tests.factories import committed, make_branch, make_campaign

API = "/api/v1"
# columns no audit event carries (bookkeeping) or the history page hides
_NOT_SHOWN = {"id", "created_at", "updated_at", "version", "deleted_at",
              "submitted_by_id", "submitted_by_role"}


def _table(record_type: str) -> Any:
    tables = SQLModel.metadata.tables
    return tables.get(record_type) if record_type in tables else tables[f"{record_type}_account"]


@pytest.mark.parametrize("record_type", sorted(LABELS["record_type"]))
def test_every_column_a_history_page_shows_has_a_chinese_label(record_type: str) -> None:
    missing = [c.name for c in _table(record_type).columns
               if c.name not in _NOT_SHOWN and c.name not in LABELS["field"]]
    assert missing == [], f"{record_type}: no label for {missing}"


def test_a_rectifications_history_shows_labels_not_codes(world: Any, login: Any,
                                                       engine: Engine) -> None:
    with committed(engine) as s:
        campaign = make_campaign(s)
        branch = make_branch(s, world.township, name="历史村党支部")
    staff, admin = login("staff"), login("admin")
    r = staff.post(f"{API}/rectifications", json={
        "campaign_id": campaign.id, "branch_id": branch.id, "weak_types": ["soft", "poor"],
        "reason": "班子软弱"})
    assert r.status_code == 201, r.text
    rect = r.json()
    r = admin.post(f"{API}/rectifications/{rect['id']}/transitions",
                   json={"action": "designate", "version": rect["version"]})
    assert r.status_code == 200, r.text
    page = staff.get(f"/history/rectification/{rect['id']}")
    assert page.status_code == 200, page.text
    html = page.text
    for english in ("proposed_by", "proposed_on", "designated_by", "publicity_from",
                    "relapse_count", '"soft"', ">proposed<", ">designated<"):
        assert english not in html, english
    assert "拟认定人" in html and "软、穷" in html
    assert "拟认定" in html and "已认定" in html
    assert f'href="/rectifications/{rect["id"]}"' in html


def test_a_history_of_a_type_that_does_not_exist_is_not_found(world: Any, login: Any) -> None:
    assert login("admin").get("/history/bogus/1").status_code == 404
    assert login("staff").get("/history/bogus/1").status_code == 404


def test_an_acceptances_history_shows_the_sheet_and_the_ratings_by_name(
        world: Any, login: Any, engine: Engine) -> None:
    from tests.api.test_rectifications import accept, applied

    with committed(engine) as s:
        campaign = make_campaign(s)
    rect = applied(login, campaign, world)
    r = accept(login("admin"), rect["id"], off=2, overall=(8, 1, 1))
    assert r.status_code == 201, r.text
    html = login("staff").get(f"/history/acceptance/{r.json()['id']}").text
    for code in ("leadership", "organisation_life", "dimension", '"score"', "dissatisfied"):
        assert code not in html, code
    assert "18分" in html and "总体满意度:满意8、基本满意1、不满意1" in html


def test_a_campaigns_status_is_shown_as_a_campaign_status(world: Any, login: Any,
                                                         engine: Engine) -> None:
    with committed(engine) as s:
        campaign = make_campaign(s)
    html = login("admin").get(f"/history/campaign/{campaign.id}").text
    assert "进行中" in html and ">active<" not in html


def test_a_record_made_by_the_command_line_names_the_system(world: Any, login: Any,
                                                            engine: Engine) -> None:
    """The demo and other commands write as `cli:<command>`; people see 系统, not the code."""
    from app.db import transaction

    with transaction(engine, actor="cli:demo") as s:
        branch = make_branch(s, s.get(type(world.township), world.township.id), name="命令行村")
        s.flush()
        branch_id = branch.id
    page = login("admin").get(f"/history/branch/{branch_id}").text
    assert "系统" in page and "cli:demo" not in page
