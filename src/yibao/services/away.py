"""Care away from the insured place (异地就医): may this visit settle directly here, on
what basis, and the cost information the treatment place owes the national platform.
A manual reimbursement of such care rests on the filing it names only where this
module's rules would have let the same care settle on it (``claim_basis``).

"Catalogue of the place of treatment, policy of the insured place": fee lines were
classified against this institution's area catalogue when uploaded; the policy (and its
ratio cut for the basis found here) is the insured place's. Accumulators are the
person's own, whichever place settles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, select

from yibao.domain import filing as rules
from yibao.domain.errors import Refused
from yibao.domain.filing import ACTIVE, CANCELLED, window_of
from yibao.domain.money import fen_to_yuan
from yibao.domain.policy import Policy
from yibao.services import outbox
from yibao.services.context import Institution
from yibao.store.schema import SETTLEMENT_AMOUNTS, filing

EMERGENCY_MED_TYPES = frozenset({"13", "24"})  # 急诊, 急诊转住院
TRAUMA_MED_TYPES = frozenset({"19", "22"})  # 意外伤害门诊, 外伤住院
SPECIAL_DISEASE_MED_TYPE = "14"  # 门诊慢特病
COST_KIND = "away-cost"

_FILINGS = select(filing).where(filing.c.psn_no == bindparam("psn_no"))
_INSTANT = timedelta(microseconds=1)  # a window's end is exclusive: its last day ends before


@dataclass(frozen=True, slots=True)
class Away:
    """The basis of a direct settlement away from home."""

    category: rules.Category
    filing: str | None  # trt_dcla_detl_sn; None for emergencies and unfiled cases
    cut: Decimal  # ratio points the insured place takes off
    declaration: str | None  # the injury declaration the care needed


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a manual reimbursement away from home rests on."""

    category: rules.Category
    filing: str | None  # the filing the claim names; None: unfiled
    declaration: str | None  # the injury declaration the care needed
    emergency: bool = False  # emergency care: its own basis too, as in ``decide``


def decide(
    conn: Connection, *, person: RowMapping, insurance: RowMapping, visit: RowMapping,
    institution: Institution, policy: Policy, now: datetime,
) -> Away | None:
    """None at home; otherwise the basis, or a refusal that says why and what to do."""
    if person["insuplc_admdvs"] == institution.pool_area:
        return None
    if not institution.networked:
        raise Refused("E-FIL-001", f"{institution.code} ({institution.pool_area})")
    filings = _standing(conn.execute(_FILINGS, {"psn_no": person["psn_no"]}).mappings())
    span = _Span(visit["begntime"], visit["endtime"], now)
    relationship = current_relationship(person, insurance)
    declaration = None
    if _is_injury(visit):
        declaration = _check_declaration(
            visit, _covering(_declarations(filings), span), institution.pool_area,
            relationship)
    here = _basis_filings(filings, visit)
    if visit["med_type"] == SPECIAL_DISEASE_MED_TYPE:
        found = _disease_filing(here, institution.code, span, relationship)
    else:
        found = _area_basis(here, visit, span, relationship, policy.away)
    if found is None:
        found = _unfiled(policy)
    category, serial = found
    if category.value not in policy.away:
        raise Refused("E-FIL-002", f"insured place {policy.region} settles no {category} "
                      "care away from home directly")
    return Away(category, serial, policy.away[category.value], declaration)


@dataclass(frozen=True, slots=True)
class _Span:
    begin: datetime
    end: datetime | None  # discharge
    at: datetime

    def covered_by(self, row: RowMapping) -> bool:
        return rules.covers(window_of(row), visit_begin=self.begin, visit_end=self.end,
                            at=self.at)


def current_relationship(person: RowMapping, insurance: RowMapping) -> rules.Relationship:
    """The person's insured relationship now: a filing counts only if made under it."""
    return rules.Relationship(
        insurance["insutype"], person["insuplc_admdvs"], insurance["emp_name"])


def _relationship_of(row: RowMapping) -> rules.Relationship:
    return rules.Relationship(row["insutype"], row["insuplc_admdvs"], row["emp_name"])


def _is_emergency(visit: RowMapping) -> bool:
    """Emergency care: settled away from home as if filed (the emergency category)."""
    return visit["med_type"] in EMERGENCY_MED_TYPES or visit["emergency"] == "1"


def _is_injury(visit: RowMapping) -> bool:
    """Injury care: settled (or reimbursed) away from home only with a declaration."""
    return visit["med_type"] in TRAUMA_MED_TYPES or visit["trum_flag"] == "1"


