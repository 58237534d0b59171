"""The AK/SK gateway scheme, per institution: which schemes an institution may sign with
(x-tif-* and/or AK/SK) and its AK/SK pairs (issue 16)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # every existing institution keeps signing as it did: x-tif only, until an operator
    # issues it an AK/SK pair and allows the scheme
    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.add_column(sa.Column('xtif_allowed', sa.Boolean(),
                                      server_default=sa.text('true'), nullable=False))
        batch_op.add_column(sa.Column('aksk_allowed', sa.Boolean(),
                                      server_default=sa.text('false'), nullable=False))
    op.create_table(
        'gateway_key',
        sa.Column('access_key', sa.String(length=100), nullable=False),
        sa.Column('fixmedins_code', sa.String(length=30), nullable=False),
        sa.Column('secret_key', sa.String(length=128), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('retires_at_unix', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(['fixmedins_code'], ['institution.fixmedins_code'],
                                name='fk_gateway_key_fixmedins_code_institution'),
        sa.PrimaryKeyConstraint('access_key', name='pk_gateway_key'),
    )
    with op.batch_alter_table('gateway_key', schema=None) as batch_op:
        batch_op.create_index('ix_gateway_key_fixmedins_code', ['fixmedins_code'],
                              unique=False)
        batch_op.create_index('uq_gateway_key_current', ['fixmedins_code'], unique=True,
                              sqlite_where=sa.text('retires_at_unix IS NULL'),
                              postgresql_where=sa.text('retires_at_unix IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('gateway_key', schema=None) as batch_op:
        batch_op.drop_index('uq_gateway_key_current',
                            sqlite_where=sa.text('retires_at_unix IS NULL'),
                            postgresql_where=sa.text('retires_at_unix IS NULL'))
        batch_op.drop_index('ix_gateway_key_fixmedins_code')
    op.drop_table('gateway_key')
    with op.batch_alter_table('institution', schema=None) as batch_op:
        batch_op.drop_column('aksk_allowed')
        batch_op.drop_column('xtif_allowed')
