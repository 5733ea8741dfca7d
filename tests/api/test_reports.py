"""The summary report, its Word and HTML forms, and activities (工作开展情况)."""

import io
from datetime import date, timedelta

import pytest
from docx import Document

from app.models.branch import BranchKind
from app.models.feedback import FormIssuance, Opinion, Suggestion, Theme
from app.models.screening import Conclusion
from app.models.task import TaskStatus
from app.models.user import Role
from app.services.demo import load_demo
from tests.factories import (
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

REPORT_SENTENCE = "十四道沟镇共有9个党支部,党员271人,其中农村党支部6个,农村党员194人"


@pytest.fixture
def demo(engine):
    with committed(engine) as s:
        load_demo(s)


def test_demo_township_summary_reproduces_the_report(demo, login):
    admin = login("admin", "demo-pass-2026")
    s = admin.get("/api/v1/reports/summary", params={"township_id": 1}).json()
    assert s["branches"]["total"] == 9
    assert s["branches"]["by_kind"]["village"] == 6
    assert s["members"]["total"] == 271
    assert s["members"]["by_kind"]["village"] == 194
    assert s["members"]["total"] - s["members"]["by_kind"]["village"] == 77
    m = s["members"]
    assert (m["age_35_under"], m["age_36_55"], m["age_56_over"]) == (6, 92, 81)
    assert m["age_recorded"] == 179
    assert m["applicants_35_under"] == 27
    sec = s["secretaries"]
    assert (sec["village_total"], sec["age_50_plus"], sec["age_60_plus"]) == (6, 4, 1)
    assert sec["not_dual_role"] == 2
    assert s["feedback"]["issued"] == 200
    assert s["feedback"]["suggestions"] == 7
    assert s["screenings"]["target"] == 7
    assert s["screenings"]["done_by_due"] == 7
    assert s["screenings"]["weak_lax"] == 0
    codes = [w["code"] for w in s["warnings"]]
    assert "age_bands_incomplete" in codes
    message = next(w["message"] for w in s["warnings"] if w["code"] == "age_bands_incomplete")
    assert "179" in message and "271" in message


def test_demo_report_docx_has_the_sections_and_sentences(demo, login):
    admin = login("admin", "demo-pass-2026")
    r = admin.get("/api/v1/reports/summary.docx", params={"township_id": 1})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    text = "\n".join(p.text for p in Document(io.BytesIO(r.content)).paragraphs)
    for heading in ("一、基本情况", "二、工作开展情况", "三、存在的问题", "四、下一步工作打算"):
        assert heading in text
    assert REPORT_SENTENCE in text
    assert "35周岁以下的有6人,36至55周岁的有92人,56周岁以上的有81人" in text
    assert "6个行政村党支部书记中有4人50周岁以上,其中1人已达到60周岁" in text
    assert "发放党支部征求意见表200份" in text and "梳理出意见、建议7条" in text
    assert "未发现软弱涣散情况" in text
    assert "附录" not in text and "见附录" not in text  # the checks are their own download
    # the work done in date order: the special meeting before the training
    assert text.index("召开专题会议") < text.index("集中培训")
    # tasks with their responsible person and due date under the problems they answer
    assert "冷沟子村林下经济和绿色生态旅游(责任人:冷沟子村党支部、书记戊" in text


def test_report_html_is_printable_and_says_the_same(demo, login):
    staff = login("staff", "demo-pass-2026")
    r = staff.get("/api/v1/reports/summary.html", params={"township_id": 1})
    assert r.status_code == 200
    assert REPORT_SENTENCE in r.text
    assert "window.print()" in r.text


def _two_townships(engine):
    """Township A: 2 villages + 1 organ; township B: 1 village + 1 community."""
    with committed(engine) as s:
        campaign = make_campaign(s, screening_due=date(2025, 3, 31))
        a, b = make_township(s, name="甲镇"), make_township(s, name="乙镇")
        year = date.today().year
        a1 = make_branch(s, a, kind=BranchKind.village, member_count=40, members_35_under=4,
                         members_36_55=20, members_56_over=16, applicants_35_under=3,
                         secretary_birth_year=year - 61, secretary_is_director=False)
        a2 = make_branch(s, a, kind=BranchKind.village, member_count=30, members_35_under=0,
                         members_36_55=10, members_56_over=10, applicants_35_under=1,
                         secretary_birth_year=year - 45, secretary_is_director=True)
        make_branch(s, a, kind=BranchKind.organ, member_count=12, members_35_under=None,
                    members_36_55=None, members_56_over=None)
        b1 = make_branch(s, b, kind=BranchKind.village, member_count=25, members_35_under=5,
                         members_36_55=10, members_56_over=10, applicants_35_under=2,
                         secretary_birth_year=year - 52, secretary_is_director=True)
        b2 = make_branch(s, b, kind=BranchKind.community, member_count=18, members_35_under=3,
                         members_36_55=9, members_56_over=6)
        make_screening(s, campaign, a1, hits={"rules_ignored": "半年未开会"},
                       screened_on=date(2025, 3, 20))
        make_screening(s, campaign, a2, screened_on=date(2025, 4, 10))  # late
        make_screening(s, campaign, b1, screened_on=date(2025, 3, 1))
        make_screening(s, campaign, b2, conclusion=Conclusion.pending,
                       screened_on=date(2025, 3, 2))
        s.add(FormIssuance(campaign_id=campaign.id, branch_id=a1.id, township_id=a.id,
                           issued=10))
        s.add(FormIssuance(campaign_id=campaign.id, branch_id=b1.id, township_id=b.id,
                           issued=2))
        forms = [make_feedback_form(s, campaign, a1) for _ in range(3)]
        forms += [make_feedback_form(s, campaign, b1) for _ in range(3)]  # 3 returned of 2
        for form, theme in zip(forms, [Theme.prosperity, Theme.prosperity, Theme.service,
                                       Theme.work_style, Theme.other, Theme.other],
                               strict=True):
            s.add(Opinion(text="意见", theme=theme, form_id=form.id, campaign_id=campaign.id,
                          township_id=form.township_id, branch_id=form.branch_id))
        s.add(Suggestion(campaign_id=campaign.id, township_id=a.id, text="带富能力弱",
                         theme=Theme.prosperity))
        p1 = make_problem(s, campaign, a, branch=a1, category="rules_ignored")
        p2 = make_problem(s, campaign, a, category="aging_members")
        p3 = make_problem(s, campaign, b, branch=b1, category="aging_members")
        make_task(s, p1, status=TaskStatus.verified)
        make_task(s, p1, due_on=date.today() - timedelta(days=1))  # overdue
        make_task(s, p2, responsible_person=None)  # nobody responsible
        make_task(s, p3, status=TaskStatus.submitted, due_on=date.today() - timedelta(days=3))
        make_user(s, Role.county_admin, username="admin")
        make_user(s, Role.township_staff, township=a, username="staff_a")
        return campaign.id, a.id, b.id


def test_summary_against_hand_counted_townships_and_county(engine, login):
    cid, a, b = _two_townships(engine)
    admin = login("admin")
    sa = admin.get("/api/v1/reports/summary", params={"campaign_id": cid, "township_id": a}).json()
    assert sa["branches"] == {"total": 3, "by_kind": {"village": 2, "community": 0, "organ": 1,
                                                       "enterprise": 0, "school": 0, "other": 0}}
    assert sa["members"]["total"] == 82
    assert (sa["members"]["age_35_under"], sa["members"]["age_36_55"],
            sa["members"]["age_56_over"], sa["members"]["age_recorded"]) == (4, 30, 26, 60)
    assert sa["members"]["applicants_35_under"] == 4
    assert sa["secretaries"] == {"village_total": 2, "age_50_plus": 1, "age_60_plus": 1,
                                 "not_dual_role": 1}
    assert sa["screenings"]["target"] == 2
    assert sa["screenings"]["done"] == 2
    assert sa["screenings"]["done_by_due"] == 1
    assert sa["screenings"]["weak_lax"] == 1
    assert sa["feedback"]["issued"] == 10 and sa["feedback"]["returned"] == 3
    assert sa["feedback"]["by_theme"]["prosperity"] == 2
    assert sa["feedback"]["suggestions"] == 1
    assert sa["problems"] == {"total": 2, "by_category": {"aging_members": 1, "rules_ignored": 1}}
    assert sa["tasks"]["total"] == 3 and sa["tasks"]["overdue"] == 1
    assert sa["tasks"]["by_status"]["verified"] == 1
    codes_a = {w["code"] for w in sa["warnings"]}
    assert {"age_bands_incomplete", "tasks_without_responsible"} <= codes_a

    sb = admin.get("/api/v1/reports/summary", params={"campaign_id": cid, "township_id": b}).json()
    assert sb["members"]["total"] == 43
    assert sb["screenings"]["target"] == 2
    assert sb["screenings"]["done"] == 1  # the community's screening is still pending
    assert sb["feedback"]["issued"] == 2 and sb["feedback"]["returned"] == 3
    assert sb["tasks"]["overdue"] == 0  # submitted tasks are never overdue
    codes_b = {w["code"] for w in sb["warnings"]}
    assert {"returned_exceeds_issued", "branches_not_screened"} <= codes_b

    county = admin.get("/api/v1/reports/summary", params={"campaign_id": cid}).json()
    assert county["scope"]["township_id"] is None
    assert county["branches"]["total"] == 5
    assert county["members"]["total"] == 82 + 43
    assert county["tasks"]["total"] == 4
    assert county["screenings"]["target"] == 4
    assert county["feedback"]["returned"] == 6


def test_summary_is_scoped_to_what_the_reader_may_see(engine, login):
    cid, a, b = _two_townships(engine)
    staff = login("staff_a")
    own = staff.get("/api/v1/reports/summary", params={"campaign_id": cid}).json()
    assert own["members"]["total"] == 82  # no township given: only what staff may see
    r = staff.get("/api/v1/reports/summary", params={"campaign_id": cid, "township_id": b})
    assert r.status_code == 404


def test_summary_without_a_campaign_still_gives_the_register(engine, login):
    with committed(engine) as s:
        t = make_township(s)
        make_branch(s, t, member_count=10, members_35_under=2, members_36_55=4,
                    members_56_over=4)
        make_user(s, Role.county_admin, username="admin")
    s = login("admin").get("/api/v1/reports/summary").json()
    assert s["scope"]["campaign_id"] is None
    assert s["members"]["total"] == 10
    assert s["tasks"]["total"] == 0 and s["feedback"]["issued"] == 0


def test_activities_crud_scope_and_the_report(engine, login):
    with committed(engine) as s:
        campaign = make_campaign(s)
        a, b = make_township(s), make_township(s)
        branch_b = make_branch(s, b)
        make_user(s, Role.township_staff, township=a, username="staff_a")
        make_user(s, Role.viewer, township=a, username="viewer_a")
        cid, aid, bid, branch_bid = campaign.id, a.id, b.id, branch_b.id
    staff, viewer = login("staff_a"), login("viewer_a")
    body = {"campaign_id": cid, "township_id": aid, "kind": "training",
            "held_on": "2025-02-10", "title": "集中培训党支部书记", "participants": 20}
    r = staff.post("/api/v1/activities", json=body)
    assert r.status_code == 201, r.text
    first = r.json()
    r = staff.post("/api/v1/activities", json={**body, "kind": "meeting", "held_on": "2025-02-01",
                                               "title": "召开专题会议"})
    assert r.status_code == 201
    items = staff.get("/api/v1/activities", params={"campaign_id": cid}).json()["items"]
    assert [i["title"] for i in items] == ["召开专题会议", "集中培训党支部书记"]
    assert staff.post("/api/v1/activities", json={**body, "township_id": bid}).status_code == 403
    r = staff.post("/api/v1/activities", json={**body, "branch_id": branch_bid})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "branch_id"
    r = staff.post("/api/v1/activities", json={**body, "participants": -1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "participants"
    assert viewer.post("/api/v1/activities", json=body).status_code == 403
    r = staff.patch(f"/api/v1/activities/{first['id']}", json={"participants": 25},
                    headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["participants"] == 25
    r = staff.delete(f"/api/v1/activities/{first['id']}", params={"reason": "录重了"},
                     headers={"If-Match": '"2"'})
    assert r.status_code == 204
    assert len(staff.get("/api/v1/activities").json()["items"]) == 1
    doc = staff.get("/api/v1/reports/summary.html", params={"campaign_id": cid,
                                                           "township_id": aid}).text
    assert "2025年2月1日,召开专题会议" in doc
