"""Figures of rectification (整顿转化) by SQL aggregates: the summary's `rectifications`
block with its warnings, the upward table (a row per township and the county total), and
the report's sentences about them."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, cast, exists, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from app.config import get_settings
from app.labels import label
from app.models.branch import Branch, BranchKind
from app.models.campaign import Campaign
from app.models.rectification import (
    DESIGNATED_STATUSES,
    IN_PROGRESS_STATUSES,
    RectificationFigures,
    RectificationStatus,
    Revisit,
    WeakType,
)
from app.models.rectification import Rectification as R
from app.models.report import Summary, SummaryWarning
from app.models.screening import Conclusion, Screening
from app.models.task import Task, TaskStatus
from app.models.township import Township
from app.services.actors import Actor, branch_visible, record_visible, township_visible
from app.services.campaigns import get_campaign, latest_active
from app.services.cells import safe_text, small_workbook
from app.services.rectifications import overdue_visits_of

TARGET_KINDS = (BranchKind.village, BranchKind.community)


def _n(value: Any) -> int:
    return int(value or 0)


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


def _scope(actor: Actor, township_id: int | None, campaign: Campaign) -> list[Any]:
    conds = [col(R.deleted_at).is_(None), R.campaign_id == campaign.id,
             record_visible(actor, col(R.township_id), col(R.branch_id))]
    if township_id is not None:
        conds.append(R.township_id == township_id)
    return conds


def _sum(cond: ColumnElement[bool]) -> Any:
    return func.sum(case((cond, 1), else_=0))


def _aggregates(session: Session, conds: list[Any], as_of: date
                ) -> dict[int, dict[str, int]]:
    """Per township: the counts of the `rectifications` block (one grouped query)."""
    designated = col(R.status).in_(DESIGNATED_STATUSES)
    in_progress = col(R.status).in_(IN_PROGRESS_STATUSES)
    other = aliased(R)
    repeat = exists().where(other.branch_id == R.branch_id, other.campaign_id != R.campaign_id,
                            col(other.deleted_at).is_(None),
                            col(other.status).in_(DESIGNATED_STATUSES))
    types_text = cast(R.weak_types, String)
    columns = {
        "designated": _sum(designated),
        "converted": _sum(R.status == RectificationStatus.converted),
        "in_progress": _sum(in_progress),
        "overdue": _sum(and_(in_progress, col(R.target_on) < as_of)),
        "relapsed": _sum(and_(col(R.status) != RectificationStatus.withdrawn,
                              R.relapse_count > 0)),
        "repeat_listed": _sum(and_(designated, repeat)),
        "first_secretaries": _sum(and_(designated, col(R.first_secretary_name).is_not(None))),
        "county_liaisons": _sum(and_(designated, col(R.county_leader_name).is_not(None))),
        **{f"type_{t.value}": _sum(and_(designated, types_text.like(f'%"{t.value}"%')))
           for t in WeakType},
    }
    rows = session.execute(
        select(R.township_id, *columns.values()).where(*conds).group_by(R.township_id)
    ).all()
    return {int(row[0]): {k: _n(v) for k, v in zip(columns, row[1:], strict=True)}
            for row in rows}


def _revisits_due(session: Session, actor: Actor, township_id: int | None,
                  campaign: Campaign, as_of: date) -> int:
    stmt = select(func.count(Revisit.id)).where(
        col(Revisit.deleted_at).is_(None), Revisit.campaign_id == campaign.id,
        col(Revisit.done_on).is_(None), Revisit.due_on <= as_of,
        record_visible(actor, col(Revisit.township_id), col(Revisit.branch_id)))
    if township_id is not None:
        stmt = stmt.where(Revisit.township_id == township_id)
    return _n(session.execute(stmt).scalar_one())


def _figures(counts: dict[str, int], target: int, revisits_due: int) -> RectificationFigures:
    return RectificationFigures(
        designated=counts["designated"], share=_ratio(counts["designated"], target),
        converted=counts["converted"],
        conversion_rate=_ratio(counts["converted"], counts["designated"]),
        in_progress=counts["in_progress"], overdue=counts["overdue"],
        relapsed=counts["relapsed"], repeat_listed=counts["repeat_listed"],
        first_secretaries=counts["first_secretaries"],
        county_liaisons=counts["county_liaisons"], revisits_due=revisits_due,
        by_type={t.value: counts[f"type_{t.value}"] for t in WeakType},
    )


def _total(per_township: dict[int, dict[str, int]]) -> dict[str, int]:
    keys = ["designated", "converted", "in_progress", "overdue", "relapsed",
            "repeat_listed", "first_secretaries", "county_liaisons",
            *[f"type_{t.value}" for t in WeakType]]
    return {k: sum(c[k] for c in per_township.values()) for k in keys}


def rectification_block(
    *, session: Session, actor: Actor, township_id: int | None, campaign: Campaign | None,
    target: int, as_of: date,
) -> tuple[RectificationFigures, list[SummaryWarning]]:
    """The summary's `rectifications` block and its warnings: designated without a first
    secretary, plan not approved 30 days (setting) after designation, liaisons overdue,
    repeat listings."""
    if campaign is None:
        return _figures(_total({}), target, 0), []
    conds = _scope(actor, township_id, campaign)
    counts = _total(_aggregates(session, conds, as_of))
    figures = _figures(counts, target, _revisits_due(session, actor, township_id, campaign,
                                                     as_of))
    return figures, _warnings(session, conds, as_of)


def _names(session: Session, conds: list[Any]) -> list[str]:
    return [str(n) for (n,) in session.execute(
        select(Branch.name).join(R, col(R.branch_id) == Branch.id).where(*conds)
        .order_by(Branch.name))]


def _warnings(session: Session, conds: list[Any], as_of: date) -> list[SummaryWarning]:
    settings = get_settings()
    in_progress = [*conds, col(R.status).in_(IN_PROGRESS_STATUSES)]
    out = []
    nobody = _names(session, [*in_progress, col(R.first_secretary_name).is_(None)])
    if nobody:
        out.append(SummaryWarning(
            code="rectification_no_first_secretary",
            message=f"{len(nobody)}个已认定的党支部尚未选派第一书记:{'、'.join(nobody)}"))
    late = as_of - timedelta(days=settings.plan_approval_days)
    unapproved = _names(session, [*in_progress, col(R.plan_approved_on).is_(None),
                                  col(R.designated_on) < late])
    if unapproved:
        out.append(SummaryWarning(
            code="rectification_plan_not_approved",
            message=(f"{len(unapproved)}个党支部认定已超过{settings.plan_approval_days}天,"
                     f"整顿方案尚未审定:{'、'.join(unapproved)}")))
    rects = list(session.scalars(select(R).where(*in_progress)))
    missed = overdue_visits_of(session=session, rects=rects, settings=settings, today=as_of)
    if missed:
        names: dict[int, str] = dict(session.execute(select(Branch.id, Branch.name).where(
            col(Branch.id).in_(missed))).all())
        parts = [f"{names.get(b, b)}({'、'.join(label('liaison_role', v.role) for v in vs)})"
                 for b, vs in sorted(missed.items(), key=lambda kv: str(names.get(kv[0])))]
        out.append(SummaryWarning(
            code="liaisons_overdue",
            message=f"{len(missed)}个党支部的包联力量未按期走访:{'、'.join(parts)}"))
    other = aliased(R)
    repeat = _names(session, [*conds, col(R.status).in_(DESIGNATED_STATUSES), exists().where(
        other.branch_id == R.branch_id, other.campaign_id != R.campaign_id,
        col(other.deleted_at).is_(None), col(other.status).in_(DESIGNATED_STATUSES))])
    if repeat:
        out.append(SummaryWarning(
            code="repeat_listed",
            message=f"{len(repeat)}个党支部在两次专项整治中均被认定为软弱涣散:{'、'.join(repeat)}"))
    return out


def status_counts(*, session: Session, actor: Actor, campaign: Campaign | None,
                  township_id: int | None) -> list[tuple[str, int]]:
    """(Chinese status, count) of every rectification status, for the dashboard's chart."""
    counts = {s.value: 0 for s in RectificationStatus}
    if campaign is not None:
        for status, n in session.execute(
            select(R.status, func.count(R.id)).where(*_scope(actor, township_id, campaign))
            .group_by(R.status)
        ):
            counts[getattr(status, "value", status)] = _n(n)
    return [(label("rectification_status", k), n) for k, n in counts.items()]


