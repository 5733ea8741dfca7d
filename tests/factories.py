"""Small factories: a record with sensible defaults, overridden per test."""

import itertools
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlmodel import Session

from app.db import transaction
from app.models.branch import Branch, BranchKind
from app.models.township import Township
from app.models.user import Role, TokenScope, User
from app.services.auth import create_api_token

PASSWORD = "test-pass-123"
_seq = itertools.count(1)
_hash_cache: dict[str, str] = {}
# Test users get argon2 hashes with the lowest cost: the service verifies any argon2 hash
# with the parameters stored in it, so every login in the suite stays cheap.
_cheap_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _password_hash(password: str) -> str:
    if password not in _hash_cache:
        _hash_cache[password] = _cheap_hasher.hash(password)
    return _hash_cache[password]


def make_township(session: Session, **overrides: Any) -> Township:
    n = next(_seq)
    township = Township(**{"name": f"测试镇{n}", "code": f"T{n:04d}", **overrides})
    session.add(township)
    session.flush()
    return township


def make_branch(session: Session, township: Township, **overrides: Any) -> Branch:
    n = next(_seq)
    values: dict[str, Any] = {
        "township_id": township.id, "name": f"测试村{n}党支部", "kind": BranchKind.village,
        "member_count": 30, "members_35_under": 5, "members_36_55": 15, "members_56_over": 10,
        "secretary_is_director": True,
    }
    branch = Branch(**{**values, **overrides})
    session.add(branch)
    session.flush()
    return branch


def make_user(
    session: Session, role: Role, *, township: Township | None = None,
    branch: Branch | None = None, username: str | None = None, password: str = PASSWORD,
    **overrides: Any,
) -> User:
    n = next(_seq)
    user = User(
        username=username or f"{role.value}{n}", display_name=f"{role.value} {n}", role=role,
        township_id=township.id if township else (branch.township_id if branch else None),
        branch_id=branch.id if branch else None, password_hash=_password_hash(password),
        **overrides,
    )
    session.add(user)
    session.flush()
    return user


def make_token(
    session: Session, *, scope: TokenScope = TokenScope.read, township: Township | None = None,
    **overrides: Any,
) -> str:
    _token, secret = create_api_token(
        session, name=overrides.pop("name", f"系统{next(_seq)}"), scope=scope,
        township_id=township.id if township else None,
        expires_at=overrides.pop("expires_at", None),
    )
    return secret


def committed(engine: Engine) -> Any:
    """A transaction that commits, for arranging data the app will read."""
    return transaction(engine, actor="test")


def bearer(secret: str) -> dict[str, str]:
    """The headers of a request made with an API token."""
    return {"Authorization": f"Bearer {secret}"}


