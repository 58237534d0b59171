"""Contribution status over time, deferral decisions and declared periods; the
insurance row keeps the current status (issue 19: 2020 epidemic measures, items 6, 10,
11; docs/contribution.md)

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-03 22:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None

_STATUSES = "'paid', 'deferred', 'arrears', 'suspended'"


def upgrade() -> None:
    with op.batch_alter_table('insurance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('emp_no', sa.String(length=30), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('contrib_stas', sa.String(length=12),
                                      server_default='paid', nullable=False))
        batch_op.add_column(sa.Column('contrib_since', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('contrib_until', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_insurance_emp_no'), ['emp_no'], unique=False)
        batch_op.create_check_constraint(
            'ck_insurance_contrib', f"contrib_stas IN ({_STATUSES}) AND "
            "(contrib_stas = 'paid' OR contrib_since IS NOT NULL)")
    op.create_table(
        'contribution_period',
        sa.Column('period_id', sa.String(length=30), nullable=False),
        sa.Column('psn_no', sa.String(length=30), nullable=False),
        sa.Column('insutype', sa.String(length=6), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('begin_date', sa.Date(), nullable=False),
        sa.Column('end_date', sa.Date(), nullable=True),
        sa.Column('until_date', sa.Date(), nullable=True),
        sa.Column('decision', sa.String(length=12), nullable=False),
        sa.Column('decision_ref', sa.String(length=30), server_default='', nullable=False),
        sa.Column('continuous', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('owed', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
        sa.Column('late_fee', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
        sa.Column('note', sa.String(length=200), server_default='', nullable=False),
        sa.Column('actor', sa.String(length=60), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint(f"status IN ({_STATUSES})", name='ck_contribution_period_status'),
        sa.CheckConstraint("decision IN ('deferral', 'operator', 'payment')",
                           name='ck_contribution_period_decision'),
        sa.CheckConstraint('owed >= 0 AND late_fee >= 0', name='ck_contribution_period_amounts'),
        sa.CheckConstraint('end_date IS NULL OR end_date >= begin_date',
                           name='ck_contribution_period_dates'),
        sa.ForeignKeyConstraint(['psn_no'], ['person.psn_no'],
                                name=op.f('fk_contribution_period_psn_no_person')),
        sa.PrimaryKeyConstraint('period_id', name=op.f('pk_contribution_period')),
    )
    op.create_index(op.f('ix_contribution_period_psn_no_insutype'), 'contribution_period',
                    ['psn_no', 'insutype'], unique=False)
    op.create_table(
        'deferral',
        sa.Column('deferral_id', sa.String(length=30), nullable=False),
        sa.Column('emp_no', sa.String(length=30), server_default='', nullable=False),
        sa.Column('insutype', sa.String(length=6), nullable=False),
        sa.Column('begin_date', sa.Date(), nullable=False),
        sa.Column('until_date', sa.Date(), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('persons', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('actor', sa.String(length=60), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('until_date >= begin_date', name='ck_deferral_dates'),
        sa.CheckConstraint('persons >= 0', name='ck_deferral_persons'),
        sa.PrimaryKeyConstraint('deferral_id', name=op.f('pk_deferral')),
    )
    op.create_table(
        'declared_period',
        sa.Column('declared_id', sa.String(length=30), nullable=False),
        sa.Column('area', sa.String(length=6), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('begin_date', sa.Date(), nullable=False),
        sa.Column('until_date', sa.Date(), nullable=False),
        sa.Column('actor', sa.String(length=60), nullable=False),
        sa.Column('declared_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('until_date >= begin_date', name='ck_declared_period_dates'),
        sa.PrimaryKeyConstraint('declared_id', name=op.f('pk_declared_period')),
    )
    op.create_index(op.f('ix_declared_period_area'), 'declared_period', ['area'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_declared_period_area'), table_name='declared_period')
    op.drop_table('declared_period')
    op.drop_table('deferral')
    op.drop_index(op.f('ix_contribution_period_psn_no_insutype'),
                  table_name='contribution_period')
    op.drop_table('contribution_period')
    with op.batch_alter_table('insurance', schema=None) as batch_op:
        batch_op.drop_constraint('ck_insurance_contrib', type_='check')
        batch_op.drop_index(batch_op.f('ix_insurance_emp_no'))
        batch_op.drop_column('contrib_until')
        batch_op.drop_column('contrib_since')
        batch_op.drop_column('contrib_stas')
        batch_op.drop_column('emp_no')
