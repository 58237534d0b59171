"""Console sign-ins: an operator's session of the bureau console, its cookie kept as
SHA-256 only, bound to the credential it was opened with (issue 18)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-03 19:05:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'operator_session',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('operator', sa.String(length=60), nullable=False),
        sa.Column('credential', sa.Integer(), nullable=False),
        sa.Column('csrf', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['operator'], ['operator.name']),
        sa.ForeignKeyConstraint(['credential'], ['operator_credential.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_operator_session_operator'), 'operator_session', ['operator'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_operator_session_operator'), table_name='operator_session')
    op.drop_table('operator_session')