def assert_problem(response: Any, status: int, *, field: str | None = None) -> dict[str, Any]:
    """The problem+json body of `response`, checked: status, media type, a readable detail
    and, when `field` is given, a Chinese message naming that field."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert "Traceback" not in response.text
    if field is not None:
        messages = [e["message"] for e in body["errors"] if e["field"] == field]
        assert messages, f"no error for {field!r} in {body['errors']}"
        assert any(_has_chinese(m) for m in messages), messages
    return body


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# ------------------------------------------------------- ledger: campaigns, problems, tasks


def default_criteria() -> list[tuple[str, str, str]]:
    """The default criteria and categories as the migration seeds them: (code, label, kind)."""
    import importlib.util
    from pathlib import Path

    path = next((Path(__file__).parent.parent / "migrations" / "versions").glob(
        "*_ledger_campaigns_criteria_problems_*.py"))
    spec = importlib.util.spec_from_file_location("_ledger_migration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.DEFAULT_CRITERIA)


def ensure_default_criteria(session: Session) -> None:
    """Put back the migration's default criteria (emptying the tables between tests drops
    them), unless they are there."""
    from sqlalchemy import select
    from sqlmodel import col

    from app.models.campaign import Criterion, CriterionKind

    if session.scalars(select(Criterion).where(col(Criterion.campaign_id).is_(None))).first():
        return
    for i, (code, text, kind) in enumerate(default_criteria()):
        session.add(Criterion(code=code, label=text, kind=CriterionKind(kind), position=i))
    session.flush()


def ensure_default_acceptance_items(session: Session) -> None:
    """Put back the migration's default acceptance score sheet, unless it is there."""
    import importlib.util
    from decimal import Decimal
    from pathlib import Path

    from sqlalchemy import select
    from sqlmodel import col

    from app.models.rectification import AcceptanceItem

    if session.scalars(select(AcceptanceItem).where(
            col(AcceptanceItem.campaign_id).is_(None))).first():
        return
    path = next((Path(__file__).parent.parent / "migrations" / "versions").glob(
        "*_11rect1f1ca7_rectifications.py"))
    spec = importlib.util.spec_from_file_location("_rectification_migration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for i, (code, text, points) in enumerate(module.DEFAULT_ACCEPTANCE_ITEMS):
        session.add(AcceptanceItem(code=code, label=text, max_points=Decimal(points),
                                   position=i))
    session.flush()


def make_campaign(session: Session, **overrides: Any) -> Any:
    from datetime import date

    from app.models.campaign import Campaign

    ensure_default_criteria(session)
    n = next(_seq)
    campaign = Campaign(**{"name": f"专项整治{n}", "starts_on": date(2025, 1, 1),
                           "screening_due": date(2025, 3, 31), "ends_on": date(2030, 12, 31),
                           **overrides})
    session.add(campaign)
    session.flush()
    return campaign


def make_problem(
    session: Session, campaign: Any, township: Township, *, branch: Branch | None = None,
    **overrides: Any,
) -> Any:
    from app.models.problem import Problem, ProblemSource

    n = next(_seq)
    if "source" in overrides:
        overrides["source"] = ProblemSource(overrides["source"])
    problem = Problem(**{
        "campaign_id": campaign.id, "township_id": township.id,
        "branch_id": branch.id if branch else None, "category": "rules_ignored",
        "source": ProblemSource.screening, "description": f"组织生活不规范{n}", **overrides,
    })
    session.add(problem)
    session.flush()
    return problem


def make_task(session: Session, problem: Any, **overrides: Any) -> Any:
    """A task against `problem` (its branch, township and campaign unless overridden)."""
    from datetime import date, timedelta

    from app.models.task import Task

    n = next(_seq)
    task = Task(**{
        "problem_id": problem.id, "branch_id": problem.branch_id,
        "campaign_id": problem.campaign_id, "township_id": problem.township_id,
        "title": f"按月召开主题党日{n}", "responsible_unit": "村党支部",
        "responsible_person": "张三", "due_on": date.today() + timedelta(days=30),
        **overrides,
    })
    session.add(task)
    session.flush()
    return task


# ------------------------------------------------------- screenings and returned forms


def make_screening(
    session: Session, campaign: Any, branch: Branch, *, hits: dict[str, str | None] | None = None,
    **overrides: Any,
) -> Any:
    """A screening of `branch` in `campaign`; `hits` maps criterion codes found (存在) to notes.

    Unless `results` is given, every criterion of the default set gets a result, so any
    conclusion fits. It does not set the branch's `is_weak_lax` (the service does)."""
    from datetime import date

    from app.models.screening import Conclusion, Screening

    hits = hits or {}
    codes = [code for code, _label, kind in default_criteria() if kind == "criterion"]
    results = [{"code": c, "hit": c in hits, "note": hits.get(c), "problem_id": None}
               for c in codes]
    screening = Screening(**{
        "campaign_id": campaign.id, "branch_id": branch.id, "township_id": branch.township_id,
        "led_by": "王书记", "led_by_title": "镇党委书记", "screened_on": date(2025, 3, 1),
        "conclusion": Conclusion.weak_lax if hits else Conclusion.sound, "results": results,
        **overrides,
    })
    session.add(screening)
    session.flush()
    return screening


def make_feedback_form(
    session: Session, campaign: Any, branch: Branch, **overrides: Any
) -> Any:
    """A returned, anonymous form of `branch` (no opinions: the satisfaction is what counts)."""
    from app.models.feedback import FeedbackForm

    form = FeedbackForm(**{
        "campaign_id": campaign.id, "branch_id": branch.id, "township_id": branch.township_id,
        "submitted_by": "user:test", **overrides,
    })
    session.add(form)
    session.flush()
    return form
