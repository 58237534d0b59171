"""Pre-settlement (2206/2303), settlement (2207/2304) and cancellation (2208/2305).

Order of locks, always: the person's row, then the visit's row. The settlement, its
fund lines, its accumulator deltas, the account movement and the marking of its fee
lines are written in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from yibao.domain import catalogue, pharmacy
from yibao.domain.codes import VisitClass, person_group_of, visit_class_of
from yibao.domain.contribution import check_covered, standing_of
from yibao.domain.engine import Breakdown, EngineError, SettlementInput, settle
from yibao.domain.errors import Refused
from yibao.domain.money import Fen, fen_to_yuan
from yibao.domain.policy import Finance, Policy, Scheme, select_policy
from yibao.domain.states import SettlementKind
from yibao.domain.visit_states import VisitStatus
from yibao.services import (
    accumulators,
    away,
    cards,
    designation,
    ledger,
    special_disease,
    supervision_review,
    trust,
    visits,
)
from yibao.services.context import Call, Effect, EffectKind
from yibao.services.fees import unsettled_lines, unsettled_of
from yibao.services.persons import (
    CERT_ECERT,
    Credential,
    holds,
    lock_person,
    require_insured,
    unknown,
)
from yibao.services.visits import get_visit, require_status
from yibao.store import accounts, online_orders, review_warnings, settlements
from yibao.store import pharmacy as pharmacy_store
from yibao.store.db import pipelined
from yibao.store.lean import Lean, Row
from yibao.store.schema import (
    CLAIM_RELEASED,
    account,
    claim,
    fee_line,
    settlement,
    settlement_fund,
    settlement_line,
)
from yibao.store.schema import (
    SETTLEMENT_AMOUNTS as SETTLEMENT_AMOUNTS,  # read by api/tx_settlement.py
)
from yibao.store.schema import person as person_table

# the person locked, with whether a suspension is in force (details only when
# suspended), in one statement; the account is read with the visit, after the lock
_LOCK_FOR_SETTLEMENT = Lean(
    select(person_table, cards.suspended_on(bindparam("day")).label("suspended"))
    .where(person_table.c.psn_no == bindparam("psn_no"))
    .with_for_update(of=person_table)
)
# a family member paying by mutual aid (locked already: _plan), with their account
_PAYER = Lean(
    select(person_table, account.c.balance,
           online_orders.held_account(person_table.c.psn_no).label("held_account"))
    .outerjoin(account, account.c.psn_no == person_table.c.psn_no)
    .where(person_table.c.psn_no == bindparam("psn_no"))
)
_INSERT_SETTLEMENT = Lean(insert(settlement))
_INSERT_FUNDS = Lean(insert(settlement_fund))
_INSERT_LINKS = Lean(insert(settlement_line))
_MARK_LINES = Lean(
    update(fee_line)
    .where(fee_line.c.id.in_(bindparam("ids", expanding=True)), fee_line.c.setl_id.is_(None))
    .values(setl_id=bindparam("mark"))
)

CLR_TYPES = {VisitClass.OUTPATIENT: "11", VisitClass.INPATIENT: "21"}
PHARMACY_CLR_TYPE = "41"


@dataclass(frozen=True, slots=True)
class SettleRequest:
    psn_no: str
    mdtrt_id: str
    med_type: str  # empty: the visit's
    insutype: str  # empty: the visit's
    credential: Credential | None
    use_account: bool
    stated: dict[str, Fen] = field(default_factory=dict)  # the HIS's totals, checked
    batch: str = ""
    interim: bool = False
    invono: str = ""
    # a manual reimbursement (services/review.py): no suspension or filing check,
    # the basis away from home decided by the claim, stored as kind SettlementKind.CLAIM
    manual: bool = False
    manual_basis: away.Claimed | None = None
    booked_at: datetime | None = None  # a manual reimbursement: its approval, not the care
    # an online order: the person authorised it in a channel (payAuthNo), no credential
    # is presented (services/online.py)
    online: bool = False
    # acct_used_flag 2: the psn_no of the bound family member whose personal account pays
    # the cash part (共济, services/pharmacy.py chooses and checks them)
    mutual_aid_payer: str = ""
    # MDTRT_GRP_TYPE as 2206/2207 state it in exp_content ("": the visit's, from
    # 2201/2203/2401/2403); the insured place's policy may give the group its own rule
    grp_type: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A computed (and, unless a pre-settlement, stored) settlement."""

    row: dict[str, Any]
    funds: list[dict[str, Any]]
    person: Row
    effect: Effect | None = None  # None for a pre-settlement (nothing stored)


