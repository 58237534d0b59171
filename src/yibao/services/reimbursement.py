"""Manual reimbursement (手工报销): a bill the person paid in full is recorded with its fee
details, applied for, reviewed by a named operator and computed by the same engine,
policy and catalogue as a real-time settlement of the same visit on its date.

A claim's visit is stored like any visit (status ``selfpaid``) at the institution of
care, its lines classified against that institution's catalogue on the day of care. On
approval the visit is settled with the institution, the clock and the year of the care
(``settlement.settle_visit`` with ``manual``), under the person's lock: the deductible
and cap room a real-time settlement used are never used again, and later settlements
see what the reimbursement used. Nothing blocks the person's card or certificate.
Away from home, a filing the claim names counts only as ``away.claim_basis`` says (as
real-time settlement of the same care would have, or filed after discharge), and injury
care needs a declaration as in real time (one made after the care counts), both when
the claim is applied for and when it is approved.

Statuses: eligible (a fault-period bill the HIS uploaded) → submitted → under_review →
approved | partly_approved | rejected; approved → paid when the bank pays. Separation of
duties (domain/roles.py), from the claim's steps: whoever submitted or reviewed a claim
does not approve it; an amount above the second-approval limit is first approved (a step
``first_approved``, the claim stays under review) and then approved by a second,
different approver; whoever approved a claim does not export its payment. An eligible
bill nobody applied for is withdrawn by the institution's 2601 of its 2901.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Subquery, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from yibao.domain import ledger as ledger_rules
from yibao.domain import roles
from yibao.domain import trust as trust_rules
from yibao.domain.codes import VisitClass, visit_class_of
from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_yuan
from yibao.domain.paging import Page
from yibao.domain.policy import Policy
from yibao.domain.text import neutralised_cell
from yibao.services import audit, away, fees, ledger, settlement, trust, visits
from yibao.services.context import (
    SOURCE_APP,
    SOURCE_INSTITUTION,
    Actor,
    ActorKind,
    Call,
    Caller,
    Entry,
    Ids,
    Institution,
    institution_of,
)
from yibao.services.persons import active_insurance, get_person, lock_person
from yibao.store.db import Failure, classify
from yibao.store.schema import (
    CLAIM_RELEASED,
    claim,
    claim_step,
    fault_period,
    fee_line,
    institution,
    payment_order,
)
from yibao.store.schema import settlement as settlement_table
from yibao.store.schema import visit as visit_table

ELIGIBLE = "eligible"
SUBMITTED = "submitted"
UNDER_REVIEW = "under_review"
APPROVED = "approved"
PARTLY_APPROVED = "partly_approved"
REJECTED = "rejected"
PAID = "paid"
WITHDRAWN = "withdrawn"  # the institution reversed its upload (2601 of the 2901)
FIRST_APPROVED = "first_approved"  # a step only: the claim stays under review
APPROVALS = (FIRST_APPROVED, APPROVED, PARTLY_APPROVED)  # steps naming an approver

REASONS = {  # claim.reason: why the bill was not settled in real time (≤ 20 characters)
    "fault": "the platform or the institution's link was down",
    "no_credential": "no card or certificate at hand",
    "after_discharge": "filed for care away from home after discharge",
    "not_networked": "the institution is not networked for direct settlement",
    "other": "other",
}
FAULT_HOURS_MAX = 7 * 24
FAULT_IN_FORCE, FAULT_CANCELLED = "in_force", "cancelled"  # a period's status (cancelled_at)
FAULT_STATUSES = (FAULT_IN_FORCE, FAULT_CANCELLED)
FAULTS_SHOWN = 200  # fault periods in a listing, claims in a period's view
EXCLUDED = "excluded"  # a fee line the reviewer did not accept (fee_line.status)


@dataclass(frozen=True, slots=True)
class Bill:
    """A visit paid in full: where, when, what, and the invoice."""

    psn_no: str
    insutype: str
    med_type: str
    fixmedins_code: str
    begin: datetime
    end: datetime | None
    invono: str
    lines: tuple[fees.FeeLineIn, ...]
    diagnoses: tuple[visits.Diagnosis, ...] = ()
    flags: visits.AwayFlags = visits.ORDINARY  # injury (and third party), emergency


@dataclass(frozen=True, slots=True)
class Payee:
    """The account a claim pays to; ``payee_id`` the registered payee (an app's claim);
    ``account_name`` the holder the window's operator names (the person's own name);
    ``registered_id`` the registered payee a window's account differs from."""

    bank_name: str
    bank_account: str
    payee_id: int | None = None
    account_name: str = ""
    registered_id: int | None = None


@dataclass(frozen=True, slots=True)
class Approval:
    """An approval's outcome: approved, partly_approved, or first_approved (a second
    approver is needed); the amount the fund pays (fen)."""

    status: str
    amount: int


