"""channels' trust: real-person attestations, the person's notices, registered payees, a
certificate's first period, pending family bindings and the QR codes issued through them

Not backfilled: bindings made before 0012 stay active (accepted_at empty), QR codes issued
before it name no binding (they expire within 60 seconds anyway).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 07:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('attestation',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('channel_id', sa.String(length=30), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.String(length=30), server_default='', nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('evidence_ref', sa.String(length=64), nullable=False),
    sa.Column('attested_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['psn_no'], ['person.psn_no'], name=op.f('fk_attestation_psn_no_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attestation'))
    )
    op.create_index(op.f('ix_attestation_psn_no'), 'attestation', ['psn_no'], unique=False)
    op.create_index(op.f('ix_attestation_channel_id_evidence_ref'), 'attestation',
                    ['channel_id', 'evidence_ref'], unique=True)
    op.create_table('person_notice',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('channel_id', sa.String(length=30), nullable=False),
    sa.Column('detail', sa.String(length=300), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['psn_no'], ['person.psn_no'], name=op.f('fk_person_notice_psn_no_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_notice'))
    )
    op.create_index(op.f('ix_person_notice_psn_no'), 'person_notice', ['psn_no'], unique=False)
    op.create_table('payee_account',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('bank_name', sa.String(length=100), nullable=False),
    sa.Column('bank_account', sa.String(length=40), nullable=False),
    sa.Column('channel_id', sa.String(length=30), nullable=False),
    sa.Column('attestation_id', sa.Integer(), nullable=False),
    sa.Column('set_at', sa.DateTime(), nullable=False),
    sa.Column('replaced_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['attestation_id'], ['attestation.id'], name=op.f('fk_payee_account_attestation_id_attestation')),
    sa.ForeignKeyConstraint(['psn_no'], ['person.psn_no'], name=op.f('fk_payee_account_psn_no_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payee_account'))
    )
    op.create_index(op.f('ix_payee_account_psn_no'), 'payee_account', ['psn_no'], unique=False)
    with op.batch_alter_table('ecert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('probation_until', sa.DateTime(), nullable=True))
    with op.batch_alter_table('family_binding', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accepted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('removed_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('qr_code', schema=None) as batch_op:
        batch_op.add_column(sa.Column('binding_id', sa.String(length=30), nullable=True))
    with op.batch_alter_table('claim', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payee_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('claim', schema=None) as batch_op:
        batch_op.drop_column('payee_id')
    with op.batch_alter_table('qr_code', schema=None) as batch_op:
        batch_op.drop_column('binding_id')
    with op.batch_alter_table('family_binding', schema=None) as batch_op:
        batch_op.drop_column('removed_at')
        batch_op.drop_column('accepted_at')
    with op.batch_alter_table('ecert', schema=None) as batch_op:
        batch_op.drop_column('probation_until')
    op.drop_index(op.f('ix_payee_account_psn_no'), table_name='payee_account')
    op.drop_table('payee_account')
    op.drop_index(op.f('ix_person_notice_psn_no'), table_name='person_notice')
    op.drop_table('person_notice')
    op.drop_index(op.f('ix_attestation_channel_id_evidence_ref'), table_name='attestation')
    op.drop_index(op.f('ix_attestation_psn_no'), table_name='attestation')
    op.drop_table('attestation')
