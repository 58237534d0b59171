"""Fever clinics (发热门诊, the 2020 epidemic measures; docs/fever.md): the departments an
institution marks as fever clinics (an operator's change, audited), and the separate
report of fever-clinic settlements per institution and day.

A visit registered (2201, 2401) or changed (2403) in a marked department carries
``fever`` (set by the visit's own statement, store/fever.is_fever_dept), and its
settlements copy it, so the report reads the settlement table alone. Marking a department
later does not change visits registered before it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Date, case, func, select

from yibao.domain.errors import Refused
from yibao.domain.states import SettlementKind
from yibao.services import audit
from yibao.services.context import Call
from yibao.services.dashboard import Period
from yibao.store import fever, institutions
from yibao.store.schema import settlement

DEPT_CODE_LENGTH_MAX = 30  # visit.dept_code: 2201's dept_code, 2401's adm_dept_codg
_SETTLE, _CANCEL = SettlementKind.SETTLE.value, SettlementKind.CANCEL.value


@dataclass(frozen=True, slots=True)
class FeverDept:
    dept_code: str
    marked_by: str
    marked_at: datetime


def _checked(call: Call, code: str, dept_code: str) -> None:
    if not dept_code or len(dept_code) > DEPT_CODE_LENGTH_MAX or not dept_code.isprintable():
        raise Refused("E-ADM-011", f"dept_code must be 1..{DEPT_CODE_LENGTH_MAX} printable "
                      "characters, as the HIS sends it in 2201 dept_code / 2401 adm_dept_codg")
    if not institutions.lock(call.conn, code):  # orders two operators' marks
        raise Refused("E-ADM-001", f"no such institution {code}")


def mark(call: Call, code: str, dept_code: str) -> bool:
    """Mark the institution's department ``dept_code`` as a fever clinic; False when it
    was marked already. Visits registered in it from now on are fever-clinic visits."""
    _checked(call, code, dept_code)
    added = fever.mark(call.conn, code, dept_code, call.actor.name[:64], call.now)
    if added:
        audit.action(call, "institution.fever_dept", code, dept_code=dept_code, marked=True)
    return added


def unmark(call: Call, code: str, dept_code: str) -> bool:
    """The department is no fever clinic any more (visits already registered keep their
    flag); False when it was not marked."""
    _checked(call, code, dept_code)
    removed = fever.unmark(call.conn, code, dept_code)
    if removed:
        audit.action(call, "institution.fever_dept", code, dept_code=dept_code, marked=False)
    return removed


def departments(conn: Connection, code: str) -> list[FeverDept]:
    """The institution's fever-clinic departments, by code (E-ADM-001: no institution)."""
    if institutions.find(conn, code) is None:
        raise Refused("E-ADM-001", f"no such institution {code}")
    return [FeverDept(*row) for row in fever.departments(conn, code)]


@dataclass(frozen=True, slots=True)
class FeverDay:
    """Fever-clinic settlements of one institution on one day: how many settlements and
    cancellations, and net (a cancellation's amounts are negated) the medical fees, what
    the funds paid and the person's part (account and cash)."""

    day: date
    fixmedins_code: str
    settlements: int
    cancellations: int
    medfee: int
    fund: int
    person: int


def report(conn: Connection, chosen: Period, code: str = "") -> list[FeverDay]:
    """The fever-clinic settlements of the period per day and institution (``code``:
    one institution), by day then code. Reimbursements (kind ``claim``) are not
    settlements of an institution and are left out, as on the dashboard."""
    kind, day = settlement.c.kind, func.date(settlement.c.setl_time, type_=Date)
    query = (
        select(day.label("day"), settlement.c.fixmedins_code,
               func.sum(case((kind == _SETTLE, 1), else_=0)).label("settlements"),
               func.sum(case((kind == _CANCEL, 1), else_=0)).label("cancellations"),
               func.sum(settlement.c.medfee_sumamt).label("medfee"),
               func.sum(settlement.c.fund_pay_sumamt).label("fund"),
               func.sum(settlement.c.psn_part_amt).label("person"))
        .where(settlement.c.fever.is_(True), kind.in_((_SETTLE, _CANCEL)),
               settlement.c.setl_time >= datetime.combine(chosen.first, datetime.min.time()),
               settlement.c.setl_time < datetime.combine(chosen.last + timedelta(days=1),
                                                         datetime.min.time()))
        .group_by(day, settlement.c.fixmedins_code)
        .order_by(day, settlement.c.fixmedins_code))
    if code:
        query = query.where(settlement.c.fixmedins_code == code)
    return [FeverDay(r.day, r.fixmedins_code, int(r.settlements),
                     int(r.cancellations), int(r.medfee), int(r.fund), int(r.person))
            for r in conn.execute(query)]

