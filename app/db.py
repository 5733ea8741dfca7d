"""Engine, sessions, and the capture of every write into the audit trail and the change feed.

Capture happens in session events, so a table joins both by declaring `__feed_type__`
(see `app.models.base.Versioned`) and no service writes audit or feed rows by hand.

Commit order of the change feed: just before a transaction commits it increments the
single `change_counter` row and stamps its changes with the new value. The row lock is held
until the commit, so a transaction that stamps later also commits later; a reader that sees
sequence N therefore already sees every sequence below N. Transactions that started
earlier but commit later get a later number, so a reader following the cursor never skips
them.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from pydantic_core import to_jsonable_python
from sqlalchemy import Engine, event, insert, inspect, text
from sqlalchemy.orm import Session as SASession
from sqlalchemy.orm import SessionTransaction, UOWTransaction
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from app.config import Settings, get_settings
from app.models.audit import AuditEvent
from app.models.base import Versioned, utcnow
from app.models.change import Change

_engines: dict[str, Engine] = {}


def json_loads(text: str | bytes) -> Any:
    """A JSON column's value: parsed by orjson (the change feed reads a million of them),
    by the standard library when orjson refuses it (NaN, integers beyond 64 bits): the same
    values either way. Raises ValueError for text that is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine configured for SQLite (WAL, foreign keys, explicit BEGIN) or PostgreSQL."""
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if memory else None,
            hide_parameters=True,  # errors in the log never carry values (secrets, hashes)
            json_deserializer=json_loads,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A writing request takes the write lock up front: a deferred transaction that
            # read first and wrote later would fail at once if another writer came between.
            immediate = conn.get_execution_options().get("sqlite_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(
        url, pool_size=pool_size, max_overflow=0, pool_pre_ping=True, pool_timeout=30,
        hide_parameters=True,  # errors in the log never carry values (secrets, hashes)
        json_deserializer=json_loads,
    )


def get_engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    url = settings.database_url
    if url not in _engines:
        _engines[url] = make_engine(url, pool_size=settings.db_pool_size)
    return _engines[url]


def new_session(engine: Engine, *, write: bool = False) -> Session:
    """A session; `write=True` takes SQLite's write lock at BEGIN (no effect on PostgreSQL)."""
    bind = engine.execution_options(sqlite_immediate=True) if write else engine
    return Session(bind, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine, *, actor: str = "system", write: bool = True) -> Iterator[Session]:
    """A unit of work outside a request (CLI, demo, tests): commit on success, else roll back."""
    session = new_session(engine, write=write)
    session.info["actor"] = actor
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def set_audit_action(session: Session, obj: Versioned, action: str) -> None:
    """Name the next audit event of `obj` (default: create, update or delete)."""
    session.info.setdefault("audit_actions", {})[id(obj)] = action


def set_audit_reason(session: Session, obj: Versioned, reason: str | None) -> None:
    """Give the next audit event of `obj` the person's reason (a deletion, an extension...)."""
    if reason:
        session.info.setdefault("audit_reasons", {})[id(obj)] = reason


def _tracked(obj: object) -> bool:
    return isinstance(obj, Versioned) and obj.__feed_type__ is not None


def _jsonable(value: Any) -> Any:
    return to_jsonable_python(value)


def _field_changes(obj: Versioned) -> dict[str, list[Any]]:
    redacted = obj.audit_redacted()
    state = inspect(obj)
    changes: dict[str, list[Any]] = {}
    for attr in state.mapper.column_attrs:
        name = attr.key
        if name in ("updated_at", "version"):
            continue
        hist = state.attrs[name].history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old == new:
            continue
        if name in redacted:
            changes[name] = ["***", "***"]
        else:
            changes[name] = [_jsonable(old), _jsonable(new)]
    return changes


def _created_fields(obj: Versioned) -> dict[str, list[Any]]:
    redacted = obj.audit_redacted()
    skip = {"id", "created_at", "updated_at", "version", "deleted_at"}
    return {
        k: [None, "***" if k in redacted else _jsonable(v)]
        for k, v in obj.model_dump().items()
        if k not in skip and v is not None
    }


@event.listens_for(SASession, "before_flush")
def _capture_before_flush(session: SASession, _ctx: UOWTransaction, _instances: Any) -> None:
    pending: list[tuple[Versioned, str, dict[str, list[Any]], str | None]] = (
        session.info.setdefault("audit_pending", [])
    )
    actions: dict[int, str] = session.info.get("audit_actions", {})
    reasons: dict[int, str] = session.info.get("audit_reasons", {})
    now = utcnow()
    for obj in session.new:
        if _tracked(obj):
            pending.append((obj, actions.pop(id(obj), "create"), _created_fields(obj),
                            reasons.pop(id(obj), None)))
    for obj in session.dirty:
        if not _tracked(obj) or not session.is_modified(obj, include_collections=False):
            continue
        changes = _field_changes(obj)
        if not changes:
            continue
        obj.updated_at = now
        default = "delete" if "deleted_at" in changes and obj.deleted_at else "update"
        pending.append((obj, actions.pop(id(obj), default), changes, reasons.pop(id(obj), None)))


@event.listens_for(SASession, "after_flush")
def _capture_after_flush(session: SASession, _ctx: UOWTransaction) -> None:
    pending = session.info.pop("audit_pending", [])
    feed: dict[tuple[str, int], Versioned] = session.info.setdefault("feed_pending", {})
    rows = []
    for obj, action, changes, reason in pending:
        assert obj.id is not None and obj.__feed_type__ is not None
        feed[(obj.__feed_type__, obj.id)] = obj
        rows.append({
            "at": utcnow(), "actor": session.info.get("actor", "system"),
            "action": action, "entity_type": obj.__feed_type__, "entity_id": obj.id,
            "changes": changes, "request_id": session.info.get("request_id"),
            "reason": reason,
        })
    if rows:
        session.connection().execute(insert(AuditEvent.__table__), rows)  # type: ignore[attr-defined]


@event.listens_for(SASession, "before_commit")
def _stamp_changes(session: SASession) -> None:
    session.flush()
    feed: dict[tuple[str, int], Versioned] = session.info.pop("feed_pending", {})
    if not feed:
        return
    conn = session.connection()
    seq = conn.execute(
        text("UPDATE change_counter SET value = value + 1 WHERE id = 1 RETURNING value")
    ).scalar_one()
    rows = [
        {
            "commit_seq": seq, "type": type_, "entity_id": entity_id,
            "op": "delete" if obj.deleted_at else "upsert", "version": obj.version,
            "township_id": obj.feed_township_id(),
            "data": None if obj.deleted_at else obj.feed_data(),
        }
        for (type_, entity_id), obj in feed.items()
    ]
    conn.execute(insert(Change.__table__), rows)  # type: ignore[attr-defined]


@event.listens_for(SASession, "after_transaction_end")
def _forget_pending(session: SASession, transaction: SessionTransaction) -> None:
    # The outermost transaction ended (commit, rollback, or close() without either): what
    # it flushed but did not commit must not be stamped by the session's next transaction.
    if transaction.parent is None:
        for key in ("audit_pending", "feed_pending", "audit_actions", "audit_reasons"):
            session.info.pop(key, None)
