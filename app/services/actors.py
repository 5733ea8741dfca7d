"""Who is acting, and what they may see and change — decided here and nowhere else."""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, select, true
from sqlmodel import Session, col

from app.models.branch import Branch
from app.models.township import Township
from app.models.user import ApiToken, Role, User
from app.services.errors import Forbidden


@dataclass(frozen=True)
class Actor:
    """A signed-in person or an API token, with the township/branch it is limited to."""

    label: str  # "user:<username>" or "token:<prefix>", as the audit trail names it
    role: Role | None  # None for API tokens
    township_id: int | None
    branch_id: int | None = None
    user_id: int | None = None
    token_id: int | None = None
    token_can_write: bool = False
    display_name: str = ""

    @property
    def is_token(self) -> bool:
        return self.token_id is not None

    @property
    def is_county(self) -> bool:
        return self.township_id is None and self.role != Role.branch_secretary

    @property
    def is_county_admin(self) -> bool:
        return self.role == Role.county_admin


SYSTEM = Actor(label="system", role=Role.county_admin, township_id=None)


def branch_visible(actor: Actor) -> ColumnElement[bool]:
    """SQL condition: the branches this actor may read."""
    if actor.role == Role.branch_secretary:
        return Branch.id == actor.branch_id if actor.branch_id else false()  # type: ignore[return-value]
    if actor.township_id is None:
        return true()
    return Branch.township_id == actor.township_id  # type: ignore[return-value]


def record_visible(
    actor: Actor, township_col: ColumnElement[int], branch_col: ColumnElement[int | None]
) -> ColumnElement[bool]:
    """SQL condition for a record placed by township and (optionally) branch."""
    if actor.role == Role.branch_secretary:
        return branch_col == actor.branch_id if actor.branch_id else false()  # type: ignore[return-value]
    if actor.township_id is None:
        return true()
    return township_col == actor.township_id  # type: ignore[return-value]


def township_visible(actor: Actor) -> ColumnElement[bool]:
    """SQL condition: the townships this actor may read (a secretary sees their own)."""
    if actor.township_id is None and actor.role != Role.branch_secretary:
        return true()
    return Township.id == actor.township_id  # type: ignore[return-value]


def require_township_write(actor: Actor, township_id: int, what: str = "党支部名册") -> None:
    """Raise unless the actor may change `what` of `township_id` (staff of it, county, token)."""
    if actor.is_token:
        if not actor.token_can_write:
            raise Forbidden("该 API 令牌只有读取权限")
        if actor.township_id not in (None, township_id):
            raise Forbidden("该 API 令牌不能修改其他乡镇的数据")
        return
    if actor.role == Role.county_admin:
        return
    if actor.role == Role.township_staff and actor.township_id == township_id:
        return
    if actor.role == Role.township_staff:
        raise Forbidden(f"乡镇工作人员只能管理本乡镇的{what}")
    raise Forbidden(f"当前角色不能修改{what}")


def require_register_write(actor: Actor, township_id: int) -> None:
    """Raise unless the actor may change the branch register of `township_id`."""
    require_township_write(actor, township_id, "党支部名册")


def require_county_admin(actor: Actor, what: str, *, allow_token: bool = False) -> None:
    """Raise unless a county administrator (or, if allowed, a county-wide write token) acts."""
    if actor.is_token:
        if allow_token and actor.token_can_write and actor.township_id is None:
            return
        raise Forbidden(f"API 令牌不能{what}")
    if actor.role != Role.county_admin:
        raise Forbidden(f"只有县委组织部管理员可以{what}")


def actor_names(session: Session, labels: Iterable[str]) -> dict[str, str]:
    """What people call the actors the audit trail names: `user:<username>` → display name,
    `token:<prefix>` → API 令牌“<name>”, `system` and `cli:<command>` → 系统. Labels not
    found are left out (show the label itself)."""
    labels = set(labels)
    names = {a: "系统" for a in labels if a == "system" or a.startswith("cli:")}
    users = {a.removeprefix("user:") for a in labels if a.startswith("user:")}
    tokens = {a.removeprefix("token:") for a in labels if a.startswith("token:")}
    if users:
        for username, display in session.execute(
                select(User.username, User.display_name).where(col(User.username).in_(users))):
            if display:
                names[f"user:{username}"] = display
    if tokens:
        for prefix, name in session.execute(
                select(ApiToken.prefix, ApiToken.name).where(col(ApiToken.prefix).in_(tokens))):
            names[f"token:{prefix}"] = f"API 令牌“{name}”"
    return names
