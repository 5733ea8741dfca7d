"""Rectification of a weak branch (整顿转化), from designation to conversion and the revisits.

proposed ──designate (county)──▶ designated ──apply (township)──▶ applied
    │                              ▲    ▲                            │
    └──withdraw──▶ withdrawn        │    └── acceptance graded fail ◀─┤
                                    │                                 ▼
                                    └── revisit found relapsed ◀── converted

The rules with numbers in them (publicity days, liaison rhythms, pass and good marks,
revisit months) are settings (app/config.py).
"""

import calendar
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, func, select
from sqlmodel import Session, col

from app import clock
from app.config import Settings
from app.db import set_audit_reason
from app.labels import label
from app.listing import Derive, Item, columns_of, derive, derive_page, items
from app.models.base import utcnow
from app.models.branch import Branch
from app.models.campaign import Campaign
from app.models.problem import Problem
from app.models.rectification import (
    DESIGNATED_STATUSES,
    IN_PROGRESS_STATUSES,
    Acceptance,
    AcceptanceCreate,
    AcceptanceItem,
    AcceptancePublic,
    Grade,
    ItemScore,
    LastVisit,
    LiaisonRole,
    LiaisonVisit,
    Rating,
    RatingDimension,
    Rectification,
    RectificationAction,
    RectificationCreate,
    RectificationPublic,
    RectificationStatus,
    RectificationUpdate,
    Revisit,
    RevisitPublic,
    RevisitResult,
    RevisitUpdate,
    VisitCreate,
    VisitPublic,
    liaisons_of,
)
from app.models.screening import Screening
from app.models.task import Task, TaskStatus
from app.models.township import Township
from app.models.user import Role
from app.services.actors import (
    Actor,
    record_visible,
    require_county_admin,
    require_township_write,
)
from app.services.campaigns import check_campaign
from app.services.errors import Conflict, Forbidden, Invalid
from app.services.pagination import PageParams, keyset_rows
from app.services.records import apply_changes, check_version, get_visible, where_equal

WHAT = "整顿转化"
S = RectificationStatus
A = RectificationAction

# action: (statuses it leaves from, status it arrives at (None: stays), who may take it)
TRANSITIONS: dict[RectificationAction, tuple[tuple[RectificationStatus, ...],
                                             RectificationStatus | None, str]] = {
    A.designate: ((S.proposed,), S.designated, "county"),
    A.withdraw: ((S.proposed,), S.withdrawn, "county"),
    A.apply: ((S.designated,), S.applied, "township"),
    A.approve_plan: ((S.designated, S.applied), None, "county"),
}
# Tasks that no longer block an application: verified, and cancelled (已撤销, counted apart).
CLOSED_TASK_STATUSES = (TaskStatus.verified.value, "cancelled")


def _name(actor: Actor) -> str:
    return actor.display_name or actor.label


def _visible(actor: Actor) -> ColumnElement[bool]:
    return record_visible(actor, col(Rectification.township_id), col(Rectification.branch_id))


# ---------------------------------------------------------------- dates and grades


def publicity_until(designated_on: date, settings: Settings) -> date:
    """The last day of the publicity period: `publicity_days` days counting both ends."""
    return designated_on + timedelta(days=settings.publicity_days - 1)


def add_months(day: date, months: int) -> date:
    """`day` plus calendar months, clamped to the month's end (31 Oct + 6 = 30 Apr)."""
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def dissatisfied_share(ratings: Sequence[Rating]) -> float | None:
    """The share of 不满意 in the `overall` dimension (three decimals), None when unrated."""
    overall = next((r for r in ratings if r.dimension == RatingDimension.overall), None)
    if overall is None:
        return None
    answered = overall.satisfied + overall.basic + overall.dissatisfied
    return round(overall.dissatisfied / answered, 3) if answered else None


def grade_for(total: Decimal, ratings: Sequence[Rating], settings: Settings) -> Grade:
    """不合格 under the pass mark or when more than half of `overall` is dissatisfied
    (一票否决); 基本合格 under the good mark; else 合格."""
    overall = next((r for r in ratings if r.dimension == RatingDimension.overall), None)
    if overall is not None:
        answered = overall.satisfied + overall.basic + overall.dissatisfied
        if overall.dissatisfied * 2 > answered:
            return Grade.fail
    if total < settings.acceptance_pass_mark:
        return Grade.fail
    if total < settings.acceptance_good_mark:
        return Grade.basic
    return Grade.pass_


