"""The summary report: the figures of a township report, by SQL aggregates, with every
figure that does not add up named in `warnings` (never silently "fixed")."""

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.sql.util import ClauseAdapter
from sqlmodel import Session, col

from app import clock
from app.models.branch import Branch, BranchKind
from app.models.campaign import Campaign
from app.models.feedback import FeedbackForm, FormIssuance, Opinion, Suggestion, Theme
from app.models.problem import Problem
from app.models.report import (
    BranchFigures,
    FeedbackFigures,
    MemberFigures,
    ProblemFigures,
    ScreeningFigures,
    SecretaryFigures,
    Summary,
    SummaryScope,
    SummaryWarning,
    TaskFigures,
)
from app.models.screening import Conclusion, Screening
from app.models.task import Task, TaskStatus
from app.services.actors import Actor, branch_visible, record_visible
from app.services.campaigns import get_campaign, latest_active
from app.services.deadlines import DeadlineBucket, deadline_condition
from app.services.rectification_stats import rectification_block
from app.services.screenings import sound_with_hits
from app.services.tasks import overdue_condition
from app.services.townships import get_township

TARGET_KINDS = (BranchKind.village, BranchKind.community)


def _n(value: Any) -> int:
    return int(value or 0)


def resolve_campaign(session: Session, campaign_id: int | None) -> Campaign | None:
    if campaign_id is not None:
        return get_campaign(session=session, campaign_id=campaign_id)
    return latest_active(session=session)


def _branch_scope(actor: Actor, township_id: int | None) -> list[ColumnElement[bool]]:
    conds = [col(Branch.deleted_at).is_(None), branch_visible(actor)]
    if township_id is not None:
        conds.append(Branch.township_id == township_id)
    return conds


def _scoped(model: Any, actor: Actor, township_id: int | None, campaign: Campaign,
            has_branch: bool = True) -> list[ColumnElement[bool]]:
    conds = [col(model.deleted_at).is_(None), model.campaign_id == campaign.id,
             record_visible(actor, col(model.township_id),
                            col(model.branch_id) if has_branch else col(model.township_id))]
    if township_id is not None:
        conds.append(model.township_id == township_id)
    return conds


def _register(session: Session, actor: Actor, township_id: int | None, as_of: date
              ) -> tuple[BranchFigures, MemberFigures, SecretaryFigures, dict[str, int]]:
    """Branches, members and secretaries: one grouped query over the register."""
    is_village = Branch.kind == BranchKind.village
    age = as_of.year - col(Branch.secretary_birth_year)
    rows = session.execute(
        select(
            Branch.kind, func.count(Branch.id), func.sum(Branch.member_count),
            func.sum(Branch.members_35_under), func.sum(Branch.members_36_55),
            func.sum(Branch.members_56_over), func.sum(Branch.applicants_35_under),
            func.sum(case((and_(is_village, age >= 50), 1), else_=0)),
            func.sum(case((and_(is_village, age >= 60), 1), else_=0)),
            func.sum(case((and_(is_village, ~col(Branch.secretary_is_director)), 1), else_=0)),
            func.sum(case((col(Branch.secretary_birth_year).is_(None), 1), else_=0)),
            func.sum(case((and_(Branch.member_count > 0,
                                func.coalesce(Branch.members_35_under, 0)
                                + func.coalesce(Branch.members_36_55, 0)
                                + func.coalesce(Branch.members_56_over, 0)
                                < Branch.member_count), 1), else_=0)),
        ).where(*_branch_scope(actor, township_id)).group_by(Branch.kind)
    ).all()
    kinds = {k.value: 0 for k in BranchKind}
    members_by_kind = {k.value: 0 for k in BranchKind}
    totals = dict.fromkeys(("young", "middle", "old", "applicants", "s50", "s60",
                            "no_dual", "no_birth_village", "incomplete"), 0)
    for (kind, count, members, young, middle, old, applicants, s50, s60, no_dual, no_birth,
         incomplete) in rows:
        key = getattr(kind, "value", kind)
        kinds[key] = _n(count)
        members_by_kind[key] = _n(members)
        for name, value in (("young", young), ("middle", middle), ("old", old),
                            ("applicants", applicants), ("s50", s50), ("s60", s60),
                            ("no_dual", no_dual), ("incomplete", incomplete)):
            totals[name] += _n(value)
        if key == BranchKind.village.value:
            totals["no_birth_village"] = _n(no_birth)
    recorded = totals["young"] + totals["middle"] + totals["old"]
    branches = BranchFigures(total=sum(kinds.values()), by_kind=kinds)
    members = MemberFigures(
        total=sum(members_by_kind.values()), by_kind=members_by_kind,
        age_35_under=totals["young"], age_36_55=totals["middle"], age_56_over=totals["old"],
        age_recorded=recorded, applicants_35_under=totals["applicants"],
    )
    secretaries = SecretaryFigures(
        village_total=kinds[BranchKind.village.value], age_50_plus=totals["s50"],
        age_60_plus=totals["s60"], not_dual_role=totals["no_dual"],
    )
    return branches, members, secretaries, totals


