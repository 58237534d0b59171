"""The fund ledger: postings written in the transaction of the change they record, and
``verify``, which proves that the ledger and the settlements agree to the fen.

Balances are never stored: an account's balance is the sum of its entries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    and_,
    case,
    func,
    insert,
    select,
    union,
)

from yibao.domain import ledger as rules
from yibao.domain.states import SettlementKind
from yibao.store.lean import Lean
from yibao.store.schema import (
    account_entry,
    advance_interest,
    case_conclusion,
    clearing_institution,
    clearing_month,
    clearing_region,
    institution,
    ledger_entry,
    payment_order,
    person,
    prepayment,
    prepayment_proposal,
    region_advance,
)
from yibao.store.schema import settlement as settlement_table
from yibao.store.schema import settlement_fund as fund_table

_INSERT = Lean(insert(ledger_entry))
PAGE_SIZE = 2_000  # rows verify reads at a time
_SETTLEMENTS = select(settlement_table.c.setl_id, *(
    settlement_table.c[name] for name in rules.SETTLEMENT_FIELDS))
_FUNDS = select(fund_table.c.setl_id, *(fund_table.c[name] for name in rules.FUND_FIELDS))
_CLOSED = select(clearing_month.c.month).where(clearing_month.c.status == "closed")


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
    return rules.txn(rules.TXN_SETTLEMENT, setl_id)


def _insert(conn: Connection, rows: list[dict[str, object]]) -> None:
    if rows:
        _INSERT.run(conn, rows)


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
#
# Verify reads the settlements (and the paid payment orders) in pages of ``page_size``
# rows in key order, and for each page the fund lines and postings whose keys fall in the
# page's range (just after the previous page's last key, through its own last key; the
# last page every key beyond): memory stays bounded whatever the number of rows, and a
# posting whose key has no record still falls in exactly one page. The database compares
# the keys, in its own collation, so a page's ranges in the three tables agree; Python
# only groups equal keys. The clearing kinds are read one month at a time, in the same
# way. ``ledger verify`` reads in one snapshot (``Database.read(snapshot=True)``).


@dataclass(frozen=True, slots=True)
class Tally:
    """How many rows, and the amount they carry (fen)."""

    count: int
    amount: int


@dataclass(frozen=True, slots=True)
class Extent:
    """What ``verify`` compares: the ledger (its postings, their entries, the accounts
    they touch and the fen they debit) and the records the postings must match: the
    settlements by kind (what funds and personal accounts owe for them), the places
    whose personal accounts are compared, paid payment orders, the closed months'
    payments to institutions and between regions, the prepayments."""

    postings: int
    entries: int
    accounts: int
    debited: int
    settlements: dict[SettlementKind, Tally]
    account_places: int
    payouts: Tally
    closed_months: int
    institution_payments: Tally
    region_payments: Tally
    prepayments: Tally


def extent(conn: Connection) -> Extent:
    """How much ``verify`` reads, counted in the same snapshot (aggregates only)."""
    amount = ledger_entry.c.amount
    postings, entries, accounts, debited = conn.execute(select(
        func.count(func.distinct(ledger_entry.c.txn)), func.count(),
        func.count(func.distinct(ledger_entry.c.account)),
        func.coalesce(func.sum(case((amount > 0, amount), else_=0)), 0))).one()
    owed = settlement_table.c.fund_pay_sumamt + settlement_table.c.acct_pay
    by_kind = {SettlementKind(kind): Tally(count, int(total)) for kind, count, total in
               conn.execute(select(settlement_table.c.kind, func.count(), func.sum(owed))
                            .group_by(settlement_table.c.kind))}
    places = conn.execute(select(func.count(func.distinct(person.c.insuplc_admdvs))).join_from(
        account_entry, person, person.c.psn_no == account_entry.c.psn_no)).scalar_one()
    closed = clearing_institution.c.month.in_(_CLOSED)
    return Extent(
        postings, entries, accounts, int(debited),
        {kind: by_kind.get(kind, Tally(0, 0)) for kind in SettlementKind}, places,
        _tally(conn, payment_order.c.amount, payment_order.c.status == "paid"),
        conn.execute(select(func.count()).select_from(_CLOSED.subquery())).scalar_one(),
        _tally(conn, clearing_institution.c.fund + clearing_institution.c.acct, closed),
        _tally(conn, clearing_region.c.amount, clearing_region.c.month.in_(_CLOSED)),
        _tally(conn, prepayment.c.amount, None))


def _tally(conn: Connection, amount: ColumnElement[int],
           where: ColumnElement[bool] | None) -> Tally:
    query = select(func.count(), func.coalesce(func.sum(amount), 0))
    if where is not None:
        query = query.where(where)
    count, total = conn.execute(query).one()
    return Tally(count, int(total))


def verify(conn: Connection, *, page_size: int = PAGE_SIZE) -> list[str]:
    """Every problem found; an empty list means the ledger and the records agree."""
    return list(problems(conn, page_size=page_size))


def problems(conn: Connection, *, page_size: int = PAGE_SIZE) -> Iterator[str]:
    """``verify``'s problems one at a time: settlement postings in order of setl_id,
    payouts in order of order_id, clearing postings by kind and month."""
    assert page_size > 0, page_size
    yield from _unbalanced(conn)
    yield from _settlements_posted(conn, page_size)
    yield from _personal_accounts(conn)
    yield from _payouts(conn, page_size)
    yield from _advances(conn, page_size)
    yield from _clearing_posted(conn)
    yield from _recoveries(conn, page_size)


class _Page(NamedTuple):
    rows: Sequence[RowMapping]
    after: str | None  # the page covers keys above this one (None: from the first) ...
    through: str | None  # ... through this one (None: to the last)


def _pages(conn: Connection, query: Select[Any], key: Column[str],
           page_size: int) -> Iterator[_Page]:
    """``query``'s rows in pages in order of ``key``; the pages' ranges cover every key."""
    after = None
    while True:
        page = query.order_by(key).limit(page_size)
        if after is not None:
            page = page.where(key > after)
        rows = conn.execute(page).mappings().all()
        through = rows[-1][key.name] if len(rows) == page_size else None
        yield _Page(rows, after, through)
        if through is None:
            return
        after = through


def _keyed(column: Column[str], prefix: str, after: str | None,
           through: str | None) -> ColumnElement[bool]:
    """``column`` is ``prefix`` and a key above ``after`` and through ``through``."""
    bounds = [column.startswith(prefix)] if prefix else []
    bounds.append(column > prefix + after if after is not None else column >= prefix)
    if through is not None:
        bounds.append(column <= prefix + through)
    return and_(*bounds)


def _postings(conn: Connection, where: ColumnElement[bool]) -> dict[str, dict[str, int]]:
    """Account and amount by posting, of the entries ``where`` selects."""
    postings: dict[str, dict[str, int]] = defaultdict(dict)
    for txn, account, amount in conn.execute(select(
            ledger_entry.c.txn, ledger_entry.c.account, ledger_entry.c.amount).where(where)):
        postings[txn][account] = amount
    return postings


def _unbalanced(conn: Connection) -> list[str]:
    rows = conn.execute(select(ledger_entry.c.txn, func.sum(ledger_entry.c.amount)).group_by(
        ledger_entry.c.txn).having(func.sum(ledger_entry.c.amount) != 0))
    return [f"posting {txn} sums to {total}, not 0" for txn, total in rows]


def _settlements_posted(conn: Connection, page_size: int) -> Iterator[str]:
    """Each settlement's posting is exactly what its row and fund lines give, and no
    posting of a settlement exists without one."""
    for page in _pages(conn, _SETTLEMENTS, settlement_table.c.setl_id, page_size):
        funds: dict[str, list[RowMapping]] = defaultdict(list)
        for f in conn.execute(_FUNDS.where(
                _keyed(fund_table.c.setl_id, "", page.after, page.through))).mappings():
            funds[f["setl_id"]].append(f)
        expected = {settlement_txn(row["setl_id"]): dict(rules.settlement_entries(
            row, funds[row["setl_id"]])) for row in page.rows}
        actual = _postings(conn, _keyed(ledger_entry.c.txn, rules.TXN_SETTLEMENT, page.after,
                                        page.through))
        for txn in sorted(expected.keys() | actual.keys()):
            if txn not in expected:
                yield f"{txn}: posted, but no such settlement"
            elif actual.get(txn, {}) != expected[txn]:
                yield (f"{txn}: ledger {sorted(actual.get(txn, {}).items())} but the "
                       f"settlement gives {sorted(expected[txn].items())}")


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


def _payouts(conn: Connection, page_size: int) -> Iterator[str]:
    """Each paid payment order's posting pays its amount, and no payout posting exists
    without a paid order."""
    paid_orders = select(payment_order.c.order_id, payment_order.c.amount).where(
        payment_order.c.status == "paid")
    for page in _pages(conn, paid_orders, payment_order.c.order_id, page_size):
        paid = {rules.txn(rules.TXN_PAYOUT, r["order_id"]): r["amount"] for r in page.rows}
        posted = {txn: int(total) for txn, total in conn.execute(
            select(ledger_entry.c.txn, func.sum(ledger_entry.c.amount)).where(
                _keyed(ledger_entry.c.txn, rules.TXN_PAYOUT, page.after, page.through),
                ledger_entry.c.amount > 0).group_by(ledger_entry.c.txn))}
        yield from (f"{txn}: paid {paid.get(txn)}, ledger {posted.get(txn)}"
                    for txn in sorted(paid.keys() | posted.keys())
                    if paid.get(txn) != posted.get(txn))


def _clearing_posted(conn: Connection) -> Iterator[str]:
    """Closed months' payments, payments between regions and prepayments are posted
    exactly as the clearing tables say, and nothing else under their names; one kind and
    one month at a time (the month's postings, and any of a month with no clearing that
    sorts between it and the next)."""
    months = list(conn.scalars(union(
        select(clearing_month.c.month), select(prepayment.c.month),
        select(prepayment_proposal.c.month).where(prepayment_proposal.c.month.is_not(None)))
        .order_by("month")))
    for prefix, expected_of in ((rules.TXN_CLEARING, _cleared),
                                (rules.TXN_REGION, _between_regions),
                                (rules.TXN_PREPAY, _prepaid),
                                (rules.TXN_INTEREST, _interest)):
        for month, after, through in zip(months or [None], [None, *months[1:]],
                                         [*months[1:], None], strict=True):
            expected = expected_of(conn, month) if month else {}
            actual = _postings(conn, _keyed(ledger_entry.c.txn, prefix, after, through))
            yield from (f"{txn}: ledger {sorted(actual.get(txn, {}).items())}, clearing "
                        f"{sorted(expected.get(txn, {}).items())}"
                        for txn in sorted(expected.keys() | actual.keys())
                        if actual.get(txn, {}) != expected.get(txn, {}))


def _cleared(conn: Connection, month: str) -> dict[str, dict[str, int]]:
    return {rules.txn(rules.TXN_CLEARING, r["month"], r["fixmedins_code"]): dict(
        rules.clearing_entries(r["fixmedins_code"], r["region"], r["fund"] + r["acct"],
                               r["prepaid"], r["recovered"]))
        for r in conn.execute(select(clearing_institution).where(
            clearing_institution.c.month == month,
            clearing_institution.c.month.in_(_CLOSED))).mappings()}


def _between_regions(conn: Connection, month: str) -> dict[str, dict[str, int]]:
    return {rules.txn(
        rules.TXN_REGION, r["month"], r["insured"], r["treatment"]): dict(rules.region_entries(
        r["insured"], r["treatment"], r["amount"], r["drawn"]))
        for r in conn.execute(select(clearing_region).where(
            clearing_region.c.month == month,
            clearing_region.c.month.in_(_CLOSED))).mappings()}


def _prepaid(conn: Connection, month: str) -> dict[str, dict[str, int]]:
    """The month's prepayments, and the prepayments by need approved for it."""
    expected = {rules.txn(rules.TXN_PREPAY, r["month"], r["fixmedins_code"]): dict(
        rules.prepayment_entries(r["pool_area"], r["fixmedins_code"], r["amount"]))
        for r in conn.execute(select(prepayment, institution.c.pool_area).join(
            institution, institution.c.fixmedins_code == prepayment.c.fixmedins_code).where(
            prepayment.c.month == month)).mappings()}
    p = prepayment_proposal.c
    for r in conn.execute(select(p.proposal_id, p.fixmedins_code, p.amount,
                                 institution.c.pool_area).join(
            institution, institution.c.fixmedins_code == p.fixmedins_code).where(
            p.month == month, p.status == "approved")).mappings():
        expected[rules.txn(rules.TXN_PREPAY, month, r["fixmedins_code"],
                           f"E{r['proposal_id']}")] = dict(rules.prepayment_entries(
            r["pool_area"], r["fixmedins_code"], r["amount"]))
    return expected


