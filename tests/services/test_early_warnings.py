"""Early warning (预警): branches ranked by hand-computed scores, every reason with its figure.

The fixture, with the default weights of app/config.py (thresholds: 56+ share above 0.5,
secretary 60 or older, income under 5 万元, dissatisfied share above 0.3 of at least 5
answered forms, overdue tasks counted up to 3; this campaign's screening: weak and lax 4,
each noted criterion 1):

| branch (township) | signals                                               | score         |
|-------------------|-------------------------------------------------------|---------------|
| 老树村 (南镇)     | no 35-, 56+ 12/20, secretary 63, no 一肩挑, 2.5 万元  | 2+1.5+2+1+1.5 |
| 平安村 (南镇)     | screened weak and lax now (1 criterion), no 一肩挑     | 4+1+1 = 6     |
| 新苗村 (南镇)     | 4 overdue tasks (3 count), dissatisfied 3/6           | 3×1+2 = 5     |
| 河东社区 (南镇)   | weak and lax in 2023 (4/4 dissatisfied: too few)      | 3             |
| 北山村 (北镇)     | secretary 70, no 一肩挑                                | 2+1 = 3       |
| 镇机关 (南镇)     | no member aged 35 or under                            | 2             |

平安村's weak-and-lax conclusion is this campaign's, so it is not "earlier" (3); it is the
designation (4) and the noted criterion (1) that rank it second.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.config import Settings
from app.main import create_app
from app.models.base import utcnow
from app.models.branch import BranchKind
from app.models.campaign import CampaignStatus
from app.models.feedback import Satisfaction
from app.models.task import TaskStatus
from app.models.user import Role
from app.services.actors import Actor
from app.services.warnings import early_warnings
from tests.factories import (
    PASSWORD,
    assert_problem,
    committed,
    make_branch,
    make_campaign,
    make_feedback_form,
    make_problem,
    make_screening,
    make_task,
    make_township,
    make_user,
)

API = "/api/v1/early-warnings"
TODAY = date.today()
YEAR = TODAY.year
COUNTY = Actor(label="test", role=Role.county_admin, township_id=None)
DEFAULT_ORDER = ["老树村党支部", "平安村党支部", "新苗村党支部", "河东社区党支部", "北山村党支部",
                 "镇机关党支部"]


@dataclass
class Fixture:
    south: int
    north: int
    campaign_id: int
    earlier_id: int
    ids: dict[str, int]


def forms(s: Session, campaign: Any, branch: Any, *answers: Satisfaction | None) -> None:
    for answer in answers:
        make_feedback_form(s, campaign, branch, satisfaction=answer)


@pytest.fixture
def fx(engine: Engine) -> Fixture:
    D, B, S = Satisfaction.dissatisfied, Satisfaction.basically, Satisfaction.satisfied
    overdue = TODAY - timedelta(days=5)
    with committed(engine) as s:
        south = make_township(s, name="南镇")
        north = make_township(s, name="北镇")
        make_user(s, Role.county_admin, username="admin")
        make_user(s, Role.township_staff, township=south, username="southstaff")
        make_user(s, Role.viewer, township=north, username="northviewer")
        earlier = make_campaign(s, name="2023年专项整治", starts_on=date(2023, 1, 1),
                                screening_due=date(2023, 3, 31), ends_on=date(2023, 12, 31),
                                status=CampaignStatus.closed)
        campaign = make_campaign(s, name="2025年专项整治", starts_on=date(2025, 1, 1))
        healthy = {"member_count": 30, "members_35_under": 5, "members_36_55": 15,
                   "members_56_over": 10, "secretary_birth_year": YEAR - 50,
                   "secretary_is_director": True, "collective_income_wan": Decimal("12")}
        old = make_branch(s, south, name="老树村党支部", **{
            **healthy, "member_count": 20, "members_35_under": 0, "members_36_55": 8,
            "members_56_over": 12, "secretary_birth_year": YEAR - 63,
            "secretary_is_director": False, "collective_income_wan": Decimal("2.5")})
        young = make_branch(s, south, name="新苗村党支部", **healthy)
        community = make_branch(s, south, name="河东社区党支部", kind=BranchKind.community, **{
            **healthy, "member_count": 10, "members_35_under": 2, "members_36_55": 3,
            "members_56_over": 5, "secretary_birth_year": YEAR - 59,
            "secretary_is_director": False, "collective_income_wan": Decimal("1")})
        organ = make_branch(s, south, name="镇机关党支部", kind=BranchKind.organ,
                            member_count=8, members_35_under=0, members_36_55=None,
                            members_56_over=None, secretary_is_director=False)
        sound = make_branch(s, south, name="平安村党支部",
                            **{**healthy, "secretary_is_director": False})
        north_branch = make_branch(s, north, name="北山村党支部", **{
            **healthy, "secretary_birth_year": YEAR - 70, "secretary_is_director": False})
        gone = make_branch(s, south, name="已撤销村党支部", **{
            **healthy, "members_35_under": 0, "secretary_birth_year": YEAR - 80})
        gone.deleted_at = utcnow()

        # 新苗村: four overdue open tasks (three count), and tasks that are not overdue
        problem = make_problem(s, campaign, south, branch=young)
        for status in (TaskStatus.pending, TaskStatus.pending, TaskStatus.in_progress,
                       TaskStatus.in_progress):
            make_task(s, problem, due_on=overdue, status=status)
        make_task(s, problem, due_on=overdue, status=TaskStatus.submitted)
        make_task(s, problem, due_on=overdue, status=TaskStatus.verified)
        make_task(s, problem, due_on=TODAY)
        make_task(s, problem, due_on=overdue, deleted_at=utcnow())
        # 镇机关: a task due today is not overdue yet
        make_task(s, make_problem(s, campaign, south, branch=organ), due_on=TODAY)

        # 新苗村: 3 of 6 answered forms dissatisfied (one more without an answer, and one
        # dissatisfied form of the earlier campaign, count for nothing)
        forms(s, campaign, young, D, D, D, B, S, S, None)
        forms(s, earlier, young, D)
        # 河东社区: every answer dissatisfied, but only 4 answered: too few to count
        forms(s, campaign, community, D, D, D, D, None)
        # 平安村: 1 of 5 dissatisfied = 20 %, under the threshold
        forms(s, campaign, sound, D, S, S, B, B)

        # 河东社区 was weak and lax in 2023; 平安村 is so in this campaign (not "earlier"),
        # and was sound in 2023
        make_screening(s, earlier, community, hits={"rules_ignored": None})
        make_screening(s, campaign, sound, hits={"poor_service": None})
        make_screening(s, earlier, sound)
        ids = {b.name: b.id for b in (old, young, community, organ, sound, north_branch)}
        return Fixture(south.id, north.id, campaign.id, earlier.id, ids)


def ranked(session: Session, settings: Settings, actor: Actor = COUNTY,
           **kwargs: Any) -> list[Any]:
    return early_warnings(session=session, actor=actor, settings=settings,
                          campaign_id=kwargs.pop("campaign_id", None),
                          township_id=kwargs.pop("township_id", None), **kwargs)


def reasons(item: Any) -> dict[str, tuple[str, Any]]:
    if isinstance(item, dict):
        return {r["code"]: (r["message"], r["value"]) for r in item["reasons"]}
    return {r.code: (r.message, r.value) for r in item.reasons}


def test_branches_are_ranked_by_hand_computed_scores(fx, engine, settings):
    with Session(engine) as s:
        items = ranked(s, settings)
    assert [(w.branch_name, w.score) for w in items] == [
        ("老树村党支部", 8.0), ("平安村党支部", 6.0), ("新苗村党支部", 5.0),
        ("河东社区党支部", 3.0), ("北山村党支部", 3.0), ("镇机关党支部", 2.0)]
    # equal scores: the branch registered first comes first
    assert items[3].branch_id < items[4].branch_id
    assert (items[0].township_name, items[4].township_name) == ("南镇", "北镇")
    assert items[0].branch_id == fx.ids["老树村党支部"]
    assert items[0].township_id == fx.south


def test_every_reason_shows_the_figure_behind_it(fx, engine, settings):
    with Session(engine) as s:
        by_name = {w.branch_name: reasons(w) for w in ranked(s, settings)}
    old = by_name["老树村党支部"]
    assert list(old) == ["no_young_members", "aging_members", "secretary_60_plus",
                         "no_dual_role", "low_collective_income"]
    assert old["no_young_members"] == ("没有35岁及以下党员", 0)
    assert old["aging_members"] == ("56岁及以上党员占60%", 0.6)
    assert old["secretary_60_plus"] == ("书记63岁", 63)
    assert old["no_dual_role"][1] is False
    assert "一肩挑" in old["no_dual_role"][0]
    assert old["low_collective_income"] == ("村集体经济收入2.5万元,低于5万元", 2.5)

    young = by_name["新苗村党支部"]
    assert list(young) == ["overdue_tasks", "dissatisfied_feedback"]
    assert young["overdue_tasks"] == ("4项整改任务逾期", 4)
    assert young["dissatisfied_feedback"] == ("征求意见中“不满意”占50%(3/6)", 0.5)

    assert by_name["河东社区党支部"] == {
        "earlier_weak_lax": ("曾在“2023年专项整治”中被认定为软弱涣散", "2023年专项整治")}
    assert by_name["北山村党支部"]["secretary_60_plus"] == ("书记70岁", 70)
    assert list(by_name["北山村党支部"]) == ["secretary_60_plus", "no_dual_role"]
    assert by_name["镇机关党支部"] == {"no_young_members": ("没有35岁及以下党员", 0)}
    assert by_name["平安村党支部"] == {
        "weak_lax": ("本次排查认定为软弱涣散", True),
        "screening_hits": ("本次排查发现1项软弱涣散情形:服务意识差、服务能力弱、群众意见大", 1),
        "no_dual_role": by_name["北山村党支部"]["no_dual_role"]}
    assert "已撤销村党支部" not in by_name


def test_changing_a_weight_changes_the_order(fx, engine, settings):
    weights = {**settings.warn_weights, "earlier_weak_lax": 10.0, "no_young_members": 0.5}
    heavier = settings.model_copy(update={"warn_weights": weights})
    with Session(engine) as s:
        items = ranked(s, heavier)
    # 河东社区 10; 老树村 0.5+1.5+2+1+1.5 = 6.5; 平安村 6; 新苗村 5; 北山村 3; 镇机关 0.5
    assert [(w.branch_name, w.score) for w in items] == [
        ("河东社区党支部", 10.0), ("老树村党支部", 6.5), ("平安村党支部", 6.0),
        ("新苗村党支部", 5.0), ("北山村党支部", 3.0), ("镇机关党支部", 0.5)]
    with Session(engine) as s:
        assert [w.branch_name for w in ranked(s, settings)] == DEFAULT_ORDER


def test_the_overdue_cap_is_a_setting(fx, engine, settings):
    with Session(engine) as s:
        items = ranked(s, settings.model_copy(update={"warn_overdue_cap": 10}))
    assert {w.branch_name: w.score for w in items}["新苗村党支部"] == 6.0


def test_thresholds_are_settings(fx, engine, settings):
    looser = settings.model_copy(update={
        "warn_min_answers": 4, "secretary_age_limit": 65,
        "low_income_threshold_wan": Decimal("2"), "warn_old_share": 0.6,
        "warn_dissatisfied_share": 0.5})
    with Session(engine) as s:
        by_name = {w.branch_name: (w.score, reasons(w)) for w in ranked(s, looser)}
    # 老树村: secretary 63 < 65, income 2.5 >= 2, 56+ share 0.6 not above 0.6
    assert by_name["老树村党支部"][0] == 3.0
    assert list(by_name["老树村党支部"][1]) == ["no_young_members", "no_dual_role"]
    # 新苗村: 50 % is not above 50 %
    assert list(by_name["新苗村党支部"][1]) == ["overdue_tasks"]
    # 河东社区: four answers now count, all dissatisfied
    assert by_name["河东社区党支部"][0] == 5.0
    assert by_name["河东社区党支部"][1]["dissatisfied_feedback"] == (
        "征求意见中“不满意”占100%(4/4)", 1.0)
    assert by_name["北山村党支部"][0] == 3.0  # secretary 70 >= 65


def test_the_campaign_decides_which_forms_and_which_earlier_conclusions_count(fx, engine,
                                                                               settings):
    with Session(engine) as s:
        in_2023 = {w.branch_name: reasons(w) for w in ranked(s, settings,
                                                             campaign_id=fx.earlier_id)}
    # 2023 itself is not "earlier" but that campaign's own finding; 新苗村's forms of 2023
    # are one answer, too few
    assert list(in_2023["河东社区党支部"]) == ["weak_lax", "screening_hits"]
    assert list(in_2023["新苗村党支部"]) == ["overdue_tasks"]


def test_the_api_answers_the_ranking_with_the_latest_active_campaign(fx, login):
    admin = login("admin")
    r = admin.get(API)
    assert r.status_code == 200, r.text
    items = r.json()
    assert [(w["branch_name"], w["score"]) for w in items] == [
        ("老树村党支部", 8.0), ("平安村党支部", 6.0), ("新苗村党支部", 5.0),
        ("河东社区党支部", 3.0), ("北山村党支部", 3.0), ("镇机关党支部", 2.0)]
    assert reasons(items[2])["dissatisfied_feedback"] == ("征求意见中“不满意”占50%(3/6)", 0.5)
    assert reasons(items[3])["earlier_weak_lax"][1] == "2023年专项整治"
    assert [w["branch_name"] for w in admin.get(API, params={"limit": 2}).json()] == [
        "老树村党支部", "平安村党支部"]
    r = admin.get(API, params={"campaign_id": fx.campaign_id, "township_id": fx.north})
    assert [w["branch_name"] for w in r.json()] == ["北山村党支部"]
    assert_problem(admin.get(API, params={"limit": 0}), 422)


def test_an_unknown_campaign_is_not_found(fx, login):
    assert_problem(login("admin").get(API, params={"campaign_id": 9999}), 404)


def test_staff_sees_only_own_township(fx, login):
    staff = login("southstaff")
    names = [w["branch_name"] for w in staff.get(API).json()]
    assert names == ["老树村党支部", "平安村党支部", "新苗村党支部", "河东社区党支部",
                     "镇机关党支部"]
    assert staff.get(API, params={"township_id": fx.north}).status_code == 404  # as the summary
    viewer = login("northviewer")
    assert [w["branch_name"] for w in viewer.get(API).json()] == ["北山村党支部"]


def test_a_secretary_sees_own_branch_only(fx, engine, login):
    with committed(engine) as s:
        from app.models.branch import Branch

        make_user(s, Role.branch_secretary, branch=s.get(Branch, fx.ids["新苗村党支部"]),
                  username="youngsecretary")
    names = [w["branch_name"] for w in login("youngsecretary").get(API).json()]
    assert names == ["新苗村党支部"]


def test_the_api_follows_the_settings_it_was_built_with(fx, engine, settings):
    weights = {**settings.warn_weights, "earlier_weak_lax": 10.0}
    app = create_app(settings.model_copy(update={"warn_weights": weights}), engine)
    with TestClient(app) as client:
        r = client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 200, r.text
        items = client.get(API).json()
    assert [(w["branch_name"], w["score"]) for w in items][:2] == [
        ("河东社区党支部", 10.0), ("老树村党支部", 8.0)]


def test_nothing_to_warn_about_is_an_empty_list(engine, login):
    with committed(engine) as s:
        make_user(s, Role.county_admin, username="admin")
        make_branch(s, make_township(s), secretary_birth_year=YEAR - 40)
    r = login("admin").get(API)
    assert r.status_code == 200 and r.json() == []


def test_the_page_shows_the_thresholds_and_filters_by_township(fx, login):
    admin = login("admin")
    html = admin.get("/warnings").text
    assert "在设置中" not in html and "可在设置中调整" not in html
    rules = html[html.index('id="warning-thresholds"'):html.index('id="warning-list"')]
    assert "书记60岁及以上" in rules and "低于5万元" in rules and "最多计3项" in rules
    assert "本次排查结论为软弱涣散" in rules
    north = admin.get("/warnings", params={"township_id": fx.north}).text
    listed = north[north.index('id="warning-list"'):]
    assert "北山村党支部" in listed and "老树村党支部" not in listed
    assert f"/api/v1/early-warnings.xlsx?campaign_id={fx.campaign_id}&amp;township_id={fx.north}" \
        in north


def test_the_list_downloads_as_xlsx_with_typed_cells_and_no_formulas(fx, engine, login):
    import io

    from openpyxl import load_workbook

    from app.models.branch import Branch

    with committed(engine) as s:
        branch = s.get(Branch, fx.ids["镇机关党支部"])
        assert branch is not None
        branch.name = "=HYPERLINK(\"http://x\")"
        s.add(branch)
    r = login("admin").get(f"{API}.xlsx", params={"township_id": fx.south})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert [(row[0], row[2], row[3]) for row in rows] == [
        (1, "老树村党支部", 8), (2, "平安村党支部", 6), (3, "新苗村党支部", 5),
        (4, "河东社区党支部", 3), (5, "'=HYPERLINK(\"http://x\")", 2)]
    cell = sheet.cell(row=7, column=3)
    assert cell.data_type == "s"  # text, never a formula
    assert sheet.cell(row=3, column=4).data_type == "n"
    assert "书记63岁" in rows[0][4]
    north = login("northviewer").get(f"{API}.xlsx")
    names = [row[2] for row in load_workbook(io.BytesIO(north.content)).active.iter_rows(
        min_row=3, values_only=True)]
    assert names == ["北山村党支部"]


def test_another_townships_warnings_are_not_found(world: Any, login: Any) -> None:
    """Staff naming another township's id get 404, as for the summary, not their own list."""
    staff = login("staff")
    for path in ("/api/v1/early-warnings", "/api/v1/early-warnings.xlsx"):
        r = staff.get(path, params={"township_id": world.other_township.id})
        assert r.status_code == 404, (path, r.status_code)
        assert staff.get(path, params={"township_id": world.township.id}).status_code == 200
