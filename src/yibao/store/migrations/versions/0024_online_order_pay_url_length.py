"""An online order's pay_url holds an Alipay alipay.trade.wap.pay URL: the gateway with
every signed parameter (biz_content, notify_url, the RSA2 sign), over a thousand
characters; WeChat's h5_url fitted in 400 (issue 15, the second platform style)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 16:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('online_order', schema=None) as batch_op:
        batch_op.alter_column('pay_url', existing_type=sa.String(length=400),
                              type_=sa.String(length=2000), existing_nullable=False,
                              existing_server_default='')


def downgrade() -> None:
    with op.batch_alter_table('online_order', schema=None) as batch_op:
        batch_op.alter_column('pay_url', existing_type=sa.String(length=2000),
                              type_=sa.String(length=400), existing_nullable=False,
                              existing_server_default='')