def serves(row: RowMapping, visit: RowMapping, at: datetime) -> bool:
    """Whether a direct settlement of the visit at ``at`` could rest on the filing, as
    its basis (the kind and place ``decide`` looks for) or as its injury declaration,
    coverage as in ``decide``; the insured relationship and an emergency's own basis
    aside. At home no filing counts."""
    if visit["mdtrtarea_admvs"] == visit["insuplc_admdvs"]:
        return False
    fitting = _basis_filings([row], visit)
    if _is_injury(visit):
        fitting += _declared_for([row], visit)
    return bool(_covering(fitting, _Span(visit["begntime"], visit["endtime"], at)))


def _standing(filings: Iterable[RowMapping]) -> list[RowMapping]:
    """The filings that may count: a cancelled one was withdrawn (a superseded or expired
    one still covers what its validity overlapped)."""
    return [f for f in filings if f["status"] != CANCELLED]


def _declarations(filings: Iterable[RowMapping]) -> list[RowMapping]:
    return [f for f in filings if f["kind"] == rules.Kind.TRAUMA]


def _check_declaration(visit: RowMapping, declared: list[RowMapping], area: str,
                       relationship: rules.Relationship) -> str:
    """The serial of the newest of the ``declared`` injury declarations (those that count
    for the care, oldest first) for this area made under the person's current insured
    relationship: an injury away from home rests on one."""
    if visit["rel_ttp_flag"] == "1":
        raise Refused("E-FIL-007", f"mdtrt_id {visit['mdtrt_id']} (REL_TTP_FLAG 1)")
    here = _for_area(declared, rules.Kind.TRAUMA, area)
    injured = _injured_by(here, visit)
    valid = _made_under(injured, relationship)
    if valid:
        return str(valid[-1]["trt_dcla_detl_sn"])
    if injured:
        raise _filed_under_another_relationship(injured[-1], relationship)
    if here:
        raise Refused("E-FIL-010", f"{here[-1]['trt_dcla_detl_sn']} declares an injury on "
                      f"{here[-1]['trum_time']:%Y-%m-%d}, after the care began "
                      f"({visit['begntime']:%Y-%m-%d})")
    if declared:
        raise Refused("E-FIL-012", f"{declared[-1]['trt_dcla_detl_sn']} is for "
                      f"{declared[-1]['mdtrtarea_admdvs']}, the care is in {area}")
    raise Refused("E-FIL-010", f"no declaration for care in {area} on "
                  f"{visit['begntime']:%Y-%m-%d} (mdtrt_id {visit['mdtrt_id']})")


def _declared_for(filings: Iterable[RowMapping], visit: RowMapping) -> list[RowMapping]:
    """The injury declarations for the visit's area, of an injury that had happened by
    the day the care began."""
    return _injured_by(_for_area(filings, rules.Kind.TRAUMA, visit["mdtrtarea_admvs"]), visit)


def _injured_by(declarations: Iterable[RowMapping], visit: RowMapping) -> list[RowMapping]:
    """The declarations of an injury that happened by the day the care began (one with
    no injury time: any injury)."""
    begun = visit["begntime"].date()
    return [d for d in declarations if d["trum_time"] is None or d["trum_time"].date() <= begun]


def _covering(filings: Iterable[RowMapping], span: _Span) -> list[RowMapping]:
    """The filings that cover the visit, oldest first."""
    return _oldest_first(f for f in filings if span.covered_by(f))


def _oldest_first(filings: Iterable[RowMapping]) -> list[RowMapping]:
    return sorted(filings, key=lambda f: (f["begin_at"], f["trt_dcla_detl_sn"]))


def _made_under(filings: list[RowMapping], relationship: rules.Relationship
                ) -> list[RowMapping]:
    return [f for f in filings if _relationship_of(f) == relationship]


def _filed_under_another_relationship(row: RowMapping, now: rules.Relationship) -> Refused:
    """E-FIL-006 naming what changed since the filing was made."""
    then = _relationship_of(row)
    changed = "; ".join(f"{name} {old} (now {new})" for name, old, new in (
        ("insured place", then.insured_area, now.insured_area),
        ("insutype", then.insutype, now.insutype),
        ("employer", then.employer, now.employer)) if old != new)
    return Refused("E-FIL-006", f"{row['trt_dcla_detl_sn']} was filed under {changed}")


def _for_area(filings: Iterable[RowMapping], kind: rules.Kind, area: str) -> list[RowMapping]:
    """The area filings (or injury declarations) for a co-ordination area."""
    return [f for f in filings if f["kind"] == kind and f["mdtrtarea_admdvs"] == area]


def _with_institution(filings: Iterable[RowMapping], code: str) -> list[RowMapping]:
    """The special-disease filings with an institution."""
    return [f for f in filings if f["kind"] == rules.Kind.DISEASE and f["fixmedins_code"] == code]


