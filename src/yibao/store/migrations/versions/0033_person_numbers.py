"""Identity upkeep: a person's number changed, or a duplicate record merged into the
surviving one; the retired number (and a merged record's ID number) keep answering
(issue 19, the 2022 notice; docs/identity-upkeep.md)

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-03 22:10:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'psn_no_change',
        sa.Column('old_psn_no', sa.String(length=30), nullable=False),
        sa.Column('new_psn_no', sa.String(length=30), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('old_certno', sa.String(length=50), server_default='', nullable=False),
        sa.Column('reason', sa.String(length=300), server_default='', nullable=False),
        sa.Column('actor', sa.String(length=60), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('acct_moved', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
        sa.Column('moved', sa.Text(), server_default='{}', nullable=False),
        sa.CheckConstraint("kind IN ('renumber', 'merge')", name='ck_psn_no_change_kind'),
        sa.CheckConstraint('acct_moved >= 0', name='ck_psn_no_change_acct_moved'),
        sa.CheckConstraint('old_psn_no <> new_psn_no', name='ck_psn_no_change_numbers'),
        sa.PrimaryKeyConstraint('old_psn_no', name='pk_psn_no_change'),
    )
    op.create_index('ix_psn_no_change_new_psn_no', 'psn_no_change', ['new_psn_no'])
    op.create_index('ix_psn_no_change_old_certno', 'psn_no_change', ['old_certno'])


def downgrade() -> None:
    op.drop_index('ix_psn_no_change_old_certno', table_name='psn_no_change')
    op.drop_index('ix_psn_no_change_new_psn_no', table_name='psn_no_change')
    op.drop_table('psn_no_change')
