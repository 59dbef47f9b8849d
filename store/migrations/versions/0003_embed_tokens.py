"""embed tokens (issued signed embed links, revocable)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('embed_tokens',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('dashboard', sa.String(length=200), nullable=False),
    sa.Column('issued_by', sa.Integer(), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['issued_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['revoked_by'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('jti')
    )
    with op.batch_alter_table('embed_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_embed_tokens_issued_by'), ['issued_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_embed_tokens_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('embed_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_embed_tokens_expires_at'))
        batch_op.drop_index(batch_op.f('ix_embed_tokens_issued_by'))

    op.drop_table('embed_tokens')
