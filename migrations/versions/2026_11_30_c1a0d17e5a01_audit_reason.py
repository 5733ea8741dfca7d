"""audit reason: the reason a person gave for a deletion, an extension or a cancellation

Revision ID: c1a0d17e5a01
Revises: ab7bf3e9f0cd
Create Date: 2026-11-30 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c1a0d17e5a01"
down_revision: str | None = "ab7bf3e9f0cd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("reason")
