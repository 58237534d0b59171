"""The fund ledger's rules: which accounts a settlement moves, always summing to zero.

Entries are signed fen: positive is a debit, negative a credit; every posting (the
entries of one transaction) sums to zero. Accounts are named ``kind:owner[:detail]``:

- ``fund:<region>:<fund_pay_type>``  what a fund of an insured place paid (debit)
- ``personal:<region>``             the personal accounts of an insured place, drawn (debit)
- ``payable:<fixmedins_code>``      owed to an institution for its settlements (credit)
- ``person:<psn_no>``               owed to a person: an approved reimbursement (credit)
- ``interregional:<from>:<to>``     owed by insured place ``from`` to treatment place ``to``
                                    (credit in ``from``'s books)
- ``receivable:<to>:<from>``        the same debt as ``to`` sees it (debit)
- ``prepaid:<fixmedins_code>``      paid to an institution in advance, not yet cleared
- ``cash:<region>``                 the fund's bank account of a region (credit: paid out)
- ``recoverable:<fixmedins_code>``  recovered from an institution by a supervision case,
                                    not yet netted off in its clearing (debit)
- ``recovered:<region>``            what the fund of a region recovered (credit: the fund's
                                    spending, less)
- ``advance:<from>:<to>``           the advance fund insured place ``from`` placed with
                                    treatment place ``to`` (an asset of ``from``: debit)
- ``advanced:<to>:<from>``          the same fund as ``to`` holds it (owed back: credit)
- ``interest:<to>:<from>``          interest earned by ``to`` on ``from``'s advance fund
                                    (``to``'s income: credit; never ``from``'s)

A settlement at home: funds and personal accounts debited, the institution's payable
credited. Away from home, the insured place owes the treatment place (``interregional``)
and the treatment place owes its institution, linked by ``receivable``. A reimbursement
is owed to the person; paying it, or paying an institution, moves ``cash``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from yibao.domain.states import SettlementKind

Entry = tuple[str, int]  # account, signed fen
# what ``settlement_entries`` reads of a settlement row and of each of its fund lines
SETTLEMENT_FIELDS = ("kind", "psn_no", "fixmedins_code", "insuplc_admdvs", "mdtrtarea_admvs",
                     "acct_pay")
FUND_FIELDS = ("fund_pay_type", "fund_payamt")
# A posting's transaction name is a kind's prefix and its key (``txn``): ``ledger verify``
# reads one prefix at a time, and a retried posting finds its name taken.
TXN_SETTLEMENT = "setl:"  # setl:<setl_id>
TXN_PAYOUT = "pay:"  # pay:<order_id>, a paid reimbursement
TXN_CLEARING = "clr:"  # clr:<month>:<fixmedins_code>
TXN_REGION = "ir:"  # ir:<month>:<insured place>:<treatment place>
TXN_PREPAY = "pre:"  # pre:<month>:<fixmedins_code>[:<proposal_id> (by need, approved)]
TXN_ADVANCE = "adv:"  # adv:<advance_id>, an advance (or top-up) between regions
TXN_INTEREST = "int:"  # int:<month>:<insured place>:<treatment place>
TXN_RECOVERY = "rcv:"  # rcv:<case_id>, a supervision case's recovery (issue 20)


def txn(prefix: str, *key: str) -> str:
    """A posting's transaction name: ``txn(TXN_CLEARING, "2026-10", "H1")``."""
    return prefix + ":".join(key)


