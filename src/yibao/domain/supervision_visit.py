"""The supervision rules decidable on one visit (SV05–SV10), as pure functions.

3101/3102 (services/review.py) and settlement (services/supervision_check.py) run them in
real time; the same rules as set-based SQL (``analytics/supervision/SV05.sql``..``SV10.sql``)
screen a month's extract, and a property test proves both find the same (rule, lines,
amount). Each function takes the visit, the person, the visit's fee lines (net of refunds:
``net_of_refunds``) and the catalogue's limits per code, and returns findings.

Conventions, the same in the SQL:
- A line's day is its ``at`` (fee_ocur_time) date, else the visit's begin date.
- Days of stay (SV05) count as the standard's bed days do, 算入不算出: the end date minus
  the begin date, the end being the discharge or, for an open visit, ``now``; a stay that
  begins and ends the same day counts 1.
- Age (SV08) is in whole years on the line's day (a 29 February birthday comes on
  1 March in other years).
- An excess quantity's amount (SV05, SV09 daily) is the excess times the item's highest
  unit price in the lines involved, in fen rounded half up, never more than those lines'
  amounts. A line-based excess (SV06, SV09 course and times) is the extra lines' amounts.
- Line order (which of two duplicates is "the first", which bill is the (n+1)th) is the
  line id (the order lines were uploaded).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from yibao.domain.supervision import rule

MALE, FEMALE = "1", "2"  # gend codes a sex-specific item names (others are not judged)
SEXES = {MALE: ("男性", "men"), FEMALE: ("女性", "women")}


@dataclass(frozen=True, slots=True)
class Visit:
    mdtrt_id: str
    visit_class: str  # outpatient | inpatient (domain/codes.VisitClass values)
    begin: datetime
    end: datetime | None  # None: still open


@dataclass(frozen=True, slots=True)
class Person:
    gend: str  # 1 male, 2 female, other codes: not known
    brdy: date


@dataclass(frozen=True, slots=True)
class Line:
    """A fee line: ``id`` orders lines (upload order), ``ref`` names it to the
    institution (feedetl_sn, or rx_id in 3101/3102); ``refund_of`` the ref of the line a
    refund (negative cnt) takes back."""

    id: int
    ref: str
    code: str
    list_type: str
    cnt: Decimal
    pric: Decimal
    amount: int  # fen
    pric_uplmt: Decimal | None = None
    at: datetime | None = None
    refund_of: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class Limits:
    """The catalogue's limits for one code (catalogue_item's usage-limit columns)."""

    price_cap: Decimal | None = None
    gend: str = ""
    age_min: int | None = None
    age_max: int | None = None
    daily_cnt: Decimal | None = None
    course_days: int | None = None
    visit_times: int | None = None
    per_day: bool = False

    def any(self) -> bool:
        return self != NO_LIMITS


NO_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Finding:
    """What one rule found on one visit: ``key`` makes it one within the visit (the
    screening's clue_key is ``mdtrt_id:key``), ``lines`` the ids of the lines involved,
    ``amount`` at risk in fen."""

    rule_id: str
    key: str
    code: str
    lines: tuple[int, ...]
    amount: int
    message_zh: str
    message_en: str
    # each line's share of the amount, in the order of ``lines`` (0: a line involved
    # but not itself the excess, such as the first of two duplicates)
    shares: tuple[int, ...] = ()

    def message(self, lang: str) -> str:
        return self.message_zh if lang.startswith("zh") else self.message_en


@dataclass(frozen=True, slots=True)
class Case:
    """Everything the rules read about one visit."""

    visit: Visit
    person: Person
    lines: tuple[Line, ...]  # net of refunds
    limits: Mapping[str, Limits]
    now: datetime

    def limit(self, code: str) -> Limits:
        return self.limits.get(code, NO_LIMITS)


def net_of_refunds(lines: Iterable[Line]) -> tuple[Line, ...]:
    """The positive lines with what refunds took back subtracted (count and amount): a
    line refunded whole is gone, and so are the refund lines themselves."""
    lines = list(lines)
    back_cnt: dict[str, Decimal] = defaultdict(Decimal)
    back_amt: dict[str, int] = defaultdict(int)
    for line in lines:
        if line.cnt < 0 or line.amount < 0:
            back_cnt[line.refund_of] += -line.cnt
            back_amt[line.refund_of] += -line.amount
    kept = []
    for line in lines:
        if line.cnt <= 0 or line.amount <= 0:
            continue
        if line.ref in back_cnt:
            line = replace(line, cnt=line.cnt - back_cnt[line.ref],
                           amount=line.amount - back_amt[line.ref])
            if line.cnt <= 0 or line.amount <= 0:
                continue
        kept.append(line)
    return tuple(kept)


def day_of(line: Line, visit: Visit) -> date:
    return (line.at or visit.begin).date()


def stay_days(visit: Visit, now: datetime) -> int:
    """Days of stay, 算入不算出 (the end date minus the begin date), at least 1."""
    end = visit.end or now
    return max(1, (end.date() - visit.begin.date()).days)


def age_on(brdy: date, day: date) -> int:
    return day.year - brdy.year - ((day.month, day.day) < (brdy.month, brdy.day))


def fen(value: Decimal) -> int:
    """Yuan (exact decimal) to fen, rounded half up."""
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _excess_amount(excess: Decimal, lines: Sequence[Line]) -> int:
    return min(fen(excess * max(line.pric for line in lines)), sum(line.amount for line in lines))


def _finding(rule_id: str, key: str, code: str, shares: Mapping[int, int], zh: str,
             en: str) -> Finding:
    ids = tuple(sorted(shares))
    return Finding(rule_id, key, code, ids, sum(shares.values()), zh, en,
                   tuple(shares[i] for i in ids))


def _spread(amount: int, lines: Sequence[Line]) -> dict[int, int]:
    """An excess amount put on the lines in id order, each up to its own amount."""
    shares = {}
    for line in sorted(lines, key=lambda line: line.id):
        shares[line.id] = min(amount, line.amount)
        amount -= shares[line.id]
    return shares


def _own(lines: Iterable[Line]) -> dict[int, int]:
    return {line.id: line.amount for line in lines}


def _by_code(case: Case) -> dict[str, list[Line]]:
    grouped: dict[str, list[Line]] = defaultdict(list)
    for line in sorted(case.lines, key=lambda line: line.id):
        grouped[line.code].append(line)
    return grouped


def _name(lines: Sequence[Line]) -> str:
    return lines[0].name or lines[0].code


def sv05(case: Case) -> list[Finding]:
    """Phantom beds: a per-day item whose total count exceeds the days of stay."""
    days = stay_days(case.visit, case.now)
    found = []
    for code, lines in _by_code(case).items():
        if not case.limit(code).per_day:
            continue
        total = sum((line.cnt for line in lines), Decimal(0))
        if total > days:
            excess = total - days
            found.append(_finding(
                "SV05", code, code, _spread(_excess_amount(excess, lines), lines),
                f"按日计费项目【{_name(lines)}】计 {_num(total)} 次，住院仅 {days} 天",
                f"per-day item {_name(lines)} billed {_num(total)} times for a stay of "
                f"{days} days"))
    return found


def sv06(case: Case) -> list[Finding]:
    """The same item (code, day, count, price) billed more than once in the visit."""
    groups: dict[tuple[str, date, Decimal, Decimal], list[Line]] = defaultdict(list)
    for line in sorted(case.lines, key=lambda line: line.id):
        groups[(line.code, day_of(line, case.visit), line.cnt, line.pric)].append(line)
    found = []
    for (code, day, _cnt, _pric), lines in groups.items():
        if len(lines) < 2:
            continue
        found.append(_finding(
            "SV06", f"{code}:{lines[0].id}", code, {lines[0].id: 0} | _own(lines[1:]),
            f"【{_name(lines)}】{day.isoformat()} 同量同价收费 {len(lines)} 次",
            f"{_name(lines)} billed {len(lines)} times on {day.isoformat()} with the same "
            "count and price"))
    return found


def sv07(case: Case) -> list[Finding]:
    """A sex-specific item billed for a person of the other sex."""
    if case.person.gend not in SEXES:
        return []
    found = []
    for code, lines in _by_code(case).items():
        sex = case.limit(code).gend
        if sex in SEXES and sex != case.person.gend:
            zh, en = SEXES[sex]
            found.append(_finding(
                "SV07", code, code, _own(lines),
                f"限{zh}项目【{_name(lines)}】用于{SEXES[case.person.gend][0]}",
                f"{_name(lines)} is for {en} only, billed for one of "
                f"{SEXES[case.person.gend][1]}"))
    return found


def sv08(case: Case) -> list[Finding]:
    """An age-specific item billed outside its ages (age on the line's day)."""
    found = []
    for code, lines in _by_code(case).items():
        limit = case.limit(code)
        if limit.age_min is None and limit.age_max is None:
            continue
        low = -1 if limit.age_min is None else limit.age_min
        high = 10**6 if limit.age_max is None else limit.age_max
        outside = [line for line in lines
                   if not low <= age_on(case.person.brdy, day_of(line, case.visit)) <= high]
        if outside:
            ages = f"{'' if limit.age_min is None else limit.age_min}-" \
                   f"{'' if limit.age_max is None else limit.age_max}"
            age = age_on(case.person.brdy, day_of(outside[0], case.visit))
            found.append(_finding(
                "SV08", code, code, _own(outside),
                f"限年龄({ages}岁)项目【{_name(lines)}】用于 {age} 岁患者",
                f"{_name(lines)} is for ages {ages}, billed for a patient of {age}"))
    return found


def sv09(case: Case) -> list[Finding]:
    """Quantity per day above lmt_daily_cnt, course (first to last day billed, inclusive)
    above lmt_course_days, times billed in the visit above lmt_visit_times."""
    found = []
    for code, lines in _by_code(case).items():
        limit = case.limit(code)
        name = _name(lines)
        if limit.daily_cnt is not None:
            per_day: dict[date, list[Line]] = defaultdict(list)
            for line in lines:
                per_day[day_of(line, case.visit)].append(line)
            for day, today in sorted(per_day.items()):
                total = sum((line.cnt for line in today), Decimal(0))
                if total > limit.daily_cnt:
                    found.append(_finding(
                        "SV09", f"{code}:daily:{day.isoformat()}", code,
                        _spread(_excess_amount(total - limit.daily_cnt, today), today),
                        f"【{name}】{day.isoformat()} 用量 {_num(total)}，"
                        f"超过日限量 {_num(limit.daily_cnt)}",
                        f"{name}: {_num(total)} on {day.isoformat()}, above the daily "
                        f"limit {_num(limit.daily_cnt)}"))
        if limit.course_days is not None:
            first = min(day_of(line, case.visit) for line in lines)
            beyond = [line for line in lines
                      if (day_of(line, case.visit) - first).days + 1 > limit.course_days]
            if beyond:
                last = max(day_of(line, case.visit) for line in lines)
                course = (last - first).days + 1
                found.append(_finding(
                    "SV09", f"{code}:course", code, _own(beyond),
                    f"【{name}】疗程 {course} 天，超过限定 {limit.course_days} 天",
                    f"{name}: a course of {course} days, above the limit of "
                    f"{limit.course_days}"))
        if limit.visit_times is not None and len(lines) > limit.visit_times:
            beyond = lines[limit.visit_times:]
            found.append(_finding(
                "SV09", f"{code}:times", code, _own(beyond),
                f"【{name}】本次就诊收费 {len(lines)} 次，超过限定 {limit.visit_times} 次",
                f"{name}: billed {len(lines)} times in the visit, above the limit of "
                f"{limit.visit_times}"))
    return found


def cap_of(line: Line, limit: Limits) -> Decimal | None:
    """The lower of the catalogue's price cap and the line's own pric_uplmt."""
    caps = [c for c in (limit.price_cap, line.pric_uplmt) if c is not None]
    return min(caps) if caps else None


def sv10(case: Case) -> list[Finding]:
    """A unit price above the cap: the amount is (price - cap) x count per line."""
    found = []
    for code, lines in _by_code(case).items():
        above = [(line, cap) for line in lines
                 if (cap := cap_of(line, case.limit(code))) is not None and line.pric > cap]
        if above:
            line, cap = above[0]
            found.append(_finding(
                "SV10", code, code, {line.id: fen((line.pric - cap) * line.cnt)
                                     for line, cap in above},
                f"【{_name(lines)}】单价 {_num(line.pric)} 元，超过限价 {_num(cap)} 元",
                f"{_name(lines)} at {_num(line.pric)} yuan, above the cap of {_num(cap)}"))
    return found


RULES: Mapping[str, Callable[[Case], list[Finding]]] = {
    "SV05": sv05, "SV06": sv06, "SV07": sv07, "SV08": sv08, "SV09": sv09, "SV10": sv10}


def check(case: Case, rule_ids: Iterable[str] | None = None) -> list[Finding]:
    """The findings of the visit rules (all, or ``rule_ids``), in rule order. Each rule
    id must be a visit-scope rule of the library."""
    chosen = sorted(RULES) if rule_ids is None else sorted(set(rule_ids))
    found: list[Finding] = []
    for rule_id in chosen:
        rule(rule_id)  # KeyError: not in the library
        found += RULES[rule_id](case)
    return found


def _num(value: Decimal) -> str:
    """A decimal as people write it: no exponent, no trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
