"""`/audit-events`: the append-only audit trail."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import CurrentActor, PageDep, SessionDep
from app.api.represent import Page, respond_page
from app.api.routing import TransactionRoute
from app.models.audit import AuditEventPublic
from app.services.audit import AuditFilters, list_events

router = APIRouter(prefix="/audit-events", tags=["audit"], route_class=TransactionRoute)


@router.get("", response_model=Page[AuditEventPublic])
def list_audit_events(
    request: Request, session: SessionDep, actor: CurrentActor, page: PageDep,
    entity_type: Annotated[str | None, Query(max_length=40)] = None,
    entity_id: int | None = None,
    actor_label: Annotated[str | None, Query(alias="actor", max_length=100)] = None,
) -> Response:
    """Audit events, oldest first, filtered by record or actor."""
    filters = AuditFilters(entity_type=entity_type, entity_id=entity_id, actor=actor_label)
    rows, cursor = list_events(session=session, actor=actor, filters=filters, page=page)
    return respond_page(request, rows, cursor, fragment="fragments/audit_rows.html")
