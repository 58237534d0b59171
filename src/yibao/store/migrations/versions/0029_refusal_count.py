"""Refused national messages counted per day, institution, infno and error code: the
console's dashboard shows the error codes per institution as a trend (issue 18)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-03 19:10:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'refusal_count',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
        sa.Column('infno', sa.String(length=6), nullable=False),
        sa.Column('code', sa.String(length=16), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'fixmedins_code', 'infno', 'code'),
    )


def downgrade() -> None:
    op.drop_table('refusal_count')
