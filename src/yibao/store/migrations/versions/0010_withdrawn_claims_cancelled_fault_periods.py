"""2601 of 2901/2902: a withdrawn claim frees its invoice; fault periods are cancelled

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 12:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

OLD = sa.text("status <> 'rejected'")
NEW = sa.text("status NOT IN ('rejected', 'withdrawn')")


def upgrade() -> None:
    with op.batch_alter_table('fault_period', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_reason', sa.String(length=300),
                                      server_default='', nullable=False))
    _claim_index(OLD, NEW)


def downgrade() -> None:
    # before 0010 a claim that no longer holds its invoice was 'rejected'; a withdrawn
    # one left as it is would hold the invoice against the live claim made after it
    op.execute("UPDATE claim SET status = 'rejected' WHERE status = 'withdrawn'")
    _claim_index(NEW, OLD)
    # before 0010 a fault period could not be cancelled: one left without its mark would
    # be in force again (bills uploaded into it, another period overlapping it); the
    # cancellation stays in audit_event (kind fault-cancel)
    op.execute("DELETE FROM fault_period WHERE cancelled_at IS NOT NULL")
    with op.batch_alter_table('fault_period', schema=None) as batch_op:
        batch_op.drop_column('cancelled_reason')
        batch_op.drop_column('cancelled_at')


def _claim_index(before: sa.TextClause, after: sa.TextClause) -> None:
    with op.batch_alter_table('claim', schema=None) as batch_op:
        batch_op.drop_index('uq_claim_live_invoice', sqlite_where=before,
                            postgresql_where=before)
        batch_op.create_index('uq_claim_live_invoice', ['fixmedins_code', 'invono'],
                              unique=True, sqlite_where=after, postgresql_where=after)