# ---------------------------------------------------------------- fault periods


def declare_fault(conn: Connection, caller: Caller, ids: Ids, code: str, begin: datetime,
                  end: datetime, reason: str) -> str:
    """Record that ``code`` could not settle in real time from ``begin`` to ``end``."""
    if not begin < end or (end - begin).total_seconds() > FAULT_HOURS_MAX * 3600:
        raise Refused("E-CLM-006", f"a fault period runs forward, at most {FAULT_HOURS_MAX} h")
    if begin > caller.now:
        raise Refused("E-CLM-006", f"a fault period cannot begin after now ({caller.now})")
    _check_known(conn, code)
    _check_no_overlap(conn, code, begin, end)
    fault_id = ids.new("FLT")
    conn.execute(insert(fault_period).values(
        fault_id=fault_id, fixmedins_code=code, begin_at=begin, end_at=end, reason=reason,
        actor=caller.name, created_at=caller.now))
    return fault_id


def _check_no_overlap(conn: Connection, code: str, begin: datetime, end: datetime) -> None:
    """One fault period at a time per institution (its row locked, so two overlapping
    declarations at once are ordered too)."""
    conn.execute(select(institution.c.fixmedins_code).where(
        institution.c.fixmedins_code == code).with_for_update())
    other = conn.execute(select(fault_period.c.fault_id, fault_period.c.begin_at,
                                fault_period.c.end_at).where(
        fault_period.c.fixmedins_code == code, fault_period.c.begin_at < end,
        fault_period.c.end_at > begin, fault_period.c.cancelled_at.is_(None)).limit(1)).first()
    if other is not None:
        raise Refused("E-CLM-006", f"overlaps fault period {other.fault_id} "
                      f"({other.begin_at} to {other.end_at})")


def _in_fault(conn: Connection, code: str, at: datetime) -> bool:
    """A period in force covers ``at``; held (shared) until the bill is recorded, so that
    the period is not cancelled meanwhile (``cancel_fault``)."""
    return conn.execute(select(fault_period.c.fault_id).where(
        fault_period.c.fixmedins_code == code, fault_period.c.begin_at <= at,
        fault_period.c.end_at >= at, fault_period.c.cancelled_at.is_(None)).limit(1)
        .with_for_update(read=True)).first() is not None


def cancel_fault(conn: Connection, caller: Caller, fault_id: str, reason: str) -> None:
    """Cancel a fault period (kept, marked with the time and ``reason``, audited) unless a
    bill relies on it: the 2601 of the 2902 that declared it, or an operator. Locked
    first: a 2901 at the same moment is seen, or finds none."""
    row = _fault(conn, fault_id, lock=True)
    if row["cancelled_at"] is not None:
        raise Refused("E-CLM-010", f"{fault_id} was cancelled at {row['cancelled_at']} "
                      f"({row['cancelled_reason']})")
    relying = _relying_claims(fault_id)
    invoices = list(conn.execute(
        select(relying.c.invono).order_by(relying.c.invono).limit(3)).scalars())
    if invoices:
        raise Refused("E-REV-004", f"{fault_id} covers invoice {', '.join(invoices)}: "
                      "withdraw them first (2601 of each 2901); one applied for keeps it")
    conn.execute(update(fault_period).where(fault_period.c.fault_id == fault_id).values(
        cancelled_at=caller.now, cancelled_reason=reason[:300]))
    audit.record(conn, kind="fault-cancel", psn_no=None, actor=caller.name, at=caller.now,
                 place=row["fixmedins_code"], detail=f"{fault_id}: {reason}")


def _relying_claims(fault_id: str) -> Subquery:
    """The live fault claims at the period's institution whose care begins in the period
    and in no other period in force."""
    period, other = fault_period.alias("period"), fault_period.alias("other")
    elsewhere = exists().where(
        other.c.fixmedins_code == period.c.fixmedins_code, other.c.fault_id != fault_id,
        other.c.cancelled_at.is_(None), other.c.begin_at <= visit_table.c.begntime,
        other.c.end_at >= visit_table.c.begntime)
    return (
        select(claim.c.claim_id, claim.c.invono, claim.c.psn_no, claim.c.status,
               visit_table.c.begntime)
        .join(visit_table, visit_table.c.mdtrt_id == claim.c.mdtrt_id)
        .join(period, period.c.fixmedins_code == claim.c.fixmedins_code)
        .where(period.c.fault_id == fault_id, claim.c.reason == "fault",
               claim.c.status.not_in(CLAIM_RELEASED),
               visit_table.c.begntime.between(period.c.begin_at, period.c.end_at), ~elsewhere)
        .subquery()
    )


def _fault(conn: Connection, fault_id: str, *, lock: bool = False) -> RowMapping:
    query = select(fault_period).where(fault_period.c.fault_id == fault_id)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise Refused("E-CLM-009", f"no such fault period {fault_id}")
    return row


