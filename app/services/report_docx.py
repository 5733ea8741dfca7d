"""The report as a Word document in the official format (GB/T 9704-2012 党政机关公文格式),
and the data checks that stay out of it as their own workbook (数据核对清单).

Format: A4; margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm; body 仿宋_GB2312 三号
(16 pt) at an exact 28 pt line, first line indented two characters; title 方正小标宋简体 二号
(22 pt) centred; level-1 headings 黑体 三号 and level-2 (“(一)”) 楷体_GB2312 三号 as the
built-in Heading 1/2 styles (Word's navigation pane lists them), kept with the next
paragraph; page numbers “— 1 —” in 宋体 四号 at the foot, odd pages right and even pages
left; the signature (发文机关署名) centred above the date (成文日期), which stands four
characters from the right margin. Every font is named for East Asian text too (w:eastAsia),
and the styles' theme fonts are removed, so Word and WPS use these fonts.
"""

import io
import re
import unicodedata
from datetime import datetime

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.styles.style import ParagraphStyle
from docx.text.paragraph import Paragraph

from app.models.forms import strip_control
from app.models.report import SummaryWarning
from app.services.cells import safe_text, small_workbook
from app.services.report_text import ReportDocument

BODY_FONT = "仿宋_GB2312"
TITLE_FONT = "方正小标宋简体"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
PAGE_NUMBER_FONT = "宋体"
LATIN_FONT = "Times New Roman"

BODY_SIZE = Pt(16)  # 三号
TITLE_SIZE = Pt(22)  # 二号
PAGE_NUMBER_SIZE = Pt(14)  # 四号
LINE = Pt(28)  # fixed line spacing: 22 lines of 28 characters on a page
CHAR = 16  # one character of body text, in points

TITLE_STYLE = "公文标题"
SIGNATURE_STYLE = "公文落款"

# “(一)措施。……”: a level-2 item; its label becomes a Heading 2, the rest a body paragraph
ITEM = re.compile(r"^[((]([一二三四五六七八九十]+)[))]([^。;;]*)。?(.*)$", re.S)


def _set_fonts(rpr_owner: object, east_asian: str, latin: str = LATIN_FONT) -> None:
    """Name the font for Latin and East Asian text, dropping theme fonts that override it."""
    rpr = rpr_owner.get_or_add_rPr()  # type: ignore[attr-defined]
    fonts = rpr.get_or_add_rFonts()
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east_asian)
    fonts.set(qn("w:cs"), latin)


def _style(style: ParagraphStyle, font: str, size: Pt, *, indent: bool = True,
           align: WD_ALIGN_PARAGRAPH | None = None, keep_with_next: bool = False) -> None:
    style.font.size = size
    style.font.bold = False
    style.font.italic = False
    style.font.color.rgb = RGBColor(0, 0, 0)
    _set_fonts(style.element, font)
    fmt = style.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = LINE
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(0)
    fmt.first_line_indent = Pt(2 * CHAR) if indent else Pt(0)
    fmt.keep_with_next = keep_with_next
    if align is not None:
        fmt.alignment = align


