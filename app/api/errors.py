"""Every failure becomes `application/problem+json` (RFC 9457), or a fragment for htmx.

Field messages are in Chinese and name the field; htmx requests get the messages as
out-of-band swaps into each field's error slot (`#err-<field>`) plus a summary in `#flash`,
so the user's input stays where it was.
"""

import logging
import re
import traceback
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException

from app.api.represent import wants_html
from app.labels import LABELS, label
from app.services.errors import DomainError, FieldError, PreconditionFailed, TooManyRequests
from app.templating import templates

log = logging.getLogger("rectify")

PROBLEM_TYPE = "https://rectify.example/problems/"
HTTP_TITLES = {
    400: "请求有误", 401: "需要登录", 403: "无权进行此操作", 404: "页面或记录不存在",
    405: "不支持该请求方法", 409: "操作与当前状态冲突", 412: "记录已被他人修改",
    413: "上传内容过大", 415: "不支持的内容类型", 422: "输入有误", 428: "缺少版本号",
    429: "尝试次数过多", 500: "服务器内部错误",
}

_MESSAGES: dict[str, str] = {
    "missing": "必填",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "decimal_parsing": "应为数字",
    "decimal_type": "应为数字",
    "decimal_max_places": "最多保留 {decimal_places} 位小数",
    "bool_parsing": "应为是或否",
    "bool_type": "应为是或否",
    "string_type": "应为文字",
    "string_too_short": "不能为空" ,
    "string_too_long": "不能超过 {max_length} 个字",
    "string_pattern_mismatch": "格式不正确",
    "greater_than_equal": "不能小于 {ge}",
    "greater_than": "应大于 {gt}",
    "less_than_equal": "不能大于 {le}",
    "less_than": "应小于 {lt}",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "datetime_parsing": "时间格式不正确",
    "datetime_from_date_parsing": "时间格式不正确",
    "json_invalid": "请求体不是有效的 JSON",
    "model_attributes_type": "请求体应为 JSON 对象",
    "model_type": "请求体应为 JSON 对象",
    "dict_type": "应为 JSON 对象",
    "list_type": "应为列表",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "extra_forbidden": "不认识的字段",
    "int_range": "超出可存储的范围",
}


# every code's Chinese label, for naming the allowed choices of an enum field
_CODE_LABELS: dict[str, str] = {
    code: text for group in LABELS.values() if group is not LABELS["field"]
    for code, text in group.items()
}


