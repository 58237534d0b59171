"""Contribution status (缴费状态) and the declared period: the pure rules (2020 epidemic
measures, items 6, 10, 11; docs/contribution.md).

A person's insurance is, on any day, ``paid`` (contributions up to date), ``deferred``
(缓缴: a bureau's deferral decision for the employer or for everyone, until a day),
``arrears`` (欠缴: due and unpaid since a day) or ``suspended`` (中止). The insurance row
keeps the current ``Standing``; the ``contribution_period`` rows keep the history
(``Period``). The insured place's policy says the grace days and the late-fee rate
(``Terms``, ``[contribution]``; none: no grace, no late fee).

- deferred keeps the benefits and charges no late fee while the deferral lasts; after
  its last day the contributions are due, and the grace counts from the next day;
- arrears keeps the benefits for the grace days, then they stop;
- suspended stops them at once;
- a payment within the grace restores continuity: the arrears window is covered (its
  care may be claimed), and the history shows no gap; a payment after the grace leaves
  the gap from the grace's end to the payment;
- the late fee (滞纳金) is the amount owed × the daily rate × the days late, in fen.

The declared period (a bureau's declaration of a public-health emergency, item 11):
a special-disease registration whose end falls inside one stays in force until the
period's last day plus the policy's extension days (``extended_end``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from yibao.domain.errors import Refused
from yibao.domain.money import Fen, round_fen

GRACE_DAYS_MAX = 366
EXTENSION_DAYS_MAX = 366
DEFERRAL_DAYS_MAX = 366  # a deferral decision covers at most a year
DECLARED_DAYS_MAX = 732
LATE_FEE_RATE_MAX = Decimal("0.01")  # per day


class Status(StrEnum):
    """insurance.contrib_stas and contribution_period.status."""

    PAID = "paid"
    DEFERRED = "deferred"
    ARREARS = "arrears"
    SUSPENDED = "suspended"


class Decision(StrEnum):
    """contribution_period.decision: what made the period."""

    DEFERRAL = "deferral"  # a bureau's deferral decision (its id in ``decision_ref``)
    OPERATOR = "operator"  # an operator's entry (arrears, suspension, a correction)
    PAYMENT = "payment"  # a payment recorded


@dataclass(frozen=True, slots=True)
class Terms:
    """The insured place's ``[contribution]`` policy table."""

    grace_days: int  # benefits continue this many days after arrears begin
    late_fee_rate: Decimal  # per day, of the amount owed
    extension_days: int = 0  # after a declared period, registrations due still hold


NO_TERMS = Terms(grace_days=0, late_fee_rate=Decimal(0))  # a policy without the table


@dataclass(frozen=True, slots=True)
class Standing:
    """The current status kept on the insurance row: since a day (and for a deferral,
    until its last day, inclusive)."""

    status: Status
    since: date | None = None
    until: date | None = None


PAID = Standing(Status.PAID)


def standing_of(status: str | None, since: date | None, until: date | None) -> Standing:
    """The standing of an insurance row's columns (NULL status: paid)."""
    return Standing(Status(status or Status.PAID.value), since, until)


def benefits_end(standing: Standing, terms: Terms) -> date | None:
    """The first day without benefits (None: benefits continue)."""
    if standing.status is Status.SUSPENDED:
        assert standing.since is not None, standing
        return standing.since
    if standing.status is Status.ARREARS:
        assert standing.since is not None, standing
        return standing.since + timedelta(days=terms.grace_days)
    if standing.status is Status.DEFERRED and standing.until is not None:
        return standing.until + timedelta(days=1 + terms.grace_days)
    return None


def check_covered(standing: Standing, terms: Terms, day: date, insutype: str) -> None:
    """Refuse care on ``day`` without benefits: E-PSN-019 suspended, E-PSN-018 arrears
    (or a deferral ended) beyond the grace."""
    end = benefits_end(standing, terms)
    if end is None or day < end:
        return
    if standing.status is Status.SUSPENDED:
        raise Refused("E-PSN-019", f"insutype {insutype}: contributions suspended since "
                      f"{standing.since}")
    due = standing.since if standing.status is Status.ARREARS else standing.until
    raise Refused("E-PSN-018", f"insutype {insutype}: contributions unpaid since {due}, "
                  f"grace of {terms.grace_days} days ended {end - timedelta(days=1)}")


