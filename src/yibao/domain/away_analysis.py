"""The insured place's analysis of its funds spent elsewhere (issue 20; the 2022 notice:
the insured place "regularly analyses its funds' use across provinces and accurately
locks the clues of suspicious problems"; docs/supervision.md, The insured place's
analysis).

Pure: the store's tallies of one insured place's away settlements in, the month's
figures, its 12-month trend, the changes and the outliers out. Money is integer fen;
an average (fund per visit, per person) is rounded down to the fen
(``money.floor_average``); a change is a percentage as exact decimal text with one
decimal, rounded half-up (away from zero), and ``None`` when its base is 0.

The outliers, each saying why (its figure and the figure it was compared with):
- ``peers``: an institution whose fund per visit is above ``peer_ratio`` times the median
  fund per visit of its peers (the other institutions of the same treatment region and
  level with at least ``min_visits`` visits in the month; at least ``min_peers`` of
  them); a treatment region likewise among the other treatment regions. The median of
  the others, not of all: an outlier does not pull its own yardstick.
- ``jump``: an institution or treatment region whose fund paid in the month is above
  ``jump_ratio`` times the median of its own previous ``history_months`` months (a
  month without settlements counts as 0; no jump when that median is 0: there is no
  history to compare with).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from yibao.domain.errors import Refused
from yibao.domain.money import Fen, floor_average

REGION = re.compile(r"[0-9]{6}")
MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
TREND_MONTHS = 12  # the series: the month and the 11 before it
YEAR_MONTHS = 12
HISTORY_MONTHS = 6  # a jump compares the month with the median of the 6 before it
JUMP_RATIO = Decimal(2)  # ... and is a jump above 2 times that median
YEAR_MIN = 2000


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        assert 1 <= self.month <= 12, self.month

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def shifted(self, months: int) -> Month:
        """The month ``months`` later (earlier when negative)."""
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)


def parse_region(text: str) -> str:
    """An insured place as the settlement stores it (insuplc_admdvs: 6 digits)."""
    if not REGION.fullmatch(text):
        raise Refused("E-SUP-020", f"region {text[:20]!r} is not a 6-digit region code "
                      "(insuplc_admdvs, e.g. 130102)")
    return text


def parse_month(text: str, *, current: Month) -> Month:
    """A month as YYYY-MM, not after the ``current`` month (E-SUP-021, E-SUP-022)."""
    found = MONTH.fullmatch(text)
    if not found or not 1 <= int(found[2]) <= 12 or int(found[1]) < YEAR_MIN:
        raise Refused("E-SUP-021", f"month {text[:20]!r} is not YYYY-MM (a month from "
                      f"{YEAR_MIN}-01)")
    month = Month(int(found[1]), int(found[2]))
    if month > current:
        raise Refused("E-SUP-022", f"month {month} is after the current month {current}")
    return month


@dataclass(frozen=True, slots=True)
class Figures:
    """One group's month: settlements (not cancelled; a reimbursement counts as one),
    distinct visits and persons, the medical fees and the fund paid (fen)."""

    settlements: int = 0
    visits: int = 0
    persons: int = 0
    medfee: Fen = 0
    fund: Fen = 0

    @property
    def fund_per_visit(self) -> Fen | None:
        return floor_average(self.fund, self.visits) if self.visits > 0 else None

    @property
    def fund_per_person(self) -> Fen | None:
        return floor_average(self.fund, self.persons) if self.persons > 0 else None


@dataclass(frozen=True, slots=True)
class Tally:
    """A store's row: one group (``key``) of one month, with what names it."""

    month: Month
    key: str
    figures: Figures
    name: str = ""
    treatment: str = ""  # an institution's treatment region (mdtrtarea_admvs)
    level: int | None = None  # an institution's level (None: not registered here)


class Dimension(StrEnum):
    REGION = "region"  # treatment region (mdtrtarea_admvs)
    INSTITUTION = "institution"  # fixmedins_code
    DISEASE = "disease"  # the visit's main diagnosis (diag_code; "" none recorded)


@dataclass(frozen=True, slots=True)
class Group:
    """One row of a table of the month: the group, its figures, the change of its fund
    paid against the previous month (``fund_mom``) and whether it is an outlier."""

    key: str
    name: str
    figures: Figures
    treatment: str = ""
    level: int | None = None
    fund_mom: str | None = None
    outlier: bool = False


