"""The manual-reimbursement claim (报销申请) as a record: its row read under lock, its
status moved by the transition table of domain/claims.py with a step naming who, when
and why, and how it reads for its applicant and the operators (one claim, a person's,
the listing).

How a claim comes to be: services/bills.py (a bill uploaded by the HIS or sent with an
application), services/applications.py (applying), services/review.py (review and
approval), services/payments.py (the bank payment); docs/reimbursement.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select, update

from yibao.domain import claims as rules
from yibao.domain import trust as trust_rules
from yibao.domain.claims import Action, ClaimStatus
from yibao.domain.errors import Refused
from yibao.domain.paging import Page
from yibao.services import trust, webhooks
from yibao.services.context import SOURCE_APP, Call
from yibao.services.persons import get_person
from yibao.store import settlements
from yibao.store.schema import claim, claim_step, fee_line
from yibao.store.schema import settlement as settlement_table


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

    def check(self) -> None:
        """The account as a bank file can name it (E-CLM-006 otherwise)."""
        trust_rules.check_bank_account(self.bank_name, self.bank_account)


def locked(conn: Connection, claim_id: str) -> RowMapping:
    """The claim's row, locked (E-CLM-001: no such claim)."""
    row = conn.execute(select(claim).where(claim.c.claim_id == claim_id)
                       .with_for_update()).mappings().first()
    if row is None:
        raise Refused("E-CLM-001", f"no such claim {claim_id}")
    return row


def require(row: RowMapping, action: Action) -> None:
    """E-CLM-004 unless the claim's status allows ``action``."""
    if not rules.may(row["status"], action):
        raise Refused("E-CLM-004", f"claim {row['claim_id']} is {row['status']}")


def move(call: Call, row: RowMapping, action: Action, reason: str,
         **values: Any) -> ClaimStatus:
    """The claim's new status by ``action`` (with the other columns in ``values``) and its
    step; refused E-CLM-004 when the table has no such move."""
    require(row, action)
    status = rules.after(row["status"], action)
    assert status is not None
    call.conn.execute(update(claim).where(claim.c.claim_id == row["claim_id"]).values(
        status=status.value, updated_at=call.now, **values))
    step(call, row["claim_id"], rules.step_of(action, status), reason)
    if status != row["status"]:
        _tell(call, row, status, {**row, **values})
    return status


def _tell(call: Call, row: RowMapping, status: ClaimStatus, now_reads: dict[str, Any]) -> None:
    """The person is told a decision in every channel; the channel the claim came from
    gets a webhook of every change of status (``now_reads``: the row as updated)."""
    if status in rules.DECIDED:
        trust.notify(call, row["psn_no"], "claim_decided", f"{row['claim_id']} {status.value}")
    webhooks.notify(call.conn, channel_id=channel_of(now_reads), event="claim.status",
                    subject_id=row["claim_id"], psn_no=row["psn_no"], now=call.now, payload={
                        "claim_id": row["claim_id"], "status": status.value,
                        "previous": row["status"], "at": call.now.isoformat(sep=" ")})


def channel_of(row: Mapping[str, Any]) -> str:
    """The channel a claim came from: the app that applied ("" for the window or a HIS)."""
    return str(row["applicant"]) if row["source"] == SOURCE_APP else ""


def step(call: Call, claim_id: str, status: str, reason: str) -> None:
    """A step of the claim, taken by the call's actor now."""
    call.conn.execute(insert(claim_step).values(
        claim_id=claim_id, status=status, actor=call.actor.name, at=call.now,
        reason=reason[:1000]))


# ---------------------------------------------------------------- reading


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


@dataclass(frozen=True, slots=True)
class Queued:
    """A claim in the operators' queue: amounts in fen, its age in whole days since it
    was made."""

    claim_id: str
    psn_no: str
    status: str
    fixmedins_code: str
    invono: str
    medfee_sumamt: int
    approved_amount: int | None
    created_at: datetime
    updated_at: datetime
    age_days: int


def queue(conn: Connection, status: str, now: datetime, limit: int) -> list[Queued]:
    """The claims of ``status`` (every status: ""): those awaiting a decision oldest
    first, the others last changed first."""
    query = select(claim.c.claim_id, claim.c.psn_no, claim.c.status, claim.c.fixmedins_code,
                   claim.c.invono, claim.c.medfee_sumamt, claim.c.approved_amount,
                   claim.c.created_at, claim.c.updated_at)
    if status:
        query = query.where(claim.c.status == status)
    if status in rules.AWAITING:
        query = query.order_by(claim.c.created_at, claim.c.claim_id)
    else:
        query = query.order_by(claim.c.updated_at.desc(), claim.c.claim_id.desc())
    return [Queued(**row, age_days=max((now - row["created_at"]).days, 0))
            for row in conn.execute(query.limit(limit)).mappings()]


def counts(conn: Connection) -> dict[str, int]:
    """How many claims are in each status."""
    return {str(status): int(n) for status, n in conn.execute(
        select(claim.c.status, func.count()).group_by(claim.c.status))}


@dataclass(frozen=True, slots=True)
class BillLine:
    """A line of a claim's bill as the reviewer reads it: the item, quantity, price,
    amount (fen), its classification (chrgitm_lv: 01 甲, 02 乙, 03 丙), the part in the
    policy's scope and whether the reviewer left it out."""

    feedetl_sn: str
    code: str
    name: str
    count: str
    price: str
    amount: int
    grade: str
    in_scope: int
    status: str


@dataclass(frozen=True, slots=True)
class Sheet:
    """One claim as the console's claim page shows it: the claim as ``describe`` reads
    it, the person's name and ID number (the page masks it), the bill's lines and the
    settlement of kind claim once approved."""

    claim: dict[str, Any]
    name: str
    certno: str
    lines: tuple[BillLine, ...]
    settled: settlements.Breakdown | None


def sheet(conn: Connection, claim_id: str) -> Sheet:
    """Claim ``claim_id`` for the claim page (E-CLM-001: no such claim)."""
    described = describe(conn, claim_id)
    person = get_person(conn, described["psn_no"])
    mdtrt_id = conn.execute(select(claim.c.mdtrt_id).where(
        claim.c.claim_id == claim_id)).scalar_one()
    lines = tuple(BillLine(
        feedetl_sn=x["feedetl_sn"], code=x["med_list_codg"], name=x["med_list_name"],
        count=x["cnt"], price=x["pric"], amount=x["det_item_fee_sumamt"],
        grade=x["chrgitm_lv"], in_scope=x["inscp_scp_amt"], status=x["status"])
        for x in conn.execute(select(fee_line).where(fee_line.c.mdtrt_id == mdtrt_id)
                              .order_by(fee_line.c.id)).mappings())
    setl_id = described["setl_id"]
    return Sheet(described, person["name"], person["certno"], lines,
                 settlements.breakdown(conn, setl_id) if setl_id else None)
