"""The advance fund between regions, and prepayment by need (docs/clearing.md).

Advance fund (the 2022 notice, 先预付后清算): an insured place R places money with a
treatment place T (``record``); when a month closes, what R owes T for it is drawn from
the fund first and only the rest is paid bank to bank (``draw_at_close``); the interest
the fund earns over the month is T's income (``accrue_interest``); ``positions`` says
which funds run low.

Prepayment by need (2020 epidemic measures): a finance operator proposes an
amount for a designated institution with a reason; an approver, another operator,
approves it (posted at once as a prepayment, netted off in the month's clearing) or
rejects it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection, RowMapping

from yibao.analytics.extract import month_bounds
from yibao.domain import advance as rules
from yibao.domain import ledger as ledger_rules
from yibao.domain.errors import Refused
from yibao.domain.policy import Policy, advance_terms
from yibao.domain.roles import check_may_approve_proposal
from yibao.services import audit, ledger
from yibao.services.context import Call
from yibao.store import advances, institutions


@dataclass(frozen=True, slots=True)
class Recorded:
    """An advance recorded: its id, and the fund's balance after it (fen)."""

    advance_id: str
    insured: str
    treatment: str
    amount: int
    balance: int


def record(call: Call, insured: str, treatment: str, amount: int, note: str = "") -> Recorded:
    """R places (or tops up) its advance fund with T: a balanced posting ``adv:<id>``."""
    rules.check_pair(insured, treatment)
    rules.check_amount(amount, "an advance")
    conn = call.conn
    advances.lock_pair(conn, insured, treatment, call.now, create=True)
    advance_id = call.ids.new("ADV")
    advances.add(conn, dict(advance_id=advance_id, insured=insured, treatment=treatment,
                            amount=amount, note=note.strip()[:200], created_at=call.now,
                            actor=call.actor.name))
    ledger.post(conn, ledger_rules.txn(ledger_rules.TXN_ADVANCE, advance_id), "advance",
                ledger_rules.advance_entries(insured, treatment, amount), call.now)
    audit.action(call, "advance.record", advance_id, insured=insured, treatment=treatment,
                 amount=amount)
    return Recorded(advance_id, insured, treatment, amount,
                    advances.balance(conn, insured, treatment))


def preview_draws(conn: Connection, month: str) -> None:
    """A run of ``month``: each region pair's statement shows the fund as it stands now
    and what the month would draw from it (fixed when the month closes)."""
    for row in advances.region_rows(conn, month):
        before = advances.balance(conn, row["insured"], row["treatment"])
        advances.set_draw(conn, month, row["insured"], row["treatment"], before,
                          rules.drawn(row["amount"], before))


def draw_at_close(call: Call, month: str) -> list[RowMapping]:
    """The month's amounts between regions, each with what it draws from the pair's fund
    (the pair locked, its balance read under the lock): the rows the close posts."""
    conn = call.conn
    for row in advances.region_rows(conn, month):
        insured, treatment = row["insured"], row["treatment"]
        before = 0
        if advances.lock_pair(conn, insured, treatment, call.now, create=False):
            before = advances.balance(conn, insured, treatment)
        advances.set_draw(conn, month, insured, treatment, before,
                          rules.drawn(row["amount"], before))
    return advances.region_rows(conn, month)


def accrue_interest(call: Call, month: str) -> dict[tuple[str, str], int]:
    """Each fund's interest over ``month`` (each day's closing balance, the insured
    place's terms), recorded and posted as the treatment place's income."""
    conn = call.conn
    begin, end = month_bounds(month)
    days = calendar.monthrange(begin.year, begin.month)[1]
    earned: dict[tuple[str, str], int] = {}
    for insured, treatment in advances.pairs(conn):
        advances.lock_pair(conn, insured, treatment, call.now, create=False)
        terms = _terms(call.policies, insured, end.date() - timedelta(days=1))
        held = rules.balance_days(
            advances.balance(conn, insured, treatment, before=begin),
            ((at.day, amount) for at, amount in advances.moves(conn, insured, treatment,
                                                                 begin, end)), days)
        amount = rules.interest(max(held, 0), terms)
        advances.add_interest(conn, dict(month=month, insured=insured, treatment=treatment,
                                         balance_days=max(held, 0),
                                         rate=str(terms.interest_rate),
                                         day_count=terms.day_count, amount=amount))
        ledger.post(conn, ledger_rules.txn(ledger_rules.TXN_INTEREST, month, insured,
                                           treatment), "interest",
                    ledger_rules.interest_entries(insured, treatment, amount), call.now)
        earned[(insured, treatment)] = amount
    return earned


