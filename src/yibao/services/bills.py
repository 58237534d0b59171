"""A bill paid in full, as a claim: uploaded by the HIS during a fault period (2901: the
claim is ``eligible``) or sent with an application (``submitted``, services/applications.py).
Its care is stored like any visit (status ``selfpaid``) at the institution of care, its
lines classified against that institution's catalogue on the day of care, under a call
for the care itself (``Call.for_care``: the institution and the moment of the care, the
claim as the origin of the rows). The 2601 of a 2901 withdraws the bill while nobody
applied for it. What the care rests on away from home (``care_basis``) is checked when
the claim is applied for and again when it is approved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from yibao.domain.claims import REASONS, Action, ClaimStatus
from yibao.domain.codes import VisitClass, visit_class_of
from yibao.domain.errors import Refused
from yibao.domain.visit_states import VisitStatus
from yibao.services import (
    away,
    claims,
    contribution,
    designation,
    faults,
    fees,
    settlement,
    visits,
)
from yibao.services.claims import Payee
from yibao.services.context import Call, Done, Effect, EffectKind, Institution
from yibao.services.persons import active_insurance, get_person, lock_person
from yibao.store import institutions, settlements
from yibao.store.db import Failure, classify
from yibao.store.lean import Row
from yibao.store.schema import claim
from yibao.store.schema import visit as visit_table


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


def upload(call: Call, bill: Bill) -> Done[str]:
    """The HIS uploads a bill of a fault period, fully self-paid: it becomes eligible."""
    if not faults.covers(call.conn, bill.fixmedins_code, bill.begin):
        raise Refused("E-CLM-005", f"{bill.fixmedins_code} declared no fault at {bill.begin}")
    claim_id = record(call, bill, reason="fault", status=ClaimStatus.ELIGIBLE)
    return Done(claim_id, Effect(EffectKind.CLAIM, claim_id))


def record(call: Call, bill: Bill, *, reason: str, status: ClaimStatus,
           payee: Payee | None = None, filing_sn: str = "") -> str:
    """The bill's care stored as a visit and its claim, ``eligible`` (uploaded) or
    ``submitted`` (applied for with its details: paid to ``payee``, resting on the filing
    ``filing_sn`` names)."""
    conn = call.conn
    _check_care_dates(bill, call.now)
    # the person's lock, as a real-time settlement takes first: a 2207 naming the same
    # invoice at the same moment then sees this claim, or this claim sees its settlement
    lock_person(conn, bill.psn_no)
    if payee is not None:
        payee.check()
    _check_invoice(conn, bill.fixmedins_code, bill.invono)
    claim_id = call.ids.new("R")
    care = call.for_care(site_of(conn, bill.fixmedins_code), at=bill.begin, ref=claim_id)
    mdtrt_id = _store_visit(care, bill)
    if status is ClaimStatus.SUBMITTED:  # (an uploaded bill is checked when applied for)
        check_care(call, bill.psn_no, mdtrt_id, filing_sn, care.institution)
    total = sum(x.amount for x in bill.lines)
    _insert_claim(call, _NewClaim(
        claim_id=claim_id, psn_no=bill.psn_no, mdtrt_id=mdtrt_id, code=bill.fixmedins_code,
        invono=bill.invono, insutype=bill.insutype, med_type=bill.med_type, reason=reason,
        status=status, total=total, payee=payee, filing_sn=filing_sn))
    return claim_id


@dataclass(frozen=True, slots=True)
class _NewClaim:
    """A claim row to insert: its care (``mdtrt_id``), invoice, amount and applicant."""

    claim_id: str
    psn_no: str
    mdtrt_id: str
    code: str
    invono: str
    insutype: str
    med_type: str
    reason: str
    status: ClaimStatus
    total: int
    payee: Payee | None
    filing_sn: str


def _insert_claim(call: Call, new: _NewClaim) -> None:
    """The claim row and its first step; a concurrent claim of the same invoice is
    refused cleanly (E-CLM-002)."""
    payee = new.payee
    try:
        with call.conn.begin_nested():
            call.conn.execute(insert(claim).values(
                claim_id=new.claim_id, psn_no=new.psn_no, mdtrt_id=new.mdtrt_id,
                fixmedins_code=new.code, invono=new.invono, insutype=new.insutype,
                med_type=new.med_type, reason=new.reason,
                trt_dcla_detl_sn=new.filing_sn or None, status=new.status.value,
                source=call.actor.source, applicant=call.actor.name,
                bank_name=payee.bank_name if payee else "",
                bank_account=payee.bank_account if payee else "",
                payee_id=payee.payee_id if payee else None,
                registered_payee_id=payee.registered_id if payee else None,
                medfee_sumamt=new.total, created_at=call.now, updated_at=call.now))
    except IntegrityError as exc:
        if classify(exc) is not Failure.DUPLICATE:  # a row refused, not a concurrent claim
            raise
        raise Refused("E-CLM-002", f"invoice {new.invono} of {new.code}") from exc
    claims.step(call, new.claim_id, new.status.value, REASONS[new.reason])


# ---------------------------------------------------------------- an uploaded visit


@dataclass(frozen=True, slots=True)
class UploadedVisit:
    """Care the HIS registered and uploaded (2201/2203/2204 or 2401/2301/2402) but could
    not settle directly: the visit (``mdtrt_id`` at ``code``) a person applies for."""

    psn_no: str
    code: str
    mdtrt_id: str
    reason: str


def claim_uploaded(call: Call, care: UploadedVisit, payee: Payee, filing_sn: str) -> str:
    """Online manual reimbursement (线上手工报销, the 2022 notice): the claim is built from
    the visit's uploaded fee details and diagnoses, not a retyped bill. The visit becomes
    the claim's (``selfpaid``): no longer settled in real time, its lines counted once.
    Refused: not the person's visit at that institution (E-CLM-011), settled in real time
    (E-CLM-012), a stay not discharged (E-CLM-013), claimed already (E-CLM-014), no
    details uploaded (E-CLM-006), contributions not covering the day of care
    (E-PSN-018/019); away from home, what the care rests on as for a bill."""
    conn = call.conn
    if care.reason not in REASONS:
        raise Refused("E-CLM-006", f"reason {care.reason!r}; one of {', '.join(REASONS)}")
    payee.check()
    # the person's lock first, as a real-time settlement takes it: a 2207/2304 of the
    # same visit at the same moment settles it first (then E-CLM-012) or finds it claimed
    lock_person(conn, care.psn_no)
    row = _uploaded_visit(conn, care)
    # covered on the day of care as the contribution history now shows it, as for a bill
    contribution.check_claim(conn, call.policies, get_person(conn, care.psn_no),
                             row["insutype"], row["begntime"].date())
    lines = fees.unsettled_lines(conn, care.mdtrt_id)
    if not lines:
        raise Refused("E-CLM-006", f"visit {care.mdtrt_id} has no uploaded fee details")
    site = site_of(conn, care.code)
    check_basis(conn, care.psn_no, care.mdtrt_id, filing_sn, site)
    visits.claim_uploaded(call, row)
    claim_id = call.ids.new("R")
    _insert_claim(call, _NewClaim(
        claim_id=claim_id, psn_no=care.psn_no, mdtrt_id=care.mdtrt_id, code=care.code,
        invono=care.mdtrt_id, insutype=row["insutype"], med_type=row["med_type"],
        reason=care.reason, status=ClaimStatus.SUBMITTED,
        total=sum(x["det_item_fee_sumamt"] for x in lines), payee=payee,
        filing_sn=filing_sn))
    return claim_id


def _uploaded_visit(conn: Connection, care: UploadedVisit) -> Row:
    """The visit, locked, if the person may claim it now (the refusals of
    ``claim_uploaded``)."""
    row = conn.execute(select(visit_table).where(
        visit_table.c.mdtrt_id == care.mdtrt_id).with_for_update()).mappings().first()
    if row is None or row["psn_no"] != care.psn_no or row["fixmedins_code"] != care.code:
        raise Refused("E-CLM-011", f"no visit {care.mdtrt_id} of this person at {care.code}")
    taken = settlement.claim_of_visit(conn, care.mdtrt_id)
    if taken is not None:
        raise Refused("E-CLM-014", f"visit {care.mdtrt_id} is claim {taken}")
    settled = settlements.live_of_visit(conn, care.mdtrt_id, final_only=False)
    if settled:
        raise Refused("E-CLM-012", f"visit {care.mdtrt_id} was settled as {settled[0]}")
    if row["status"] == VisitStatus.OPEN and row["visit_class"] == VisitClass.INPATIENT:
        raise Refused("E-CLM-013", f"stay {care.mdtrt_id} is not discharged (2402)")
    return row


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


def _check_invoice(conn: Connection, code: str, invono: str) -> None:
    """One claim per invoice (a rejected one may be applied for again), and never for an
    invoice the institution settled in real time."""
    if not invono:
        raise Refused("E-CLM-006", "the invoice number is required")
    taken = settlement.claim_of_invoice(conn, code, invono)
    if taken is not None:
        raise Refused("E-CLM-002", f"invoice {invono} of {code} is claim {taken}")
    settled = settlements.settled_invoice(conn, code, invono)
    if settled is not None:
        raise Refused("E-CLM-003", f"invoice {invono} was settled in real time as {settled}")


def site_of(conn: Connection, code: str) -> Institution:
    """The institution of care a bill names (E-CLM-006: none such)."""
    site = institutions.find(conn, code)
    if site is None:
        raise Refused("E-CLM-006", f"no designated institution {code!r}")
    return site


def _store_visit(care: Call, bill: Bill) -> str:
    visit_class = visit_class_of(bill.med_type)
    if visit_class is None:
        raise Refused("E-VIS-003", f"med_type {bill.med_type}")
    if not bill.lines:
        raise Refused("E-CLM-006", "fee details are required")
    mdtrt_id = visits.open_selfpaid(care, bill.psn_no, bill.insutype, bill.med_type,
                                    visit_class, bill.diagnoses, bill.flags)
    fees.upload(care, mdtrt_id, bill.psn_no, list(bill.lines), visit_class)
    visits.close_selfpaid(care, mdtrt_id, bill.end)
    return mdtrt_id


def withdraw(call: Call, claim_id: str, psn_no: str) -> None:
    """2601 of the 2901 that uploaded the bill: while nobody has applied for it, the claim
    is withdrawn (a step says so), its visit and lines cancelled, and the invoice may be
    uploaded again. Once the person applied, only the bureau's window handles it."""
    row = claims.locked(call.conn, claim_id)  # an application at the same moment waits
    visit = visits.get_visit(call, row["mdtrt_id"], psn_no, lock=True)
    if row["status"] != ClaimStatus.ELIGIBLE:
        raise Refused("E-REV-003", f"claim {claim_id} of invoice {row['invono']} is "
                      f"{row['status']}: only the bureau's window can reject or correct it")
    fees.withdraw(call.conn, row["mdtrt_id"], [], refusal="E-REV-003", skip_settled=False)
    visits.withdraw_selfpaid(call, visit)
    claims.move(call, row, Action.WITHDRAW,
                f"the institution withdrew the uploaded bill (reversed by 2601 {call.ref})")


