"""`/branches`: the branch register."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import BranchDep, CurrentActor, IfMatch, PageDep, SessionDep
from app.api.represent import Page, respond, respond_page
from app.api.routing import TransactionRoute
from app.models.branch import BranchCreate, BranchFlag, BranchKind, BranchPublic, BranchUpdate
from app.services import branches as svc

router = APIRouter(prefix="/branches", tags=["branches"], route_class=TransactionRoute)


@router.get("", response_model=Page[BranchPublic])
def list_branches(
    request: Request, session: SessionDep, actor: CurrentActor, page: PageDep,
    township_id: int | None = None,
    kind: BranchKind | None = None,
    q: Annotated[str | None, Query(max_length=50, description="名称或书记姓名")] = None,
    flag: BranchFlag | None = None,
) -> Response:
    """Branches the caller may see, each with its warning `flags`."""
    filters = svc.BranchFilters(township_id=township_id, kind=kind, q=q, flag=flag)
    items, cursor = svc.list_branches(session=session, actor=actor, filters=filters, page=page)
    return respond_page(request, items, cursor, fragment="fragments/branch_rows.html",
                        more_path="/api/v1/branches")


@router.post("", status_code=201, response_model=BranchPublic)
def create_branch(
    body: BranchCreate, request: Request, session: SessionDep, actor: CurrentActor
) -> Response:
    """Add a branch to a township's register."""
    branch = svc.create_branch(session=session, actor=actor, data=body)
    public = svc.to_public(branch, svc.township_name(session, branch.township_id))
    return respond(
        request, public, status_code=201, etag=branch.version,
        location=f"/api/v1/branches/{branch.id}", fragment="fragments/branch_detail.html",
        page_url=f"/branches/{branch.id}", context={"created": True},
    )


@router.get("/{branch_id}", response_model=BranchPublic)
def read_branch(request: Request, branch: BranchDep, session: SessionDep) -> Response:
    """One branch with its flags; `ETag` carries its version."""
    public = svc.to_public(branch, svc.township_name(session, branch.township_id))
    return respond(request, public, etag=branch.version, fragment="fragments/branch_detail.html")


@router.patch("/{branch_id}", response_model=BranchPublic)
def update_branch(
    body: BranchUpdate, request: Request, branch: BranchDep, session: SessionDep,
    actor: CurrentActor, if_match: IfMatch,
) -> Response:
    """Change a branch; needs `If-Match` (or `version` in the body), 412 when stale."""
    branch = svc.update_branch(
        session=session, actor=actor, branch=branch, data=body,
        version=body.version if body.version is not None else if_match,
    )
    public = svc.to_public(branch, svc.township_name(session, branch.township_id))
    return respond(
        request, public, etag=branch.version, fragment="fragments/branch_detail.html",
        page_url=f"/branches/{branch.id}", context={"saved": True},
    )


@router.delete("/{branch_id}", status_code=204)
def delete_branch(
    request: Request, branch: BranchDep, session: SessionDep, actor: CurrentActor,
    if_match: IfMatch,
) -> Response:
    """Delete a branch (soft: it leaves the register and the change feed reports it)."""
    svc.delete_branch(session=session, actor=actor, branch=branch, version=if_match)
    response = Response(status_code=204)
    if request.headers.get("hx-request") == "true":
        response.headers["HX-Redirect"] = "/branches"
    return response
