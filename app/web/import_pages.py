"""The import page (批量导入); it calls the `/api/v1/imports` endpoints."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from app.api.deps import CurrentActor, SettingsDep
from app.api.routing import TransactionRoute
from app.models.user import Role
from app.services import imports as svc
from app.services.errors import Forbidden
from app.web.pages import render

router = APIRouter(route_class=TransactionRoute, include_in_schema=False,
                  default_response_class=HTMLResponse)


@router.get("/imports/branches")
def import_branches_page(request: Request, actor: CurrentActor,
                         settings: SettingsDep) -> Response:
    if actor.role not in (Role.county_admin, Role.township_staff):
        raise Forbidden("当前角色不能导入党支部名册")
    return render(request, "pages/import_branches.html", actor, spec=svc.BRANCHES,
                  max_upload_mb=settings.max_upload_mb, max_rows=svc.MAX_ROWS)