def presettle(call: Call, req: SettleRequest, visit_class: VisitClass) -> Outcome:
    """Compute exactly what settle would, and store nothing."""
    plan = _plan(call, req, visit_class)
    return Outcome(_settlement_row(call, plan, "P"), _fund_rows(plan.breakdown), plan.person)


def settle_visit(call: Call, req: SettleRequest, visit_class: VisitClass) -> Outcome:
    plan = _plan(call, req, visit_class)
    row = _settlement_row(call, plan, call.ids.new("S"))
    funds = _fund_rows(plan.breakdown)
    _store(call, plan, row, funds)
    return Outcome(row, funds, plan.person, Effect(EffectKind.SETTLEMENT, row["setl_id"]))


@dataclass(frozen=True, slots=True)
class _Plan:
    req: SettleRequest
    person: Row
    insurance: Row
    visit: Row
    policy: Policy
    lines: Sequence[Row]
    breakdown: Breakdown
    visit_class: VisitClass
    basis: away.Away | None
    aid: Aid | None = None
    grp_type: str = ""  # the population group the settlement used (docs/fever.md)
    registration: str | None = None  # special-disease care at home: its 2503 registration


@dataclass(frozen=True, slots=True)
class Aid:
    """A family member's account paying by mutual aid: who, their balance (read under
    their lock) and the split it gives."""

    payer: str
    balance: Fen
    split: pharmacy.MutualAid


def _plan(call: Call, req: SettleRequest, visit_class: VisitClass,
          lines: Sequence[Row] | None = None) -> _Plan:
    """Everything a settlement needs, computed under the person's lock; ``lines``: the
    lines an online order reserved (else the visit's unsettled ones).

    The person's lock is taken before the statement that reads the balance and the held
    account (the visit's): on PostgreSQL a statement that waits for a row lock still
    reads every other table (the account, the online orders) as they were when it
    began, before the transaction it waited for committed its account move or hold.
    With a family member paying by mutual aid, both are locked first, in order."""
    if req.mutual_aid_payer:
        for psn_no in sorted({req.psn_no, req.mutual_aid_payer}):  # always in this order
            lock_person(call.conn, psn_no)
    locked = _LOCK_FOR_SETTLEMENT.first(call.conn, {"psn_no": req.psn_no, "day": call.now.date()})
    if locked is None:
        raise unknown(call.conn, req.psn_no)
    visit = get_visit(call, req.mdtrt_id, req.psn_no, for_settlement=True)
    person = {**locked, "balance": visit["balance"], "held_account": visit["held_account"]}
    req = replace(req, med_type=req.med_type or visit["med_type"])
    _check_visit(call.conn, visit, req, visit_class)
    if req.invono and not req.manual:
        _check_not_claimed(call, req.invono)
    if person["suspended"] and not req.manual:  # reimbursement stays possible
        cards.check_not_suspended(call.conn, req.psn_no, call.now.date())  # says until when
    cred = None if req.online else req.credential or _registered_token(call, req, visit)
    if cred is not None and not holds(call.conn, cred, person):
        raise Refused("E-PSN-005", "the credential belongs to another person")
    insurance = require_insured(visit, visit["insutype"], call.now.date())
    # a reimbursement's reviewer decides its lines (services/review.py): no check
    block = frozenset() if req.manual else supervision_review.blocking_rules(
        call, visit["insutype"])
    rows = None  # the visit's lines with their limits, when the check needs them
    if lines is None and block:  # one statement reads both
        rows = review_warnings.visit_rows(call.conn, req.mdtrt_id, call.institution.pool_area)
        lines = unsettled_of(rows, req.batch)
    elif lines is None:
        lines = unsettled_lines(call.conn, req.mdtrt_id, req.batch)
    if not lines:
        raise Refused("E-FEE-004", f"mdtrt_id {req.mdtrt_id}")
    totals = _totals(lines)
    _check_stated(req.stated, totals)
    if block:
        supervision_review.check_settlement(call, block, person, visit, lines, rows)
    policy, scheme = _policy(call, person["insuplc_admdvs"], visit["insutype"], req.med_type)
    basis = away.claimed(policy, req.manual_basis) if req.manual else away.decide(
        call.conn, person=person, insurance=insurance, visit=visit,
        institution=call.institution, policy=policy, now=call.now)
    registration = None if req.manual else _entitled(call, req, person, visit, policy, basis)
    if basis is None:  # at home: a hospital not open to all needs the designation
        designation.check_settlement(call, policy=policy, person=person, visit=visit,
                                     med_type=req.med_type)
    if basis is not None:
        scheme = scheme.reduced(basis.cut)
    grp_type = req.grp_type or visit["mdtrt_grp_type"]
    group = policy.groups.get(grp_type) if grp_type else None
    if group is not None:  # after the away cut: the group's rule is the insured place's
        scheme = scheme.for_group(group)
    breakdown = _compute(call, req, person, insurance, scheme, totals, visit_class,
                         None if group is None else group.finance)
    aid = _mutual_aid(call, req, person, policy, breakdown) if req.mutual_aid_payer else None
    return _Plan(req, person, insurance, visit, policy, lines, breakdown, visit_class, basis,
                 aid, grp_type, registration)


