"""The route class every endpoint uses: the request owns the transaction, and creating
POSTs are idempotent under `Idempotency-Key`.

A request gets one session. It commits when the handler answered below 400 and rolls back
otherwise (or on any exception), so nothing is half-written. With an `Idempotency-Key`,
the key is claimed inside that same transaction and the first response is stored in it,
so a committed creation always has its stored response and a replay can never create twice.
"""

import functools
import hashlib
import inspect
import types
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Annotated, Any, Union, get_args, get_origin

import anyio
from anyio.lowlevel import RunVar
from fastapi import Request, Response, params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, _effective_route_context_var
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.db import new_session
from app.models.forms import Int, SafeText
from app.models.idempotency import IdempotencyRecord
from app.services.auth import touch_token
from app.services.errors import Conflict, DomainError

IDEMPOTENCY_HEADER = "idempotency-key"
MAX_KEY_LENGTH = 200
KEY_WAIT = "10s"  # how long a request waits for another holding the same key, then 409


class IdempotencyMismatch(DomainError):
    status = 422
    title = "幂等键已用于另一请求"


def replay_response(record: IdempotencyRecord) -> Response:
    headers = {"Idempotent-Replayed": "true", "Vary": "HX-Request"}
    if record.location:
        headers["Location"] = record.location
    return Response(
        content=record.response_body or b"",
        status_code=record.status_code or 200,
        media_type=record.content_type,
        headers=headers,
    )


def _stored(session: Session, principal: str, key: str) -> IdempotencyRecord | None:
    return session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal, IdempotencyRecord.key == key
        )
    ).first()


def _check_replay(record: IdempotencyRecord, body_hash: str, request: Request) -> Response:
    if record.body_sha256 != body_hash or record.path != request.url.path:
        raise IdempotencyMismatch(
            "该 Idempotency-Key 已用于内容不同的另一次提交;新的提交请使用新的键"
        )
    return replay_response(record)


def claim_key(
    session: Session, request: Request, principal: str, key: str, body: bytes
) -> IdempotencyRecord | Response:
    """Claim `key` in the request's transaction, or answer the stored first response."""
    body_hash = hashlib.sha256(body).hexdigest()
    existing = _stored(session, principal, key)
    if existing is not None:
        return _check_replay(existing, body_hash, request)
    record = IdempotencyRecord(
        principal=principal, key=key, method=request.method, path=request.url.path,
        body_sha256=body_hash,
    )
    session.add(record)
    try:
        if session.get_bind().dialect.name == "postgresql":
            session.connection().exec_driver_sql(f"SET LOCAL lock_timeout = '{KEY_WAIT}'")
        session.flush()
        if session.get_bind().dialect.name == "postgresql":
            session.connection().exec_driver_sql("SET LOCAL lock_timeout = 0")
    except IntegrityError:
        # another request with the key committed while this one waited: answer its response
        session.rollback()
        existing = _stored(session, principal, key)
        if existing is None or existing.status_code is None:
            raise Conflict("相同 Idempotency-Key 的请求正在处理中,请稍后重试") from None
        return _check_replay(existing, body_hash, request)
    except DBAPIError as exc:
        if "lock timeout" in str(exc.orig).lower() or "lock_timeout" in str(exc.orig).lower():
            session.rollback()
            raise Conflict("相同 Idempotency-Key 的请求正在处理中,请稍后重试") from None
        raise
    return record


def store_response(session: Session, record: IdempotencyRecord, response: Response) -> None:
    record.status_code = response.status_code
    record.content_type = response.headers.get("content-type")
    record.response_body = bytes(response.body)
    record.location = response.headers.get("location")
    session.add(record)
    session.flush()


_gate: RunVar[anyio.Semaphore] = RunVar("rectify_database_gate")


def database_gate(size: int) -> anyio.Semaphore:
    """The event loop's admission gate: as many requests at once as database connections
    (per loop, like the worker-thread limiter it pairs with)."""
    try:
        return _gate.get()
    except LookupError:
        gate = anyio.Semaphore(size)
        _gate.set(gate)
        return gate


def _guarded(annotation: Any) -> Any:
    """`annotation` with every `int` an `Int` (what a column holds, typed as a person types
    it) and every `str` a `SafeText` (no control characters), inside `Optional`, `list` and
    `Annotated` too."""
    if annotation is int:
        return Int
    if annotation is str:
        return SafeText
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return Annotated[(_guarded(args[0]), *annotation.__metadata__)]  # type: ignore[valid-type]
    if origin in (Union, types.UnionType):
        return Union[tuple(_guarded(a) for a in args)]  # noqa: UP007
    if origin is list:
        return list[_guarded(args[0])]  # type: ignore[misc]
    return annotation


