"""Fund supervision (issue 20): the catalogue's usage limits, institutions' coordinates,
the screening runs and the clues they found

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-04 03:10:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0036'
down_revision = '0035'
branch_labels = None
depends_on = None

LIMITS = (
    "lmt_gend IN ('', '1', '2') AND (lmt_age_min IS NULL OR lmt_age_min >= 0) "
    "AND (lmt_age_max IS NULL OR lmt_age_max >= 0) AND (lmt_age_min IS NULL "
    "OR lmt_age_max IS NULL OR lmt_age_min <= lmt_age_max) AND "
    "(lmt_course_days IS NULL OR lmt_course_days >= 1) AND "
    "(lmt_visit_times IS NULL OR lmt_visit_times >= 1)")


def upgrade() -> None:
    with op.batch_alter_table('catalogue_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lmt_gend', sa.String(length=1), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('lmt_age_min', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('lmt_age_max', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('lmt_daily_cnt', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('lmt_course_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('lmt_visit_times', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('per_day', sa.Boolean(), server_default=sa.text('false'),
                                      nullable=False))
        batch_op.create_check_constraint('ck_catalogue_item_limits', sa.text(LIMITS))
    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lat_e6', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('lon_e6', sa.Integer(), nullable=True))
    op.create_table(
        'supervision_run',
        sa.Column('run_id', sa.String(length=30), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('engine', sa.String(length=8), nullable=False),
        sa.Column('rules', sa.String(length=400), nullable=False),
        sa.Column('lines', sa.BigInteger(), nullable=False),
        sa.Column('clues', sa.Integer(), nullable=False),
        sa.Column('operator', sa.String(length=64), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("engine IN ('duckdb', 'spark')", name='ck_supervision_run_engine'),
        sa.CheckConstraint('lines >= 0 AND clues >= 0', name='ck_supervision_run_counts'),
        sa.PrimaryKeyConstraint('run_id', name='pk_supervision_run'),
    )
    op.create_table(
        'clue',
        sa.Column('clue_id', sa.String(length=30), nullable=False),
        sa.Column('run_id', sa.String(length=30), nullable=False),
        sa.Column('rule_id', sa.String(length=10), nullable=False),
        sa.Column('clue_key', sa.String(length=200), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('fixmedins_code', sa.String(length=30), server_default='', nullable=False),
        sa.Column('psn_no', sa.String(length=30), server_default='', nullable=False),
        sa.Column('mdtrt_id', sa.String(length=30), server_default='', nullable=False),
        sa.Column('amount_at_risk', sa.BigInteger(), server_default=sa.text('0'),
                  nullable=False),
        sa.Column('summary', sa.String(length=500), nullable=False),
        sa.Column('evidence', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('case_id', sa.String(length=30), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('status_by', sa.String(length=64), server_default='', nullable=False),
        sa.Column('status_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'in_case', 'dismissed')",
                           name='ck_clue_status'),
        sa.CheckConstraint('amount_at_risk >= 0', name='ck_clue_amount'),
        sa.CheckConstraint("(status = 'in_case') = (case_id IS NOT NULL)", name='ck_clue_case'),
        sa.ForeignKeyConstraint(['run_id'], ['supervision_run.run_id'],
                                name='fk_clue_run_id_supervision_run'),
        sa.PrimaryKeyConstraint('clue_id', name='pk_clue'),
        sa.UniqueConstraint('rule_id', 'clue_key', name='uq_clue_rule_id_clue_key'),
    )
    with op.batch_alter_table('clue', schema=None) as batch_op:
        batch_op.create_index('ix_clue_status_rule_id', ['status', 'rule_id'], unique=False)
        batch_op.create_index('ix_clue_fixmedins_code', ['fixmedins_code'], unique=False)
        batch_op.create_index('ix_clue_psn_no', ['psn_no'], unique=False)


def downgrade() -> None:
    op.drop_table('clue')
    op.drop_table('supervision_run')
    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.drop_column('lon_e6')
        batch_op.drop_column('lat_e6')
    with op.batch_alter_table('catalogue_item', schema=None) as batch_op:
        batch_op.drop_constraint('ck_catalogue_item_limits', type_='check')
        batch_op.drop_column('per_day')
        batch_op.drop_column('lmt_visit_times')
        batch_op.drop_column('lmt_course_days')
        batch_op.drop_column('lmt_daily_cnt')
        batch_op.drop_column('lmt_age_max')
        batch_op.drop_column('lmt_age_min')
        batch_op.drop_column('lmt_gend')
