"""export jobs: progress, start time, result detail; created_at indexed for the 7-day purge

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("progress", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("detail", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_exports_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_exports_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exports_status"))
        batch_op.drop_index(batch_op.f("ix_exports_created_at"))
        batch_op.drop_column("detail")
        batch_op.drop_column("started_at")
        batch_op.drop_column("progress")
