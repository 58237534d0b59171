"""The everyday transactions a HIS sends (issue 16): the fee-item category of catalogue
items and fee lines (med_chrgitm_type, 01-14), a fee line's memo (2306), an admission's
other fields (2401/2403), an institution's USCC (1201), special visit attributes
(2406/2407) and the institution's catalogue matchings (3301/3302/1317)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

# frozen here as of this revision (domain/catalogue.py CHARGE_CATEGORY_BY_LIST_TYPE): the
# category an existing row gets from its list type; a medical service (201) keeps "" and
# is answered 14 (其他费) until its catalogue row says which service it is
_CATEGORY = (
    "CASE list_type WHEN '101' THEN '09' WHEN '102' THEN '10' WHEN '103' THEN '09' "
    "WHEN '104' THEN '11' WHEN '106' THEN '10' WHEN '301' THEN '08' ELSE '' END")


def upgrade() -> None:
    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uscc', sa.String(length=50), server_default='',
                                      nullable=False))
    with op.batch_alter_table('catalogue_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('med_chrgitm_type', sa.String(length=6),
                                      server_default='', nullable=False))
    op.create_table('admission_detail',
    sa.Column('mdtrt_id', sa.String(length=30), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['mdtrt_id'], ['visit.mdtrt_id'],
                            name=op.f('fk_admission_detail_mdtrt_id_visit')),
    sa.PrimaryKeyConstraint('mdtrt_id', name=op.f('pk_admission_detail'))
    )
    with op.batch_alter_table('fee_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('med_chrgitm_type', sa.String(length=6),
                                      server_default='', nullable=False))
        batch_op.add_column(sa.Column('memo', sa.String(length=500), server_default='',
                                      nullable=False))
    op.execute(f"UPDATE catalogue_item SET med_chrgitm_type = {_CATEGORY}")
    op.execute(f"UPDATE fee_line SET med_chrgitm_type = {_CATEGORY}")
    op.create_table('visit_sp_flag',
    sa.Column('detl_id', sa.String(length=40), nullable=False),
    sa.Column('mdtrt_id', sa.String(length=30), nullable=False),
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
    sa.Column('ipt_otp_no', sa.String(length=30), nullable=False),
    sa.Column('flag_type', sa.String(length=6), nullable=False),
    sa.Column('flag', sa.String(length=6), nullable=False),
    sa.Column('memo', sa.String(length=500), server_default='', nullable=False),
    sa.Column('admdvs', sa.String(length=6), server_default='', nullable=False),
    sa.Column('msgid', sa.String(length=30), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['mdtrt_id'], ['visit.mdtrt_id'],
                            name=op.f('fk_visit_sp_flag_mdtrt_id_visit')),
    sa.PrimaryKeyConstraint('detl_id', name=op.f('pk_visit_sp_flag')),
    sa.UniqueConstraint('mdtrt_id', 'flag_type', 'flag',
                        name=op.f('uq_visit_sp_flag_mdtrt_id_flag_type_flag'))
    )
    with op.batch_alter_table('visit_sp_flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_sp_flag_fixmedins_code_created_at'),
                              ['fixmedins_code', 'created_at'], unique=False)
    op.create_table('medins_matching',
    sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
    sa.Column('medins_list_codg', sa.String(length=30), nullable=False),
    sa.Column('list_type', sa.String(length=30), nullable=False),
    sa.Column('med_list_codg', sa.String(length=30), nullable=False),
    sa.Column('medins_list_name', sa.String(length=200), nullable=False),
    sa.Column('insu_admdvs', sa.String(length=6), nullable=False),
    sa.Column('begndate', sa.Date(), nullable=False),
    sa.Column('enddate', sa.Date(), nullable=False),
    sa.Column('detail', sa.Text(), server_default='{}', nullable=False),
    sa.Column('vali_flag', sa.String(length=1), nullable=False),
    sa.Column('rid', sa.String(length=40), nullable=False),
    sa.Column('crte_time', sa.DateTime(), nullable=False),
    sa.Column('updt_time', sa.DateTime(), nullable=False),
    sa.Column('opter_name', sa.String(length=50), server_default='', nullable=False),
    sa.Column('msgid', sa.String(length=30), nullable=False),
    sa.PrimaryKeyConstraint('fixmedins_code', 'medins_list_codg', 'list_type',
                            'med_list_codg', name=op.f('pk_medins_matching')),
    sa.UniqueConstraint('rid', name=op.f('uq_medins_matching_rid'))
    )
    with op.batch_alter_table('medins_matching', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_medins_matching_fixmedins_code_updt_time'),
                              ['fixmedins_code', 'updt_time'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('medins_matching', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_medins_matching_fixmedins_code_updt_time'))
    op.drop_table('medins_matching')
    with op.batch_alter_table('visit_sp_flag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visit_sp_flag_fixmedins_code_created_at'))
    op.drop_table('visit_sp_flag')
    with op.batch_alter_table('fee_line', schema=None) as batch_op:
        batch_op.drop_column('memo')
        batch_op.drop_column('med_chrgitm_type')
    op.drop_table('admission_detail')
    with op.batch_alter_table('catalogue_item', schema=None) as batch_op:
        batch_op.drop_column('med_chrgitm_type')
    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.drop_column('uscc')
