"""The branch register: scoped queries, validation, and the derived warning flags."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, func, or_, select
from sqlmodel import Session, col

from app import clock
from app.config import get_settings
from app.listing import Item, derive, fields_of, items
from app.models.base import FEED_EXTRAS
from app.models.branch import (
    Branch,
    BranchCreate,
    BranchFlag,
    BranchKind,
    BranchPublic,
    BranchUpdate,
)
from app.models.township import Township
from app.services.actors import Actor, branch_visible, require_register_write, township_visible
from app.services.dependents import refuse_branch_with_records
from app.services.errors import Invalid
from app.services.pagination import MAX_LIMIT, PageParams, keyset_rows
from app.services.records import apply_changes, check_version, get_visible, soft_delete


@dataclass(frozen=True)
class Limits:
    """Today's thresholds of the flags: secretaries born in `secretary_year` or earlier
    reached the age limit; a village's income under `income_wan` is low."""

    secretary_year: int
    income_wan: Decimal


@dataclass(frozen=True)
class FlagRule:
    """One warning flag, as a Python predicate on a record (a `Branch` or a selected row)
    and as a SQL condition."""

    check: Callable[[Any, Limits], bool]
    where: Callable[[], ColumnElement[bool]]


def _age_band_sum(b: Any) -> int:
    return (b.members_35_under or 0) + (b.members_36_55 or 0) + (b.members_56_over or 0)


def _age_band_sum_sql() -> ColumnElement[int]:
    return (
        func.coalesce(Branch.members_35_under, 0)
        + func.coalesce(Branch.members_36_55, 0)
        + func.coalesce(Branch.members_56_over, 0)
    )


def _secretary_limit_year() -> int:
    """Born in this year or earlier: aged at least the limit this year."""
    return clock.today().year - get_settings().secretary_age_limit


def _income_threshold() -> Decimal:
    return get_settings().low_income_threshold_wan


def today_limits() -> Limits:
    return Limits(secretary_year=_secretary_limit_year(), income_wan=_income_threshold())


FLAG_RULES: dict[BranchFlag, FlagRule] = {
    BranchFlag.age_bands_incomplete: FlagRule(
        check=lambda b, _: b.member_count > 0 and _age_band_sum(b) < b.member_count,
        where=lambda: and_(Branch.member_count > 0, _age_band_sum_sql() < Branch.member_count),
    ),
    BranchFlag.secretary_60_plus: FlagRule(
        check=lambda b, limits: b.secretary_birth_year is not None
        and b.secretary_birth_year <= limits.secretary_year,
        where=lambda: col(Branch.secretary_birth_year) <= _secretary_limit_year(),
    ),
    BranchFlag.no_dual_role: FlagRule(
        check=lambda b, _: b.kind == BranchKind.village and not b.secretary_is_director,
        where=lambda: and_(Branch.kind == BranchKind.village, ~col(Branch.secretary_is_director)),
    ),
    BranchFlag.low_collective_income: FlagRule(
        check=lambda b, limits: b.kind == BranchKind.village
        and b.collective_income_wan is not None
        and Decimal(b.collective_income_wan) < limits.income_wan,
        where=lambda: and_(
            Branch.kind == BranchKind.village,
            col(Branch.collective_income_wan) < _income_threshold(),
        ),
    ),
    BranchFlag.no_young_members: FlagRule(
        check=lambda b, _: b.member_count > 0 and b.members_35_under == 0,
        where=lambda: and_(Branch.member_count > 0, Branch.members_35_under == 0),
    ),
}


def branch_flags(branch: Any, limits: Limits | None = None) -> list[BranchFlag]:
    """The flags `branch` (a `Branch` or a row with its columns) raises, by `limits` (today's
    when not given)."""
    limits = limits or today_limits()
    return [flag for flag, rule in FLAG_RULES.items() if rule.check(branch, limits)]


def _flag_column(flag: BranchFlag) -> str:
    return f"flag_{flag.value}"


def _flags_of_rows(selected: Sequence[str]) -> Callable[[Any], list[BranchFlag]]:
    """A row's flags from the columns `_branch_rows` selects: each rule's SQL condition,
    true or not (the same conditions the `flag` filter uses)."""
    flags = list(FLAG_RULES)
    hits = itemgetter(*(selected.index(_flag_column(flag)) for flag in flags))
    return lambda row: [flag for flag, hit in zip(flags, hits(row), strict=True) if hit]


# the change feed's branch carries its derived flags, as the API's does
FEED_EXTRAS["branch"] = lambda branch: {"flags": [f.value for f in branch_flags(branch)]}


def to_public(branch: Branch, township_name: str | None = None) -> BranchPublic:
    data = branch.model_dump()
    return BranchPublic(**data, township_name=township_name, flags=branch_flags(branch))


@dataclass(frozen=True)
class BranchFilters:
    township_id: int | None = None
    kind: BranchKind | None = None
    q: str | None = None
    flag: BranchFlag | None = None


derive(BranchPublic, "flags", _flags_of_rows)

_BRANCH: Table = Branch.__table__  # type: ignore[attr-defined]
_TOWNSHIP: Table = Township.__table__  # type: ignore[attr-defined]


