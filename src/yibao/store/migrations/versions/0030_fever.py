"""Fever clinics and the epidemic population groups (issue 19, part 6): the departments an
institution marked as fever clinics; the visit's and the settlement's fever flag and
population group (MDTRT_GRP_TYPE), so reports read the settlement alone (docs/fever.md)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-03 22:10:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

FLAGGED = ('visit', 'settlement')


def upgrade() -> None:
    op.create_table(
        'fever_dept',
        sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
        sa.Column('dept_code', sa.String(length=30), nullable=False),
        sa.Column('marked_by', sa.String(length=64), nullable=False),
        sa.Column('marked_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['fixmedins_code'], ['institution.fixmedins_code'],
                                name='fk_fever_dept_fixmedins_code_institution'),
        sa.PrimaryKeyConstraint('fixmedins_code', 'dept_code', name='pk_fever_dept'),
    )
    for table in FLAGGED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('fever', sa.Boolean(),
                                          server_default=sa.text('false'), nullable=False))
            batch_op.add_column(sa.Column('mdtrt_grp_type', sa.String(length=1),
                                          server_default='', nullable=False))


def downgrade() -> None:
    for table in FLAGGED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('mdtrt_grp_type')
            batch_op.drop_column('fever')
    op.drop_table('fever_dept')