def _field_name(loc: tuple[Any, ...], kind: str = "") -> str:
    if kind == "json_invalid":  # its loc ends with a character offset, not a field
        return "body"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _message(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind in ("enum", "literal_error"):
        codes = re.findall(r"'([^']+)'", str(ctx.get("expected", "")))
        choices = "、".join(f"{_CODE_LABELS.get(c, c)}({c})" for c in codes)
        return f"取值无效,可选:{choices}"
    if kind == "value_error":
        return str(ctx.get("error", err.get("msg", "")))
    template = _MESSAGES.get(kind)
    if template is None:
        return "取值无效"
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template


def validation_errors(exc: RequestValidationError) -> list[FieldError]:
    return [FieldError(_field_name(tuple(e["loc"]), e["type"]), _message(e)) for e in exc.errors()]


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """The problem+json body, or for htmx the message fragment with the field slots filled."""
    title = title or HTTP_TITLES.get(status, "请求有误")
    errors = errors or []
    headers = {"Vary": "HX-Request", **(headers or {})}
    if wants_html(request):
        headers.update({"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"})
        return templates.TemplateResponse(
            request,
            "fragments/problem.html",
            {"status": status, "title": title, "detail": detail, "errors": errors,
             "field_label": lambda f: label("field", f)},
            status_code=status,
            headers=headers,
        )
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + str(status),
        "title": title,
        "status": status,
        "detail": detail,
        "errors": [{"field": e.field, "message": e.message} for e in errors],
        **(extra or {}),
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    from fastapi.responses import JSONResponse

    return JSONResponse(body, status_code=status, media_type="application/problem+json",
                        headers=headers)


def _is_page(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and not wants_html(request)


async def on_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if _is_page(request):
        if exc.status == 401:
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        return templates.TemplateResponse(
            request, "pages/error.html", {"status": exc.status, "detail": exc.detail},
            status_code=exc.status,
        )
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, PreconditionFailed) and exc.current_version is not None:
        headers["ETag"] = f'"{exc.current_version}"'
        extra["current_version"] = exc.current_version
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return problem(request, exc.status, exc.detail, title=exc.title, errors=exc.errors,
                   headers=headers, extra=extra)


_NO_RECORD_ERRORS = ("less_than_equal", "greater_than_equal", "less_than", "greater_than",
                     "int_range", "int_parsing", "int_from_float")


def _names_no_record(exc: RequestValidationError) -> bool:
    """An id in the path that is not a whole number, or beyond what its column holds
    (`/branches/abc`, `/branches/99999999999999999999`), names no record: 404, not 422."""
    return any(e["loc"][:1] == ("path",) and e["type"] in _NO_RECORD_ERRORS
               for e in exc.errors())


def _field_text(field: str) -> str:
    """How a summary names a field: `评分第1项:` for `item_scores.0.score`, nothing for the
    whole body (its messages already say 请求体)."""
    if field == "body":
        return ""
    head, *rest = field.split(".")
    item = f"第{int(rest[0]) + 1}项" if rest and rest[0].isdigit() else ""
    return f"{label('field', head)}{item}:"


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if _names_no_record(exc):
        return await on_http_error(request, HTTPException(404))
    errors = validation_errors(exc)
    summary = ";".join(_field_text(e.field) + e.message for e in errors[:5])
    if _is_page(request):
        return templates.TemplateResponse(
            request, "pages/error.html", {"status": 422, "detail": summary or "输入有误"},
            status_code=422,
        )
    return problem(request, 422, summary or "输入有误", errors=errors)


async def on_stale(request: Request, exc: Exception) -> Response:
    return await on_domain_error(request, PreconditionFailed())


def _database_error(exc: BaseException) -> str:
    """What a database error was, without its values: the driver's messages name them
    (`Key (secret_hash)=(...)`), so only the kind, the SQLSTATE and the constraint."""
    orig = getattr(exc, "orig", None)
    diag = getattr(orig, "diag", None)
    parts = [type(orig or exc).__name__]
    for name in ("sqlstate", "constraint_name", "table_name"):
        value = getattr(diag, name, None) or (getattr(orig, name, None) if name == "sqlstate"
                                              else None)
        if value:
            parts.append(f"{name}={value}")
    return " ".join(parts)


async def on_integrity(request: Request, exc: Exception) -> Response:
    log.warning("integrity error on %s %s: %s", request.method, request.url.path,
                _database_error(exc))
    return problem(request, 409, "与已有记录冲突(可能是重复提交或名称重复),请刷新后重试")


# what FastAPI answers (400, in English) when a JSON body cannot be decoded (not UTF-8, ...);
# Starlette's multipart parser answers "Invalid multipart data." the same way
_UNPARSED_BODY = "There was an error parsing the body"


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers at the request's path."""
    methods: set[str] = set()
    path = request.url.path
    for context in iter_route_contexts(request.app.router.routes):
        regex = getattr(context, "path_regex", None)
        route_methods = getattr(context, "methods", None)
        if regex is not None and route_methods and regex.match(path):
            methods |= set(route_methods)
    return sorted(methods)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:  # only the framework answers 400: a body it cannot parse
        message = (_MESSAGES["json_invalid"] if exc.detail == _UNPARSED_BODY
                   else "请求体格式不正确(如 multipart 表单不完整)")
        return problem(request, 422, message, errors=[FieldError("body", message)])
    if exc.status_code == 405:
        allow = ", ".join(allowed_methods(request))
        return problem(request, 405, f"该地址不支持 {request.method} 请求;可用:{allow}",
                       headers={"Allow": allow})
    detail = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else None
    if _is_page(request) and exc.status_code == 404:
        return templates.TemplateResponse(
            request, "pages/error.html", {"status": 404, "detail": "页面不存在"}, status_code=404
        )
    return problem(request, exc.status_code, detail or HTTP_TITLES.get(exc.status_code, "错误"),
                   headers=dict(exc.headers or {}))


async def on_unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, DBAPIError):  # its message may carry the values of the statement
        log.error("database error on %s %s: %s\n%s", request.method, request.url.path,
                  _database_error(exc), "".join(traceback.format_tb(exc.__traceback__)))
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path,
                      exc_info=exc)
    return problem(request, 500, "服务器内部错误,请稍后重试;如果持续出现,请把请求编号告诉管理员")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StaleDataError, on_stale)
    app.add_exception_handler(IntegrityError, on_integrity)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
