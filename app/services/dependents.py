"""What is still attached to a township or a branch, so neither is deleted from under its
records (a deleted township's tasks would linger in the summary, the overdue list and the
exports)."""

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.models.activity import Activity
from app.models.branch import Branch
from app.models.feedback import FeedbackForm, FormIssuance, Suggestion
from app.models.problem import Problem
from app.models.screening import Screening
from app.models.task import Task
from app.models.user import ApiToken, User
from app.services.errors import Conflict

# (model, Chinese name, measure word), in the order a message names them
_BY_BRANCH: list[tuple[Any, str, str]] = [
    (Problem, "问题", "条"), (Task, "整改任务", "项"), (Screening, "排查记录", "条"),
    (FeedbackForm, "征求意见表", "份"), (FormIssuance, "意见表发放记录", "条"),
    (Activity, "工作开展记录", "条"), (User, "用户", "个"),
]
_BY_TOWNSHIP: list[tuple[Any, str, str]] = [
    (Branch, "党支部", "个"), *_BY_BRANCH[:-1], (Suggestion, "意见建议", "条"),
    (User, "用户", "个"), (ApiToken, "API 令牌", "个"),
]


def _live(model: Any) -> Any:
    if model is ApiToken:
        return col(ApiToken.deleted_at).is_(None) & col(ApiToken.revoked_at).is_(None)
    return col(model.deleted_at).is_(None)


def attached_counts(
    session: Session, kinds: list[tuple[Any, str, str]], column: str, owner_id: int
) -> list[tuple[str, int, str]]:
    """`(name, count, measure word)` of each kind of live record whose `column` is `owner_id`
    (kinds with none left out)."""
    found = []
    for model, name, unit in kinds:
        n = session.execute(select(func.count()).select_from(model).where(
            getattr(model, column) == owner_id, _live(model))).scalar_one()
        if n:
            found.append((name, int(n), unit))
    return found


def _refuse_if_attached(what: str, counts: list[tuple[str, int, str]]) -> None:
    if counts:
        listed = "、".join(f"{name} {n} {unit}" for name, n, unit in counts)
        raise Conflict(f"{what}下还有{listed},不能删除;请先删除或转移这些记录")


def refuse_branch_with_records(session: Session, branch_id: int) -> None:
    """Raise Conflict (409) naming, by kind and count, the live records of the branch."""
    _refuse_if_attached("该党支部", attached_counts(session, _BY_BRANCH, "branch_id", branch_id))


def refuse_township_with_records(session: Session, township_id: int) -> None:
    """Raise Conflict (409) naming, by kind and count, the live records of the township."""
    _refuse_if_attached("该乡镇",
                        attached_counts(session, _BY_TOWNSHIP, "township_id", township_id))
