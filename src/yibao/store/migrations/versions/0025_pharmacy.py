"""Pharmacy purchases (issue 17): a settlement may move two personal accounts (the
buyer's and, by mutual aid, a bound family member's), so an account entry is keyed by
the settlement and the account; the days a purchased drug line supplies (long
prescriptions, early refills)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('account_entry', schema=None, recreate='always') as batch_op:
        batch_op.drop_constraint('pk_account_entry', type_='primary')
        batch_op.create_primary_key('pk_account_entry', ['setl_id', 'psn_no'])
    op.create_table('drug_supply',
    sa.Column('setl_id', sa.String(length=30), nullable=False),
    sa.Column('feedetl_sn', sa.String(length=30), nullable=False),
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('med_list_codg', sa.String(length=50), nullable=False),
    sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
    sa.Column('begntime', sa.DateTime(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('cancelled_by', sa.String(length=30), nullable=True),
    sa.ForeignKeyConstraint(['psn_no'], ['person.psn_no'],
                            name=op.f('fk_drug_supply_psn_no_person')),
    sa.ForeignKeyConstraint(['setl_id'], ['settlement.setl_id'],
                            name=op.f('fk_drug_supply_setl_id_settlement')),
    sa.PrimaryKeyConstraint('setl_id', 'feedetl_sn', name=op.f('pk_drug_supply'))
    )
    with op.batch_alter_table('drug_supply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drug_supply_psn_no_med_list_codg'),
                              ['psn_no', 'med_list_codg'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('drug_supply', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drug_supply_psn_no_med_list_codg'))
    op.drop_table('drug_supply')
    op.execute("DELETE FROM account_entry WHERE setl_id IN (SELECT setl_id FROM "
               "account_entry GROUP BY setl_id HAVING COUNT(*) > 1) AND psn_no <> "
               "(SELECT s.psn_no FROM settlement s WHERE s.setl_id = account_entry.setl_id)")
    with op.batch_alter_table('account_entry', schema=None, recreate='always') as batch_op:
        batch_op.drop_constraint('pk_account_entry', type_='primary')
        batch_op.create_primary_key('pk_account_entry', ['setl_id'])