# ---------------------------------------------------------------- the upward table

HEADERS = ["乡镇", "党组织数", "排查数", "认定数", "占比", "已转化数", "转化率", "第一书记数",
           "县级领导包联数", "解决问题数"]


@dataclass(frozen=True)
class UpwardRow:
    """One line of the upward table; 党组织数 counts the village and community branches
    (the screening target), so 占比 is the summary's `share`."""

    township: str
    branches: int
    screened: int
    designated: int
    share: float
    converted: int
    conversion_rate: float
    first_secretaries: int
    county_liaisons: int
    solved: int

    def cells(self) -> list[Any]:
        return [self.township, self.branches, self.screened, self.designated, self.share,
                self.converted, self.conversion_rate, self.first_secretaries,
                self.county_liaisons, self.solved]


def _count_by_township(session: Session, stmt: Any) -> dict[int, int]:
    return {int(t): _n(n) for t, n in session.execute(stmt)}


def upward_table(
    *, session: Session, actor: Actor, campaign_id: int | None, as_of: date | None = None,
) -> tuple[list[UpwardRow], str]:
    """A row per visible township and the county total (last), with the table's title.
    No campaign named: the latest active one."""
    from app import clock

    as_of = as_of or clock.today()
    campaign = (get_campaign(session=session, campaign_id=campaign_id) if campaign_id
                else latest_active(session=session))
    townships = list(session.execute(
        select(Township.id, Township.name).where(col(Township.deleted_at).is_(None),
                                                 township_visible(actor))
        .order_by(Township.name)).all())
    branches = _count_by_township(session, select(Branch.township_id, func.count(Branch.id))
                                  .where(col(Branch.deleted_at).is_(None), branch_visible(actor),
                                         col(Branch.kind).in_(TARGET_KINDS))
                                  .group_by(Branch.township_id))
    screened: dict[int, int] = {}
    solved: dict[int, int] = {}
    counts: dict[int, dict[str, int]] = {}
    if campaign is not None:
        screened = _count_by_township(session, select(
            Screening.township_id, func.count(Screening.id))
            .join(Branch, col(Branch.id) == Screening.branch_id)
            .where(col(Screening.deleted_at).is_(None), Screening.campaign_id == campaign.id,
                   col(Screening.conclusion) != Conclusion.pending,
                   col(Branch.kind).in_(TARGET_KINDS), col(Branch.deleted_at).is_(None),
                   record_visible(actor, col(Screening.township_id), col(Screening.branch_id)))
            .group_by(Screening.township_id))
        solved = _count_by_township(session, select(Task.township_id, func.count(Task.id))
                                    .where(col(Task.deleted_at).is_(None),
                                           Task.campaign_id == campaign.id,
                                           Task.status == TaskStatus.verified,
                                           record_visible(actor, col(Task.township_id),
                                                          col(Task.branch_id)))
                                    .group_by(Task.township_id))
        counts = _aggregates(session, _scope(actor, None, campaign), as_of)
    empty = _total({})
    rows = [_row(name, branches.get(tid, 0), screened.get(tid, 0), counts.get(tid, empty),
                 solved.get(tid, 0)) for tid, name in townships]
    rows.append(_row("合计", sum(r.branches for r in rows), sum(r.screened for r in rows),
                     _total(counts), sum(r.solved for r in rows)))
    title = f"软弱涣散基层党组织整顿转化情况统计表({campaign.name if campaign else '无专项整治'})"
    return rows, title


