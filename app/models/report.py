"""The summary report's shape (DESIGN.md, "The summary report"); no tables."""

from datetime import date

from sqlmodel import SQLModel

from app.models.rectification import RectificationFigures


class SummaryScope(SQLModel):
    campaign_id: int | None
    township_id: int | None
    as_of: date


class BranchFigures(SQLModel):
    total: int
    by_kind: dict[str, int]


class MemberFigures(SQLModel):
    total: int
    by_kind: dict[str, int]
    age_35_under: int
    age_36_55: int
    age_56_over: int
    age_recorded: int
    applicants_35_under: int


class SecretaryFigures(SQLModel):
    village_total: int
    age_50_plus: int
    age_60_plus: int
    not_dual_role: int


class ScreeningFigures(SQLModel):
    due: date | None
    target: int
    done: int
    done_by_due: int
    weak_lax: int


class FeedbackFigures(SQLModel):
    issued: int
    returned: int
    opinions: int
    suggestions: int
    by_theme: dict[str, int]


class ProblemFigures(SQLModel):
    total: int
    by_category: dict[str, int]


class TaskFigures(SQLModel):
    total: int
    by_status: dict[str, int]
    overdue: int
    by_deadline: dict[str, int] = {}  # overdue, within_10, within_20, later, done


class SummaryWarning(SQLModel):
    code: str
    message: str


class Summary(SQLModel):
    """The figures a township report states, computed from the records."""

    scope: SummaryScope
    branches: BranchFigures
    members: MemberFigures
    secretaries: SecretaryFigures
    screenings: ScreeningFigures
    feedback: FeedbackFigures
    problems: ProblemFigures
    tasks: TaskFigures
    rectifications: RectificationFigures
    warnings: list[SummaryWarning]
