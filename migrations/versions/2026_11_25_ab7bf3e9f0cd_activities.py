"""activities

Revision ID: ab7bf3e9f0cd
Revises: 46ecceb474f2
Create Date: 2026-11-25 19:19:19.810643
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.models.base

revision: str = "ab7bf3e9f0cd"
down_revision: str | None = "46ecceb474f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("township_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "meeting",
                "training",
                "warning_education",
                "visit",
                "other",
                name="activitykind",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=True),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branch.id"], name=op.f("fk_activity_branch_id_branch")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_activity_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["township_id"], ["township.id"], name=op.f("fk_activity_township_id_township")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity")),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activity_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_township_id"), ["township_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_township_id"))
        batch_op.drop_index(batch_op.f("ix_activity_campaign_id"))
        batch_op.drop_index(batch_op.f("ix_activity_branch_id"))

    op.drop_table("activity")
