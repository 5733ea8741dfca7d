"""The township report written from the records: the sections of the original report
(基本情况, 工作开展情况, 存在的问题, 下一步工作打算) as sentences from the figures, and an
appendix listing every figure that does not add up. Rendered as .docx and as HTML."""

import io
from dataclasses import dataclass, field
from datetime import date

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt
from sqlalchemy import select
from sqlmodel import Session, col

from app.labels import label
from app.models.activity import Activity
from app.models.branch import Branch, BranchKind
from app.models.campaign import Campaign
from app.models.forms import strip_control
from app.models.problem import Problem
from app.models.report import Summary
from app.models.screening import Conclusion, Screening
from app.models.task import Task
from app.models.township import Township
from app.services.actors import Actor, record_visible
from app.services.campaigns import campaign_criteria

NUMERALS = "一二三四五六七八九十"


def numeral(n: int) -> str:
    """1 → 一, 12 → 十二, 20 → 二十 (enough for section and item numbers)."""
    if n <= 10:
        return NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    return (NUMERALS[tens - 1] if tens > 1 else "") + "十" + (NUMERALS[ones - 1] if ones else "")


def cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


@dataclass
class Section:
    heading: str
    paragraphs: list[str] = field(default_factory=list)


@dataclass
class ReportDocument:
    title: str
    opening: str
    sections: list[Section]
    appendix: list[str]


def _place(session: Session, township_id: int | None) -> tuple[str, str]:
    """The report's subject and its short form: (十四道沟镇, 全镇) or (全县, 全县)."""
    if township_id is None:
        return "全县", "全县"
    township = session.get(Township, township_id)
    return (township.name if township else "本乡镇"), "全镇"


def _basic(s: Summary, place: str, whole: str) -> list[str]:
    b, m, sec = s.branches, s.members, s.secretaries
    village = BranchKind.village.value
    others = [k for k in BranchKind if k != BranchKind.village and b.by_kind[k.value]]
    other_names = "、".join(f"{label('branch_kind', k)}党支部" for k in others)
    other_members = sum(m.by_kind[k.value] for k in others)
    first = (f"{place}共有{b.total}个党支部,党员{m.total}人,其中农村党支部{b.by_kind[village]}个,"
             f"农村党员{m.by_kind[village]}人")
    if others:
        first += f",{other_names}合计为{other_members}人"
    paragraphs = [first + "。"]
    ages = (f"{whole}党员队伍中35周岁以下的有{m.age_35_under}人,36至55周岁的有{m.age_36_55}人,"
            f"56周岁以上的有{m.age_56_over}人,35周岁以下有入党意向的有{m.applicants_35_under}人")
    if m.age_recorded < m.total:
        ages += (f"(以上按年龄段登记的党员共{m.age_recorded}人,另有{m.total - m.age_recorded}人"
                 "年龄未登记,见附录)")
    paragraphs.append(ages + "。")
    if sec.village_total:
        line = f"{sec.village_total}个行政村党支部书记中有{sec.age_50_plus}人50周岁以上"
        if sec.age_60_plus:
            line += f",其中{sec.age_60_plus}人已达到60周岁"
        if sec.not_dual_role:
            line += f";{sec.not_dual_role}个村书记、主任未“一肩挑”"
        paragraphs.append(line + "。")
    return paragraphs