def faults_of(conn: Connection, code: str, status: str | None,
              limit: int = FAULTS_SHOWN) -> list[dict[str, Any]]:
    """An institution's fault periods, newest first, optionally only those ``in_force``
    or ``cancelled``."""
    assert status in (None, *FAULT_STATUSES), status
    _check_known(conn, code)
    query = select(fault_period).where(fault_period.c.fixmedins_code == code)
    if status is not None:
        cancelled = fault_period.c.cancelled_at
        query = query.where(cancelled.is_(None) if status == FAULT_IN_FORCE
                            else cancelled.is_not(None))
    rows = conn.execute(query.order_by(fault_period.c.begin_at.desc(),
                                       fault_period.c.fault_id.desc()).limit(limit)).mappings()
    return [_fault_summary(row) for row in rows]


def describe_fault(conn: Connection, fault_id: str) -> dict[str, Any]:
    """A fault period with who declared it and when, whether it was cancelled and why, and
    the claims relying on it (those that keep it from being cancelled)."""
    summary = _fault_summary(_fault(conn, fault_id))
    relying = _relying_claims(fault_id)
    claims = [{"claim_id": c.claim_id, "invono": c.invono, "psn_no": c.psn_no,
               "status": c.status, "care_begins_at": c.begntime.isoformat()}
              for c in conn.execute(select(relying).order_by(relying.c.invono)
                                    .limit(FAULTS_SHOWN))]
    total = conn.execute(select(func.count()).select_from(relying)).scalar_one()
    return summary | {"claims_total": total, "claims": claims}


def _fault_summary(row: RowMapping) -> dict[str, Any]:
    cancelled_at = row["cancelled_at"]
    return {
        "fault_id": row["fault_id"], "fixmedins_code": row["fixmedins_code"],
        "begin_at": row["begin_at"].isoformat(), "end_at": row["end_at"].isoformat(),
        "reason": row["reason"], "declared_by": row["actor"],
        "declared_at": row["created_at"].isoformat(),
        "status": FAULT_IN_FORCE if cancelled_at is None else FAULT_CANCELLED,
        "cancelled_at": None if cancelled_at is None else cancelled_at.isoformat(),
        "cancelled_reason": row["cancelled_reason"],
    }


# ---------------------------------------------------------------- bills and applications


def record_fault_bill(conn: Connection, caller: Caller, ids: Ids, policies: tuple[Policy, ...],
                      bill: Bill) -> str:
    """The HIS uploads a bill of a fault period, fully self-paid: it becomes eligible."""
    if not _in_fault(conn, bill.fixmedins_code, bill.begin):
        raise Refused("E-CLM-005", f"{bill.fixmedins_code} declared no fault at {bill.begin}")
    return _record(conn, caller, ids, policies, bill, reason="fault", status=ELIGIBLE)


def submit(conn: Connection, caller: Caller, ids: Ids, policies: tuple[Policy, ...], bill: Bill,
           *, reason: str, payee: Payee, filing_sn: str = "") -> str:
    """An application with the details typed in (paper lists) or sent by an app."""
    if reason not in REASONS:
        raise Refused("E-CLM-006", f"reason {reason!r}; one of {', '.join(REASONS)}")
    claim_id = _record(conn, caller, ids, policies, bill, reason=reason, status=SUBMITTED,
                       payee=payee, filing_sn=filing_sn)
    return claim_id


def apply(conn: Connection, caller: Caller, ids: Ids, policies: tuple[Policy, ...],
          psn_no: str, *, bill: Bill | None, code: str, invono: str, reason: str,
          payee: Payee | None, filing_sn: str) -> str:
    """An application: with the details (``bill``) or for a bill the HIS uploaded."""
    payee = _payee_of(conn, caller, psn_no, payee)
    if bill is not None:
        return submit(conn, caller, ids, policies, bill, reason=reason, payee=payee,
                      filing_sn=filing_sn)
    return apply_for(conn, caller, psn_no, code, invono, payee, filing_sn)


def _payee_of(conn: Connection, caller: Caller, psn_no: str, sent: Payee | None) -> Payee:
    """An app's claim pays only to the person's registered payee (in their name, set with
    a real-person check); at the window the operator takes the payee from the person."""
    if caller.source == SOURCE_APP:
        row = trust.payee_for_claim(conn, psn_no, sent.bank_name if sent else None,
                                    sent.bank_account if sent else None)
        return Payee(row["bank_name"], row["bank_account"], row["id"])
    if sent is None:
        raise Refused("E-CLM-006", "a payee (bank name and account) is required")
    _check_payee(sent)
    registered = trust.window_payee(conn, psn_no, bank_name=sent.bank_name,
                                    bank_account=sent.bank_account,
                                    account_name=sent.account_name)
    return dataclasses.replace(sent, registered_id=registered)


