"""The clearing and reconciliation queries, written once for DuckDB and Spark SQL.

Inputs (one month, extracted from the store by ``extract.py`` or generated for the
benchmark): ``settlements(setl_id, kind, fixmedins_code, insutype, clr_type,
insuplc_admdvs, mdtrtarea_admvs, medfee_sumamt, fund_pay_sumamt, acct_pay,
psn_cash_pay)`` and ``funds(setl_id, fund_pay_type, fund_payamt)``, money in fen.
Only ``settle`` and ``cancel`` rows are cleared (a reimbursement is paid to the person).
A cancellation counts in the month it happened, so a closed month is never rewritten.
"""

from yibao.domain.states import SettlementKind

PERSONAL_ACCOUNT_FUND = "310200"  # 职工基本医疗保险个人账户基金
_SETTLE, _CANCEL = SettlementKind.SETTLE.value, SettlementKind.CANCEL.value

# what each fund owes each institution, by clearing type
CLEARING_LINES = f"""
WITH paid AS (
    SELECT f.setl_id, f.fund_pay_type, f.fund_payamt AS amount FROM funds f
    UNION ALL
    SELECT s.setl_id, '{PERSONAL_ACCOUNT_FUND}' AS fund_pay_type, s.acct_pay AS amount
    FROM settlements s WHERE s.acct_pay <> 0
)
SELECT s.fixmedins_code, s.mdtrtarea_admvs AS region, p.fund_pay_type, s.clr_type,
       SUM(CASE WHEN s.kind = '{_SETTLE}' THEN p.amount ELSE 0 END) AS settled,
       SUM(CASE WHEN s.kind = '{_CANCEL}' THEN p.amount ELSE 0 END) AS cancelled,
       SUM(p.amount) AS net
FROM settlements s JOIN paid p ON p.setl_id = s.setl_id
WHERE s.kind IN ('{_SETTLE}', '{_CANCEL}')
GROUP BY s.fixmedins_code, s.mdtrtarea_admvs, p.fund_pay_type, s.clr_type
ORDER BY s.fixmedins_code, p.fund_pay_type, s.clr_type
"""

# each institution's month: counts and totals
CLEARING_INSTITUTIONS = f"""
SELECT fixmedins_code, mdtrtarea_admvs AS region,
       SUM(CASE WHEN kind = '{_SETTLE}' THEN 1 ELSE 0 END) AS settlements,
       SUM(CASE WHEN kind = '{_CANCEL}' THEN 1 ELSE 0 END) AS cancellations,
       SUM(medfee_sumamt) AS medfee, SUM(fund_pay_sumamt) AS fund, SUM(acct_pay) AS acct,
       SUM(psn_cash_pay) AS cash
FROM settlements
WHERE kind IN ('{_SETTLE}', '{_CANCEL}')
GROUP BY fixmedins_code, mdtrtarea_admvs
ORDER BY fixmedins_code
"""

# what each insured place owes each treatment place for care away from home
CLEARING_REGIONS = f"""
SELECT insuplc_admdvs AS insured, mdtrtarea_admvs AS treatment,
       SUM(fund_pay_sumamt + acct_pay) AS amount,
       SUM(CASE WHEN kind = '{_SETTLE}' THEN 1 ELSE 0 END) AS settlements,
       SUM(CASE WHEN kind = '{_CANCEL}' THEN 1 ELSE 0 END) AS cancellations
FROM settlements
WHERE kind IN ('{_SETTLE}', '{_CANCEL}') AND insuplc_admdvs <> mdtrtarea_admvs
GROUP BY insuplc_admdvs, mdtrtarea_admvs
ORDER BY insuplc_admdvs, mdtrtarea_admvs
"""

QUERIES = {"lines": CLEARING_LINES, "institutions": CLEARING_INSTITUTIONS,
           "regions": CLEARING_REGIONS}

# detail reconciliation: the HIS's rows against the centre's, keyed by settlement and
# direction (refd_setl_flag 1 = the reversal of a cancelled settlement)
RECONCILE_DETAIL = """
SELECT COALESCE(c.setl_id, h.setl_id) AS setl_id,
       COALESCE(c.refd_setl_flag, h.refd_setl_flag) AS refd_setl_flag,
       COALESCE(c.psn_no, h.psn_no) AS psn_no, COALESCE(c.mdtrt_id, h.mdtrt_id) AS mdtrt_id,
       c.msgid,
       CASE WHEN h.setl_id IS NULL THEN 'centre_only'
            WHEN c.setl_id IS NULL THEN 'his_only'
            WHEN h.medfee_sumamt <> c.medfee_sumamt OR h.fund_pay_sumamt <> c.fund_pay_sumamt
                 OR h.acct_pay <> c.acct_pay THEN 'amounts_differ'
            ELSE 'balanced' END AS outcome,
       c.medfee_sumamt, c.fund_pay_sumamt, c.acct_pay,
       h.medfee_sumamt AS his_medfee, h.fund_pay_sumamt AS his_fund, h.acct_pay AS his_acct
FROM centre c FULL OUTER JOIN his h
  ON c.setl_id = h.setl_id AND c.refd_setl_flag = h.refd_setl_flag
ORDER BY 1, 2
"""
