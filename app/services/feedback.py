"""Feedback forms from phones, their consolidation into suggestions, and their statistics."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select
from sqlmodel import Session, col

from app.listing import Derive, Item, columns_of, derive_page, items
from app.models.base import utcnow
from app.models.branch import Branch
from app.models.feedback import (
    FeedbackForm,
    FeedbackFormCreate,
    FeedbackFormPublic,
    FeedbackFormUpdate,
    FeedbackStats,
    FormIssuance,
    FormIssuancePublic,
    FormIssuancePut,
    FormIssuanceUpdate,
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
from app.services.pagination import PageParams, keyset_rows
from app.services.problems import create_problem, get_problem
from app.services.records import (
    apply_changes,
    check_version,
    get_visible,
    soft_delete,
    where_equal,
)

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
    elif row.deleted_at is not None:  # set again after a deletion: the row comes back
        row.deleted_at = None
        row.issued = data.issued
    else:
        if data.version is not None:
            check_version(row, data.version)
        row.issued = data.issued
    session.add(row)
    session.flush()
    return row


def get_issuance(*, session: Session, actor: Actor, issuance_id: int) -> FormIssuance:
    """A live issuance row the actor may see, else NotFound."""
    return get_visible(session, FormIssuance, issuance_id,
                       record_visible(actor, col(FormIssuance.township_id),
                                      col(FormIssuance.branch_id)),
                       "发放记录不存在或无权查看")


def update_issuance(
    *, session: Session, actor: Actor, issuance: FormIssuance, data: FormIssuanceUpdate,
    version: int | None,
) -> FormIssuance:
    """Correct the number of forms handed out (Forbidden, 428/412, Invalid)."""
    require_township_write(actor, issuance.township_id, "征求意见表发放数")
    check_version(issuance, version)
    apply_changes(issuance, data)
    session.add(issuance)
    session.flush()
    return issuance


def delete_issuance(
    *, session: Session, actor: Actor, issuance: FormIssuance, version: int | None, reason: str
) -> None:
    """Soft-delete an issuance row, keeping `reason` in its audit event (Forbidden, 428/412)."""
    require_township_write(actor, issuance.township_id, "征求意见表发放数")
    check_version(issuance, version)
    soft_delete(issuance, session=session, reason=reason)
    session.add(issuance)
    session.flush()


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


_ISSUANCE: Table = FormIssuance.__table__  # type: ignore[attr-defined]


def list_issuances(
    *, session: Session, actor: Actor, campaign_id: int | None, township_id: int | None,
    page: PageParams,
) -> tuple[list[Item], str | None]:
    """A page of the form issuances the actor may see: `FormIssuancePublic` items (the forms
    returned so far, the branch's name) and the next page's cursor (None on the last).
    Raises Invalid (`cursor`) for a cursor this list did not give."""
    stmt = (
        select(*columns_of(FormIssuancePublic, _ISSUANCE, returned=_returned_count(),
                           branch_name=_BRANCH.c.name))
        .join_from(_ISSUANCE, _BRANCH, _BRANCH.c.id == _ISSUANCE.c.branch_id)
        .where(record_visible(actor, col(FormIssuance.township_id), col(FormIssuance.branch_id)),
               _ISSUANCE.c.deleted_at.is_(None))
    )
    if campaign_id is not None:
        stmt = stmt.where(_ISSUANCE.c.campaign_id == campaign_id)
    if township_id is not None:
        stmt = stmt.where(_ISSUANCE.c.township_id == township_id)
    rows, cursor = keyset_rows(session, stmt, keys=[_ISSUANCE.c.id],
                               key_of=lambda r: [r.id], page=page)
    return items(FormIssuancePublic, rows), cursor


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


def _may_enter_forms(actor: Actor, township_id: int, branch_id: int | None) -> bool:
    if actor.is_token:
        return actor.token_can_write and actor.township_id in (None, township_id)
    if actor.role == Role.county_admin:
        return True
    if actor.role == Role.township_staff:
        return actor.township_id == township_id
    return actor.role == Role.branch_secretary and actor.branch_id == branch_id


def may_write_form(actor: Actor, form: FeedbackForm) -> bool:
    """Whether the actor may correct or delete `form` and its opinions: its branch's
    secretary, its township's staff, the county, a write token of its township."""
    return _may_enter_forms(actor, form.township_id, form.branch_id)


def _require_form_write(actor: Actor, township_id: int, branch_id: int) -> None:
    if not _may_enter_forms(actor, township_id, branch_id):
        raise Forbidden("只能修改本支部(乡镇工作人员:本乡镇)的征求意见表")


def create_form(*, session: Session, actor: Actor, data: FeedbackFormCreate) -> FeedbackForm:
    """Store a returned form with its opinions in one go."""
    try:
        branch = get_branch(session=session, actor=actor, branch_id=data.branch_id)
    except NotFound:
        raise Invalid("branch_id", "所选党支部不存在或不是您的支部") from None
    if not _may_enter_forms(actor, branch.township_id, branch.id):
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


def _named(text: str, limit: int = 20) -> str:
    return f"“{text if len(text) <= limit else text[:limit] + '…'}”"


def _refuse_consolidated(session: Session, opinions: list[Opinion]) -> None:
    """Conflict naming the suggestion(s) any of `opinions` still belongs to."""
    ids = {o.suggestion_id for o in opinions if o.suggestion_id is not None}
    if not ids:
        return
    texts = session.scalars(select(Suggestion.text).where(col(Suggestion.id).in_(ids))
                            .order_by(Suggestion.id))
    named = "、".join(_named(t) for t in texts)
    raise Conflict(f"意见已归入意见建议{named},请先在梳理意见中把它移出,再删除")


def update_form(
    *, session: Session, actor: Actor, form: FeedbackForm, data: FeedbackFormUpdate,
    version: int | None,
) -> FeedbackForm:
    """Correct a returned form. Raises Forbidden (not its writer), 428/412 (version),
    Invalid on `branch_id` (not a branch of the form's township the actor may write) or
    `respondent_name` (a named form without a name). An anonymous form keeps no name."""
    _require_form_write(actor, form.township_id, form.branch_id)
    check_version(form, version)
    sent = apply_changes(form, data)
    if "branch_id" in sent:
        branch = session.get(Branch, form.branch_id)
        if (branch is None or branch.deleted_at is not None
                or branch.township_id != form.township_id
                or not _may_enter_forms(actor, branch.township_id, branch.id)):
            raise Invalid("branch_id", "只能改为本乡镇中您可以录入的党支部")
        for o in _form_opinions(session, form):
            o.branch_id = form.branch_id
            session.add(o)
    if form.anonymous:
        form.respondent_name = None
    else:
        form.respondent_name = (form.respondent_name or "").strip() or None
        if form.respondent_name is None:
            raise Invalid("respondent_name", "实名填写须提供填表人姓名")
    session.add(form)
    session.flush()
    return form


def _form_opinions(session: Session, form: FeedbackForm) -> list[Opinion]:
    return list(session.scalars(select(Opinion).where(
        Opinion.form_id == form.id, col(Opinion.deleted_at).is_(None)).order_by(Opinion.id)))


def delete_form(
    *, session: Session, actor: Actor, form: FeedbackForm, version: int | None, reason: str
) -> None:
    """Soft-delete a returned form and its opinions, each audit event with `reason`.

    Raises Forbidden, 428/412, Conflict naming the suggestion an opinion still belongs to."""
    _require_form_write(actor, form.township_id, form.branch_id)
    check_version(form, version)
    opinions = _form_opinions(session, form)
    _refuse_consolidated(session, opinions)
    for o in opinions:
        soft_delete(o, session=session, reason=reason)
        session.add(o)
    soft_delete(form, session=session, reason=reason)
    session.add(form)
    session.flush()


@dataclass(frozen=True)
class FormFilters:
    campaign_id: int | None = None
    township_id: int | None = None
    branch_id: int | None = None


_FORM: Table = FeedbackForm.__table__  # type: ignore[attr-defined]
_OPINION: Table = Opinion.__table__  # type: ignore[attr-defined]
_BRANCH: Table = Branch.__table__  # type: ignore[attr-defined]


def _opinions_of_page(session: Session, rows: Sequence[Any], _context: Any) -> Derive:
    """`FeedbackFormPublic.opinions` of a page of forms: their live opinions (`OpinionPublic`
    items without the branch's name, by id), one query for the page."""
    found = session.connection().execute(
        select(*columns_of(OpinionPublic, _OPINION))
        .where(_OPINION.c.form_id.in_([row.id for row in rows]), _OPINION.c.deleted_at.is_(None))
        .order_by(_OPINION.c.id)
    ).all()
    by_form: dict[int, list[Item]] = {}
    for opinion in items(OpinionPublic, found):
        by_form.setdefault(opinion.form_id, []).append(opinion)
    return lambda row: by_form.get(row.id, [])


derive_page(FeedbackFormPublic, "opinions", _opinions_of_page)


def list_forms(
    *, session: Session, actor: Actor, filters: FormFilters, page: PageParams
) -> tuple[list[Item], str | None]:
    """Returned forms the actor may see, newest first: `FeedbackFormPublic` items (with the
    branch's name and the live opinions) and the next page's cursor (None on the last).
    Raises Invalid (`cursor`) for a cursor this list did not give."""
    stmt = (
        select(*columns_of(FeedbackFormPublic, _FORM, branch_name=_BRANCH.c.name))
        .join_from(_FORM, _BRANCH, _BRANCH.c.id == _FORM.c.branch_id, isouter=True)
        .where(_FORM.c.deleted_at.is_(None), _form_visible(actor))
    )
    stmt = where_equal(stmt, FeedbackForm, filters, ("campaign_id", "township_id", "branch_id"))
    # newest first: the key is the negated id
    rows, cursor = keyset_rows(session, stmt, keys=[-_FORM.c.id],
                               key_of=lambda r: [-r.id], page=page)
    return items(FeedbackFormPublic, rows, session=session), cursor


# ---------------------------------------------------------------- opinions


@dataclass(frozen=True)
class OpinionFilters:
    campaign_id: int | None = None
    township_id: int | None = None
    branch_id: int | None = None
    theme: Theme | None = None
    consolidated: bool | None = None
    suggestion_id: int | None = None


def _opinion_visible(actor: Actor) -> ColumnElement[bool]:
    return record_visible(actor, col(Opinion.township_id), col(Opinion.branch_id))


def list_opinions(
    *, session: Session, actor: Actor, filters: OpinionFilters, page: PageParams
) -> tuple[list[Item], str | None]:
    """A page of the opinions the actor may see, filtered: `OpinionPublic` items (with the
    branch's name) and the next page's cursor (None on the last). Raises Invalid (`cursor`)
    for a cursor this list did not give."""
    stmt = (
        select(*columns_of(OpinionPublic, _OPINION, branch_name=_BRANCH.c.name))
        .join_from(_OPINION, _BRANCH, _BRANCH.c.id == _OPINION.c.branch_id)
        .where(_OPINION.c.deleted_at.is_(None), _opinion_visible(actor))
    )
    stmt = where_equal(stmt, Opinion, filters,
                       ("campaign_id", "township_id", "branch_id", "theme", "suggestion_id"))
    if filters.consolidated is True:
        stmt = stmt.where(_OPINION.c.suggestion_id.is_not(None))
    elif filters.consolidated is False:
        stmt = stmt.where(_OPINION.c.suggestion_id.is_(None))
    rows, cursor = keyset_rows(session, stmt, keys=[_OPINION.c.id],
                               key_of=lambda r: [r.id], page=page)
    return items(OpinionPublic, rows), cursor


def get_opinion(*, session: Session, actor: Actor, opinion_id: int) -> Opinion:
    return get_visible(session, Opinion, opinion_id, _opinion_visible(actor),
                       "意见不存在或无权查看")


def update_opinion(
    *, session: Session, actor: Actor, opinion: Opinion, data: OpinionUpdate, version: int | None
) -> Opinion:
    """Correct an opinion's wording or theme, also once consolidated (Forbidden, 428/412)."""
    _require_form_write(actor, opinion.township_id, opinion.branch_id)
    check_version(opinion, version)
    apply_changes(opinion, data)
    session.add(opinion)
    session.flush()
    return opinion


def delete_opinion(
    *, session: Session, actor: Actor, opinion: Opinion, version: int | None, reason: str
) -> None:
    """Soft-delete one opinion of a form, keeping `reason` in its audit event.

    Raises Forbidden, 428/412, Conflict while it belongs to a suggestion (naming it) or
    when it is the form's last opinion (the form itself is deleted then)."""
    _require_form_write(actor, opinion.township_id, opinion.branch_id)
    check_version(opinion, version)
    _refuse_consolidated(session, [opinion])
    others = session.execute(select(func.count(Opinion.id)).where(
        Opinion.form_id == opinion.form_id, Opinion.id != opinion.id,
        col(Opinion.deleted_at).is_(None))).scalar_one()
    if not others:
        raise Conflict("这是该意见表仅有的一条意见;如需删除,请删除整张意见表")
    soft_delete(opinion, session=session, reason=reason)
    session.add(opinion)
    session.flush()


def source_opinions(session: Session, problem_id: int) -> list[OpinionPublic]:
    """The live opinions behind a problem made from suggestions, with their branch names."""
    rows = session.execute(
        select(Opinion, Branch.name)
        .join(Suggestion, col(Suggestion.id) == Opinion.suggestion_id)
        .join(Branch, col(Branch.id) == Opinion.branch_id)
        .where(Suggestion.problem_id == problem_id, col(Suggestion.deleted_at).is_(None),
               col(Opinion.deleted_at).is_(None))
        .order_by(Opinion.id)
    ).all()
    return [_opinion_public(o, name) for o, name in rows]


def opinion_public(session: Session, opinion: Opinion) -> OpinionPublic:
    branch = session.get(Branch, opinion.branch_id)
    return _opinion_public(opinion, branch.name if branch else None)


# ---------------------------------------------------------------- suggestions


def suggestion_visible(actor: Actor) -> ColumnElement[bool]:
    """SQL condition: the suggestions the actor may read (a secretary: its township's)."""
    if actor.role == Role.branch_secretary:
        return col(Suggestion.township_id) == actor.township_id
    return record_visible(actor, col(Suggestion.township_id), col(Suggestion.township_id))


def _load_opinions(session: Session, opinion_ids: list[int]) -> list[Opinion]:
    """The live opinions `opinion_ids`, locked; Invalid (`opinion_ids`) if any is missing."""
    ids = sorted(set(opinion_ids))
    opinions = list(session.scalars(
        select(Opinion).where(col(Opinion.id).in_(ids), col(Opinion.deleted_at).is_(None))
        .with_for_update()
    ))
    if len(opinions) != len(ids):
        raise Invalid("opinion_ids", "部分意见不存在")
    return opinions


def _claim_opinions(
    session: Session, suggestion: Suggestion, opinion_ids: list[int], *, replace: bool
) -> None:
    """Group `opinion_ids` under `suggestion` (with `replace`, release the others); each
    opinion belongs to at most one suggestion (Conflict naming the other one)."""
    opinions = _load_opinions(session, opinion_ids)
    for o in opinions:
        if o.township_id != suggestion.township_id or o.campaign_id != suggestion.campaign_id:
            raise Invalid("opinion_ids", "只能归并本乡镇、本次专项整治的意见")
        if o.suggestion_id not in (None, suggestion.id):
            other = session.get(Suggestion, o.suggestion_id)
            raise Conflict(f"意见 {o.id} 已归入另一条意见建议"
                           f"{_named(other.text) if other else ''},不能重复归并")
    if replace:
        released = session.scalars(select(Opinion).where(
            Opinion.suggestion_id == suggestion.id,
            col(Opinion.id).not_in([o.id for o in opinions])))
        for o in released:
            o.suggestion_id = None
            session.add(o)
    for o in opinions:
        if o.suggestion_id != suggestion.id:
            o.suggestion_id = suggestion.id
            session.add(o)
    session.flush()


def _township_of(session: Session, data: SuggestionCreate) -> int:
    """The one township of the opinions to group (and of `township_id`, when given)."""
    townships = {o.township_id for o in _load_opinions(session, data.opinion_ids)}
    if data.township_id is not None:
        townships.add(data.township_id)
    if len(townships) > 1:
        raise Invalid("opinion_ids", "所选意见来自不同乡镇,只能归并同一乡镇的意见")
    return townships.pop()


def create_suggestion(*, session: Session, actor: Actor, data: SuggestionCreate) -> Suggestion:
    """Group opinions into a new suggestion of their township.

    Raises Invalid (`opinion_ids`: missing, of two townships or another campaign),
    Forbidden (not a writer of that township), Conflict (an opinion already grouped)."""
    township_id = _township_of(session, data)
    require_township_write(actor, township_id, "意见建议")
    check_campaign(session, data.campaign_id)
    suggestion = Suggestion(campaign_id=data.campaign_id, township_id=township_id,
                            text=data.text.strip(), theme=data.theme)
    session.add(suggestion)
    session.flush()
    _claim_opinions(session, suggestion, data.opinion_ids, replace=True)
    return suggestion


def get_suggestion(*, session: Session, actor: Actor, suggestion_id: int) -> Suggestion:
    return get_visible(session, Suggestion, suggestion_id, suggestion_visible(actor),
                       "意见建议不存在或无权查看")


def update_suggestion(
    *, session: Session, actor: Actor, suggestion: Suggestion, data: SuggestionUpdate,
    version: int | None,
) -> Suggestion:
    """Reword, re-theme, regroup (`opinion_ids` replaces, `add_opinion_ids` adds) a
    suggestion, or link it to a problem (Forbidden, 428/412, Invalid, Conflict)."""
    require_township_write(actor, suggestion.township_id, "意见建议")
    check_version(suggestion, version)
    apply_changes(suggestion, data, exclude=frozenset({"opinion_ids", "add_opinion_ids"}))
    if data.problem_id is not None:
        problem = get_problem(session=session, actor=actor, problem_id=data.problem_id)
        if problem.township_id != suggestion.township_id:
            raise Invalid("problem_id", "只能关联本乡镇的问题")
    if data.opinion_ids is not None:
        _claim_opinions(session, suggestion, data.opinion_ids, replace=True)
    if data.add_opinion_ids:
        _claim_opinions(session, suggestion, data.add_opinion_ids, replace=False)
    if data.opinion_ids is not None or data.add_opinion_ids:
        suggestion.updated_at = utcnow()  # regrouping alone moves the version on too
    session.add(suggestion)
    session.flush()
    return suggestion


def delete_suggestion(
    *, session: Session, actor: Actor, suggestion: Suggestion, version: int | None, reason: str
) -> None:
    """Soft-delete a suggestion and release its opinions (they can be grouped again).

    Raises Forbidden, 428/412, Conflict while the problem made from it is live (naming it)."""
    require_township_write(actor, suggestion.township_id, "意见建议")
    check_version(suggestion, version)
    if suggestion.problem_id is not None:
        problem = session.get(Problem, suggestion.problem_id)
        if problem is not None and problem.deleted_at is None:
            raise Conflict(f"这条意见建议已转为问题{_named(problem.description)}"
                           f"(编号 {problem.id}),请先删除该问题")
    for o in session.scalars(select(Opinion).where(Opinion.suggestion_id == suggestion.id)):
        o.suggestion_id = None
        session.add(o)
    soft_delete(suggestion, session=session, reason=reason)
    session.add(suggestion)
    session.flush()


def _single_branch(session: Session, suggestion: Suggestion) -> int | None:
    branches = set(session.scalars(select(Opinion.branch_id).where(
        Opinion.suggestion_id == suggestion.id, col(Opinion.deleted_at).is_(None))))
    return branches.pop() if len(branches) == 1 else None


def suggestion_to_problem(
    *, session: Session, actor: Actor, suggestion: Suggestion, data: SuggestionToProblem
) -> Problem:
    """Open a problem (source: feedback) from the suggestion and link them, in one action.

    Without `branch_id`, a suggestion whose opinions all come from one branch gives a
    problem of that branch; otherwise the problem is township-wide."""
    require_township_write(actor, suggestion.township_id, "问题清单")
    if data.version is not None:
        check_version(suggestion, data.version)
    if suggestion.problem_id is not None:
        raise Conflict("这条意见建议已转为问题")
    branch_id = data.branch_id if data.branch_id is not None else _single_branch(
        session, suggestion)
    problem = create_problem(session=session, actor=actor, data=ProblemCreate(
        campaign_id=suggestion.campaign_id, township_id=suggestion.township_id,
        branch_id=branch_id, category=data.category, source=ProblemSource.feedback,
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


_SUGGESTION: Table = Suggestion.__table__  # type: ignore[attr-defined]


def _opinion_ids_of_page(session: Session, rows: Sequence[Any], _context: Any) -> Derive:
    """`SuggestionPublic.opinion_ids` of a page: each suggestion's live opinions by id, one
    query for the page."""
    grouped: dict[int, list[int]] = {}
    for oid, sid in session.connection().execute(
            select(_OPINION.c.id, _OPINION.c.suggestion_id)
            .where(_OPINION.c.suggestion_id.in_([row.id for row in rows]),
                   _OPINION.c.deleted_at.is_(None))
            .order_by(_OPINION.c.id)):
        grouped.setdefault(sid, []).append(oid)
    return lambda row: grouped.get(row.id, [])


derive_page(SuggestionPublic, "opinion_ids", _opinion_ids_of_page)


def list_suggestions(
    *, session: Session, actor: Actor, campaign_id: int | None, township_id: int | None,
    page: PageParams,
) -> tuple[list[Item], str | None]:
    """A page of the suggestions the actor may see: `SuggestionPublic` items (with the ids of
    their live opinions) and the next page's cursor (None on the last). Raises Invalid
    (`cursor`) for a cursor this list did not give."""
    stmt = select(*columns_of(SuggestionPublic, _SUGGESTION)).where(
        _SUGGESTION.c.deleted_at.is_(None), suggestion_visible(actor))
    if campaign_id is not None:
        stmt = stmt.where(_SUGGESTION.c.campaign_id == campaign_id)
    if township_id is not None:
        stmt = stmt.where(_SUGGESTION.c.township_id == township_id)
    rows, cursor = keyset_rows(session, stmt, keys=[_SUGGESTION.c.id],
                               key_of=lambda r: [r.id], page=page)
    return items(SuggestionPublic, rows, session=session), cursor


# ---------------------------------------------------------------- statistics


def feedback_stats(
    *, session: Session, actor: Actor, campaign_id: int | None, township_id: int | None = None,
    branch_id: int | None = None,
) -> FeedbackStats:
    """Issued, returned, return rate, opinions by theme, suggestions, satisfaction: SQL sums."""
    def scoped(stmt: Any, model: Any, branch_col: bool = True) -> Any:
        # suggestions have no branch: they are seen as GET /suggestions sees them
        stmt = stmt.where(record_visible(actor, col(model.township_id), col(model.branch_id))
                          if branch_col else suggestion_visible(actor),
                          col(model.deleted_at).is_(None))
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
