"""Online orders of the mobile-payment centre (6201-6401): orders, held room, payment
authorisations, refunds, the institutions' envelope credentials; an outbox message's
destination (issue 15)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 13:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def _money(name: str) -> "sa.Column[int]":
    return sa.Column(name, sa.BigInteger(), server_default=sa.text('0'), nullable=False)


# frozen here as of this revision (store/schema.py CHECKS)
_ORDER_STATUSES = ('uploaded', 'held', 'settled', 'refunded', 'hi_refunded',
                   'cash_refunded', 'cancelled', 'expired')


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        'online_order',
        sa.Column('pay_ord_id', sa.String(length=40), nullable=False),
        sa.Column('pay_token_hash', sa.String(length=64), nullable=False),
        sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
        sa.Column('med_org_ord', sa.String(length=40), nullable=False),
        sa.Column('request_hash', sa.String(length=64), nullable=False),
        sa.Column('psn_no', sa.String(length=30), nullable=False),
        sa.Column('insutype', sa.String(length=6), nullable=False),
        sa.Column('mdtrt_id', sa.String(length=30), nullable=False),
        sa.Column('chrg_bchno', sa.String(length=30), nullable=False),
        sa.Column('med_type', sa.String(length=6), nullable=False),
        sa.Column('acct_used', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        _money('medfee_sumamt'),
        _money('fund_pay'),
        _money('acct_pay'),
        _money('cash_pay'),
        sa.Column('held_at', sa.DateTime(), nullable=True),
        sa.Column('held_settlement', sa.Text(), server_default='', nullable=False),
        sa.Column('hold_ref', sa.String(length=40), server_default='', nullable=False),
        sa.Column('channel_id', sa.String(length=30), server_default='', nullable=False),
        sa.Column('setl_id', sa.String(length=30), nullable=True),
        sa.Column('settled_at', sa.DateTime(), nullable=True),
        sa.Column('pay_url', sa.String(length=400), server_default='', nullable=False),
        sa.Column('trade_no', sa.String(length=64), server_default='', nullable=False),
        _money('cash_paid'),
        sa.Column('revs_token', sa.String(length=64), server_default='', nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint(_one_of('status', _ORDER_STATUSES), name='ck_online_order_status'),
        sa.CheckConstraint(
            "medfee_sumamt >= 0 AND fund_pay >= 0 AND acct_pay >= 0 AND cash_pay >= 0 "
            "AND cash_paid >= 0 AND (status = 'uploaded' OR "
            "medfee_sumamt = fund_pay + acct_pay + cash_pay)", name='ck_online_order_split'),
        sa.PrimaryKeyConstraint('pay_ord_id'),
        sa.UniqueConstraint('fixmedins_code', 'med_org_ord'),
    )
    with op.batch_alter_table('online_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_online_order_psn_no_status'),
                              ['psn_no', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_online_order_status_expires_at'),
                              ['status', 'expires_at'], unique=False)
    op.create_table(
        'online_hold',
        sa.Column('pay_ord_id', sa.String(length=40), nullable=False),
        sa.Column('period', sa.String(length=40), nullable=False),
        sa.Column('cum_key', sa.String(length=30), nullable=False),
        sa.Column('psn_no', sa.String(length=30), nullable=False),
        sa.Column('insutype', sa.String(length=6), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['pay_ord_id'], ['online_order.pay_ord_id']),
        sa.PrimaryKeyConstraint('pay_ord_id', 'period', 'cum_key'),
    )
    with op.batch_alter_table('online_hold', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_online_hold_psn_no'), ['psn_no'], unique=False)
    op.create_table(
        'pay_auth',
        sa.Column('auth_hash', sa.String(length=64), nullable=False),
        sa.Column('pay_ord_id', sa.String(length=40), nullable=False),
        sa.Column('psn_no', sa.String(length=30), nullable=False),
        sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
        sa.Column('channel_id', sa.String(length=30), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['pay_ord_id'], ['online_order.pay_ord_id']),
        sa.PrimaryKeyConstraint('auth_hash'),
    )
    with op.batch_alter_table('pay_auth', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pay_auth_pay_ord_id'), ['pay_ord_id'],
                              unique=False)
    op.create_table(
        'online_refund',
        sa.Column('refd_sn', sa.String(length=40), nullable=False),
        sa.Column('pay_ord_id', sa.String(length=40), nullable=False),
        sa.Column('app_refd_sn', sa.String(length=40), nullable=False),
        sa.Column('request_hash', sa.String(length=64), nullable=False),
        sa.Column('refd_type', sa.String(length=8), nullable=False),
        _money('fund_refd'),
        _money('acct_refd'),
        _money('cash_refd'),
        sa.Column('cancel_setl_id', sa.String(length=30), nullable=True),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('platform_refund_no', sa.String(length=64), server_default='',
                  nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint(_one_of('refd_type', ('ALL', 'HI', 'CASH', 'LATE')),
                           name='ck_online_refund_refd_type'),
        sa.CheckConstraint(_one_of('status', ('SUCC', 'FAIL', 'EXP')),
                           name='ck_online_refund_status'),
        sa.CheckConstraint('fund_refd >= 0 AND acct_refd >= 0 AND cash_refd >= 0',
                           name='ck_online_refund_amounts'),
        sa.ForeignKeyConstraint(['pay_ord_id'], ['online_order.pay_ord_id']),
        sa.PrimaryKeyConstraint('refd_sn'),
        sa.UniqueConstraint('pay_ord_id', 'app_refd_sn'),
    )
    op.create_table(
        'mpc_app',
        sa.Column('app_id', sa.String(length=40), nullable=False),
        sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
        sa.Column('app_secret', sa.String(length=64), nullable=False),
        sa.Column('public_key', sa.String(length=200), nullable=False),
        sa.Column('callback_url', sa.String(length=400), server_default='', nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['fixmedins_code'], ['institution.fixmedins_code']),
        sa.PrimaryKeyConstraint('app_id'),
    )
    with op.batch_alter_table('mpc_app', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mpc_app_fixmedins_code'), ['fixmedins_code'],
                              unique=False)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('url', sa.String(length=400), server_default='',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('url')
    for table, indexes in (('mpc_app', ('ix_mpc_app_fixmedins_code',)),
                           ('online_refund', ()),
                           ('pay_auth', ('ix_pay_auth_pay_ord_id',)),
                           ('online_hold', ('ix_online_hold_psn_no',)),
                           ('online_order', ('ix_online_order_status_expires_at',
                                             'ix_online_order_psn_no_status'))):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for index in indexes:
                batch_op.drop_index(batch_op.f(index))
        op.drop_table(table)
