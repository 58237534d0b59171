"""The insured person's own data, as any certified channel shows it to them (scope
own_data, docs/channel-api.md): the personal account's balance and its movements, the
settlements with their breakdown explained, the online orders. Read only; each list a
page in SQL, newest first. Amounts are yuan text with two decimals (REST answers)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from yibao.domain.codes import FUNDS
from yibao.domain.money import fen_to_yuan
from yibao.domain.orders import ORD_STAS, OrderStatus
from yibao.domain.paging import Page
from yibao.domain.states import SettlementKind
from yibao.store import accounts, institutions
from yibao.store.schema import (
    account,
    account_entry,
    online_order,
    settlement,
    settlement_fund,
)

# at the same second a cancellation is newer than what it cancels
_NEWEST_FIRST = (settlement.c.reverses.is_(None), settlement.c.setl_id.desc())


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(sep=" ")


def account_of(conn: Connection, psn_no: str, page: Page) -> dict[str, Any]:
    """The personal account's balance and a page of its movements: each settlement's
    or cancellation's amount (negative: paid out), the balance it left, when, where."""
    has_account = conn.execute(select(account.c.psn_no).where(
        account.c.psn_no == psn_no)).first() is not None
    rows = conn.execute(
        select(account_entry.c.setl_id, account_entry.c.amount,
               account_entry.c.balance_after, account_entry.c.created_at,
               settlement.c.kind, settlement.c.fixmedins_code,
               settlement.c.psn_no.label("buyer"))
        .join(settlement, settlement.c.setl_id == account_entry.c.setl_id)
        .where(account_entry.c.psn_no == psn_no)
        .order_by(account_entry.c.created_at.desc(), *_NEWEST_FIRST)
        .limit(page.limit).offset(page.offset)).mappings().all()
    names = institutions.names(conn, {r["fixmedins_code"] for r in rows})
    return {
        "has_account": has_account,
        "balance": fen_to_yuan(accounts.balance(conn, psn_no)),
        "movements": [{
            "setl_id": r["setl_id"], "kind": _kind(r["kind"]),
            "amount": fen_to_yuan(r["amount"]), "balance_after": fen_to_yuan(
                r["balance_after"]), "at": _time(r["created_at"]),
            "fixmedins_code": r["fixmedins_code"],
            "institution": names.get(r["fixmedins_code"], ""),
            # paid by mutual aid (共济) for a bound family member's purchase
            "for_family_member": r["buyer"] != psn_no,
        } for r in rows],
    }


def _kind(kind: str) -> str:
    """How a settlement row reads for the person."""
    return {SettlementKind.SETTLE: "settlement", SettlementKind.CANCEL: "cancellation",
            SettlementKind.CLAIM: "reimbursement"}[SettlementKind(kind)]


def settlements_of(conn: Connection, psn_no: str, page: Page) -> list[dict[str, Any]]:
    """A page of the person's settlements, cancellations and reimbursements, newest
    first, each with its breakdown explained."""
    rows = conn.execute(select(settlement).where(settlement.c.psn_no == psn_no)
                        .order_by(settlement.c.setl_time.desc(), *_NEWEST_FIRST)
                        .limit(page.limit).offset(page.offset)).mappings().all()
    ids = [r["setl_id"] for r in rows]
    funds = _funds_of(conn, ids)
    cancelled = {reverses: setl_id for reverses, setl_id in conn.execute(
        select(settlement.c.reverses, settlement.c.setl_id).where(
            settlement.c.reverses.in_(ids)))} if ids else {}
    names = institutions.names(conn, {r["fixmedins_code"] for r in rows})
    return [_settlement_view(r, funds.get(r["setl_id"], []), cancelled.get(r["setl_id"]),
                             names.get(r["fixmedins_code"], "")) for r in rows]


def _funds_of(conn: Connection, ids: list[str]) -> dict[str, list[RowMapping]]:
    found: dict[str, list[RowMapping]] = {}
    if not ids:
        return found
    for row in conn.execute(select(settlement_fund).where(settlement_fund.c.setl_id.in_(ids))
                            .order_by(settlement_fund.c.setl_id, settlement_fund.c.seq)
                            ).mappings():
        found.setdefault(row["setl_id"], []).append(row)
    return found


