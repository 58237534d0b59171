"""Invariants kept by the database: CHECK constraints on amounts, balances, statuses and
code sets; on PostgreSQL a deferred constraint trigger that every ledger posting sums to zero

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 07:30:00.000000
"""

from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# table -> what -> condition; the constraint is ck_<table>_<what> (as in store/schema.py,
# frozen here as of this revision)
CHECKS = {
    'institution': {
        'kind':
            "kind IN ('hospital', 'pharmacy')",
    },
    'insurance': {
        'status':
            "psn_insu_stas IN ('1', '2', '4')",
        'insutype':
            "insutype IN ('310', '320', '330', '340', '390', '392', '510')",
    },
    'account': {
        'balance':
            "balance >= 0",
    },
    'account_entry': {
        'balance_after':
            "balance_after >= 0",
    },
    'card': {
        'status':
            "status IN ('valid', 'lost')",
    },
    'ecert': {
        'status':
            "status IN ('active', 'deactivated')",
        'pin_failures':
            "pin_failures >= 0",
    },
    'family_binding': {
        'status':
            "status IN ('active', 'pending', 'removed')",
    },
    'visit': {
        'status':
            "status IN ('open', 'discharged', 'cancelled', 'selfpaid')",
        'class':
            "visit_class IN ('outpatient', 'inpatient')",
        'insutype':
            "insutype IN ('310', '320', '330', '340', '390', '392', '510')",
        'med_type':
            "med_type IN ('11', '13', '14', '19', '21', '22', '24', '41', '51', '52')",
    },
    'fee_line': {
        'status':
            "status IN ('active', 'cancelled', 'excluded')",
        'parts':
            "det_item_fee_sumamt = fulamt_ownpay_amt + overlmt_amt + preselfpay_amt + "
            "inscp_scp_amt",
        'signs':
            "(det_item_fee_sumamt >= 0 AND fulamt_ownpay_amt >= 0 AND overlmt_amt >= 0 AND "
            "preselfpay_amt >= 0 AND inscp_scp_amt >= 0) OR (det_item_fee_sumamt < 0 AND "
            "init_feedetl_sn <> '' AND fulamt_ownpay_amt <= 0 AND overlmt_amt <= 0 AND "
            "preselfpay_amt <= 0 AND inscp_scp_amt <= 0)",
    },
    'settlement': {
        'kind':
            "kind IN ('settle', 'cancel', 'claim')",
        'insutype':
            "insutype IN ('310', '320', '330', '340', '390', '392', '510')",
        'reverses':
            "(kind = 'cancel' AND reverses IS NOT NULL) OR (NOT kind = 'cancel' AND reverses "
            "IS NULL)",
        'signs':
            "(kind = 'cancel' AND medfee_sumamt <= 0 AND fulamt_ownpay_amt <= 0 AND "
            "overlmt_selfpay <= 0 AND preselfpay_amt <= 0 AND inscp_scp_amt <= 0 AND "
            "act_pay_dedc <= 0 AND hifp_pay <= 0 AND cvlserv_pay <= 0 AND hifes_pay <= 0 AND "
            "hifmi_pay <= 0 AND hifob_pay <= 0 AND maf_pay <= 0 AND oth_pay <= 0 AND "
            "fund_pay_sumamt <= 0 AND psn_part_amt <= 0 AND acct_pay <= 0 AND psn_cash_pay <= "
            "0 AND hosp_part_amt <= 0 AND acct_mulaid_pay <= 0) OR (NOT kind = 'cancel' AND "
            "medfee_sumamt >= 0 AND fulamt_ownpay_amt >= 0 AND overlmt_selfpay >= 0 AND "
            "preselfpay_amt >= 0 AND inscp_scp_amt >= 0 AND act_pay_dedc >= 0 AND hifp_pay >= "
            "0 AND cvlserv_pay >= 0 AND hifes_pay >= 0 AND hifmi_pay >= 0 AND hifob_pay >= 0 "
            "AND maf_pay >= 0 AND oth_pay >= 0 AND fund_pay_sumamt >= 0 AND psn_part_amt >= 0 "
            "AND acct_pay >= 0 AND psn_cash_pay >= 0 AND hosp_part_amt >= 0 AND "
            "acct_mulaid_pay >= 0)",
        'parts':
            "medfee_sumamt = fund_pay_sumamt + psn_part_amt + hosp_part_amt AND psn_part_amt "
            "= acct_pay + psn_cash_pay AND fund_pay_sumamt = hifp_pay + cvlserv_pay + "
            "hifes_pay + hifmi_pay + hifob_pay + maf_pay + oth_pay",
        'balc':
            "balc >= 0",
    },
    'filing': {
        'status':
            "status IN ('active', 'cancelled', 'superseded')",
        'kind':
            "kind IN ('area', 'disease', 'trauma')",
        'insutype':
            "insutype IN ('310', '320', '330', '340', '390', '392', '510')",
    },
    'outbox': {
        'status':
            "status IN ('pending', 'delivered', 'failed')",
        'attempts':
            "attempts >= 0",
    },
    'claim': {
        'status':
            "status IN ('eligible', 'submitted', 'under_review', 'approved', "
            "'partly_approved', 'rejected', 'paid', 'withdrawn')",
        'insutype':
            "insutype IN ('310', '320', '330', '340', '390', '392', '510')",
        'amounts':
            "medfee_sumamt >= 0 AND approved_amount >= 0 AND approved_amount <= medfee_sumamt",
    },
    'claim_step': {
        'status':
            "status IN ('eligible', 'submitted', 'under_review', 'approved', "
            "'partly_approved', 'rejected', 'paid', 'withdrawn', 'first_approved')",
    },
    'payment_order': {
        'status':
            "status IN ('pending', 'exported', 'paid', 'failed')",
        'amount':
            "amount > 0",
        'attempts':
            "attempts >= 0",
    },
    'ledger_entry': {
        'kind':
            "kind IN ('settle', 'cancel', 'claim', 'payout', 'prepay', 'clearing', "
            "'interregional')",
        'amount':
            "amount <> 0",
    },
    'clearing_month': {
        'status':
            "status IN ('open', 'closed')",
        'runs':
            "runs >= 0 AND settlements >= 0",
    },
    'prepayment': {
        'amount':
            "amount > 0",
    },
    'clearing_application': {
        'status':
            "status IN ('applied', 'cancelled')",
        'amounts':
            "psntime >= 0 AND medfee_sumamt >= 0 AND fund_appy_sum >= 0 AND acct_pay >= 0 AND "
            "cash_payamt >= 0",
    },
}

