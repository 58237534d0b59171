"""Versioned, data-driven settlement policies.

A policy covers one region and insurance type over an effective period. It holds
schemes (selected by med_type); a scheme is an ordered list of stages, one per fund:
a deductible, ratio bands over a cumulative basis, an annual cap and an optional
overflow fund that pays above the cap. Every number comes from a policy file
(src/yibao/policies/*.toml) with its source note; none lives in code.
The file format is described in docs/policy-format.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Any, NamedTuple

from yibao.domain import supervision
from yibao.domain.advance import Terms
from yibao.domain.codes import FUNDS, MDTRT_GRP_TYPES, PersonGroup
from yibao.domain.contribution import (
    EXTENSION_DAYS_MAX,
    GRACE_DAYS_MAX,
    LATE_FEE_RATE_MAX,
    NO_TERMS,
)
from yibao.domain.contribution import Terms as ContributionTerms
from yibao.domain.designation import CHOICES_MAX_LIMIT, OPEN_KINDS, OpenKind, Rule
from yibao.domain.filing import Category, FilingType
from yibao.domain.money import Fen, yuan_to_fen

LEVELS = frozenset({0, 1, 2, 3})  # 0: pharmacy / unrated
STAGES_MAX = 8
STAGE_KEY_LENGTH_MAX = 8  # accumulator codes like "D.emp_ipt" stay within 10 characters
BANDS_MAX = 16


class PolicyError(ValueError):
    """A policy file that does not describe a valid policy."""


class Period(StrEnum):
    YEAR = "year"
    STAY = "stay"


class Basis(StrEnum):
    IN_SCOPE = "in_scope"  # the settlement's in-scope amount
    PERSONAL_IN_SCOPE = "personal_in_scope"  # in-scope amount left after earlier stages


@dataclass(frozen=True, slots=True)
class Selector:
    """Which persons and hospital levels a rule applies to (empty = all)."""

    groups: frozenset[PersonGroup]
    levels: frozenset[int]

    def matches(self, group: PersonGroup, level: int) -> bool:
        return (not self.groups or group in self.groups) and (
            not self.levels or level in self.levels
        )


@dataclass(frozen=True, slots=True)
class Band:
    upto: Fen | None  # cumulative basis (deductible included) where the band ends
    ratio: Decimal  # share paid by the fund


@dataclass(frozen=True, slots=True)
class DeductibleRule:
    selector: Selector
    first: Fen
    later: Fen  # for later stays in the year (period=stay); equals first otherwise


@dataclass(frozen=True, slots=True)
class BandRule:
    selector: Selector
    bands: tuple[Band, ...]


@dataclass(frozen=True, slots=True)
class ShareRule:
    """The person's share of every band is multiplied by ``factor`` (retiree rule)."""

    selector: Selector
    factor: Decimal


@dataclass(frozen=True, slots=True)
class Overflow:
    fund: str
    ratio: Decimal


class Rules(NamedTuple):
    """What applies to one person group at one hospital level."""

    deductible: DeductibleRule | None
    bands: tuple[Band, ...] | None
    factor: Decimal


class StageKeys(NamedTuple):
    """The accumulator codes of a stage (see domain/engine.py)."""

    deductible: str
    basis: str
    paid: str
    overflow: str
    stays: str
    in_stay: str
    fund_paid: str  # F.<fund>: what the stage's fund paid this year
    overflow_fund_paid: str  # F.<overflow fund>, or "" without an overflow fund


