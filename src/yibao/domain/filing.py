"""Filing (备案) for care away from the insured place: the pure rules.

Three kinds of filing:
- ``area``: a person files with a co-ordination area of treatment; every networked
  institution of that area may then settle directly. Long-term types (resettled retirees,
  long-term residents, staff stationed away) and temporary ones (referral, emergency,
  other temporary trips). A new area filing ends the person's earlier ones.
- ``disease``: special-disease (门慢门特) care, filed with named institutions of the
  area of treatment, at most two per disease.
- ``trauma``: the person's declaration that an injury has no liable third party.

Validity starts at registration and ends when the person chose (end of that day,
China Standard Time), or when the filing is cancelled or superseded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from yibao.domain.contribution import Declared, Terms, extended_end
from yibao.domain.errors import Refused
from yibao.domain.text import is_digits

VALIDITY_YEARS_MAX = 10
DISEASE_INSTITUTIONS_MAX = 2  # per person and disease



class Status(StrEnum):
    """filing.status: a cancelled filing was withdrawn and never counts; a superseded one
    (ended by a newer area filing) still covers the visits its validity overlapped."""

    ACTIVE = "active"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"


# the stored strings, for statements and answers
ACTIVE = Status.ACTIVE.value
CANCELLED = Status.CANCELLED.value
SUPERSEDED = Status.SUPERSEDED.value


class Kind(StrEnum):
    AREA = "area"
    DISEASE = "disease"
    TRAUMA = "trauma"


class Category(StrEnum):
    """What an away-from-home settlement rests on; the insured place's policy sets the
    ratio cut of each (``[away]`` in the policy file)."""

    LONG_TERM = "long_term"
    REFERRAL = "referral"
    EMERGENCY = "emergency"
    TEMPORARY = "temporary"
    UNFILED = "unfiled"


class FilingType(StrEnum):
    """filing.filing_type: what the person files (``TYPES`` says its kind and category)."""

    RESETTLED = "resettled"
    RESIDENT = "resident"
    STATIONED = "stationed"
    REFERRAL = "referral"
    EMERGENCY = "emergency"
    TEMPORARY = "temporary"
    DISEASE = "disease"
    TRAUMA = "trauma"


# filing_type -> (kind, category, national name)
TYPES: dict[str, tuple[Kind, Category, str]] = {
    FilingType.RESETTLED: (Kind.AREA, Category.LONG_TERM, "异地安置退休人员"),
    FilingType.RESIDENT: (Kind.AREA, Category.LONG_TERM, "异地长期居住人员"),
    FilingType.STATIONED: (Kind.AREA, Category.LONG_TERM, "常驻异地工作人员"),
    FilingType.REFERRAL: (Kind.AREA, Category.REFERRAL, "异地转诊就医人员"),
    FilingType.EMERGENCY: (Kind.AREA, Category.EMERGENCY, "异地急诊抢救人员"),
    FilingType.TEMPORARY: (Kind.AREA, Category.TEMPORARY, "其他临时外出就医人员"),
    FilingType.DISEASE: (Kind.DISEASE, Category.LONG_TERM, "门诊慢特病定点备案"),
    FilingType.TRAUMA: (Kind.TRAUMA, Category.TEMPORARY, "意外伤害无第三方责任声明"),
}
# types whose validity may be left open (until cancelled or superseded)
OPEN_ENDED_TYPES = frozenset(
    t for t, (k, c, _) in TYPES.items() if c is Category.LONG_TERM or k is Kind.TRAUMA
)

# types a person files from an app (special diseases are filed at the hospital)
APP_TYPES = frozenset(t for t, (k, _, _) in TYPES.items() if k is not Kind.DISEASE)


def check_from_app(filing_type: str) -> None:
    """Refuse a filing type an app may not file (E-FIL-008)."""
    if filing_type not in APP_TYPES:
        raise Refused("E-FIL-008", f"filing_type {filing_type!r} is not filed from an app "
                      "(special diseases: at the hospital)")


@dataclass(frozen=True, slots=True)
class Relationship:
    """The insured relationship a filing is made under; a change needs a new filing."""

    insutype: str
    insured_area: str
    employer: str


@dataclass(frozen=True, slots=True)
class Window:
    """When a filing counts: from registration to the chosen end or its ending."""

    begin_at: datetime
    end_at: datetime | None  # chosen end (exclusive); None: until ended
    ended_at: datetime | None  # cancelled or superseded

    @property
    def until(self) -> datetime | None:
        ends = [t for t in (self.end_at, self.ended_at) if t is not None]
        return min(ends, default=None)


@dataclass(frozen=True, slots=True)
class Commitment:
    """The personal commitment letter (个人承诺书) signed with a filing (the 2022 notice:
    some filings rest on the person's commitment instead of documents): whether it was
    signed, when, which letter (its version or text id) and through which entry
    (``app:<channel>``, ``window:<operator>``)."""

    signed: bool = False
    at: datetime | None = None
    version: str = ""
    entry: str = ""


UNSIGNED = Commitment()
COMMITMENT_VERSION_LEN_MAX = 30


def check_commitment(filing_type: str, commitment: Commitment,
                     required: frozenset[str]) -> None:
    """A filing of a type the insured place's policy files on the person's commitment
    (``[away.commitment] types``) needs the signed letter (E-FIL-014); a signed letter
    names its version (E-FIL-008)."""
    if commitment.signed:
        version = commitment.version
        if not version or len(version) > COMMITMENT_VERSION_LEN_MAX or not version.isprintable():
            raise Refused("E-FIL-008", "a signed commitment letter names its version "
                          f"(commitment_version, 1..{COMMITMENT_VERSION_LEN_MAX} characters)")
        return
    if commitment.version:
        raise Refused("E-FIL-008", "commitment_version without a signed letter "
                      "(commitment_signed true)")
    if filing_type in required:
        raise Refused("E-FIL-014", f"a {filing_type} filing rests on the person's signed "
                      "commitment letter (commitment_signed true, commitment_version)")


@dataclass(frozen=True, slots=True)
class Filing:
    """A stored filing (a ``filing`` row, read by store/filings.py), typed."""

    serial: str  # trt_dcla_detl_sn
    psn_no: str
    kind: Kind
    filing_type: FilingType
    relationship: Relationship  # the insured relationship it was made under
    area: str  # mdtrtarea_admdvs: the co-ordination area of treatment
    institution: str  # fixmedins_code: disease filings' institution, else empty
    disease_code: str
    disease_name: str
    reason: str
    injury_time: datetime | None  # trauma declarations: when the injury happened
    injury_site: str
    begin_at: datetime  # registration
    end_at: datetime | None  # chosen end (exclusive); None: until ended
    status: Status
    ended_at: datetime | None  # cancelled or superseded
    ended_reason: str
    source: str  # dcla_souc
    actor: str  # who registered it (an institution's code, an operator, a channel)
    msgid: str
    commitment: Commitment = UNSIGNED  # the personal commitment letter signed with it

    @property
    def category(self) -> Category:
        return TYPES[self.filing_type][1]

    @property
    def type_name(self) -> str:
        """The national name of its type."""
        return TYPES[self.filing_type][2]


def window_of(filing: Filing) -> Window:
    """When a stored filing counts."""
    return Window(filing.begin_at, filing.end_at, filing.ended_at)


def is_area_code(code: str) -> bool:
    """A co-ordination area (admdvs) is exactly six ASCII digits: ``str.isdigit`` alone
    also takes full-width or Arabic-Indic digits, which name no area."""
    return len(code) == 6 and is_digits(code)


def kind_of(filing_type: str) -> Kind:
    if filing_type not in TYPES:
        raise Refused("E-FIL-008", f"filing_type {filing_type!r}; one of {', '.join(TYPES)}")
    return TYPES[filing_type][0]


def end_of_validity(filing_type: str, end_date: date | None, now: datetime) -> datetime | None:
    """The exclusive end of a filing registered ``now`` that the person wants valid up to
    and including ``end_date``. Long-term filings and injury declarations may be
    open-ended; temporary ones may not."""
    if end_date is None:
        if filing_type in OPEN_ENDED_TYPES:
            return None
        raise Refused("E-FIL-008", f"a {filing_type} filing needs an end date (enddate)")
    if end_date < now.date():
        raise Refused("E-FIL-008", f"end date {end_date} is before today {now.date()}")
    if end_date > years_after(now.date(), VALIDITY_YEARS_MAX):
        raise Refused("E-FIL-008", f"validity longer than {VALIDITY_YEARS_MAX} years")
    return datetime.combine(end_date + timedelta(days=1), time())


def years_after(day: date, years: int) -> date:
    """The same day ``years`` later; 29 February becomes 28 February in a common year
    (the last day not past the anniversary)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year
        return day.replace(year=day.year + years, day=28)


def covers(window: Window, *, visit_begin: datetime, at: datetime) -> bool:
    """Whether a filing lets a visit settle directly at ``at``: it was registered by
    then, and its validity overlaps the visit. A filing registered after discharge but
    before the (final) settlement counts too: the 2022 notice (医保发〔2022〕22号) settles
    directly what was filed before the settlement (a claim judges the care at its end:
    ``domain.away.care_over``)."""
    until = window.until
    return window.begin_at <= at and (until is None or until > visit_begin)


def filed_after_discharge(window: Window, *, visit_end: datetime | None) -> bool:
    """A filing registered after the patient left: manual reimbursement, not direct."""
    return visit_end is not None and window.begin_at > visit_end


def home_registration(
    filings: Iterable[Filing], *, insured_area: str, insutype: str, diseases: frozenset[str],
    declared: Iterable[Declared], terms: Terms, at: datetime,
) -> Filing:
    """The special-disease registration (2503 by an institution of the insured place) a
    special-disease settlement at home (med_type 14) rests on at ``at``: active, of the
    insurance type, registered by then and not past its end, an end inside a declared
    period of the area moved to the period's end plus the policy's extension days
    (2020 epidemic measures, item 11); for one of ``diseases`` when the visit names any.
    The newest such; E-FIL-013 otherwise."""
    periods = tuple(declared)
    held = [f for f in filings
            if f.kind is Kind.DISEASE and f.status is Status.ACTIVE and f.area == insured_area
            and f.relationship.insutype == insutype and f.begin_at <= at
            and _holds(f, periods, insured_area, terms, at)]
    if not held:
        raise Refused("E-FIL-013", f"no special-disease registration in force in {insured_area}")
    named = [f for f in held if f.disease_code in diseases] if diseases else held
    if not named:
        registered = ", ".join(sorted({f.disease_code for f in held}))
        raise Refused("E-FIL-013", f"the visit names {', '.join(sorted(diseases))}; "
                      f"registered: {registered}")
    return max(named, key=lambda f: (f.begin_at, f.serial))


def _holds(filing: Filing, declared: tuple[Declared, ...], area: str, terms: Terms,
           at: datetime) -> bool:
    end = extended_end(filing.end_at, declared, area, terms)
    return (end is None or end > at) and (filing.ended_at is None or filing.ended_at > at)
