"""From clue to case (issue 20): supervision cases, their events, evidence files,
verification requests between regions and conclusions; the clearing's recovered column

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-04 03:40:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0039'
down_revision = '0038'
branch_labels = None
depends_on = None

STATUSES = "'open', 'investigating', 'verifying', 'concluded'"
EVENTS = ("'opened', 'assigned', 'evidence', 'verification_asked', "
          "'verification_answered', 'concluded'")
KINDS_BEFORE = ("kind IN ('settle', 'cancel', 'claim', 'payout', 'prepay', 'clearing', "
                "'interregional', 'advance', 'interest')")
KINDS_AFTER = ("kind IN ('settle', 'cancel', 'claim', 'payout', 'prepay', 'clearing', "
               "'interregional', 'advance', 'interest', 'recovery')")
OUTCOMES = ("no_problem", "recovery", "fine", "suspend_person", "suspend_institution")


def _each_one_of(column: str, values: tuple[str, ...]) -> str:
    padded = f"',' || REPLACE({column}, ',', ',,') || ','"
    for value in values:
        padded = f"REPLACE({padded}, ',{value},', '')"
    return (f"{column} <> '' AND {column} NOT LIKE ',%' AND {column} NOT LIKE '%,' AND "
            f"{column} NOT LIKE '%,,%' AND REPLACE({padded}, ',', '') = ''")


def upgrade() -> None:
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_constraint('ck_ledger_entry_kind', type_='check')
        batch_op.create_check_constraint('ck_ledger_entry_kind', KINDS_AFTER)
    with op.batch_alter_table('clearing_institution', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recovered', sa.BigInteger(),
                                      server_default=sa.text('0'), nullable=False))
        batch_op.create_check_constraint('ck_clearing_institution_recovered',
                                         sa.text('recovered >= 0'))
    op.create_table(
        'supervision_case',
        sa.Column('case_id', sa.String(length=30), nullable=False),
        sa.Column('status', sa.String(length=14), nullable=False),
        sa.Column('fixmedins_code', sa.String(length=30), server_default='', nullable=False),
        sa.Column('psn_no', sa.String(length=30), server_default='', nullable=False),
        sa.Column('amount_at_risk', sa.BigInteger(), server_default=sa.text('0'),
                  nullable=False),
        sa.Column('clues', sa.Integer(), nullable=False),
        sa.Column('assigned_to', sa.String(length=60), nullable=True),
        sa.Column('opened_by', sa.String(length=60), nullable=False),
        sa.Column('opened_at', sa.DateTime(), nullable=False),
        sa.Column('concluded_by', sa.String(length=60), nullable=True),
        sa.Column('concluded_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint(f"status IN ({STATUSES})", name='ck_supervision_case_status'),
        sa.CheckConstraint('amount_at_risk >= 0 AND clues >= 1',
                           name='ck_supervision_case_amount'),
        sa.CheckConstraint("fixmedins_code <> '' OR psn_no <> ''",
                           name='ck_supervision_case_subject'),
        sa.CheckConstraint("status = 'open' OR assigned_to IS NOT NULL",
                           name='ck_supervision_case_assigned'),
        sa.CheckConstraint("(status = 'concluded') = (concluded_by IS NOT NULL AND "
                           "concluded_at IS NOT NULL)", name='ck_supervision_case_concluded'),
        sa.PrimaryKeyConstraint('case_id', name='pk_supervision_case'),
    )
    with op.batch_alter_table('supervision_case', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_case_status', ['status'], unique=False)
    op.create_table(
        'case_file',
        sa.Column('file_id', sa.String(length=30), nullable=False),
        sa.Column('case_id', sa.String(length=30), nullable=False),
        sa.Column('filename', sa.String(length=120), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('added_by', sa.String(length=60), nullable=False),
        sa.Column('added_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('size >= 1', name='ck_case_file_size'),
        sa.ForeignKeyConstraint(['case_id'], ['supervision_case.case_id'],
                                name='fk_case_file_case_id_supervision_case'),
        sa.PrimaryKeyConstraint('file_id', name='pk_case_file'),
    )
    op.create_table(
        'case_event',
        sa.Column('event_id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('case_id', sa.String(length=30), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('actor', sa.String(length=60), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('detail', sa.String(length=1000), server_default='', nullable=False),
        sa.Column('clue_id', sa.String(length=30), nullable=True),
        sa.Column('file_id', sa.String(length=30), nullable=True),
        sa.CheckConstraint(f"kind IN ({EVENTS})", name='ck_case_event_kind'),
        sa.ForeignKeyConstraint(['case_id'], ['supervision_case.case_id'],
                                name='fk_case_event_case_id_supervision_case'),
        sa.ForeignKeyConstraint(['file_id'], ['case_file.file_id'],
                                name='fk_case_event_file_id_case_file'),
        sa.PrimaryKeyConstraint('event_id', name='pk_case_event'),
    )
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.create_index('ix_case_event_case_id_event_id', ['case_id', 'event_id'],
                              unique=False)
    op.create_table(
        'case_verification',
        sa.Column('verification_id', sa.String(length=30), nullable=False),
        sa.Column('case_id', sa.String(length=30), nullable=False),
        sa.Column('from_region', sa.String(length=6), nullable=False),
        sa.Column('to_region', sa.String(length=6), nullable=False),
        sa.Column('question', sa.String(length=1000), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('asked_by', sa.String(length=60), nullable=False),
        sa.Column('asked_at', sa.DateTime(), nullable=False),
        sa.Column('answer', sa.String(length=1000), server_default='', nullable=False),
        sa.Column('answered_by', sa.String(length=60), nullable=True),
        sa.Column('answered_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint("status IN ('asked', 'answered')",
                           name='ck_case_verification_status'),
        sa.CheckConstraint('from_region <> to_region', name='ck_case_verification_regions'),
        sa.CheckConstraint("(status = 'answered') = (answered_by IS NOT NULL AND "
                           "answered_at IS NOT NULL)", name='ck_case_verification_answered'),
        sa.ForeignKeyConstraint(['case_id'], ['supervision_case.case_id'],
                                name='fk_case_verification_case_id_supervision_case'),
        sa.PrimaryKeyConstraint('verification_id', name='pk_case_verification'),
    )
    with op.batch_alter_table('case_verification', schema=None) as batch_op:
        batch_op.create_index('ix_case_verification_case_id', ['case_id'], unique=False)
    op.create_table(
        'case_conclusion',
        sa.Column('case_id', sa.String(length=30), nullable=False),
        sa.Column('outcomes', sa.String(length=100), nullable=False),
        sa.Column('fixmedins_code', sa.String(length=30), server_default='', nullable=False),
        sa.Column('region', sa.String(length=6), server_default='', nullable=False),
        sa.Column('recovery', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
        sa.Column('recovery_reason', sa.String(length=200), server_default='',
                  nullable=False),
        sa.Column('fine', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
        sa.Column('suspend_months', sa.Integer(), server_default=sa.text('0'),
                  nullable=False),
        sa.Column('suspension_id', sa.Integer(), nullable=True),
        sa.Column('suspend_institution', sa.Boolean(), server_default=sa.text('false'),
                  nullable=False),
        sa.Column('note', sa.String(length=1000), server_default='', nullable=False),
        sa.Column('concluded_by', sa.String(length=60), nullable=False),
        sa.Column('concluded_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint(_each_one_of('outcomes', OUTCOMES),
                           name='ck_case_conclusion_outcomes'),
        sa.CheckConstraint('recovery >= 0 AND fine >= 0', name='ck_case_conclusion_amounts'),
        sa.CheckConstraint('suspend_months = 0 OR (suspend_months >= 3 AND '
                           'suspend_months <= 12)', name='ck_case_conclusion_months'),
        sa.CheckConstraint("recovery = 0 OR (fixmedins_code <> '' AND region <> '')",
                           name='ck_case_conclusion_recovery'),
        sa.ForeignKeyConstraint(['case_id'], ['supervision_case.case_id'],
                                name='fk_case_conclusion_case_id_supervision_case'),
        sa.PrimaryKeyConstraint('case_id', name='pk_case_conclusion'),
    )
    with op.batch_alter_table('case_conclusion', schema=None) as batch_op:
        batch_op.create_index('ix_case_conclusion_fixmedins_code', ['fixmedins_code'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('case_conclusion')
    op.drop_table('case_verification')
    op.drop_table('case_event')
    op.drop_table('case_file')
    op.drop_table('supervision_case')
    with op.batch_alter_table('clearing_institution', schema=None) as batch_op:
        batch_op.drop_constraint('ck_clearing_institution_recovered', type_='check')
        batch_op.drop_column('recovered')
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_constraint('ck_ledger_entry_kind', type_='check')
        batch_op.create_check_constraint('ck_ledger_entry_kind', KINDS_BEFORE)
