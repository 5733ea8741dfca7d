"""feedback: form issuance, feedback forms, opinions, suggestions

Revision ID: 4de9118f4bd6
Revises: 4c566c3c6f30
Create Date: 2026-11-25 19:12:33.961353
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.models.base

revision: str = "4de9118f4bd6"
down_revision: str | None = "4c566c3c6f30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "feedback_form",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column(
            "respondent_kind",
            sa.Enum(
                "party_member",
                "villager",
                "cadre",
                "other",
                name="respondentkind",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("respondent_name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column(
            "satisfaction",
            sa.Enum(
                "satisfied",
                "basically",
                "dissatisfied",
                name="satisfaction",
                native_enum=False,
                length=30,
            ),
            nullable=True,
        ),
        sa.Column("township_id", sa.Integer(), nullable=False),
        sa.Column("submitted_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("submitted_at", app.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branch.id"], name=op.f("fk_feedback_form_branch_id_branch")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_feedback_form_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["township_id"], ["township.id"], name=op.f("fk_feedback_form_township_id_township")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_form")),
    )
    with op.batch_alter_table("feedback_form", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_form_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_feedback_form_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_feedback_form_township_id"), ["township_id"], unique=False
        )

    op.create_table(
        "form_issuance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("township_id", sa.Integer(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branch.id"], name=op.f("fk_form_issuance_branch_id_branch")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_form_issuance_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["township_id"], ["township.id"], name=op.f("fk_form_issuance_township_id_township")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_issuance")),
        sa.UniqueConstraint("campaign_id", "branch_id", name="uq_form_issuance_campaign_branch"),
    )
    with op.batch_alter_table("form_issuance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_issuance_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_form_issuance_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_form_issuance_township_id"), ["township_id"], unique=False
        )

    op.create_table(
        "suggestion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("township_id", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column(
            "theme",
            sa.Enum(
                "prosperity",
                "member_quality",
                "service",
                "work_style",
                "organization",
                "other",
                name="theme",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("problem_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_suggestion_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["problem_id"], ["problem.id"], name=op.f("fk_suggestion_problem_id_problem")
        ),
        sa.ForeignKeyConstraint(
            ["township_id"], ["township.id"], name=op.f("fk_suggestion_township_id_township")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion")),
    )
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_suggestion_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_suggestion_township_id"), ["township_id"], unique=False
        )

    op.create_table(
        "opinion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column(
            "theme",
            sa.Enum(
                "prosperity",
                "member_quality",
                "service",
                "work_style",
                "organization",
                "other",
                name="theme",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("township_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("suggestion_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branch.id"], name=op.f("fk_opinion_branch_id_branch")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_opinion_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["form_id"], ["feedback_form.id"], name=op.f("fk_opinion_form_id_feedback_form")
        ),
        sa.ForeignKeyConstraint(
            ["suggestion_id"], ["suggestion.id"], name=op.f("fk_opinion_suggestion_id_suggestion")
        ),
        sa.ForeignKeyConstraint(
            ["township_id"], ["township.id"], name=op.f("fk_opinion_township_id_township")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opinion")),
    )
    with op.batch_alter_table("opinion", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opinion_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_opinion_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_opinion_form_id"), ["form_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_opinion_suggestion_id"), ["suggestion_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_opinion_theme"), ["theme"], unique=False)
        batch_op.create_index(batch_op.f("ix_opinion_township_id"), ["township_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("opinion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opinion_township_id"))
        batch_op.drop_index(batch_op.f("ix_opinion_theme"))
        batch_op.drop_index(batch_op.f("ix_opinion_suggestion_id"))
        batch_op.drop_index(batch_op.f("ix_opinion_form_id"))
        batch_op.drop_index(batch_op.f("ix_opinion_campaign_id"))
        batch_op.drop_index(batch_op.f("ix_opinion_branch_id"))

    op.drop_table("opinion")
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suggestion_township_id"))
        batch_op.drop_index(batch_op.f("ix_suggestion_campaign_id"))

    op.drop_table("suggestion")
    with op.batch_alter_table("form_issuance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_issuance_township_id"))
        batch_op.drop_index(batch_op.f("ix_form_issuance_campaign_id"))
        batch_op.drop_index(batch_op.f("ix_form_issuance_branch_id"))

    op.drop_table("form_issuance")
    with op.batch_alter_table("feedback_form", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_form_township_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_form_campaign_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_form_branch_id"))

    op.drop_table("feedback_form")
