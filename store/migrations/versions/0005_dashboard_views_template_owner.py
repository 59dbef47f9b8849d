"""dashboard views (recently viewed) and the owner of saved templates

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 12:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dashboard_views',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('dashboard_key', sa.String(length=200), nullable=False),
    sa.Column('viewed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'dashboard_key', name='uq_dashboard_views_user_key')
    )
    with op.batch_alter_table('dashboard_views', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dashboard_views_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('templates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            'fk_templates_owner_id_users', 'users', ['owner_id'], ['id'], ondelete='SET NULL'
        )


def downgrade() -> None:
    with op.batch_alter_table('templates', schema=None) as batch_op:
        batch_op.drop_constraint('fk_templates_owner_id_users', type_='foreignkey')
        batch_op.drop_column('owner_id')
    with op.batch_alter_table('dashboard_views', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dashboard_views_user_id'))
    op.drop_table('dashboard_views')
