"""What every `DELETE` of a record people enter shares: its OpenAPI note on the reason, and
its answer (204, and for htmx the page to go to once the record is gone)."""

from fastapi import Request, Response

from app.api.represent import wants_html

DELETE_DOC = (
    "软删除,删除原因必填,记入操作记录:放在查询参数 `?reason=` 中,或放在 JSON 请求体 "
    '`{"reason": "..."}` 中(二者择一)。需要 `If-Match: "<version>"`(缺少时 428,'
    "版本不符时 412)。\n\n"
    "Soft delete. The reason is required and kept in the audit event: send it as the query "
    'parameter `?reason=` or as the JSON body `{"reason": "..."}`. Needs `If-Match`.'
)


def deleted(request: Request, then: str) -> Response:
    """204 No Content; an htmx request is sent on to `then` (the record's page is gone)."""
    response = Response(status_code=204)
    if wants_html(request):
        response.headers["HX-Redirect"] = then
    return response