def last_visits(
    rect: Any, latest: dict[LiaisonRole, date], today: date, settings: Settings,
) -> list[LastVisit]:
    """Each named liaison of `rect` (a `Rectification` or a row with its columns) with a
    rhythm: its last visit, the day the next one is due by (counted from the later of
    `designated_on` and the last visit), and whether it is missed. Only a branch in
    rectification (designated or applied) can be overdue."""
    out = []
    in_progress = rect.status in IN_PROGRESS_STATUSES and rect.designated_on is not None
    for item in liaisons_of(rect):
        rhythm = settings.liaison_rhythm_days.get(item.role.value)
        if rhythm is None:
            continue
        last = latest.get(item.role)
        due_by = None
        if in_progress:
            assert rect.designated_on is not None
            start = max(rect.designated_on, last) if last else rect.designated_on
            due_by = start + timedelta(days=rhythm)
        out.append(LastVisit(role=item.role, last_visited_on=last, due_by=due_by,
                             overdue=due_by is not None and today > due_by))
    return out


def _latest_visits(
    session: Session, rect_ids: Iterable[int]
) -> dict[int, dict[LiaisonRole, date]]:
    ids = list(rect_ids)
    out: dict[int, dict[LiaisonRole, date]] = defaultdict(dict)
    if not ids:
        return out
    for rid, role, last in session.execute(
        select(LiaisonVisit.rectification_id, LiaisonVisit.role, func.max(LiaisonVisit.visited_on))
        .where(col(LiaisonVisit.rectification_id).in_(ids),
               col(LiaisonVisit.deleted_at).is_(None))
        .group_by(LiaisonVisit.rectification_id, LiaisonVisit.role)
    ):
        out[int(rid)][LiaisonRole(role)] = last
    return out


def _repeat_branches(session: Session, branch_ids: Iterable[int]) -> set[int]:
    """Branches designated in two campaigns or more (两次被列为)."""
    ids = list(branch_ids)
    if not ids:
        return set()
    return {int(b) for (b,) in session.execute(
        select(Rectification.branch_id)
        .where(col(Rectification.branch_id).in_(ids), col(Rectification.deleted_at).is_(None),
               col(Rectification.status).in_(DESIGNATED_STATUSES))
        .group_by(Rectification.branch_id)
        .having(func.count(func.distinct(Rectification.campaign_id)) > 1)
    )}


def overdue_visits(
    *, session: Session, branch_ids: Sequence[int], settings: Settings, today: date,
) -> dict[int, list[LastVisit]]:
    """Per branch in rectification: the liaisons whose rhythm is missed (`visit_overdue`)."""
    if not branch_ids:
        return {}
    rects = list(session.scalars(select(Rectification).where(
        col(Rectification.branch_id).in_(branch_ids), col(Rectification.deleted_at).is_(None),
        col(Rectification.status).in_(IN_PROGRESS_STATUSES))))
    return overdue_visits_of(session=session, rects=rects, settings=settings, today=today)


def overdue_visits_of(
    *, session: Session, rects: Sequence[Rectification], settings: Settings, today: date,
) -> dict[int, list[LastVisit]]:
    """Per branch of `rects`: the liaisons whose rhythm is missed."""
    latest = _latest_visits(session, [r.id for r in rects if r.id is not None])
    out: dict[int, list[LastVisit]] = {}
    for r in rects:
        missed = [v for v in last_visits(r, latest.get(r.id or 0, {}), today, settings)
                  if v.overdue]
        if missed:
            out.setdefault(r.branch_id, []).extend(missed)
    return out


def visit_overdue_reasons(
    *, session: Session, branch_ids: Sequence[int], settings: Settings, today: date,
) -> dict[int, list[tuple[str, str, Any, float]]]:
    """The `visit_overdue` early-warning signal per branch: (code, message, value, weight)."""
    out = {}
    for branch_id, missed in overdue_visits(session=session, branch_ids=branch_ids,
                                            settings=settings, today=today).items():
        names = "、".join(label("liaison_role", v.role) for v in missed)
        out[branch_id] = [("visit_overdue", f"包联{names}未按期走访", len(missed),
                           settings.warn_visit_overdue_weight)]
    return out


# ---------------------------------------------------------------- reading


def get_rectification(
    *, session: Session, actor: Actor, rectification_id: int, for_update: bool = False
) -> Rectification:
    """The rectification if the actor may read it; NotFound (404) otherwise."""
    return get_visible(session, Rectification, rectification_id, _visible(actor),
                       "整顿转化记录不存在或无权查看", for_update=for_update)


_RECT: Table = Rectification.__table__  # type: ignore[attr-defined]
_BRANCH: Table = Branch.__table__  # type: ignore[attr-defined]
_TOWNSHIP: Table = Township.__table__  # type: ignore[attr-defined]
# the liaisons' columns, selected beside `RectificationPublic`'s for its `liaisons`
_LIAISON_COLUMNS = [_RECT.c[f"{role.value}_{part}"] for role in LiaisonRole
                    for part in ("name", "post") if f"{role.value}_{part}" in _RECT.c]


