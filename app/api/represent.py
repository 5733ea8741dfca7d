"""One place decides the representation: JSON, or the HTML fragment for htmx requests."""

from collections.abc import Sequence
from pathlib import PurePath
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode

from fastapi import Request, Response
from pydantic import BaseModel

from app.listing import ItemsPage, page_json, to_json
from app.templating import templates

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of a list: the items and the cursor of the next page (null on the last)."""

    items: list[T]
    next_cursor: str | None


def with_cursor(request: Request, path: str, cursor: str | None) -> str | None:
    """The URL of the next page: the same filters, the next cursor."""
    if cursor is None:
        return None
    params = {k: v for k, v in request.query_params.items() if k != "cursor" and v != ""}
    params["cursor"] = cursor
    return f"{path}?{urlencode(params)}"


def json_list(items: Sequence[Any]) -> Response:
    """A JSON array of items or schema instances, written by `app.listing.to_json`."""
    return Response(to_json(items), media_type="application/json",
                    headers={"Vary": "HX-Request"})


def respond_page(
    request: Request,
    items: Sequence[Any],
    next_cursor: str | None,
    *,
    fragment: str | None = None,
    more_path: str | None = None,
    context: dict[str, Any] | None = None,
) -> Response:
    """A page of a list: `{"items", "next_cursor"}` written by `app.listing.page_json` (no
    response-model validation), or `fragment` rendered with `data` (`.items`,
    `.next_cursor`) and `more_url` (the next page of `more_path`) for htmx requests.

    `items`: `app.listing.Item`s (or schema instances, each dumped once)."""
    if wants_html(request) and fragment:
        more = {"more_url": with_cursor(request, more_path, next_cursor)} if more_path else {}
        return respond(request, None, fragment=fragment,
                       context={"data": ItemsPage(items, next_cursor), **more, **(context or {})})
    return Response(page_json(items, next_cursor), media_type="application/json",
                    headers={"Vary": "HX-Request"})


def attachment_headers(name: str, fallback: str | None = None) -> dict[str, str]:
    """Content-Disposition (RFC 6266) of a download named `name` in UTF-8 (`filename*`), with
    an ASCII `filename` (`fallback`, else "download" and the name's suffix) for clients that
    read only that."""
    ascii_name = fallback or "download" + PurePath(name).suffix
    return {"Content-Disposition":
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"}


def wants_html(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def respond(
    request: Request,
    data: BaseModel | None,
    *,
    fragment: str | None = None,
    status_code: int = 200,
    etag: int | None = None,
    location: str | None = None,
    page_url: str | None = None,
    context: dict[str, Any] | None = None,
) -> Response:
    """JSON of `data`, or `fragment` rendered with it when the request comes from htmx.

    The JSON is the schema instance dumped once (no re-validation through response_model).
    """
    headers = {"Vary": "HX-Request"}
    if etag is not None:
        headers["ETag"] = f'"{etag}"'
    if location:
        headers["Location"] = location
    if wants_html(request) and fragment:
        if page_url:
            headers["HX-Push-Url"] = page_url
        ctx = {
            "data": data,
            "actor": getattr(request.state, "actor", None),
            "csrf_token": getattr(request.state, "csrf_token", ""),
            **(context or {}),
        }
        return templates.TemplateResponse(
            request, fragment, ctx, status_code=status_code, headers=headers
        )
    if data is None:
        return Response(status_code=204 if status_code == 200 else status_code, headers=headers)
    return Response(
        content=data.model_dump_json(),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )
