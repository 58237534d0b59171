"""A person's designated institutions (就医定点医疗机构), the pure rules: how many a person
may choose, which institutions everyone may use without choosing them, whether a
settlement at home needs a designation, and how a change ends the designation it
replaces. 2020 epidemic measures, item 3: designated institutions are chosen and changed
online (the app, 2505 from the hospital, the operator window).

The service (services/designation.py) loads the records (store/designations.py) and the
institution, and calls these functions. A refusal says why and what to do (``Refused``,
codes E-DES-*).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from yibao.domain.errors import Refused

BIZ_APPY_TYPE = "03"  # biz_appy_type 就医定点医疗机构登记 (2505 / 5302)
CHOICES_MAX_LIMIT = 20  # a policy's choices_max is 1..20
EMERGENCY_MED_TYPES = frozenset({"13", "1301", "24"})  # 急诊 (and its local sub-code), 急诊转住院


class OpenKind(StrEnum):
    """The kind of an institution a policy may open to everyone (``[designation]
    open_to_all``); NONE: a person uses it only when they designated it."""

    NONE = ""
    A_CLASS = "a_class"  # A类定点
    SPECIALIST = "specialist"  # 专科
    TCM = "tcm"  # 中医
    COMMUNITY = "community"  # 社区卫生服务机构, tier 1


OPEN_KINDS = tuple(k.value for k in OpenKind if k is not OpenKind.NONE)


class Status(StrEnum):
    ACTIVE = "active"  # counts from begin_date through end_date (none: open-ended)
    CANCELLED = "cancelled"  # never counted (ended before it began)


ACTIVE, CANCELLED = Status.ACTIVE.value, Status.CANCELLED.value
STATUSES = (ACTIVE, CANCELLED)


@dataclass(frozen=True, slots=True)
class Rule:
    """A policy's ``[designation]`` table: how many institutions a person may designate,
    and the kinds everyone may use without designating them."""

    choices_max: int
    open_to_all: frozenset[OpenKind]


@dataclass(frozen=True, slots=True)
class Designation:
    """One designation record (a person's chosen institution over a period)."""

    serial: str  # trt_dcla_detl_sn
    psn_no: str
    insutype: str
    order: int  # fix_srt_no
    institution: str  # fixmedins_code
    begin: date
    end: date | None  # the last day it counts (inclusive); None: open-ended
    status: Status
    source: str  # dcla_souc: 01 institution, 02 window, 04 app
    actor: str
    entry: str
    msgid: str
    created_at: datetime
    ended_at: datetime | None
    ended_reason: str
    memo: str

    def counts_on(self, day: date) -> bool:
        return (self.status is Status.ACTIVE and self.begin <= day
                and (self.end is None or day <= self.end))

    def counts_from(self, day: date) -> bool:
        """It counts on ``day`` or on some later day."""
        return self.status is Status.ACTIVE and (self.end is None or day <= self.end)


def needs_designation(rule: Rule | None, *, kind: str, open_kind: str, at_home: bool) -> bool:
    """Whether a settlement at this institution needs the person's designation: only at
    home (the person's insured place is the institution's area), only at a hospital
    (pharmacies are exempt), only under a policy with a ``[designation]`` table, and not
    at an institution of a kind open to all."""
    if rule is None or not at_home or kind != "hospital":
        return False
    return open_kind == "" or OpenKind(open_kind) not in rule.open_to_all


def is_emergency(med_type: str, emergency_flag: bool) -> bool:
    """Emergency care is settled anywhere (med_type 13/1301/24, or the visit's flag)."""
    return med_type in EMERGENCY_MED_TYPES or emergency_flag


def not_designated(code: str, name: str, day: date) -> Refused:
    return Refused("E-DES-001", f"{code} {name} is not among the person's designated "
                   f"institutions on {day:%Y-%m-%d}: designate it in the app, by 2505 at the "
                   "hospital or at the bureau's window, or use an institution open to all")


def check_dates(begin: date, end: date | None, today: date) -> None:
    if begin < today:
        raise Refused("E-DES-004", f"begin date {begin:%Y-%m-%d} is before today "
                      f"{today:%Y-%m-%d}")
    if end is not None and end < begin:
        raise Refused("E-DES-004", f"end date {end:%Y-%m-%d} is before the begin date "
                      f"{begin:%Y-%m-%d}")


def check_institution(rule: Rule, *, code: str, kind: str | None, open_kind: str,
                      area: str, insured_area: str) -> None:
    """The institution can be designated: a hospital of the insured place that is not
    open to all (choosing one open to all would waste a place)."""
    if kind is None:
        raise Refused("E-DES-003", f"no designated institution {code}")
    if kind != "hospital":
        raise Refused("E-DES-003", f"{code} is a {kind}, not a hospital: pharmacies need "
                      "no designation")
    if area != insured_area:
        raise Refused("E-DES-003", f"{code} is in {area}, not the insured place "
                      f"{insured_area}")
    if open_kind and OpenKind(open_kind) in rule.open_to_all:
        raise Refused("E-DES-003", f"{code} is open to all ({open_kind}): it needs no "
                      "designation")


def check_room(rule: Rule, held: Iterable[Designation], *, code: str, order: int | None,
               begin: date, replacing: str = "") -> int:
    """The fix_srt_no the new designation takes (``order``, or the lowest free one),
    among the person's designations that still count from ``begin`` (``replacing``, the
    one a change ends, left out): E-DES-005 for the same institution twice or a taken
    order number, E-DES-002 beyond the policy's number."""
    kept = [d for d in held if d.counts_from(begin) and d.serial != replacing]
    if any(d.institution == code for d in kept):
        raise Refused("E-DES-005", f"{code} is already one of the person's designated "
                      "institutions")
    taken = {d.order for d in kept}
    if order is not None and not 1 <= order <= rule.choices_max:
        raise Refused("E-DES-004", f"fix_srt_no {order} is not 1..{rule.choices_max}")
    busiest = _busiest_day(kept, begin)
    if len(busiest) >= rule.choices_max:
        raise Refused("E-DES-002", f"the person already has {len(busiest)} designated "
                      f"institutions ({', '.join(d.institution for d in busiest)}), the most "
                      f"the policy allows is {rule.choices_max}: change or cancel one")
    if order is not None and order in taken:
        raise Refused("E-DES-005", f"fix_srt_no {order} is taken")
    return order or min(set(range(1, rule.choices_max + 1)) - taken)


def _busiest_day(kept: list[Designation], begin: date) -> list[Designation]:
    """The designations counting on the day from ``begin`` on when most count (a change
    with effect from a later day keeps the replaced one until the day before: both are
    held, never on the same day)."""
    days = {begin, *(d.begin for d in kept if d.begin > begin)}
    return max(([d for d in kept if d.counts_on(day)] for day in sorted(days)), key=len)


@dataclass(frozen=True, slots=True)
class Ending:
    """How a designation ends: its new last day, or cancelled (it would end before it
    began)."""

    end: date | None
    status: Status


def ending_before(row: Designation, day: date) -> Ending:
    """End ``row`` the day before ``day`` (a change taking effect on ``day``, or a
    cancellation on ``day``): history is kept; one that had not begun is cancelled."""
    last = day - timedelta(days=1)
    if last < row.begin:
        return Ending(row.end, Status.CANCELLED)
    if row.end is not None and row.end <= last:
        return Ending(row.end, row.status)
    return Ending(last, Status.ACTIVE)


def check_cancellable(row: Designation | None, *, serial: str, psn_no: str, today: date,
                      caller: str = "") -> Designation:
    """The person's designation ``serial`` that still counts from today (a caller
    institution: only one it registered)."""
    if row is None or row.psn_no != psn_no or (caller and row.actor != caller):
        raise Refused("E-DES-006", f"trt_dcla_detl_sn {serial}")
    if not row.counts_from(today):
        raise Refused("E-DES-007", f"{serial} is {row.status}, last day "
                      f"{row.end or 'none'}: nothing to end")
    return row