def _public_stmt() -> Select[Any]:
    """Live rectifications as `RectificationPublic` columns (with the township's and the
    branch's names), then the liaisons' columns."""
    return (
        select(*columns_of(RectificationPublic, _RECT, township_name=_TOWNSHIP.c.name,
                           branch_name=_BRANCH.c.name), *_LIAISON_COLUMNS)
        .select_from(_RECT)
        .outerjoin(_TOWNSHIP, _TOWNSHIP.c.id == _RECT.c.township_id)
        .outerjoin(_BRANCH, _BRANCH.c.id == _RECT.c.branch_id)
        .where(_RECT.c.deleted_at.is_(None))
    )


def _progress_of_page(session: Session, rows: Sequence[Any], context: Any) -> Derive:
    """`target_overdue`, `last_visits`, `visit_overdue` and `repeat_listed` of a page of
    rectifications, by `context` (settings, today): the latest visits and the repeat-listed
    branches looked up once for the page."""
    settings, today = context
    latest = _latest_visits(session, [row.id for row in rows])
    repeat = _repeat_branches(session, {row.branch_id for row in rows})

    def of(row: Any) -> tuple[bool, list[LastVisit], bool, bool]:
        visits = last_visits(row, latest.get(row.id, {}), today, settings)
        return (bool(row.target_on and row.target_on < today
                     and row.status in (S.proposed, *IN_PROGRESS_STATUSES)),
                visits, any(v.overdue for v in visits),
                row.branch_id in repeat and row.status in DESIGNATED_STATUSES)
    return of


derive(RectificationPublic, "liaisons", lambda _selected: liaisons_of)
derive_page(RectificationPublic,
            ("target_overdue", "last_visits", "visit_overdue", "repeat_listed"),
            _progress_of_page)


def rectification_public(
    session: Session, rect: Rectification, settings: Settings, today: date | None = None,
) -> RectificationPublic:
    """One rectification in its API shape (the list's item of it), by `today` (default the
    clock's)."""
    session.flush()
    row = session.connection().execute(_public_stmt().where(_RECT.c.id == rect.id)).one()
    item = items(RectificationPublic, [row], session=session,
                 context=(settings, today or clock.today()))[0]
    return RectificationPublic.model_validate(item)


@dataclass(frozen=True)
class RectificationFilters:
    campaign_id: int | None = None
    township_id: int | None = None
    branch_id: int | None = None
    status: RectificationStatus | None = None


def list_rectifications(
    *, session: Session, actor: Actor, settings: Settings, filters: RectificationFilters,
    page: PageParams,
) -> tuple[list[Item], str | None]:
    """Visible rectifications in id order, filtered: `RectificationPublic` items (liaisons,
    last visits and flags by today's date and `settings`' rhythms) and the next page's
    cursor (None on the last). Raises Invalid (`cursor`) for a cursor this list did not
    give."""
    stmt = _public_stmt().where(_visible(actor))
    stmt = where_equal(stmt, Rectification, filters,
                       ("campaign_id", "township_id", "branch_id", "status"))
    rows, cursor = keyset_rows(session, stmt, keys=[_RECT.c.id],
                               key_of=lambda r: [r.id], page=page)
    return items(RectificationPublic, rows, session=session,
                 context=(settings, clock.today())), cursor


# ---------------------------------------------------------------- who may do what


def _require_county(actor: Actor, what: str) -> None:
    require_county_admin(actor, what, allow_token=True)


def allowed_actions(actor: Actor, rect: Rectification) -> list[RectificationAction]:
    """The transitions the actor may take from the rectification's current state."""
    out = []
    for action, (sources, _, who) in TRANSITIONS.items():
        if rect.status not in sources:
            continue
        if action == A.approve_plan and (not rect.plan or rect.plan_approved_on):
            continue
        try:
            if who == "county":
                _require_county(actor, label("rectification_action", action))
            else:
                require_township_write(actor, rect.township_id, WHAT)
        except Forbidden:
            continue
        out.append(action)
    return out


def may_accept(actor: Actor) -> bool:
    """Whether the actor may designate, approve plans and record acceptances (the county)."""
    try:
        _require_county(actor, "组织验收")
    except Forbidden:
        return False
    return True


def may_edit(actor: Actor, rect: Rectification) -> bool:
    """Whether the actor may write the plan, liaisons, visits and revisits of `rect`."""
    try:
        require_township_write(actor, rect.township_id, WHAT)
    except Forbidden:
        return False
    return True


def may_visit(actor: Actor, rect: Rectification) -> bool:
    """Township staff, the county, or a secretary of the branch (as first secretary)."""
    if actor.role == Role.branch_secretary:
        return actor.branch_id == rect.branch_id
    return may_edit(actor, rect)