def _basis_filings(filings: Iterable[RowMapping], visit: RowMapping) -> list[RowMapping]:
    """The filings of the kind and place the visit's basis may rest on: special-disease
    care on a filing with its institution, other care on an area filing for its area."""
    if visit["med_type"] == SPECIAL_DISEASE_MED_TYPE:
        return _with_institution(filings, visit["fixmedins_code"])
    return _for_area(filings, rules.Kind.AREA, visit["mdtrtarea_admvs"])


def _filed_after(filings: Iterable[RowMapping], span: _Span) -> list[RowMapping]:
    """The filings registered after the visit's discharge."""
    return [f for f in filings
            if rules.filed_after_discharge(window_of(f), visit_end=span.end)]


def _category_of(row: RowMapping) -> tuple[rules.Category, str]:
    return rules.TYPES[row["filing_type"]][1], row["trt_dcla_detl_sn"]


def _disease_filing(
    filed: list[RowMapping], code: str, span: _Span, relationship: rules.Relationship,
) -> tuple[rules.Category, str]:
    """The newest of ``filed`` (the special-disease filings with this institution) that
    covers the visit and was made under the person's current insured relationship."""
    mine = _covering(filed, span)
    if not mine:
        raise Refused("E-FIL-011", f"{code}: no special-disease filing in force here")
    valid = _made_under(mine, relationship)
    if not valid:
        raise _filed_under_another_relationship(mine[-1], relationship)
    return _category_of(valid[-1])


def _area_basis(
    here: list[RowMapping], visit: RowMapping, span: _Span,
    relationship: rules.Relationship, away: Mapping[str, Decimal],
) -> tuple[rules.Category, str | None] | None:
    """The basis from the newest of ``here`` (the area filings for this area) that covers
    the visit or from an emergency, whichever the insured place cuts less; else None
    (after the refusals that explain a filing that does not count)."""
    covering = _covering(here, span)
    valid = _made_under(covering, relationship)
    bases: list[tuple[rules.Category, str | None]] = []
    if valid:
        bases.append(_category_of(valid[-1]))
    if _is_emergency(visit):
        bases.append((rules.Category.EMERGENCY, None))
    if bases:
        return min(bases, key=lambda b: away.get(b[0].value, Decimal(1)))
    if covering:
        raise _filed_under_another_relationship(covering[-1], relationship)
    if _filed_after(here, span):
        raise Refused("E-FIL-003", f"mdtrt_id {visit['mdtrt_id']} left {span.end}")
    return None


def _unfiled(policy: Policy) -> tuple[rules.Category, None]:
    if rules.Category.UNFILED.value not in policy.away:
        raise Refused("E-FIL-002", f"insured place {policy.region}: file with this area "
                      "(app, referring hospital, agency) before discharge, or pay in full "
                      "and apply for manual reimbursement")
    return rules.Category.UNFILED, None


# ---------------------------------------------------------------- manual reimbursement


def claimed(policy: Policy, basis: Claimed | None) -> Away | None:
    """A manual reimbursement away from home: the basis the claim rests on, cut as the
    insured place says (unfiled care as other temporary trips unless ``unfiled`` is set);
    emergency care rests on the filing or on the emergency, whichever is cut less, as in
    ``decide``."""
    if basis is None:
        return None
    fallback = policy.away.get(rules.Category.TEMPORARY.value, Decimal(0))

    def cut(category: rules.Category) -> Decimal:
        return policy.away.get(category.value, fallback)

    bases = [(basis.category, basis.filing)]
    if basis.emergency:
        bases.append((rules.Category.EMERGENCY, None))
    category, serial = min(bases, key=lambda b: cut(b[0]))
    return Away(category, serial, cut(category), basis.declaration)


def named_filing(conn: Connection, psn_no: str, serial: str) -> RowMapping:
    """The person's filing a manual reimbursement names (E-FIL-005: not the person's)."""
    row = conn.execute(_FILINGS.where(filing.c.trt_dcla_detl_sn == serial),
                       {"psn_no": psn_no}).mappings().first()
    if row is None:
        raise Refused("E-FIL-005", f"trt_dcla_detl_sn {serial}")
    return row


def claim_basis(
    conn: Connection, named: RowMapping | None, *, person: RowMapping, insurance: RowMapping,
    visit: RowMapping, institution: Institution,
) -> Claimed:
    """The basis of a manual reimbursement of care away from home (``visit``, over).
    Injury care needs a declaration as in ``decide``, one registered after the care
    counting too. A named filing counts only where real-time settlement of the same care
    would have rested on it (``decide``'s kind, area or institution, coverage and
    insured relationship), or, for an area filing, where it was registered after
    discharge (E-FIL-003 sent the person here); none: unfiled. Emergency care may rest on
    the emergency instead (``claimed`` takes the lesser cut). A cancelled filing or
    declaration never counts."""
    span = _care_over(visit)
    relationship = current_relationship(person, insurance)
    declaration = None
    if _is_injury(visit):
        filings = conn.execute(_FILINGS, {"psn_no": person["psn_no"]}).mappings()
        declaration = _check_declaration(
            visit, _covering_or_after(_declarations(_standing(filings)), span),
            institution.pool_area, relationship)
    emergency = visit["med_type"] != SPECIAL_DISEASE_MED_TYPE and _is_emergency(visit)
    if named is None:
        return Claimed(rules.Category.UNFILED, None, declaration, emergency)
    category, serial = _named_basis(named, span, visit, institution, relationship)
    return Claimed(category, serial, declaration, emergency)