def _entitled(call: Call, req: SettleRequest, person: Row, visit: Row,
              policy: Policy, basis: away.Away | None) -> str | None:
    """The contribution status on the care day allows benefits (read with the visit: no
    statement of its own), and special-disease care at home rests on a registration
    (its trt_dcla_detl_sn, else None)."""
    standing = standing_of(visit["contrib_stas"], visit["contrib_since"], visit["contrib_until"])
    check_covered(standing, policy.contribution, call.now.date(), visit["insutype"])
    if basis is not None or req.med_type != special_disease.MED_TYPE:
        return None
    return special_disease.registration_at_home(call.conn, person=person, visit=visit,
                                                policy=policy, at=call.now)


def _mutual_aid(call: Call, req: SettleRequest, person: Row, policy: Policy,
                b: Breakdown) -> Aid:
    """The family member ``req.mutual_aid_payer`` (locked in ``_plan``) pays what the
    person's own account left in cash, up to their available balance (E-PHA-004/005/006).
    The buyer's insured place's policy decides whether mutual aid is allowed
    (``[pharmacy] mutual_aid``), even where the buyer has no account of their own (a
    resident): that is what mutual aid is for."""
    payer = _PAYER.first(call.conn, {"psn_no": req.mutual_aid_payer})
    if payer is None:
        raise Refused("E-PHA-005", f"{req.mutual_aid_payer} is unknown")
    pharmacy.check_mutual_aid(
        allowed=policy.mutual_aid, policy_id=policy.policy_id,
        bound=pharmacy_store.bound_as_family(call.conn, req.psn_no, req.mutual_aid_payer),
        same_place=payer["insuplc_admdvs"] == person["insuplc_admdvs"],
        payer=req.mutual_aid_payer)
    available = (payer["balance"] or 0) - payer["held_account"]
    if b.cash > 0 and available <= 0:
        raise Refused("E-PHA-006", f"{req.mutual_aid_payer}'s account has no balance left")
    return Aid(req.mutual_aid_payer, payer["balance"] or 0,
               pharmacy.with_mutual_aid(b.acct_pay, b.cash, max(0, available)))


