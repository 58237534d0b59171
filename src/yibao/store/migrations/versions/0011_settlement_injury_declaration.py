"""a settlement records the injury declaration it needed (trum_dcla_detl_sn)

Not backfilled: settlements made before 0011 name no declaration, so theirs are not kept
from cancellation (docs/away.md).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 09:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trum_dcla_detl_sn', sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.drop_column('trum_dcla_detl_sn')
