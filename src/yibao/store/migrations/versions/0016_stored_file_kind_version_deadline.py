"""stored files: kind, a catalogue file's version key, the download deadline

A file stored before 0016 gets its creation time as deadline: it is past, so 9102 no
longer serves it and ``yibao purge`` removes it (1301-1315 make a catalogue file again).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 07:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stored_file', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=12), server_default='upload',
                                      nullable=False))
        batch_op.add_column(sa.Column('content_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('dld_endtime', sa.DateTime(), nullable=True))
    op.execute("UPDATE stored_file SET dld_endtime = created_at")
    op.execute("UPDATE stored_file SET kind = 'catalogue' WHERE fixmedins_code = 'plc'")
    with op.batch_alter_table('stored_file', schema=None) as batch_op:
        batch_op.alter_column('dld_endtime', existing_type=sa.DateTime(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_stored_file_content_key'),
                                          ['content_key'])
        batch_op.create_index(batch_op.f('ix_stored_file_fixmedins_code_created_at'),
                              ['fixmedins_code', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_stored_file_dld_endtime'), ['dld_endtime'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stored_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stored_file_dld_endtime'))
        batch_op.drop_index(batch_op.f('ix_stored_file_fixmedins_code_created_at'))
        batch_op.drop_constraint(batch_op.f('uq_stored_file_content_key'), type_='unique')
        batch_op.drop_column('dld_endtime')
        batch_op.drop_column('content_key')
        batch_op.drop_column('kind')
