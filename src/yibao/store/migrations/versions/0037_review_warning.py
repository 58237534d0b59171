"""Fund supervision in real time (issue 20): the findings 3101/3102 answered and what
the institution did with them (3103)

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-04 03:40:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0037'
down_revision = '0036'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'review_warning',
        sa.Column('jr_id', sa.String(length=30), nullable=False),
        sa.Column('stage', sa.String(length=1), nullable=False),
        sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
        sa.Column('psn_no', sa.String(length=50), nullable=False),
        sa.Column('mdtrt_id', sa.String(length=50), nullable=False),
        sa.Column('rule_id', sa.String(length=10), nullable=False),
        sa.Column('hilist_code', sa.String(length=50), server_default='', nullable=False),
        sa.Column('amount', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
        sa.Column('msgid', sa.String(length=30), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('dspo_way', sa.String(length=1), server_default='', nullable=False),
        sa.Column('dspo_way_rea', sa.String(length=500), server_default='', nullable=False),
        sa.Column('fed_back_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint("stage IN ('1', '2')", name='ck_review_warning_stage'),
        sa.CheckConstraint('amount >= 0', name='ck_review_warning_amount'),
        sa.CheckConstraint(
            "dspo_way IN ('', '1', '2') AND (dspo_way = '') = (fed_back_at IS NULL) "
            "AND (dspo_way <> '1' OR dspo_way_rea <> '')", name='ck_review_warning_feedback'),
        sa.PrimaryKeyConstraint('jr_id', name='pk_review_warning'),
    )
    with op.batch_alter_table('review_warning', schema=None) as batch_op:
        batch_op.create_index('ix_review_warning_fixmedins_code_created_at',
                              ['fixmedins_code', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_table('review_warning')