def apply_for(conn: Connection, caller: Caller, psn_no: str, code: str, invono: str,
              payee: Payee, filing_sn: str = "") -> str:
    """Apply for an eligible bill the HIS uploaded: no paper lists needed."""
    row = conn.execute(select(claim).where(
        claim.c.fixmedins_code == code, claim.c.invono == invono,
        claim.c.status.not_in(CLAIM_RELEASED)).with_for_update()).mappings().first()
    if row is None or row["psn_no"] != psn_no:
        raise Refused("E-CLM-001", f"no uploaded bill {code}/{invono} of this person")
    _require(row, ELIGIBLE)
    _check_payee(payee)
    lock_person(conn, psn_no)  # filings change under the person's lock
    _check_basis(conn, psn_no, row["mdtrt_id"], filing_sn,
                 institution_of(_institution(conn, code)))
    conn.execute(update(claim).where(claim.c.claim_id == row["claim_id"]).values(
        status=SUBMITTED, bank_name=payee.bank_name, bank_account=payee.bank_account,
        payee_id=payee.payee_id, registered_payee_id=payee.registered_id,
        trt_dcla_detl_sn=filing_sn or None, source=caller.source,
        applicant=caller.name, updated_at=caller.now))
    _step(conn, row["claim_id"], SUBMITTED, caller, "application")
    return str(row["claim_id"])


def _record(conn: Connection, caller: Caller, ids: Ids, policies: tuple[Policy, ...],
            bill: Bill, *, reason: str, status: str, payee: Payee | None = None,
            filing_sn: str = "") -> str:
    _check_care_dates(bill, caller.now)
    # the person's lock, as a real-time settlement takes first: a 2207 naming the same
    # invoice at the same moment then sees this claim, or this claim sees its settlement
    lock_person(conn, bill.psn_no)
    if payee is not None:
        _check_payee(payee)
    _check_invoice(conn, bill.fixmedins_code, bill.invono)
    claim_id = ids.new("R")
    call = _care_ctx(conn, bill.fixmedins_code, claim_id, bill.begin, ids, policies, caller)
    mdtrt_id = _store_visit(call, bill)
    if status == SUBMITTED:  # an application (an uploaded bill is checked when applied for)
        _check_basis(conn, bill.psn_no, mdtrt_id, filing_sn, call.institution)
    total = sum(x.amount for x in bill.lines)
    try:
        with conn.begin_nested():  # a concurrent claim of the same invoice: refuse cleanly
            _insert_claim(conn, caller, bill, claim_id, mdtrt_id, total, reason=reason,
                          status=status, payee=payee, filing_sn=filing_sn)
    except IntegrityError as exc:
        if classify(exc) is not Failure.DUPLICATE:  # a row refused, not a concurrent claim
            raise
        raise Refused("E-CLM-002", f"invoice {bill.invono} of {bill.fixmedins_code}") from exc
    _step(conn, claim_id, status, caller, REASONS[reason])
    return claim_id


def _insert_claim(conn: Connection, caller: Caller, bill: Bill, claim_id: str, mdtrt_id: str,
                  total: int, *, reason: str, status: str, payee: Payee | None,
                  filing_sn: str) -> None:
    conn.execute(insert(claim).values(
        claim_id=claim_id, psn_no=bill.psn_no, mdtrt_id=mdtrt_id,
        fixmedins_code=bill.fixmedins_code, invono=bill.invono, insutype=bill.insutype,
        med_type=bill.med_type, reason=reason, trt_dcla_detl_sn=filing_sn or None,
        status=status, source=caller.source, applicant=caller.name,
        bank_name=payee.bank_name if payee else "", bank_account=payee.bank_account if payee
        else "", payee_id=payee.payee_id if payee else None,
        registered_payee_id=payee.registered_id if payee else None, medfee_sumamt=total,
        created_at=caller.now, updated_at=caller.now))


def _check_care_dates(bill: Bill, now: datetime) -> None:
    """Care already given, ending no earlier than it began: a bill dated later would be
    settled against a later year's deductible and caps."""
    if bill.end is not None and bill.end < bill.begin:
        raise Refused("E-CLM-008", f"endtime {bill.end} is before begntime {bill.begin}")
    last = bill.end or bill.begin
    if last > now:
        raise Refused("E-CLM-007", f"the care at {last} is after now ({now})")
    for line in bill.lines:  # a line's day picks its catalogue entry
        if line.time is not None and line.time > now:
            raise Refused("E-CLM-007", f"line {line.feedetl_sn} at {line.time} is after now")


def _check_payee(payee: Payee) -> None:
    trust_rules.check_bank_account(payee.bank_name, payee.bank_account)


