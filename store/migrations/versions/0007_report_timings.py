"""report timings (GET /api/reports/performance/<id>)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09 12:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_timings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_key', sa.String(length=200), nullable=False),
    sa.Column('elapsed_ms', sa.Float(), nullable=True),
    sa.Column('widgets', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('report_timings', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_report_timings_report_key'), ['report_key'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('report_timings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_timings_report_key'))
    op.drop_table('report_timings')
