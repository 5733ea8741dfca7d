"""partial indexes the summary counts from alone (index-only scans)

The province summary (1,000,000 tasks, 2,000,000 opinions) spent most of its time in
sequential scans of these tables; each index holds only the columns the summary filters
and groups on, for live rows, and PostgreSQL's deduplication keeps it small.

Revision ID: 15summ1dx000
Revises: 10badc0ffee1
Create Date: 2026-11-30 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "15summ1dx000"
down_revision: str | None = "10badc0ffee1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "deleted_at IS NULL"
UNASSIGNED_LIVE = "deleted_at IS NULL AND coalesce(responsible_person, '') = ''"

# (name, table, columns, predicate)
INDEXES = [
    ("ix_task_campaign_status_due_live", "task", ["campaign_id", "status", "due_on"], LIVE),
    ("ix_task_campaign_unassigned_live", "task", ["campaign_id", "status"], UNASSIGNED_LIVE),
    ("ix_opinion_campaign_theme_live", "opinion", ["campaign_id", "theme"], LIVE),
    ("ix_feedback_form_campaign_live", "feedback_form", ["campaign_id"], LIVE),
    ("ix_problem_campaign_category_live", "problem", ["campaign_id", "category"], LIVE),
]


def upgrade() -> None:
    for name, table, columns, where in INDEXES:
        op.create_index(name, table, columns, unique=False,
                        sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def downgrade() -> None:
    for name, table, _columns, _where in reversed(INDEXES):
        op.drop_index(name, table_name=table)
