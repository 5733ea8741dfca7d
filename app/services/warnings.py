"""Early warning (预警): branches ranked by the signals the records hold, each with its figure.

Thresholds and weights are settings (`warn_*` in app/config.py). A branch's score is the
sum of the weights of its signals; overdue tasks count once each up to a cap, and each
criterion the current campaign's screening noted counts once. A branch designated weak and
lax (that screening's conclusion, or the register's mark) carries the `weak_lax` weight.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import Session, col

from app import clock
from app.config import Settings
from app.models.branch import Branch, BranchKind
from app.models.campaign import Campaign
from app.models.feedback import FeedbackForm, Satisfaction
from app.models.screening import Conclusion, EarlyWarning, Screening, WarningReason
from app.models.task import Task
from app.models.township import Township
from app.services.actors import Actor, branch_visible
from app.services.campaigns import campaign_criteria, get_campaign, latest_active
from app.services.cells import XlsxCells, small_workbook
from app.services.rectifications import visit_overdue_reasons
from app.services.tasks import overdue_condition
from app.services.townships import get_township


def _overdue_by_branch(session: Session, branch_ids: list[int], today: date) -> dict[int, int]:
    rows = session.execute(
        select(Task.branch_id, func.count(Task.id))
        .where(col(Task.branch_id).in_(branch_ids), col(Task.deleted_at).is_(None),
               overdue_condition(today))
        .group_by(Task.branch_id)
    ).all()
    return {int(b): int(n) for b, n in rows if b is not None}


def _satisfaction_by_branch(
    session: Session, branch_ids: list[int], campaign_id: int | None
) -> dict[int, tuple[int, int]]:
    """Per branch: (dissatisfied, answered)."""
    dissatisfied = func.sum(
        case((FeedbackForm.satisfaction == Satisfaction.dissatisfied, 1), else_=0)
    )
    stmt = (
        select(FeedbackForm.branch_id, dissatisfied, func.count(FeedbackForm.id))
        .where(col(FeedbackForm.branch_id).in_(branch_ids), col(FeedbackForm.deleted_at).is_(None),
               col(FeedbackForm.satisfaction).is_not(None))
        .group_by(FeedbackForm.branch_id)
    )
    if campaign_id is not None:
        stmt = stmt.where(FeedbackForm.campaign_id == campaign_id)
    return {int(b): (int(d or 0), int(n)) for b, d, n in session.execute(stmt)}


def _earlier_weak_lax(
    session: Session, branch_ids: list[int], campaign: Campaign | None
) -> dict[int, str]:
    """Branches concluded weak and lax in an earlier campaign, with that campaign's name."""
    stmt = (
        select(Screening.branch_id, Campaign.name)
        .join(Campaign, col(Campaign.id) == Screening.campaign_id)
        .where(col(Screening.branch_id).in_(branch_ids), col(Screening.deleted_at).is_(None),
               Screening.conclusion == Conclusion.weak_lax)
        .order_by(Campaign.starts_on)
    )
    if campaign is not None:
        stmt = stmt.where(Campaign.id != campaign.id, Campaign.starts_on < campaign.starts_on)
    return {int(b): str(name) for b, name in session.execute(stmt)}


@dataclass(frozen=True)
class CurrentScreening:
    """What the current campaign's screening of a branch found."""

    weak_lax: bool
    hits: list[str]  # labels of the noted criteria


def _current_screenings(
    session: Session, branch_ids: list[int], campaign: Campaign | None
) -> dict[int, CurrentScreening]:
    if campaign is None:
        return {}
    labels = {c.code: c.label for c in campaign_criteria(session, campaign.id)}
    rows = session.execute(
        select(Screening.branch_id, Screening.conclusion, Screening.results)
        .where(col(Screening.branch_id).in_(branch_ids), col(Screening.deleted_at).is_(None),
               Screening.campaign_id == campaign.id)
    ).all()
    return {
        int(b): CurrentScreening(
            weak_lax=conclusion == Conclusion.weak_lax,
            hits=[labels.get(r["code"], r["code"]) for r in results or [] if r.get("hit")],
        )
        for b, conclusion, results in rows
    }


