"""The OpenAPI document states the contract of every operation: the problem responses it
can answer (as `application/problem+json`), and `If-Match` as required where it is.

Which problems an operation can answer follows from what it depends on, read once from
its route: a caller (401, 403), a record in the path (404), a body (413, 409), any input
(422), a version (412, 428), a login (429). No endpoint lists them by hand.
"""

from typing import Any, cast

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from app.api.deps import current_actor, if_match_version
from app.api.errors import HTTP_TITLES

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `errors` names each field with its message.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"],
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
        }},
        "request_id": {"type": "string"},
        "current_version": {"type": "integer"},
    },
    "required": ["type", "title", "status", "detail"],
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
IF_MATCH_PATTERN = r'^\s*(\*|(W/)?"?[0-9]{1,18}"?)\s*$'
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# what a download answers, by the end of its path; `{target}` is any of the export formats
FILE_TYPES: dict[str, list[str]] = {
    ".csv": ["text/csv"], ".xlsx": [XLSX], ".ndjson": ["application/x-ndjson"],
    ".docx": ["application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
    ".html": ["text/html"], "/exports/{target}": ["text/csv", "application/x-ndjson", XLSX],
    "/attachments/{attachment_id}": ["application/octet-stream", "image/*",
                                     "application/pdf", "application/*"],
}


def _calls(dependant: Dependant) -> set[Any]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def _has_params(dependant: Dependant) -> bool:
    if dependant.path_params or dependant.query_params or dependant.header_params:
        return True
    if dependant.body_params:
        return True
    return any(_has_params(sub) for sub in dependant.dependencies)


def _body_has_version(route: APIRoute) -> bool:
    body = route.body_field
    annotation = getattr(body.field_info, "annotation", None) if body is not None else None
    fields = getattr(annotation, "model_fields", {})
    return "version" in fields


def problem_statuses(route: APIRoute) -> set[int]:
    """The problem statuses `route` can answer, from what it depends on."""
    calls = _calls(route.dependant)
    statuses: set[int] = set()
    if current_actor in calls:
        statuses |= {401, 403, 404}  # a record named anywhere but out of scope: 404
    if route.dependant.path_params or any(sub.path_params for sub in route.dependant.dependencies):
        statuses.add(404)
    if _has_params(route.dependant):
        statuses.add(422)
    if route.body_field is not None:
        statuses |= {409, 413}
    if (route.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}:
        statuses.add(409)
    if if_match_version in calls:
        statuses |= {412, 428}
    if route.path.endswith("/auth/login"):
        statuses |= {401, 429}
    return statuses


def _file_types(path: str) -> list[str] | None:
    return next((types for end, types in FILE_TYPES.items() if path.endswith(end)), None)


def _document(operation: dict[str, Any], route: APIRoute) -> None:
    responses = operation.setdefault("responses", {})
    file_types = _file_types(route.path_format)
    if file_types is not None and "200" in responses:
        responses["200"]["content"] = {
            t: {"schema": {"type": "string", "format": "binary"}} for t in file_types
        }
    for status in sorted(problem_statuses(route)):
        responses[str(status)] = {
            "description": HTTP_TITLES.get(status, "错误"),
            "content": {"application/problem+json": {"schema": PROBLEM_REF}},
        }
    if if_match_version in _calls(route.dependant):
        required = not _body_has_version(route)
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "header" and parameter.get("name", "").lower() == "if-match":
                parameter["required"] = required
                parameter["schema"] = {"type": "string", "pattern": IF_MATCH_PATTERN}
                parameter["description"] = (
                    "记录的 ETag(如 \"3\");" +
                    ("必填" if required else "或在请求体中提供 version") + ",过期时答 412"
                )


def install(app: FastAPI) -> None:
    """Make `app.openapi()` answer the document with the problem responses filled in."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                             description=app.description)
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        schemas = schema["components"]["schemas"]
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        for context in iter_route_contexts(app.routes):
            route = cast(APIRoute, context)
            if not isinstance(context.original_route, APIRoute) or not route.include_in_schema:
                continue
            item = schema.get("paths", {}).get(route.path_format, {})
            for method in route.methods or ():
                operation = item.get(method.lower())
                if operation is not None:
                    _document(operation, route)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
