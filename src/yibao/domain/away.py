"""Care away from the insured place (异地就医), the pure rules: may a visit settle
directly where it is given, on what basis (a filing, an emergency, unfiled care), which
injury declaration it needs, and what a manual reimbursement of such care rests on.

The rules read typed records: the person's filings (``domain.filing.Filing``), the
visit's facts (``VisitFacts``) and the place of care (``Site``); the service
(services/away.py) loads them and calls these functions. A refusal says why and what to
do (``Refused``, codes E-FIL-*).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from yibao.domain.errors import Refused
from yibao.domain.filing import (
    Category,
    Filing,
    Kind,
    Relationship,
    Status,
    covers,
    filed_after_discharge,
    window_of,
)
from yibao.domain.policy import Policy

EMERGENCY_MED_TYPES = frozenset({"13", "24"})  # 急诊, 急诊转住院
TRAUMA_MED_TYPES = frozenset({"19", "22"})  # 意外伤害门诊, 外伤住院
SPECIAL_DISEASE_MED_TYPE = "14"  # 门诊慢特病

_INSTANT = timedelta(microseconds=1)  # a window's end is exclusive: its last day ends before


@dataclass(frozen=True, slots=True)
class VisitFacts:
    """What the rules read of a visit (a ``visit`` row)."""

    mdtrt_id: str
    med_type: str
    emergency: bool  # exp_content: the HIS says it is emergency care
    injury: bool  # exp_content trum_flag: injury care
    third_party: bool  # exp_content rel_ttp_flag: a liable third party is known
    begin: datetime
    end: datetime | None  # discharge
    institution: str  # fixmedins_code: where the care is given
    area: str  # mdtrtarea_admvs: the co-ordination area of treatment
    insured_area: str  # insuplc_admdvs

    @property
    def is_emergency(self) -> bool:
        """Emergency care: settled away from home as if filed (the emergency category)."""
        return self.med_type in EMERGENCY_MED_TYPES or self.emergency

    @property
    def is_injury(self) -> bool:
        """Injury care: settled (or reimbursed) away from home only with a declaration."""
        return self.med_type in TRAUMA_MED_TYPES or self.injury

    @property
    def is_special_disease(self) -> bool:
        return self.med_type == SPECIAL_DISEASE_MED_TYPE

    @property
    def at_home(self) -> bool:
        return self.area == self.insured_area


@dataclass(frozen=True, slots=True)
class Site:
    """The institution where the care is given."""

    code: str  # fixmedins_code
    area: str  # its co-ordination (pool) area
    networked: bool  # joined inter-provincial direct settlement
    # the special diseases (opsp_dise_code) whose care away from home it opened (the 2022
    # notice); read for special-disease care only
    diseases: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Away:
    """The basis of a direct settlement away from home."""

    category: Category
    filing: str | None  # trt_dcla_detl_sn; None for emergencies and unfiled cases
    cut: Decimal  # ratio points the insured place takes off
    declaration: str | None  # the injury declaration the care needed


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a manual reimbursement away from home rests on."""

    category: Category
    filing: str | None  # the filing the claim names; None: unfiled
    declaration: str | None  # the injury declaration the care needed
    emergency: bool = False  # emergency care: its own basis too, as in ``direct_basis``


@dataclass(frozen=True, slots=True)
class Span:
    """A visit's time span as a filing must cover it, judged at ``at``."""

    begin: datetime
    end: datetime | None  # discharge
    at: datetime

    def covered_by(self, filing: Filing) -> bool:
        return covers(window_of(filing), visit_begin=self.begin, at=self.at)


_Basis = tuple[Category, str | None]


# ---------------------------------------------------------------- direct settlement


def settles_away(relationship: Relationship, site: Site) -> bool:
    """Whether care at ``site`` is away from the insured place (False at home); care away
    settles directly only at a networked institution (E-FIL-001)."""
    if relationship.insured_area == site.area:
        return False
    if not site.networked:
        raise Refused("E-FIL-001", f"{site.code} ({site.area})")
    return True


