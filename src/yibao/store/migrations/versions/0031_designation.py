"""Designated institutions (就医定点医疗机构, issue 19 part 1): a person's designations
(2505/2506/5302, the app, the window) and each institution's open-to-all kind

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-03 22:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None

# frozen here as of this revision (domain/designation.py OPEN_KINDS, STATUSES)
_OPEN_KINDS = ('', 'a_class', 'specialist', 'tcm', 'community')
_STATUSES = ('active', 'cancelled')
_INSUTYPES = ('310', '320', '330', '340', '390', '392', '510')


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.add_column(sa.Column('open_kind', sa.String(length=12), server_default='',
                                      nullable=False))
        batch_op.create_check_constraint('ck_institution_open_kind',
                                         _one_of('open_kind', _OPEN_KINDS))
    op.create_table(
        'designation',
        sa.Column('trt_dcla_detl_sn', sa.String(length=30), nullable=False),
        sa.Column('psn_no', sa.String(length=30), nullable=False),
        sa.Column('insutype', sa.String(length=6), nullable=False),
        sa.Column('fix_srt_no', sa.Integer(), nullable=False),
        sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
        sa.Column('begin_date', sa.Date(), nullable=False),
        sa.Column('end_date', sa.Date(), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('source', sa.String(length=6), nullable=False),
        sa.Column('actor', sa.String(length=60), nullable=False),
        sa.Column('entry', sa.String(length=16), nullable=False),
        sa.Column('msgid', sa.String(length=30), server_default='', nullable=False),
        sa.Column('memo', sa.String(length=500), server_default='', nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.Column('ended_reason', sa.String(length=500), server_default='', nullable=False),
        sa.CheckConstraint(_one_of('status', _STATUSES), name='ck_designation_status'),
        sa.CheckConstraint(_one_of('insutype', _INSUTYPES), name='ck_designation_insutype'),
        sa.CheckConstraint('fix_srt_no >= 1', name='ck_designation_fix_srt_no'),
        sa.CheckConstraint('end_date IS NULL OR end_date >= begin_date',
                           name='ck_designation_dates'),
        sa.ForeignKeyConstraint(['fixmedins_code'], ['institution.fixmedins_code'],
                                name='fk_designation_fixmedins_code_institution'),
        sa.ForeignKeyConstraint(['psn_no'], ['person.psn_no'],
                                name='fk_designation_psn_no_person'),
        sa.PrimaryKeyConstraint('trt_dcla_detl_sn', name='pk_designation'),
    )
    with op.batch_alter_table('designation', schema=None) as batch_op:
        batch_op.create_index('ix_designation_psn_no', ['psn_no'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('designation', schema=None) as batch_op:
        batch_op.drop_index('ix_designation_psn_no')
    op.drop_table('designation')
    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.drop_constraint('ck_institution_open_kind', type_='check')
        batch_op.drop_column('open_kind')