@dataclass(frozen=True, slots=True)
class Change:
    """Percent changes against the previous month and the same month last year."""

    mom: str | None
    yoy: str | None


class Check(StrEnum):
    PEERS = "peers"
    JUMP = "jump"


@dataclass(frozen=True, slots=True)
class Outlier:
    """``key`` of ``dimension`` is an outlier by ``check``: its ``figure`` (fund per visit
    for peers, fund paid for a jump) against ``reference`` (the peers' median, or the
    median of its previous months), ``ratio`` = figure / reference (text, 2 decimals,
    rounded down) and ``peers`` (how many peers, or months, the median is of)."""

    dimension: Dimension
    key: str
    name: str
    check: Check
    figure: Fen
    reference: Fen
    ratio: str
    threshold: str
    peers: int


@dataclass(frozen=True, slots=True)
class Thresholds:
    peer_ratio: Decimal
    min_peers: int
    min_visits: int
    jump_ratio: Decimal = JUMP_RATIO
    history_months: int = HISTORY_MONTHS

    def __post_init__(self) -> None:
        assert self.peer_ratio > 0 and self.jump_ratio > 0, self
        assert self.min_peers >= 1 and self.min_visits >= 0 and self.history_months >= 1


@dataclass(frozen=True, slots=True)
class Analysis:
    region: str
    month: Month
    thresholds: Thresholds
    total: Figures
    trend: tuple[tuple[Month, Figures], ...]  # oldest first, the month last
    fund_change: Change
    visits_change: Change
    fund_per_visit_change: Change
    regions: tuple[Group, ...]
    institutions: tuple[Group, ...]
    diseases: tuple[Group, ...]
    outliers: tuple[Outlier, ...] = field(default=())


def percent_change(current: int | None, base: int | None) -> str | None:
    """(current - base) / base as a percentage, exact, one decimal, half-up (away from
    zero); None when there is no base (0 or None) or no current figure."""
    if current is None or not base:
        return None
    tenths = Fraction(current - base, base) * 1000
    whole = (abs(tenths.numerator) * 2 + tenths.denominator) // (2 * tenths.denominator)
    sign = "-" if tenths < 0 and whole else ""
    return f"{sign}{whole // 10}.{whole % 10}"


def ratio_text(figure: int, reference: int) -> str:
    """figure / reference to two decimals, rounded down (reference > 0)."""
    assert reference > 0, reference
    hundredths = figure * 100 // reference
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def median(values: Sequence[int]) -> Fraction:
    """The exact median of ``values`` (not empty)."""
    assert values, "median of nothing"
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return Fraction(ordered[middle])
    return Fraction(ordered[middle - 1] + ordered[middle], 2)


def _fen(value: Fraction) -> Fen:
    """A median as fen, rounded down."""
    return value.numerator // value.denominator


def peer_outliers(dimension: Dimension, groups: Sequence[Group], thresholds: Thresholds,
                  peer_of: Mapping[str, object] | None = None) -> list[Outlier]:
    """The groups whose fund per visit is above ``peer_ratio`` times the median of their
    peers' (``peer_of``: each group's peer class, e.g. (treatment region, level); all
    groups one class when None). Groups with fewer than ``min_visits`` visits neither are
    judged nor count as peers."""
    judged = [g for g in groups if g.figures.visits >= max(thresholds.min_visits, 1)]
    found: list[Outlier] = []
    for group in judged:
        cls = peer_of[group.key] if peer_of is not None else None
        others = [g.figures.fund_per_visit for g in judged if g.key != group.key
                  and (peer_of is None or peer_of[g.key] == cls)]
        values = [v for v in others if v is not None]
        figure = group.figures.fund_per_visit
        if figure is None or len(values) < thresholds.min_peers:
            continue
        middle = median(values)
        if middle > 0 and figure > Fraction(thresholds.peer_ratio) * middle:
            found.append(Outlier(dimension, group.key, group.name, Check.PEERS, figure,
                                 _fen(middle), _ratio(figure, middle),
                                 str(thresholds.peer_ratio), len(values)))
    return found


def _ratio(figure: int, reference: Fraction) -> str:
    hundredths = Fraction(figure) * 100 / reference
    whole = hundredths.numerator // hundredths.denominator
    return f"{whole // 100}.{whole % 100:02d}"