def settlement_entries(
    row: Mapping[Any, Any], funds: Sequence[Mapping[Any, Any]]
) -> list[Entry]:
    """The posting of a settlement, cancellation (negative amounts) or reimbursement."""
    insured = str(row["insuplc_admdvs"])
    treated = str(row["mdtrtarea_admvs"]) or insured
    entries: list[Entry] = [
        (f"fund:{insured}:{f['fund_pay_type']}", int(str(f["fund_payamt"]))) for f in funds
    ]
    acct_pay = int(str(row["acct_pay"]))
    if acct_pay:
        entries.append((f"personal:{insured}", acct_pay))
    owed = sum(amount for _, amount in entries)
    if row["kind"] == SettlementKind.CLAIM:
        entries.append((f"person:{row['psn_no']}", -owed))
        return _nonzero(entries)
    if treated != insured:
        entries += [(f"interregional:{insured}:{treated}", -owed),
                    (f"receivable:{treated}:{insured}", owed)]
    entries.append((f"payable:{row['fixmedins_code']}", -owed))
    return _nonzero(entries)


def payout_entries(region: str, payee_account: str, amount: int) -> list[Entry]:
    """Money leaves the fund's bank: to a person (``person:``) or an institution."""
    return _nonzero([(payee_account, amount), (f"cash:{region}", -amount)])


def prepayment_entries(region: str, code: str, amount: int) -> list[Entry]:
    return _nonzero([(f"prepaid:{code}", amount), (f"cash:{region}", -amount)])


def clearing_entries(code: str, region: str, owed: int, prepaid: int,
                     recovered: int = 0) -> list[Entry]:
    """A month's clearing payment to an institution: what it was owed, less what was
    prepaid and what supervision recovered from it, leaves the treatment place's bank."""
    assert recovered >= 0, recovered
    return _nonzero([(f"payable:{code}", owed), (f"prepaid:{code}", -prepaid),
                     (f"recoverable:{code}", -recovered),
                     (f"cash:{region}", prepaid + recovered - owed)])


def recovery_entries(region: str, code: str, amount: int) -> list[Entry]:
    """A supervision case recovers ``amount`` from the institution: owed back to the
    fund of ``region`` until the institution's next clearing deducts it."""
    assert amount > 0, amount
    return _nonzero([(f"recoverable:{code}", amount), (f"recovered:{region}", -amount)])


def region_entries(insured: str, treatment: str, amount: int, drawn: int = 0) -> list[Entry]:
    """The insured place pays the treatment place in full (bank charges are never
    deducted from the amount: they are not the fund's): ``drawn`` of it from the
    advance fund the treatment place holds, the rest from the insured place's bank."""
    assert drawn >= 0 and (drawn == 0 or drawn <= amount), (amount, drawn)
    paid = amount - drawn
    return _nonzero([(f"interregional:{insured}:{treatment}", amount),
                     (f"advance:{insured}:{treatment}", -drawn),
                     (f"cash:{insured}", -paid), (f"cash:{treatment}", paid),
                     (f"advanced:{treatment}:{insured}", drawn),
                     (f"receivable:{treatment}:{insured}", -amount)])


def advance_entries(insured: str, treatment: str, amount: int) -> list[Entry]:
    """The insured place places (or tops up) its advance fund with the treatment place:
    the money moves bank to bank and stays the insured place's until drawn."""
    assert amount > 0, amount
    return _nonzero([(f"advance:{insured}:{treatment}", amount), (f"cash:{insured}", -amount),
                     (f"cash:{treatment}", amount),
                     (f"advanced:{treatment}:{insured}", -amount)])


def interest_entries(insured: str, treatment: str, amount: int) -> list[Entry]:
    """A month's interest on the advance fund: earned in the treatment place's bank and
    its income; the insured place's accounts do not move."""
    assert amount >= 0, amount
    return _nonzero([(f"cash:{treatment}", amount),
                     (f"interest:{treatment}:{insured}", -amount)])


def balanced(entries: Iterable[Entry]) -> bool:
    return sum(amount for _, amount in entries) == 0


def _nonzero(entries: list[Entry]) -> list[Entry]:
    """One entry per account (two fund lines of one fund add up), zeros dropped."""
    totals: dict[str, int] = {}
    for account, amount in entries:
        totals[account] = totals.get(account, 0) + amount
    out = [(account, amount) for account, amount in totals.items() if amount]
    assert balanced(out), out
    return out