# ---------------------------------------------------------------- writing


def propose(
    *, session: Session, actor: Actor, data: RectificationCreate, today: date | None = None,
) -> Rectification:
    """The township proposes a branch as weak (拟认定). One per campaign and branch:
    Conflict when the branch already has one in the campaign."""
    branch = session.get(Branch, data.branch_id)
    if branch is None or branch.deleted_at is not None:
        raise Invalid("branch_id", "所选党支部不存在")
    require_township_write(actor, branch.township_id, WHAT)
    check_campaign(session, data.campaign_id)
    screening_id = data.screening_id
    if screening_id is not None:
        screening = session.get(Screening, screening_id)
        if (screening is None or screening.deleted_at is not None
                or screening.branch_id != branch.id
                or screening.campaign_id != data.campaign_id):
            raise Invalid("screening_id", "所选排查记录不存在或不属于该党支部")
    else:  # the branch's screening in the campaign, when there is one, is where it came from
        screening_id = session.scalars(select(Screening.id).where(
            Screening.branch_id == branch.id, Screening.campaign_id == data.campaign_id,
            col(Screening.deleted_at).is_(None))).first()
    exists = session.scalars(select(Rectification).where(
        Rectification.campaign_id == data.campaign_id, Rectification.branch_id == branch.id,
    )).first()
    if exists is not None:
        raise Conflict(f"{branch.name}在本次专项整治中已有整顿转化记录"
                       f"(当前{label('rectification_status', exists.status)})")
    assert branch.id is not None
    rect = Rectification(
        campaign_id=data.campaign_id, township_id=branch.township_id, branch_id=branch.id,
        screening_id=screening_id, weak_types=[t.value for t in data.weak_types],
        reason=data.reason, target_on=data.target_on, proposed_by=_name(actor),
        proposed_on=today or clock.today(),
    )
    session.add(rect)
    session.flush()
    return rect


def update_rectification(
    *, session: Session, actor: Actor, rect: Rectification, data: RectificationUpdate,
    version: int | None, settings: Settings,
) -> Rectification:
    """Change the reason, types, target, plan or liaisons (township or county); correct
    `designated_on` or lengthen the publicity (county). A changed plan needs approval again.

    Raises Forbidden, Conflict (closed record), Invalid (a shortened publicity)."""
    sent = data.model_dump(exclude_unset=True, exclude={"version"})
    county_only = {"designated_on", "publicity_until"} & sent.keys()
    if county_only:
        _require_county(actor, "修改认定日期或公示期")
    else:
        require_township_write(actor, rect.township_id, WHAT)
    check_version(rect, version)
    if rect.status in (S.withdrawn, S.converted):
        raise Conflict(f"该记录{label('rectification_status', rect.status)},不能再修改")
    old_plan = rect.plan
    if county_only and rect.designated_on is None:
        raise Invalid(next(iter(county_only)), "尚未认定,没有认定日期和公示期")
    if data.liaisons is not None:
        rect.set_liaisons(data.liaisons)
    if "weak_types" in sent and data.weak_types is not None:
        rect.weak_types = [t.value for t in data.weak_types]
    apply_changes(rect, data, exclude=frozenset({"liaisons", "weak_types", "designated_on",
                                                 "publicity_until"}))
    if county_only:
        _set_publicity(rect, data, sent, settings)
    if rect.plan != old_plan and rect.plan_approved_on is not None:
        rect.plan_approved_on = None
        rect.plan_approved_by = None
    session.add(rect)
    session.flush()
    return rect


def _set_publicity(rect: Rectification, data: RectificationUpdate, sent: dict[str, Any],
                   settings: Settings) -> None:
    """Correct `designated_on` (publicity moves with it, never shorter) and lengthen it."""
    if "designated_on" in sent:
        if data.designated_on is None:
            raise Invalid("designated_on", "认定日期不能为空")
        if data.designated_on > clock.today():
            raise Invalid("designated_on", "认定日期不能晚于今天")
        rect.designated_on = data.designated_on
        rect.publicity_from = data.designated_on
        minimum = publicity_until(data.designated_on, settings)
        rect.publicity_until = max(rect.publicity_until or minimum, minimum)
    if "publicity_until" in sent:
        assert rect.publicity_from is not None
        wanted = data.publicity_until
        minimum = publicity_until(rect.publicity_from, settings)
        if wanted is None or wanted < minimum:
            raise Invalid("publicity_until",
                          f"公示期不少于{settings.publicity_days}天(含首尾),"
                          f"截止日期不能早于{minimum.isoformat()}")
        if rect.publicity_until is not None and wanted < rect.publicity_until:
            raise Invalid("publicity_until", "公示期只能延长,不能缩短")
        rect.publicity_until = wanted