def direct_basis(
    filings: Iterable[Filing], visit: VisitFacts, *, site: Site,
    relationship: Relationship, policy: Policy, at: datetime,
) -> Away:
    """The basis of a direct settlement at ``at`` of care away from home (see
    ``settles_away``) over the person's ``filings``, or a refusal that says why and what
    to do. ``relationship`` is the person's insured relationship now: a filing counts
    only if made under it."""
    standing = _standing(filings)
    span = Span(visit.begin, visit.end, at)
    declaration = None
    if visit.is_injury:
        declaration = check_declaration(
            visit, _covering(_declarations(standing), span), site.area, relationship)
    here = basis_filings(standing, visit)
    found: _Basis | None
    if visit.is_special_disease:
        found = _disease_filing(here, site, span, relationship)
    else:
        found = _area_basis(here, visit, span, relationship, policy.away)
    if found is None:
        found = _unfiled(policy)
    category, serial = found
    if category.value not in policy.away:
        raise Refused("E-FIL-002", f"insured place {policy.region} settles no {category} "
                      "care away from home directly")
    return Away(category, serial, policy.away[category.value], declaration)


def serves(filing: Filing, visit: VisitFacts, at: datetime) -> bool:
    """Whether a direct settlement of the visit at ``at`` could rest on the filing, as
    its basis (the kind and place ``direct_basis`` looks for) or as its injury
    declaration, coverage as in ``direct_basis``; the insured relationship and an
    emergency's own basis aside. At home no filing counts."""
    if visit.at_home:
        return False
    fitting = basis_filings([filing], visit)
    if visit.is_injury:
        fitting += _declared_for([filing], visit)
    return bool(_covering(fitting, Span(visit.begin, visit.end, at)))


def _standing(filings: Iterable[Filing]) -> list[Filing]:
    """The filings that may count: a cancelled one was withdrawn (a superseded or expired
    one still covers what its validity overlapped)."""
    return [f for f in filings if f.status is not Status.CANCELLED]


def _declarations(filings: Iterable[Filing]) -> list[Filing]:
    return [f for f in filings if f.kind is Kind.TRAUMA]


def check_declaration(visit: VisitFacts, declared: list[Filing], area: str,
                      relationship: Relationship) -> str:
    """The serial of the newest of the ``declared`` injury declarations (those that count
    for the care, oldest first) for this area made under the person's current insured
    relationship: an injury away from home rests on one."""
    if visit.third_party:
        raise Refused("E-FIL-007", f"mdtrt_id {visit.mdtrt_id} (REL_TTP_FLAG 1)")
    here = _for_area(declared, Kind.TRAUMA, area)
    injured = _injured_by(here, visit)
    valid = made_under(injured, relationship)
    if valid:
        return valid[-1].serial
    if injured:
        raise filed_under_another_relationship(injured[-1], relationship)
    if here:
        injury = here[-1].injury_time
        assert injury is not None  # a declaration of any injury counts
        raise Refused("E-FIL-010", f"{here[-1].serial} declares an injury on "
                      f"{injury:%Y-%m-%d}, after the care began ({visit.begin:%Y-%m-%d})")
    if declared:
        raise Refused("E-FIL-012", f"{declared[-1].serial} is for {declared[-1].area}, "
                      f"the care is in {area}")
    raise Refused("E-FIL-010", f"no declaration for care in {area} on "
                  f"{visit.begin:%Y-%m-%d} (mdtrt_id {visit.mdtrt_id})")


def _declared_for(filings: Iterable[Filing], visit: VisitFacts) -> list[Filing]:
    """The injury declarations for the visit's area, of an injury that had happened by
    the day the care began."""
    return _injured_by(_for_area(filings, Kind.TRAUMA, visit.area), visit)


def _injured_by(declarations: Iterable[Filing], visit: VisitFacts) -> list[Filing]:
    """The declarations of an injury that happened by the day the care began (one with
    no injury time: any injury)."""
    begun = visit.begin.date()
    return [d for d in declarations
            if d.injury_time is None or d.injury_time.date() <= begun]


def _covering(filings: Iterable[Filing], span: Span) -> list[Filing]:
    """The filings that cover the visit, oldest first."""
    return oldest_first(f for f in filings if span.covered_by(f))


def oldest_first(filings: Iterable[Filing]) -> list[Filing]:
    """By registration, then serial."""
    return sorted(filings, key=lambda f: (f.begin_at, f.serial))


