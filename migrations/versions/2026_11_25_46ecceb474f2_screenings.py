"""screenings

Revision ID: 46ecceb474f2
Revises: 4de9118f4bd6
Create Date: 2026-11-25 19:15:53.505656
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.models.base

revision: str = "46ecceb474f2"
down_revision: str | None = "4de9118f4bd6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "screening",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("led_by", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("led_by_title", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("screened_on", sa.Date(), nullable=False),
        sa.Column(
            "conclusion",
            sa.Enum(
                "weak_lax", "sound", "pending", name="conclusion", native_enum=False, length=30
            ),
            nullable=False,
        ),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("township_id", sa.Integer(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branch.id"], name=op.f("fk_screening_branch_id_branch")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_screening_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["township_id"], ["township.id"], name=op.f("fk_screening_township_id_township")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening")),
        sa.UniqueConstraint("campaign_id", "branch_id", name="uq_screening_campaign_branch"),
    )
    with op.batch_alter_table("screening", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_screening_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_screening_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_screening_township_id"), ["township_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("screening", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screening_township_id"))
        batch_op.drop_index(batch_op.f("ix_screening_campaign_id"))
        batch_op.drop_index(batch_op.f("ix_screening_branch_id"))

    op.drop_table("screening")
