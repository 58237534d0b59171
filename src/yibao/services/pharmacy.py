"""Pharmacy purchases: 2101 pre-settlement, 2102 settlement and 2103 cancellation
(docs/pharmacy.md).

A purchase is one message with the drug lines. It is settled as an outpatient visit of
the pharmacy, through the same steps as a hospital's 2201 → 2204 → 2207: the visit is
opened (services/visits.py), the lines uploaded and classified against the treatment
place's catalogue (services/fees.py), the settlement computed by the engine and stored
with its ledger posting, accumulators and account movement (services/settlement.py), all
in the message's transaction. A pre-settlement does the same inside a savepoint that is
rolled back: it answers exactly what 2102 would, and stores nothing. On top of that:

- the pharmacy's own catalogue matchings (3301) name the catalogue item of a line whose
  medins_list_codg is matched;
- a special-disease purchase (med_type 14) needs the person's filing (2503) for the
  disease with this pharmacy;
- acct_used_flag 2 lets a bound family member's account pay the cash part (共济);
- drug lines record their days of supply, bounded by the policy's longest supply, and an
  early refill is refused (domain/pharmacy.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from yibao.domain import pharmacy as rules
from yibao.domain.catalogue import Classified
from yibao.domain.codes import VisitClass
from yibao.domain.errors import Refused
from yibao.domain.money import Fen
from yibao.domain.policy import Policy
from yibao.services import fees, settlement, visits
from yibao.services.context import Call, Effect, EffectKind
from yibao.services.persons import Credential
from yibao.store import filings
from yibao.store import pharmacy as store

PHARMACY = "pharmacy"  # institution kind
PURCHASE_MED_TYPES = frozenset({"41", "14"})  # 定点药店购药, 门诊慢特病 (at a pharmacy)
SPECIAL_DISEASE = "14"
OUTPATIENT = VisitClass.OUTPATIENT


@dataclass(frozen=True, slots=True)
class DrugLineIn:
    """A drugdetail line: the fee line and the days it supplies (prd_days)."""

    fee: fees.FeeLineIn
    prd_days: Decimal | None
    rxno: str = ""
    doctor_no: str = ""
    doctor_name: str = ""


@dataclass(frozen=True, slots=True)
class Purchase:
    """A druginfo with its drugdetail lines."""

    psn_no: str
    insutype: str
    med_type: str
    begin: datetime
    credential: Credential
    medfee: Fen  # medfee_sumamt as stated
    account: rules.AccountUse
    lines: tuple[DrugLineIn, ...]
    disease: str = ""  # dise_codg
    mulaid_psn_no: str = ""  # exp_content: which bound family member pays (acct_used_flag 2)
    invono: str = ""


@dataclass(frozen=True, slots=True)
class Bought:
    outcome: settlement.Outcome
    lines: list[tuple[fees.FeeLineIn, Classified, fees.Placed]]


def require_pharmacy(call: Call) -> None:
    if call.institution.kind != PHARMACY:
        raise Refused("E-PHA-001", f"{call.institution.code} is a {call.institution.kind}")


def presettle(call: Call, purchase: Purchase) -> Bought:
    """2101: everything 2102 does, in a savepoint rolled back: nothing is stored."""
    require_pharmacy(call)
    trial = call.conn.begin_nested()
    try:
        return _buy(call, purchase)
    finally:
        trial.rollback()


def settle(call: Call, purchase: Purchase) -> Bought:
    """2102: the visit, its lines, the settlement and the supplies, stored."""
    require_pharmacy(call)
    bought = _buy(call, purchase)
    effect = Effect(EffectKind.PURCHASE, bought.outcome.row["setl_id"])
    return replace(bought, outcome=replace(bought.outcome, effect=effect))


def _buy(call: Call, p: Purchase) -> Bought:
    if p.med_type not in PURCHASE_MED_TYPES:
        raise Refused("E-ENV-005", f"med_type {p.med_type}: a pharmacy purchase is 41 or 14")
    lines = _matched(call, p.lines)
    disease = _special_disease(call, p)
    first = lines[0]
    mdtrt_id = visits.open_visit(call, visits.NewVisit(
        psn_no=p.psn_no, insutype=p.insutype, med_type=p.med_type, begin=p.begin,
        credential=p.credential, ipt_otp_no=(first.rxno or call.ref)[:30],
        doctor_no=first.doctor_no, doctor_name=first.doctor_name), OUTPATIENT).value
    uploaded = fees.upload(call, mdtrt_id, p.psn_no, [x.fee for x in lines], OUTPATIENT)
    request = settlement.SettleRequest(
        psn_no=p.psn_no, mdtrt_id=mdtrt_id, med_type=p.med_type, insutype=p.insutype,
        credential=None,  # the visit's, just presented (an ecToken is checked again)
        use_account=p.account is not rules.AccountUse.NONE,
        stated={"medfee_sumamt": p.medfee}, invono=p.invono,
        mutual_aid_payer=mutual_aid_payer(call, p.psn_no, p.account, p.mulaid_psn_no))
    outcome = settlement.settle_visit(call, request, OUTPATIENT)
    _supplies(call, p, lines, disease, outcome)
    return Bought(outcome, uploaded.value)


def _matched(call: Call, lines: Sequence[DrugLineIn]) -> list[DrugLineIn]:
    """Each line with the catalogue code the pharmacy's matching in force names for its
    medins_list_codg (3301): a line may leave med_list_codg empty then, and may not name
    another (E-PHA-002); a line of an unmatched item names its med_list_codg."""
    if not lines:
        raise Refused("E-ENV-004", "drugdetail is empty")
    matched = store.matched_codes(call.conn, call.institution.code,
                                  {x.fee.medins_code for x in lines}, call.now.date())
    out = []
    for x in lines:
        codes = matched.get(x.fee.medins_code, set())
        code = x.fee.list_code
        if not code and len(codes) == 1:
            code = next(iter(codes))
        elif not code:
            raise Refused("E-ENV-004", f"drugdetail feedetl_sn {x.fee.feedetl_sn}: "
                          f"med_list_codg ({x.fee.medins_code} has no single matching)")
        elif codes and code not in codes:
            raise Refused("E-PHA-002", f"feedetl_sn {x.fee.feedetl_sn}: {x.fee.medins_code} "
                          f"is matched to {', '.join(sorted(codes))}, not {code}")
        out.append(replace(x, fee=replace(x.fee, list_code=code)))
    return out


def _special_disease(call: Call, p: Purchase) -> str:
    """The registered disease of a special-disease purchase ("" for an ordinary one): the
    person's filing for ``dise_codg`` must be with this pharmacy (2503)."""
    if p.med_type != SPECIAL_DISEASE:
        return ""
    if not p.disease:
        raise Refused("E-PHA-003", "a special-disease purchase (med_type 14) names dise_codg")
    filed = filings.disease_institutions(call.conn, p.psn_no, p.disease, call.now)
    if call.institution.code not in filed:
        raise Refused("E-PHA-003", f"dise_codg {p.disease}: filed with "
                      f"{', '.join(filed) or 'no institution'}")
    return p.disease