def claim_of_invoice(conn: Connection, code: str, invono: str) -> str | None:
    """The manual-reimbursement claim (not rejected or withdrawn) of an institution's
    invoice."""
    taken: str | None = conn.execute(select(claim.c.claim_id).where(
        claim.c.fixmedins_code == code, claim.c.invono == invono,
        claim.c.status.not_in(CLAIM_RELEASED))).scalar_one_or_none()
    return taken


def claim_of_visit(conn: Connection, mdtrt_id: str) -> str | None:
    """The manual-reimbursement claim (not rejected or withdrawn) of a visit."""
    taken: str | None = conn.execute(select(claim.c.claim_id).where(
        claim.c.mdtrt_id == mdtrt_id,
        claim.c.status.not_in(CLAIM_RELEASED))).scalar_one_or_none()
    return taken


def _check_not_claimed(call: Call, invono: str) -> None:
    """An invoice claimed for manual reimbursement is not settled in real time as well."""
    taken = claim_of_invoice(call.conn, call.institution.code, invono)
    if taken is not None:
        raise Refused("E-CLM-002", f"invoice {invono} is claim {taken}")


def _check_visit(
    conn: Connection, visit: Row, req: SettleRequest, visit_class: VisitClass
) -> None:
    if visit["visit_class"] != visit_class.value:
        raise Refused("E-VIS-003", f"visit {req.mdtrt_id} is {visit['visit_class']}")
    if visit_class_of(req.med_type) is not visit_class:
        raise Refused("E-VIS-003", f"med_type {req.med_type} for a {visit_class} visit")
    if req.insutype and req.insutype != visit["insutype"]:
        raise Refused("E-PSN-003", f"visit was registered under {visit['insutype']}")
    if req.manual:
        require_status(visit, VisitStatus.SELFPAID)
        return
    if visit_class is VisitClass.OUTPATIENT:
        require_status(visit, VisitStatus.OPEN)
        return
    require_status(visit, VisitStatus.OPEN, VisitStatus.DISCHARGED)
    if req.interim and visit["status"] == VisitStatus.DISCHARGED:
        raise Refused("E-VIS-002", "interim settlement of a discharged stay")
    if settlements.live_of_visit(conn, req.mdtrt_id, final_only=True):
        raise Refused("E-SETL-005", "the stay is already finally settled")


def _totals(lines: Sequence[Row]) -> catalogue.Totals:
    totals = catalogue.Totals(
        medfee=sum(r["det_item_fee_sumamt"] for r in lines),
        fulamt_ownpay=sum(r["fulamt_ownpay_amt"] for r in lines),
        overlmt_selfpay=sum(r["overlmt_amt"] for r in lines),
        preselfpay=sum(r["preselfpay_amt"] for r in lines),
        in_scope=sum(r["inscp_scp_amt"] for r in lines),
    )
    if min(totals.medfee, totals.in_scope, totals.fulamt_ownpay, totals.preselfpay,
           totals.overlmt_selfpay) < 0:
        raise Refused("E-SETL-001", "refund lines exceed the lines they refund")
    return totals


STATED_FIELDS = {  # the totals a HIS states with 2207 / 2304 (field: Totals attribute)
    "medfee_sumamt": "medfee",
    "fulamt_ownpay_amt": "fulamt_ownpay",
    "overlmt_selfpay": "overlmt_selfpay",
    "preselfpay_amt": "preselfpay",
    "inscp_scp_amt": "in_scope",
}


def _check_stated(stated: dict[str, Fen], totals: catalogue.Totals) -> None:
    """The totals the HIS stated are those of the uploaded details."""
    for name, attr in STATED_FIELDS.items():
        sent = stated.get(name)
        actual = getattr(totals, attr)
        if sent is not None and sent != actual:
            raise Refused(
                "E-SETL-001",
                f"{name} sent {fen_to_yuan(sent)}, uploaded details give {fen_to_yuan(actual)}",
            )


def _policy(call: Call, region: str, insutype: str, med_type: str) -> tuple[Policy, Scheme]:
    day = call.now.date()
    policy = select_policy(call.policies, region=region, insutype=insutype, day=day)
    if policy is None:
        raise Refused("E-POL-001", f"region {region}, insutype {insutype}, {day}")
    scheme = policy.scheme_for(med_type)
    if scheme is None:
        raise Refused("E-POL-002", f"med_type {med_type} in policy {policy.policy_id}")
    return policy, scheme


