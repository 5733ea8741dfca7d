"""Request bodies are bounded before they are read whole: JSON (and anything else but
uploads) to 1 MB, multipart uploads to `MAX_UPLOAD_MB` (plus room for the form's text).

A declared `Content-Length` over the limit is refused (413) when the body is first asked
for, before any of it is read; a body streamed without one is counted as it arrives and
refused as soon as it passes the limit, so a 200 MB body never sits in memory, whoever
sends it and wherever it goes. The refusal is an HTTPException, so the request gets the
problem+json (or the htmx fragment) like every other error.
"""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_LIMIT = 1024 * 1024
MULTIPART_SLACK = 1024 * 1024  # the note and the multipart framing beside the files


class BodyTooLarge(HTTPException):
    """The request body passed its limit (413); FastAPI re-raises HTTPExceptions as they are."""

    def __init__(self, limit: int) -> None:
        mb = max(1, limit // (1024 * 1024))
        super().__init__(413, f"请求内容超过 {mb} MB 的上限")


def body_limit(scope: Scope, max_upload_mb: int) -> int:
    """The limit of this request's body in bytes, from its content type."""
    for name, value in scope.get("headers") or []:
        if name == b"content-type" and value.lower().startswith(b"multipart/"):
            return max_upload_mb * 1024 * 1024 + MULTIPART_SLACK
    return JSON_LIMIT


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """ASGI middleware applying the limits of the module's docstring."""

    def __init__(self, app: ASGIApp, max_upload_mb: int) -> None:
        self.app = app
        self.max_upload_mb = max_upload_mb

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope, self.max_upload_mb)
        declared = _declared_length(scope)
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            if declared is not None and declared > limit:
                raise BodyTooLarge(limit)  # refused before a byte of it is read
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted_receive, send)