def days_late(standing: Standing, paid_on: date) -> int:
    """The days a payment on ``paid_on`` is late: from the arrears' first day, or from the
    day after a deferral's end; zero while deferred, and for paid or suspended."""
    if standing.status is Status.ARREARS:
        assert standing.since is not None, standing
        return max(0, (paid_on - standing.since).days)
    if standing.status is Status.DEFERRED and standing.until is not None:
        return max(0, (paid_on - standing.until).days - 1)
    return 0


def late_fee(owed: Fen, days: int, rate: Decimal) -> Fen:
    """滞纳金: ``owed`` × ``rate`` per day × ``days``, rounded half-up to the fen, at most
    the amount owed (Administrative Compulsion Law art. 45, 行政强制法第四十五条: a late
    fee never exceeds the sum it is charged on)."""
    assert owed >= 0 and days >= 0 and Decimal(0) <= rate <= LATE_FEE_RATE_MAX, (owed, rate)
    return min(owed, round_fen(Decimal(owed) * rate * days))


def check_not_future(day: date, today: date, what: str) -> None:
    """A payment, arrears or a suspension is recorded for a day that has come (E-CON-001)."""
    if day > today:
        raise Refused("E-CON-001", f"{what} {day} is after today {today}")


def restores_continuity(standing: Standing, terms: Terms, paid_on: date) -> bool:
    """A payment on ``paid_on`` leaves no gap: made before the benefits ended."""
    end = benefits_end(standing, terms)
    return end is None or paid_on < end


def payable(standing: Standing) -> None:
    """Only arrears or a deferral are paid (E-CON-002)."""
    if standing.status not in (Status.ARREARS, Status.DEFERRED):
        raise Refused("E-CON-002", f"the contributions are {standing.status}: nothing is due")


# ---------------------------------------------------------------- the history


@dataclass(frozen=True, slots=True)
class Period:
    """A ``contribution_period`` row: ``begin`` inclusive, ``end`` exclusive (None:
    current); ``continuous``: arrears closed by a payment within the grace."""

    status: Status
    begin: date
    end: date | None
    continuous: bool = False


def period_on(periods: Iterable[Period], day: date) -> Period | None:
    """The period holding ``day`` (None: before the history)."""
    return next((p for p in periods if p.begin <= day and (p.end is None or day < p.end)),
                None)


def covered_on(periods: Sequence[Period], terms: Terms, day: date) -> bool:
    """Whether care on ``day`` was covered, as the history now shows it: a payment
    within the grace covers the whole arrears window (a claim may be made for care
    refused in it)."""
    period = period_on(periods, day)
    if period is None or period.status in (Status.PAID, Status.DEFERRED):
        return True
    if period.status is Status.SUSPENDED:
        return False
    return period.continuous or day < period.begin + timedelta(days=terms.grace_days)


# ---------------------------------------------------------------- decisions


def check_span(begin: date, until: date, days_max: int, what: str) -> None:
    """A decision's first and last day (inclusive): in order, at most ``days_max``."""
    if until < begin:
        raise Refused("E-CON-001", f"{what}: the last day {until} is before {begin}")
    if (until - begin).days + 1 > days_max:
        raise Refused("E-CON-001", f"{what}: longer than {days_max} days")


@dataclass(frozen=True, slots=True)
class Declared:
    """A declared period of an area: its first and last day (inclusive)."""

    area: str
    begin: date
    until: date


def extended_end(end_at: datetime | None, declared: Iterable[Declared], area: str,
                 terms: Terms) -> datetime | None:
    """A registration's end (exclusive midnight) once declared periods of ``area`` are
    counted: an end inside one moves to the period's last day plus the extension days
    (repeated while the new end falls in a later period)."""
    if end_at is None:
        return None
    periods = sorted((d for d in declared if d.area == area), key=lambda d: d.begin)
    end = end_at
    for period in periods:
        last_day_valid = (end - timedelta(days=1)).date()
        if period.begin <= last_day_valid <= period.until:
            moved = period.until + timedelta(days=1 + terms.extension_days)
            end = max(end, datetime.combine(moved, time()))
    return end
