"""The audit trail captured in session events: who changed which field from what to what."""

from decimal import Decimal

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from app.db import set_audit_action, transaction
from app.models.audit import AuditEvent
from app.models.base import utcnow
from app.models.user import Role
from app.services.auth import hash_password
from tests.factories import committed, make_branch, make_township, make_user


def events(engine: Engine, entity_type: str, entity_id: int | None) -> list[AuditEvent]:
    with Session(engine) as s:
        return list(s.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
            .order_by(col(AuditEvent.id))
        ))


def test_create_records_every_set_field_as_new_value(engine: Engine) -> None:
    with transaction(engine, actor="user:alice") as s:
        township = make_township(s, name="审计镇", code="AUD1")
        branch = make_branch(s, township, name="审计村党支部", member_count=30)

    [created] = events(engine, "branch", branch.id)
    assert created.action == "create"
    assert created.actor == "user:alice"
    assert created.changes["name"] == [None, "审计村党支部"]
    assert created.changes["member_count"] == [None, 30]
    assert created.changes["township_id"] == [None, township.id]
    assert "id" not in created.changes and "version" not in created.changes
    assert "notes" not in created.changes  # unset fields are not listed


def test_update_records_old_and_new_values_of_changed_fields_only(engine: Engine) -> None:
    with committed(engine) as s:
        branch = make_branch(s, make_township(s), member_count=30, secretary_name="甲")
    with transaction(engine, actor="user:bob") as s:
        branch = s.merge(branch)
        branch.member_count = 35
        branch.secretary_name = "乙"
        branch.notes = branch.notes  # untouched value: not an audited change

    update = events(engine, "branch", branch.id)[-1]
    assert update.action == "update"
    assert update.actor == "user:bob"
    assert update.changes == {"member_count": [30, 35], "secretary_name": ["甲", "乙"]}


def test_soft_delete_is_audited_as_delete(engine: Engine) -> None:
    with committed(engine) as s:
        branch = make_branch(s, make_township(s))
    with transaction(engine, actor="user:carol") as s:
        branch = s.merge(branch)
        branch.deleted_at = utcnow()

    deleted = events(engine, "branch", branch.id)[-1]
    assert deleted.action == "delete"
    assert deleted.actor == "user:carol"
    old, new = deleted.changes["deleted_at"]
    assert old is None and new is not None
    assert list(deleted.changes) == ["deleted_at"]


def test_named_action_overrides_the_default(engine: Engine) -> None:
    with committed(engine) as s:
        branch = make_branch(s, make_township(s))
    with committed(engine) as s:
        branch = s.merge(branch)
        branch.is_weak_lax = True
        set_audit_action(s, branch, "designate")
    assert events(engine, "branch", branch.id)[-1].action == "designate"


def test_password_hash_is_redacted(engine: Engine) -> None:
    with transaction(engine, actor="user:admin") as s:
        user = make_user(s, Role.viewer)
    with transaction(engine, actor="user:admin") as s:
        user = s.merge(user)
        user.password_hash = hash_password("another-pass-456")

    created, changed = events(engine, "user", user.id)
    assert created.changes["password_hash"] == [None, "***"]
    assert changed.changes == {"password_hash": ["***", "***"]}
    assert "argon2" not in str(created.changes) + str(changed.changes)


def test_a_flush_that_changed_nothing_writes_no_audit_row(engine: Engine) -> None:
    with committed(engine) as s:
        branch = make_branch(
            s, make_township(s), member_count=30, collective_income_wan=Decimal("5.4")
        )
    before = len(events(engine, "branch", branch.id))
    with committed(engine) as s:
        branch = s.merge(branch)
        branch.member_count = 30  # the same value
        branch.collective_income_wan = Decimal("5.40")  # an equal value
        s.flush()
        branch.updated_at = utcnow()  # bookkeeping only: no field of the record changed
        s.flush()
    assert len(events(engine, "branch", branch.id)) == before
    with Session(engine) as s:
        assert all(e.changes for e in s.scalars(select(AuditEvent)))  # and no empty events


def test_a_rolled_back_change_leaves_no_audit_row(engine: Engine) -> None:
    with committed(engine) as s:
        branch = make_branch(s, make_township(s))
    before = len(events(engine, "branch", branch.id))
    session = Session(engine)
    try:
        merged = session.merge(branch)
        merged.member_count = 99
        session.flush()
        session.rollback()
    finally:
        session.close()
    assert len(events(engine, "branch", branch.id)) == before


def test_request_id_is_recorded(engine: Engine) -> None:
    with transaction(engine, actor="user:dave") as s:
        s.info["request_id"] = "req-123"
        township = make_township(s)
    [created] = events(engine, "township", township.id)
    assert created.request_id == "req-123"