def _check_basis(conn: Connection, psn_no: str, mdtrt_id: str, serial: str,
                 care_at: Institution) -> None:
    """Care away from home must rest on what the application names and, for an injury,
    on a declaration (checked again at approval: a filing or declaration may be
    cancelled, or the insured relationship change, meanwhile)."""
    _basis(conn, psn_no, _visit(conn, mdtrt_id), serial, care_at)


def _check_invoice(conn: Connection, code: str, invono: str) -> None:
    """One claim per invoice (a rejected one may be applied for again), and never for an
    invoice the institution settled in real time."""
    if not invono:
        raise Refused("E-CLM-006", "the invoice number is required")
    taken = settlement.claim_of_invoice(conn, code, invono)
    if taken is not None:
        raise Refused("E-CLM-002", f"invoice {invono} of {code} is claim {taken}")
    cancel = settlement_table.alias("cancel_row")
    settled = conn.execute(select(settlement_table.c.setl_id).where(
        settlement_table.c.fixmedins_code == code, settlement_table.c.invono == invono,
        settlement_table.c.kind == "settle",
        ~exists().where(cancel.c.reverses == settlement_table.c.setl_id)).limit(1)
    ).scalar_one_or_none()
    if settled is not None:
        raise Refused("E-CLM-003", f"invoice {invono} was settled in real time as {settled}")


def _check_known(conn: Connection, code: str) -> None:
    """An institution an operator names (in the path) exists."""
    if conn.execute(select(institution.c.fixmedins_code).where(
            institution.c.fixmedins_code == code)).first() is None:
        raise Refused("E-ADM-001", f"no such institution {code}")


def _institution(conn: Connection, code: str) -> RowMapping:
    row = conn.execute(select(institution).where(
        institution.c.fixmedins_code == code)).mappings().first()
    if row is None:
        raise Refused("E-CLM-006", f"no designated institution {code!r}")
    return row


def _care_ctx(conn: Connection, code: str, claim_id: str, at: datetime, ids: Ids,
              policies: tuple[Policy, ...], caller: Caller) -> Call:
    """The context of the care itself: its institution and its moment."""
    kind = {SOURCE_INSTITUTION: ActorKind.INSTITUTION, SOURCE_APP: ActorKind.CHANNEL}.get(
        caller.source, ActorKind.OPERATOR)
    entry = {ActorKind.INSTITUTION: Entry.NATIONAL, ActorKind.CHANNEL: Entry.CHANNEL}.get(
        kind, Entry.OPERATOR)
    return Call(conn=conn, actor=Actor(kind, caller.name), entry=entry, now=at, ids=ids,
                policies=policies, site=institution_of(_institution(conn, code)), ref=claim_id)


def _store_visit(call: Call, bill: Bill) -> str:
    visit_class = visit_class_of(bill.med_type)
    if visit_class is None:
        raise Refused("E-VIS-003", f"med_type {bill.med_type}")
    if not bill.lines:
        raise Refused("E-CLM-006", "fee details are required")
    mdtrt_id = visits.open_selfpaid(call, bill.psn_no, bill.insutype, bill.med_type,
                                    visit_class, bill.diagnoses, bill.flags)
    fees.upload(call, mdtrt_id, bill.psn_no, list(bill.lines), visit_class)
    visits.close_selfpaid(call, mdtrt_id, bill.end)
    return mdtrt_id


def withdraw_bill(call: Call, claim_id: str, psn_no: str) -> None:
    """2601 of the 2901 that uploaded the bill: while nobody has applied for it, the claim
    is withdrawn (a step says so), its visit and lines cancelled, and the invoice may be
    uploaded again. Once the person applied, only the bureau's window handles it."""
    row = _claim(call.conn, claim_id)  # locked: an application at the same moment waits
    visits.get_visit(call, row["mdtrt_id"], psn_no, lock=True)
    if row["status"] != ELIGIBLE:
        raise Refused("E-REV-003", f"claim {claim_id} of invoice {row['invono']} is "
                      f"{row['status']}: only the bureau's window can reject or correct it")
    fees.withdraw(call.conn, row["mdtrt_id"], [], refusal="E-REV-003", skip_settled=False)
    visits.set_status(call, row["mdtrt_id"], visits.CANCELLED)
    _move(call.conn, row, WITHDRAWN, call.caller,
          f"the institution withdrew the uploaded bill (reversed by 2601 {call.ref})")


# ---------------------------------------------------------------- review


def start_review(conn: Connection, caller: Caller, claim_id: str) -> None:
    row = _claim(conn, claim_id)
    _require(row, SUBMITTED)
    _move(conn, row, UNDER_REVIEW, caller, "review started")


def reject(conn: Connection, caller: Caller, claim_id: str, reason: str) -> None:
    row = _claim(conn, claim_id)
    _require(row, SUBMITTED, UNDER_REVIEW)
    if not reason.strip():
        raise Refused("E-CLM-006", "a rejection needs its reasons")
    _move(conn, row, REJECTED, caller, reason)