def mutual_aid_payer(call: Call, psn_no: str, account: rules.AccountUse, named: str) -> str:
    """The family member whose account pays by mutual aid (acct_used_flag 2; "" for 0
    and 1): ``named`` (exp_content.mulaid_psn_no), else the only one bound (E-PHA-005).
    Whether they may pay is the settlement's check (services/settlement.py)."""
    if account is not rules.AccountUse.MUTUAL_AID:
        return ""
    if named:
        return named
    family = store.family_of(call.conn, psn_no)
    if len(family) != 1:
        raise Refused("E-PHA-005", "no family member is bound" if not family else
                      f"{len(family)} family members are bound: name one in "
                      "exp_content.mulaid_psn_no")
    return family[0]


def _supplies(call: Call, p: Purchase, lines: Sequence[DrugLineIn], disease: str,
              outcome: settlement.Outcome) -> None:
    """Check the days each drug supplies against the policy (longest supply, early
    refill) and record them."""
    policy = _policy(call, outcome.row["policy_id"])
    days: dict[str, int] = defaultdict(int)  # a drug on two lines: their days together
    first: dict[str, rules.DrugLine] = {}
    for x in lines:
        line = rules.DrugLine(x.fee.feedetl_sn, x.fee.list_code, rules.supply_days(x.prd_days))
        if line.days is not None:
            days[line.code] += line.days
            first.setdefault(line.code, line)
    if policy.supply is not None:
        for code, total in days.items():
            line = replace(first[code], days=total)
            rules.check_longest(policy.supply, line, disease)
            previous = store.previous_supply(call.conn, p.psn_no, code, call.now)
            rules.check_refill(policy.supply, line, previous, call.now)
    setl_id = outcome.row["setl_id"]
    store.record_supplies(call.conn, [
        dict(setl_id=setl_id, feedetl_sn=line.feedetl_sn, psn_no=p.psn_no,
             med_list_codg=code, fixmedins_code=call.institution.code, begntime=call.now,
             days=days[code])
        for code, line in first.items()])


def _policy(call: Call, policy_id: str) -> Policy:
    found = next((x for x in call.policies if x.policy_id == policy_id), None)
    assert found is not None, policy_id  # the settlement was just computed with it
    return found


def cancel(call: Call, setl_id: str, mdtrt_id: str, psn_no: str) -> settlement.Outcome:
    """2103 (and 2601 of a 2102): the settlement is reversed (accumulators, accounts,
    ledger), then its lines and visit are cancelled and its supplies withdrawn."""
    require_pharmacy(call)
    outcome = settlement.cancel(call, setl_id, mdtrt_id, psn_no, purchase=True)
    fees.cancel(call, mdtrt_id, psn_no, batch=fees.ALL_LINES)
    visits.cancel_visit(call, mdtrt_id, psn_no, OUTPATIENT)
    store.withdraw_supplies(call.conn, setl_id, outcome.row["setl_id"])
    return outcome
