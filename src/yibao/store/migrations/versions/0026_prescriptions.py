"""The electronic-prescription centre (7101-7211, issue 17): practitioners, the SM2 keys
prescriptions are signed with, prescriptions, the pharmacies' authorisations, the codes a
person gets in a channel, every change; institutions that sell online; the channel
scope ``prescriptions``

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-10 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def _scopes_check(scopes: tuple[str, ...]) -> str:
    """ck_channel_scopes over ``scopes`` (as 0020 wrote it)."""
    padded = "',' || REPLACE(scopes, ',', ',,') || ','"
    for scope in scopes:
        padded = f"REPLACE({padded}, ',{scope},', '')"
    return ("scopes <> '' AND scopes NOT LIKE ',%' AND scopes NOT LIKE '%,' AND "
            f"scopes NOT LIKE '%,,%' AND REPLACE({padded}, ',', '') = ''")


# frozen here as of this revision (domain/channels.py SCOPES)
_OLD_SCOPES = ('activation', 'payment', 'own_data', 'claims')
_NEW_SCOPES = (*_OLD_SCOPES, 'prescriptions')
_STATUSES = ('prechecked', 'signed', 'uploaded', 'downloaded', 'verified', 'reviewed',
             'dispensed', 'dispatched', 'received', 'revoked')


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.add_column(sa.Column('online', sa.Boolean(), server_default=sa.text('false'),
                                      nullable=False))
    with op.batch_alter_table('channel', schema=None) as batch_op:
        batch_op.drop_constraint('ck_channel_scopes', type_='check')
        batch_op.alter_column('scopes', existing_type=sa.String(length=100),
                              server_default=','.join(_NEW_SCOPES), existing_nullable=False)
        batch_op.create_check_constraint('ck_channel_scopes', _scopes_check(_NEW_SCOPES))
    op.create_table(
        'practitioner',
        sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
        sa.Column('prac_code', sa.String(length=30), nullable=False),
        sa.Column('role', sa.String(length=12), nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('dept_code', sa.String(length=30), server_default='', nullable=False),
        sa.CheckConstraint(_one_of('role', ('doctor', 'pharmacist')),
                           name='ck_practitioner_role'),
        sa.ForeignKeyConstraint(['fixmedins_code'], ['institution.fixmedins_code'],
                                name='fk_practitioner_fixmedins_code_institution'),
        sa.PrimaryKeyConstraint('fixmedins_code', 'prac_code', name='pk_practitioner'),
    )
    op.create_table(
        'rx_signing_key',
        sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
        sa.Column('cert_sn', sa.String(length=64), nullable=False),
        sa.Column('cert_dn', sa.String(length=300), nullable=False),
        sa.Column('public_key', sa.String(length=100), nullable=False),
        sa.Column('private_key', sa.String(length=60), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['fixmedins_code'], ['institution.fixmedins_code'],
                                name='fk_rx_signing_key_fixmedins_code_institution'),
        sa.PrimaryKeyConstraint('fixmedins_code', name='pk_rx_signing_key'),
        sa.UniqueConstraint('cert_sn', name='uq_rx_signing_key_cert_sn'),
    )
    op.create_table(
        'prescription',
        sa.Column('hi_rxno', sa.String(length=30), nullable=False),
        sa.Column('rx_trace_code', sa.String(length=20), nullable=False),
        sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
        sa.Column('hosp_rxno', sa.String(length=40), nullable=False),
        sa.Column('request_hash', sa.String(length=64), nullable=False),
        sa.Column('psn_no', sa.String(length=30), nullable=False),
        sa.Column('mdtrt_id', sa.String(length=30), nullable=False),
        sa.Column('dr_code', sa.String(length=30), nullable=False),
        sa.Column('prsc_time', sa.DateTime(), nullable=False),
        sa.Column('vali_end', sa.DateTime(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('content_digest', sa.String(length=64), nullable=False),
        sa.Column('signed_fields', sa.Text(), server_default='', nullable=False),
        sa.Column('sign_digest', sa.String(length=200), server_default='', nullable=False),
        sa.Column('file_digest', sa.String(length=64), server_default='', nullable=False),
        sa.Column('rx_file', sa.Text(), server_default='', nullable=False),
        sa.Column('pharmacy_code', sa.String(length=30), server_default='', nullable=False),
        sa.Column('online', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('verify_sn', sa.String(length=40), server_default='', nullable=False),
        sa.Column('review', sa.Text(), server_default='', nullable=False),
        sa.Column('sale', sa.Text(), server_default='', nullable=False),
        sa.Column('delivery', sa.Text(), server_default='', nullable=False),
        sa.Column('filled_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint(_one_of('status', _STATUSES), name='ck_prescription_status'),
        sa.PrimaryKeyConstraint('hi_rxno', name='pk_prescription'),
        sa.UniqueConstraint('fixmedins_code', 'hosp_rxno',
                            name='uq_prescription_fixmedins_code_hosp_rxno'),
        sa.UniqueConstraint('rx_trace_code', name='uq_prescription_rx_trace_code'),
    )
    with op.batch_alter_table('prescription', schema=None) as batch_op:
        batch_op.create_index('ix_prescription_psn_no', ['psn_no'], unique=False)
    op.create_table(
        'rx_auth',
        sa.Column('auth_rxno', sa.String(length=30), nullable=False),
        sa.Column('hi_rxno', sa.String(length=30), nullable=False),
        sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
        sa.Column('batch', sa.String(length=30), nullable=False),
        sa.Column('epc_token_hash', sa.String(length=64), nullable=False),
        sa.Column('via', sa.String(length=6), nullable=False),
        sa.Column('issued_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint(_one_of('via', ('7201', '7202', '7203')), name='ck_rx_auth_via'),
        sa.ForeignKeyConstraint(['hi_rxno'], ['prescription.hi_rxno'],
                                name='fk_rx_auth_hi_rxno_prescription'),
        sa.PrimaryKeyConstraint('auth_rxno', name='pk_rx_auth'),
        sa.UniqueConstraint('epc_token_hash', name='uq_rx_auth_epc_token_hash'),
    )
    with op.batch_alter_table('rx_auth', schema=None) as batch_op:
        batch_op.create_index('ix_rx_auth_hi_rxno', ['hi_rxno'], unique=False)
    op.create_table(
        'rx_code',
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('hi_rxno', sa.String(length=30), nullable=False),
        sa.Column('psn_no', sa.String(length=30), nullable=False),
        sa.Column('channel_id', sa.String(length=30), nullable=False),
        sa.Column('pharmacy_code', sa.String(length=30), server_default='', nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint(_one_of('kind', ('qr', 'online')), name='ck_rx_code_kind'),
        sa.ForeignKeyConstraint(['hi_rxno'], ['prescription.hi_rxno'],
                                name='fk_rx_code_hi_rxno_prescription'),
        sa.PrimaryKeyConstraint('code_hash', name='pk_rx_code'),
    )
    op.create_table(
        'rx_event',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('hi_rxno', sa.String(length=30), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('infno', sa.String(length=6), nullable=False),
        sa.Column('actor', sa.String(length=40), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('detail', sa.String(length=400), server_default='', nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_rx_event'),
    )
    with op.batch_alter_table('rx_event', schema=None) as batch_op:
        batch_op.create_index('ix_rx_event_hi_rxno', ['hi_rxno'], unique=False)


def downgrade() -> None:
    op.drop_table('rx_event')
    op.drop_table('rx_code')
    op.drop_table('rx_auth')
    op.drop_table('prescription')
    op.drop_table('rx_signing_key')
    op.drop_table('practitioner')
    op.execute("UPDATE channel SET scopes = REPLACE(REPLACE(REPLACE(scopes, "
               "',prescriptions', ''), 'prescriptions,', ''), 'prescriptions', 'own_data')")
    with op.batch_alter_table('channel', schema=None) as batch_op:
        batch_op.drop_constraint('ck_channel_scopes', type_='check')
        batch_op.alter_column('scopes', existing_type=sa.String(length=100),
                              server_default=','.join(_OLD_SCOPES), existing_nullable=False)
        batch_op.create_check_constraint('ck_channel_scopes', _scopes_check(_OLD_SCOPES))
    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.drop_column('online')
