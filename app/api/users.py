"""`/users` and `/tokens`: accounts and API tokens (county administrators)."""

from fastapi import APIRouter, Path, Request, Response

from app.api.deps import CurrentActor, IfMatch, PageDep, SessionDep
from app.api.represent import Page, respond, respond_page
from app.api.routing import TransactionRoute
from app.models.user import (
    ApiTokenCreate,
    ApiTokenPublic,
    ApiTokenUpdate,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from app.services import users as svc

router = APIRouter(tags=["users"], route_class=TransactionRoute)


@router.get("/users", response_model=Page[UserPublic])
def list_users(
    request: Request, session: SessionDep, actor: CurrentActor, page: PageDep
) -> Response:
    """All user accounts."""
    rows, cursor = svc.list_users(session=session, actor=actor, page=page)
    return respond_page(request, rows, cursor)


@router.post("/users", status_code=201, response_model=UserPublic)
def create_user(body: UserCreate, request: Request, session: SessionDep,
                actor: CurrentActor) -> Response:
    """Add a user with a role and, for staff and secretaries, a township or branch."""
    user = svc.create_user(session=session, actor=actor, data=body)
    return respond(request, UserPublic.model_validate(user), status_code=201, etag=user.version,
                   location=f"/api/v1/users/{user.id}")


@router.get("/users/{user_id}", response_model=UserPublic)
def read_user(request: Request, session: SessionDep, actor: CurrentActor,
              user_id: int = Path()) -> Response:
    """One user."""
    user = svc.get_user(session=session, actor=actor, user_id=user_id)
    return respond(request, UserPublic.model_validate(user), etag=user.version)


@router.patch("/users/{user_id}", response_model=UserPublic)
def update_user(body: UserUpdate, request: Request, session: SessionDep, actor: CurrentActor,
                if_match: IfMatch, user_id: int = Path()) -> Response:
    """Change a user's name, role, placement, password or activity."""
    user = svc.get_user(session=session, actor=actor, user_id=user_id)
    user = svc.update_user(session=session, actor=actor, user=user, data=body,
                           version=body.version if body.version is not None else if_match)
    return respond(request, UserPublic.model_validate(user), etag=user.version)


@router.delete("/users/{user_id}", status_code=204)
def delete_user(session: SessionDep, actor: CurrentActor, if_match: IfMatch,
                user_id: int = Path()) -> Response:
    """Remove a user (soft; deactivated)."""
    user = svc.get_user(session=session, actor=actor, user_id=user_id)
    svc.delete_user(session=session, actor=actor, user=user, version=if_match)
    return Response(status_code=204)


@router.get("/tokens", response_model=Page[ApiTokenPublic])
def list_tokens(request: Request, session: SessionDep, actor: CurrentActor,
                page: PageDep) -> Response:
    """All API tokens (never their secrets)."""
    rows, cursor = svc.list_tokens(session=session, actor=actor, page=page)
    return respond_page(request, rows, cursor)


@router.post("/tokens", status_code=201, response_model=ApiTokenPublic)
def create_token(body: ApiTokenCreate, request: Request, session: SessionDep,
                 actor: CurrentActor) -> Response:
    """Issue a token; the answer carries the `secret`, shown this once."""
    token, secret = svc.create_token(session=session, actor=actor, data=body)
    public = ApiTokenPublic.model_validate(token).model_copy(update={"secret": secret})
    return respond(request, public, status_code=201, etag=token.version,
                   location=f"/api/v1/tokens/{token.id}")


@router.get("/tokens/{token_id}", response_model=ApiTokenPublic)
def read_token(request: Request, session: SessionDep, actor: CurrentActor,
               token_id: int = Path()) -> Response:
    """One token."""
    token = svc.get_token(session=session, actor=actor, token_id=token_id)
    return respond(request, ApiTokenPublic.model_validate(token), etag=token.version)


@router.patch("/tokens/{token_id}", response_model=ApiTokenPublic)
def update_token(body: ApiTokenUpdate, request: Request, session: SessionDep,
                 actor: CurrentActor, if_match: IfMatch, token_id: int = Path()) -> Response:
    """Rename, revoke (`revoked: true`) or restore a token."""
    token = svc.get_token(session=session, actor=actor, token_id=token_id)
    token = svc.update_token(session=session, actor=actor, token=token, data=body,
                             version=body.version if body.version is not None else if_match)
    return respond(request, ApiTokenPublic.model_validate(token), etag=token.version)


@router.delete("/tokens/{token_id}", status_code=204)
def delete_token(session: SessionDep, actor: CurrentActor, token_id: int = Path()) -> Response:
    """Revoke and retire a token."""
    token = svc.get_token(session=session, actor=actor, token_id=token_id)
    svc.revoke_token(session=session, actor=actor, token=token)
    return Response(status_code=204)
