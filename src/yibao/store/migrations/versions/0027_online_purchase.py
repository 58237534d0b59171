"""Online drug purchase: an online order may be the payment of an electronic
prescription an online pharmacy dispensed (online_order.hi_rxno), so that delivery waits
for the payment and a refund of an undelivered order returns the prescription (issue 17)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-03 17:15:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('online_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hi_rxno', sa.String(length=30), nullable=True))
        batch_op.create_index(batch_op.f('ix_online_order_hi_rxno'), ['hi_rxno'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('online_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_online_order_hi_rxno'))
        batch_op.drop_column('hi_rxno')