def jump_outliers(dimension: Dimension, groups: Sequence[Group],
                  history: Mapping[str, Sequence[int]], thresholds: Thresholds) -> list[Outlier]:
    """The groups whose fund paid in the month is above ``jump_ratio`` times the median
    of their previous months' (``history``: the fund of each of the previous
    ``history_months`` months, 0 for a month without settlements)."""
    found: list[Outlier] = []
    for group in groups:
        months = list(history.get(group.key, ()))
        assert len(months) <= thresholds.history_months, months
        months += [0] * (thresholds.history_months - len(months))
        middle = median(months)
        if middle > 0 and group.figures.fund > Fraction(thresholds.jump_ratio) * middle:
            found.append(Outlier(dimension, group.key, group.name, Check.JUMP,
                                 group.figures.fund, _fen(middle),
                                 _ratio(group.figures.fund, middle),
                                 str(thresholds.jump_ratio), len(months)))
    return found


def _of_month(tallies: Iterable[Tally], month: Month) -> dict[str, Tally]:
    return {t.key: t for t in tallies if t.month == month}


def _groups(tallies: Sequence[Tally], month: Month) -> list[Group]:
    """The month's groups, the fund's change against the previous month, by fund paid
    (largest first), then key."""
    now, before = _of_month(tallies, month), _of_month(tallies, month.shifted(-1))
    groups = [Group(t.key, t.name, t.figures, t.treatment, t.level,
                    percent_change(t.figures.fund,
                                   before[t.key].figures.fund if t.key in before else None))
              for t in now.values()]
    return sorted(groups, key=lambda g: (-g.figures.fund, g.key))


def _history(tallies: Sequence[Tally], month: Month, months: int) -> dict[str, list[int]]:
    history: dict[str, list[int]] = {}
    for back in range(1, months + 1):
        found = _of_month(tallies, month.shifted(-back))
        for key in {t.key for t in tallies}:
            history.setdefault(key, []).append(
                found[key].figures.fund if key in found else 0)
    return history


def _change(trend: Mapping[Month, Figures], month: Month, figure: str) -> Change:
    def of(m: Month) -> int | None:
        figures = trend.get(m, Figures())
        value: int | None = getattr(figures, figure)
        return value

    return Change(percent_change(of(month), of(month.shifted(-1))),
                  percent_change(of(month), of(month.shifted(-YEAR_MONTHS))))


def analyse(region: str, month: Month, thresholds: Thresholds, *,
            monthly: Sequence[Tally], regions: Sequence[Tally],
            institutions: Sequence[Tally], diseases: Sequence[Tally]) -> Analysis:
    """The month's analysis from the store's tallies: ``monthly`` (key "", the months
    from a year before the month), ``regions`` and ``institutions`` (the month and the
    ``history_months`` before it), ``diseases`` (the month)."""
    by_month = {t.month: t.figures for t in monthly}
    trend = tuple((month.shifted(-back), by_month.get(month.shifted(-back), Figures()))
                  for back in range(TREND_MONTHS - 1, -1, -1))
    region_groups = _groups(regions, month)
    institution_groups = _groups(institutions, month)
    outliers = [
        *peer_outliers(Dimension.REGION, region_groups, thresholds),
        *jump_outliers(Dimension.REGION, region_groups,
                       _history(regions, month, thresholds.history_months), thresholds),
        *peer_outliers(Dimension.INSTITUTION, institution_groups, thresholds,
                       {g.key: (g.treatment, g.level) for g in institution_groups}),
        *jump_outliers(Dimension.INSTITUTION, institution_groups,
                       _history(institutions, month, thresholds.history_months),
                       thresholds),
    ]
    flagged = {(o.dimension, o.key) for o in outliers}

    def marked(dimension: Dimension, groups: list[Group]) -> tuple[Group, ...]:
        return tuple(Group(g.key, g.name, g.figures, g.treatment, g.level, g.fund_mom,
                           (dimension, g.key) in flagged) for g in groups)

    return Analysis(
        region, month, thresholds, by_month.get(month, Figures()), trend,
        _change(by_month, month, "fund"), _change(by_month, month, "visits"),
        _change(by_month, month, "fund_per_visit"),
        marked(Dimension.REGION, region_groups),
        marked(Dimension.INSTITUTION, institution_groups),
        tuple(_groups(diseases, month)), tuple(outliers))