def _wan(amount: Decimal) -> str:
    """An amount in 万元 as a person writes it: 2.5, 12 (not 2.50, 12.00)."""
    return f"{amount.normalize():f}"


def _reasons(
    b: Branch, settings: Settings, today: date, overdue: int, sat: tuple[int, int] | None,
    earlier: str | None, current: CurrentScreening | None = None,
) -> list[tuple[str, str, Any, float]]:
    """(code, message, figure, weight) for every signal the branch shows."""
    w = settings.warn_weights
    out: list[tuple[str, str, Any, float]] = []
    if current is not None and current.weak_lax:
        out.append(("weak_lax", "本次排查认定为软弱涣散", True, w.get("weak_lax", 0.0)))
    elif b.is_weak_lax:
        out.append(("weak_lax", "已认定为软弱涣散", True, w.get("weak_lax", 0.0)))
    if current is not None and current.hits:
        out.append(("screening_hits",
                    f"本次排查发现{len(current.hits)}项软弱涣散情形:{'、'.join(current.hits)}",
                    len(current.hits), w.get("screening_hits", 0.0) * len(current.hits)))
    if b.member_count > 0 and b.members_35_under == 0:
        out.append(("no_young_members", "没有35岁及以下党员", 0, w["no_young_members"]))
    recorded = sum(x or 0 for x in (b.members_35_under, b.members_36_55, b.members_56_over))
    if recorded and (b.members_56_over or 0) / recorded > settings.warn_old_share:
        share = round((b.members_56_over or 0) / recorded, 3)
        out.append(("aging_members", f"56岁及以上党员占{share:.0%}", share, w["aging_members"]))
    if b.secretary_birth_year is not None:
        age = today.year - b.secretary_birth_year
        if age >= settings.secretary_age_limit:
            out.append(("secretary_60_plus", f"书记{age}岁", age, w["secretary_60_plus"]))
    if b.kind == BranchKind.village and not b.secretary_is_director:
        out.append(("no_dual_role", "书记、主任未“一肩挑”,换届存在隐患", False,
                    w["no_dual_role"]))
    if (b.kind == BranchKind.village and b.collective_income_wan is not None
            and b.collective_income_wan < settings.low_income_threshold_wan):
        out.append(("low_collective_income",
                    f"村集体经济收入{_wan(b.collective_income_wan)}万元,"
                    f"低于{_wan(settings.low_income_threshold_wan)}万元",
                    float(b.collective_income_wan), w["low_collective_income"]))
    if overdue:
        counted = min(overdue, settings.warn_overdue_cap)
        out.append(("overdue_tasks", f"{overdue}项整改任务逾期", overdue,
                    w["overdue_tasks"] * counted))
    if sat and sat[1] >= settings.warn_min_answers:
        share = round(sat[0] / sat[1], 3)
        if share > settings.warn_dissatisfied_share:
            out.append(("dissatisfied_feedback",
                        f"征求意见中“不满意”占{share:.0%}({sat[0]}/{sat[1]})", share,
                        w["dissatisfied_feedback"]))
    if earlier:
        out.append(("earlier_weak_lax", f"曾在“{earlier}”中被认定为软弱涣散", earlier,
                    w["earlier_weak_lax"]))
    return out