@dataclass(frozen=True, slots=True)
class Stage:
    key: str  # names the stage's accumulators, e.g. "emp_ipt"
    fund: str
    basis: Basis
    deductible_period: Period
    band_period: Period
    deductibles: tuple[DeductibleRule, ...]
    band_rules: tuple[BandRule, ...]
    share_rules: tuple[ShareRule, ...]
    annual_cap: Fen | None
    overflow: Overflow | None
    keys: StageKeys = field(init=False, compare=False, repr=False)
    _table: Mapping[tuple[PersonGroup, int], Rules] = field(
        init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        d, b, p, o, s, n = (f"{prefix}.{self.key}" for prefix in "DBPOSN")
        keys = StageKeys(d, b, p, o, s, n, f"F.{self.fund}",
                         "" if self.overflow is None else f"F.{self.overflow.fund}")
        table = {
            (group, level): Rules(
                self.deductible_for(group, level),
                self.bands_for(group, level),
                self.share_factor_for(group, level),
            )
            for group in PersonGroup
            for level in LEVELS
        }
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "_table", MappingProxyType(table))

    def rules(self, group: PersonGroup, level: int) -> Rules:
        """The deductible, bands and share factor for a group and level (precomputed)."""
        return self._table[(group, level)]

    def deductible_for(self, group: PersonGroup, level: int) -> DeductibleRule | None:
        return next((d for d in self.deductibles if d.selector.matches(group, level)), None)

    def bands_for(self, group: PersonGroup, level: int) -> tuple[Band, ...] | None:
        rule = next((r for r in self.band_rules if r.selector.matches(group, level)), None)
        return None if rule is None else rule.bands

    def share_factor_for(self, group: PersonGroup, level: int) -> Decimal:
        rule = next((r for r in self.share_rules if r.selector.matches(group, level)), None)
        return Decimal(1) if rule is None else rule.factor


@dataclass(frozen=True, slots=True)
class Scheme:
    name: str
    med_types: frozenset[str]
    stages: tuple[Stage, ...]
    account_allowed: bool

    def reduced(self, cut: Decimal) -> Scheme:
        """The scheme with every band ratio lowered by ``cut`` (not below 0): the insured
        place's rule for some away-from-home cases."""
        return self if not cut else _reduced(self, cut)


    def for_group(self, rule: GroupRule) -> Scheme:
        """The scheme for a population group with its own rule (``[[group]]``): every
        stage's deductible waived and/or every band paid at the group's ratio."""
        if not rule.waive_deductible and rule.ratio is None:
            return self
        return _for_group(self, rule.waive_deductible, rule.ratio)


@lru_cache(maxsize=64)
def _for_group(scheme: Scheme, waive: bool, ratio: Decimal | None) -> Scheme:
    def deductibles(stage: Stage) -> tuple[DeductibleRule, ...]:
        if not waive:
            return stage.deductibles
        return tuple(DeductibleRule(d.selector, 0, 0) for d in stage.deductibles)

    def band_rules(stage: Stage) -> tuple[BandRule, ...]:
        if ratio is None:
            return stage.band_rules
        return tuple(BandRule(r.selector, (Band(None, ratio),)) for r in stage.band_rules)

    stages = tuple(replace(stage, deductibles=deductibles(stage), band_rules=band_rules(stage))
                   for stage in scheme.stages)
    return replace(scheme, stages=stages)


class FinanceShare(StrEnum):
    """What public finance (财政补助) pays of a population group's settlement."""

    IN_SCOPE = "in_scope"  # the in-scope amount the funds left (deductible, co-payment)
    ALL = "all"  # everything the funds left, the self-paid parts included


@dataclass(frozen=True, slots=True)
class Finance:
    fund: str  # the fund line it is paid as (fund_pay_type)
    share: FinanceShare


@dataclass(frozen=True, slots=True)
class GroupRule:
    """A population group's own rule (``[[group]]``, MDTRT_GRP_TYPE): the deductible
    waived, one fund ratio for every band, and/or the person's share paid by public
    finance as a fund line of its own (docs/fever.md)."""

    code: str
    waive_deductible: bool
    ratio: Decimal | None
    finance: Finance | None


@lru_cache(maxsize=256)
def _reduced(scheme: Scheme, cut: Decimal) -> Scheme:
    def lower(rule: BandRule) -> BandRule:
        bands = tuple(Band(b.upto, max(Decimal(0), b.ratio - cut)) for b in rule.bands)
        return BandRule(rule.selector, bands)

    stages = tuple(
        replace(stage, band_rules=tuple(lower(r) for r in stage.band_rules))
        for stage in scheme.stages
    )
    return replace(scheme, stages=stages)


