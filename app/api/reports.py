"""`/reports/summary` (JSON, .docx, .html): the township report from the records."""


from fastapi import APIRouter, Request, Response

from app.api.deps import CurrentActor, SessionDep
from app.api.represent import attachment_headers, respond
from app.api.routing import TransactionRoute
from app.models.report import Summary
from app.services.report import summary
from app.services.report_docx import checks_xlsx, to_docx
from app.services.report_text import build_document
from app.templating import templates

router = APIRouter(prefix="/reports", tags=["reports"], route_class=TransactionRoute)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/summary", response_model=Summary)
def read_summary(request: Request, session: SessionDep, actor: CurrentActor,
                 campaign_id: int | None = None, township_id: int | None = None) -> Response:
    """The figures of the township report (no township: the county), with `warnings`."""
    data = summary(session=session, actor=actor, campaign_id=campaign_id,
                   township_id=township_id)
    return respond(request, data)


@router.get("/summary.docx")
def summary_docx(session: SessionDep, actor: CurrentActor, campaign_id: int | None = None,
                 township_id: int | None = None) -> Response:
    """The report as a Word document in the official format (公文), named for its township
    and date: `十四道沟镇专项整治工作汇报_20261130.docx`."""
    data = summary(session=session, actor=actor, campaign_id=campaign_id,
                   township_id=township_id)
    doc = build_document(session=session, actor=actor, summary=data)
    return Response(to_docx(doc), media_type=DOCX,
                    headers=attachment_headers(f"{doc.file_stem}.docx",
                                       f"report_{doc.dated:%Y%m%d}.docx"))


@router.get("/summary-checks.xlsx")
def summary_checks_xlsx(session: SessionDep, actor: CurrentActor, campaign_id: int | None = None,
                        township_id: int | None = None) -> Response:
    """The data checks of the report (数据核对清单): every figure that does not add up."""
    data = summary(session=session, actor=actor, campaign_id=campaign_id,
                   township_id=township_id)
    doc = build_document(session=session, actor=actor, summary=data)
    body = checks_xlsx(data.warnings, place=doc.place, as_of_text=doc.date_line)
    return Response(body, media_type=XLSX,
                    headers=attachment_headers(f"{doc.place}数据核对清单_{doc.dated:%Y%m%d}.xlsx",
                                       f"checks_{doc.dated:%Y%m%d}.xlsx"))


@router.get("/summary.html")
def summary_html(request: Request, session: SessionDep, actor: CurrentActor,
                 campaign_id: int | None = None, township_id: int | None = None) -> Response:
    """The report as a printable HTML page."""
    data = summary(session=session, actor=actor, campaign_id=campaign_id,
                   township_id=township_id)
    doc = build_document(session=session, actor=actor, summary=data)
    return templates.TemplateResponse(request, "pages/report.html",
                                      {"doc": doc, "summary": data, "actor": actor})