def _work_done(session: Session, actor: Actor, s: Summary, campaign: Campaign | None,
               township_id: int | None) -> list[str]:
    if campaign is None:
        return ["尚无进行中的专项整治,暂无工作开展情况。"]
    paragraphs: list[str] = []
    stmt = select(Activity).where(
        Activity.campaign_id == campaign.id, col(Activity.deleted_at).is_(None),
        record_visible(actor, col(Activity.township_id), col(Activity.branch_id)),
    ).order_by(Activity.held_on, Activity.id)
    if township_id is not None:
        stmt = stmt.where(Activity.township_id == township_id)
    for a in session.scalars(stmt):
        line = f"{cn_date(a.held_on)},{a.title}"
        if a.participants:
            line += f"({a.participants}人参加)"
        line += "。" + (a.summary or "")
        paragraphs.append(line)
    sc = s.screenings
    leaders_stmt = select(Screening.led_by, Screening.led_by_title).where(
        Screening.campaign_id == campaign.id, col(Screening.deleted_at).is_(None),
        record_visible(actor, col(Screening.township_id), col(Screening.branch_id)),
    ).distinct()
    if township_id is not None:
        leaders_stmt = leaders_stmt.where(Screening.township_id == township_id)
    leaders = [f"{title or ''}{name}" for name, title in session.execute(leaders_stmt)]
    if sc.done:
        line = f"由{'、'.join(leaders[:5])}等带队" if leaders else "由领导班子成员带队"
        by = f"于{sc.due.month}月{sc.due.day}日前" if sc.due else ""
        line += f",{by}完成了对所辖{sc.done_by_due}个村、社区党支部的排查摸底工作"
        if sc.done > sc.done_by_due:
            line += f",另有{sc.done - sc.done_by_due}个逾期完成"
        if sc.target > sc.done:
            line += f",尚有{sc.target - sc.done}个未完成"
        if sc.weak_lax:
            names = _weak_lax_names(session, actor, campaign, township_id)
            line += f",认定{sc.weak_lax}个党支部为软弱涣散({'、'.join(names)})"
        else:
            line += ",未发现软弱涣散情况"
        paragraphs.append(line + "。")
    elif sc.target:
        paragraphs.append(f"所辖{sc.target}个村、社区党支部的排查摸底工作尚未完成。")
    f = s.feedback
    if f.issued or f.returned:
        line = f"发放党支部征求意见表{f.issued}份,收回{f.returned}份"
        line += f",梳理出意见、建议{f.suggestions}条"
        top = [label("theme", t) for t, n in sorted(f.by_theme.items(), key=lambda x: -x[1])
               if n and t != "other"][:4]
        if top:
            line += f",集中反映在{'、'.join(top)}等方面"
        paragraphs.append(line + "。")
    return paragraphs


def _weak_lax_names(session: Session, actor: Actor, campaign: Campaign,
                    township_id: int | None) -> list[str]:
    stmt = (select(Branch.name).join(Screening, col(Screening.branch_id) == Branch.id)
            .where(Screening.campaign_id == campaign.id,
                   Screening.conclusion == Conclusion.weak_lax,
                   col(Screening.deleted_at).is_(None),
                   record_visible(actor, col(Screening.township_id), col(Screening.branch_id))))
    if township_id is not None:
        stmt = stmt.where(Screening.township_id == township_id)
    return list(session.scalars(stmt))


