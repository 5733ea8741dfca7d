"""Screenings (排查摸底): records, the weak-and-lax mark, problems from hits, progress."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, String, Table, cast, exists, func, select, true
from sqlmodel import Session, col

from app import clock
from app.listing import Derive, Item, columns_of, derive, derive_page, items
from app.models.branch import Branch, BranchKind
from app.models.campaign import Campaign, CampaignStatus, Criterion, CriterionKind
from app.models.problem import ProblemCreate, ProblemSource
from app.models.screening import (
    BranchProgress,
    Conclusion,
    CriterionResult,
    ResultPublic,
    Screening,
    ScreeningCreate,
    ScreeningProgress,
    ScreeningPublic,
    ScreeningUpdate,
)
from app.models.township import Township
from app.services.actors import Actor, branch_visible, record_visible, require_township_write
from app.services.branches import get_branch
from app.services.campaigns import campaign_criteria, check_campaign, get_campaign
from app.services.errors import Conflict, Invalid, NotFound
from app.services.pagination import PageParams, keyset_rows
from app.services.problems import create_problem
from app.services.records import (
    apply_changes,
    check_version,
    get_visible,
    soft_delete,
    where_equal,
)

TARGET_KINDS = (BranchKind.village, BranchKind.community)


def _criteria(session: Session, campaign_id: int) -> list[Criterion]:
    return [c for c in campaign_criteria(session, campaign_id) if c.kind == CriterionKind.criterion]


SOUND_WITH_HITS_MESSAGE = (
    "有情形被判定为存在、结论却为“未发现软弱涣散”时,须在情况说明中写明研判意见"
)


def _check_results(
    session: Session, campaign_id: int, results: list[CriterionResult], conclusion: Conclusion,
    summary: str | None,
) -> list[dict[str, Any]]:
    """One result per criterion of the campaign; a concluded screening covers all of them.

    A noted criterion with the conclusion `sound` needs the judgement (研判意见) in
    `summary`. Raises Invalid (`results`, `conclusion`, `summary`).
    """
    criteria = {c.code: c for c in _criteria(session, campaign_id)}
    seen: set[str] = set()
    for r in results:
        if r.code not in criteria:
            raise Invalid("results", f"“{r.code}”不是本次专项整治的软弱涣散情形")
        if r.code in seen:
            raise Invalid("results", f"情形“{criteria[r.code].label}”重复填写")
        seen.add(r.code)
    active = {code for code, c in criteria.items() if not c.retired}
    missing = active - seen
    if conclusion != Conclusion.pending and missing:
        names = "、".join(criteria[c].label for c in sorted(missing))
        raise Invalid("results", f"得出结论前须逐项填写排查结果,尚缺:{names}")
    hits = [r for r in results if r.hit]
    if conclusion == Conclusion.sound and hits and not (summary or "").strip():
        raise Invalid("summary", SOUND_WITH_HITS_MESSAGE)
    if conclusion == Conclusion.weak_lax and not hits:
        raise Invalid("conclusion", "认定为软弱涣散须至少有一项情形存在")
    return [r.model_dump() for r in results]


def _sync_weak_lax(session: Session, branch_id: int, *, was_weak_lax: bool = False) -> None:
    """A branch is weak and lax while an active campaign's screening concludes so.

    The mark is cleared only when a screening stops concluding `weak_lax` (`was_weak_lax`)
    and no other active campaign's screening does: a designation made on the register is
    not undone by a screening that never concluded weak and lax (e.g. a pending one)."""
    branch = session.get(Branch, branch_id)
    assert branch is not None
    flagged = session.execute(select(exists().where(
        Screening.branch_id == branch_id, Screening.conclusion == Conclusion.weak_lax,
        col(Screening.deleted_at).is_(None),
        Screening.campaign_id.in_(  # type: ignore[attr-defined]
            select(Campaign.id).where(Campaign.status == CampaignStatus.active)),
    ))).scalar_one()
    if bool(flagged) and not branch.is_weak_lax:
        branch.is_weak_lax = True
        session.add(branch)
    elif not flagged and was_weak_lax and branch.is_weak_lax:
        branch.is_weak_lax = False
        session.add(branch)


def create_screening(*, session: Session, actor: Actor, data: ScreeningCreate) -> Screening:
    """Record a screening of a branch in a campaign (one per campaign and branch).

    Raises Invalid (`branch_id`, `results`, `conclusion`, `summary`), Forbidden, Conflict.
    """
    check_campaign(session, data.campaign_id)
    try:
        branch = get_branch(session=session, actor=actor, branch_id=data.branch_id)
    except NotFound:
        raise Invalid("branch_id", "所选党支部不存在") from None
    require_township_write(actor, branch.township_id, "排查摸底")
    clash = session.execute(select(Screening.id).where(
        Screening.campaign_id == data.campaign_id, Screening.branch_id == data.branch_id,
        col(Screening.deleted_at).is_(None),
    )).first()
    if clash is not None:
        raise Conflict("本次专项整治已有该党支部的排查记录,请修改原记录")
    for r in data.results:  # the link to a problem is the server's, never the client's
        r.problem_id = None
    results = _check_results(session, data.campaign_id, data.results, data.conclusion,
                             data.summary)
    screening = Screening(
        **data.model_dump(exclude={"results"}), township_id=branch.township_id, results=results
    )
    session.add(screening)
    session.flush()
    _sync_weak_lax(session, branch.id)  # type: ignore[arg-type]
    session.flush()
    return screening


def update_screening(
    *, session: Session, actor: Actor, screening: Screening, data: ScreeningUpdate,
    version: int | None,
) -> Screening:
    """Correct a screening; the weak-and-lax mark follows its conclusion.

    Raises Forbidden, PreconditionFailed/Required, Invalid as `create_screening`.
    """
    require_township_write(actor, screening.township_id, "排查摸底")
    check_version(screening, version, session=session, actor_label=actor.label)
    was_weak_lax = screening.conclusion == Conclusion.weak_lax
    # No autoflush while the change is checked: one PATCH is one UPDATE (one version, one
    # audit event), and nothing reaches the database before the results are valid.
    with session.no_autoflush:
        apply_changes(screening, data, exclude=frozenset({"results"}))
        if data.results is not None:
            old = {r["code"]: r for r in screening.results}
            for r in data.results:  # the link to a problem is the server's, never the client's
                r.problem_id = old[r.code].get("problem_id") if r.code in old else None
            # a retired criterion is no longer on the checklist: its old result stays
            retired = {c.code for c in _criteria(session, screening.campaign_id) if c.retired}
            sent = {r.code for r in data.results}
            kept = [CriterionResult(**r) for code, r in old.items()
                    if code in retired and code not in sent]
            results = _check_results(session, screening.campaign_id, [*data.results, *kept],
                                     screening.conclusion, screening.summary)
        else:
            _check_results(session, screening.campaign_id,
                           [CriterionResult(**r) for r in screening.results],
                           screening.conclusion, screening.summary)
    if data.results is not None:
        screening.results = results
    session.add(screening)
    session.flush()
    _sync_weak_lax(session, screening.branch_id, was_weak_lax=was_weak_lax)
    session.flush()
    return screening


def delete_screening(
    *, session: Session, actor: Actor, screening: Screening, version: int | None, reason: str
) -> None:
    """Delete (soft) a screening entered by mistake, with the reason; a weak-and-lax mark it
    alone gave the branch is cleared. Raises Forbidden, PreconditionFailed/Required."""
    require_township_write(actor, screening.township_id, "排查摸底")
    check_version(screening, version, session=session, actor_label=actor.label)
    was_weak_lax = screening.conclusion == Conclusion.weak_lax
    soft_delete(screening, session=session, reason=reason)
    session.add(screening)
    session.flush()
    _sync_weak_lax(session, screening.branch_id, was_weak_lax=was_weak_lax)
    session.flush()


def sound_with_hits(
    session: Session, scope: list[ColumnElement[bool]]
) -> list[tuple[str, list[str]]]:
    """Screenings in `scope` that note a criterion yet conclude `sound`: (branch name, the
    noted criteria's labels), by branch name. SQL narrows to the candidates; the JSON
    results confirm each one."""
    rows = session.execute(_noted_criteria(session, [
        *scope, Screening.conclusion == Conclusion.sound,
        cast(Screening.results, String).like('%"hit": true%')])).all()
    out: list[tuple[str, list[str]]] = []
    labels_of: dict[int, dict[str, str]] = {}  # one criteria look-up per campaign, not per row
    last_screening = None
    for name, screening_id, campaign_id, code in rows:
        if campaign_id not in labels_of:
            labels_of[campaign_id] = {c.code: c.label
                                      for c in campaign_criteria(session, campaign_id)}
        if screening_id != last_screening:
            out.append((name, []))
            last_screening = screening_id
        out[-1][1].append(labels_of[campaign_id].get(code, code))
    return out


def _noted_criteria(session: Session, where: list[ColumnElement[bool]]) -> Select[Any]:
    """(branch name, screening id, campaign id, criterion code) of each result noted as hit
    of the screenings `where` picks, by branch name, screening and position in the results.

    The database takes the JSON apart (json_array_elements / json_each): a province has
    tens of thousands of such screenings, too many to decode one by one in Python."""
    if session.get_bind().dialect.name == "postgresql":
        item = func.json_array_elements(Screening.results).table_valued(
            "value", with_ordinality="position").render_derived()
        code = func.json_extract_path_text(item.c.value, "code")
        hit: ColumnElement[bool] = func.json_extract_path_text(item.c.value, "hit") == "true"
        position = item.c.position
    else:
        item = func.json_each(Screening.results).table_valued("value", "key")
        code = func.json_extract(item.c.value, "$.code")
        hit = func.json_extract(item.c.value, "$.hit") == 1
        position = item.c.key
    return (select(Branch.name, Screening.id, Screening.campaign_id, code)
            .join(Branch, col(Branch.id) == Screening.branch_id)
            .join(item, true())
            .where(*where, hit)
            .order_by(Branch.name, Screening.id, position))


def _visible(actor: Actor) -> ColumnElement[bool]:
    return record_visible(actor, col(Screening.township_id), col(Screening.branch_id))


def get_screening(*, session: Session, actor: Actor, screening_id: int) -> Screening:
    return get_visible(session, Screening, screening_id, _visible(actor),
                       "排查记录不存在或无权查看")


def _results_public(raw: list[dict[str, Any]],
                    labels: dict[str, Criterion]) -> list[ResultPublic]:
    """A screening's stored results with their criteria's labels (a criterion no longer in
    the campaign counts as retired, labelled by its code)."""
    return [
        ResultPublic(code=r["code"], label=labels[r["code"]].label if r["code"] in labels
                     else r["code"], hit=r.get("hit", False), note=r.get("note"),
                     retired=labels[r["code"]].retired if r["code"] in labels else True,
                     problem_id=r.get("problem_id"))
        for r in raw
    ]


def screening_public(
    session: Session, s: Screening, *, labels: dict[str, Criterion] | None = None,
    branch_name: str | None = None, due: date | None = None,
) -> ScreeningPublic:
    if labels is None:
        labels = {c.code: c for c in campaign_criteria(session, s.campaign_id)}
    if branch_name is None:
        branch = session.get(Branch, s.branch_id)
        branch_name = branch.name if branch else None
    if due is None:
        campaign = session.get(Campaign, s.campaign_id)
        due = campaign.screening_due if campaign else None
    return ScreeningPublic(
        **s.model_dump(exclude={"results"}), results=_results_public(s.results, labels),
        branch_name=branch_name, late=bool(due and s.screened_on > due),
    )


@dataclass(frozen=True)
class ScreeningFilters:
    campaign_id: int | None = None
    branch_id: int | None = None
    township_id: int | None = None
    conclusion: Conclusion | None = None


_SCREENING: Table = Screening.__table__  # type: ignore[attr-defined]
_BRANCH: Table = Branch.__table__  # type: ignore[attr-defined]
_CAMPAIGN: Table = Campaign.__table__  # type: ignore[attr-defined]


def _results_of_page(session: Session, rows: Sequence[Any], _context: Any) -> Derive:
    """`ScreeningPublic.results` of a page: each campaign's criteria looked up once."""
    labels = {campaign_id: {c.code: c for c in campaign_criteria(session, campaign_id)}
              for campaign_id in {row.campaign_id for row in rows}}
    return lambda row: _results_public(row.results, labels[row.campaign_id])


def _late_of_rows(selected: Sequence[str]) -> Derive:
    """`ScreeningPublic.late`: screened after the campaign's `screening_due` (selected beside
    the columns), never when it has none."""
    on: int = selected.index("screened_on")
    due: int = selected.index("screening_due")
    return lambda row: bool(row[due] and row[on] > row[due])


derive_page(ScreeningPublic, "results", _results_of_page)
derive(ScreeningPublic, "late", _late_of_rows)


def list_screenings(
    *, session: Session, actor: Actor, filters: ScreeningFilters, page: PageParams
) -> tuple[list[Item], str | None]:
    """A page of the screenings the actor may see, filtered: `ScreeningPublic` items (results
    labelled by their criteria, the branch's name, `late`) and the next page's cursor (None
    on the last). Raises Invalid (`cursor`) for a cursor this list did not give."""
    stmt = (
        select(*columns_of(ScreeningPublic, _SCREENING, branch_name=_BRANCH.c.name),
               _CAMPAIGN.c.screening_due)
        .join_from(_SCREENING, _BRANCH, _BRANCH.c.id == _SCREENING.c.branch_id)
        .join(_CAMPAIGN, _CAMPAIGN.c.id == _SCREENING.c.campaign_id)
        .where(_SCREENING.c.deleted_at.is_(None), _visible(actor))
    )
    stmt = where_equal(stmt, Screening, filters,
                       ("campaign_id", "branch_id", "township_id", "conclusion"))
    rows, cursor = keyset_rows(session, stmt, keys=[_SCREENING.c.id],
                               key_of=lambda r: [r.id], page=page)
    return items(ScreeningPublic, rows, session=session), cursor


def hits_to_problems(
    *, session: Session, actor: Actor, screening: Screening, codes: list[str]
) -> list[int]:
    """Open a problem (source: screening) for each chosen hit not yet converted."""
    require_township_write(actor, screening.township_id, "问题清单")
    labels = {c.code: c for c in campaign_criteria(session, screening.campaign_id)}
    wanted = set(codes) if codes else None
    created: list[int] = []
    results = [dict(r) for r in screening.results]
    for r in results:
        if not r.get("hit") or r.get("problem_id") or (wanted and r["code"] not in wanted):
            continue
        if r["code"] not in labels or labels[r["code"]].retired:
            continue  # a retired criterion is no category for a new problem
        label = labels[r["code"]].label
        description = f"{label}" + (f":{r['note']}" if r.get("note") else "")
        problem = create_problem(session=session, actor=actor, data=ProblemCreate(
            campaign_id=screening.campaign_id, township_id=screening.township_id,
            branch_id=screening.branch_id, category=r["code"], source=ProblemSource.screening,
            description=description,
        ))
        r["problem_id"] = problem.id
        created.append(problem.id)  # type: ignore[arg-type]
    if not created:
        raise Conflict("没有可转为问题的排查发现:所选情形未判定为存在、已停用,或已转为问题")
    screening.results = results
    session.add(screening)
    session.flush()
    return created


def screening_progress(
    *, session: Session, actor: Actor, campaign_id: int, township_id: int | None,
    today: date | None = None,
) -> ScreeningProgress:
    """Target branches (village and community) screened, late, or still to do."""
    today = today or clock.today()
    campaign = get_campaign(session=session, campaign_id=campaign_id)
    stmt = (
        select(Branch.id, Branch.name, Branch.township_id, Township.name, Branch.kind,
               Screening.id, Screening.screened_on, Screening.conclusion)
        .join(Township, col(Township.id) == Branch.township_id)
        .outerjoin(Screening, (col(Screening.branch_id) == Branch.id)
                   & (Screening.campaign_id == campaign_id)
                   & col(Screening.deleted_at).is_(None))
        .where(col(Branch.deleted_at).is_(None), col(Branch.kind).in_(TARGET_KINDS),
               branch_visible(actor))
        .order_by(Township.name, Branch.name)
    )
    if township_id is not None:
        stmt = stmt.where(Branch.township_id == township_id)
    due = campaign.screening_due
    branches = []
    for bid, name, tid, tname, kind, sid, screened_on, conclusion in session.execute(stmt):
        if sid is None:
            state = "todo"
        elif conclusion == Conclusion.pending:
            state = "pending"
        elif due and screened_on > due:
            state = "late"
        else:
            state = "done"
        branches.append(BranchProgress(
            branch_id=bid, branch_name=name, township_id=tid, township_name=tname,
            kind=str(getattr(kind, "value", kind)), state=state, screened_on=screened_on,
            conclusion=conclusion, screening_id=sid,
        ))
    done = [b for b in branches if b.state in ("done", "late")]
    return ScreeningProgress(
        campaign_id=campaign_id, due=due,
        days_left=(due - today).days if due else None,
        target=len(branches), done=len(done),
        done_by_due=sum(1 for b in branches if b.state == "done"),
        late=sum(1 for b in branches if b.state == "late"),
        todo=sum(1 for b in branches if b.state in ("todo", "pending")),
        weak_lax=sum(1 for b in branches if b.conclusion == Conclusion.weak_lax),
        branches=branches,
    )
