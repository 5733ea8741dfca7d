"""Problems (问题清单): scoped queries and changes."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Table, func, select
from sqlmodel import Session, col

from app.listing import Item, columns_of, items
from app.models.branch import Branch
from app.models.feedback import Suggestion
from app.models.problem import Problem, ProblemCreate, ProblemPublic, ProblemSource, ProblemUpdate
from app.models.task import Task
from app.models.township import Township
from app.services.actors import Actor, record_visible, require_township_write
from app.services.campaigns import check_campaign, check_category
from app.services.errors import Conflict, Invalid
from app.services.pagination import PageParams, keyset_rows
from app.services.records import (
    apply_changes,
    check_branch_in,
    check_version,
    get_visible,
    soft_delete,
    where_equal,
)


@dataclass(frozen=True)
class ProblemFilters:
    campaign_id: int | None = None
    township_id: int | None = None
    branch_id: int | None = None
    category: str | None = None
    source: ProblemSource | None = None


def _visible(actor: Actor):  # type: ignore[no-untyped-def]
    return record_visible(actor, col(Problem.township_id), col(Problem.branch_id))


_PROBLEM: Table = Problem.__table__  # type: ignore[attr-defined]
_BRANCH: Table = Branch.__table__  # type: ignore[attr-defined]
_TOWNSHIP: Table = Township.__table__  # type: ignore[attr-defined]
_TASK: Table = Task.__table__  # type: ignore[attr-defined]


def _public_stmt() -> Select[Any]:
    """Live problems as `ProblemPublic` columns: the branch's and township's names and the
    count of live tasks against each."""
    task_count = (
        select(func.count(_TASK.c.id))
        .where(_TASK.c.problem_id == _PROBLEM.c.id, _TASK.c.deleted_at.is_(None))
        .correlate(_PROBLEM)
        .scalar_subquery()
    )
    return (
        select(*columns_of(ProblemPublic, _PROBLEM, branch_name=_BRANCH.c.name,
                           township_name=_TOWNSHIP.c.name, task_count=task_count))
        .join_from(_PROBLEM, _TOWNSHIP, _TOWNSHIP.c.id == _PROBLEM.c.township_id)
        .outerjoin(_BRANCH, _BRANCH.c.id == _PROBLEM.c.branch_id)
        .where(_PROBLEM.c.deleted_at.is_(None))
    )


def list_problems(
    *, session: Session, actor: Actor, filters: ProblemFilters, page: PageParams
) -> tuple[list[Item], str | None]:
    """A page of the problems the actor may see, filtered: `ProblemPublic` items and the
    next page's cursor (None on the last page)."""
    stmt = _public_stmt().where(_visible(actor))
    stmt = where_equal(stmt, Problem, filters,
                       ("campaign_id", "township_id", "branch_id", "category", "source"))
    rows, cursor = keyset_rows(session, stmt, keys=[_PROBLEM.c.id],
                               key_of=lambda r: [r.id], page=page)
    return items(ProblemPublic, rows), cursor


def get_problem(*, session: Session, actor: Actor, problem_id: int) -> Problem:
    return get_visible(session, Problem, problem_id, _visible(actor), "问题不存在或无权查看")


def problem_public(session: Session, problem: Problem) -> ProblemPublic:
    """One problem as the API answers it (the list's columns)."""
    session.flush()
    row = session.connection().execute(_public_stmt().where(_PROBLEM.c.id == problem.id)).one()
    return ProblemPublic.model_validate(items(ProblemPublic, [row])[0])


def create_problem(*, session: Session, actor: Actor, data: ProblemCreate) -> Problem:
    require_township_write(actor, data.township_id, "问题清单")
    township = session.get(Township, data.township_id)
    if township is None or township.deleted_at is not None:
        raise Invalid("township_id", "所选乡镇不存在")
    check_campaign(session, data.campaign_id)
    check_branch_in(session, data.township_id, data.branch_id)
    check_category(session, data.campaign_id, data.category)
    problem = Problem.model_validate(data)
    session.add(problem)
    session.flush()
    return problem


def update_problem(
    *, session: Session, actor: Actor, problem: Problem, data: ProblemUpdate, version: int | None
) -> Problem:
    require_township_write(actor, problem.township_id, "问题清单")
    check_version(problem, version)
    sent = apply_changes(problem, data)
    if "branch_id" in sent:
        check_branch_in(session, problem.township_id, problem.branch_id)
    if "category" in sent:
        check_category(session, problem.campaign_id, problem.category)
    session.add(problem)
    session.flush()
    return problem


def delete_problem(
    *, session: Session, actor: Actor, problem: Problem, version: int | None, reason: str
) -> None:
    """Soft-delete a problem, keeping `reason` in its audit event.

    Raises Forbidden (not its township's writer), PreconditionRequired/Failed (version),
    Conflict naming the live tasks still against it. Suggestions made into it are unlinked."""
    require_township_write(actor, problem.township_id, "问题清单")
    check_version(problem, version)
    titles = list(session.scalars(
        select(Task.title).where(Task.problem_id == problem.id, col(Task.deleted_at).is_(None))
        .order_by(Task.id)
    ))
    if titles:
        named = "、".join(f"“{t}”" for t in titles[:5]) + (" 等" if len(titles) > 5 else "")
        raise Conflict(f"该问题下还有 {len(titles)} 项整改任务:{named},请先删除或撤销这些任务")
    # the suggestions it was made from can become a problem again
    for suggestion in session.scalars(select(Suggestion).where(
            Suggestion.problem_id == problem.id)):
        suggestion.problem_id = None
        session.add(suggestion)
    soft_delete(problem, session=session, reason=reason)
    session.add(problem)
    session.flush()
