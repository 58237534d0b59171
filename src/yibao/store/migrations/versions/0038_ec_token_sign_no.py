"""Fund supervision (issue 20): the sign-in an ecToken's 1162 named (the device it was
used on)

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-04 04:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0038'
down_revision = '0037'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ec_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sign_no', sa.String(length=30), server_default='',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('ec_token', schema=None) as batch_op:
        batch_op.drop_column('sign_no')
