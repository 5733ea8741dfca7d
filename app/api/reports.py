"""`/reports/summary` (JSON, .docx, .html): the township report from the records."""

from urllib.parse import quote

from fastapi import APIRouter, Request, Response

from app import clock
from app.api.deps import CurrentActor, SessionDep
from app.api.represent import respond
from app.api.routing import TransactionRoute
from app.models.report import Summary
from app.services.report import summary
from app.services.report_text import build_document, to_docx
from app.web.templating import templates

router = APIRouter(prefix="/reports", tags=["reports"], route_class=TransactionRoute)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


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
    """The report as a Word document, in Chinese, with the sections of the original."""
    data = summary(session=session, actor=actor, campaign_id=campaign_id,
                   township_id=township_id)
    doc = build_document(session=session, actor=actor, summary=data)
    name = quote(f"{doc.title}({clock.today():%Y-%m-%d}).docx")
    return Response(to_docx(doc), media_type=DOCX,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"})


@router.get("/summary.html")
def summary_html(request: Request, session: SessionDep, actor: CurrentActor,
                 campaign_id: int | None = None, township_id: int | None = None) -> Response:
    """The report as a printable HTML page."""
    data = summary(session=session, actor=actor, campaign_id=campaign_id,
                   township_id=township_id)
    doc = build_document(session=session, actor=actor, summary=data)
    return templates.TemplateResponse(request, "pages/report.html",
                                      {"doc": doc, "summary": data, "actor": actor})
