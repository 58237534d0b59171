"""An online order's split is checked by whether it was ever held, not by its status: an
order cancelled (6401) or expired before it was held has no split (issue 15 review)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 14:30:00.000000
"""

from alembic import op


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

# frozen here as of this revision (store/schema.py ONLINE_ORDER_SPLIT)
_SPLIT = (
    "medfee_sumamt >= 0 AND fund_pay >= 0 AND acct_pay >= 0 AND cash_pay >= 0 AND "
    "cash_paid >= 0 AND ((held_at IS NULL AND fund_pay + acct_pay + cash_pay = 0) OR "
    "(held_at IS NOT NULL AND medfee_sumamt = fund_pay + acct_pay + cash_pay))")
_BEFORE = (
    "medfee_sumamt >= 0 AND fund_pay >= 0 AND acct_pay >= 0 AND cash_pay >= 0 "
    "AND cash_paid >= 0 AND (status = 'uploaded' OR "
    "medfee_sumamt = fund_pay + acct_pay + cash_pay)")


def _replace(condition: str) -> None:
    with op.batch_alter_table('online_order', schema=None) as batch_op:
        batch_op.drop_constraint('ck_online_order_split', type_='check')
        batch_op.create_check_constraint('ck_online_order_split', condition)


def upgrade() -> None:
    _replace(_SPLIT)


def downgrade() -> None:
    _replace(_BEFORE)