def _compute(
    call: Call, req: SettleRequest, person: Row, insurance: Row, scheme: Scheme,
    totals: catalogue.Totals, visit_class: VisitClass, finance: Finance | None = None,
) -> Breakdown:
    insutype = insurance["insutype"]
    year = accumulators.read(call.conn, req.psn_no, insutype, str(call.now.year))
    stay = {}
    if visit_class is VisitClass.INPATIENT:
        period = accumulators.stay_period(req.mdtrt_id)
        stay = accumulators.read(call.conn, req.psn_no, insutype, period)
    balance = (person["balance"] or 0) - person["held_account"]  # online orders hold some
    group = person_group_of(insurance["psn_type"], person["brdy"], call.now.date())
    try:
        return settle(
            SettlementInput(
                scheme, group, call.institution.level, totals, year, stay, balance,
                req.use_account, finance,
            )
        )
    except EngineError as exc:
        raise Refused("E-POL-002", str(exc)) from exc


def _settlement_row(call: Call, plan: _Plan, setl_id: str) -> dict[str, Any]:
    b, t, aid = plan.breakdown, plan.breakdown.totals, plan.aid
    clr_type = (
        PHARMACY_CLR_TYPE if call.institution.kind == "pharmacy" else CLR_TYPES[plan.visit_class]
    )
    return dict(
        setl_id=setl_id, psn_no=plan.req.psn_no, mdtrt_id=plan.req.mdtrt_id,
        fixmedins_code=call.institution.code,
        kind=SettlementKind.CLAIM if plan.req.manual else SettlementKind.SETTLE,
        reverses=None, invono=plan.req.invono,
        insutype=plan.insurance["insutype"], psn_type=plan.insurance["psn_type"],
        med_type=plan.req.med_type, mid_setl_flag="1" if plan.req.interim else "0",
        seq=plan.visit["next_seq"], setl_time=call.now, year=call.now.year,
        policy_id=plan.policy.policy_id, clr_type=clr_type, msgid=call.ref,
        mdtrt_cert_type=(plan.req.credential or _visit_credential(plan.visit)).cert_type,
        insuplc_admdvs=plan.person["insuplc_admdvs"], mdtrtarea_admvs=call.institution.pool_area,
        trt_dcla_detl_sn=plan.basis.filing if plan.basis else plan.registration,
        trum_dcla_detl_sn=plan.basis.declaration if plan.basis else None,
        away_basis=plan.basis.category.value if plan.basis else "",
        fever=bool(plan.visit["fever"]), mdtrt_grp_type=plan.grp_type,
        medfee_sumamt=t.medfee, fulamt_ownpay_amt=t.fulamt_ownpay,
        overlmt_selfpay=t.overlmt_selfpay, preselfpay_amt=t.preselfpay,
        inscp_scp_amt=t.in_scope, act_pay_dedc=b.deductible,
        pool_prop_selfpay=str(b.pool_ratio), **b.fund_fields(),
        fund_pay_sumamt=b.fund_sum, psn_part_amt=b.psn_part,
        # acct_pay includes what a family member's account paid (acct_mulaid_pay)
        acct_pay=b.acct_pay if aid is None else aid.split.acct_pay,
        psn_cash_pay=b.cash if aid is None else aid.split.cash, hosp_part_amt=0,
        acct_mulaid_pay=0 if aid is None else aid.split.paid,
        balc=b.balance_after + plan.person["held_account"],  # the account's, holds aside
    )


def _visit_credential(visit: Row) -> Credential:
    return Credential(visit["mdtrt_cert_type"], visit["mdtrt_cert_no"])


