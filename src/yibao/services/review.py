"""Reviewing a manual-reimbursement claim: a named operator starts the review, rejects
it with reasons, or approves it, all or some lines; the amounts are those of the same
engine, policy and catalogue as a real-time settlement of the same care on its date.

On approval the claim's visit is settled (``settlement.settle_visit`` with ``manual``)
under a call for the care itself (``Call.for_care``: its institution and its moment, the
claim as the origin), under the person's lock: the deductible and cap room a real-time
settlement used are never used again, and later settlements see what the reimbursement
used. Away from home what the care rests on is checked again (services/bills.py).
Separation of duties (domain/roles.py), from the claim's steps: whoever submitted or
reviewed a claim does not approve it; an amount above the second-approval limit is first
approved (a step ``first_approved``, the claim stays under review, the computation is
rolled back) and then approved by a second, different approver. An approved amount
becomes a payment order (services/payments.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, select, update

from yibao.domain import roles
from yibao.domain import trust as trust_rules
from yibao.domain.claims import FIRST_APPROVED, Action, ClaimStatus
from yibao.domain.codes import VisitClass
from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_yuan
from yibao.services import bills, claims, fees, payments, settlement
from yibao.services.context import Call
from yibao.services.persons import lock_person
from yibao.store.schema import claim_step, fee_line

EXCLUDED = "excluded"  # a fee line the reviewer did not accept (fee_line.status)


@dataclass(frozen=True, slots=True)
class Decision:
    """An approver's decision: the lines left out (feedetl_sn → reason: partly
    approved), the step's note, the amount (fen) above which a second, different
    approver approves, and whether the approver confirmed with the person a window's
    account that is not the registered payee."""

    excluded: dict[str, str]
    note: str = ""
    second_approval_above: int = roles.SECOND_APPROVAL_ABOVE_FEN
    payee_confirmed: bool = False


@dataclass(frozen=True, slots=True)
class Approval:
    """An approval's outcome: approved, partly_approved, or first_approved (a second
    approver is needed); the amount the fund pays (fen)."""

    status: str
    amount: int


def start(call: Call, claim_id: str) -> None:
    """Start reviewing a submitted claim."""
    claims.move(call, claims.locked(call.conn, claim_id), Action.REVIEW, "review started")


def reject(call: Call, claim_id: str, reason: str) -> None:
    row = claims.locked(call.conn, claim_id)
    claims.require(row, Action.REJECT)
    if not reason.strip():
        raise Refused("E-CLM-006", "a rejection needs its reasons")
    claims.move(call, row, Action.REJECT, reason)


def approve(call: Call, claim_id: str, decision: Decision) -> Approval:
    """Compute and record the reimbursement; lines in ``decision.excluded`` are left out
    (partly approved). Creates the payment order. Not by the claim's submitter or
    reviewer; above ``decision.second_approval_above`` (fen) the first approval only
    records itself (the computation is rolled back) and a second, different approver
    approves the same lines. A window's account other than the registered payee is paid
    only when each approver confirms it (``payee_confirmed``; E-ADM-007 otherwise)."""
    conn, excluded = call.conn, decision.excluded
    row = claims.locked(conn, claim_id)
    claims.require(row, Action.APPROVE)
    note = _payee_confirmation(row, decision.payee_confirmed, decision.note)
    actors = _actors(conn, claim_id)
    first_approvers = actors.get(FIRST_APPROVED, [])
    first = first_approvers[-1] if first_approvers else None
    roles.check_may_approve(call.actor.name, submitters=[row["applicant"],
                                                         *actors.get(ClaimStatus.SUBMITTED, [])],
                            reviewers=actors.get(ClaimStatus.UNDER_REVIEW, []),
                            first_approver=first)
    if first is not None and excluded:
        raise Refused("E-CLM-006", f"the second approval confirms {first}'s; lines are "
                      "left out at the first approval (or reject the claim)")
    lock_person(conn, row["psn_no"])  # before filings are read: a cancellation waits
    visit = bills.care_of(conn, row["mdtrt_id"])
    care = call.for_care(bills.site_of(conn, row["fixmedins_code"]),
                         at=visit["endtime"] or visit["begntime"], ref=claim_id)
    # checked again: a filing or declaration may have been cancelled, or the
    # relationship changed
    basis = bills.care_basis(conn, row["psn_no"], visit, row["trt_dcla_detl_sn"],
                             care.institution)
    _exclude(conn, row["mdtrt_id"], excluded)
    req = settlement.SettleRequest(
        psn_no=row["psn_no"], mdtrt_id=row["mdtrt_id"], med_type="", insutype="",
        credential=None, use_account=False, invono=row["invono"], manual=True,
        manual_basis=basis, booked_at=call.now)
    reasons = "; ".join(f"{sn}: {why}" for sn, why in sorted(excluded.items()))
    trial = conn.begin_nested()  # rolled back when a second approver is needed
    try:
        outcome = settlement.settle_visit(care, req, VisitClass(visit["visit_class"]))
    except BaseException:
        trial.rollback()
        raise
    amount = outcome.row["fund_pay_sumamt"]
    limit = decision.second_approval_above
    if roles.needs_second_approval(amount, first, limit):
        trial.rollback()
        above = f"{fen_to_yuan(amount)} yuan is above {fen_to_yuan(limit)}"
        claims.move(call, row, Action.FIRST_APPROVE, "; ".join(p for p in (
            note, reasons, f"{above}: a second, different approver approves") if p))
        return Approval(FIRST_APPROVED, amount)
    trial.commit()
    action = Action.APPROVE_PARTLY if _has_excluded(conn, row["mdtrt_id"]) else Action.APPROVE
    second = f"second approval after {first}" if first else ""
    status = claims.move(call, row, action, "; ".join(p for p in (note, reasons, second) if p),
                         approved_amount=amount, setl_id=outcome.row["setl_id"])
    if amount > 0:
        payments.order(call, row, amount)
    return Approval(status.value, amount)


def _payee_confirmation(row: RowMapping, confirmed: bool, note: str) -> str:
    """The step's note: with the approver's confirmation of a window's account that is
    not the registered payee (refused without it)."""
    if row["registered_payee_id"] is None:
        return note
    account = trust_rules.masked(row["bank_account"])
    if not confirmed:
        raise Refused("E-ADM-007", f"the claim pays {account}, not the registered payee: "
                      "confirm with payee_confirmed after checking it with the person")
    return "; ".join(p for p in (note, f"payee {account} (not the registered one) "
                                 "confirmed") if p)


def _actors(conn: Connection, claim_id: str) -> dict[str, list[str]]:
    """Who took each step of a claim (status → actors, oldest first)."""
    steps = conn.execute(select(claim_step.c.status, claim_step.c.actor).where(
        claim_step.c.claim_id == claim_id).order_by(claim_step.c.id))
    actors: dict[str, list[str]] = {}
    for status, actor in steps:
        actors.setdefault(status, []).append(actor)
    return actors


def _has_excluded(conn: Connection, mdtrt_id: str) -> bool:
    return conn.execute(select(fee_line.c.id).where(
        fee_line.c.mdtrt_id == mdtrt_id, fee_line.c.status == EXCLUDED).limit(1)
    ).first() is not None


def _exclude(conn: Connection, mdtrt_id: str, excluded: dict[str, str]) -> None:
    for sn, why in excluded.items():
        if not why.strip():
            raise Refused("E-CLM-006", f"feedetl_sn {sn}: a reason is needed")
        done = conn.execute(update(fee_line).where(
            fee_line.c.mdtrt_id == mdtrt_id, fee_line.c.feedetl_sn == sn,
            fee_line.c.status == fees.ACTIVE).values(status=EXCLUDED)).rowcount
        if done != 1:
            raise Refused("E-CLM-006", f"feedetl_sn {sn} is not a line of this claim")