def _terms(policies: tuple[Policy, ...], insured: str, day: date) -> rules.Terms:
    return advance_terms(policies, region=insured, day=day) or rules.NO_TERMS


@dataclass(frozen=True, slots=True)
class Position:
    """A fund as the finance office watches it: balance, the recent months' amounts it
    is measured against, the threshold and whether it runs low (fen)."""

    insured: str
    treatment: str
    balance: int
    recent: tuple[int, ...]
    threshold: int
    low: bool


def positions(conn: Connection, policies: tuple[Policy, ...], day: date) -> list[Position]:
    """Every advance fund, with its low warning (the insured place's ``[advance]``)."""
    out = []
    for insured, treatment in advances.pairs(conn):
        terms = _terms(policies, insured, day)
        recent = tuple(advances.recent_amounts(conn, insured, treatment, terms.average_months))
        balance = advances.balance(conn, insured, treatment)
        threshold = rules.low_threshold(recent, terms)
        out.append(Position(insured, treatment, balance, recent, threshold,
                            rules.is_low(balance, threshold)))
    return out


def low(conn: Connection, policies: tuple[Policy, ...], day: date) -> list[Position]:
    return [p for p in positions(conn, policies, day) if p.low]


# ---------------------------------------------------------------- prepayment by need


def propose(call: Call, code: str, amount: int, reason: str) -> int:
    """A finance operator proposes a prepayment by need; its proposal_id."""
    rules.check_amount(amount, "a prepayment")
    text = rules.check_reason(reason)
    if institutions.find(call.conn, code) is None:
        raise Refused("E-ADM-001", code[:30])
    proposal_id = advances.propose(call.conn, dict(
        fixmedins_code=code, amount=amount, reason=text, status=rules.PROPOSED,
        proposed_by=call.actor.name, proposed_at=call.now))
    audit.action(call, "prepayment.propose", str(proposal_id), fixmedins_code=code,
                 amount=amount)
    return proposal_id


def approve(call: Call, proposal_id: int, note: str = "") -> RowMapping:
    """An approver (not the proposer) approves: posted at once as a prepayment of the
    current month, netted off in that month's clearing. Approved once: a second
    approval, even a concurrent one, is refused (E-ADV-004) and posts nothing."""
    from yibao.services.clearing import require_open

    conn = call.conn
    row = _open_proposal(call, proposal_id)
    check_may_approve_proposal(call.actor.name, row["proposed_by"])
    month = f"{call.now:%Y-%m}"
    require_open(conn, month)
    found = institutions.find(conn, row["fixmedins_code"])
    assert found is not None, row["fixmedins_code"]  # a foreign key
    advances.decide(conn, proposal_id, dict(
        status=rules.APPROVED, month=month, decided_by=call.actor.name,
        decided_at=call.now, decision_note=note.strip()[:200]))
    ledger.post(conn, proposal_txn(month, row["fixmedins_code"], proposal_id), "prepay",
                ledger_rules.prepayment_entries(found.pool_area, row["fixmedins_code"],
                                                row["amount"]), call.now)
    audit.action(call, "prepayment.approve", str(proposal_id),
                 fixmedins_code=row["fixmedins_code"], amount=row["amount"], month=month)
    decided = advances.proposal(conn, proposal_id)
    assert decided is not None
    return decided


def reject(call: Call, proposal_id: int, note: str = "") -> RowMapping:
    """An approver rejects a proposal: nothing is paid."""
    conn = call.conn
    row = _open_proposal(call, proposal_id)
    advances.decide(conn, proposal_id, dict(
        status=rules.REJECTED, decided_by=call.actor.name, decided_at=call.now,
        decision_note=note.strip()[:200]))
    audit.action(call, "prepayment.reject", str(proposal_id),
                 fixmedins_code=row["fixmedins_code"], amount=row["amount"])
    decided = advances.proposal(conn, proposal_id)
    assert decided is not None
    return decided


def _open_proposal(call: Call, proposal_id: int) -> RowMapping:
    row = advances.proposal(call.conn, proposal_id, lock=True)
    if row is None:
        raise Refused("E-ADV-003", f"proposal {proposal_id}")
    rules.check_decidable(str(proposal_id), row["status"], row["decided_by"])
    return row


def proposal_txn(month: str, code: str, proposal_id: int) -> str:
    """The posting of an approved prepayment by need: ``pre:<month>:<code>:E<id>``."""
    return ledger_rules.txn(ledger_rules.TXN_PREPAY, month, code, f"E{proposal_id}")


def proposals(conn: Connection) -> list[RowMapping]:
    return advances.proposals(conn)


def recent_advances(conn: Connection) -> list[RowMapping]:
    return advances.advances(conn)
