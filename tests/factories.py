"""Small factories: a record with sensible defaults, overridden per test."""

import itertools
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import transaction
from app.models.branch import Branch, BranchKind
from app.models.township import Township
from app.models.user import Role, TokenScope, User
from app.services.auth import create_api_token, hash_password

PASSWORD = "test-pass-123"
_seq = itertools.count(1)
_hash_cache: dict[str, str] = {}


def _password_hash(password: str) -> str:
    if password not in _hash_cache:
        _hash_cache[password] = hash_password(password)
    return _hash_cache[password]


def make_township(session: Session, **overrides: Any) -> Township:
    n = next(_seq)
    township = Township(**{"name": f"测试镇{n}", "code": f"T{n:04d}", **overrides})
    session.add(township)
    session.flush()
    return township


def make_branch(session: Session, township: Township, **overrides: Any) -> Branch:
    n = next(_seq)
    values: dict[str, Any] = {
        "township_id": township.id, "name": f"测试村{n}党支部", "kind": BranchKind.village,
        "member_count": 30, "members_35_under": 5, "members_36_55": 15, "members_56_over": 10,
        "secretary_is_director": True,
    }
    branch = Branch(**{**values, **overrides})
    session.add(branch)
    session.flush()
    return branch


def make_user(
    session: Session, role: Role, *, township: Township | None = None,
    branch: Branch | None = None, username: str | None = None, password: str = PASSWORD,
    **overrides: Any,
) -> User:
    n = next(_seq)
    user = User(
        username=username or f"{role.value}{n}", display_name=f"{role.value} {n}", role=role,
        township_id=township.id if township else (branch.township_id if branch else None),
        branch_id=branch.id if branch else None, password_hash=_password_hash(password),
        **overrides,
    )
    session.add(user)
    session.flush()
    return user


def make_token(
    session: Session, *, scope: TokenScope = TokenScope.read, township: Township | None = None,
    **overrides: Any,
) -> str:
    _token, secret = create_api_token(
        session, name=overrides.pop("name", f"系统{next(_seq)}"), scope=scope,
        township_id=township.id if township else None,
        expires_at=overrides.pop("expires_at", None),
    )
    return secret


def committed(engine: Engine) -> Any:
    """A transaction that commits, for arranging data the app will read."""
    return transaction(engine, actor="test")
