"""The report as a 公文 (GB/T 9704-2012): page, styles, page numbers, signature and date;
the data checks as their own download; the file names."""

import io
from urllib.parse import quote

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Pt
from openpyxl import load_workbook

from app import clock
from app.models.township import Township
from app.services.demo import load_demo
from tests.factories import committed


@pytest.fixture
def demo(engine):
    with committed(engine) as s:
        load_demo(s)
        return s.query(Township).filter(Township.name == "十四道沟镇").one().id


def fetch_docx(client, township_id):
    r = client.get("/api/v1/reports/summary.docx", params={"township_id": township_id})
    assert r.status_code == 200, r.text
    return r, Document(io.BytesIO(r.content))


def east_asian(style_or_run_element) -> str:
    fonts = style_or_run_element.rPr.rFonts
    assert fonts.get(qn("w:eastAsiaTheme")) is None  # a theme font would override the name
    return fonts.get(qn("w:eastAsia"))


def test_the_page_is_a4_with_the_standard_margins(demo, login):
    _, doc = fetch_docx(login("admin", "demo-pass-2026"), demo)
    section = doc.sections[0]

    def mm(length):  # the file holds twentieths of a point: compare to a tenth of a mm
        return round(length.mm, 1)

    assert (mm(section.page_width), mm(section.page_height)) == (210, 297)
    assert (mm(section.top_margin), mm(section.bottom_margin)) == (37, 35)
    assert (mm(section.left_margin), mm(section.right_margin)) == (28, 26)


def test_body_title_and_headings_use_the_official_fonts_and_styles(demo, login):
    _, doc = fetch_docx(login("admin", "demo-pass-2026"), demo)
    normal = doc.styles["Normal"]
    assert normal.font.size == Pt(16)
    assert east_asian(normal.element) == "仿宋_GB2312"
    fmt = normal.paragraph_format
    assert fmt.line_spacing_rule == WD_LINE_SPACING.EXACTLY and fmt.line_spacing == Pt(28)
    assert fmt.first_line_indent == Pt(32)  # two characters of 16 pt

    title = doc.paragraphs[0]
    assert title.text == "十四道沟镇软弱涣散基层党组织专项整治工作汇报"
    assert title.style.font.size == Pt(22)
    assert east_asian(title.style.element) == "方正小标宋简体"
    assert title.style.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER

    level1 = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert level1 == ["一、基本情况", "二、工作开展情况", "三、存在的问题", "四、下一步工作打算"]
    level2 = [p.text for p in doc.paragraphs if p.style.name == "Heading 2"]
    assert level2 and all(t.startswith("(") for t in level2)
    for name, font in (("Heading 1", "黑体"), ("Heading 2", "楷体_GB2312")):
        style = doc.styles[name]
        assert east_asian(style.element) == font
        assert style.font.size == Pt(16) and not style.font.bold
        assert style.paragraph_format.keep_with_next is True
    # the built-in heading styles, with the outline levels Word's navigation pane lists
    for name, level in (("Heading 1", "0"), ("Heading 2", "1")):
        outline = doc.styles[name].element.pPr.find(qn("w:outlineLvl"))
        assert outline is not None and outline.get(qn("w:val")) == level


def test_the_footer_numbers_pages_in_the_official_form(demo, login):
    _, doc = fetch_docx(login("admin", "demo-pass-2026"), demo)
    section = doc.sections[0]
    for footer in (section.footer, section.even_page_footer):
        p = footer.paragraphs[0]
        xml = p._p.xml
        assert "PAGE" in "".join(t.text for t in p._p.iter(qn("w:instrText")))
        assert xml.count('w:fldCharType="begin"') == 1 and 'w:fldCharType="end"' in xml
        assert p.text.startswith("— ") and p.text.endswith(" —")
        run = p.runs[0]
        assert run.font.size == Pt(14)
        assert east_asian(run._element) == "宋体"
    assert section.footer.paragraphs[0].paragraph_format.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert section.even_page_footer.paragraphs[0].paragraph_format.alignment == \
        WD_ALIGN_PARAGRAPH.LEFT


def test_the_report_is_signed_by_the_committee_and_dated(demo, login, engine):
    admin = login("admin", "demo-pass-2026")
    today = clock.today()
    dated = f"{today.year}年{today.month}月{today.day}日"
    r, doc = fetch_docx(admin, demo)
    texts = [p.text for p in doc.paragraphs if p.text]
    assert texts[-2:] == ["中共十四道沟镇委员会", dated]
    assert doc.paragraphs[-1].paragraph_format.alignment is None  # from the style: right
    assert doc.paragraphs[-1].style.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert doc.core_properties.author == "十四道沟镇"
    name = f"十四道沟镇专项整治工作汇报_{today:%Y%m%d}.docx"
    assert f"filename*=UTF-8''{quote(name)}" in r.headers["content-disposition"]
    assert "附录" not in "\n".join(texts)

    version = admin.get(f"/api/v1/townships/{demo}").headers["ETag"]
    r = admin.patch(f"/api/v1/townships/{demo}",
                    json={"party_committee_name": " 中共十四道沟镇党委 "},
                    headers={"If-Match": version})
    assert r.status_code == 200, r.text
    assert r.json()["party_committee_name"] == "中共十四道沟镇党委"
    assert r.json()["signature"] == "中共十四道沟镇党委"
    page = admin.get("/townships").text
    assert "修改落款" in page and "中共十四道沟镇党委" in page
    _, doc = fetch_docx(admin, demo)
    assert [p.text for p in doc.paragraphs if p.text][-2] == "中共十四道沟镇党委"


def test_the_data_checks_are_on_the_page_and_their_own_download(demo, login):
    staff = login("staff", "demo-pass-2026")
    page = staff.get("/api/v1/reports/summary.html", params={"township_id": demo})
    assert "下载前请核对" in page.text and "179" in page.text
    assert "/api/v1/reports/summary-checks.xlsx" in page.text
    r = staff.get("/api/v1/reports/summary-checks.xlsx", params={"township_id": demo})
    assert r.status_code == 200
    assert quote("十四道沟镇数据核对清单_") in r.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(r.content))["数据核对清单"]
    assert [c.value for c in sheet[2]] == ["序号", "需核对的情况", "代码"]
    codes = [row[2].value for row in sheet.iter_rows(min_row=3)]
    assert "age_bands_incomplete" in codes
    assert any("179" in (row[1].value or "") for row in sheet.iter_rows(min_row=3))
