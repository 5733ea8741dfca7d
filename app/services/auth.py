"""Passwords, sign-in sessions with CSRF tokens, login throttling and API tokens."""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import Engine, Table, bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col

from app.config import Settings
from app.db import transaction
from app.models.base import utcnow
from app.models.branch import Branch
from app.models.user import ApiToken, LoginSession, LoginThrottle, Role, TokenScope, User
from app.services.actors import Actor
from app.services.errors import TooManyRequests, Unauthorized

log = logging.getLogger("rectify")
_hasher = PasswordHasher()
TOKEN_PREFIX = "rct_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class LoginOutcome:
    user: User
    session_token: str
    csrf_token: str
    expires_at: datetime


def _throttle_row(session: Session, username: str, address: str) -> LoginThrottle | None:
    return session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.username == username, LoginThrottle.address == address)
        .with_for_update()
    ).first()


def _count_attempt(session: Session, username: str, address: str, settings: Settings) -> float:
    now = utcnow()
    window = timedelta(minutes=settings.login_lock_minutes)
    row = _throttle_row(session, username, address)
    if row is None:
        row = LoginThrottle(username=username, address=address, failures=0)
    if row.locked_until and row.locked_until > now:
        wait = int((row.locked_until - now).total_seconds()) + 1
        raise TooManyRequests(
            f"登录失败次数过多,请 {max(1, wait // 60)} 分钟后再试", retry_after=wait
        )
    if row.first_failure_at is None or now - row.first_failure_at > window:
        row.failures, row.first_failure_at, row.locked_until = 0, now, None
    row.failures += 1
    if row.failures >= settings.login_max_failures:
        row.locked_until = now + window  # this attempt is the last one checked
    row.updated_at = now
    session.add(row)
    session.flush()
    if row.failures <= settings.login_slow_after:
        return 0.0
    return min(settings.login_delay_seconds * (row.failures - settings.login_slow_after), 5.0)


def count_attempt(engine: Engine, username: str, address: str, settings: Settings) -> float:
    """Count a login attempt of `username` from `address` before its password is checked,
    in a committed transaction of its own (the row locked meanwhile), so parallel attempts
    never get more checks than `login_max_failures`. Answers the seconds to wait before the
    check (slows guessing); raises TooManyRequests (429) while the pair is locked."""
    for _ in range(2):
        try:
            with transaction(engine) as session:
                return _count_attempt(session, username, address, settings)
        except IntegrityError:  # a simultaneous first attempt made the row: count again
            continue
    with transaction(engine) as session:
        return _count_attempt(session, username, address, settings)


def clear_attempts(session: Session, username: str, address: str) -> None:
    """After a successful login the pair starts afresh."""
    session.execute(delete(LoginThrottle).where(
        LoginThrottle.username == username, LoginThrottle.address == address
    ))


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalars(
        select(User).where(User.username == username, col(User.deleted_at).is_(None))
    ).first()
    if user is None or not user.active:
        hash_password(password)  # same cost whether or not the user exists
        return None
    return user if verify_password(user.password_hash, password) else None


def open_session(session: Session, user: User, settings: Settings) -> LoginOutcome:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(hours=settings.session_hours)
    assert user.id is not None
    session.add(
        LoginSession(token_hash=sha256(token), csrf_token=csrf, user_id=user.id, expires_at=expires)
    )
    session.execute(delete(LoginSession).where(col(LoginSession.expires_at) < utcnow()))
    return LoginOutcome(user=user, session_token=token, csrf_token=csrf, expires_at=expires)


def close_session(session: Session, token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_hash == sha256(token)))


def end_sessions(session: Session, user_id: int) -> None:
    """Sign the user out everywhere (after a password change, reset or deactivation)."""
    session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))


def actor_for_user(session: Session, user: User) -> Actor:
    township_id = user.township_id
    if user.role == Role.branch_secretary and user.branch_id is not None:
        branch = session.get(Branch, user.branch_id)
        township_id = branch.township_id if branch else None
    return Actor(
        label=f"user:{user.username}", role=user.role, township_id=township_id,
        branch_id=user.branch_id, user_id=user.id, display_name=user.display_name,
    )


