"""The database checks the code sets of attestations, operators, ecTokens, stored files,
payees and claim sources; a window claim records the registered payee its account differs
from (issue 13 review)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 08:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

_ROLES = ('clerk', 'reviewer', 'approver', 'finance', 'auditor', 'administrator')
_PADDED = "',' || REPLACE(roles, ',', ',,') || ','"
for _role in _ROLES:
    _PADDED = f"REPLACE({_PADDED}, ',{_role},', '')"

# table -> what -> condition; the constraint is ck_<table>_<what> (as in store/schema.py,
# frozen here as of this revision)
CHECKS = {
    'attestation': {
        'purpose':
            "purpose IN ('activation', 'unlock', 'payee', 'family_consent', 'face')",
        'method':
            "method IN ('face_liveness', 'bank_card_four', 'in_person_window', "
            "'id_card_nfc')",
    },
    'operator': {
        'status':
            "status IN ('active', 'disabled')",
        'roles':
            "roles <> '' AND roles NOT LIKE ',%' AND roles NOT LIKE '%,' AND "
            f"roles NOT LIKE '%,,%' AND REPLACE({_PADDED}, ',', '') = ''",
    },
    'ec_token': {
        'business_type':
            "business_type IN ('01101', '01102', '01201', '01202', '02101')",
    },
    'stored_file': {
        'kind':
            "kind IN ('upload', 'result', 'catalogue')",
    },
    'payee_account': {
        'account':
            "bank_name <> '' AND bank_account <> ''",
    },
    'claim': {
        'source':
            "source IN ('01', '02', '04')",
    },
}


def upgrade() -> None:
    with op.batch_alter_table('claim', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registered_payee_id', sa.Integer(), nullable=True))
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for what, condition in checks.items():
                batch_op.create_check_constraint(f'ck_{table}_{what}', condition)


def downgrade() -> None:
    for table, checks in reversed(list(CHECKS.items())):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for what in reversed(list(checks)):
                batch_op.drop_constraint(f'ck_{table}_{what}', type_='check')
    with op.batch_alter_table('claim', schema=None) as batch_op:
        batch_op.drop_column('registered_payee_id')
