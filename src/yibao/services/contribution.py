"""Contribution status (2020 epidemic measures, items 6 and 10): an operator records
arrears, a suspension or a payment; the bureau decides a deferral (缓缴) for an
employer or for everyone; and declares periods of a public-health emergency (item 11).

Every change takes the person's lock first (``persons.lock_person``, the order the
settlement takes), reads the insurance's standing under it, closes the current period
of the history and opens the next, and keeps the standing on the insurance row, which
the settlement reads with the visit (no statement of its own). The rules are
``domain/contribution.py``; the rows, ``store/contributions.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection

from yibao.domain import contribution as rules
from yibao.domain.contribution import Decision, Standing, Status, Terms
from yibao.domain.errors import Refused
from yibao.domain.filing import is_area_code
from yibao.domain.money import Fen, fen_to_yuan
from yibao.domain.policy import Policy, select_policy
from yibao.services import audit
from yibao.services.context import Call
from yibao.services.persons import get_person, lock_person
from yibao.store import contributions as store
from yibao.store.lean import Row

HISTORY_ROWS_MAX = 200
LIST_ROWS_MAX = 100
RECORDED = (Status.ARREARS, Status.SUSPENDED)  # what an operator's entry records


@dataclass(frozen=True, slots=True)
class Entry:
    """An operator's entry: arrears or a suspension since a day."""

    psn_no: str
    insutype: str
    status: Status
    since: date
    owed: Fen = 0
    note: str = ""


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment of what is due, received on ``paid_on`` (a late registration names the
    day the money came)."""

    psn_no: str
    insutype: str
    paid_on: date
    owed: Fen
    note: str = ""


@dataclass(frozen=True, slots=True)
class Paid:
    period_id: str
    days_late: int
    late_fee: Fen
    continuous: bool  # within the grace: the arrears window is covered, no gap


@dataclass(frozen=True, slots=True)
class _Change:
    new: Standing
    decision: Decision
    ref: str = ""
    owed: Fen = 0
    late_fee: Fen = 0
    continuous: bool = False  # closes the current (arrears) period without a gap
    note: str = ""


def terms_of(policies: tuple[Policy, ...] | list[Policy], region: str, insutype: str,
             day: date) -> Terms:
    """The insured place's ``[contribution]`` terms on ``day`` (no policy: none)."""
    policy = select_policy(policies, region=region, insutype=insutype, day=day)
    return rules.NO_TERMS if policy is None else policy.contribution


def record(call: Call, entry: Entry) -> str:
    """Arrears or a suspension since a day: the new period's id."""
    if entry.status not in RECORDED:
        raise Refused("E-CON-001", f"status {entry.status}: record arrears or suspended "
                      "(a payment is recorded as a payment)")
    rules.check_not_future(entry.since, call.now.date(), "since")
    lock_person(call.conn, entry.psn_no)
    current = _standing(call.conn, entry.psn_no, entry.insutype)
    if current.status is entry.status and current.since == entry.since:
        raise Refused("E-CON-003", f"{entry.status} since {entry.since} already")
    period_id = _move(call, entry.psn_no, entry.insutype, _Change(
        Standing(entry.status, entry.since), Decision.OPERATOR, owed=entry.owed,
        note=entry.note))
    audit.action(call, f"contribution.{entry.status}", entry.psn_no,
                 insutype=entry.insutype, since=entry.since, period_id=period_id)
    return period_id


def pay(call: Call, payment: Payment) -> Paid:
    """A payment of arrears or of deferred contributions: the late fee (none while
    deferred) and whether it restores continuity (within the grace)."""
    rules.check_not_future(payment.paid_on, call.now.date(), "paid_on")
    person = lock_person(call.conn, payment.psn_no)
    current = _standing(call.conn, payment.psn_no, payment.insutype)
    rules.payable(current)
    if current.since is not None and payment.paid_on < current.since:
        raise Refused("E-CON-001", f"paid_on {payment.paid_on} is before the "
                      f"{current.status} began ({current.since})")
    terms = terms_of(call.policies, person["insuplc_admdvs"], payment.insutype,
                     payment.paid_on)
    late = rules.days_late(current, payment.paid_on)
    fee = rules.late_fee(payment.owed, late, terms.late_fee_rate)
    continuous = rules.restores_continuity(current, terms, payment.paid_on)
    period_id = _move(call, payment.psn_no, payment.insutype, _Change(
        Standing(Status.PAID, payment.paid_on), Decision.PAYMENT, owed=payment.owed,
        late_fee=fee, continuous=continuous, note=payment.note))
    audit.action(call, "contribution.payment", payment.psn_no, insutype=payment.insutype,
                 paid_on=payment.paid_on, late_fee=fee, continuous=continuous)
    return Paid(period_id, late, fee, continuous)