def _row(name: str, branches: int, screened: int, c: dict[str, int], solved: int
         ) -> UpwardRow:
    return UpwardRow(
        township=name, branches=branches, screened=screened, designated=c["designated"],
        share=_ratio(c["designated"], branches), converted=c["converted"],
        conversion_rate=_ratio(c["converted"], c["designated"]),
        first_secretaries=c["first_secretaries"], county_liaisons=c["county_liaisons"],
        solved=solved,
    )


def stats_workbook(rows: list[UpwardRow], title: str) -> bytes:
    """The upward table as .xlsx bytes (numbers typed, shares as percentages; township
    names through the cell writer's text rule)."""
    book, out = small_workbook()
    sheet = book.add_worksheet("整顿转化情况")
    head = book.add_format({"bold": True, "border": 1, "align": "center",
                            "valign": "vcenter", "text_wrap": True, "bg_color": "#F2F2F2"})
    text = book.add_format({"border": 1})
    number = book.add_format({"border": 1, "num_format": "0"})
    percent = book.add_format({"border": 1, "num_format": "0.0%"})
    bold = book.add_format({"border": 1, "bold": True})
    sheet.write(0, 0, title, book.add_format({"bold": True, "font_size": 14}))
    sheet.write_row(1, 0, HEADERS, head)
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, len(HEADERS) - 1, 11)
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(row.cells()):
            if c == 0:
                sheet.write_string(r, c, safe_text(str(value)), bold if row is rows[-1] else text)
            elif HEADERS[c] in ("占比", "转化率"):
                sheet.write_number(r, c, float(value), percent)
            else:
                sheet.write_number(r, c, int(value), number)
    sheet.freeze_panes(2, 1)
    book.close()
    return out.getvalue()


