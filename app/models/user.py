"""People and systems that act on the service: users, API tokens, login sessions."""

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.models.base import Timestamped, UTCDateTime, Versioned, enum_type, utc_field
from app.models.forms import BlankIsNull


class Role(StrEnum):
    county_admin = "county_admin"
    township_staff = "township_staff"
    branch_secretary = "branch_secretary"
    viewer = "viewer"


class TokenScope(StrEnum):
    read = "read"
    write = "write"


class UserBase(SQLModel):
    """Fields an administrator sets on a user."""

    # pydantic 2 ignores SQLModel's `regex=`; the pattern must be given as `pattern`
    username: str = Field(
        min_length=2, max_length=50, schema_extra={"pattern": r"^[A-Za-z0-9_.\-]+$"}
    )
    display_name: str = Field(min_length=1, max_length=50)
    role: Role = Field(sa_type=enum_type(Role))
    township_id: int | None = Field(default=None, foreign_key="township.id")
    branch_id: int | None = Field(default=None, foreign_key="branch.id")
    active: bool = True


class User(UserBase, Versioned, table=True):
    """A person's account; `password_hash` is argon2."""

    __tablename__ = "user_account"
    __feed_type__: ClassVar[str | None] = "user"
    __table_args__ = (
        Index(
            "uq_user_account_username_live", "username", unique=True,
            sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL"),
        ),
    )
    password_hash: str = Field(max_length=200)

    def audit_redacted(self) -> frozenset[str]:
        return frozenset({"password_hash"})

    def feed_data(self) -> dict[str, object]:
        data = super().feed_data()
        data.pop("password_hash", None)
        return data


class UserCreate(BlankIsNull, UserBase):
    """Body of `POST /users`."""

    password: str = Field(min_length=8, max_length=200)


class UserUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /users/{id}`."""

    display_name: str | None = Field(default=None, min_length=1, max_length=50)
    role: Role | None = None
    township_id: int | None = None
    branch_id: int | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=200)
    version: int | None = None


class UserPublic(UserBase):
    """A user as the API answers it (never the hash)."""

    id: int
    version: int
    created_at: datetime


class ApiTokenBase(SQLModel):
    """Fields an administrator sets on a token."""

    name: str = Field(min_length=1, max_length=100)
    scope: TokenScope = Field(default=TokenScope.read, sa_type=enum_type(TokenScope))
    township_id: int | None = Field(default=None, foreign_key="township.id")
    expires_at: datetime | None = utc_field()


class ApiToken(ApiTokenBase, Versioned, table=True):
    """A county system's credential; only the sha256 of the secret is kept."""

    __tablename__ = "api_token"
    __feed_type__: ClassVar[str | None] = "api_token"
    prefix: str = Field(max_length=16, index=True)
    secret_hash: str = Field(max_length=64, unique=True)
    revoked_at: datetime | None = utc_field()
    last_used_at: datetime | None = utc_field()

    def audit_redacted(self) -> frozenset[str]:
        return frozenset({"secret_hash", "last_used_at"})

    def feed_data(self) -> dict[str, object]:
        data = super().feed_data()
        data.pop("secret_hash", None)
        return data


class ApiTokenCreate(BlankIsNull, ApiTokenBase):
    """Body of `POST /tokens`."""

    expires_days: int | None = Field(default=None, ge=1, le=3650)


class ApiTokenUpdate(BlankIsNull, SQLModel):
    """Body of `PATCH /tokens/{id}`: rename or revoke."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    revoked: bool | None = None
    version: int | None = None


class ApiTokenPublic(ApiTokenBase):
    """A token as the API answers it; `secret` only in the answer that created it."""

    id: int
    version: int
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    secret: str | None = None


class LoginSession(Timestamped, table=True):
    """A person's signed-in session; the cookie carries the token, the table its sha256."""

    __tablename__ = "login_session"
    token_hash: str = Field(max_length=64, unique=True)
    csrf_token: str = Field(max_length=64)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class LoginThrottle(Timestamped, table=True):
    """Login attempts not yet followed by a success, per username and source address, for
    slowing and then refusing guessing from that address (never from elsewhere)."""

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("username", "address",
                                       name="uq_login_throttle_username_address"),)
    username: str = Field(max_length=50)
    address: str = Field(default="", max_length=64)
    failures: int = 0
    first_failure_at: datetime | None = utc_field()
    locked_until: datetime | None = utc_field()


class LoginRequest(BlankIsNull, SQLModel):
    """Body of `POST /auth/login`."""

    username: str = Field(min_length=1, max_length=50)
    password: str = Field(min_length=1, max_length=200)


class LoginResult(SQLModel):
    """Answer of a successful login."""

    user: UserPublic
    csrf_token: str
