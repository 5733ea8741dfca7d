"""Domain errors; one handler in `app.api.errors` turns each into problem+json or a fragment."""

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    """Base: an HTTP status, a Chinese title and a readable detail."""

    status = 400
    title = "请求有误"

    def __init__(self, detail: str | None = None, *, errors: list[FieldError] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or []


class Unauthorized(DomainError):
    status = 401
    title = "需要登录"


class Forbidden(DomainError):
    status = 403
    title = "无权进行此操作"


class NotFound(DomainError):
    status = 404
    title = "记录不存在"


class Conflict(DomainError):
    status = 409
    title = "操作与当前状态冲突"


class PreconditionFailed(DomainError):
    status = 412
    title = "记录已被他人修改"

    def __init__(self, detail: str | None = None, *, current_version: int | None = None,
                 by_same_actor: bool = False):
        if by_same_actor:
            self.title = "此记录已更新"
            detail = detail or "此记录已更新(可能是您在另一页面的操作),请刷新后查看最新内容再操作"
        super().__init__(detail or "记录已被他人修改,请刷新后查看最新内容再操作")
        self.current_version = current_version
        self.by_same_actor = by_same_actor


class PreconditionRequired(DomainError):
    status = 428
    title = "缺少版本号"


class TooManyRequests(DomainError):
    status = 429
    title = "尝试次数过多"

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after


class Invalid(DomainError):
    """Bad input: one message per field."""

    status = 422
    title = "输入有误"

    def __init__(self, field: str, message: str):
        super().__init__(message, errors=[FieldError(field, message)])
