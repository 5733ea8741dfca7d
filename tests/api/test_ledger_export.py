"""The rectification ledger (整改台账) as CSV and XLSX: header, one row per visible task,
filters, scope, and the cells a township hands upwards."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine

from app.models.task import Task, TaskStatus
from app.models.user import TokenScope
from tests.factories import (
    assert_problem,
    bearer,
    committed,
    make_campaign,
    make_problem,
    make_task,
    make_token,
)

API = "/api/v1"
CHINA = ZoneInfo("Asia/Shanghai")
TODAY = date.today()
HEADER = ["序号", "党支部", "问题来源/类别", "问题描述", "整改措施", "责任单位", "责任人",
          "整改时限", "进展/完成情况", "佐证材料", "验收人/验收意见", "销号日期"]
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
PDF = b"%PDF-1.4\n%%EOF\n"


def version(client: Any, task_id: int) -> str:
    return str(client.get(f"{API}/tasks/{task_id}").headers["ETag"])


def move(client: Any, task_id: int, action: str, note: str | None = None) -> None:
    r = client.post(f"{API}/tasks/{task_id}/transitions", json={"action": action, "note": note},
                    headers={"If-Match": version(client, task_id)})
    assert r.status_code == 200, r.text


@pytest.fixture
def ledger(engine: Engine, world: Any, login: Any) -> dict[str, Any]:
    """A verified task with evidence, an overdue township-wide task, and one of 乙镇."""
    with committed(engine) as s:
        campaign = make_campaign(s)
        problem = make_problem(s, campaign, world.township, branch=world.branch,
                               category="rules_ignored", source="screening",
                               description="“三会一课”制度落实不到位")
        wide = make_problem(s, campaign, world.township, category="aging_members",
                            source="feedback", description="党员队伍老龄化")
        theirs = make_problem(s, campaign, world.other_township, branch=world.other_branch,
                              description="乙镇的问题")
        done = make_task(s, problem, title="按月召开主题党日", description="建立会议记录",
                         responsible_unit="甲一村党支部", responsible_person="张书记",
                         due_on=date(2030, 6, 30)).id
        late = make_task(s, wide, title="发展年轻党员", responsible_person="李委员",
                         responsible_unit=None,
                         due_on=TODAY - timedelta(days=1)).id
        other = make_task(s, theirs, title="乙镇的措施").id
        campaign_id = campaign.id
    secretary, staff = login("secretary"), login("staff")
    r = secretary.post(f"{API}/tasks/{done}/updates", data={"note": "已召开3次主题党日"},
                       files=[("files", ("会议照片.jpg", JPEG, "image/jpeg")),
                              ("files", ("会议记录.pdf", PDF, "application/pdf"))])
    assert r.status_code == 201, r.text
    move(secretary, done, "submit")
    move(staff, done, "verify", "材料齐全,同意销号")
    return {"done": done, "late": late, "other": other, "campaign_id": campaign_id,
            "other_township_id": world.other_township.id}


def uploaded_on() -> str:
    """The local day of an upload made by this test run."""
    return datetime.now(CHINA).date().isoformat()


def read_csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_has_the_bom_the_standard_header_and_the_cells(county_time: None,
    ledger: dict[str, Any], login: Any
) -> None:
    r = login("staff").get(f"{API}/reports/ledger.csv")
    rows = read_csv(r)
    assert quote("整改台账.csv") in r.headers["content-disposition"]
    assert rows[0] == HEADER
    assert len(rows) == 3
    done, late = rows[1], rows[2]
    verified_on = datetime.fromisoformat(
        login("staff").get(f"{API}/tasks/{ledger['done']}").json()["verified_at"])
    assert done[:8] == ["1", "甲一村党支部", "排查发现/组织制度形同虚设、不开展组织活动",
                        "“三会一课”制度落实不到位", "按月召开主题党日(建立会议记录)",
                        "甲一村党支部", "张书记", "2030-06-30"]
    assert done[8] == "已销号:已召开3次主题党日"
    assert sorted(done[9].split("、")) == [f"会议照片.jpg({uploaded_on()})",
                                          f"会议记录.pdf({uploaded_on()})"]
    assert done[10].endswith(":材料齐全,同意销号") and len(done[10]) > len(":材料齐全,同意销号")
    assert done[11] == verified_on.astimezone(CHINA).date().isoformat()
    assert late == ["2", "全乡镇", "征求意见/党员队伍老龄化、后继乏人", "党员队伍老龄化",
                    "发展年轻党员", "", "李委员", (TODAY - timedelta(days=1)).isoformat(),
                    "未开始(已逾期)", "", "", ""]


def test_csv_follows_scope(ledger: dict[str, Any], login: Any, engine: Engine,
                           client: Any) -> None:
    def measures(c: Any, **kw: Any) -> list[str]:
        return [row[4] for row in read_csv(c.get(f"{API}/reports/ledger.csv", **kw))[1:]]

    everything = ["按月召开主题党日(建立会议记录)", "发展年轻党员", "乙镇的措施"]
    assert measures(login("admin")) == everything
    assert measures(login("otherstaff")) == ["乙镇的措施"]
    assert measures(login("secretary")) == ["按月召开主题党日(建立会议记录)"]
    assert measures(login("viewer")) == ["按月召开主题党日(建立会议记录)", "发展年轻党员"]
    with committed(engine) as s:
        county = make_token(s, scope=TokenScope.read)
        limited = make_token(s, scope=TokenScope.read, township=ledger_township(s, "乙镇"))
    assert len(measures(client, headers=bearer(county))) == 3
    assert measures(client, headers=bearer(limited)) == ["乙镇的措施"]
    assert_problem(client.get(f"{API}/reports/ledger.csv"), 401)


def ledger_township(session: Any, name: str) -> Any:
    from sqlalchemy import select

    from app.models.township import Township

    return session.scalars(select(Township).where(Township.name == name)).one()


def test_csv_honours_the_filters(ledger: dict[str, Any], login: Any, world: Any) -> None:
    admin = login("admin")

    def titles(**params: Any) -> list[str]:
        return [row[4][:4] for row in read_csv(admin.get(f"{API}/reports/ledger.csv",
                                                         params=params))[1:]]

    assert titles(status="verified") == ["按月召开"]
    assert titles(status="pending") == ["发展年轻", "乙镇的措"]
    assert titles(overdue="true") == ["发展年轻"]
    assert titles(overdue="false") == ["按月召开", "乙镇的措"]
    assert titles(township_id=world.other_township.id) == ["乙镇的措"]
    assert titles(branch_id=world.branch.id) == ["按月召开"]
    assert titles(due_before=TODAY.isoformat()) == ["发展年轻"]
    assert titles(campaign_id=ledger["campaign_id"]) == ["按月召开", "发展年轻", "乙镇的措"]
    assert titles(campaign_id=ledger["campaign_id"] + 100) == []
    rows = read_csv(admin.get(f"{API}/reports/ledger.csv", params={"status": "submitted"}))
    assert rows == [HEADER]
    assert_problem(admin.get(f"{API}/reports/ledger.csv", params={"status": "x"}), 422,
                   field="status")


def test_the_verified_date_is_the_local_day(county_time: None,
    engine: Engine, ledger: dict[str, Any], login: Any
) -> None:
    """Verified at 07:30 in China (23:30 UTC the day before): the ledger and the task page
    name the same day."""
    with committed(engine) as s:
        task = s.get(Task, ledger["done"])
        assert task is not None
        task.verified_at = datetime(2025, 3, 2, 23, 30, tzinfo=UTC)
    staff = login("staff")
    row = read_csv(staff.get(f"{API}/reports/ledger.csv", params={"status": "verified"}))[1]
    assert row[11] == "2025-03-03"
    page = staff.get(f"{API}/tasks/{ledger['done']}", headers={"HX-Request": "true"}).text
    assert "2025-03-03 07:30" in page


def test_text_with_commas_quotes_and_newlines_survives(
    engine: Engine, world: Any, login: Any
) -> None:
    with committed(engine) as s:
        campaign = make_campaign(s)
        problem = make_problem(s, campaign, world.township,
                               description='一是"三会一课"不规范,\n二是党费收缴不及时')
        make_task(s, problem, title="=1+1", responsible_person="王,五")
    rows = read_csv(login("staff").get(f"{API}/reports/ledger.csv"))
    assert rows[1][3] == '一是"三会一课"不规范,\n二是党费收缴不及时'
    assert rows[1][4] == "'=1+1" and rows[1][6] == "王,五"


# ---------------------------------------------------------------- XLSX


def open_xlsx(response: Any) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert quote("整改台账_") in response.headers["content-disposition"]
    assert response.headers["content-disposition"].endswith(".xlsx")
    return load_workbook(io.BytesIO(response.content))


def test_xlsx_ledger_has_the_sheet_header_and_cells(county_time: None,
    ledger: dict[str, Any], login: Any
) -> None:
    staff = login("staff")
    book = open_xlsx(staff.get(f"{API}/reports/ledger.xlsx"))
    assert book.sheetnames == ["整改台账"]
    sheet = book["整改台账"]
    today = datetime.now(CHINA).date()  # the county's day (county_time), not the machine's
    assert sheet["A1"].value == f"甲镇整改台账({today.year}年{today.month}月{today.day}日)"
    assert [c.value for c in sheet[2]] == HEADER
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    assert len(rows) == 2
    done, late = rows
    verified_at = datetime.fromisoformat(
        staff.get(f"{API}/tasks/{ledger['done']}").json()["verified_at"])
    assert done[0] == 1 and done[1] == "甲一村党支部"
    assert done[3] == "“三会一课”制度落实不到位"
    assert done[4] == "按月召开主题党日(建立会议记录)"
    assert done[5] == "甲一村党支部" and done[6] == "张书记"
    assert done[7] == datetime(2030, 6, 30)
    assert done[8] == "已销号:已召开3次主题党日"
    assert sorted(done[9].split("、")) == [f"会议照片.jpg({uploaded_on()})",
                                          f"会议记录.pdf({uploaded_on()})"]
    assert done[10].endswith("材料齐全,同意销号")
    local = verified_at.astimezone(CHINA).date()
    assert done[11] == datetime(local.year, local.month, local.day)
    assert sheet.cell(row=3, column=12).number_format == "yyyy-mm-dd"
    assert late[1] == "全乡镇" and late[8] == "未开始(已逾期)"
    assert late[9] in ("", None) and late[11] in ("", None)


def test_xlsx_ledger_prints_on_landscape_a4_with_the_headers_on_every_page(
    ledger: dict[str, Any], login: Any
) -> None:
    r = login("staff").get(f"{API}/reports/ledger.xlsx")
    assert quote(f"甲镇整改台账_{TODAY:%Y%m%d}.xlsx") in r.headers["content-disposition"]
    sheet = open_xlsx(r)["整改台账"]
    assert sheet.page_setup.orientation == "landscape"
    assert int(sheet.page_setup.paperSize) == 9  # A4
    assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
    # one page wide (absent means 1 in the file format), as many pages tall as it takes
    assert sheet.page_setup.fitToWidth in (None, 1)
    assert int(sheet.page_setup.fitToHeight) == 0
    assert sheet.print_title_rows == "$1:$2"
    county = login("admin").get(f"{API}/reports/ledger.xlsx")
    assert quote(f"全县整改台账_{TODAY:%Y%m%d}.xlsx") in county.headers["content-disposition"]
    assert open_xlsx(county)["整改台账"]["A1"].value.startswith("全县整改台账(")
    # staff asking for another township still get their own ledger, never its name
    theirs = login("staff").get(f"{API}/reports/ledger.xlsx",
                                params={"township_id": ledger["other_township_id"]})
    assert "%E4%B9%99" not in theirs.headers["content-disposition"]  # 乙
    assert "乙镇" not in open_xlsx(theirs)["整改台账"]["A1"].value


def test_evidence_is_listed_once_per_file_with_its_day(
    county_time: None, engine: Engine, world: Any, login: Any
) -> None:
    with committed(engine) as s:
        problem = make_problem(s, make_campaign(s), world.township, branch=world.branch)
        task = make_task(s, problem, title="整改", status=TaskStatus.in_progress).id
    secretary = login("secretary")
    for name in ("会议照片.jpg", "会议照片(副本).jpg"):  # the same photo twice
        r = secretary.post(f"{API}/tasks/{task}/updates", data={"note": "补充材料"},
                           files=[("files", (name, JPEG, "image/jpeg"))])
        assert r.status_code == 201, r.text
    r = secretary.post(f"{API}/tasks/{task}/updates", data={"note": "记录"},
                       files=[("files", ("会议记录.pdf", PDF, "application/pdf"))])
    assert r.status_code == 201, r.text
    sheet = open_xlsx(login("staff").get(f"{API}/reports/ledger.xlsx"))["整改台账"]
    assert sheet["J3"].value == (f"会议照片.jpg({uploaded_on()})、"
                                 f"会议记录.pdf({uploaded_on()})")


def test_xlsx_follows_scope_and_filters(ledger: dict[str, Any], login: Any) -> None:
    def measures(client: Any, **params: Any) -> list[str]:
        sheet = open_xlsx(client.get(f"{API}/reports/ledger.xlsx", params=params))["整改台账"]
        return [row[4].value for row in sheet.iter_rows(min_row=3)]

    assert measures(login("otherstaff")) == ["乙镇的措施"]
    assert measures(login("admin"), status="pending") == ["发展年轻党员", "乙镇的措施"]
    assert measures(login("admin"), overdue="true") == ["发展年轻党员"]


def test_xlsx_keeps_text_that_looks_like_a_formula_as_text(
    engine: Engine, world: Any, login: Any
) -> None:
    """A note typed by a user must not become a formula in the workbook."""
    with committed(engine) as s:
        campaign = make_campaign(s)
        problem = make_problem(s, campaign, world.township, branch=world.branch,
                               description='=HYPERLINK("http://example.com","点此")')
        make_task(s, problem, title="=1+1", responsible_person="@王五",
                  status=TaskStatus.in_progress)
    sheet = open_xlsx(login("staff").get(f"{API}/reports/ledger.xlsx"))["整改台账"]
    row = sheet[3]
    assert row[3].value == "'=HYPERLINK(\"http://example.com\",\"点此\")"
    assert row[3].data_type == "s" and row[3].hyperlink is None
    assert row[4].value == "'=1+1" and row[4].data_type == "s"
    assert row[6].value == "'@王五"


def test_an_empty_ledger_is_just_the_header(engine: Engine, world: Any, login: Any) -> None:
    assert read_csv(login("staff").get(f"{API}/reports/ledger.csv")) == [HEADER]
    sheet = open_xlsx(login("staff").get(f"{API}/reports/ledger.xlsx"))["整改台账"]
    assert [c.value for c in sheet[2]] == HEADER and sheet.max_row == 2
