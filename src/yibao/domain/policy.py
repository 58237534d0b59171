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

from yibao.domain.codes import FUNDS, PersonGroup
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


def _mutual_aid(raw: Mapping[str, Any] | None) -> bool:
    if raw is None:
        return False
    _require_source(raw, "pharmacy")
    value = raw.get("mutual_aid", False)
    if not isinstance(value, bool):
        raise PolicyError("pharmacy.mutual_aid must be true or false")
    return value


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
        )
    except (KeyError, TypeError) as exc:
        raise PolicyError(f"policy file is missing or mistypes {exc}") from exc
    med_types = [m for s in policy.schemes for m in s.med_types]
    if len(med_types) != len(set(med_types)):
        raise PolicyError(f"{policy.policy_id}: a med_type appears in two schemes")
    return policy
