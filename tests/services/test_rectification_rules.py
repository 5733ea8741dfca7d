"""The rules of rectification with numbers in them: grades, revisit dates, publicity,
liaison rhythms."""

from datetime import date
from decimal import Decimal

import pytest

from app.config import Settings
from app.models.rectification import (
    Grade,
    Liaison,
    LiaisonRole,
    Rating,
    RatingDimension,
    Rectification,
    RectificationStatus,
)
from app.services.rectifications import add_months, grade_for, last_visits, publicity_until

SETTINGS = Settings()


def overall(satisfied: int, basic: int, dissatisfied: int) -> list[Rating]:
    return [Rating(dimension=RatingDimension.overall, satisfied=satisfied, basic=basic,
                   dissatisfied=dissatisfied)]


@pytest.mark.parametrize(("total", "grade"), [
    ("69.5", Grade.fail), ("70", Grade.basic), ("84.5", Grade.basic), ("85", Grade.pass_),
    ("100", Grade.pass_), ("0", Grade.fail),
])
def test_grade_by_total_at_the_marks(total: str, grade: Grade) -> None:
    assert grade_for(Decimal(total), overall(10, 0, 0), SETTINGS) == grade


def test_exactly_half_dissatisfied_is_no_veto() -> None:
    assert grade_for(Decimal("90"), overall(3, 2, 5), SETTINGS) == Grade.pass_


def test_just_over_half_dissatisfied_fails_whatever_the_score() -> None:
    assert grade_for(Decimal("100"), overall(3, 1, 5), SETTINGS) == Grade.fail
    assert grade_for(Decimal("100"), overall(0, 0, 1), SETTINGS) == Grade.fail


def test_other_dimensions_do_not_veto() -> None:
    ratings = [Rating(dimension=RatingDimension.style, satisfied=0, basic=0, dissatisfied=9)]
    assert grade_for(Decimal("90"), ratings, SETTINGS) == Grade.pass_


@pytest.mark.parametrize(("start", "months", "due"), [
    (date(2026, 10, 31), 6, date(2027, 4, 30)),
    (date(2026, 10, 31), 12, date(2027, 10, 31)),
    (date(2026, 8, 31), 6, date(2027, 2, 28)),
    (date(2027, 8, 31), 6, date(2028, 2, 29)),
    (date(2026, 1, 15), 12, date(2027, 1, 15)),
])
def test_revisits_fall_due_in_calendar_months_clamped_to_month_end(
    start: date, months: int, due: date
) -> None:
    assert add_months(start, months) == due


def test_publicity_counts_both_ends() -> None:
    assert publicity_until(date(2026, 11, 1), SETTINGS) == date(2026, 11, 5)
    assert (publicity_until(date(2026, 11, 1), SETTINGS) - date(2026, 11, 1)).days == 4


def _designated(on: date) -> Rectification:
    r = Rectification(campaign_id=1, township_id=1, branch_id=1, reason="x", proposed_by="x",
                      proposed_on=on, status=RectificationStatus.designated, designated_on=on)
    r.set_liaisons([Liaison(role=LiaisonRole.first_secretary, name="王五"),
                    Liaison(role=LiaisonRole.county_leader, name="赵县长", post="副县长"),
                    Liaison(role=LiaisonRole.helper_unit, name="县交通局")])
    return r


def test_rhythm_counts_from_designation_without_a_visit() -> None:
    r = _designated(date(2026, 11, 1))
    on_time = {v.role: v for v in last_visits(r, {}, date(2026, 11, 8), SETTINGS)}
    assert not on_time[LiaisonRole.first_secretary].overdue
    late = {v.role: v for v in last_visits(r, {}, date(2026, 11, 9), SETTINGS)}
    assert late[LiaisonRole.first_secretary].overdue
    assert not late[LiaisonRole.county_leader].overdue
    assert LiaisonRole.helper_unit not in late  # no rhythm for the helper unit


def test_rhythm_counts_from_the_later_of_designation_and_last_visit() -> None:
    r = _designated(date(2026, 11, 1))
    latest = {LiaisonRole.first_secretary: date(2026, 11, 6),
              LiaisonRole.county_leader: date(2026, 10, 1)}  # before designation: ignored
    by_role = {v.role: v for v in last_visits(r, latest, date(2026, 12, 1), SETTINGS)}
    assert by_role[LiaisonRole.first_secretary].due_by == date(2026, 11, 13)
    assert by_role[LiaisonRole.first_secretary].overdue
    assert by_role[LiaisonRole.county_leader].due_by == date(2026, 12, 1)
    assert not by_role[LiaisonRole.county_leader].overdue


def test_a_converted_branch_is_never_visit_overdue() -> None:
    r = _designated(date(2026, 1, 1))
    r.status = RectificationStatus.converted
    assert not any(v.overdue for v in last_visits(r, {}, date(2026, 12, 1), SETTINGS))


def test_the_marks_and_days_are_settings() -> None:
    strict = Settings(acceptance_pass_mark=Decimal("80"), acceptance_good_mark=Decimal("90"),
                      publicity_days=7)
    assert grade_for(Decimal("79.5"), overall(10, 0, 0), strict) == Grade.fail
    assert grade_for(Decimal("89.5"), overall(10, 0, 0), strict) == Grade.basic
    assert publicity_until(date(2026, 11, 1), strict) == date(2026, 11, 7)