# ---------------------------------------------------------------- the report's sentences


def _pct(x: float) -> str:
    return f"{x * 100:.1f}".rstrip("0").rstrip(".") + "%"


def basic_sentences(s: Summary, whole: str) -> list[str]:
    """基本情况: how many branches were designated, of which types."""
    r = s.rectifications
    if s.scope.campaign_id is None:
        return []
    if not r.designated:
        return [f"经排查研判,{whole}本次专项整治未认定软弱涣散基层党组织。"]
    types = "、".join(f"“{label('weak_type', k)}”{n}个" for k, n in r.by_type.items() if n)
    text = (f"经排查研判,{whole}共认定软弱涣散基层党组织{r.designated}个,"
            f"占应排查党组织的{_pct(r.share)}")
    if types:
        text += f",按类型分:{types}(一个党组织可兼有多种类型)"
    if r.repeat_listed:
        text += f";其中{r.repeat_listed}个在以往专项整治中也被认定过"
    return [text + "。"]


def work_sentences(s: Summary) -> list[str]:
    """工作开展情况: liaisons, conversion, overdue and revisits."""
    r = s.rectifications
    if s.scope.campaign_id is None or not r.designated:
        return []
    text = (f"对认定的{r.designated}个软弱涣散党组织落实县级领导包联{r.county_liaisons}个、"
            f"选派第一书记{r.first_secretaries}名;"
            f"目前已整顿转化{r.converted}个,转化率{_pct(r.conversion_rate)},"
            f"正在整顿{r.in_progress}个")
    if r.overdue:
        text += f",其中{r.overdue}个已超过整顿时限"
    if r.relapsed:
        text += f";回头看中发现反弹{r.relapsed}个,已重新纳入整顿"
    if r.revisits_due:
        text += f";到期待开展回头看{r.revisits_due}次"
    return [text + "。"]


def add_to_document(doc: Any, s: Summary) -> None:
    """Append the rectification sentences to the report's 基本情况 and 工作开展情况."""
    whole = "全县" if s.scope.township_id is None else "全镇"
    for section in doc.sections:
        if "基本情况" in section.heading:
            section.paragraphs.extend(basic_sentences(s, whole))
        elif "工作开展情况" in section.heading:
            section.paragraphs.extend(work_sentences(s))