def _screenings(session: Session, actor: Actor, township_id: int | None,
                campaign: Campaign | None, target: int) -> tuple[ScreeningFigures, int]:
    if campaign is None:
        return ScreeningFigures(due=None, target=target, done=0, done_by_due=0, weak_lax=0), 0
    due = campaign.screening_due
    concluded = col(Screening.conclusion) != Conclusion.pending
    on_time = and_(concluded, Screening.screened_on <= due) if due else concluded
    row = session.execute(
        select(
            func.sum(case((concluded, 1), else_=0)),
            func.sum(case((on_time, 1), else_=0)),
            func.sum(case((Screening.conclusion == Conclusion.weak_lax, 1), else_=0)),
        )
        .join(Branch, col(Branch.id) == Screening.branch_id)
        .where(*_scoped(Screening, actor, township_id, campaign),
               col(Branch.kind).in_(TARGET_KINDS), col(Branch.deleted_at).is_(None))
    ).one()
    done = _n(row[0])
    return ScreeningFigures(due=due, target=target, done=done, done_by_due=_n(row[1]),
                            weak_lax=_n(row[2])), target - done


def _feedback(session: Session, actor: Actor, township_id: int | None,
              campaign: Campaign | None) -> FeedbackFigures:
    themes = {t.value: 0 for t in Theme}
    if campaign is None:
        return FeedbackFigures(issued=0, returned=0, opinions=0, suggestions=0, by_theme=themes)
    issued = session.execute(select(func.sum(FormIssuance.issued)).where(
        *_scoped(FormIssuance, actor, township_id, campaign))).scalar_one()
    # count(*), not count(id): the partial indexes answer it without the table
    returned = session.execute(select(func.count()).select_from(FeedbackForm).where(
        *_scoped(FeedbackForm, actor, township_id, campaign))).scalar_one()
    for theme, n in session.execute(
        select(Opinion.theme, func.count())
        .where(*_scoped(Opinion, actor, township_id, campaign)).group_by(Opinion.theme)
    ):
        themes[getattr(theme, "value", theme)] = _n(n)
    suggestions = session.execute(select(func.count(Suggestion.id)).where(
        *_scoped(Suggestion, actor, township_id, campaign, has_branch=False))).scalar_one()
    return FeedbackFigures(issued=_n(issued), returned=_n(returned),
                           opinions=sum(themes.values()), suggestions=_n(suggestions),
                           by_theme=themes)


def _problems(session: Session, actor: Actor, township_id: int | None,
              campaign: Campaign | None) -> ProblemFigures:
    if campaign is None:
        return ProblemFigures(total=0, by_category={})
    by_category = {str(c): _n(n) for c, n in session.execute(
        select(Problem.category, func.count())
        .where(*_scoped(Problem, actor, township_id, campaign)).group_by(Problem.category)
        .order_by(Problem.category)
    )}
    return ProblemFigures(total=sum(by_category.values()), by_category=by_category)


