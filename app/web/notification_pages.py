"""Pages: one's notifications (提醒) and, for the county, the webhooks (推送)."""

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from app.api.deps import CurrentActor, SessionDep
from app.api.routing import TransactionRoute
from app.listing import ItemsPage
from app.models.webhook import WebhookFormat
from app.services import notifications as svc
from app.services import townships as township_svc
from app.services import webhooks as webhook_svc
from app.services.actors import Actor, require_county_admin
from app.services.changefeed import PRIVATE_TYPES, known_types
from app.services.pagination import PageParams
from app.templating import templates
from app.web.pages import render

router = APIRouter(route_class=TransactionRoute, include_in_schema=False,
                   default_response_class=HTMLResponse)
templates.env.globals["may_urge"] = svc.may_urge


@router.get("/notifications")
def notifications_page(request: Request, session: SessionDep, actor: CurrentActor,
                       unread: bool | None = None) -> Response:
    """One's notifications, newest first, each linking to its record."""
    items, cursor = svc.list_notifications(session=session, actor=actor, unread=unread or None,
                                           page=PageParams(limit=100))
    more = f"/api/v1/notifications?limit=100&cursor={cursor}" + (
        "&unread=true" if unread else "") if cursor else None
    return render(request, "pages/notifications.html", actor, unread=unread,
                  data=ItemsPage(items, cursor), more_url=more)


@router.get("/notifications/{notification_id}/open")
def open_notification(session: SessionDep, actor: CurrentActor,
                      notification_id: int = Path()) -> Response:
    """Mark the notification read and go to its record."""
    found = svc.get_notification(session=session, actor=actor, notification_id=notification_id)
    svc.mark_read(session=session, notification=found, read=True)
    target = found.url if found.url.startswith("/") and not found.url.startswith("//") else "/"
    return RedirectResponse(target, status_code=303)


def _form_choices(session: SessionDep, actor: Actor) -> dict[str, object]:
    return {
        "formats": list(WebhookFormat),
        "feed_types": sorted(known_types() - set(PRIVATE_TYPES)),
        "township_list": township_svc.all_townships(session=session, actor=actor),
    }


@router.get("/webhooks")
def webhooks_page(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """The county's webhooks and the form to add one."""
    require_county_admin(actor, "管理推送")
    choices = _form_choices(session, actor)
    items = [webhook_svc.webhook_public(w)
             for w in webhook_svc.list_webhooks(session=session, actor=actor)]
    names = {t.id: t.name for t in choices["township_list"]}  # type: ignore[attr-defined]
    return render(request, "pages/webhooks.html", actor, items=items, townships=names,
                  **choices)


@router.get("/webhooks/{webhook_id}")
def webhook_page(request: Request, session: SessionDep, actor: CurrentActor,
                 webhook_id: int = Path()) -> Response:
    """One webhook: its settings, 测试推送 and the delivery log."""
    webhook = webhook_svc.get_webhook(session=session, actor=actor, webhook_id=webhook_id)
    deliveries, cursor = webhook_svc.list_deliveries(session=session, webhook=webhook,
                                                     page=PageParams(limit=50))
    more = f"/api/v1/webhooks/{webhook.id}/deliveries?cursor={cursor}" if cursor else None
    return render(request, "pages/webhook.html", actor, w=webhook_svc.webhook_public(webhook),
                  data=ItemsPage(deliveries, cursor),
                  more_url=more, **_form_choices(session, actor))