def _registered_token(call: Call, req: SettleRequest, visit: Row) -> Credential | None:
    """A message that presents no credential settles a visit registered with an ecToken
    under that token: its business type must allow this transaction, and it must still be
    this institution's, unexpired and unrevoked (the visit keeps the token's SHA-256)."""
    if req.manual or visit["mdtrt_cert_type"] != CERT_ECERT:
        return None
    return Credential(CERT_ECERT, visit["mdtrt_cert_no"], institution=call.institution.code,
                      infno=call.infno, at=call.now)


def _fund_rows(b: Breakdown) -> list[dict[str, Any]]:
    return [
        dict(
            seq=i, fund_pay_type=f.fund, inscp_scp_amt=f.in_scope, crt_payb_lmt_amt=f.cap_room,
            fund_payamt=f.paid, setl_proc_info=f.proc_info,
        )
        for i, f in enumerate(b.funds)
    ]


def _store(call: Call, plan: _Plan, row: dict[str, Any], funds: list[dict[str, Any]]) -> None:
    ids = [line["id"] for line in plan.lines]
    away_lines = plan.lines if plan.basis is not None and not plan.req.manual else None
    aid = None if plan.aid is None else (plan.aid.payer, plan.aid.balance)
    if plan.grp_type != plan.visit["mdtrt_grp_type"]:  # 2207 stated another group
        visits.set_group(call.conn, plan.req.mdtrt_id, plan.grp_type)
    marked = _write(call, row, funds, ids, _deltas(plan, row), plan.person["balance"] or 0,
                    away_lines, plan.req.booked_at, aid, mark=True)
    assert marked == len(ids), (marked, len(ids))  # read under the visit's lock: all unmarked


def _deltas(plan: _Plan, row: dict[str, Any]) -> list[tuple[str, str, int]]:
    """The (period, key, delta) rows the settlement adds to the person's history."""
    b, stay = plan.breakdown, accumulators.stay_period(row["mdtrt_id"])
    return ([(str(row["year"]), k, d) for k, d in b.year_deltas]
            + [(stay, k, d) for k, d in b.stay_deltas])


def _write(
    call: Call, row: dict[str, Any], funds: list[dict[str, Any]], line_ids: list[int],
    deltas: list[tuple[str, str, int]], balance: Fen, away_lines: Sequence[Row] | None,
    booked_at: datetime | None, aid: tuple[str, Fen] | None = None, *, mark: bool = False,
) -> int:
    """Store a settlement: the row, its funds, its deltas, the account's movement from
    ``balance`` (read under the person's lock) and, by mutual aid, the family member's
    (``aid``: who, their balance read under their lock), the links to its lines, the
    ledger posting and, away from home, the cost information. ``mark``: its lines are
    marked with it here too (else they are already); how many were marked."""
    conn, setl_id = call.conn, row["setl_id"]
    marked: Callable[[], int] = lambda: 0  # noqa: E731
    with pipelined(conn):  # nothing below reads an answer before the end: one round trip
        if mark:
            marked = _MARK_LINES.counted(conn, {"ids": line_ids, "mark": setl_id})
        _INSERT_SETTLEMENT.run(conn, row)
        if funds:
            _INSERT_FUNDS.run(conn, [dict(f, setl_id=setl_id, psn_no=row["psn_no"])
                                     for f in funds])
        accumulators.add(conn, setl_id=setl_id, psn_no=row["psn_no"],
                         insutype=row["insutype"], deltas=deltas)
        own = row["acct_pay"] - row["acct_mulaid_pay"]
        _move_account(call, row["psn_no"], setl_id, -own, balance)
        if aid is not None:
            _move_account(call, aid[0], setl_id, -row["acct_mulaid_pay"], aid[1])
        _INSERT_LINKS.run(conn, [dict(setl_id=setl_id, fee_line_id=i, psn_no=row["psn_no"])
                                 for i in line_ids])
        ledger.post_settlement(conn, row, funds, booked_at)
        trust.notify(call, row["psn_no"], "settlement_made", f"{setl_id} {row['fixmedins_code']} "
                     f"{fen_to_yuan(row['medfee_sumamt'])}")  # in every channel of the person
        if away_lines is not None:
            away.send_cost_information(conn, row, funds, away_lines, call.now)
    return marked()