def _settlement_view(row: RowMapping, funds: list[RowMapping], cancelled_by: str | None,
                     institution_name: str) -> dict[str, Any]:
    yuan = fen_to_yuan
    fund_lines = [{"fund_pay_type": f["fund_pay_type"],
                   "name": FUNDS.get(f["fund_pay_type"], ("", ""))[0],
                   "in_scope": yuan(f["inscp_scp_amt"]), "paid": yuan(f["fund_payamt"]),
                   "computation": f["setl_proc_info"]} for f in funds]
    return {
        "setl_id": row["setl_id"], "kind": _kind(row["kind"]),
        "reverses": row["reverses"], "cancelled_by": cancelled_by,
        "setl_time": _time(row["setl_time"]), "fixmedins_code": row["fixmedins_code"],
        "institution": institution_name, "mdtrt_id": row["mdtrt_id"],
        "insutype": row["insutype"], "med_type": row["med_type"],
        "medfee_sumamt": yuan(row["medfee_sumamt"]),
        "fund_pay_sumamt": yuan(row["fund_pay_sumamt"]), "funds": fund_lines,
        "acct_pay": yuan(row["acct_pay"]), "cash_pay": yuan(row["psn_cash_pay"]),
        "hosp_part_amt": yuan(row["hosp_part_amt"]),
        "deductible_applied": yuan(row["act_pay_dedc"]),
        "fund_ratio": row["pool_prop_selfpay"],
        "out_of_scope": {"fulamt_ownpay_amt": yuan(row["fulamt_ownpay_amt"]),
                         "overlmt_selfpay": yuan(row["overlmt_selfpay"]),
                         "preselfpay_amt": yuan(row["preselfpay_amt"])},
        "inscp_scp_amt": yuan(row["inscp_scp_amt"]),
        "explanation": _explanation(row, fund_lines),
    }


def _explanation(row: RowMapping, funds: Iterable[dict[str, Any]]) -> list[str]:
    """The breakdown in sentences, in the order the settlement computed it."""
    yuan = fen_to_yuan
    lines = [f"医疗费用总额 {yuan(row['medfee_sumamt'])} 元，其中政策范围内 "
             f"{yuan(row['inscp_scp_amt'])} 元、全自费 {yuan(row['fulamt_ownpay_amt'])} 元、"
             f"超限价 {yuan(row['overlmt_selfpay'])} 元、先行自付 "
             f"{yuan(row['preselfpay_amt'])} 元",
             f"本次起付线支付 {yuan(row['act_pay_dedc'])} 元"]
    lines += [f"{f['name'] or f['fund_pay_type']} 支付 {f['paid']} 元"
              + (f"（{f['computation']}）" if f["computation"] else "") for f in funds]
    lines += [f"基金支付合计 {yuan(row['fund_pay_sumamt'])} 元，统筹基金支付比例 "
              f"{row['pool_prop_selfpay']}",
              f"个人账户支付 {yuan(row['acct_pay'])} 元，现金支付 "
              f"{yuan(row['psn_cash_pay'])} 元"]
    if row["kind"] == SettlementKind.CANCEL:
        lines.append(f"这是对结算 {row['reverses']} 的撤销：金额全部退回")
    return lines


def orders_of(conn: Connection, psn_no: str, page: Page) -> list[dict[str, Any]]:
    """A page of the person's online orders (the mobile-payment centre's), newest first:
    the order, its institution, its status (and the standard's ordStas), amounts, times."""
    rows = conn.execute(select(online_order).where(online_order.c.psn_no == psn_no)
                        .order_by(online_order.c.created_at.desc(),
                                  online_order.c.pay_ord_id.desc())
                        .limit(page.limit).offset(page.offset)).mappings().all()
    names = institutions.names(conn, {r["fixmedins_code"] for r in rows})
    return [{
        "payOrdId": r["pay_ord_id"], "fixmedins_code": r["fixmedins_code"],
        "institution": names.get(r["fixmedins_code"], ""), "status": r["status"],
        "ordStas": ORD_STAS[OrderStatus(r["status"])],
        "medfee_sumamt": fen_to_yuan(r["medfee_sumamt"]), "fund_pay": fen_to_yuan(
            r["fund_pay"]), "acct_pay": fen_to_yuan(r["acct_pay"]),
        "cash_pay": fen_to_yuan(r["cash_pay"]), "cash_paid": fen_to_yuan(r["cash_paid"]),
        "setl_id": r["setl_id"], "created_at": _time(r["created_at"]),
        "expires_at": _time(r["expires_at"]), "settled_at": _time(r["settled_at"]),
        "closed_at": _time(r["closed_at"]),
    } for r in rows]