def approve(conn: Connection, caller: Caller, ids: Ids, policies: tuple[Policy, ...],
            claim_id: str, *, excluded: dict[str, str], note: str = "",
            second_approval_above: int = roles.SECOND_APPROVAL_ABOVE_FEN,
            payee_confirmed: bool = False) -> Approval:
    """Compute and record the reimbursement; lines in ``excluded`` (feedetl_sn → reason)
    are left out (partly approved). Creates the payment order. Not by the claim's
    submitter or reviewer; above ``second_approval_above`` (fen) the first approval only
    records itself (the computation is rolled back) and a second, different approver
    approves the same lines. A window's account other than the registered payee is paid
    only when each approver confirms it (``payee_confirmed``; E-ADM-007 otherwise)."""
    row = _claim(conn, claim_id)
    _require(row, UNDER_REVIEW)
    note = _payee_confirmation(row, payee_confirmed, note)
    actors = _actors(conn, claim_id)
    first = (actors.get(FIRST_APPROVED) or [None])[-1]
    roles.check_may_approve(caller.name, submitters=[row["applicant"],
                                                     *actors.get(SUBMITTED, [])],
                            reviewers=actors.get(UNDER_REVIEW, []), first_approver=first)
    if first is not None and excluded:
        raise Refused("E-CLM-006", f"the second approval confirms {first}'s; lines are "
                      "left out at the first approval (or reject the claim)")
    lock_person(conn, row["psn_no"])  # before filings are read: a cancellation waits
    visit = _visit(conn, row["mdtrt_id"])
    when = visit["endtime"] or visit["begntime"]
    call = _care_ctx(conn, row["fixmedins_code"], claim_id, when, ids, policies, caller)
    # checked again: a filing or declaration may have been cancelled, or the
    # relationship changed
    basis = _basis(conn, row["psn_no"], visit, row["trt_dcla_detl_sn"], call.institution)
    _exclude(conn, row["mdtrt_id"], excluded)
    req = settlement.SettleRequest(
        psn_no=row["psn_no"], mdtrt_id=row["mdtrt_id"], med_type="", insutype="",
        credential=None, claimed={}, use_account=False, invono=row["invono"], manual=True,
        manual_basis=basis, booked_at=caller.now)
    reasons = "; ".join(f"{sn}: {why}" for sn, why in sorted(excluded.items()))
    trial = conn.begin_nested()  # rolled back when a second approver is needed
    try:
        outcome = settlement.settle_visit(call, req, VisitClass(visit["visit_class"]))
    except BaseException:
        trial.rollback()
        raise
    amount = outcome.row["fund_pay_sumamt"]
    if roles.needs_second_approval(amount, first, second_approval_above):
        trial.rollback()
        above = f"{fen_to_yuan(amount)} yuan is above {fen_to_yuan(second_approval_above)}"
        _move(conn, row, UNDER_REVIEW, caller, "; ".join(p for p in (
            note, reasons, f"{above}: a second, different approver approves") if p),
            step=FIRST_APPROVED)
        return Approval(FIRST_APPROVED, amount)
    trial.commit()
    status = PARTLY_APPROVED if _has_excluded(conn, row["mdtrt_id"]) else APPROVED
    conn.execute(update(claim).where(claim.c.claim_id == claim_id).values(
        status=status, approved_amount=amount, setl_id=outcome.row["setl_id"],
        updated_at=caller.now))
    second = f"second approval after {first}" if first else ""
    _step(conn, claim_id, status, caller, "; ".join(p for p in (note, reasons, second) if p))
    if amount > 0:
        _order(conn, ids, row, amount, caller.now)
    return Approval(status, amount)


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


def _visit(conn: Connection, mdtrt_id: str) -> RowMapping:
    return conn.execute(select(visit_table).where(
        visit_table.c.mdtrt_id == mdtrt_id)).mappings().one()


def _basis(conn: Connection, psn_no: str, visit: RowMapping, serial: str | None,
           care_at: Institution) -> away.Claimed | None:
    """What the claim's care rests on. Away from home: the named filing's category if it
    counts for this care as it would have in real time (else refused), or unfiled, and
    for an injury the declaration (``away.claim_basis``); the insured place's cut
    applies. At home: None (a named filing must still be the person's)."""
    named = away.named_filing(conn, psn_no, serial) if serial else None
    person = get_person(conn, psn_no)
    if person["insuplc_admdvs"] == care_at.pool_area:
        return None
    when = visit["endtime"] or visit["begntime"]
    insured = active_insurance(conn, psn_no, visit["insutype"], when.date())
    return away.claim_basis(conn, named, person=person, insurance=insured, visit=visit,
                            institution=care_at)


# ---------------------------------------------------------------- payment