# ---------------------------------------------------------------- two-phase (online orders)


@dataclass(frozen=True, slots=True)
class Held:
    """A settlement computed for an online order and kept until its payment: the row (its
    ``setl_id``, time and balance still to be set), the fund lines, the order's fee lines
    and the deltas it holds (``services/online.py``)."""

    row: dict[str, Any]
    funds: list[dict[str, Any]]
    line_ids: list[int]
    deltas: list[tuple[str, str, int]]
    away: bool

    def to_json(self) -> str:
        row = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.row.items()}
        return json.dumps({"row": row, "funds": self.funds, "line_ids": self.line_ids,
                           "deltas": self.deltas, "away": self.away}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Held:
        data = json.loads(text)
        row = dict(data["row"])
        row["setl_time"] = datetime.fromisoformat(row["setl_time"])
        return cls(row, data["funds"], data["line_ids"],
                   [(p, k, d) for p, k, d in data["deltas"]], data["away"])


def compute_held(call: Call, req: SettleRequest, visit_class: VisitClass,
                 lines: Sequence[Row]) -> Held:
    """The settlement of an online order's ``lines``, computed under the person's lock
    with the room other orders hold counted as used; nothing stored here."""
    plan = _plan(call, req, visit_class, lines)
    row = _settlement_row(call, plan, "P")
    return Held(row, _fund_rows(plan.breakdown), [line["id"] for line in lines],
                _deltas(plan, row), plan.basis is not None)


def store_held(call: Call, held: Held, pay_ord_id: str) -> Outcome:
    """Write ``held`` as a settlement now (the payment's moment: its month is cleared;
    its year's room was held in the year it was computed). The caller holds the person's
    lock; the order's lines move to the new setl_id; the account moves from its balance
    now."""
    psn_no, mdtrt_id = held.row["psn_no"], held.row["mdtrt_id"]
    person = lock_person(call.conn, psn_no)
    visit = get_visit(call, mdtrt_id, psn_no, for_settlement=True)
    balance = accounts.balance(call.conn, psn_no)
    row = dict(held.row, setl_id=call.ids.new("S"), setl_time=call.now, msgid=call.ref,
               seq=visit["next_seq"], balc=balance - held.row["acct_pay"])
    away_lines = online_orders.lines(call.conn, pay_ord_id, mdtrt_id) if held.away else None
    marked = online_orders.settle_lines(call.conn, pay_ord_id, mdtrt_id, row["setl_id"])
    assert marked == len(held.line_ids), (pay_ord_id, marked, held.line_ids)
    _write(call, row, held.funds, held.line_ids, held.deltas, balance, away_lines, None)
    return Outcome(row, held.funds, person, Effect(EffectKind.SETTLEMENT, row["setl_id"]))


def _move_account(call: Call, psn_no: str, setl_id: str, amount: Fen, balance: Fen) -> None:
    """Move the personal account by ``amount`` from ``balance``, read under the person's
    lock (so it is the balance the update starts from)."""
    if amount == 0:
        return
    after = balance + amount
    assert after >= 0, (psn_no, balance, amount)  # the engine pays at most the balance
    accounts.move(call.conn, psn_no, setl_id=setl_id, amount=amount, balance_after=after,
                  at=call.now)


# ---------------------------------------------------------------- cancellation


def cancel(call: Call, setl_id: str, mdtrt_id: str, psn_no: str, *,
           purchase: bool = False) -> Outcome:
    """2208 / 2305: a new reversing settlement; accumulators and account restored exactly.
    A pharmacy purchase (2102) is cancelled only by 2103 (``purchase``, which also
    cancels its lines and visit: services/pharmacy.py), and 2103 cancels nothing else."""
    original = _settlement_of_caller(call, setl_id)
    if original["mdtrt_id"] != mdtrt_id or original["psn_no"] != psn_no:
        raise Refused("E-SETL-002", f"setl_id {setl_id} is not of this visit and person")
    # the buyer and a family member whose account paid by mutual aid, in _plan's order
    owners = {psn_no, *(p for p, _ in pharmacy_store.account_entries(call.conn, setl_id))}
    person = {p: lock_person(call.conn, p) for p in sorted(owners)}[psn_no]
    visit = get_visit(call, mdtrt_id, psn_no, lock=True)
    if is_purchase(visit, original) != purchase:
        raise Refused("E-PHA-007", f"setl_id {setl_id} was settled by "
                      f"{'2102' if not purchase else '2207'}")
    live = settlements.live_of_visit(call.conn, mdtrt_id, final_only=False)
    if setl_id not in live:
        raise Refused("E-SETL-003", f"setl_id {setl_id}")
    if original["visit_class_inpatient"] and live[-1] != setl_id:
        raise Refused("E-SETL-004", f"cancel {live[-1]} first")
    return _reverse(call, original, person)


def is_purchase(visit: Row, row: dict[str, Any]) -> bool:
    """Whether a settlement is a pharmacy purchase (2102): its visit was opened by the
    same message (a hospital's visit and settlement are two messages, 2201 and 2207)."""
    return bool(visit["msgid"] == row["msgid"])


def _settlement_of_caller(call: Call, setl_id: str) -> dict[str, Any]:
    row = call.conn.execute(
        select(settlement).where(settlement.c.setl_id == setl_id,
                                 settlement.c.kind == SettlementKind.SETTLE)
    ).mappings().first()
    if row is None or row["fixmedins_code"] != call.institution.code:
        raise Refused("E-SETL-002", f"setl_id {setl_id}")
    out = dict(row)
    out["visit_class_inpatient"] = visit_class_of(row["med_type"]) is VisitClass.INPATIENT
    return out


def _reverse(call: Call, original: dict[str, Any], person: Row) -> Outcome:
    conn = call.conn
    new_id = call.ids.new("C")
    row = {column.name: original[column.name] for column in settlement.columns}
    row.update({name: -original[name] for name in SETTLEMENT_AMOUNTS})
    row.update(
        setl_id=new_id, kind=SettlementKind.CANCEL, reverses=original["setl_id"],
        setl_time=call.now, msgid=call.ref, seq=original["seq"],
    )
    funds = [
        dict(
            seq=f["seq"], fund_pay_type=f["fund_pay_type"], inscp_scp_amt=-f["inscp_scp_amt"],
            crt_payb_lmt_amt=f["crt_payb_lmt_amt"], fund_payamt=-f["fund_payamt"],
            setl_proc_info=f"冲销 {original['setl_id']}",
        )
        for f in conn.execute(
            select(settlement_fund).where(settlement_fund.c.setl_id == original["setl_id"])
        ).mappings()
    ]
    moved = pharmacy_store.account_entries(conn, original["setl_id"])  # buyer, family
    own = sum(amount for psn_no, amount in moved if psn_no == original["psn_no"])
    balance = accounts.balance(conn, original["psn_no"])
    row["balc"] = balance - own
    conn.execute(insert(settlement).values(**row))
    if funds:
        conn.execute(
            insert(settlement_fund),
            [dict(f, setl_id=new_id, psn_no=original["psn_no"]) for f in funds],
        )
    deltas = [(p, k, -d) for p, k, d in accumulators.deltas_of(conn, original["setl_id"])]
    accumulators.add(
        conn, setl_id=new_id, psn_no=original["psn_no"], insutype=original["insutype"],
        deltas=deltas,
    )
    for psn_no, amount in moved:  # every account moved back exactly (a relative's too)
        before = balance if psn_no == original["psn_no"] else accounts.balance(conn, psn_no)
        _move_account(call, psn_no, new_id, -amount, before)
    conn.execute(
        update(fee_line)
        .where(fee_line.c.setl_id == original["setl_id"])
        .values(setl_id=None)
    )
    ledger.post_settlement(conn, row, funds)
    if row["away_basis"]:
        away.send_cost_information(conn, row, funds, [], call.now)
    return Outcome(row, funds, person, Effect(EffectKind.SETTLEMENT_CANCEL, new_id))