def open_tasks(session: Session, rect: Rectification) -> list[Task]:
    """Tasks of the branch's problems in the rectification's campaign not yet verified."""
    return list(session.scalars(
        select(Task).join(Problem, col(Problem.id) == Task.problem_id)
        .where(Problem.branch_id == rect.branch_id, Problem.campaign_id == rect.campaign_id,
               col(Problem.deleted_at).is_(None), col(Task.deleted_at).is_(None),
               col(Task.status).not_in(CLOSED_TASK_STATUSES))
        .order_by(Task.id)
    ))


def transition(
    *, session: Session, actor: Actor, rect: Rectification, action: RectificationAction,
    note: str | None, version: int | None, settings: Settings, today: date | None = None,
) -> Rectification:
    """Designate, withdraw or approve the plan (county); apply for acceptance (township).

    Raises Forbidden (role), Conflict (a move the state does not allow; apply with open
    tasks, naming them), Invalid (withdraw without a reason)."""
    today = today or clock.today()
    sources, target, who = TRANSITIONS[action]
    what = label("rectification_action", action)
    if who == "county":
        _require_county(actor, what)
    else:
        require_township_write(actor, rect.township_id, WHAT)
    check_version(rect, version)
    if rect.status not in sources:
        raise Conflict(f"当前状态为“{label('rectification_status', rect.status)}”,不能{what}")
    branch = session.get(Branch, rect.branch_id)
    assert branch is not None
    if action == A.designate:
        rect.designated_on = today
        rect.designated_by = _name(actor)
        rect.publicity_from = today
        rect.publicity_until = publicity_until(today, settings)
        branch.is_weak_lax = True
        session.add(branch)
    elif action == A.withdraw:
        if not note or not note.strip():
            raise Invalid("note", "请填写不予认定的理由")
    elif action == A.apply:
        pending = open_tasks(session, rect)
        if pending:
            names = "、".join(f"“{t.title}”({label('task_status', t.status)})"
                             for t in pending[:10])
            more = f"等{len(pending)}项" if len(pending) > 10 else ""
            raise Conflict(f"该党支部还有{len(pending)}项整改任务未销号,不能申请验收:"
                           f"{names}{more}")
    elif action == A.approve_plan:
        if not rect.plan or not rect.plan.strip():
            raise Conflict("尚未填写整顿方案(一村一策),不能审定")
        if rect.plan_approved_on is not None:
            raise Conflict("整顿方案已审定")
        rect.plan_approved_on = today
        rect.plan_approved_by = _name(actor)
    rect.status = target or rect.status
    rect.status_note = note.strip() if note and note.strip() else None
    set_audit_reason(session, rect, rect.status_note)
    session.add(rect)
    session.flush()
    return rect


# ---------------------------------------------------------------- visits


def add_visit(
    *, session: Session, actor: Actor, rect: Rectification, data: VisitCreate,
    today: date | None = None,
) -> LiaisonVisit:
    """Log a liaison's visit. A secretary of the branch logs as first secretary only.

    Raises Forbidden, Conflict (not in rectification), Invalid (a date in the future or
    before designation)."""
    if actor.role == Role.branch_secretary:
        if actor.branch_id != rect.branch_id:
            raise Forbidden("只能记录本党支部的走访")
        if data.role != LiaisonRole.first_secretary:
            raise Invalid("role", "党支部书记账号只能以第一书记身份记录走访")
    else:
        require_township_write(actor, rect.township_id, WHAT)
    if rect.status not in IN_PROGRESS_STATUSES:
        raise Conflict(f"当前状态为“{label('rectification_status', rect.status)}”,"
                       "只有已认定、整顿中的党支部记录包联走访")
    if data.visited_on > (today or clock.today()):
        raise Invalid("visited_on", "走访日期不能晚于今天")
    if rect.designated_on and data.visited_on < rect.designated_on:
        raise Invalid("visited_on", f"走访日期不能早于认定日期{rect.designated_on.isoformat()}")
    visit = LiaisonVisit(
        rectification_id=rect.id, campaign_id=rect.campaign_id, township_id=rect.township_id,
        branch_id=rect.branch_id, role=data.role, visitor_name=data.visitor_name,
        visited_on=data.visited_on, summary=data.summary, recorded_by=_name(actor),
    )
    session.add(visit)
    session.flush()
    return visit


def list_visits(*, session: Session, rect: Rectification) -> list[VisitPublic]:
    """The rectification's visits, latest first."""
    rows = session.scalars(select(LiaisonVisit).where(
        LiaisonVisit.rectification_id == rect.id, col(LiaisonVisit.deleted_at).is_(None),
    ).order_by(col(LiaisonVisit.visited_on).desc(), col(LiaisonVisit.id).desc()))
    return [VisitPublic.model_validate(v, from_attributes=True) for v in rows]