def claim_needs(row: RowMapping, visit: RowMapping) -> bool:
    """Whether a manual reimbursement of the visit (care over) may rest on the injury
    declaration ``row`` as ``claim_basis`` looks for one: injury care away from home in
    its area, covered by it or registered after the care."""
    if visit["mdtrtarea_admvs"] == visit["insuplc_admdvs"] or not _is_injury(visit):
        return False
    return bool(_covering_or_after(_declared_for([row], visit), _care_over(visit)))


def _care_over(visit: RowMapping) -> _Span:
    last = visit["endtime"] or visit["begntime"]
    return _Span(visit["begntime"], last, last)


def _covering_or_after(filings: Iterable[RowMapping], span: _Span) -> list[RowMapping]:
    """The filings that cover the care or were registered after it, oldest first."""
    rows = list(filings)
    return _oldest_first([*_covering(rows, span), *_filed_after(rows, span)])


def _named_basis(
    named: RowMapping, span: _Span, visit: RowMapping, institution: Institution,
    relationship: rules.Relationship,
) -> tuple[rules.Category, str]:
    """The category of the filing a claim names, if it counts for the care."""
    here = _basis_filings([named], visit)
    if visit["med_type"] == SPECIAL_DISEASE_MED_TYPE:
        code, fitting = "E-FIL-011", _covering(here, span)
    else:
        code, fitting = "E-FIL-002", _covering(here, span) or _filed_after(here, span)
    if not fitting or named["status"] == CANCELLED:
        raise Refused(code, f"{_summary(named)}: not for care at {institution.code} "
                      f"({institution.pool_area}) on {visit['begntime']:%Y-%m-%d}")
    if not _made_under(fitting, relationship):
        raise _filed_under_another_relationship(named, relationship)
    return _category_of(named)


def _summary(row: RowMapping) -> str:
    """A filing in a refusal: type, area or institution, first and last day, ending."""
    window = window_of(row)
    last = "open" if window.until is None else f"{window.until - _INSTANT:%Y-%m-%d}"
    place = row["fixmedins_code"] if row["kind"] == rules.Kind.DISEASE else row[
        "mdtrtarea_admdvs"]
    ending = "" if row["status"] == ACTIVE else f", {row['status']}"
    return (f"{row['trt_dcla_detl_sn']} ({row['filing_type']} {place}, "
            f"{window.begin_at:%Y-%m-%d}..{last}{ending})")


# ---------------------------------------------------------------- cost information


def send_cost_information(
    conn: Connection, row: dict[str, Any], funds: list[dict[str, Any]],
    lines: list[RowMapping], now: datetime,
) -> None:
    """Queue the settlement's (or cancellation's) cost information for the national
    platform, in the settlement's own transaction (docs/outbox.md)."""
    payload = {
        "setlinfo": {
            **{k: row[k] for k in (
                "setl_id", "mdtrt_id", "psn_no", "fixmedins_code", "kind", "reverses",
                "insutype", "psn_type", "med_type", "clr_type", "insuplc_admdvs",
                "mdtrtarea_admvs", "trt_dcla_detl_sn", "away_basis", "policy_id")},
            "setl_time": row["setl_time"].isoformat(sep=" "),
            **{k: fen_to_yuan(row[k]) for k in SETTLEMENT_AMOUNTS},
        },
        "setldetail": [
            {"fund_pay_type": f["fund_pay_type"], "inscp_scp_amt": fen_to_yuan(f["inscp_scp_amt"]),
             "fund_payamt": fen_to_yuan(f["fund_payamt"])}
            for f in funds
        ],
        "feedetail": [
            {"feedetl_sn": x["feedetl_sn"], "med_list_codg": x["med_list_codg"],
             "cnt": x["cnt"], "pric": x["pric"],
             "det_item_fee_sumamt": fen_to_yuan(x["det_item_fee_sumamt"]),
             "chrgitm_lv": x["chrgitm_lv"], "inscp_scp_amt": fen_to_yuan(x["inscp_scp_amt"])}
            for x in lines
        ],
    }
    outbox.enqueue(conn, key=f"cost:{row['setl_id']}", kind=COST_KIND, psn_no=row["psn_no"],
                   payload=payload, now=now)