@dataclass(frozen=True, slots=True)
class Supply:
    """Long prescriptions (``[supply]``): the longest supply of a drug line in days, by
    catalogue item, by registered special disease, for any registered chronic disease,
    and otherwise; and the share of an earlier supply of the same item that may still be
    left when it is bought again (domain/pharmacy.py)."""

    default_days: int
    chronic_days: int
    refill_left: Decimal
    items: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    diseases: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Policy:
    policy_id: str
    region: str
    insutype: str
    valid_from: date
    valid_to: date | None
    schemes: tuple[Scheme, ...]
    # away from home: ratio points cut per category (domain/filing.py Category); a
    # category that is absent is not settled directly (only "unfiled" may be absent)
    away: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    # the filing types filed on the person's signed commitment letter (个人承诺书, the
    # 2022 notice): ``[away.commitment] types``; a filing of such a type from an app or
    # the window without the signed letter is refused (E-FIL-014)
    commitment: frozenset[str] = frozenset()
    # a purchase's cash part may be paid from a bound family member's account (共济,
    # acct_used_flag 2): ``[pharmacy] mutual_aid``
    mutual_aid: bool = False
    supply: Supply | None = None  # None: no longest-supply or early-refill rule
    # population groups (MDTRT_GRP_TYPE) with a rule of their own; absent: the normal rule
    groups: Mapping[str, GroupRule] = field(default_factory=lambda: MappingProxyType({}))
    # designated institutions at home (``[designation]``); None: no designation needed
    designation: Rule | None = None
    # the insured place's terms for its advance funds between regions (``[advance]``)
    advance: Terms | None = None
    # contributions: grace days, late-fee rate, extension after a declared period
    # (``[contribution]``; absent: no grace, no late fee, no extension)
    contribution: ContributionTerms = NO_TERMS
    # supervision (issue 20, docs/supervision.md): the visit rules whose finding on the
    # lines being settled refuses the settlement (``[supervision] block``); the other
    # visit rules only warn (3101/3102)
    block: frozenset[str] = frozenset()

    def in_force_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def scheme_for(self, med_type: str) -> Scheme | None:
        return next((s for s in self.schemes if med_type in s.med_types), None)


def select_policy(
    policies: Sequence[Policy], *, region: str, insutype: str, day: date
) -> Policy | None:
    """The policy in force for a region and insurance type on a day (latest start wins)."""
    found = [
        p for p in policies if p.region == region and p.insutype == insutype and p.in_force_on(day)
    ]
    return max(found, key=lambda p: p.valid_from, default=None)


# ---------------------------------------------------------------- parsing


def _ratio(value: Any, where: str) -> Decimal:
    ratio = Decimal(str(value))
    if not Decimal(0) <= ratio <= Decimal(1):
        raise PolicyError(f"{where}: ratio {ratio} outside 0..1")
    return ratio


def _amount(value: Any, where: str) -> Fen:
    try:
        return yuan_to_fen(str(value), field=where)
    except ValueError as exc:
        raise PolicyError(str(exc)) from exc


def _selector(raw: Mapping[str, Any], where: str) -> Selector:
    try:
        groups = frozenset(PersonGroup(g) for g in raw.get("groups", []))
    except ValueError as exc:
        raise PolicyError(f"{where}: {exc}") from exc
    levels = frozenset(int(v) for v in raw.get("levels", []))
    if not levels <= LEVELS:
        raise PolicyError(f"{where}: levels must be within {sorted(LEVELS)}")
    return Selector(groups, levels)


def _require_source(raw: Mapping[str, Any], where: str) -> None:
    if not str(raw.get("source", "")).strip():
        raise PolicyError(f"{where}: every value needs a 'source' note")


def _bands(raw: Sequence[Mapping[str, Any]], where: str) -> tuple[Band, ...]:
    if not 1 <= len(raw) <= BANDS_MAX:
        raise PolicyError(f"{where}: 1..{BANDS_MAX} bands needed")
    bands = []
    for i, band in enumerate(raw):
        upto = band.get("upto")
        last = i == len(raw) - 1
        if (upto is None) != last:
            raise PolicyError(f"{where}: only the last band is open-ended")
        bands.append(
            Band(None if upto is None else _amount(upto, where), _ratio(band["ratio"], where))
        )
    limits = [b.upto for b in bands if b.upto is not None]
    if limits != sorted(set(limits)):
        raise PolicyError(f"{where}: band limits must increase")
    return tuple(bands)


def _deductible(raw: Mapping[str, Any], where: str) -> DeductibleRule:
    _require_source(raw, where)
    first = _amount(raw["first"], where)
    later = _amount(raw.get("later", raw["first"]), where)
    return DeductibleRule(_selector(raw, where), first, later)