# ---------------------------------------------------------------- what the care rests on


def care_of(conn: Connection, mdtrt_id: str) -> Row:
    """The visit of a claim's care."""
    return conn.execute(select(visit_table).where(
        visit_table.c.mdtrt_id == mdtrt_id)).mappings().one()


def check_care(call: Call, psn_no: str, mdtrt_id: str, serial: str,
               site: Institution) -> None:
    """What a claim's care must rest on (``check_basis``) and, at home, the person's
    designation of the institution (services/designation.py, unless emergency)."""
    check_basis(call.conn, psn_no, mdtrt_id, serial, site)
    designation.check_claim(call, visit=care_of(call.conn, mdtrt_id), site=site)


def check_basis(conn: Connection, psn_no: str, mdtrt_id: str, serial: str,
                site: Institution) -> None:
    """Care away from home must rest on what the application names and, for an injury,
    on a declaration (checked again at approval: a filing or declaration may be
    cancelled, or the insured relationship change, meanwhile)."""
    care_basis(conn, psn_no, care_of(conn, mdtrt_id), serial, site)


def care_basis(conn: Connection, psn_no: str, visit: Row, serial: str | None,
               site: Institution) -> away.Claimed | None:
    """What the claim's care rests on. Away from home: the named filing's category if it
    counts for this care as it would have in real time (else refused), or unfiled, and
    for an injury the declaration (``away.claim_basis``); the insured place's cut
    applies. At home: None (a named filing must still be the person's)."""
    named = away.named_filing(conn, psn_no, serial) if serial else None
    person = get_person(conn, psn_no)
    if person["insuplc_admdvs"] == site.pool_area:
        return None
    when = visit["endtime"] or visit["begntime"]
    insured = active_insurance(conn, psn_no, visit["insutype"], when.date())
    return away.claim_basis(conn, named, person=person, insurance=insured, visit=visit,
                            institution=site)
