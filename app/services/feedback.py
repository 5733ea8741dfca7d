"""Feedback forms from phones, their consolidation into suggestions, and their statistics."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlmodel import Session, col

from app.models.branch import Branch
from app.models.feedback import (
    FeedbackForm,
    FeedbackFormCreate,
    FeedbackFormPublic,
    FeedbackStats,
    FormIssuance,
    FormIssuancePublic,
    FormIssuancePut,
    Opinion,
    OpinionPublic,
    OpinionUpdate,
    Satisfaction,
    Suggestion,
    SuggestionCreate,
    SuggestionPublic,
    SuggestionToProblem,
    SuggestionUpdate,
    Theme,
)
from app.models.problem import Problem, ProblemCreate, ProblemSource
from app.models.user import Role
from app.services.actors import Actor, record_visible, require_township_write
from app.services.branches import get_branch
from app.services.campaigns import check_campaign
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.pagination import PageParams, keyset_page
from app.services.problems import create_problem, get_problem
from app.services.records import apply_changes, check_version, get_visible, where_equal

# ---------------------------------------------------------------- issuance


def put_issuance(*, session: Session, actor: Actor, data: FormIssuancePut) -> FormIssuance:
    """Set how many forms a branch was given in a campaign (creates or replaces)."""
    check_campaign(session, data.campaign_id)
    try:
        branch = get_branch(session=session, actor=actor, branch_id=data.branch_id)
    except NotFound:
        raise Invalid("branch_id", "所选党支部不存在") from None
    require_township_write(actor, branch.township_id, "征求意见表发放数")
    # an upsert: PUTs for one branch take turns on the branch's row, so a simultaneous
    # first PUT is seen as the row it inserted and a PUT without a version always succeeds
    # (one with a version still answers 412 when stale)
    session.execute(select(Branch.id).where(Branch.id == branch.id).with_for_update())
    row = _locked_issuance(session, data.campaign_id, data.branch_id)
    if row is None:
        row = FormIssuance(campaign_id=data.campaign_id, branch_id=data.branch_id,
                           township_id=branch.township_id, issued=data.issued)
    else:
        if data.version is not None:
            check_version(row, data.version)
        row.issued = data.issued
    session.add(row)
    session.flush()
    return row


def _locked_issuance(session: Session, campaign_id: int, branch_id: int) -> FormIssuance | None:
    return session.scalars(select(FormIssuance).where(
        FormIssuance.campaign_id == campaign_id, FormIssuance.branch_id == branch_id
    ).with_for_update().execution_options(populate_existing=True)).first()


def _returned_count() -> Any:
    return (
        select(func.count(FeedbackForm.id))
        .where(FeedbackForm.campaign_id == FormIssuance.campaign_id,
               FeedbackForm.branch_id == FormIssuance.branch_id,
               col(FeedbackForm.deleted_at).is_(None))
        .correlate(FormIssuance)
        .scalar_subquery()
    )


def list_issuances(
    *, session: Session, actor: Actor, campaign_id: int | None, township_id: int | None,
    page: PageParams,
) -> tuple[list[FormIssuancePublic], str | None]:
    stmt = (
        select(FormIssuance, Branch.name, _returned_count())
        .join(Branch, col(Branch.id) == FormIssuance.branch_id)
        .where(record_visible(actor, col(FormIssuance.township_id), col(FormIssuance.branch_id)))
    )
    if campaign_id is not None:
        stmt = stmt.where(FormIssuance.campaign_id == campaign_id)
    if township_id is not None:
        stmt = stmt.where(FormIssuance.township_id == township_id)
    rows, cursor = keyset_page(session, stmt, keys=[col(FormIssuance.id)],
                               key_of=lambda r: [r[0].id], page=page)
    return [issuance_public(i, name, n) for i, name, n in rows], cursor


def issuance_public(
    row: FormIssuance, branch_name: str | None, returned: int
) -> FormIssuancePublic:
    return FormIssuancePublic(**row.model_dump(), returned=returned, branch_name=branch_name)


def returned_for(session: Session, issuance: FormIssuance) -> int:
    return int(session.execute(select(func.count(FeedbackForm.id)).where(
        FeedbackForm.campaign_id == issuance.campaign_id,
        FeedbackForm.branch_id == issuance.branch_id, col(FeedbackForm.deleted_at).is_(None),
    )).scalar_one())


# ---------------------------------------------------------------- forms


def _may_enter_forms(actor: Actor, branch: Branch) -> bool:
    if actor.is_token:
        return actor.token_can_write and actor.township_id in (None, branch.township_id)
    if actor.role == Role.county_admin:
        return True
    if actor.role == Role.township_staff:
        return actor.township_id == branch.township_id
    return actor.role == Role.branch_secretary and actor.branch_id == branch.id


def create_form(*, session: Session, actor: Actor, data: FeedbackFormCreate) -> FeedbackForm:
    """Store a returned form with its opinions in one go."""
    try:
        branch = get_branch(session=session, actor=actor, branch_id=data.branch_id)
    except NotFound:
        raise Invalid("branch_id", "所选党支部不存在或不是您的支部") from None
    if not _may_enter_forms(actor, branch):
        raise Forbidden("只能录入本支部的征求意见表")
    check_campaign(session, data.campaign_id)
    name = None if data.anonymous else (data.respondent_name or "").strip()
    if not data.anonymous and not name:
        raise Invalid("respondent_name", "实名填写须提供填表人姓名")
    form = FeedbackForm(
        campaign_id=data.campaign_id, branch_id=branch.id, township_id=branch.township_id,  # type: ignore[arg-type]
        respondent_kind=data.respondent_kind, anonymous=data.anonymous,
        respondent_name=name,
        satisfaction=data.satisfaction, submitted_by=actor.display_name or actor.label,
    )
    session.add(form)
    session.flush()
    for op in data.opinions:
        session.add(Opinion(text=op.text, theme=op.theme, form_id=form.id,  # type: ignore[arg-type]
                            campaign_id=form.campaign_id, township_id=form.township_id,
                            branch_id=form.branch_id))
    session.flush()
    return form


def _form_visible(actor: Actor) -> ColumnElement[bool]:
    return record_visible(actor, col(FeedbackForm.township_id), col(FeedbackForm.branch_id))


def _opinion_public(o: Opinion, branch_name: str | None = None) -> OpinionPublic:
    return OpinionPublic(**o.model_dump(), branch_name=branch_name)


def form_public(session: Session, form: FeedbackForm) -> FeedbackFormPublic:
    opinions = session.scalars(
        select(Opinion).where(Opinion.form_id == form.id, col(Opinion.deleted_at).is_(None))
        .order_by(Opinion.id)
    ).all()
    branch = session.get(Branch, form.branch_id)
    return FeedbackFormPublic(
        **form.model_dump(), opinions=[_opinion_public(o) for o in opinions],
        branch_name=branch.name if branch else None,
    )


def get_form(*, session: Session, actor: Actor, form_id: int) -> FeedbackForm:
    return get_visible(session, FeedbackForm, form_id, _form_visible(actor),
                       "征求意见表不存在或无权查看")


@dataclass(frozen=True)
class FormFilters:
    campaign_id: int | None = None
    township_id: int | None = None
    branch_id: int | None = None


def list_forms(
    *, session: Session, actor: Actor, filters: FormFilters, page: PageParams
) -> tuple[list[FeedbackFormPublic], str | None]:
    stmt = select(FeedbackForm).where(col(FeedbackForm.deleted_at).is_(None), _form_visible(actor))
    stmt = where_equal(stmt, FeedbackForm, filters, ("campaign_id", "township_id", "branch_id"))
    rows, cursor = keyset_page(session, stmt, keys=[col(FeedbackForm.id)],
                               key_of=lambda r: [r[0].id], page=page)
    forms = [r[0] for r in rows]
    by_form: dict[int, list[OpinionPublic]] = {}
    if forms:
        for o in session.scalars(select(Opinion).where(
            col(Opinion.form_id).in_([f.id for f in forms]), col(Opinion.deleted_at).is_(None)
        ).order_by(Opinion.id)):
            by_form.setdefault(o.form_id, []).append(_opinion_public(o))
    names: dict[int, str] = dict(session.execute(select(Branch.id, Branch.name).where(
        col(Branch.id).in_({f.branch_id for f in forms}))).all()) if forms else {}
    return [FeedbackFormPublic(**f.model_dump(), opinions=by_form.get(f.id or 0, []),
                               branch_name=names.get(f.branch_id)) for f in forms], cursor


# ---------------------------------------------------------------- opinions


@dataclass(frozen=True)
class OpinionFilters:
    campaign_id: int | None = None
    township_id: int | None = None
    branch_id: int | None = None
    theme: Theme | None = None
    consolidated: bool | None = None


def _opinion_visible(actor: Actor) -> ColumnElement[bool]:
    return record_visible(actor, col(Opinion.township_id), col(Opinion.branch_id))


def list_opinions(
    *, session: Session, actor: Actor, filters: OpinionFilters, page: PageParams
) -> tuple[list[OpinionPublic], str | None]:
    stmt = (
        select(Opinion, Branch.name)
        .join(Branch, col(Branch.id) == Opinion.branch_id)
        .where(col(Opinion.deleted_at).is_(None), _opinion_visible(actor))
    )
    stmt = where_equal(stmt, Opinion, filters, ("campaign_id", "township_id", "branch_id", "theme"))
    if filters.consolidated is True:
        stmt = stmt.where(col(Opinion.suggestion_id).is_not(None))
    elif filters.consolidated is False:
        stmt = stmt.where(col(Opinion.suggestion_id).is_(None))
    rows, cursor = keyset_page(session, stmt, keys=[col(Opinion.id)],
                               key_of=lambda r: [r[0].id], page=page)
    return [_opinion_public(o, name) for o, name in rows], cursor


def get_opinion(*, session: Session, actor: Actor, opinion_id: int) -> Opinion:
    return get_visible(session, Opinion, opinion_id, _opinion_visible(actor),
                       "意见不存在或无权查看")


def update_opinion(
    *, session: Session, actor: Actor, opinion: Opinion, data: OpinionUpdate, version: int | None
) -> Opinion:
    require_township_write(actor, opinion.township_id, "意见建议")
    check_version(opinion, version)
    apply_changes(opinion, data)
    session.add(opinion)
    session.flush()
    return opinion


def opinion_public(session: Session, opinion: Opinion) -> OpinionPublic:
    branch = session.get(Branch, opinion.branch_id)
    return _opinion_public(opinion, branch.name if branch else None)


# ---------------------------------------------------------------- suggestions


def _suggestion_visible(actor: Actor) -> ColumnElement[bool]:
    if actor.role == Role.branch_secretary:
        return col(Suggestion.township_id) == actor.township_id
    return record_visible(actor, col(Suggestion.township_id), col(Suggestion.township_id))


def _claim_opinions(
    session: Session, suggestion: Suggestion, opinion_ids: list[int]
) -> None:
    """Group `opinion_ids` under `suggestion`; each opinion belongs to at most one."""
    ids = sorted(set(opinion_ids))
    opinions = list(session.scalars(
        select(Opinion).where(col(Opinion.id).in_(ids), col(Opinion.deleted_at).is_(None))
        .with_for_update()
    ))
    if len(opinions) != len(ids):
        raise Invalid("opinion_ids", "部分意见不存在")
    for o in opinions:
        if o.township_id != suggestion.township_id or o.campaign_id != suggestion.campaign_id:
            raise Invalid("opinion_ids", "只能归并本乡镇、本次专项整治的意见")
        if o.suggestion_id not in (None, suggestion.id):
            raise Conflict(f"意见 {o.id} 已归入另一条意见建议,不能重复归并")
    released = session.scalars(select(Opinion).where(
        Opinion.suggestion_id == suggestion.id, col(Opinion.id).not_in(ids)
    ))
    for o in released:
        o.suggestion_id = None
        session.add(o)
    for o in opinions:
        o.suggestion_id = suggestion.id
        session.add(o)
    session.flush()


def create_suggestion(*, session: Session, actor: Actor, data: SuggestionCreate) -> Suggestion:
    require_township_write(actor, data.township_id, "意见建议")
    check_campaign(session, data.campaign_id)
    suggestion = Suggestion(campaign_id=data.campaign_id, township_id=data.township_id,
                            text=data.text.strip(), theme=data.theme)
    session.add(suggestion)
    session.flush()
    _claim_opinions(session, suggestion, data.opinion_ids)
    return suggestion


def get_suggestion(*, session: Session, actor: Actor, suggestion_id: int) -> Suggestion:
    return get_visible(session, Suggestion, suggestion_id, _suggestion_visible(actor),
                       "意见建议不存在或无权查看")


def update_suggestion(
    *, session: Session, actor: Actor, suggestion: Suggestion, data: SuggestionUpdate,
    version: int | None,
) -> Suggestion:
    require_township_write(actor, suggestion.township_id, "意见建议")
    check_version(suggestion, version)
    apply_changes(suggestion, data, exclude=frozenset({"opinion_ids"}))
    if data.problem_id is not None:
        problem = get_problem(session=session, actor=actor, problem_id=data.problem_id)
        if problem.township_id != suggestion.township_id:
            raise Invalid("problem_id", "只能关联本乡镇的问题")
    if data.opinion_ids is not None:
        _claim_opinions(session, suggestion, data.opinion_ids)
    session.add(suggestion)
    session.flush()
    return suggestion


def suggestion_to_problem(
    *, session: Session, actor: Actor, suggestion: Suggestion, data: SuggestionToProblem
) -> Problem:
    """Open a problem (source: feedback) from the suggestion and link them, in one action."""
    require_township_write(actor, suggestion.township_id, "问题清单")
    if data.version is not None:
        check_version(suggestion, data.version)
    if suggestion.problem_id is not None:
        raise Conflict("这条意见建议已转为问题")
    problem = create_problem(session=session, actor=actor, data=ProblemCreate(
        campaign_id=suggestion.campaign_id, township_id=suggestion.township_id,
        branch_id=data.branch_id, category=data.category, source=ProblemSource.feedback,
        description=(data.description or suggestion.text),
    ))
    suggestion.problem_id = problem.id
    session.add(suggestion)
    session.flush()
    return problem


def suggestion_public(session: Session, s: Suggestion) -> SuggestionPublic:
    ids = list(session.scalars(select(Opinion.id).where(
        Opinion.suggestion_id == s.id, col(Opinion.deleted_at).is_(None)).order_by(Opinion.id)))
    return SuggestionPublic(**s.model_dump(), opinion_ids=ids)


def list_suggestions(
    *, session: Session, actor: Actor, campaign_id: int | None, township_id: int | None,
    page: PageParams,
) -> tuple[list[SuggestionPublic], str | None]:
    stmt = select(Suggestion).where(col(Suggestion.deleted_at).is_(None),
                                    _suggestion_visible(actor))
    if campaign_id is not None:
        stmt = stmt.where(Suggestion.campaign_id == campaign_id)
    if township_id is not None:
        stmt = stmt.where(Suggestion.township_id == township_id)
    rows, cursor = keyset_page(session, stmt, keys=[col(Suggestion.id)],
                               key_of=lambda r: [r[0].id], page=page)
    suggestions = [r[0] for r in rows]
    grouped: dict[int, list[int]] = {}
    if suggestions:
        for oid, sid in session.execute(select(Opinion.id, Opinion.suggestion_id).where(
            col(Opinion.suggestion_id).in_([s.id for s in suggestions]),
            col(Opinion.deleted_at).is_(None)).order_by(Opinion.id)):
            grouped.setdefault(sid, []).append(oid)
    return [SuggestionPublic(**s.model_dump(), opinion_ids=grouped.get(s.id or 0, []))
            for s in suggestions], cursor


# ---------------------------------------------------------------- statistics


def feedback_stats(
    *, session: Session, actor: Actor, campaign_id: int | None, township_id: int | None = None,
    branch_id: int | None = None,
) -> FeedbackStats:
    """Issued, returned, return rate, opinions by theme, suggestions, satisfaction: SQL sums."""
    def scoped(stmt: Any, model: Any, branch_col: bool = True) -> Any:
        # suggestions have no branch: they are seen as GET /suggestions sees them
        stmt = stmt.where(record_visible(actor, col(model.township_id), col(model.branch_id))
                          if branch_col else _suggestion_visible(actor))
        if campaign_id is not None:
            stmt = stmt.where(model.campaign_id == campaign_id)
        if township_id is not None:
            stmt = stmt.where(model.township_id == township_id)
        if branch_id is not None and branch_col:
            stmt = stmt.where(model.branch_id == branch_id)
        return stmt

    issued = session.execute(scoped(
        select(func.coalesce(func.sum(FormIssuance.issued), 0)), FormIssuance)).scalar_one()
    returned = session.execute(scoped(
        select(func.count(FeedbackForm.id)).where(col(FeedbackForm.deleted_at).is_(None)),
        FeedbackForm)).scalar_one()
    by_theme: dict[Any, int] = dict(session.execute(scoped(
        select(Opinion.theme, func.count(Opinion.id)).where(col(Opinion.deleted_at).is_(None)),
        Opinion).group_by(Opinion.theme)).all())
    satisfaction: dict[Any, int] = dict(session.execute(scoped(
        select(FeedbackForm.satisfaction, func.count(FeedbackForm.id))
        .where(col(FeedbackForm.deleted_at).is_(None),
               col(FeedbackForm.satisfaction).is_not(None)),
        FeedbackForm).group_by(FeedbackForm.satisfaction)).all())
    suggestions = 0
    if branch_id is None:
        suggestions = session.execute(scoped(
            select(func.count(Suggestion.id)).where(col(Suggestion.deleted_at).is_(None)),
            Suggestion, branch_col=False)).scalar_one()
    themes = {t.value: int(by_theme.get(t, by_theme.get(t.value, 0))) for t in Theme}
    sat = {s.value: int(satisfaction.get(s, satisfaction.get(s.value, 0))) for s in Satisfaction}
    answered = sum(sat.values())
    return FeedbackStats(
        issued=int(issued), returned=int(returned),
        return_rate=round(returned / issued, 4) if issued else None,
        opinions=sum(themes.values()), suggestions=int(suggestions), by_theme=themes,
        satisfaction=sat,
        satisfaction_share={k: round(v / answered, 4) if answered else 0.0
                            for k, v in sat.items()},
    )