# ---------------------------------------------------------------- acceptance


def acceptance_items(session: Session, campaign_id: int | None) -> list[AcceptanceItem]:
    """The campaign's own score sheet if it has one, else the default sheet (not retired)."""
    def sheet(cid: int | None) -> list[AcceptanceItem]:
        cond = (col(AcceptanceItem.campaign_id).is_(None) if cid is None
                else AcceptanceItem.campaign_id == cid)
        return list(session.scalars(select(AcceptanceItem).where(
            cond, col(AcceptanceItem.retired).is_(False)).order_by(AcceptanceItem.position)))
    own = sheet(campaign_id) if campaign_id is not None else []
    return own or sheet(None)


def score_total(items: Sequence[AcceptanceItem], scores: Sequence[ItemScore]) -> Decimal:
    """The total of `scores` against the sheet; every item scored once, within its points.

    Raises Invalid (field `item_scores`) naming the item."""
    by_code = {i.code: i for i in items}
    seen: set[str] = set()
    total = Decimal(0)
    for s in scores:
        item = by_code.get(s.code)
        if item is None:
            raise Invalid("item_scores", f"评分表中没有“{s.code}”这一项")
        if s.code in seen:
            raise Invalid("item_scores", f"“{item.label}”重复打分")
        if s.score > item.max_points:
            raise Invalid("item_scores", f"“{item.label}”最多{item.max_points.normalize():f}分")
        seen.add(s.code)
        total += s.score
    missing = [i.label for i in items if i.code not in seen]
    if missing:
        raise Invalid("item_scores", "请为每一项打分,尚未打分:" + "、".join(missing))
    return total


def _check_ratings(ratings: Sequence[Rating]) -> None:
    dims = [r.dimension for r in ratings]
    if len(dims) != len(set(dims)):
        raise Invalid("ratings", "每个测评项只能填写一次")


def record_acceptance(
    *, session: Session, actor: Actor, data: AcceptanceCreate, settings: Settings,
) -> tuple[Acceptance, Rectification]:
    """The county's acceptance of an applied rectification. A pass or basic pass converts
    it (and schedules the revisits); a fail returns it to `designated` with the reason.

    Raises Forbidden, NotFound, Conflict (not applied), Invalid (scores, ratings)."""
    rect = get_rectification(session=session, actor=actor,
                             rectification_id=data.rectification_id, for_update=True)
    _require_county(actor, "组织验收")
    if rect.status != S.applied:
        raise Conflict(f"当前状态为“{label('rectification_status', rect.status)}”,"
                       "申请验收后才能组织验收")
    if data.held_on > clock.today():
        raise Invalid("held_on", "验收日期不能晚于今天")
    if rect.designated_on and data.held_on < rect.designated_on:
        raise Invalid("held_on", f"验收日期不能早于认定日期{rect.designated_on.isoformat()}")
    total = score_total(acceptance_items(session, rect.campaign_id), data.item_scores)
    _check_ratings(data.ratings)
    grade = grade_for(total, data.ratings, settings)
    acceptance = Acceptance(
        rectification_id=rect.id, campaign_id=rect.campaign_id, township_id=rect.township_id,
        branch_id=rect.branch_id, held_on=data.held_on,
        item_scores=[s.model_dump(mode="json") for s in data.item_scores],
        ratings=[r.model_dump(mode="json") for r in data.ratings],
        note=data.note, total=total, grade=grade, recorded_by=_name(actor),
    )
    session.add(acceptance)
    branch = session.get(Branch, rect.branch_id)
    assert branch is not None
    if grade == Grade.fail:
        rect.status = S.designated
        rect.status_note = "验收不合格:" + _fail_reason(total, data.ratings, data.note,
                                                     settings)
        set_audit_reason(session, rect, rect.status_note)
    else:
        rect.status = S.converted
        rect.status_note = None
        rect.converted_on = data.held_on
        branch.is_weak_lax = False
        _schedule_revisits(session, rect, data.held_on, settings)
    session.add_all([rect, branch])
    session.flush()
    return acceptance, rect


def _fail_reason(total: Decimal, ratings: Sequence[Rating], note: str | None,
                 settings: Settings) -> str:
    reasons = []
    if total < settings.acceptance_pass_mark:
        reasons.append(f"总分{total.normalize():f}分,低于{settings.acceptance_pass_mark}分")
    share = dissatisfied_share(ratings)
    if share is not None and share > 0.5:
        reasons.append(f"总体满意度“不满意”占{share:.1%},超过半数(一票否决)")
    if note:
        reasons.append(note)
    return ";".join(reasons)


