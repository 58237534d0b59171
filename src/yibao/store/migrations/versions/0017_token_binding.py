"""ec_token: the family binding a relative's token was issued through

A relative's ecToken is revoked with its binding and with the holder's certificate
(services/revocation.py); tokens issued before 0017 have no binding recorded (they expire
within 30 minutes).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 08:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ec_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('binding_id', sa.String(length=30), nullable=True))
        batch_op.create_index(batch_op.f('ix_ec_token_cert_id'), ['cert_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ec_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ec_token_cert_id'))
        batch_op.drop_column('binding_id')