BALANCED = """
CREATE FUNCTION ledger_entry_txn_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched text;
    total numeric;
BEGIN
    FOREACH touched IN ARRAY ARRAY[
        CASE WHEN TG_OP <> 'DELETE' THEN NEW.txn END,
        CASE WHEN TG_OP <> 'INSERT' THEN OLD.txn END
    ] LOOP
        CONTINUE WHEN touched IS NULL;
        SELECT COALESCE(SUM(amount), 0) INTO total FROM ledger_entry WHERE txn = touched;
        IF total <> 0 THEN
            RAISE EXCEPTION 'ledger posting % sums to % fen, not zero', touched, total
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'ct_ledger_entry_txn_balanced';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER ct_ledger_entry_txn_balanced
    AFTER INSERT OR UPDATE OR DELETE ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_txn_balanced();
"""
UNBALANCED = """
DROP TRIGGER IF EXISTS ct_ledger_entry_txn_balanced ON ledger_entry;
DROP FUNCTION IF EXISTS ledger_entry_txn_balanced();
"""


def upgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for what, condition in checks.items():
                batch_op.create_check_constraint(f'ck_{table}_{what}', condition)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(BALANCED)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(UNBALANCED)
    for table, checks in reversed(list(CHECKS.items())):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for what in reversed(list(checks)):
                batch_op.drop_constraint(f'ck_{table}_{what}', type_='check')