def _interest(conn: Connection, month: str) -> dict[str, dict[str, int]]:
    return {rules.txn(rules.TXN_INTEREST, month, r["insured"], r["treatment"]): dict(
        rules.interest_entries(r["insured"], r["treatment"], r["amount"]))
        for r in conn.execute(select(advance_interest).where(
            advance_interest.c.month == month)).mappings()}


def _advances(conn: Connection, page_size: int) -> Iterator[str]:
    """Each advance between regions is posted as its row says, and no advance posting
    exists without a row."""
    for page in _pages(conn, select(region_advance), region_advance.c.advance_id, page_size):
        expected = {rules.txn(rules.TXN_ADVANCE, r["advance_id"]): dict(rules.advance_entries(
            r["insured"], r["treatment"], r["amount"])) for r in page.rows}
        actual = _postings(conn, _keyed(ledger_entry.c.txn, rules.TXN_ADVANCE, page.after,
                                        page.through))
        yield from (f"{txn}: ledger {sorted(actual.get(txn, {}).items())}, advance "
                    f"{sorted(expected.get(txn, {}).items())}"
                    for txn in sorted(expected.keys() | actual.keys())
                    if actual.get(txn, {}) != expected.get(txn, {}))


def _recoveries(conn: Connection, page_size: int) -> Iterator[str]:
    """Each supervision case's recovery is posted as its conclusion says, no recovery
    posting exists without one, and no institution had more netted off in its clearings
    than was recovered from it (``recoverable:`` never below zero)."""
    c = case_conclusion.c
    recovered = select(c.case_id, c.fixmedins_code, c.region, c.recovery).where(
        c.recovery > 0)
    for page in _pages(conn, recovered, c.case_id, page_size):
        expected = {rules.txn(rules.TXN_RECOVERY, r["case_id"]): dict(rules.recovery_entries(
            r["region"], r["fixmedins_code"], r["recovery"])) for r in page.rows}
        actual = _postings(conn, _keyed(ledger_entry.c.txn, rules.TXN_RECOVERY, page.after,
                                        page.through))
        yield from (f"{txn}: ledger {sorted(actual.get(txn, {}).items())}, case "
                    f"{sorted(expected.get(txn, {}).items())}"
                    for txn in sorted(expected.keys() | actual.keys())
                    if actual.get(txn, {}) != expected.get(txn, {}))
    yield from (f"{account}: {total} fen below zero: netted off more than was recovered"
                for account, total in sorted(balances(conn, "recoverable:").items())
                if total < 0)
