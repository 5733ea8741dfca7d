"""`/imports`: the branch register from Excel or CSV (批量导入), and its template."""

from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile

from app.api.deps import CurrentActor, SessionDep, SettingsDep
from app.api.represent import attachment_headers, respond
from app.api.routing import TransactionRoute
from app.services import imports as svc
from app.services.evidence import TooLarge

router = APIRouter(prefix="/imports", tags=["imports"], route_class=TransactionRoute)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/branches/template.xlsx")
def branches_template(actor: CurrentActor) -> Response:
    """The import template of the branch register: Chinese headers, drop-down lists, an
    example row and a sheet explaining each column."""
    name = f"{svc.BRANCHES.name}导入模板.xlsx"
    return Response(svc.template_xlsx(svc.BRANCHES), media_type=XLSX,
                    headers=attachment_headers(name, "branches_template.xlsx"))


@router.post("/branches", response_model=svc.ImportResult)
def import_branches(
    request: Request, session: SessionDep, actor: CurrentActor, settings: SettingsDep,
    file: Annotated[UploadFile, File(description=".xlsx or .csv (UTF-8 or GB18030)")],
    dry_run: bool = False,
) -> Response:
    """Import the branch register (multipart `file`): rows matched by township and branch
    name; `dry_run=true` previews and writes nothing; otherwise all or nothing (422 with the
    same body when any row has an error)."""
    limit = settings.max_upload_mb * 1024 * 1024
    if file.size is not None and file.size > limit:
        raise TooLarge(f"文件超过 {settings.max_upload_mb} MB 的上限,请分成几个文件导入")
    outcome = svc.import_branches(session=session, actor=actor, stream=file.file,
                                  dry_run=dry_run)
    failed = bool(outcome.result.errors) and not dry_run
    return respond(request, outcome.result, status_code=422 if failed else 200,
                   fragment="fragments/import_preview.html",
                   context={"preview": outcome.preview, "file_name": file.filename or ""})