def _tasks(session: Session, actor: Actor, township_id: int | None,
           campaign: Campaign | None, as_of: date) -> tuple[TaskFigures, int]:
    statuses = {s.value: 0 for s in TaskStatus}
    if campaign is None:
        return TaskFigures(total=0, by_status=statuses, overdue=0,
                           by_deadline={b.value: 0 for b in DeadlineBucket}), 0
    scope = _scoped(Task, actor, township_id, campaign)
    # Tasks per (status, due date) first: a few hundred groups, counted from an index alone;
    # then the figures from the groups, by the same conditions re-pointed at them.
    groups = (select(Task.status, Task.due_on, func.count().label("n")).where(*scope)
              .group_by(Task.status, Task.due_on).subquery())
    on_groups = ClauseAdapter(groups).traverse

    def tasks_where(cond: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.sum(case((on_groups(cond), groups.c.n), else_=0))

    buckets = list(DeadlineBucket)
    overdue = 0
    by_deadline = {b.value: 0 for b in buckets}
    for status, n, late, *in_bucket in session.execute(
        select(groups.c.status, func.sum(groups.c.n), tasks_where(overdue_condition(as_of)),
               *(tasks_where(deadline_condition(b, as_of)) for b in buckets))
        .group_by(groups.c.status)
    ):
        statuses[getattr(status, "value", status)] = _n(n)
        overdue += _n(late)
        for bucket, count in zip(buckets, in_bucket, strict=True):
            by_deadline[bucket.value] += _n(count)
    unassigned = _n(session.execute(
        select(func.count()).select_from(Task).where(
            *scope, col(Task.status) != TaskStatus.cancelled,
            func.coalesce(Task.responsible_person, "") == "")
    ).scalar_one())
    # cancelled tasks (已撤销) are counted apart: in by_status, not in the total of the work
    total = sum(n for k, n in statuses.items() if k != TaskStatus.cancelled.value)
    return TaskFigures(total=total, by_status=statuses, overdue=overdue,
                       by_deadline=by_deadline), unassigned


def summary(
    *, session: Session, actor: Actor, campaign_id: int | None, township_id: int | None,
    as_of: date | None = None,
) -> Summary:
    """The figures of the township report for one township, or the county when none.

    A reader limited to one township gets that township's report when none is named."""
    as_of = as_of or clock.today()
    if township_id is None:
        township_id = actor.township_id
    if township_id is not None:
        get_township(session=session, actor=actor, township_id=township_id)
    campaign = resolve_campaign(session, campaign_id)
    branches, members, secretaries, totals = _register(session, actor, township_id, as_of)
    target = sum(branches.by_kind[k.value] for k in TARGET_KINDS)
    screenings, never_screened = _screenings(session, actor, township_id, campaign, target)
    feedback = _feedback(session, actor, township_id, campaign)
    problems = _problems(session, actor, township_id, campaign)
    tasks, unassigned = _tasks(session, actor, township_id, campaign, as_of)
    rectifications, rect_warnings = rectification_block(
        session=session, actor=actor, township_id=township_id, campaign=campaign,
        target=target, as_of=as_of)
    warnings = _warnings(members, totals, screenings, never_screened, feedback, unassigned,
                         campaign, as_of) + rect_warnings
    if campaign is not None:
        warnings += _sound_with_hits(session, actor, township_id, campaign)
    return Summary(
        scope=SummaryScope(campaign_id=campaign.id if campaign else None,
                           township_id=township_id, as_of=as_of),
        branches=branches, members=members, secretaries=secretaries, screenings=screenings,
        feedback=feedback, problems=problems, tasks=tasks, rectifications=rectifications,
        warnings=warnings,
    )


def _sound_with_hits(session: Session, actor: Actor, township_id: int | None,
                     campaign: Campaign) -> list[SummaryWarning]:
    """A screening noting criteria yet concluding 未发现软弱涣散 is allowed with a judgement;
    the county is told which branches, to review the judgement."""
    found = sound_with_hits(session, [*_scoped(Screening, actor, township_id, campaign),
                                      col(Branch.deleted_at).is_(None)])
    return [SummaryWarning(
        code="sound_with_hits",
        message=f"{name}排查发现“{'、'.join(hits)}”,结论为未发现软弱涣散(见研判意见),请复核",
    ) for name, hits in found]


def _warnings(
    members: MemberFigures, totals: dict[str, int], screenings: ScreeningFigures,
    never_screened: int, feedback: FeedbackFigures, unassigned: int,
    campaign: Campaign | None, as_of: date,
) -> list[SummaryWarning]:
    out: list[SummaryWarning] = []
    if members.age_recorded < members.total:
        out.append(SummaryWarning(
            code="age_bands_incomplete",
            message=(f"按年龄段统计的党员 {members.age_35_under}+{members.age_36_55}+"
                     f"{members.age_56_over}={members.age_recorded} 人,少于党员总数 "
                     f"{members.total} 人,有 {members.total - members.age_recorded} 人年龄未登记"),
        ))
    if totals["no_birth_village"]:
        out.append(SummaryWarning(
            code="secretary_age_unknown",
            message=f"{totals['no_birth_village']} 个村党支部书记未登记出生年份,年龄统计不完整",
        ))
    if campaign is not None and never_screened > 0:
        late = ",且已过排查截止日期" if screenings.due and as_of > screenings.due else ""
        out.append(SummaryWarning(
            code="branches_not_screened",
            message=(f"应排查的 {screenings.target} 个村、社区党支部中有 {never_screened} 个"
                     f"尚未完成排查{late}"),
        ))
    if feedback.returned > feedback.issued:
        out.append(SummaryWarning(
            code="returned_exceeds_issued",
            message=f"收回征求意见表 {feedback.returned} 份,多于发放的 {feedback.issued} 份",
        ))
    if campaign is not None and feedback.issued and not feedback.returned:
        out.append(SummaryWarning(
            code="no_forms_returned",
            message=f"发放征求意见表 {feedback.issued} 份,尚未录入收回的意见表",
        ))
    if unassigned:
        out.append(SummaryWarning(code="tasks_without_responsible",
                                  message=f"{unassigned} 项整改任务没有责任人"))
    return out