@lru_cache(maxsize=4)
def _branch_rows(_limits: Limits) -> Select[Any]:
    """Live branches: the columns of `BranchPublic` in its order, then whether each flag's
    condition holds (by today's `_limits`, which key the cache: built once a day)."""
    by_name: dict[str, ColumnElement[Any]] = {c.name: c for c in _BRANCH.c}
    by_name["township_name"] = _TOWNSHIP.c.name.label("township_name")
    return (
        select(*(by_name[name] for name in fields_of(BranchPublic) if name in by_name),
               *(rule.where().label(_flag_column(flag)) for flag, rule in FLAG_RULES.items()))
        .join_from(_BRANCH, _TOWNSHIP, _TOWNSHIP.c.id == _BRANCH.c.township_id)
        .where(_BRANCH.c.deleted_at.is_(None))
    )


def list_branches(
    *, session: Session, actor: Actor, filters: BranchFilters, page: PageParams
) -> tuple[list[Item], str | None]:
    """A page of the branches the actor may see, filtered: `BranchPublic` items (with their
    township's name and `flags`) and the next page's cursor (None on the last page).
    Raises Invalid (`cursor`) for a cursor this list did not give."""
    stmt = _branch_rows(today_limits()).where(branch_visible(actor))
    if filters.township_id is not None:
        stmt = stmt.where(Branch.township_id == filters.township_id)
    if filters.kind is not None:
        stmt = stmt.where(Branch.kind == filters.kind)
    if filters.q:
        text = filters.q.strip()  # literally: `%` and `_` are characters
        stmt = stmt.where(or_(col(Branch.name).contains(text, autoescape=True),
                              col(Branch.secretary_name).contains(text, autoescape=True)))
    if filters.flag is not None:
        stmt = stmt.where(FLAG_RULES[filters.flag].where())
    rows, next_cursor = keyset_rows(
        session, stmt, keys=[_BRANCH.c.id], key_of=lambda r: [r.id], page=page
    )
    return items(BranchPublic, rows), next_cursor


def get_branch(*, session: Session, actor: Actor, branch_id: int) -> Branch:
    """The branch, or NotFound when it does not exist or lies outside the actor's scope."""
    return get_visible(session, Branch, branch_id, branch_visible(actor),
                       "党支部不存在或无权查看")


def township_name(session: Session, township_id: int) -> str | None:
    township = session.get(Township, township_id)
    return township.name if township else None


def _check_township(session: Session, actor: Actor, township_id: int) -> None:
    found = session.execute(
        select(Township.id).where(
            Township.id == township_id, col(Township.deleted_at).is_(None), township_visible(actor)
        )
    ).first()
    if found is None:
        raise Invalid("township_id", "所选乡镇不存在")


def _check_age_bands(branch: Branch) -> None:
    if _age_band_sum(branch) > branch.member_count:
        raise Invalid(
            "member_count",
            f"各年龄段党员合计 {_age_band_sum(branch)} 人,超过党员总数 {branch.member_count} 人",
        )
    if (branch.applicants_35_under or 0) < 0:
        raise Invalid("applicants_35_under", "不能小于 0")


def _check_unique_name(session: Session, branch: Branch) -> None:
    with session.no_autoflush:  # flushing the changed name first would hit the unique index
        clash = session.execute(
            select(Branch.id).where(
                Branch.township_id == branch.township_id,
                Branch.name == branch.name,
                col(Branch.deleted_at).is_(None),
                Branch.id != (branch.id or 0),
            )
        ).first()
    if clash is not None:
        raise Invalid("name", f"本乡镇已有名为“{branch.name}”的党支部")


def create_branch(*, session: Session, actor: Actor, data: BranchCreate) -> Branch:
    require_register_write(actor, data.township_id)
    _check_township(session, actor, data.township_id)
    branch = Branch.model_validate(data)
    _check_age_bands(branch)
    _check_unique_name(session, branch)
    session.add(branch)
    session.flush()
    return branch


def update_branch(
    *, session: Session, actor: Actor, branch: Branch, data: BranchUpdate, version: int | None
) -> Branch:
    require_register_write(actor, branch.township_id)
    check_version(branch, version)
    sent: dict[str, Any] = apply_changes(branch, data)
    if "name" in sent:
        branch.name = branch.name.strip()
        _check_unique_name(session, branch)
    _check_age_bands(branch)
    session.add(branch)
    session.flush()
    return branch


def delete_branch(*, session: Session, actor: Actor, branch: Branch, version: int | None) -> None:
    """Soft-delete a branch; Conflict (409) naming the records still attached to it."""
    require_register_write(actor, branch.township_id)
    check_version(branch, version)
    refuse_branch_with_records(session, branch.id)  # type: ignore[arg-type]
    soft_delete(branch)
    session.add(branch)
    session.flush()


def branch_choices(
    *, session: Session, actor: Actor, township_id: int | None = None
) -> list[Item]:
    """The branches the actor may see (of one township, if given), for choices on forms."""
    items, _ = list_branches(session=session, actor=actor,
                             filters=BranchFilters(township_id=township_id),
                             page=PageParams(limit=MAX_LIMIT))
    return items