def made_under(filings: list[Filing], relationship: Relationship) -> list[Filing]:
    return [f for f in filings if f.relationship == relationship]


def filed_under_another_relationship(filing: Filing, now: Relationship) -> Refused:
    """E-FIL-006 naming what changed since the filing was made."""
    then = filing.relationship
    changed = "; ".join(f"{name} {old} (now {new})" for name, old, new in (
        ("insured place", then.insured_area, now.insured_area),
        ("insutype", then.insutype, now.insutype),
        ("employer", then.employer, now.employer)) if old != new)
    return Refused("E-FIL-006", f"{filing.serial} was filed under {changed}")


def _for_area(filings: Iterable[Filing], kind: Kind, area: str) -> list[Filing]:
    """The area filings (or injury declarations) for a co-ordination area."""
    return [f for f in filings if f.kind is kind and f.area == area]


def _with_institution(filings: Iterable[Filing], code: str) -> list[Filing]:
    """The special-disease filings with an institution."""
    return [f for f in filings if f.kind is Kind.DISEASE and f.institution == code]


def basis_filings(filings: Iterable[Filing], visit: VisitFacts) -> list[Filing]:
    """The filings of the kind and place the visit's basis may rest on: special-disease
    care on a filing with its institution, other care on an area filing for its area."""
    if visit.is_special_disease:
        return _with_institution(filings, visit.institution)
    return _for_area(filings, Kind.AREA, visit.area)


def _filed_after(filings: Iterable[Filing], span: Span) -> list[Filing]:
    """The filings registered after the visit's discharge."""
    return [f for f in filings if filed_after_discharge(window_of(f), visit_end=span.end)]


def _category_of(filing: Filing) -> tuple[Category, str]:
    return filing.category, filing.serial


def _disease_filing(
    filed: list[Filing], site: Site, span: Span, relationship: Relationship,
) -> tuple[Category, str]:
    """The newest of ``filed`` (the special-disease filings with this institution) that
    covers the visit, was made under the person's current insured relationship and is
    for a disease whose care away from home the institution opened (the 2022 notice:
    E-FIL-015 otherwise)."""
    mine = _covering(filed, span)
    if not mine:
        raise Refused("E-FIL-011", f"{site.code}: no special-disease filing in force here")
    valid = made_under(mine, relationship)
    if not valid:
        raise filed_under_another_relationship(mine[-1], relationship)
    opened = [f for f in valid if f.disease_code in site.diseases]
    if not opened:
        raise Refused("E-FIL-015", f"{site.code} has not opened special-disease care away "
                      f"from home for {valid[-1].disease_code} ({valid[-1].serial})")
    return _category_of(opened[-1])


def _area_basis(
    here: list[Filing], visit: VisitFacts, span: Span,
    relationship: Relationship, away: Mapping[str, Decimal],
) -> _Basis | None:
    """The basis from the newest of ``here`` (the area filings for this area) that covers
    the visit (registered before the settlement, even after discharge: the 2022 notice)
    or from an emergency, whichever the insured place cuts less; else None
    (after the refusals that explain a filing that does not count)."""
    covering = _covering(here, span)
    valid = made_under(covering, relationship)
    bases: list[_Basis] = []
    if valid:
        bases.append(_category_of(valid[-1]))
    if visit.is_emergency:
        bases.append((Category.EMERGENCY, None))
    if bases:
        return _least_cut(bases, lambda c: away.get(c.value, Decimal(1)))
    if covering:
        raise filed_under_another_relationship(covering[-1], relationship)
    return None  # (a filing registered after discharge covers: E-FIL-003 is retired)


def _least_cut(bases: list[_Basis], cut: Callable[[Category], Decimal]) -> _Basis:
    """The basis the insured place cuts least (the first of equals)."""
    return min(bases, key=lambda b: cut(b[0]))


def _unfiled(policy: Policy) -> tuple[Category, None]:
    if Category.UNFILED.value not in policy.away:
        raise Refused("E-FIL-002", f"insured place {policy.region}: file with this area "
                      "(app, referring hospital, agency) before discharge, or pay in full "
                      "and apply for manual reimbursement")
    return Category.UNFILED, None


# ---------------------------------------------------------------- manual reimbursement