def decide_deferral(call: Call, *, emp_no: str, insutype: str, begin: date, until: date,
                    reason: str) -> tuple[str, int]:
    """A bureau's deferral decision (缓缴) for an employer (``emp_no``) or everyone
    (""): every insurance of the type it covers, not suspended, is deferred from
    ``begin`` through ``until``. Its id and the number of persons marked."""
    rules.check_span(begin, until, rules.DEFERRAL_DAYS_MAX, "deferral")
    deferral_id = call.ids.new("DF")
    store.add_deferral(call.conn, deferral_id=deferral_id, emp_no=emp_no, insutype=insutype,
                       begin_date=begin, until_date=until, reason=reason,
                       actor=call.actor.name, decided_at=call.now)
    marked = 0
    new = Standing(Status.DEFERRED, begin, until)
    for psn_no in store.deferred_persons(call.conn, insutype, emp_no):  # psn_no order
        lock_person(call.conn, psn_no)
        current = _standing(call.conn, psn_no, insutype)
        if current.status is Status.SUSPENDED or current == new:
            continue  # suspended meanwhile, or deferred so already
        _move(call, psn_no, insutype, _Change(new, Decision.DEFERRAL, ref=deferral_id,
                                              note=reason[:200]))
        marked += 1
    store.count_deferral(call.conn, deferral_id, marked)
    audit.action(call, "contribution.deferral", deferral_id, emp_no=emp_no or "*",
                 insutype=insutype, begin=begin, until=until, persons=marked)
    return deferral_id, marked


def declare(call: Call, *, area: str, title: str, begin: date, until: date) -> str:
    """A declared period of a public-health emergency for an area: its id."""
    if not is_area_code(area):
        raise Refused("E-CON-001", f"area {area!r} is not 6 ASCII digits")
    rules.check_span(begin, until, rules.DECLARED_DAYS_MAX, "declared period")
    declared_id = call.ids.new("DP")
    store.add_declared(call.conn, declared_id=declared_id, area=area, title=title,
                       begin_date=begin, until_date=until, actor=call.actor.name,
                       declared_at=call.now)
    audit.action(call, "declared.period", declared_id, area=area, begin=begin, until=until)
    return declared_id


def check_claim(conn: Connection, policies: tuple[Policy, ...] | list[Policy],
                person: Row, insutype: str, day: date) -> None:
    """A manual reimbursement of care on ``day``: covered as the history now shows it
    (a payment within the grace covers the arrears window), E-PSN-018/019 otherwise."""
    terms = terms_of(policies, person["insuplc_admdvs"], insutype, day)
    history = store.periods(conn, person["psn_no"], insutype)
    if rules.covered_on(history, terms, day):
        return
    period = rules.period_on(history, day)
    assert period is not None
    rules.check_covered(Standing(period.status, period.begin), terms, day, insutype)


def _standing(conn: Connection, psn_no: str, insutype: str) -> Standing:
    found = store.standing(conn, psn_no, insutype)
    if found is None:
        raise Refused("E-PSN-003", f"insutype {insutype}")
    return found[0]


def _move(call: Call, psn_no: str, insutype: str, change: _Change) -> str:
    """Close the current period (on the new one's first day) and open the new one; keep
    the standing on the insurance row."""
    day = change.new.since
    assert day is not None, change
    current = store.open_period(call.conn, psn_no, insutype)
    if current is not None:
        if day < current["begin_date"]:
            raise Refused("E-CON-001", f"{day} is before the current {current['status']} "
                          f"began ({current['begin_date']})")
        store.close_period(call.conn, current["period_id"], day, change.continuous)
    period_id = call.ids.new("CP")
    store.add_period(
        call.conn, period_id=period_id, psn_no=psn_no, insutype=insutype,
        status=change.new.status.value, begin_date=day, until_date=change.new.until,
        decision=change.decision.value, decision_ref=change.ref, owed=change.owed,
        late_fee=change.late_fee, note=change.note[:200], actor=call.actor.name[:60],
        recorded_at=call.now)
    store.set_standing(call.conn, psn_no, insutype, change.new)
    return period_id


# ---------------------------------------------------------------- views


def history(conn: Connection, psn_no: str) -> list[dict[str, Any]]:
    """The person's contribution history as the APIs and the console show it."""
    get_person(conn, psn_no)
    return [_described(r) for r in store.history(conn, psn_no, HISTORY_ROWS_MAX)]


def _described(row: Row) -> dict[str, Any]:
    return {
        "period_id": row["period_id"], "insutype": row["insutype"], "status": row["status"],
        "begin_date": str(row["begin_date"]),
        "end_date": "" if row["end_date"] is None else str(row["end_date"]),
        "until_date": "" if row["until_date"] is None else str(row["until_date"]),
        "decision": row["decision"], "decision_ref": row["decision_ref"],
        "continuous": bool(row["continuous"]), "owed": fen_to_yuan(row["owed"]),
        "late_fee": fen_to_yuan(row["late_fee"]), "note": row["note"],
        "actor": row["actor"], "recorded_at": row["recorded_at"].isoformat(sep=" "),
    }


def deferrals(conn: Connection) -> list[dict[str, Any]]:
    """The deferral decisions, newest first (at most LIST_ROWS_MAX), days as text."""
    return [_as_text(r) for r in store.deferrals(conn, LIST_ROWS_MAX)]


def declared(conn: Connection) -> list[dict[str, Any]]:
    """The declared periods, newest first (at most LIST_ROWS_MAX), days as text."""
    return [_as_text(r) for r in store.declared(conn, LIST_ROWS_MAX)]


def _as_text(row: Row) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, date) else v for k, v in row.items()}
