"""Signing in and out (session cookie + CSRF token) and who am I."""

import asyncio

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import SESSION_COOKIE, CurrentActor, SessionDep, SettingsDep, site_path
from app.api.routing import TransactionRoute
from app.models.user import LoginRequest, LoginResult, User, UserPublic
from app.services import auth
from app.services.errors import Unauthorized

router = APIRouter(prefix="/auth", tags=["auth"], route_class=TransactionRoute)


@router.post("/login", response_model=LoginResult)
async def login(
    body: LoginRequest, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """Sign in: sets the session cookie and answers the user and the CSRF token."""
    username = body.username.strip()
    address = request.client.host if request.client else ""
    engine = request.app.state.engine
    # counted before the password is checked: parallel guesses get no more checks than the
    # limit, and only this address is slowed and locked for this username
    delay = await run_in_threadpool(auth.count_attempt, engine, username, address, settings)
    if delay:
        await asyncio.sleep(delay)
    user = await run_in_threadpool(auth.authenticate, session, username, body.password)
    if user is None:
        raise Unauthorized("用户名或密码错误")
    auth.clear_attempts(session, username, address)
    outcome = await run_in_threadpool(auth.open_session, session, user, settings)
    result = LoginResult(user=UserPublic.model_validate(user), csrf_token=outcome.csrf_token)
    response = Response(result.model_dump_json(), media_type="application/json")
    response.set_cookie(
        SESSION_COOKIE, outcome.session_token, httponly=True, samesite="lax",
        secure=settings.cookie_secure, max_age=settings.session_hours * 3600, path="/",
    )
    if request.headers.get("hx-request") == "true":
        # only a path of this site: never send a person elsewhere after signing in
        response.headers["HX-Redirect"] = site_path(request.query_params.get("next"))
    return response


@router.post("/logout", status_code=204)
def logout(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Sign out: ends the session and clears the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.close_session(session, token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    if request.headers.get("hx-request") == "true":
        response.headers["HX-Redirect"] = "/login"
    return response


@router.get("/me", response_model=UserPublic)
def me(session: SessionDep, actor: CurrentActor) -> Response:
    """The signed-in user (API tokens have no user: 404)."""
    if actor.user_id is None:
        from app.services.errors import NotFound

        raise NotFound("API 令牌没有对应的用户")
    user = session.get(User, actor.user_id)
    body = UserPublic.model_validate(user).model_dump_json()
    return Response(body, media_type="application/json")