def _stage(raw: Mapping[str, Any], where: str) -> Stage:
    fund = str(raw["fund"])
    if fund not in FUNDS:
        raise PolicyError(f"{where}: unknown fund {fund}")
    cap = raw.get("annual_cap")
    overflow = raw.get("overflow")
    if cap is not None:
        _require_source(cap, f"{where}.annual_cap")
    if overflow is not None:
        _require_source(overflow, f"{where}.overflow")
        if str(overflow["fund"]) not in FUNDS:
            raise PolicyError(f"{where}: unknown overflow fund {overflow['fund']}")
    band_rules = []
    for i, rule in enumerate(raw.get("bands", [])):
        _require_source(rule, f"{where}.bands[{i}]")
        band_rules.append(BandRule(_selector(rule, where), _bands(rule["bands"], where)))
    share_rules = []
    for i, rule in enumerate(raw.get("share", [])):
        _require_source(rule, f"{where}.share[{i}]")
        share_rules.append(ShareRule(_selector(rule, where), _ratio(rule["factor"], where)))
    key = str(raw["key"])
    if not 1 <= len(key) <= STAGE_KEY_LENGTH_MAX or not key.replace("_", "").isalnum():
        raise PolicyError(f"{where}: stage key must be 1..{STAGE_KEY_LENGTH_MAX} letters/digits/_")
    return Stage(
        key=key,
        fund=fund,
        basis=Basis(raw.get("basis", Basis.IN_SCOPE)),
        deductible_period=Period(raw.get("deductible_period", Period.YEAR)),
        band_period=Period(raw.get("band_period", Period.YEAR)),
        deductibles=tuple(
            _deductible(d, f"{where}.deductible[{i}]")
            for i, d in enumerate(raw.get("deductible", []))
        ),
        band_rules=tuple(band_rules),
        share_rules=tuple(share_rules),
        annual_cap=None if cap is None else _amount(cap["amount"], f"{where}.annual_cap"),
        overflow=None
        if overflow is None
        else Overflow(str(overflow["fund"]), _ratio(overflow["ratio"], f"{where}.overflow")),
    )


def _scheme(raw: Mapping[str, Any], where: str) -> Scheme:
    stages = tuple(_stage(s, f"{where}.stage[{i}]") for i, s in enumerate(raw.get("stage", [])))
    if len(stages) > STAGES_MAX:
        raise PolicyError(f"{where}: at most {STAGES_MAX} stages")
    keys = [s.key for s in stages]
    if len(keys) != len(set(keys)):
        raise PolicyError(f"{where}: stage keys must be unique")
    return Scheme(
        name=str(raw["name"]),
        med_types=frozenset(str(m) for m in raw["med_types"]),
        stages=stages,
        account_allowed=bool(raw.get("account_allowed", True)),
    )


AWAY_CATEGORIES = tuple(c.value for c in Category)


def _away(raw: Mapping[str, Any] | None) -> Mapping[str, Decimal]:
    if raw is None:
        return MappingProxyType({})
    _require_source(raw, "away")
    unknown = set(raw) - {*AWAY_CATEGORIES, "source", "commitment"}
    if unknown:
        raise PolicyError(f"away: unknown categories {sorted(unknown)}")
    missing = [c for c in AWAY_CATEGORIES if c not in raw and c != Category.UNFILED]
    if missing:
        raise PolicyError(f"away: missing {missing}")
    return MappingProxyType(
        {c: _ratio(raw[c], f"away.{c}") for c in AWAY_CATEGORIES if c in raw}
    )


# the types an app or the window files (2501, 2503 and 2507 carry the hospital's papers)
COMMITMENT_TYPES = frozenset(t.value for t in FilingType if t is not FilingType.DISEASE)


def _commitment(raw: Mapping[str, Any] | None) -> frozenset[str]:
    """``[away.commitment]``: ``types``, the filing types filed on the person's signed
    commitment letter, and its ``source``."""
    if raw is None:
        return frozenset()
    _require_source(raw, "away.commitment")
    types = raw.get("types")
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise PolicyError("away.commitment.types must be a list of filing types")
    unknown = set(types) - COMMITMENT_TYPES
    if unknown:
        raise PolicyError(f"away.commitment: not filing types an app or the window files "
                          f"{sorted(unknown)}")
    return frozenset(types)


SUPPLY_DAYS_MAX = 366


