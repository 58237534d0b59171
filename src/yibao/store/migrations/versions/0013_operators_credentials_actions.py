"""operators, their hashed credentials and their audited actions; who exported a
payment order and who recorded its bank result

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 07:10:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'operator',
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('roles', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_operator')),
    )
    op.create_table(
        'operator_credential',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('operator', sa.String(length=60), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.Column('rotated_from', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['operator'], ['operator.name'],
                                name=op.f('fk_operator_credential_operator_operator')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_credential')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_operator_credential_token_hash')),
    )
    op.create_index(op.f('ix_operator_credential_operator'), 'operator_credential',
                    ['operator'], unique=False)
    op.create_table(
        'operator_action',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('actor', sa.String(length=60), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('subject', sa.String(length=60), nullable=False),
        sa.Column('detail', sa.Text(), server_default='{}', nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_action')),
    )
    op.create_index(op.f('ix_operator_action_actor'), 'operator_action', ['actor'],
                    unique=False)
    op.create_index(op.f('ix_operator_action_subject'), 'operator_action', ['subject'],
                    unique=False)
    with op.batch_alter_table('payment_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exported_by', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('result_by', sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('payment_order', schema=None) as batch_op:
        batch_op.drop_column('result_by')
        batch_op.drop_column('exported_by')
    op.drop_index(op.f('ix_operator_action_subject'), table_name='operator_action')
    op.drop_index(op.f('ix_operator_action_actor'), table_name='operator_action')
    op.drop_table('operator_action')
    op.drop_index(op.f('ix_operator_credential_operator'), table_name='operator_credential')
    op.drop_table('operator_credential')
    op.drop_table('operator')