def _schedule_revisits(session: Session, rect: Rectification, converted_on: date,
                       settings: Settings) -> None:
    for months in settings.revisit_months:
        session.add(Revisit(
            rectification_id=rect.id, campaign_id=rect.campaign_id,
            township_id=rect.township_id, branch_id=rect.branch_id, months=months,
            due_on=add_months(converted_on, months),
        ))


def acceptance_public(a: Acceptance) -> AcceptancePublic:
    """An acceptance in its API shape (the dissatisfied share derived)."""
    ratings = [Rating.model_validate(r) for r in a.ratings]
    assert a.id is not None
    return AcceptancePublic(
        id=a.id, version=a.version, rectification_id=a.rectification_id,
        branch_id=a.branch_id, held_on=a.held_on,
        item_scores=[ItemScore.model_validate(s) for s in a.item_scores], ratings=ratings,
        note=a.note, total=a.total, dissatisfied_share=dissatisfied_share(ratings),
        grade=a.grade, recorded_by=a.recorded_by, created_at=a.created_at,
    )


def get_acceptance(*, session: Session, actor: Actor, acceptance_id: int) -> Acceptance:
    """One visible acceptance; NotFound otherwise."""
    return get_visible(session, Acceptance, acceptance_id,
                       record_visible(actor, col(Acceptance.township_id),
                                      col(Acceptance.branch_id)),
                       "验收记录不存在或无权查看")


_ACCEPTANCE: Table = Acceptance.__table__  # type: ignore[attr-defined]


def _scores_of_rows(selected: Sequence[str]) -> Derive:
    """`AcceptancePublic.item_scores` from the stored scores."""
    at = selected.index("item_scores")
    return lambda row: [ItemScore.model_validate(score) for score in row[at]]


def _ratings_of_rows(selected: Sequence[str]) -> Derive:
    """`AcceptancePublic.ratings` from the stored ratings."""
    at = selected.index("ratings")
    return lambda row: [Rating.model_validate(rating) for rating in row[at]]


def _share_of_rows(selected: Sequence[str]) -> Derive:
    """`AcceptancePublic.dissatisfied_share` from the stored ratings."""
    ratings = _ratings_of_rows(selected)
    return lambda row: dissatisfied_share(ratings(row))


derive(AcceptancePublic, "item_scores", _scores_of_rows)
derive(AcceptancePublic, "ratings", _ratings_of_rows)
derive(AcceptancePublic, "dissatisfied_share", _share_of_rows)


def list_acceptances(
    *, session: Session, actor: Actor, rectification_id: int | None, campaign_id: int | None,
    page: PageParams,
) -> tuple[list[Item], str | None]:
    """Visible acceptances in id order: `AcceptancePublic` items (scores, ratings and the
    dissatisfied share) and the next page's cursor (None on the last). Raises Invalid
    (`cursor`) for a cursor this list did not give."""
    stmt = select(*columns_of(AcceptancePublic, _ACCEPTANCE)).where(
        _ACCEPTANCE.c.deleted_at.is_(None),
        record_visible(actor, col(Acceptance.township_id), col(Acceptance.branch_id)))
    if rectification_id is not None:
        stmt = stmt.where(_ACCEPTANCE.c.rectification_id == rectification_id)
    if campaign_id is not None:
        stmt = stmt.where(_ACCEPTANCE.c.campaign_id == campaign_id)
    rows, cursor = keyset_rows(session, stmt, keys=[_ACCEPTANCE.c.id],
                               key_of=lambda r: [r.id], page=page)
    return items(AcceptancePublic, rows), cursor


# ---------------------------------------------------------------- revisits


def get_revisit(*, session: Session, actor: Actor, revisit_id: int,
                for_update: bool = False) -> Revisit:
    """One visible revisit; NotFound otherwise."""
    return get_visible(session, Revisit, revisit_id,
                       record_visible(actor, col(Revisit.township_id), col(Revisit.branch_id)),
                       "回头看记录不存在或无权查看", for_update=for_update)


def revisit_public(r: Revisit, branch_name: str | None = None,
                   today: date | None = None) -> RevisitPublic:
    """A revisit in its API shape; `due` when not done and its day has come."""
    today = today or clock.today()
    data = r.model_dump(exclude={"deleted_at"})
    return RevisitPublic(**data, branch_name=branch_name,
                         due=r.done_on is None and r.due_on <= today)


