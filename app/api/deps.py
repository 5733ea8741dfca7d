"""The `Annotated` aliases every endpoint uses: session, actor, paging, version, loaders."""

import re
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Body, Depends, Header, Path, Query, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.models.branch import Branch
from app.models.forms import DeletionRequest
from app.models.township import Township
from app.services import auth
from app.services.actors import Actor
from app.services.branches import get_branch
from app.services.errors import Forbidden, Invalid, Unauthorized
from app.services.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageParams
from app.services.records import ANY_VERSION
from app.services.townships import get_township

SESSION_COOKIE = "rectify_session"
_URL_SAFE = "/?&=#%:@!$'()*+,;~-._"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def site_path(target: str | None) -> str:
    """`target` when it is a path of this site (percent-encoded to plain ASCII), else "/".

    Browsers drop tabs and line breaks from a URL and read `\\` as `/`, so `/%09/evil.example`
    and `/%5Cevil.example` lead elsewhere: any whitespace, control character or backslash,
    a second leading slash, a scheme or a host refuses the target.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return quote(target, safe=_URL_SAFE)


# Dependencies that only read the request are `async`: FastAPI runs a sync dependency in a
# worker thread of its own, a round trip through the thread pool for nothing.


async def get_session(request: Request) -> Session:
    """The request's session, opened by `TransactionRoute` (which commits or rolls back)."""
    return request.state.session  # type: ignore[no-any-return]


SessionDep = Annotated[Session, Depends(get_session)]


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def resolve_actor(request: Request, session: Session) -> Actor:
    """Who sent the request: a bearer token, or a session cookie (then CSRF on unsafe methods)."""
    cached: Actor | None = getattr(request.state, "actor", None)
    if cached is not None:
        return cached
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized("Authorization 请求头格式应为 “Bearer <令牌>”")
        actor = auth.actor_from_api_token(session, secret.strip())
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        found = auth.actor_from_session_token(session, cookie) if cookie else None
        if found is None:
            raise Unauthorized("请先登录")
        actor, csrf = found
        if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != csrf:
            raise Forbidden("CSRF 校验失败:请刷新页面后重试")
        request.state.csrf_token = csrf
    session.info["actor"] = actor.label
    request.state.actor = actor
    return actor


async def current_actor(request: Request, session: SessionDep) -> Actor:
    """The request's actor (`resolve_actor`, in a worker thread: it reads the database)."""
    cached: Actor | None = getattr(request.state, "actor", None)
    if cached is not None:
        return cached
    return await run_in_threadpool(resolve_actor, request, session)


CurrentActor = Annotated[Actor, Depends(current_actor)]


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="每页条数")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="上一页返回的 next_cursor")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')  # a version, never a 5,000-digit number


async def if_match_version(
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> int | None:
    """The version named by `If-Match: "<version>"`, ANY_VERSION for `*`, or None when absent."""
    if if_match is None:
        return None
    if if_match.strip() == "*":
        return ANY_VERSION
    found = _ETAG.match(if_match)
    if found is None:
        raise Invalid("If-Match", "If-Match 应为记录的 ETag,例如 \"3\"")
    return int(found.group(1))


IfMatch = Annotated[int | None, Depends(if_match_version)]


def load_branch(
    branch_id: Annotated[int, Path()], session: SessionDep, actor: CurrentActor
) -> Branch:
    return get_branch(session=session, actor=actor, branch_id=branch_id)


BranchDep = Annotated[Branch, Depends(load_branch)]


def load_township(
    township_id: Annotated[int, Path()], session: SessionDep, actor: CurrentActor
) -> Township:
    return get_township(session=session, actor=actor, township_id=township_id)


TownshipDep = Annotated[Township, Depends(load_township)]


async def deletion_reason(
    reason: Annotated[
        str | None,
        Query(max_length=500, description="删除原因;也可放在请求体 {\"reason\": \"...\"} 中"),
    ] = None,
    body: Annotated[DeletionRequest | None, Body()] = None,
) -> str:
    """The reason a person gives for deleting a record: `?reason=` or `{"reason": ...}`.

    Raises Invalid (field `reason`) when neither gives a non-blank text.
    """
    text = (body.reason if body is not None else None) or reason
    if text is None or not text.strip():
        raise Invalid("reason", "请填写删除原因")
    return text.strip()


DeletionReason = Annotated[str, Depends(deletion_reason)]
