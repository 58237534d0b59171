"""Care away from home under the 2022 notice (issue 19, part 3): the personal commitment
letter signed with a filing, and the special-disease care away from home each
institution opened, per disease

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-03 22:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0035'
down_revision = '0034'
branch_labels = None
depends_on = None

COMMITMENT = (
    "(commitment_signed AND commitment_at IS NOT NULL AND commitment_version <> '' "
    "AND commitment_entry <> '') OR (NOT commitment_signed AND commitment_at IS NULL "
    "AND commitment_version = '')")


def upgrade() -> None:
    with op.batch_alter_table('filing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('commitment_signed', sa.Boolean(),
                                      server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('commitment_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('commitment_version', sa.String(length=30),
                                      server_default='', nullable=False))
        batch_op.add_column(sa.Column('commitment_entry', sa.String(length=60),
                                      server_default='', nullable=False))
        batch_op.create_check_constraint('ck_filing_commitment', sa.text(COMMITMENT))
    op.create_table(
        'institution_disease_service',
        sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
        sa.Column('opsp_dise_code', sa.String(length=30), nullable=False),
        sa.Column('opened_from', sa.DateTime(), nullable=False),
        sa.Column('opened_by', sa.String(length=60), nullable=False),
        sa.Column('opened_at', sa.DateTime(), nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.Column('closed_by', sa.String(length=60), server_default='', nullable=False),
        sa.CheckConstraint('closed_at IS NULL OR closed_at >= opened_from',
                           name='ck_institution_disease_service_closed'),
        sa.ForeignKeyConstraint(
            ['fixmedins_code'], ['institution.fixmedins_code'],
            name='fk_institution_disease_service_fixmedins_code_institution'),
        sa.PrimaryKeyConstraint('fixmedins_code', 'opsp_dise_code',
                                name='pk_institution_disease_service'),
    )


def downgrade() -> None:
    op.drop_table('institution_disease_service')
    with op.batch_alter_table('filing', schema=None) as batch_op:
        batch_op.drop_constraint('ck_filing_commitment', type_='check')
        batch_op.drop_column('commitment_entry')
        batch_op.drop_column('commitment_version')
        batch_op.drop_column('commitment_at')
        batch_op.drop_column('commitment_signed')