def record_revisit(
    *, session: Session, actor: Actor, revisit: Revisit, data: RevisitUpdate,
    version: int | None, today: date | None = None,
) -> Revisit:
    """Record what a revisit found (township or county). A relapse returns the
    rectification to `designated`, counts it and drops the revisits still ahead.

    Raises Forbidden, Conflict (already recorded; rectification not converted), Invalid."""
    require_township_write(actor, revisit.township_id, WHAT)
    check_version(revisit, version)
    sent = data.model_dump(exclude_unset=True, exclude={"version"})
    if revisit.result is not None and ({"result", "done_on"} & sent.keys()):
        raise Conflict("该次回头看已记录结果,只能修改说明")
    if revisit.result is None:
        if data.result is None:
            raise Invalid("result", "请选择回头看结果(巩固或反弹)")
        if data.done_on is None:
            raise Invalid("done_on", "请填写回头看日期")
        if data.done_on > (today or clock.today()):
            raise Invalid("done_on", "回头看日期不能晚于今天")
    rect = session.get(Rectification, revisit.rectification_id, with_for_update=True)
    assert rect is not None
    if revisit.result is None and rect.status != S.converted:
        raise Conflict("该党支部当前不在“已转化”状态,不能记录回头看结果")
    apply_changes(revisit, data)
    if revisit.result is not None and "result" in sent and data.result == RevisitResult.relapsed:
        _relapse(session, rect, revisit, data.note)
    session.add(revisit)
    session.flush()
    return revisit


def _relapse(session: Session, rect: Rectification, revisit: Revisit,
             note: str | None) -> None:
    rect.status = S.designated
    rect.relapse_count += 1
    rect.converted_on = None
    rect.status_note = "回头看发现反弹" + (f":{note}" if note else "")
    set_audit_reason(session, rect, rect.status_note)
    branch = session.get(Branch, rect.branch_id)
    assert branch is not None
    branch.is_weak_lax = True
    for later in session.scalars(select(Revisit).where(
            Revisit.rectification_id == rect.id, col(Revisit.id) != revisit.id,
            col(Revisit.done_on).is_(None), col(Revisit.deleted_at).is_(None))):
        later.deleted_at = utcnow()
        session.add(later)
    session.add_all([rect, branch])


@dataclass(frozen=True)
class RevisitFilters:
    campaign_id: int | None = None
    township_id: int | None = None
    rectification_id: int | None = None
    due: bool | None = None


_REVISIT: Table = Revisit.__table__  # type: ignore[attr-defined]


def list_revisits(
    *, session: Session, actor: Actor, filters: RevisitFilters, page: PageParams,
    today: date | None = None,
) -> tuple[list[Item], str | None]:
    """Visible revisits by due date (then id): `RevisitPublic` items (the branch's name,
    `due` by `today`, default the clock's, as its SQL condition) and the next page's cursor
    (None on the last); `due=true` lists those not done whose day has come. Raises Invalid
    (`cursor`) for a cursor this list did not give."""
    today = today or clock.today()
    due = and_(_REVISIT.c.done_on.is_(None), _REVISIT.c.due_on <= today)
    stmt = (select(*columns_of(RevisitPublic, _REVISIT, branch_name=_BRANCH.c.name, due=due))
            .join_from(_REVISIT, _BRANCH, _BRANCH.c.id == _REVISIT.c.branch_id)
            .where(_REVISIT.c.deleted_at.is_(None),
                   record_visible(actor, col(Revisit.township_id), col(Revisit.branch_id))))
    stmt = where_equal(stmt, Revisit, filters, ("campaign_id", "township_id",
                                                "rectification_id"))
    if filters.due is True:
        stmt = stmt.where(due)
    rows, cursor = keyset_rows(session, stmt, keys=[_REVISIT.c.due_on, _REVISIT.c.id],
                               key_of=lambda r: [r.due_on.isoformat(), r.id], page=page)
    return items(RevisitPublic, rows), cursor


# ---------------------------------------------------------------- the page's other parts


def branch_tasks(session: Session, rect: Rectification) -> list[tuple[Problem, list[Task]]]:
    """The branch's problems in the campaign with their tasks, for the rectification page."""
    problems = list(session.scalars(select(Problem).where(
        Problem.branch_id == rect.branch_id, Problem.campaign_id == rect.campaign_id,
        col(Problem.deleted_at).is_(None)).order_by(Problem.id)))
    tasks: dict[int, list[Task]] = defaultdict(list)
    if problems:
        for t in session.scalars(select(Task).where(
                col(Task.problem_id).in_([p.id for p in problems]),
                col(Task.deleted_at).is_(None)).order_by(Task.id)):
            tasks[t.problem_id].append(t)
    return [(p, tasks.get(p.id or 0, [])) for p in problems]


def campaign_of(session: Session, rect: Rectification) -> Campaign | None:
    """The rectification's campaign."""
    return session.get(Campaign, rect.campaign_id)


def branches_with_rectification(session: Session, campaign_id: int) -> set[int]:
    """Ids of the branches that already have a rectification in the campaign (withdrawn
    ones included: `propose` refuses them all, one per campaign and branch)."""
    return set(session.scalars(select(Rectification.branch_id).where(
        Rectification.campaign_id == campaign_id)))
