"""township party committee name: the signature of the township's reports (落款)

Revision ID: 13d0c5a1e0b7
Revises: 11rect1f1ca7
Create Date: 2026-11-30 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "13d0c5a1e0b7"
down_revision: str | None = "11rect1f1ca7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("township") as batch:
        batch.add_column(sa.Column("party_committee_name", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("township") as batch:
        batch.drop_column("party_committee_name")