def guard_parameters(dependant: Dependant) -> None:
    """Give every path, query, header and form parameter of `dependant` (and of its dependencies)
    the boundary's types, once when the route is made: an integer beyond the column is
    refused (a path's answers 404, see `app.api.errors`), a text with control characters
    422 naming the parameter. No endpoint repeats the check."""
    forms = [f for f in dependant.body_params if isinstance(f.field_info, params.Form)]
    fields = (*dependant.path_params, *dependant.query_params, *dependant.header_params, *forms)
    for field in fields:
        if getattr(field, "_rectify_guarded", False):
            continue
        field._rectify_guarded = True  # type: ignore[attr-defined]
        guarded = _guarded(field.field_info.annotation)
        if guarded is not field.field_info.annotation:
            field.field_info.annotation = guarded
            field.__post_init__()
    for sub in dependant.dependencies:
        guard_parameters(sub)


class _Transaction:
    """The request's transaction, ended once: by the sync endpoint in its own worker thread
    (`_ends_transaction`), else by the route."""

    def __init__(self, request: Request, session: Session) -> None:
        self.request = request
        self.session = session
        self.claim: IdempotencyRecord | None = None
        self.ended = False

    def end(self, response: Response | None) -> None:
        """Store the idempotent response and commit when the handler answered below 400
        (`response`), else roll back; close the session; then record the token's use if it
        is due (`touch_token`)."""
        if self.ended:
            return
        self.ended = True
        session = self.session
        try:
            if response is not None and response.status_code < 400:
                if self.claim is not None:
                    store_response(session, self.claim, response)
                session.commit()
            else:
                session.rollback()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            token_used = session.info.pop("token_used", None)
            if token_used is not None:
                touch_token(self.request.app.state.engine, token_used)


_transaction: ContextVar[_Transaction | None] = ContextVar("rectify_transaction", default=None)


def _ends_transaction(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """`endpoint` (sync) ending the request's transaction in the worker thread it runs in,
    so a request takes one trip to the thread pool for the endpoint and its commit instead
    of three (endpoint, commit, close). Outside a request (no transaction) it is `endpoint`."""

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        transaction = _transaction.get()
        if transaction is None:
            return endpoint(*args, **kwargs)
        try:
            response = endpoint(*args, **kwargs)
        except BaseException:
            transaction.end(None)
            raise
        if isinstance(response, Response):
            transaction.end(response)
        return response

    return run


class TransactionRoute(APIRoute):
    """An APIRoute whose request owns one transaction (see the module's docstring); its
    parameters are checked at the boundary (`guard_parameters`)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _ends_transaction(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        # FastAPI builds the handler of an included route from a dependant of its own (the
        # "effective context" of the inclusion): guard that one and the route's
        context = _effective_route_context_var.get()
        if context is not None and context.original_route is self and context.dependant:
            guard_parameters(context.dependant)
        guard_parameters(self.dependant)
        handler = super().get_route_handler()

        async def run_in_transaction(request: Request) -> Response:
            # No more requests hold a session than the pool has connections: otherwise
            # every worker thread can end up waiting for a connection held by a request
            # that waits for a worker thread, and the process stalls.
            async with database_gate(request.app.state.settings.db_pool_size):
                return await _run(request)

        async def _run(request: Request) -> Response:
            write = request.method not in ("GET", "HEAD", "OPTIONS")
            session = new_session(request.app.state.engine, write=write)
            session.info["request_id"] = getattr(request.state, "request_id", None)
            request.state.session = session
            transaction = _Transaction(request, session)
            reset = _transaction.set(transaction)
            replayed: Response | None = None
            try:
                key = request.headers.get(IDEMPOTENCY_HEADER)
                if key and request.method == "POST":
                    if len(key) > MAX_KEY_LENGTH:
                        raise IdempotencyMismatch(
                            f"Idempotency-Key 不能超过 {MAX_KEY_LENGTH} 个字符"
                        )
                    from app.api.deps import resolve_actor

                    actor = await run_in_threadpool(resolve_actor, request, session)
                    body = await request.body()
                    claimed = await run_in_threadpool(
                        claim_key, session, request, actor.label, key, body
                    )
                    if isinstance(claimed, Response):
                        replayed = claimed  # the first response; this transaction ends unused
                    else:
                        transaction.claim = claimed
                response = replayed or await handler(request)
            except BaseException:
                if not transaction.ended:
                    await run_in_threadpool(transaction.end, None)
                raise
            finally:
                _transaction.reset(reset)
            if not transaction.ended:
                await run_in_threadpool(transaction.end, None if replayed else response)
            return response

        return run_in_transaction
