"""Streamed responses: downloads (exports, the ledger) and the streamed change feed.

Each reads its first chunk before the response starts, so a failing query answers 4xx/5xx
instead of cutting a download off, and closes its chunks (and so their database reader) as
soon as the response ends, sent or aborted.
"""

from collections.abc import Callable, Iterator, Mapping

import anyio
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from app.services.cells import close_source, primed


class ClosingStreamingResponse(StreamingResponse):
    """A download that closes its chunks (and so their database reader) as soon as it ends,
    sent or aborted. Starlette leaves an aborted download's iterator to the garbage
    collector, and an .xlsx's (stream-zip's generators) is freed only by a collection: until
    then its connection stays checked out, idle in a transaction."""

    def __init__(self, chunks: Iterator[bytes], **kwargs: object) -> None:
        super().__init__(chunks, **kwargs)  # type: ignore[arg-type]
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(close_source, self.chunks)


async def stream_response(make: Callable[[], Iterator[bytes]], media_type: str,
                          headers: Mapping[str, str] | None = None) -> StreamingResponse:
    """The chunks of `make()` (called in a worker thread, its first chunk read there:
    `cells.primed`) as a `ClosingStreamingResponse` with `headers`."""
    chunks = await run_in_threadpool(lambda: primed(make()))
    return ClosingStreamingResponse(chunks, media_type=media_type, headers=dict(headers or {}))