def _styles(d: object) -> None:
    styles = d.styles  # type: ignore[attr-defined]
    _style(styles["Normal"], BODY_FONT, BODY_SIZE, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _style(styles["Heading 1"], HEADING1_FONT, BODY_SIZE, keep_with_next=True)
    _style(styles["Heading 2"], HEADING2_FONT, BODY_SIZE, keep_with_next=True)
    title = styles.add_style(TITLE_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    title.base_style = styles["Normal"]
    _style(title, TITLE_FONT, TITLE_SIZE, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER,
           keep_with_next=True)
    title.paragraph_format.line_spacing = Pt(36)
    signature = styles.add_style(SIGNATURE_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    signature.base_style = styles["Normal"]
    _style(signature, BODY_FONT, BODY_SIZE, indent=False, align=WD_ALIGN_PARAGRAPH.RIGHT)


def _page(d: object) -> None:
    section = d.sections[0]  # type: ignore[attr-defined]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(28)  # the page number sits 7 mm below the text block
    d.settings.odd_and_even_pages_header_footer = True  # type: ignore[attr-defined]
    _page_number(section.footer.paragraphs[0], WD_ALIGN_PARAGRAPH.RIGHT)
    _page_number(section.even_page_footer.paragraphs[0], WD_ALIGN_PARAGRAPH.LEFT)


def _page_number(p: Paragraph, align: WD_ALIGN_PARAGRAPH) -> None:
    """“— 7 —” in 宋体 四号, one character in from the margin (odd right, even left)."""
    fmt = p.paragraph_format
    fmt.alignment = align
    fmt.first_line_indent = Pt(0)
    fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
    if align == WD_ALIGN_PARAGRAPH.RIGHT:
        fmt.right_indent = Pt(14)
    else:
        fmt.left_indent = Pt(14)

    def run(text: str = "") -> object:
        r = p.add_run(text)
        r.font.size = PAGE_NUMBER_SIZE
        _set_fonts(r._element, PAGE_NUMBER_FONT)
        return r

    run("— ")
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"),
                       ("end", None)):
        r = run()
        if kind is not None:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            r._element.append(char)  # type: ignore[attr-defined]
        elif text == " PAGE ":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            r._element.append(instr)  # type: ignore[attr-defined]
        else:
            r.text = text  # type: ignore[attr-defined]
    run(" —")


def _width(text: str) -> float:
    """Width in body characters: full-width characters count one, others half."""
    return sum(1 if unicodedata.east_asian_width(ch) in "WF" else 0.5 for ch in text)


def _signature(d: object, signature: str, dated: str) -> None:
    """Signature centred above the date; the date four characters from the right margin."""
    for _ in range(2):
        d.add_paragraph()  # type: ignore[attr-defined]
    date_indent = 4 * CHAR
    centre = date_indent + _width(dated) * CHAR / 2
    sign = d.add_paragraph(signature, style=SIGNATURE_STYLE)  # type: ignore[attr-defined]
    sign.paragraph_format.right_indent = Pt(max(0.0, centre - _width(signature) * CHAR / 2))
    sign.paragraph_format.keep_with_next = True
    when = d.add_paragraph(dated, style=SIGNATURE_STYLE)  # type: ignore[attr-defined]
    when.paragraph_format.right_indent = Pt(date_indent)


def _body(d: object, text: str) -> None:
    item = ITEM.match(text)
    if item is None:
        d.add_paragraph(text)  # type: ignore[attr-defined]
        return
    number, label, rest = item.groups()
    d.add_paragraph(f"({number}){label.strip()}", style="Heading 2")  # type: ignore[attr-defined]
    if rest.strip():
        d.add_paragraph(rest.strip())  # type: ignore[attr-defined]


def to_docx(doc: ReportDocument) -> bytes:
    """The report as a .docx in the official format (see the module's docstring); texts go
    in without the control characters Word refuses (rows stored before the input boundary
    refused them may still hold some)."""
    d = Document()
    _styles(d)
    _page(d)
    props = d.core_properties
    props.author = props.last_modified_by = doc.place if doc.place != "全县" else doc.signature
    props.title = doc.title
    props.subject = "专项整治工作汇报"
    props.comments = ""
    props.keywords = ""
    props.created = props.modified = datetime(doc.dated.year, doc.dated.month, doc.dated.day)
    d.add_paragraph(strip_control(doc.title), style=TITLE_STYLE)
    d.add_paragraph()
    d.add_paragraph(strip_control(doc.opening))
    for section in doc.sections:
        d.add_paragraph(strip_control(section.heading), style="Heading 1")
        for text in section.paragraphs:
            _body(d, strip_control(text))
    _signature(d, strip_control(doc.signature), doc.date_line)
    buffer = io.BytesIO()
    d.save(buffer)
    return buffer.getvalue()


def checks_xlsx(warnings: list[SummaryWarning], *, place: str, as_of_text: str) -> bytes:
    """The data checks (数据核对清单): one row per figure that does not add up, to correct
    in the records before the report goes out."""
    book, out = small_workbook()
    sheet = book.add_worksheet("数据核对清单")
    title = book.add_format({"bold": True, "font_size": 14})
    head = book.add_format({"bold": True, "border": 1, "bg_color": "#F2F2F2"})
    wrap = book.add_format({"text_wrap": True, "valign": "top", "border": 1})
    sheet.set_column(0, 0, 6)
    sheet.set_column(1, 1, 80)
    sheet.set_column(2, 2, 26)
    sheet.write(0, 0, f"{place}数据核对清单(截至{as_of_text})", title)
    sheet.write_row(1, 0, ["序号", "需核对的情况", "代码"], head)
    for i, w in enumerate(warnings, start=1):
        sheet.write_number(i + 1, 0, i, wrap)
        sheet.write_string(i + 1, 1, safe_text(w.message), wrap)
        sheet.write_string(i + 1, 2, w.code, wrap)
    if not warnings:
        sheet.write(2, 1, "各项数据相互吻合,无需核对。")
    sheet.set_landscape()
    sheet.set_paper(9)
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(1)
    book.close()
    return out.getvalue()