PAYMENT_ATTEMPTS_MAX = 3


def _order(conn: Connection, ids: Ids, row: RowMapping, amount: int, now: datetime) -> None:
    conn.execute(insert(payment_order).values(
        order_id=ids.new("PAY"), claim_id=row["claim_id"], psn_no=row["psn_no"], amount=amount,
        bank_name=row["bank_name"], bank_account=row["bank_account"], status="pending",
        created_at=now, updated_at=now))


def export_batch(conn: Connection, caller: Caller, ids: Ids) -> tuple[str, list[RowMapping]]:
    """Every pending payment order goes into one bank file batch (status exported, the
    exporter recorded), unless the exporter approved one of their claims: then nothing
    is exported (E-ADM-005 names the claims; another finance operator exports)."""
    rows = list(conn.execute(select(payment_order).where(payment_order.c.status == "pending")
                             .order_by(payment_order.c.order_id).with_for_update()).mappings())
    approved = conn.execute(select(claim_step.c.claim_id).where(
        claim_step.c.claim_id.in_([r["claim_id"] for r in rows]),
        claim_step.c.actor == caller.name, claim_step.c.status.in_(APPROVALS))
        .distinct().order_by(claim_step.c.claim_id)).scalars()
    roles.check_may_export(caller.name, list(approved))
    batch = ids.new("BAT")
    if rows:
        conn.execute(update(payment_order).where(
            payment_order.c.order_id.in_([r["order_id"] for r in rows])).values(
            status="exported", batch=batch, attempts=payment_order.c.attempts + 1,
            exported_by=caller.name, updated_at=caller.now))
    return batch, rows


BANK_FILE_HEAD = ("batch", "order_id", "claim_id", "bank_name", "bank_account", "amount_yuan")


def bank_file_rows(batch: str, rows: list[RowMapping]) -> list[list[str]]:
    """The bank file's cells, head first; every cell neutralised for spreadsheets (a
    bank name typed as ``=HYPERLINK(...)`` is text, not a formula)."""
    cells = [list(BANK_FILE_HEAD)] + [
        [batch, r["order_id"], r["claim_id"], r["bank_name"], r["bank_account"],
         fen_to_yuan(r["amount"])] for r in rows]
    return [[neutralised_cell(cell) for cell in line] for line in cells]


def record_bank_result(conn: Connection, caller: Caller, order_id: str, *, paid: bool,
                       error: str = "") -> str:
    """The bank's answer for an exported order: paid (the claim is paid) or failed."""
    order = _payment(conn, order_id)
    if order["status"] != "exported":
        raise Refused("E-CLM-004", f"payment {order_id} is {order['status']}, not exported")
    status = "paid" if paid else "failed"
    conn.execute(update(payment_order).where(payment_order.c.order_id == order_id).values(
        status=status, last_error="" if paid else error[:300], result_by=caller.name,
        updated_at=caller.now))
    if paid:
        row = _claim(conn, order["claim_id"])
        region = get_person(conn, row["psn_no"])["insuplc_admdvs"]
        ledger.post(conn, ledger_rules.txn(ledger_rules.TXN_PAYOUT, order_id), "payout",
                    ledger_rules.payout_entries(region, f"person:{row['psn_no']}",
                                                order["amount"]), caller.now)
        _move(conn, row, PAID, caller, f"paid by bank batch {order['batch']}")
    return status


def retry_payment(conn: Connection, caller: Caller, order_id: str) -> None:
    order = _payment(conn, order_id)
    if order["status"] != "failed" or order["attempts"] >= PAYMENT_ATTEMPTS_MAX:
        raise Refused("E-CLM-004", f"payment {order_id} is {order['status']} after "
                      f"{order['attempts']} of {PAYMENT_ATTEMPTS_MAX} attempts")
    conn.execute(update(payment_order).where(payment_order.c.order_id == order_id).values(
        status="pending", updated_at=caller.now))


def _payment(conn: Connection, order_id: str) -> RowMapping:
    row = conn.execute(select(payment_order).where(payment_order.c.order_id == order_id)
                       .with_for_update()).mappings().first()
    if row is None:
        raise Refused("E-CLM-001", f"no such payment {order_id}")
    return row


# ---------------------------------------------------------------- reading


def _claim(conn: Connection, claim_id: str) -> RowMapping:
    row = conn.execute(select(claim).where(claim.c.claim_id == claim_id)
                       .with_for_update()).mappings().first()
    if row is None:
        raise Refused("E-CLM-001", f"no such claim {claim_id}")
    return row


def _require(row: RowMapping, *allowed: str) -> None:
    if row["status"] not in allowed:
        raise Refused("E-CLM-004", f"claim {row['claim_id']} is {row['status']}")


