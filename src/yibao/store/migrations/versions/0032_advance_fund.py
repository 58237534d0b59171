"""The advance fund between regions (the 2022 notice: 先预付后清算; its interest to the
treatment place) and prepayment by need proposed and approved (2020 epidemic measures):
advance_pair, region_advance, advance_interest, prepayment_proposal; clearing_region's
advance_before and drawn; the ledger kinds advance and interest

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-03 22:10:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None

KINDS_BEFORE = ("kind IN ('settle', 'cancel', 'claim', 'payout', 'prepay', 'clearing', "
                "'interregional')")
KINDS_AFTER = ("kind IN ('settle', 'cancel', 'claim', 'payout', 'prepay', 'clearing', "
               "'interregional', 'advance', 'interest')")
DRAWN = ("drawn >= 0 AND (drawn = 0 OR (drawn <= advance_before AND drawn <= amount))")
DECIDED = ("(status = 'proposed') = (decided_by IS NULL) AND "
           "(status = 'approved') = (month IS NOT NULL)")


def _money(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), server_default=sa.text('0'), nullable=False)


def upgrade() -> None:
    op.create_table(
        'advance_pair',
        sa.Column('insured', sa.String(length=6), nullable=False),
        sa.Column('treatment', sa.String(length=6), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('changes', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.PrimaryKeyConstraint('insured', 'treatment', name=op.f('pk_advance_pair')),
    )
    op.create_table(
        'region_advance',
        sa.Column('advance_id', sa.String(length=30), nullable=False),
        sa.Column('insured', sa.String(length=6), nullable=False),
        sa.Column('treatment', sa.String(length=6), nullable=False),
        _money('amount'),
        sa.Column('note', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('actor', sa.String(length=60), nullable=False),
        sa.CheckConstraint('amount > 0', name=op.f('ck_region_advance_amount')),
        sa.PrimaryKeyConstraint('advance_id', name=op.f('pk_region_advance')),
    )
    op.create_index(op.f('ix_region_advance_insured_treatment'), 'region_advance',
                    ['insured', 'treatment'], unique=False)
    op.create_table(
        'advance_interest',
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('insured', sa.String(length=6), nullable=False),
        sa.Column('treatment', sa.String(length=6), nullable=False),
        sa.Column('balance_days', sa.BigInteger(), nullable=False),
        sa.Column('rate', sa.String(length=12), nullable=False),
        sa.Column('day_count', sa.Integer(), nullable=False),
        _money('amount'),
        sa.CheckConstraint('amount >= 0 AND balance_days >= 0',
                           name=op.f('ck_advance_interest_amount')),
        sa.ForeignKeyConstraint(['month'], ['clearing_month.month'],
                                name=op.f('fk_advance_interest_month_clearing_month')),
        sa.PrimaryKeyConstraint('month', 'insured', 'treatment',
                                name=op.f('pk_advance_interest')),
    )
    op.create_table(
        'prepayment_proposal',
        sa.Column('proposal_id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
        _money('amount'),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=True),
        sa.Column('proposed_by', sa.String(length=60), nullable=False),
        sa.Column('proposed_at', sa.DateTime(), nullable=False),
        sa.Column('decided_by', sa.String(length=60), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('decision_note', sa.String(length=200), server_default='', nullable=False),
        sa.CheckConstraint("status IN ('proposed', 'approved', 'rejected')",
                           name=op.f('ck_prepayment_proposal_status')),
        sa.CheckConstraint('amount > 0', name=op.f('ck_prepayment_proposal_amount')),
        sa.CheckConstraint(DECIDED, name=op.f('ck_prepayment_proposal_decided')),
        sa.ForeignKeyConstraint(['fixmedins_code'], ['institution.fixmedins_code'],
                                name=op.f('fk_prepayment_proposal_fixmedins_code_institution')),
        sa.PrimaryKeyConstraint('proposal_id', name=op.f('pk_prepayment_proposal')),
    )
    with op.batch_alter_table('clearing_region', schema=None) as batch_op:
        batch_op.add_column(_money('advance_before'))
        batch_op.add_column(_money('drawn'))
        batch_op.create_check_constraint('ck_clearing_region_drawn', DRAWN)
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_constraint('ck_ledger_entry_kind', type_='check')
        batch_op.create_check_constraint('ck_ledger_entry_kind', KINDS_AFTER)


def downgrade() -> None:
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_constraint('ck_ledger_entry_kind', type_='check')
        batch_op.create_check_constraint('ck_ledger_entry_kind', KINDS_BEFORE)
    with op.batch_alter_table('clearing_region', schema=None) as batch_op:
        batch_op.drop_constraint('ck_clearing_region_drawn', type_='check')
        batch_op.drop_column('drawn')
        batch_op.drop_column('advance_before')
    op.drop_table('prepayment_proposal')
    op.drop_table('advance_interest')
    op.drop_index(op.f('ix_region_advance_insured_treatment'), table_name='region_advance')
    op.drop_table('region_advance')
    op.drop_table('advance_pair')