def _days(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= SUPPLY_DAYS_MAX:
        raise PolicyError(f"{where}: days must be a whole number 1..{SUPPLY_DAYS_MAX}")
    return value


def _limits(raw: Sequence[Mapping[str, Any]], where: str) -> Mapping[str, int]:
    out: dict[str, int] = {}
    for i, entry in enumerate(raw):
        _require_source(entry, f"{where}[{i}]")
        code = str(entry["code"])
        if code in out:
            raise PolicyError(f"{where}[{i}]: {code} appears twice")
        out[code] = _days(entry["days"], f"{where}[{i}]")
    return MappingProxyType(out)


def _supply(raw: Mapping[str, Any] | None) -> Supply | None:
    if raw is None:
        return None
    _require_source(raw, "supply")
    supply = Supply(
        default_days=_days(raw["default_days"], "supply.default_days"),
        chronic_days=_days(raw["chronic_days"], "supply.chronic_days"),
        refill_left=_ratio(raw["refill_left"], "supply.refill_left"),
        items=_limits(raw.get("item", []), "supply.item"),
        diseases=_limits(raw.get("disease", []), "supply.disease"),
    )
    if supply.chronic_days < supply.default_days:
        raise PolicyError("supply: chronic_days is shorter than default_days")
    return supply


def _block(raw: Mapping[str, Any] | None) -> frozenset[str]:
    """``[supervision] block``: visit rules of the library whose finding refuses
    settlement (a month rule cannot: it needs the month's extract)."""
    if raw is None:
        return frozenset()
    _require_source(raw, "supervision")
    ids = raw.get("block", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise PolicyError("supervision.block must be a list of rule ids")
    for rule_id in ids:
        try:
            found = supervision.rule(rule_id)
        except KeyError:
            raise PolicyError(f"supervision.block: {rule_id} is not a rule of the "
                              "library") from None
        if found.scope is not supervision.Scope.VISIT:
            raise PolicyError(f"supervision.block: {rule_id} needs the month's extract; "
                              "only visit rules can block settlement")
    return frozenset(ids)


def _mutual_aid(raw: Mapping[str, Any] | None) -> bool:
    if raw is None:
        return False
    _require_source(raw, "pharmacy")
    value = raw.get("mutual_aid", False)
    if not isinstance(value, bool):
        raise PolicyError("pharmacy.mutual_aid must be true or false")
    return value


def _group(raw: Mapping[str, Any], where: str) -> GroupRule:
    _require_source(raw, where)
    code = str(raw["code"])
    if code not in MDTRT_GRP_TYPES:
        raise PolicyError(f"{where}: code {code} is not in table 598 (MDTRT_GRP_TYPE)")
    waive = raw.get("waive_deductible", False)
    if not isinstance(waive, bool):
        raise PolicyError(f"{where}.waive_deductible must be true or false")
    ratio = raw.get("ratio")
    fund = raw.get("finance_fund")
    finance = None
    if fund is not None:
        if str(fund) not in FUNDS:
            raise PolicyError(f"{where}: unknown finance fund {fund}")
        try:
            share = FinanceShare(raw.get("finance_share", FinanceShare.IN_SCOPE))
        except ValueError as exc:
            raise PolicyError(f"{where}.finance_share: in_scope or all") from exc
        finance = Finance(str(fund), share)
    return GroupRule(code, waive, None if ratio is None else _ratio(ratio, where), finance)


def _groups(raw: Sequence[Mapping[str, Any]]) -> Mapping[str, GroupRule]:
    out: dict[str, GroupRule] = {}
    for i, entry in enumerate(raw):
        rule = _group(entry, f"group[{i}]")
        if rule.code in out:
            raise PolicyError(f"group[{i}]: code {rule.code} appears twice")
        out[rule.code] = rule
    return MappingProxyType(out)


def _designation(raw: Mapping[str, Any] | None) -> Rule | None:
    if raw is None:
        return None
    _require_source(raw, "designation")
    choices = raw.get("choices_max")
    if isinstance(choices, bool) or not isinstance(choices, int) or not (
            1 <= choices <= CHOICES_MAX_LIMIT):
        raise PolicyError(f"designation.choices_max must be a whole number "
                          f"1..{CHOICES_MAX_LIMIT}")
    kinds = [str(k) for k in raw.get("open_to_all", [])]
    unknown = sorted(set(kinds) - set(OPEN_KINDS))
    if unknown:
        raise PolicyError(f"designation.open_to_all: unknown kinds {unknown} "
                          f"(known: {', '.join(OPEN_KINDS)})")
    return Rule(choices, frozenset(OpenKind(k) for k in kinds))


ADVANCE_KEYS = frozenset({"interest_rate", "day_count", "average_months", "low_months",
                          "source"})
AVERAGE_MONTHS_MAX = 12


def _advance(raw: Mapping[str, Any] | None) -> Terms | None:
    if raw is None:
        return None
    _require_source(raw, "advance")
    unknown = set(raw) - ADVANCE_KEYS
    if unknown:
        raise PolicyError(f"advance: unknown keys {sorted(unknown)}")
    rate = _ratio(raw["interest_rate"], "advance.interest_rate")
    day_count, months = raw["day_count"], raw["average_months"]
    if day_count not in (360, 365):
        raise PolicyError("advance.day_count: 360 or 365 days")
    if isinstance(months, bool) or not isinstance(months, int) or not (
            1 <= months <= AVERAGE_MONTHS_MAX):
        raise PolicyError(f"advance.average_months: a whole number 1..{AVERAGE_MONTHS_MAX}")
    low = Decimal(str(raw["low_months"]))
    if not Decimal(0) <= low <= Decimal(AVERAGE_MONTHS_MAX):
        raise PolicyError(f"advance.low_months: 0..{AVERAGE_MONTHS_MAX}")
    return Terms(rate, day_count, months, low)


def advance_terms(policies: Sequence[Policy], *, region: str, day: date) -> Terms | None:
    """The advance-fund terms of an insured place in force on a day: those of its
    policies in force that have ``[advance]`` (the latest start wins)."""
    found = [p for p in policies
             if p.region == region and p.advance is not None and p.in_force_on(day)]
    chosen = max(found, key=lambda p: (p.valid_from, p.insutype), default=None)
    return None if chosen is None else chosen.advance
def _whole(value: Any, where: str, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        raise PolicyError(f"{where}: must be a whole number 0..{most}")
    return value


def _contribution(raw: Mapping[str, Any] | None) -> ContributionTerms:
    if raw is None:
        return NO_TERMS
    _require_source(raw, "contribution")
    rate = Decimal(str(raw["late_fee_daily_rate"]))
    if not Decimal(0) <= rate <= LATE_FEE_RATE_MAX:
        raise PolicyError(f"contribution.late_fee_daily_rate {rate} outside 0..{LATE_FEE_RATE_MAX}")
    return ContributionTerms(
        grace_days=_whole(raw["grace_days"], "contribution.grace_days", GRACE_DAYS_MAX),
        late_fee_rate=rate,
        extension_days=_whole(raw.get("declared_extension_days", 0),
                              "contribution.declared_extension_days", EXTENSION_DAYS_MAX),
    )


def parse_policy(raw: Mapping[str, Any]) -> Policy:
    """Build a Policy from the parsed TOML of a policy file; raises PolicyError."""
    try:
        head = raw["policy"]
        valid_to = head.get("valid_to")
        policy = Policy(
            policy_id=str(head["id"]),
            region=str(head["region"]),
            insutype=str(head["insutype"]),
            valid_from=date.fromisoformat(str(head["valid_from"])),
            valid_to=None if not valid_to else date.fromisoformat(str(valid_to)),
            schemes=tuple(
                _scheme(s, f"scheme[{i}]") for i, s in enumerate(raw.get("scheme", []))
            ),
            away=_away(raw.get("away")),
            commitment=_commitment((raw.get("away") or {}).get("commitment")),
            mutual_aid=_mutual_aid(raw.get("pharmacy")),
            supply=_supply(raw.get("supply")),
            groups=_groups(raw.get("group", [])),
            designation=_designation(raw.get("designation")),
            advance=_advance(raw.get("advance")),
            contribution=_contribution(raw.get("contribution")),
            block=_block(raw.get("supervision")),
        )
    except (KeyError, TypeError) as exc:
        raise PolicyError(f"policy file is missing or mistypes {exc}") from exc
    med_types = [m for s in policy.schemes for m in s.med_types]
    if len(med_types) != len(set(med_types)):
        raise PolicyError(f"{policy.policy_id}: a med_type appears in two schemes")
    return policy
