"""create_app(): routers, middleware, static files, templates."""

import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import assets
from app.api import (
    activities,
    audit,
    auth,
    branches,
    campaigns,
    changes,
    exports,
    feedback,
    health,
    imports,
    notifications,
    openapi,
    problems,
    rectifications,
    reports,
    screenings,
    tasks,
    townships,
    users,
    webhooks,
)
from app.api import errors as error_handlers
from app.api.deps import SESSION_COOKIE
from app.api.limits import BodyLimit
from app.api.streams import BulkAwareGZip
from app.config import Settings, get_settings
from app.db import get_engine
from app.migrate import schema_problem
from app.web import (
    dashboard_pages,
    docs_page,
    feedback_pages,
    import_pages,
    ledger_pages,
    notification_pages,
    pages,
    record_pages,
    rectification_pages,
    screening_pages,
)

# Office files are zip archives already: compressing them again costs CPU and saves nothing.
NOT_COMPRESSED = (*DEFAULT_EXCLUDED_CONTENT_TYPES, exports.XLSX,
                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
log = logging.getLogger("rectify")
# what the pages load: htmx, its extension and the site's scripts and styles, all from the
# site. Attribute handlers (`onchange=`, `hx-on`) and style attributes of the templates are
# allowed; a `<script>` element or a file from anywhere else is not.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; script-src-attr 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; "
    "font-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# a client's request id is echoed only when it is a short run of visible ASCII
_REQUEST_ID = re.compile(rb"^[\x21-\x7e]{1,64}$")


class RequestContext:
    """Gives every request an id (echoed as `X-Request-ID`) and sets safe default headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        sent = headers.get(b"x-request-id", b"")
        request_id = sent.decode() if _REQUEST_ID.match(sent) else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"x-request-id", request_id.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                ]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


class NoStoreSignedIn:
    """Signed-in answers (pages, and API responses to a session cookie) are `no-store`, so
    Back never shows a page whose buttons act on an old version. Static files, evidence
    files and any answer that set its own Cache-Control keep theirs."""

    KEEP = ("/static/", "/api/v1/attachments/")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        cookie = dict(scope.get("headers") or []).get(b"cookie", b"")
        if (scope["type"] != "http" or path.startswith(self.KEEP)
                or f"{SESSION_COOKIE}=".encode() not in cookie):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_no_store)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or get_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        problem = schema_problem(engine)
        if problem:
            raise RuntimeError(problem)
        # no more worker threads than database connections
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.db_pool_size
        yield

    app = FastAPI(
        title="Rectify 软弱涣散基层党组织专项整治",
        version="1.0",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # app.web.docs_page: Swagger UI from the site's own files
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    error_handlers.install(app)
    app.add_middleware(NoStoreSignedIn)
    app.add_middleware(BodyLimit, max_upload_mb=settings.max_upload_mb)
    app.add_middleware(RequestContext)
    # text over a mobile network: gzip, at level 5 for pages and JSON and at level 1 for
    # the bulk streams (CSV, NDJSON: `BulkAwareGZip`); each streamed chunk is flushed, so
    # exports still stream
    app.add_middleware(BulkAwareGZip, minimum_size=500, compresslevel=5,
                       exclude_content_types=NOT_COMPRESSED)
    for module in (auth, townships, branches, campaigns, problems, tasks, feedback, screenings,
                   activities, reports, exports, users, audit, changes, notifications,
                   webhooks, rectifications, imports):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(health.router)
    app.include_router(pages.router)
    app.include_router(ledger_pages.router)
    app.include_router(feedback_pages.router)
    app.include_router(screening_pages.router)
    app.include_router(dashboard_pages.router)
    app.include_router(record_pages.router)
    app.include_router(notification_pages.router)
    app.include_router(rectification_pages.router)
    app.include_router(import_pages.router)
    app.include_router(docs_page.router)
    app.mount("/static", assets.HashedStaticFiles(directory=assets.STATIC_DIR), name="static")
    openapi.install(app)
    return app
