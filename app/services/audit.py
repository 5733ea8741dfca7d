"""Reading the audit trail, scoped to the records the reader may see."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, select
from sqlmodel import Session, col

from app.listing import Item, columns_of, items
from app.models.activity import Activity
from app.models.audit import AuditEvent, AuditEventPublic
from app.models.branch import Branch
from app.models.feedback import FeedbackForm, FormIssuance, Opinion, Suggestion
from app.models.problem import Problem
from app.models.rectification import Acceptance, LiaisonVisit, Rectification, Revisit
from app.models.screening import Screening
from app.models.task import Task
from app.models.township import Township
from app.services.actors import Actor, branch_visible, record_visible, township_visible
from app.services.errors import Forbidden, Invalid, NotFound
from app.services.feedback import suggestion_visible
from app.services.pagination import PageParams, keyset_rows


def _placed(model: Any) -> Callable[[Actor], ColumnElement[bool]]:
    """Visibility of a record placed by township and branch."""
    return lambda actor: record_visible(actor, col(model.township_id), col(model.branch_id))


# Each type whose trail others than county administrators may read: its table and who may
# see a record of it (the same rule as reading the record itself).
VISIBILITY: dict[str, tuple[Any, Callable[[Actor], ColumnElement[bool]]]] = {
    "branch": (Branch, branch_visible),
    "township": (Township, township_visible),
    "problem": (Problem, _placed(Problem)),
    "task": (Task, _placed(Task)),
    "screening": (Screening, _placed(Screening)),
    "activity": (Activity, _placed(Activity)),
    "suggestion": (Suggestion, suggestion_visible),
    "opinion": (Opinion, _placed(Opinion)),
    "feedback_form": (FeedbackForm, _placed(FeedbackForm)),
    "form_issuance": (FormIssuance, _placed(FormIssuance)),
    "rectification": (Rectification, _placed(Rectification)),
    "liaison_visit": (LiaisonVisit, _placed(LiaisonVisit)),
    "acceptance": (Acceptance, _placed(Acceptance)),
    "revisit": (Revisit, _placed(Revisit)),
}


def check_trail_visible(session: Session, actor: Actor, entity_type: str, entity_id: int) -> None:
    """Raise unless `actor` may read the trail of that record: Invalid for a type only
    county administrators read, NotFound outside the actor's scope. A deleted record's trail
    stays readable to whoever could read the record (it holds the reason of the deletion)."""
    if actor.is_county_admin:
        return
    rule = VISIBILITY.get(entity_type)
    if rule is None:
        raise Invalid("entity_type", "该类型的操作记录只有县委组织部管理员可以查看")
    model, visible = rule
    found = session.execute(select(model.id).where(model.id == entity_id, visible(actor))).first()
    if found is None:
        raise NotFound("记录不存在或无权查看")


@dataclass(frozen=True)
class AuditFilters:
    entity_type: str | None = None
    entity_id: int | None = None
    actor: str | None = None


_AUDIT: Table = AuditEvent.__table__  # type: ignore[attr-defined]


def list_events(
    *, session: Session, actor: Actor, filters: AuditFilters, page: PageParams
) -> tuple[list[Item], str | None]:
    """County administrators read the whole trail; others the trail of one record they see."""
    if not actor.is_county_admin:
        if filters.entity_type is None or filters.entity_id is None:
            raise Forbidden(
                "只有县委组织部管理员可以查看全部操作记录;请指定 entity_type 和 entity_id"
            )
        check_trail_visible(session, actor, filters.entity_type, filters.entity_id)
    stmt = select(*columns_of(AuditEventPublic, _AUDIT))
    if filters.entity_type:
        stmt = stmt.where(AuditEvent.entity_type == filters.entity_type)
    if filters.entity_id is not None:
        stmt = stmt.where(AuditEvent.entity_id == filters.entity_id)
    if filters.actor:
        stmt = stmt.where(AuditEvent.actor == filters.actor)
    rows, cursor = keyset_rows(
        session, stmt, keys=[_AUDIT.c.id], key_of=lambda r: [r.id], page=page
    )
    return items(AuditEventPublic, rows), cursor