def _move(conn: Connection, row: RowMapping, status: str, caller: Caller, reason: str, *,
          step: str = "") -> None:
    """The claim's new status and its step (``step``: the step's own status, when it is
    not the claim's, e.g. first_approved)."""
    conn.execute(update(claim).where(claim.c.claim_id == row["claim_id"]).values(
        status=status, updated_at=caller.now))
    _step(conn, row["claim_id"], step or status, caller, reason)


def _step(conn: Connection, claim_id: str, status: str, caller: Caller, reason: str) -> None:
    conn.execute(insert(claim_step).values(claim_id=claim_id, status=status, actor=caller.name,
                                           at=caller.now, reason=reason[:1000]))


def describe(conn: Connection, claim_id: str) -> dict[str, Any]:
    """A claim as its applicant and the operators see it: amounts in fen, the account
    masked, every step with who, when and why."""
    row = conn.execute(select(claim).where(claim.c.claim_id == claim_id)).mappings().first()
    if row is None:
        raise Refused("E-CLM-001", f"no such claim {claim_id}")
    steps = conn.execute(select(claim_step).where(claim_step.c.claim_id == claim_id)
                         .order_by(claim_step.c.id)).mappings()
    lines = conn.execute(select(fee_line).where(fee_line.c.mdtrt_id == row["mdtrt_id"])
                         .order_by(fee_line.c.id)).mappings()
    account = row["bank_account"]
    return {
        "claim_id": claim_id, "psn_no": row["psn_no"], "status": row["status"],
        "fixmedins_code": row["fixmedins_code"], "invono": row["invono"],
        "med_type": row["med_type"], "reason": row["reason"],
        "trt_dcla_detl_sn": row["trt_dcla_detl_sn"], "medfee_sumamt": row["medfee_sumamt"],
        "approved_amount": row["approved_amount"], "setl_id": row["setl_id"],
        **_rested_on(conn, row["setl_id"]),
        "bank_account": f"****{account[-4:]}" if account else "",
        "payee": _payee_view(conn, row),
        "steps": [{"status": s["status"], "actor": s["actor"], "at": s["at"].isoformat(sep=" "),
                   "reason": s["reason"]} for s in steps],
        "lines": [{"feedetl_sn": x["feedetl_sn"], "med_list_codg": x["med_list_codg"],
                   "amount": x["det_item_fee_sumamt"], "status": x["status"],
                   "inscp_scp_amt": x["inscp_scp_amt"]} for x in lines],
    }


def _payee_view(conn: Connection, row: RowMapping) -> dict[str, Any] | None:
    """Whom the claim pays and who set that account when: the registered payee of an app's
    claim (its channel and time), or the window's operator at the application."""
    if row["payee_id"] is not None:
        return trust.describe_payee(conn, row["payee_id"])
    if not row["bank_account"]:
        return None  # an uploaded bill nobody applied for yet
    registered = row["registered_payee_id"]
    return {"payee_id": None, "bank_name": row["bank_name"],
            "bank_account": trust_rules.masked(row["bank_account"]),
            "set_at": row["created_at"].isoformat(sep=" "), "set_by": row["applicant"],
            "change": "window", "replaced_at": None,
            "differs_from_registered": registered is not None,
            "registered": None if registered is None else trust.describe_payee(conn,
                                                                               registered)}


def _rested_on(conn: Connection, setl_id: str | None) -> dict[str, Any]:
    """What an approved claim's settlement rested on away from home: its basis and the
    injury declaration (none at home or before approval)."""
    row = None if setl_id is None else conn.execute(select(
        settlement_table.c.away_basis, settlement_table.c.trum_dcla_detl_sn).where(
        settlement_table.c.setl_id == setl_id)).first()
    return {"away_basis": row.away_basis if row else "",
            "trum_dcla_detl_sn": row.trum_dcla_detl_sn if row else None}


def of_person(conn: Connection, psn_no: str, page: Page) -> list[dict[str, Any]]:
    """A page of a person's claims, newest first, each with its lines and steps."""
    ids_ = conn.execute(select(claim.c.claim_id).where(claim.c.psn_no == psn_no).order_by(
        claim.c.created_at.desc(), claim.c.claim_id.desc())
        .limit(page.limit).offset(page.offset)).scalars().all()
    return [describe(conn, i) for i in ids_]


def listing(conn: Connection, status: str, page: Page) -> list[RowMapping]:
    """A page of the claims (of one status), last changed first."""
    query = select(claim.c.claim_id, claim.c.psn_no, claim.c.status, claim.c.fixmedins_code,
                   claim.c.invono, claim.c.medfee_sumamt, claim.c.approved_amount,
                   claim.c.updated_at)
    if status:
        query = query.where(claim.c.status == status)
    query = query.order_by(claim.c.updated_at.desc(), claim.c.claim_id.desc())
    return list(conn.execute(query.limit(page.limit).offset(page.offset)).mappings())

