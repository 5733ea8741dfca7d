"""`/webhooks` (推送, county admin): registration, the delivery log and 测试推送."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from app.api.deps import CurrentActor, IfMatch, PageDep, SessionDep, SettingsDep
from app.api.represent import Page, json_list, respond, respond_page
from app.api.routing import TransactionRoute
from app.listing import ItemsPage
from app.models.webhook import (
    Webhook,
    WebhookCreate,
    WebhookDeliveryPublic,
    WebhookPublic,
    WebhookUpdate,
)
from app.services import townships as township_svc
from app.services import webhooks as svc
from app.services.actors import Actor

router = APIRouter(tags=["webhooks"], route_class=TransactionRoute)


def load_webhook(request: Request, session: SessionDep, actor: CurrentActor,
                 webhook_id: int = Path()) -> Webhook:
    write = request.method not in ("GET", "HEAD")
    return svc.get_webhook(session=session, actor=actor, webhook_id=webhook_id, for_update=write)


WebhookDep = Annotated[Webhook, Depends(load_webhook)]


def _rows_context(session: SessionDep, actor: Actor) -> dict[str, object]:
    """What the webhook list fragment shows: every webhook and the townships' names."""
    return {
        "items": [svc.webhook_public(w) for w in svc.list_webhooks(session=session, actor=actor)],
        "townships": {t.id: t.name
                      for t in township_svc.all_townships(session=session, actor=actor)},
    }


@router.get("/webhooks", response_model=list[WebhookPublic])
def list_webhooks(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Every webhook (county admin)."""
    if request.headers.get("hx-request") == "true":
        return respond(request, None, fragment="fragments/webhook_rows.html",
                       context=_rows_context(session, actor))
    return json_list([svc.webhook_public(w)
                      for w in svc.list_webhooks(session=session, actor=actor)])


@router.post("/webhooks", status_code=201, response_model=WebhookPublic)
def create_webhook(body: WebhookCreate, request: Request, session: SessionDep,
                   actor: CurrentActor) -> Response:
    """Register a webhook; it receives changes committed from now on."""
    webhook = svc.create_webhook(session=session, actor=actor, data=body)
    return respond(request, svc.webhook_public(webhook), status_code=201, etag=webhook.version,
                   location=f"/api/v1/webhooks/{webhook.id}",
                   fragment="fragments/webhook_rows.html",
                   context={**_rows_context(session, actor), "created": True})


@router.get("/webhooks/{webhook_id}", response_model=WebhookPublic)
def read_webhook(request: Request, webhook: WebhookDep) -> Response:
    """One webhook with its failure state (the secret is never shown)."""
    return respond(request, svc.webhook_public(webhook), etag=webhook.version)


@router.patch("/webhooks/{webhook_id}", response_model=WebhookPublic)
def update_webhook(body: WebhookUpdate, request: Request, webhook: WebhookDep,
                   session: SessionDep, actor: CurrentActor, if_match: IfMatch) -> Response:
    """Change a webhook (If-Match or `version`); `active: true` resumes a paused one."""
    webhook = svc.update_webhook(
        session=session, actor=actor, webhook=webhook, data=body,
        version=body.version if body.version is not None else if_match)
    return respond(request, svc.webhook_public(webhook), etag=webhook.version,
                   fragment="fragments/webhook_saved.html")


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(webhook: WebhookDep, session: SessionDep) -> Response:
    """Stop and remove a webhook (its delivery log stays)."""
    svc.delete_webhook(session=session, webhook=webhook)
    return Response(status_code=204, headers={"HX-Redirect": "/webhooks"})


@router.get("/webhooks/{webhook_id}/deliveries", response_model=Page[WebhookDeliveryPublic])
def list_deliveries(request: Request, webhook: WebhookDep, session: SessionDep,
                    page: PageDep) -> Response:
    """The delivery log, newest first: status, attempts, last error."""
    items, cursor = svc.list_deliveries(session=session, webhook=webhook, page=page)
    return respond_page(request, items, cursor, fragment="fragments/delivery_rows.html",
                        more_path=f"/api/v1/webhooks/{webhook.id}/deliveries")


@router.post("/webhooks/{webhook_id}/test", status_code=201,
             response_model=WebhookDeliveryPublic)
def test_webhook(request: Request, webhook: WebhookDep, session: SessionDep,
                 settings: SettingsDep, page: PageDep) -> Response:
    """测试推送: send a test message now; answers the logged delivery with its outcome."""
    delivery = svc.send_test(session=session, settings=settings, webhook=webhook)
    items, cursor = svc.list_deliveries(session=session, webhook=webhook, page=page)
    return respond(request, WebhookDeliveryPublic.model_validate(delivery, from_attributes=True),
                   status_code=201, fragment="fragments/delivery_rows.html",
                   context={"data": ItemsPage(items, cursor),
                            "more_url": None, "tested": delivery})