def early_warnings(
    *, session: Session, actor: Actor, settings: Settings, campaign_id: int | None,
    township_id: int | None, limit: int | None = None, today: date | None = None,
) -> list[EarlyWarning]:
    """Visible branches with at least one signal, highest score first.

    Raises NotFound for a `township_id` the reader may not see (as the summary does)."""
    today = today or clock.today()
    if township_id is not None:
        get_township(session=session, actor=actor, township_id=township_id)
    campaign = (get_campaign(session=session, campaign_id=campaign_id) if campaign_id
                else latest_active(session=session))
    stmt = (
        select(Branch, Township.name)
        .join(Township, col(Township.id) == Branch.township_id)
        .where(col(Branch.deleted_at).is_(None), branch_visible(actor))
    )
    if township_id is not None:
        stmt = stmt.where(Branch.township_id == township_id)
    rows = session.execute(stmt).all()
    ids = [b.id for b, _ in rows]
    overdue = _overdue_by_branch(session, ids, today) if ids else {}
    sat = _satisfaction_by_branch(session, ids, campaign.id if campaign else None) if ids else {}
    earlier = _earlier_weak_lax(session, ids, campaign) if ids else {}
    visits = visit_overdue_reasons(session=session, branch_ids=ids, settings=settings, today=today)
    current = _current_screenings(session, ids, campaign) if ids else {}
    ranked = []
    for b, tname in rows:
        reasons = _reasons(b, settings, today, overdue.get(b.id, 0), sat.get(b.id),
                           earlier.get(b.id), current.get(b.id)) + visits.get(b.id, [])
        if not reasons:
            continue
        ranked.append(EarlyWarning(
            branch_id=b.id, branch_name=b.name, township_id=b.township_id, township_name=tname,
            score=round(sum(r[3] for r in reasons), 2),
            reasons=[WarningReason(code=c, message=m, value=v) for c, m, v, _ in reasons],
        ))
    ranked.sort(key=lambda e: (-e.score, e.branch_id))
    return ranked[:limit] if limit else ranked


@dataclass(frozen=True)
class Threshold:
    """One rule of the ranking as the page shows it (read-only): what, and its weight."""

    signal: str
    rule: str
    weight: str


def thresholds(settings: Settings) -> list[Threshold]:
    """The thresholds and weights in force, in Chinese, for the early-warning page."""
    w = settings.warn_weights

    def weight(code: str, unit: str = "") -> str:
        return f"{w.get(code, 0.0):g}{unit}"

    return [
        Threshold("认定为软弱涣散", "本次排查结论为软弱涣散,或名册上已认定", weight("weak_lax")),
        Threshold("排查发现的情形", "本次排查每发现一项软弱涣散情形",
                  weight("screening_hits", "/项")),
        Threshold("没有年轻党员", "没有35岁及以下党员", weight("no_young_members")),
        Threshold("党员老龄化", f"56岁及以上党员占比高于{settings.warn_old_share:.0%}",
                  weight("aging_members")),
        Threshold("书记年龄偏大", f"书记{settings.secretary_age_limit}岁及以上",
                  weight("secretary_60_plus")),
        Threshold("未“一肩挑”", "村党支部书记未兼任村委会主任", weight("no_dual_role")),
        Threshold("集体经济薄弱",
                  f"村集体经济收入低于{_wan(settings.low_income_threshold_wan)}万元",
                  weight("low_collective_income")),
        Threshold("整改任务逾期", f"每项逾期任务,最多计{settings.warn_overdue_cap}项",
                  weight("overdue_tasks", "/项")),
        Threshold("群众不满意",
                  f"“不满意”占比高于{settings.warn_dissatisfied_share:.0%}"
                  f"(至少{settings.warn_min_answers}份作答)", weight("dissatisfied_feedback")),
        Threshold("曾被认定", "在此前的专项整治中被认定为软弱涣散", weight("earlier_weak_lax")),
    ]


XLSX_HEADERS = ("排名", "乡镇", "党支部", "风险分值", "预警原因")


def warnings_xlsx(items: list[EarlyWarning], title: str) -> bytes:
    """The ranked list as a workbook (typed cells: rank and score are numbers; names and
    reasons are text, never formulas or links)."""
    book, out = small_workbook()
    sheet = book.add_worksheet("预警名单")
    bold = book.add_format({"bold": True, "border": 1, "bg_color": "#F2F2F2"})
    cells = XlsxCells(book, sheet, {"text_wrap": True, "valign": "top", "border": 1})
    for i, width in enumerate((6, 14, 22, 10, 60)):
        sheet.set_column(i, i, width)
    sheet.write_string(0, 0, title, book.add_format({"bold": True, "font_size": 14}))
    sheet.write_row(1, 0, XLSX_HEADERS, bold)
    for r, w in enumerate(items, start=2):
        cells.write_row(r, [r - 1, w.township_name or "", w.branch_name, w.score,
                            ";".join(x.message for x in w.reasons)])
    sheet.freeze_panes(2, 0)
    book.close()
    return out.getvalue()
