"""login throttle per username and source address

Revision ID: 10badc0ffee1
Revises: 13d0c5a1e0b7
Create Date: 2026-11-30 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "10badc0ffee1"
down_revision: str | None = "13d0c5a1e0b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the rows count attempts of the old key (username alone): they are dropped, not guessed
    op.execute("DELETE FROM login_throttle")
    with op.batch_alter_table("login_throttle") as batch:
        batch.add_column(sa.Column("address", sa.String(length=64), nullable=False,
                                   server_default=""))
        batch.drop_constraint("uq_login_throttle_username", type_="unique")
        batch.create_unique_constraint("uq_login_throttle_username_address",
                                       ["username", "address"])
    with op.batch_alter_table("login_throttle") as batch:
        batch.alter_column("address", server_default=None)


def downgrade() -> None:
    op.execute("DELETE FROM login_throttle")
    with op.batch_alter_table("login_throttle") as batch:
        batch.drop_constraint("uq_login_throttle_username_address", type_="unique")
        batch.create_unique_constraint("uq_login_throttle_username", ["username"])
        batch.drop_column("address")
