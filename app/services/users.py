"""User accounts and API tokens, managed by county administrators."""

from datetime import timedelta

from sqlalchemy import Table, select
from sqlmodel import Session, col

from app.listing import Item, columns_of, items
from app.models.base import utcnow
from app.models.branch import Branch
from app.models.township import Township
from app.models.user import (
    ApiToken,
    ApiTokenCreate,
    ApiTokenPublic,
    ApiTokenUpdate,
    Role,
    User,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from app.services import auth
from app.services.actors import Actor, require_county_admin
from app.services.errors import Invalid, NotFound
from app.services.pagination import PageParams, keyset_rows
from app.services.records import apply_changes, check_version, soft_delete


def _check_placement(session: Session, user: User) -> None:
    """Staff belong to a township, secretaries to a branch (and its township)."""
    if user.role == Role.township_staff and user.township_id is None:
        raise Invalid("township_id", "乡镇工作人员必须指定所属乡镇")
    if user.role == Role.branch_secretary:
        if user.branch_id is None:
            raise Invalid("branch_id", "党支部书记必须指定所属党支部")
        branch = session.get(Branch, user.branch_id)
        if branch is None or branch.deleted_at is not None:
            raise Invalid("branch_id", "所选党支部不存在")
        user.township_id = branch.township_id
    elif user.branch_id is not None:
        raise Invalid("branch_id", "只有党支部书记需要指定所属党支部")
    if user.role == Role.county_admin:
        user.township_id = None
    if user.township_id is not None:
        township = session.get(Township, user.township_id)
        if township is None or township.deleted_at is not None:
            raise Invalid("township_id", "所选乡镇不存在")


def _check_unique_username(session: Session, user: User) -> None:
    clash = session.execute(
        select(User.id).where(
            User.username == user.username, col(User.deleted_at).is_(None),
            User.id != (user.id or 0),
        )
    ).first()
    if clash is not None:
        raise Invalid("username", f"用户名“{user.username}”已被使用")


def create_user(*, session: Session, actor: Actor, data: UserCreate) -> User:
    require_county_admin(actor, "管理用户")
    password_hash = auth.hash_password(data.password)
    user = User.model_validate(
        {**data.model_dump(exclude={"password"}), "password_hash": password_hash}
    )
    _check_placement(session, user)
    _check_unique_username(session, user)
    session.add(user)
    session.flush()
    return user


def update_user(
    *, session: Session, actor: Actor, user: User, data: UserUpdate, version: int | None
) -> User:
    require_county_admin(actor, "管理用户")
    check_version(user, version)
    apply_changes(user, data, exclude=frozenset({"password"}))
    if data.password:
        user.password_hash = auth.hash_password(data.password)
    if data.password or not user.active:
        assert user.id is not None
        auth.end_sessions(session, user.id)  # a new password or a deactivation signs out
    _check_placement(session, user)
    session.add(user)
    session.flush()
    return user


def get_user(*, session: Session, actor: Actor, user_id: int) -> User:
    require_county_admin(actor, "管理用户")
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise NotFound("用户不存在")
    return user


_USER: Table = User.__table__  # type: ignore[attr-defined]
_TOKEN: Table = ApiToken.__table__  # type: ignore[attr-defined]


def list_users(
    *, session: Session, actor: Actor, page: PageParams
) -> tuple[list[Item], str | None]:
    """A page of user accounts (`UserPublic` items) and the next page's cursor; Forbidden
    unless a county administrator asks."""
    require_county_admin(actor, "管理用户")
    stmt = select(*columns_of(UserPublic, _USER)).where(_USER.c.deleted_at.is_(None))
    rows, cursor = keyset_rows(session, stmt, keys=[_USER.c.id], key_of=lambda r: [r.id],
                               page=page)
    return items(UserPublic, rows), cursor


def delete_user(*, session: Session, actor: Actor, user: User, version: int | None) -> None:
    require_county_admin(actor, "管理用户")
    check_version(user, version)
    soft_delete(user)
    user.active = False
    assert user.id is not None
    auth.end_sessions(session, user.id)
    session.add(user)
    session.flush()


def create_token(
    *, session: Session, actor: Actor, data: ApiTokenCreate
) -> tuple[ApiToken, str]:
    require_county_admin(actor, "管理 API 令牌")
    if data.township_id is not None:
        township = session.get(Township, data.township_id)
        if township is None or township.deleted_at is not None:
            raise Invalid("township_id", "所选乡镇不存在")
    expires = data.expires_at
    if data.expires_days is not None:
        expires = utcnow() + timedelta(days=data.expires_days)
    return auth.create_api_token(
        session, name=data.name, scope=data.scope, township_id=data.township_id,
        expires_at=expires,
    )


def get_token(*, session: Session, actor: Actor, token_id: int) -> ApiToken:
    require_county_admin(actor, "管理 API 令牌")
    token = session.get(ApiToken, token_id)
    if token is None or token.deleted_at is not None:
        raise NotFound("API 令牌不存在")
    return token


def list_tokens(
    *, session: Session, actor: Actor, page: PageParams
) -> tuple[list[Item], str | None]:
    """A page of API tokens (`ApiTokenPublic` items, never a secret) and the next page's
    cursor; Forbidden unless a county administrator asks."""
    require_county_admin(actor, "管理 API 令牌")
    stmt = select(*columns_of(ApiTokenPublic, _TOKEN)).where(_TOKEN.c.deleted_at.is_(None))
    rows, cursor = keyset_rows(session, stmt, keys=[_TOKEN.c.id], key_of=lambda r: [r.id],
                               page=page)
    return items(ApiTokenPublic, rows), cursor


def update_token(
    *, session: Session, actor: Actor, token: ApiToken, data: ApiTokenUpdate,
    version: int | None,
) -> ApiToken:
    require_county_admin(actor, "管理 API 令牌")
    check_version(token, version)
    if data.name is not None:
        token.name = data.name
    if data.revoked is True and token.revoked_at is None:
        token.revoked_at = utcnow()
    elif data.revoked is False:
        token.revoked_at = None
    session.add(token)
    session.flush()
    return token


def revoke_token(*, session: Session, actor: Actor, token: ApiToken) -> None:
    """DELETE revokes and retires the token."""
    require_county_admin(actor, "管理 API 令牌")
    token.revoked_at = token.revoked_at or utcnow()
    soft_delete(token)
    session.add(token)
    session.flush()