def _problems_and_tasks(session: Session, actor: Actor, campaign: Campaign | None,
                        township_id: int | None, whole: str) -> tuple[list[str], list[str]]:
    if campaign is None:
        return ["暂无问题记录。"], ["暂无整改任务。"]
    labels = {c.code: c.label for c in campaign_criteria(session, campaign.id)}
    stmt = (select(Problem, Branch.name)
            .outerjoin(Branch, col(Branch.id) == Problem.branch_id)
            .where(Problem.campaign_id == campaign.id, col(Problem.deleted_at).is_(None),
                   record_visible(actor, col(Problem.township_id), col(Problem.branch_id)))
            .order_by(Problem.id))
    if township_id is not None:
        stmt = stmt.where(Problem.township_id == township_id)
    groups: dict[str, list[tuple[Problem, str | None]]] = {}
    for problem, branch_name in session.execute(stmt):
        groups.setdefault(problem.category, []).append((problem, branch_name))
    if not groups:
        return ["暂无问题记录。"], ["暂无整改任务。"]
    tasks_by_problem: dict[int, list[tuple[Task, str | None]]] = {}
    task_stmt = (select(Task, Branch.name)
                 .outerjoin(Branch, col(Branch.id) == Task.branch_id)
                 .where(Task.campaign_id == campaign.id, col(Task.deleted_at).is_(None),
                        record_visible(actor, col(Task.township_id), col(Task.branch_id)))
                 .order_by(Task.due_on, Task.id))
    if township_id is not None:
        task_stmt = task_stmt.where(Task.township_id == township_id)
    for t, task_branch in session.execute(task_stmt):
        tasks_by_problem.setdefault(t.problem_id, []).append((t, task_branch))
    problems_text: list[str] = []
    plans: list[str] = []
    for i, (category, items) in enumerate(groups.items(), start=1):
        where = sorted({name or whole for _, name in items})
        descriptions = ";".join(p.description.rstrip("。") for p, _ in items)
        heading = labels.get(category, category)
        problems_text.append(
            f"{numeral(i)}是{heading}。{descriptions}(涉及:{'、'.join(where)})。"
        )
        lines = []
        for p, _ in items:
            for t, task_branch in tasks_by_problem.get(p.id or 0, []):
                who = "、".join(x for x in (t.responsible_unit, t.responsible_person) if x)
                place = (task_branch or "").removesuffix("党支部")
                line = t.title if t.title.startswith(place) else f"{place}:{t.title}"
                if t.description:
                    line += f":{t.description.rstrip('。')}"
                line += (f"(责任人:{who or '未明确'},完成时限:{cn_date(t.due_on)},"
                         f"当前{label('task_status', t.status)})")
                lines.append(line)
        if lines:
            plans.append(f"({numeral(len(plans) + 1)}){labels.get(category, category)}。"
                         + ";".join(lines) + "。")
    return problems_text, plans or ["各问题尚未制定整改任务。"]


def build_document(*, session: Session, actor: Actor, summary: Summary) -> ReportDocument:
    township_id = summary.scope.township_id
    place, whole = _place(session, township_id)
    campaign = (session.get(Campaign, summary.scope.campaign_id)
                if summary.scope.campaign_id else None)
    problems_text, plans = _problems_and_tasks(session, actor, campaign, township_id, whole)
    campaign_name = campaign.name if campaign else "软弱涣散基层党组织专项整治"
    return ReportDocument(
        title=f"{place}软弱涣散基层党组织专项整治工作汇报",
        opening=f"现将{place}{campaign_name}相关工作开展情况汇报如下:",
        sections=[
            Section("一、基本情况", _basic(summary, place, whole)),
            Section("二、工作开展情况", _work_done(session, actor, summary, campaign, township_id)),
            Section("三、存在的问题", problems_text),
            Section("四、下一步工作打算", plans),
        ],
        appendix=[w.message for w in summary.warnings],
    )


def _font(run: object, size: float, bold: bool = False) -> None:
    run.font.size = Pt(size)  # type: ignore[attr-defined]
    run.font.bold = bold  # type: ignore[attr-defined]
    run.font.name = "FangSong"  # type: ignore[attr-defined]
    run._element.rPr.rFonts.set(qn("w:eastAsia"), "仿宋")  # type: ignore[attr-defined]


def to_docx(doc: ReportDocument) -> bytes:
    """The report as a Word document (texts without the control characters Word refuses,
    which rows stored before the boundary refused them may still hold)."""
    d = Document()
    title = d.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(title.add_run(strip_control(doc.title)), 18, bold=True)
    _font(d.add_paragraph().add_run(strip_control(doc.opening)), 14)
    for section in doc.sections:
        _font(d.add_paragraph().add_run(strip_control(section.heading)), 15, bold=True)
        for text in section.paragraphs:
            p = d.add_paragraph()
            p.paragraph_format.first_line_indent = Pt(28)
            _font(p.add_run(strip_control(text)), 14)
    if doc.appendix:
        _font(d.add_paragraph().add_run("附录:数据核对提示(请核实后修改原始记录)"), 15, bold=True)
        for text in doc.appendix:
            _font(d.add_paragraph(style="List Bullet").add_run(strip_control(text)), 12)
    buffer = io.BytesIO()
    d.save(buffer)
    return buffer.getvalue()
