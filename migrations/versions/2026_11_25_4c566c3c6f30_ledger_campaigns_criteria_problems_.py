"""ledger: campaigns, criteria, problems, tasks, progress updates, attachments

Revision ID: 4c566c3c6f30
Revises: 9ad1e2d35e9a
Create Date: 2026-11-25 19:05:33.574717
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.models.base

DEFAULT_CRITERIA = [
    ("leadership_vacant", "班子配备不齐、书记长期缺职、工作处于停滞状态", "criterion"),
    ("secretary_unfit", "书记不胜任现职、工作不在状态", "criterion"),
    ("team_disunity", "班子不团结、内耗严重", "criterion"),
    ("rules_ignored", "组织制度形同虚设、不开展组织活动", "criterion"),
    ("election_bribery", "换届选举拉票贿选问题突出", "criterion"),
    ("clan_interference", "宗族宗教和黑恶势力干扰渗透严重", "criterion"),
    ("village_affairs_chaos", "村务财务公开和民主管理混乱", "criterion"),
    ("public_order_petitions", "社会治安问题和信访矛盾纠纷集中", "criterion"),
    ("weak_collective_economy", "集体经济薄弱、群众增收渠道少", "criterion"),
    ("poor_service", "服务意识差、服务能力弱、群众意见大", "criterion"),
    ("weakened_function", "基层党组织作用和功能弱化", "category"),
    ("aging_members", "党员队伍老龄化、后继乏人", "category"),
    ("discipline_violation", "负责人违规违纪", "category"),
    ("dual_role_gap", "书记、主任未“一肩挑”,换届存在隐患", "category"),
    ("other", "其他", "category"),
]

revision: str = "4c566c3c6f30"
down_revision: str | None = "9ad1e2d35e9a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("screening_due", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "closed", name="campaignstatus", native_enum=False, length=30),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign")),
    )
    op.create_table(
        "criterion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("criterion", "category", name="criterionkind", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_criterion_campaign_id_campaign")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_criterion")),
    )
    with op.batch_alter_table("criterion", schema=None) as batch_op:
        batch_op.create_index("uq_criterion_campaign_code", ["campaign_id", "code"], unique=True)
        batch_op.create_index(
            "uq_criterion_default_code",
            ["code"],
            unique=True,
            sqlite_where=sa.text("campaign_id IS NULL"),
            postgresql_where=sa.text("campaign_id IS NULL"),
        )

    # The default set of shared/domain/criteria.md. Codes are part of the API.
    now = datetime.now(UTC).replace(tzinfo=None)
    criterion = sa.table(
        "criterion",
        sa.column("created_at", sa.DateTime),
        sa.column("updated_at", sa.DateTime),
        sa.column("campaign_id", sa.Integer),
        sa.column("code", sa.String),
        sa.column("label", sa.String),
        sa.column("kind", sa.String),
        sa.column("position", sa.Integer),
        sa.column("retired", sa.Boolean),
    )
    op.bulk_insert(
        criterion,
        [
            {
                "created_at": now,
                "updated_at": now,
                "campaign_id": None,
                "code": code,
                "label": label,
                "kind": kind,
                "position": i,
                "retired": False,
            }
            for i, (code, label, kind) in enumerate(DEFAULT_CRITERIA)
        ],
    )

    op.create_table(
        "problem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("township_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "screening",
                "feedback",
                "inspection",
                "self_check",
                name="problemsource",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branch.id"], name=op.f("fk_problem_branch_id_branch")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_problem_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["township_id"], ["township.id"], name=op.f("fk_problem_township_id_township")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_problem")),
    )
    with op.batch_alter_table("problem", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_problem_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_problem_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_problem_township_id"), ["township_id"], unique=False)

    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("responsible_unit", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("responsible_person", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("township_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "in_progress",
                "submitted",
                "verified",
                name="taskstatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("status_note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("submitted_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("submitted_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column(
            "submitted_by_role",
            sa.Enum(
                "county_admin",
                "township_staff",
                "branch_secretary",
                "viewer",
                name="role",
                native_enum=False,
                length=30,
            ),
            nullable=True,
        ),
        sa.Column("completed_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("verified_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("verified_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branch.id"], name=op.f("fk_task_branch_id_branch")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_task_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["problem_id"], ["problem.id"], name=op.f("fk_task_problem_id_problem")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"],
            ["user_account.id"],
            name=op.f("fk_task_submitted_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["township_id"], ["township.id"], name=op.f("fk_task_township_id_township")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
    )
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_due_on"), ["due_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_problem_id"), ["problem_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_township_id"), ["township_id"], unique=False)

    op.create_table(
        "progress_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("township_id", sa.Integer(), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["user_account.id"],
            name=op.f("fk_progress_update_author_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_progress_update_task_id_task")
        ),
        sa.ForeignKeyConstraint(
            ["township_id"], ["township.id"], name=op.f("fk_progress_update_township_id_township")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_update")),
    )
    with op.batch_alter_table("progress_update", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_progress_update_task_id"), ["task_id"], unique=False)

    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", app.models.base.UTCDateTime(), nullable=True),
        sa.Column("update_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("township_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("storage_key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name=op.f("fk_attachment_task_id_task")),
        sa.ForeignKeyConstraint(
            ["township_id"], ["township.id"], name=op.f("fk_attachment_township_id_township")
        ),
        sa.ForeignKeyConstraint(
            ["update_id"],
            ["progress_update.id"],
            name=op.f("fk_attachment_update_id_progress_update"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
    )
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachment_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_attachment_task_id"), ["task_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attachment_update_id"), ["update_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_update_id"))
        batch_op.drop_index(batch_op.f("ix_attachment_task_id"))
        batch_op.drop_index(batch_op.f("ix_attachment_sha256"))

    op.drop_table("attachment")
    with op.batch_alter_table("progress_update", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_progress_update_task_id"))

    op.drop_table("progress_update")
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_township_id"))
        batch_op.drop_index(batch_op.f("ix_task_status"))
        batch_op.drop_index(batch_op.f("ix_task_problem_id"))
        batch_op.drop_index(batch_op.f("ix_task_due_on"))
        batch_op.drop_index(batch_op.f("ix_task_campaign_id"))
        batch_op.drop_index(batch_op.f("ix_task_branch_id"))

    op.drop_table("task")
    with op.batch_alter_table("problem", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_problem_township_id"))
        batch_op.drop_index(batch_op.f("ix_problem_campaign_id"))
        batch_op.drop_index(batch_op.f("ix_problem_branch_id"))

    op.drop_table("problem")
    with op.batch_alter_table("criterion", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_criterion_default_code",
            sqlite_where=sa.text("campaign_id IS NULL"),
            postgresql_where=sa.text("campaign_id IS NULL"),
        )
        batch_op.drop_index("uq_criterion_campaign_code")

    op.drop_table("criterion")
    op.drop_table("campaign")
