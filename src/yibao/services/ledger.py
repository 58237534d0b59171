"""The fund ledger: postings written in the transaction of the change they record, and
``verify``, which proves that the ledger and the settlements agree to the fen.

Balances are never stored: an account's balance is the sum of its entries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, func, insert, or_, select

from yibao.domain import ledger as rules
from yibao.store.schema import (
    account_entry,
    clearing_institution,
    clearing_month,
    clearing_region,
    institution,
    ledger_entry,
    payment_order,
    person,
    prepayment,
)
from yibao.store.schema import settlement as settlement_table
from yibao.store.schema import settlement_fund as fund_table

_INSERT = insert(ledger_entry)
SETTLEMENT_TXN = "setl:"  # a settlement's posting is "setl:<setl_id>"


def post(conn: Connection, txn: str, kind: str, entries: Sequence[rules.Entry],
         at: datetime) -> None:
    _insert(conn, posting(txn, kind, entries, at))


def post_settlement(conn: Connection, row: Mapping[str, object],
                    funds: Sequence[Mapping[str, object]], at: datetime | None = None) -> None:
    _insert(conn, settlement_posting(row, funds, at))


def posting(txn: str, kind: str, entries: Sequence[rules.Entry],
            at: datetime) -> list[dict[str, object]]:
    """The ``ledger_entry`` rows of one posting."""
    assert rules.balanced(entries), (txn, entries)
    return [dict(txn=txn, kind=kind, account=account, amount=amount, at=at)
            for account, amount in entries]


def settlement_posting(row: Mapping[str, object], funds: Sequence[Mapping[str, object]],
                       at: datetime | None = None) -> list[dict[str, object]]:
    """A settlement's, cancellation's or reimbursement's posting, at its own time unless
    ``at`` says when it was booked (a reimbursement is computed as of the care, booked
    when approved)."""
    when = at or row["setl_time"]
    return posting(settlement_txn(str(row["setl_id"])), str(row["kind"]),
                   rules.settlement_entries(row, funds), when)  # type: ignore[arg-type]


def settlement_txn(setl_id: str) -> str:
    return f"{SETTLEMENT_TXN}{setl_id}"


def _insert(conn: Connection, rows: list[dict[str, object]]) -> None:
    if rows:
        conn.execute(_INSERT, rows)


def balance(conn: Connection, account: str) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(ledger_entry.c.amount), 0)).where(
        ledger_entry.c.account == account)).scalar_one())


def balances(conn: Connection, prefix: str = "") -> dict[str, int]:
    query = select(ledger_entry.c.account, func.sum(ledger_entry.c.amount)).group_by(
        ledger_entry.c.account)
    if prefix:
        query = query.where(ledger_entry.c.account.startswith(prefix))
    return {account: int(total) for account, total in conn.execute(query)}


# ---------------------------------------------------------------- verification


def verify(conn: Connection) -> list[str]:
    """Every problem found; an empty list means the ledger and the records agree."""
    return [*_unbalanced(conn), *_settlements_posted(conn), *_personal_accounts(conn),
            *_payouts(conn), *_clearing_posted(conn)]


def _unbalanced(conn: Connection) -> list[str]:
    rows = conn.execute(select(ledger_entry.c.txn, func.sum(ledger_entry.c.amount)).group_by(
        ledger_entry.c.txn).having(func.sum(ledger_entry.c.amount) != 0))
    return [f"posting {txn} sums to {total}, not 0" for txn, total in rows]


def _settlements_posted(conn: Connection) -> list[str]:
    """Each settlement's posting is exactly what its row and fund lines give, and no
    posting of a settlement exists without one."""
    actual: dict[str, dict[str, int]] = defaultdict(dict)
    for txn, account, amount in conn.execute(select(
            ledger_entry.c.txn, ledger_entry.c.account, ledger_entry.c.amount).where(
            ledger_entry.c.txn.startswith(SETTLEMENT_TXN))):
        actual[txn][account] = amount
    funds: dict[str, list[Mapping[str, object]]] = defaultdict(list)
    for f in conn.execute(select(fund_table)).mappings():
        funds[f["setl_id"]].append(f)
    problems = []
    for row in conn.execute(select(settlement_table)).mappings():
        txn = settlement_txn(row["setl_id"])
        expected = dict(rules.settlement_entries(row, funds[row["setl_id"]]))
        found = actual.pop(txn, {})
        if found != expected:
            problems.append(f"{txn}: ledger {sorted(found.items())} but the settlement "
                            f"gives {sorted(expected.items())}")
    problems += [f"{txn}: posted, but no such settlement" for txn in actual]
    return problems


def _personal_accounts(conn: Connection) -> list[str]:
    """What the ledger drew from each place's personal accounts equals what the
    accounts themselves recorded (account_entry, negative when paid out)."""
    drawn = select(person.c.insuplc_admdvs, -func.sum(account_entry.c.amount)).join(
        person, person.c.psn_no == account_entry.c.psn_no).group_by(person.c.insuplc_admdvs)
    recorded = {f"personal:{region}": int(total) for region, total in conn.execute(drawn)}
    posted = balances(conn, "personal:")
    return [f"{account}: ledger {posted.get(account, 0)}, accounts {recorded.get(account, 0)}"
            for account in sorted(set(recorded) | set(posted))
            if posted.get(account, 0) != recorded.get(account, 0)]


def _payouts(conn: Connection) -> list[str]:
    paid = {f"pay:{r.order_id}": r.amount for r in conn.execute(select(
        payment_order.c.order_id, payment_order.c.amount).where(
        payment_order.c.status == "paid"))}
    posted = {txn: int(total) for txn, total in conn.execute(
        select(ledger_entry.c.txn, func.sum(ledger_entry.c.amount)).where(
            ledger_entry.c.txn.startswith("pay:"), ledger_entry.c.amount > 0).group_by(
            ledger_entry.c.txn))}
    return [f"{txn}: paid {paid.get(txn)}, ledger {posted.get(txn)}"
            for txn in sorted(set(paid) | set(posted)) if paid.get(txn) != posted.get(txn)]


def _clearing_posted(conn: Connection) -> list[str]:
    """Closed months' payments, payments between regions and prepayments are posted
    exactly as the clearing tables say, and nothing else under their names."""
    expected: dict[str, dict[str, int]] = {}
    closed = select(clearing_month.c.month).where(clearing_month.c.status == "closed")
    for r in conn.execute(select(clearing_institution).where(
            clearing_institution.c.month.in_(closed))).mappings():
        expected[f"clr:{r['month']}:{r['fixmedins_code']}"] = dict(rules.clearing_entries(
            r["fixmedins_code"], r["region"], r["fund"] + r["acct"], r["prepaid"]))
    for r in conn.execute(select(clearing_region).where(
            clearing_region.c.month.in_(closed))).mappings():
        expected[f"ir:{r['month']}:{r['insured']}:{r['treatment']}"] = dict(
            rules.region_entries(r["insured"], r["treatment"], r["amount"]))
    for r in conn.execute(select(prepayment, institution.c.pool_area).join(
            institution, institution.c.fixmedins_code == prepayment.c.fixmedins_code)
            ).mappings():
        expected[f"pre:{r['month']}:{r['fixmedins_code']}"] = dict(rules.prepayment_entries(
            r["pool_area"], r["fixmedins_code"], r["amount"]))
    actual: dict[str, dict[str, int]] = defaultdict(dict)
    prefixes = (ledger_entry.c.txn.startswith(p) for p in ("clr:", "ir:", "pre:"))
    for txn, account, amount in conn.execute(select(
            ledger_entry.c.txn, ledger_entry.c.account, ledger_entry.c.amount).where(
            or_(*prefixes))):
        actual[txn][account] = amount
    return [f"{txn}: ledger {sorted(actual.get(txn, {}).items())}, clearing "
            f"{sorted(expected.get(txn, {}).items())}"
            for txn in sorted(set(expected) | set(actual))
            if actual.get(txn, {}) != {k: v for k, v in expected.get(txn, {}).items() if v}]
