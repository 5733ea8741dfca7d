"""A record's history (修改记录) in Chinese, from its audit events: who, when, which field
from what to what, the action and the reason. One helper for every type of record."""

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app import clock
from app.labels import LABELS, label
from app.models.audit import AuditEvent
from app.models.branch import Branch
from app.models.campaign import Campaign, Criterion
from app.models.rectification import AcceptanceItem
from app.models.township import Township
from app.services.actors import Actor, actor_names
from app.services.audit import AuditFilters, list_events
from app.services.errors import NotFound
from app.services.pagination import PageParams

# the label group of a field's codes; `kind` depends on the record
_VALUE_GROUPS = {
    "theme": "theme", "respondent_kind": "respondent_kind", "satisfaction": "satisfaction",
    "source": "problem_source", "status": "task_status", "conclusion": "conclusion",
    "role": "role", "scope": "token_scope",
}
_KIND_GROUPS = {"activity": "activity_kind", "branch": "branch_kind"}
# a field whose codes mean something else on this type of record
_TYPE_GROUPS = {
    ("rectification", "status"): "rectification_status", ("liaison_visit", "role"):
    "liaison_role", ("acceptance", "grade"): "grade", ("revisit", "result"): "revisit_result",
    ("campaign", "status"): "campaign_status",
}
# a list of codes, shown as their labels joined by 、
_LIST_GROUPS = {"weak_types": "weak_type"}
# bookkeeping columns a person never set
_HIDDEN = frozenset({"deleted_at", "submitted_by_id", "submitted_by_role"})

# where each type of record is shown, to go back to it from its history
_PAGES = {
    "branch": "/branches/{id}", "problem": "/problems/{id}", "task": "/tasks/{id}",
    "screening": "/screenings/{id}", "feedback_form": "/feedback/forms/{id}",
    "opinion": "/feedback/opinions/{id}/edit", "suggestion": "/feedback/suggestions/{id}/edit",
    "form_issuance": "/feedback/issuances/{id}/edit", "activity": "/activities/{id}/edit",
    "rectification": "/rectifications/{id}",
}


@dataclass(frozen=True)
class FieldChange:
    """One field of one event: its Chinese label, the old and the new value as shown."""

    name: str
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    """One audit event as a person reads it."""

    at: datetime
    who: str
    action: str
    reason: str | None
    changes: list[FieldChange] = field(default_factory=list)


def record_page(entity_type: str, entity_id: int) -> str | None:
    """The page that shows the record, or None for types without one."""
    template = _PAGES.get(entity_type)
    return template.format(id=entity_id) if template else None


def action_label(action: str) -> str:
    """新建/修改/删除, or the name of a task's step (开始整改, 退回...)."""
    for group in ("audit_action", "task_action"):
        if action in LABELS.get(group, {}):
            return label(group, action)
    return action


class _Names:
    """Names of the records that ids in the changes point at, looked up once per page."""

    def __init__(self, session: Session, events: list[AuditEvent]) -> None:
        def ids(key: str) -> set[int]:
            return {v for e in events for v in (e.changes.get(key) or [])
                    if isinstance(v, int) and not isinstance(v, bool)}

        branch_ids, township_ids, campaign_ids = (ids("branch_id"), ids("township_id"),
                                                  ids("campaign_id"))
        codes = {v for e in events for v in (e.changes.get("category") or [])
                 if isinstance(v, str)}
        self.branch: dict[int, str] = self._lookup(session, Branch.id, Branch.name, branch_ids)
        self.township: dict[int, str] = self._lookup(session, Township.id, Township.name,
                                                     township_ids)
        self.campaign: dict[int, str] = self._lookup(session, Campaign.id, Campaign.name,
                                                     campaign_ids)
        codes |= {r.get("code") for e in events for v in (e.changes.get("results") or [])
                  if isinstance(v, list) for r in v if isinstance(r, dict)}
        self.category: dict[str, str] = self._lookup(session, Criterion.code, Criterion.label,
                                                     codes)
        items = {r.get("code") for e in events for v in (e.changes.get("item_scores") or [])
                 if isinstance(v, list) for r in v if isinstance(r, dict)}
        self.item: dict[str, str] = self._lookup(session, AcceptanceItem.code,
                                                 AcceptanceItem.label, items)

    @staticmethod
    def _lookup(session: Session, key: Any, value: Any, wanted: set[Any]) -> dict[Any, str]:
        if not wanted:
            return {}
        return dict(session.execute(  # type: ignore[arg-type]
            select(key, value).where(col(key).in_(wanted))).all())


def _shown(entity_type: str, name: str, value: Any, names: _Names) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if name == "branch_id":
        return names.branch.get(value, f"编号 {value}")
    if name == "township_id":
        return names.township.get(value, f"编号 {value}")
    if name == "campaign_id":
        return names.campaign.get(value, f"编号 {value}")
    if name.endswith("_id") and isinstance(value, int):
        return f"编号 {value}"
    if name == "category":
        return names.category.get(value, str(value))
    if name in _LIST_GROUPS and isinstance(value, list):
        return "、".join(label(_LIST_GROUPS[name], v) for v in value)
    group = (_KIND_GROUPS.get(entity_type) if name == "kind"
             else _TYPE_GROUPS.get((entity_type, name)) or _VALUE_GROUPS.get(name))
    if group:
        return label(group, value)
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            return clock.local_text(datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        shown = _shown_rows(name, value, names)
        if shown is not None:
            return shown
    if isinstance(value, list | dict):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 200 else text[:200] + "…"
    return str(value)


def _shown_rows(name: str, rows: list[dict[str, Any]], names: _Names) -> str | None:
    """The score sheet, the ratings and a screening's results as people read them."""
    if name == "item_scores":
        return "、".join(f"{names.item.get(r.get('code'), r.get('code'))}{r.get('score')}分"
                        for r in rows)
    if name == "ratings":
        return ";".join(f"{label('rating_dimension', r.get('dimension'))}:满意"
                        f"{r.get('satisfied', 0)}、基本满意{r.get('basic', 0)}、"
                        f"不满意{r.get('dissatisfied', 0)}" for r in rows)
    if name == "results":
        hits = [names.category.get(r.get("code"), str(r.get("code"))) for r in rows
                if r.get("hit")]
        return "存在:" + "、".join(hits) if hits else "未发现所列情形"
    return None


def record_history(
    *, session: Session, actor: Actor, entity_type: str, entity_id: int,
    page: PageParams | None = None,
) -> tuple[list[HistoryEntry], str | None]:
    """The record's audit events, oldest first, as people read them; the next page's cursor.

    Scoped as `GET /audit-events`: NotFound for a type of record that does not exist or a
    record outside the actor's scope, Invalid for a type only county administrators read."""
    if entity_type not in LABELS["record_type"]:
        raise NotFound("没有这种记录")
    events, cursor = list_events(
        session=session, actor=actor,
        filters=AuditFilters(entity_type=entity_type, entity_id=entity_id),
        page=page or PageParams(limit=200),
    )
    people = actor_names(session, {e.actor for e in events})
    names = _Names(session, events)
    entries = [
        HistoryEntry(
            at=e.at, who=people.get(e.actor, e.actor), action=action_label(e.action),
            reason=e.reason,
            changes=[
                FieldChange(k, label("field", k), _shown(entity_type, k, v[0], names),
                            _shown(entity_type, k, v[1], names))
                for k, v in e.changes.items()
                if k not in _HIDDEN and isinstance(v, list) and len(v) == 2
            ],
        )
        for e in events
    ]
    return entries, cursor