def actor_from_session_token(session: Session, token: str) -> tuple[Actor, str] | None:
    """The actor and CSRF token of a live sign-in session, or None."""
    row = session.execute(
        select(LoginSession, User)
        .join(User, col(User.id) == LoginSession.user_id)
        .where(LoginSession.token_hash == sha256(token))
    ).first()
    if row is None:
        return None
    login, user = row
    if login.expires_at < utcnow() or not user.active or user.deleted_at is not None:
        return None
    return actor_for_user(session, user), login.csrf_token


def create_api_token(
    session: Session,
    *,
    name: str,
    scope: TokenScope,
    township_id: int | None,
    expires_at: datetime | None,
) -> tuple[ApiToken, str]:
    """A new token and its secret (shown once; only its sha256 is kept)."""
    body = secrets.token_urlsafe(32)
    secret = f"{TOKEN_PREFIX}{body}"
    token = ApiToken(
        name=name, scope=scope, township_id=township_id, expires_at=expires_at,
        prefix=secret[: len(TOKEN_PREFIX) + 8], secret_hash=sha256(secret),
    )
    session.add(token)
    session.flush()
    return token, secret


def _mark_used(session: Session, token_id: int, now: datetime) -> None:
    # A plain UPDATE: bookkeeping, not a change of the record (no version, audit or feed).
    # Conditional, so concurrent requests of one token update it once a minute instead of
    # queueing on the row one after another.
    stale = now - LAST_USED_RESOLUTION
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id,
               or_(col(ApiToken.last_used_at).is_(None), col(ApiToken.last_used_at) < stale))
        .values(last_used_at=now)
    )


def touch_token(engine: Engine, token_id: int) -> None:
    """Record a token's use in a short transaction of its own; bookkeeping that never
    fails the request it comes from (a busy database just skips this minute's mark)."""
    try:
        with transaction(engine) as session:
            _mark_used(session, token_id, utcnow())
    except OperationalError as exc:
        log.info("last_used_at of token %s not recorded: %s", token_id, type(exc.orig).__name__)


_TOKEN: Table = ApiToken.__table__  # type: ignore[attr-defined]
# the columns the check reads, without the ORM: it runs on every request a token sends
_TOKEN_BY_HASH = select(
    _TOKEN.c.id, _TOKEN.c.prefix, _TOKEN.c.name, _TOKEN.c.scope, _TOKEN.c.township_id,
    _TOKEN.c.expires_at, _TOKEN.c.revoked_at, _TOKEN.c.last_used_at, _TOKEN.c.deleted_at,
).where(_TOKEN.c.secret_hash == bindparam("secret_hash"))


def actor_from_api_token(session: Session, secret: str) -> Actor:
    """The actor of the API token whose secret is `secret`; marks it used (once a minute).
    Raises Unauthorized when no token has that secret, or it is deleted, revoked or expired."""
    token = session.connection().execute(
        _TOKEN_BY_HASH, {"secret_hash": sha256(secret)}).first()
    now = utcnow()
    if token is None or token.deleted_at is not None:
        raise Unauthorized("API 令牌无效")
    if token.revoked_at is not None:
        raise Unauthorized("API 令牌已被吊销")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthorized("API 令牌已过期")
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        assert token.id is not None
        if session.get_bind().dialect.name == "sqlite":
            # a write inside SQLite's read transaction fails ("database is locked") when
            # another connection wrote meanwhile: the request's route writes it after its
            # own transaction ends (`touch_token`)
            session.info["token_used"] = token.id
        else:
            _mark_used(session, token.id, now)
    return Actor(
        label=f"token:{token.prefix}", role=None, township_id=token.township_id,
        token_id=token.id, token_can_write=token.scope == TokenScope.write,
        display_name=token.name,
    )
