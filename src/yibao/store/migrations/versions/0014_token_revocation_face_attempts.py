"""ecTokens can be revoked; visits keep only the SHA-256 of an ecToken; face attempts are
counted per institution from the audit log

Existing visits registered with an ecToken (mdtrt_cert_type 01) have the raw token
replaced by its SHA-256 (hex). The downgrade cannot restore raw tokens and keeps the
hashes (a token lives 30 minutes: none of them is usable any more).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 07:00:00.000000
"""

import hashlib

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_visit = sa.table('visit', sa.column('mdtrt_id', sa.String), sa.column('mdtrt_cert_type', sa.String),
                  sa.column('mdtrt_cert_no', sa.String))
HASHED_LENGTH = 64


def _hash_raw_tokens() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_visit.c.mdtrt_id, _visit.c.mdtrt_cert_no).where(
        _visit.c.mdtrt_cert_type == '01')).all()
    for mdtrt_id, cert_no in rows:
        if len(cert_no) == HASHED_LENGTH and all(c in '0123456789abcdef' for c in cert_no):
            continue  # already a digest (raw tokens are 43 URL-safe characters)
        conn.execute(sa.update(_visit).where(_visit.c.mdtrt_id == mdtrt_id).values(
            mdtrt_cert_no=hashlib.sha256(cert_no.encode()).hexdigest()))


def upgrade() -> None:
    with op.batch_alter_table('ec_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('revoked_why', sa.String(length=30), server_default='',
                                      nullable=False))
        batch_op.create_index(batch_op.f('ix_ec_token_psn_no'), ['psn_no'], unique=False)
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_kind_place_at'),
                              ['kind', 'place', 'at'], unique=False)
    _hash_raw_tokens()


def downgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_kind_place_at'))
    with op.batch_alter_table('ec_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ec_token_psn_no'))
        batch_op.drop_column('revoked_why')
        batch_op.drop_column('revoked_at')
