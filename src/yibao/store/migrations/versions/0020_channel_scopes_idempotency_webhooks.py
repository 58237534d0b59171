"""The open interface for channels: a channel's scopes, sandbox flag and webhook URL; the
answers of its writes by Idempotency-Key (issue 15)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 15:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

# frozen here as of this revision (domain/channels.py SCOPES, store/schema.py CHECKS); a
# channel made before scopes existed holds every one, as it could do everything before
_SCOPES = ('activation', 'payment', 'own_data', 'claims')
_PADDED = "',' || REPLACE(scopes, ',', ',,') || ','"
for _scope in _SCOPES:
    _PADDED = f"REPLACE({_PADDED}, ',{_scope},', '')"
_SCOPES_CHECK = ("scopes <> '' AND scopes NOT LIKE ',%' AND scopes NOT LIKE '%,' AND "
                 f"scopes NOT LIKE '%,,%' AND REPLACE({_PADDED}, ',', '') = ''")


def upgrade() -> None:
    with op.batch_alter_table('channel', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.String(length=100),
                                      server_default=','.join(_SCOPES), nullable=False))
        batch_op.add_column(sa.Column('sandbox', sa.Boolean(),
                                      server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('webhook_url', sa.String(length=400),
                                      server_default='', nullable=False))
        batch_op.create_check_constraint('ck_channel_scopes', _SCOPES_CHECK)
    op.create_table(
        'channel_request',
        sa.Column('channel_id', sa.String(length=30), nullable=False),
        sa.Column('idem_key', sa.String(length=64), nullable=False),
        sa.Column('request_hash', sa.String(length=64), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('status = 0 OR (status >= 200 AND status <= 499)',
                           name='ck_channel_request_status'),
        sa.PrimaryKeyConstraint('channel_id', 'idem_key', name='pk_channel_request'),
    )
    with op.batch_alter_table('channel_request', schema=None) as batch_op:
        batch_op.create_index('ix_channel_request_created_at', ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('channel_request', schema=None) as batch_op:
        batch_op.drop_index('ix_channel_request_created_at')
    op.drop_table('channel_request')
    with op.batch_alter_table('channel', schema=None) as batch_op:
        batch_op.drop_constraint('ck_channel_scopes', type_='check')
        batch_op.drop_column('webhook_url')
        batch_op.drop_column('sandbox')
        batch_op.drop_column('scopes')
