"""The console's dashboard: set-based aggregates over settlements, claims, the outbox and
the refused national messages, each a plain list of typed rows the page charts.

Settlements and cancellations are counted apart (a cancellation is its own row, by its
own settlement time) and money is summed net: a cancellation's amounts are the negated
amounts of the settlement it reverses, so a plain sum nets them. Reimbursements (kind
``claim``) are paid to the person and are not settlements of an institution here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    Select,
    and_,
    case,
    func,
    select,
)

from yibao.domain.claims import ClaimStatus
from yibao.domain.errors import Refused
from yibao.domain.states import SettlementKind
from yibao.services.outbox import FAILED, PENDING
from yibao.store.schema import claim, institution, outbox, refusal_count, settlement

DAYS_DEFAULT = 30
DAYS_MAX = 366
# claims waiting for the bureau: applied for and not yet paid, rejected or withdrawn
WAITING = (ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED,
           ClaimStatus.PARTLY_APPROVED)
BACKLOG = (PENDING, FAILED)  # the outbox's messages not delivered yet
# age buckets: (key, the age the bucket reaches to; None: older)
CLAIM_AGES = (("under-3d", timedelta(days=3)), ("3-7d", timedelta(days=7)),
              ("7-30d", timedelta(days=30)), ("over-30d", None))
OUTBOX_AGES = (("under-1h", timedelta(hours=1)), ("1h-1d", timedelta(days=1)),
               ("1-7d", timedelta(days=7)), ("over-7d", None))
_SETTLE, _CANCEL = SettlementKind.SETTLE.value, SettlementKind.CANCEL.value


@dataclass(frozen=True, slots=True)
class Period:
    """Days ``first`` through ``last``, both included."""

    first: date
    last: date

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def period(first: date | None, last: date | None, today: date) -> Period:
    """The period asked for: the last ``DAYS_DEFAULT`` days through today by default; a
    period ending before it begins or longer than ``DAYS_MAX`` is refused (E-ENV-005)."""
    last = last or today
    first = first or last - timedelta(days=DAYS_DEFAULT - 1)
    if first > last:
        raise Refused("E-ENV-005", f"from {first} is after to {last}")
    if (last - first).days >= DAYS_MAX:
        raise Refused("E-ENV-005", f"from {first} to {last} is more than {DAYS_MAX} days")
    return Period(first, last)


@dataclass(frozen=True, slots=True)
class Tally:
    """Settlements of one group (a day, a level, a pair of regions, a med_type): how many
    settlements and cancellations, the medical fees and what the funds paid, net."""

    key: str
    settlements: int
    cancellations: int
    medfee: int
    fund: int


def _day(column: Any) -> ColumnElement[date]:
    """The day of a moment, as a date on both databases."""
    return func.date(column, type_=Date)


def _tallies(conn: Connection, chosen: Period, key: ColumnElement[Any],
             joined: Any = settlement) -> list[Tally]:
    kind = settlement.c.kind
    query: Select[Any] = (
        select(key.label("key"),
               func.sum(case((kind == _SETTLE, 1), else_=0)).label("settlements"),
               func.sum(case((kind == _CANCEL, 1), else_=0)).label("cancellations"),
               func.sum(settlement.c.medfee_sumamt).label("medfee"),
               func.sum(settlement.c.fund_pay_sumamt).label("fund"))
        .select_from(joined)
        .where(kind.in_((_SETTLE, _CANCEL)),
               settlement.c.setl_time >= datetime.combine(chosen.first, datetime.min.time()),
               settlement.c.setl_time < datetime.combine(chosen.last + timedelta(days=1),
                                                         datetime.min.time()))
        .group_by(key).order_by(key))
    return [Tally(str(r.key), int(r.settlements), int(r.cancellations), int(r.medfee),
                  int(r.fund)) for r in conn.execute(query)]


def per_day(conn: Connection, chosen: Period) -> list[Tally]:
    """Every day of the period (none missing: a day without settlements is zeros)."""
    found = {t.key: t for t in _tallies(conn, chosen, _day(settlement.c.setl_time))}
    return [found.get(str(day), Tally(str(day), 0, 0, 0, 0)) for day in chosen.days]


def per_level(conn: Connection, chosen: Period) -> list[Tally]:
    """Per hospital level of the institution (1-3; 0 a pharmacy)."""
    joined = settlement.join(institution,
                             institution.c.fixmedins_code == settlement.c.fixmedins_code)
    return _tallies(conn, chosen, institution.c.level, joined)


def per_region_pair(conn: Connection, chosen: Period) -> list[Tally]:
    """Per insured place -> treatment place (the key ``110000>130100``)."""
    pair = settlement.c.insuplc_admdvs + ">" + settlement.c.mdtrtarea_admvs
    return _tallies(conn, chosen, pair)


def per_med_type(conn: Connection, chosen: Period) -> list[Tally]:
    return _tallies(conn, chosen, settlement.c.med_type)


@dataclass(frozen=True, slots=True)
class Waiting:
    """How many rows of one status are of one age (a key of the ages' buckets)."""

    status: str
    age: str
    count: int


def _age(column: Any, now: datetime,
         ages: tuple[tuple[str, timedelta | None], ...]) -> ColumnElement[str]:
    reaches = [(column > now - upto, key) for key, upto in ages if upto is not None]
    return case(*reaches, else_=ages[-1][0])


def _waiting(conn: Connection, table: Any, statuses: tuple[str, ...], now: datetime,
             ages: tuple[tuple[str, timedelta | None], ...]) -> list[Waiting]:
    age = _age(table.c.created_at, now, ages)
    rows = conn.execute(select(table.c.status, age.label("age"), func.count().label("n"))
                        .where(table.c.status.in_(statuses))
                        .group_by(table.c.status, age))
    found = {(r.status, r.age): int(r.n) for r in rows}
    return [Waiting(status, key, found.get((status, key), 0))
            for status in statuses for key, _upto in ages]


def claims_waiting(conn: Connection, now: datetime) -> list[Waiting]:
    """Claims waiting for the bureau, per status and age since they were made (every
    status and bucket named, zero included)."""
    return _waiting(conn, claim, tuple(s.value for s in WAITING), now, CLAIM_AGES)


def outbox_backlog(conn: Connection, now: datetime) -> list[Waiting]:
    """The outbox's messages not delivered, per status and age since they were queued."""
    return _waiting(conn, outbox, BACKLOG, now, OUTBOX_AGES)


@dataclass(frozen=True, slots=True)
class Refusals:
    """How many national messages of an institution were refused with a code on a day."""

    day: date
    fixmedins_code: str
    code: str
    count: int


def refusals(conn: Connection, chosen: Period) -> list[Refusals]:
    """The refused national messages of the period, per day, institution and code (every
    infno together)."""
    rc = refusal_count.c
    rows = conn.execute(
        select(rc.day, rc.fixmedins_code, rc.code, func.sum(rc["count"]).label("n"))
        .where(and_(rc.day >= chosen.first, rc.day <= chosen.last))
        .group_by(rc.day, rc.fixmedins_code, rc.code)
        .order_by(rc.day, rc.fixmedins_code, rc.code))
    return [Refusals(r.day, r.fixmedins_code, r.code, int(r.n)) for r in rows]
