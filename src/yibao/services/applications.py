"""Applying for manual reimbursement: the person through an app (the claim pays only to
their registered payee) or the bureau's window (the operator names the account, checked
against the registered payee), with the bill's details typed in or sent (``submit``) or
for a bill the HIS uploaded during a fault period (``apply_for``: no paper lists).
Nothing blocks the person's card or certificate meanwhile."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy import select

from yibao.domain.claims import REASONS, Action, ClaimStatus
from yibao.domain.errors import Refused
from yibao.services import bills, claims, trust
from yibao.services.bills import Bill
from yibao.services.claims import Payee
from yibao.services.context import ActorKind, Call
from yibao.services.persons import lock_person
from yibao.store.schema import CLAIM_RELEASED, claim


@dataclass(frozen=True, slots=True)
class Application:
    """What a person or the window applies with: the bill's details (``bill``), or the
    institution (``code``) and invoice of a bill the HIS uploaded; why it was not settled
    in real time; the account to pay (an app may leave it to the registered payee); the
    filing the care away from home rests on."""

    psn_no: str
    reason: str
    payee: Payee | None
    bill: Bill | None = None
    code: str = ""
    invono: str = ""
    filing_sn: str = ""
    mdtrt_id: str = ""  # a visit the HIS uploaded but could not settle (with ``code``)


def apply(call: Call, application: Application) -> str:
    """An application: with the details (``bill``), for a bill the HIS uploaded, or for
    a visit the HIS uploaded and could not settle (``mdtrt_id``: the 2022 notice's
    online manual reimbursement)."""
    payee = _payee_of(call, application.psn_no, application.payee)
    if application.bill is not None:
        return submit(call, application.bill, reason=application.reason, payee=payee,
                      filing_sn=application.filing_sn)
    if application.mdtrt_id:
        care = bills.UploadedVisit(application.psn_no, application.code,
                                   application.mdtrt_id, application.reason)
        return bills.claim_uploaded(call, care, payee, application.filing_sn)
    return apply_for(call, application.psn_no, application.code, application.invono, payee,
                     application.filing_sn)


def _payee_of(call: Call, psn_no: str, sent: Payee | None) -> Payee:
    """An app's claim pays only to the person's registered payee (in their name, set with
    a real-person check); at the window the operator takes the payee from the person."""
    if call.actor.kind is ActorKind.CHANNEL:
        row = trust.payee_for_claim(call.conn, psn_no, sent.bank_name if sent else None,
                                    sent.bank_account if sent else None)
        return Payee(row["bank_name"], row["bank_account"], row["id"])
    if sent is None:
        raise Refused("E-CLM-006", "a payee (bank name and account) is required")
    sent.check()
    registered = trust.window_payee(call.conn, psn_no, bank_name=sent.bank_name,
                                    bank_account=sent.bank_account,
                                    account_name=sent.account_name)
    return dataclasses.replace(sent, registered_id=registered)


def submit(call: Call, bill: Bill, *, reason: str, payee: Payee, filing_sn: str = "") -> str:
    """An application with the details typed in (paper lists) or sent by an app."""
    if reason not in REASONS:
        raise Refused("E-CLM-006", f"reason {reason!r}; one of {', '.join(REASONS)}")
    return bills.record(call, bill, reason=reason, status=ClaimStatus.SUBMITTED, payee=payee,
                        filing_sn=filing_sn)


def apply_for(call: Call, psn_no: str, code: str, invono: str, payee: Payee,
              filing_sn: str = "") -> str:
    """Apply for an eligible bill the HIS uploaded: no paper lists needed."""
    conn = call.conn
    row = conn.execute(select(claim).where(
        claim.c.fixmedins_code == code, claim.c.invono == invono,
        claim.c.status.not_in(CLAIM_RELEASED)).with_for_update()).mappings().first()
    if row is None or row["psn_no"] != psn_no:
        raise Refused("E-CLM-001", f"no uploaded bill {code}/{invono} of this person")
    claims.require(row, Action.APPLY)
    payee.check()
    lock_person(conn, psn_no)  # filings change under the person's lock
    bills.check_care(call, psn_no, row["mdtrt_id"], filing_sn, bills.site_of(conn, code))
    claims.move(call, row, Action.APPLY, "application", bank_name=payee.bank_name,
                bank_account=payee.bank_account, payee_id=payee.payee_id,
                registered_payee_id=payee.registered_id, trt_dcla_detl_sn=filing_sn or None,
                source=call.actor.source, applicant=call.actor.name)
    return str(row["claim_id"])
