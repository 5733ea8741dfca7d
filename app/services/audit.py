"""Reading the audit trail, scoped to the records the reader may see."""

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from app.models.audit import AuditEvent
from app.services.activities import get_activity
from app.services.actors import Actor
from app.services.branches import get_branch
from app.services.errors import Forbidden, Invalid
from app.services.feedback import get_form, get_issuance, get_opinion, get_suggestion
from app.services.pagination import PageParams, keyset_page
from app.services.problems import get_problem
from app.services.screenings import get_screening
from app.services.tasks import get_task
from app.services.townships import get_township

# How to check that an actor may see one record of each type (raises NotFound otherwise).
VISIBILITY: dict[str, Callable[[Session, Actor, int], object]] = {
    "branch": lambda s, a, i: get_branch(session=s, actor=a, branch_id=i),
    "township": lambda s, a, i: get_township(session=s, actor=a, township_id=i),
    "problem": lambda s, a, i: get_problem(session=s, actor=a, problem_id=i),
    "task": lambda s, a, i: get_task(session=s, actor=a, task_id=i),
    "screening": lambda s, a, i: get_screening(session=s, actor=a, screening_id=i),
    "activity": lambda s, a, i: get_activity(session=s, actor=a, activity_id=i),
    "suggestion": lambda s, a, i: get_suggestion(session=s, actor=a, suggestion_id=i),
    "opinion": lambda s, a, i: get_opinion(session=s, actor=a, opinion_id=i),
    "feedback_form": lambda s, a, i: get_form(session=s, actor=a, form_id=i),
    "form_issuance": lambda s, a, i: get_issuance(session=s, actor=a, issuance_id=i),
}


@dataclass(frozen=True)
class AuditFilters:
    entity_type: str | None = None
    entity_id: int | None = None
    actor: str | None = None


def list_events(
    *, session: Session, actor: Actor, filters: AuditFilters, page: PageParams
) -> tuple[list[AuditEvent], str | None]:
    """County administrators read the whole trail; others the trail of one record they see."""
    if not actor.is_county_admin:
        if filters.entity_type is None or filters.entity_id is None:
            raise Forbidden(
                "只有县委组织部管理员可以查看全部操作记录;请指定 entity_type 和 entity_id"
            )
        check = VISIBILITY.get(filters.entity_type)
        if check is None:
            raise Invalid("entity_type", "该类型的操作记录只有县委组织部管理员可以查看")
        check(session, actor, filters.entity_id)
    stmt = select(AuditEvent)
    if filters.entity_type:
        stmt = stmt.where(AuditEvent.entity_type == filters.entity_type)
    if filters.entity_id is not None:
        stmt = stmt.where(AuditEvent.entity_id == filters.entity_id)
    if filters.actor:
        stmt = stmt.where(AuditEvent.actor == filters.actor)
    rows, cursor = keyset_page(
        session, stmt, keys=[col(AuditEvent.id)], key_of=lambda r: [r[0].id], page=page
    )
    return [r[0] for r in rows], cursor
