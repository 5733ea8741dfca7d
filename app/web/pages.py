"""Pages: the layout around the same fragments the API answers to htmx.

Each page reads through the same service calls as its API endpoint; every interaction on
the page goes to `/api/v1`.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BeforeValidator

from app.api.deps import BranchDep, CurrentActor, SessionDep, site_path
from app.api.represent import with_cursor
from app.api.routing import TransactionRoute
from app.listing import ItemsPage
from app.models.branch import BranchFlag, BranchKind
from app.models.user import Role
from app.services import branches as branch_svc
from app.services import townships as township_svc
from app.services.actors import Actor
from app.services.errors import Forbidden
from app.services.pagination import PageParams
from app.templating import templates

router = APIRouter(route_class=TransactionRoute, include_in_schema=False,
                   default_response_class=HTMLResponse)


def render(request: Request, template: str, actor: Actor | None, **ctx: Any) -> Response:
    return templates.TemplateResponse(
        request, template,
        {"actor": actor, "csrf_token": getattr(request.state, "csrf_token", ""), **ctx},
    )


@router.get("/login")
def login_page(request: Request) -> Response:
    """The sign-in form; `?next=` is kept only when it is a path of this site."""
    return render(request, "pages/login.html", None,
                  next=site_path(request.query_params.get("next")))


@router.get("/")
def home(request: Request, actor: CurrentActor) -> Response:
    """Secretaries start at their branch's tasks; everyone else at the dashboard."""
    if actor.role == Role.branch_secretary:
        return RedirectResponse("/my/tasks", status_code=303)
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/townships")
def townships_page(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    rows, cursor = township_svc.list_townships(
        session=session, actor=actor, q=None, page=PageParams(limit=200)
    )
    return render(request, "pages/townships.html", actor, data=ItemsPage(rows, cursor))


def _branch_form_choices(session: SessionDep, actor: Actor) -> dict[str, Any]:
    return {
        "townships": township_svc.all_townships(session=session, actor=actor),
        "kinds": list(BranchKind),
    }


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


# A filter form submitted without JavaScript sends "全部" as a blank value: no filter.
BlankIsNone = BeforeValidator(_blank_is_none)


@router.get("/branches")
def branches_page(
    request: Request, session: SessionDep, actor: CurrentActor,
    township_id: Annotated[int | None, BlankIsNone] = None,
    kind: Annotated[BranchKind | None, BlankIsNone] = None,
    q: Annotated[str | None, Query(max_length=50)] = None,
    flag: Annotated[BranchFlag | None, BlankIsNone] = None,
    cursor: str | None = None,
) -> Response:
    filters = branch_svc.BranchFilters(township_id=township_id, kind=kind, q=q, flag=flag)
    items, next_cursor = branch_svc.list_branches(
        session=session, actor=actor, filters=filters, page=PageParams(limit=50, cursor=cursor)
    )
    return render(
        request, "pages/branches.html", actor,
        data=ItemsPage(items, next_cursor),
        filters=filters, flags=list(BranchFlag),
        more_url=with_cursor(request, "/api/v1/branches", next_cursor),
        **_branch_form_choices(session, actor),
    )


@router.get("/branches/new")
def new_branch_page(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    if actor.role not in (Role.county_admin, Role.township_staff):
        raise Forbidden("当前角色不能新增党支部")
    return render(request, "pages/branch_form.html", actor, branch=None,
                  **_branch_form_choices(session, actor))


@router.get("/branches/{branch_id}")
def branch_page(
    request: Request, branch: BranchDep, session: SessionDep, actor: CurrentActor
) -> Response:
    public = branch_svc.to_public(branch, branch_svc.township_name(session, branch.township_id))
    return render(request, "pages/branch.html", actor, data=public)


@router.get("/branches/{branch_id}/edit")
def edit_branch_page(
    request: Request, branch: BranchDep, session: SessionDep, actor: CurrentActor
) -> Response:
    if actor.role not in (Role.county_admin, Role.township_staff):
        raise Forbidden("当前角色不能修改党支部")
    return render(request, "pages/branch_form.html", actor, branch=branch,
                  **_branch_form_choices(session, actor))


@router.get("/logout")
def logout_page(request: Request, actor: CurrentActor) -> Response:
    """Asks before signing out: a GET (a link, an image from another site) changes nothing;
    the button posts to `/api/v1/auth/logout`, which ends the session on the server."""
    return render(request, "pages/logout.html", actor)