def claimed(policy: Policy, basis: Claimed | None) -> Away | None:
    """A manual reimbursement away from home: the basis the claim rests on, cut as the
    insured place says (unfiled care as other temporary trips unless ``unfiled`` is set);
    emergency care rests on the filing or on the emergency, whichever is cut less, as in
    ``direct_basis``."""
    if basis is None:
        return None
    fallback = policy.away.get(Category.TEMPORARY.value, Decimal(0))

    def cut(category: Category) -> Decimal:
        return policy.away.get(category.value, fallback)

    bases: list[_Basis] = [(basis.category, basis.filing)]
    if basis.emergency:
        bases.append((Category.EMERGENCY, None))
    category, serial = _least_cut(bases, cut)
    return Away(category, serial, cut(category), basis.declaration)


def claim_basis(
    declarations: Iterable[Filing], named: Filing | None, visit: VisitFacts, *,
    site: Site, relationship: Relationship,
) -> Claimed:
    """The basis of a manual reimbursement of care away from home (``visit``, over).
    Injury care needs a declaration (among ``declarations``, the person's filings: read
    only for injury care) as in ``direct_basis``, one registered after the care counting
    too. A named filing counts only where real-time settlement of the same care would
    have rested on it (``direct_basis``'s kind, area or institution, coverage and
    insured relationship), or where it was registered after the care (of any kind: as
    a settlement counts a filing registered before it, a claim counts one registered
    before the claim, the 2022 notice); none: unfiled. Emergency care may rest on
    the emergency instead (``claimed`` takes the lesser cut). A cancelled filing or
    declaration never counts."""
    span = care_over(visit)
    declaration = None
    if visit.is_injury:
        declaration = check_declaration(
            visit, _covering_or_after(_declarations(_standing(declarations)), span),
            site.area, relationship)
    emergency = not visit.is_special_disease and visit.is_emergency
    if named is None:
        return Claimed(Category.UNFILED, None, declaration, emergency)
    category, serial = _named_basis(named, span, visit, site, relationship)
    return Claimed(category, serial, declaration, emergency)


def claim_needs(filing: Filing, visit: VisitFacts) -> bool:
    """Whether a manual reimbursement of the visit (care over) may rest on the injury
    declaration ``filing`` as ``claim_basis`` looks for one: injury care away from home
    in its area, covered by it or registered after the care."""
    if visit.at_home or not visit.is_injury:
        return False
    return bool(_covering_or_after(_declared_for([filing], visit), care_over(visit)))


def care_over(visit: VisitFacts) -> Span:
    """The span of care that is over, judged at its end (or its beginning, if it has no
    end)."""
    last = visit.end or visit.begin
    return Span(visit.begin, last, last)


def _covering_or_after(filings: Iterable[Filing], span: Span) -> list[Filing]:
    """The filings that cover the care or were registered after it, oldest first."""
    rows = list(filings)
    return oldest_first([*_covering(rows, span), *_filed_after(rows, span)])


def _named_basis(
    named: Filing, span: Span, visit: VisitFacts, site: Site, relationship: Relationship,
) -> tuple[Category, str]:
    """The category of the filing a claim names, if it counts for the care."""
    here = basis_filings([named], visit)
    code = "E-FIL-011" if visit.is_special_disease else "E-FIL-002"
    fitting = _covering_or_after(here, span)
    if not fitting or named.status is Status.CANCELLED:
        raise Refused(code, f"{summary(named)}: not for care at {site.code} "
                      f"({site.area}) on {visit.begin:%Y-%m-%d}")
    if not made_under(fitting, relationship):
        raise filed_under_another_relationship(named, relationship)
    return _category_of(named)


def summary(filing: Filing) -> str:
    """A filing in a refusal: type, area or institution, first and last day, ending."""
    window = window_of(filing)
    last = "open" if window.until is None else f"{window.until - _INSTANT:%Y-%m-%d}"
    place = filing.institution if filing.kind is Kind.DISEASE else filing.area
    ending = "" if filing.status is Status.ACTIVE else f", {filing.status}"
    return (f"{filing.serial} ({filing.filing_type} {place}, "
            f"{window.begin_at:%Y-%m-%d}..{last}{ending})")
