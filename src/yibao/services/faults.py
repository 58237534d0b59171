"""Fault periods (2902, or an operator): an institution could not settle in real time
from one moment to another, so the bills it uploads for care begun then (2901,
services/bills.py) become eligible for manual reimbursement. A period is cancelled by the
2601 of its 2902 or by an operator, never while a bill relies on it; the listing and the
view of one period with the claims relying on it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Subquery, exists, func, insert, select, update

from yibao.domain.errors import Refused
from yibao.services import audit
from yibao.services.context import Call, Done, Effect, EffectKind
from yibao.store import institutions
from yibao.store.schema import CLAIM_RELEASED, claim, fault_period
from yibao.store.schema import visit as visit_table

HOURS_MAX = 7 * 24
IN_FORCE, CANCELLED = "in_force", "cancelled"  # a period's status (cancelled_at)
STATUSES = (IN_FORCE, CANCELLED)
SHOWN = 200  # fault periods in a listing, claims in a period's view


def declare(call: Call, code: str, begin: datetime, end: datetime,
            reason: str) -> Done[str]:
    """Record that ``code`` could not settle in real time from ``begin`` to ``end``."""
    if not begin < end or (end - begin).total_seconds() > HOURS_MAX * 3600:
        raise Refused("E-CLM-006", f"a fault period runs forward, at most {HOURS_MAX} h")
    if begin > call.now:
        raise Refused("E-CLM-006", f"a fault period cannot begin after now ({call.now})")
    _check_known(call.conn, code)
    _check_no_overlap(call.conn, code, begin, end)
    fault_id = call.ids.new("FLT")
    call.conn.execute(insert(fault_period).values(
        fault_id=fault_id, fixmedins_code=code, begin_at=begin, end_at=end, reason=reason,
        actor=call.actor.name, created_at=call.now))
    return Done(fault_id, Effect(EffectKind.FAULT, fault_id))


def declare_by_operator(call: Call, code: str, begin: datetime, end: datetime,
                        reason: str) -> str:
    """An operator declares a fault period (/admin/v1, the console): its fault_id, the
    declaration in the operators' log."""
    fault_id = declare(call, code, begin, end, reason).value
    audit.action(call, "fault.declare", fault_id, fixmedins_code=code, begin_at=begin,
                 end_at=end)
    return fault_id


def cancel_by_operator(call: Call, fault_id: str, reason: str) -> None:
    """An operator cancels a fault period (``cancel``), naming themself in its
    cancellation, in the operators' log."""
    cancel(call, fault_id, f"cancelled by {call.actor.name}: {reason}")
    audit.action(call, "fault.cancel", fault_id)


def _check_no_overlap(conn: Connection, code: str, begin: datetime, end: datetime) -> None:
    """One fault period at a time per institution (its row locked, so two overlapping
    declarations at once are ordered too)."""
    institutions.lock(conn, code)
    other = conn.execute(select(fault_period.c.fault_id, fault_period.c.begin_at,
                                fault_period.c.end_at).where(
        fault_period.c.fixmedins_code == code, fault_period.c.begin_at < end,
        fault_period.c.end_at > begin, fault_period.c.cancelled_at.is_(None)).limit(1)).first()
    if other is not None:
        raise Refused("E-CLM-006", f"overlaps fault period {other.fault_id} "
                      f"({other.begin_at} to {other.end_at})")


def covers(conn: Connection, code: str, at: datetime) -> bool:
    """A period in force covers ``at``; held (shared) until the bill is recorded, so that
    the period is not cancelled meanwhile (``cancel``)."""
    return conn.execute(select(fault_period.c.fault_id).where(
        fault_period.c.fixmedins_code == code, fault_period.c.begin_at <= at,
        fault_period.c.end_at >= at, fault_period.c.cancelled_at.is_(None)).limit(1)
        .with_for_update(read=True)).first() is not None


def cancel(call: Call, fault_id: str, reason: str) -> None:
    """Cancel a fault period (kept, marked with the time and ``reason``, audited) unless a
    bill relies on it: the 2601 of the 2902 that declared it, or an operator. Locked
    first: a 2901 at the same moment is seen, or finds none."""
    conn = call.conn
    row = _fault(conn, fault_id, lock=True)
    if row["cancelled_at"] is not None:
        raise Refused("E-CLM-010", f"{fault_id} was cancelled at {row['cancelled_at']} "
                      f"({row['cancelled_reason']})")
    relying = _relying_claims(fault_id)
    invoices = list(conn.execute(
        select(relying.c.invono).order_by(relying.c.invono).limit(3)).scalars())
    if invoices:
        raise Refused("E-REV-004", f"{fault_id} covers invoice {', '.join(invoices)}: "
                      "withdraw them first (2601 of each 2901); one applied for keeps it")
    conn.execute(update(fault_period).where(fault_period.c.fault_id == fault_id).values(
        cancelled_at=call.now, cancelled_reason=reason[:300]))
    audit.record(conn, kind="fault-cancel", psn_no=None, actor=call.actor.name, at=call.now,
                 place=row["fixmedins_code"], detail=f"{fault_id}: {reason}")


def _relying_claims(fault_id: str) -> Subquery:
    """The live fault claims at the period's institution whose care begins in the period
    and in no other period in force."""
    period, other = fault_period.alias("period"), fault_period.alias("other")
    elsewhere = exists().where(
        other.c.fixmedins_code == period.c.fixmedins_code, other.c.fault_id != fault_id,
        other.c.cancelled_at.is_(None), other.c.begin_at <= visit_table.c.begntime,
        other.c.end_at >= visit_table.c.begntime)
    return (
        select(claim.c.claim_id, claim.c.invono, claim.c.psn_no, claim.c.status,
               visit_table.c.begntime)
        .join(visit_table, visit_table.c.mdtrt_id == claim.c.mdtrt_id)
        .join(period, period.c.fixmedins_code == claim.c.fixmedins_code)
        .where(period.c.fault_id == fault_id, claim.c.reason == "fault",
               claim.c.status.not_in(CLAIM_RELEASED),
               visit_table.c.begntime.between(period.c.begin_at, period.c.end_at), ~elsewhere)
        .subquery()
    )


def _fault(conn: Connection, fault_id: str, *, lock: bool = False) -> RowMapping:
    query = select(fault_period).where(fault_period.c.fault_id == fault_id)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise Refused("E-CLM-009", f"no such fault period {fault_id}")
    return row


def _check_known(conn: Connection, code: str) -> None:
    """An institution an operator names (in the path) exists."""
    if institutions.find(conn, code) is None:
        raise Refused("E-ADM-001", f"no such institution {code}")


def of_institution(conn: Connection, code: str, status: str | None,
                   limit: int = SHOWN) -> list[dict[str, Any]]:
    """An institution's fault periods, newest first, optionally only those ``in_force``
    or ``cancelled``."""
    assert status in (None, *STATUSES), status
    _check_known(conn, code)
    query = select(fault_period).where(fault_period.c.fixmedins_code == code)
    if status is not None:
        cancelled = fault_period.c.cancelled_at
        query = query.where(cancelled.is_(None) if status == IN_FORCE
                            else cancelled.is_not(None))
    rows = conn.execute(query.order_by(fault_period.c.begin_at.desc(),
                                       fault_period.c.fault_id.desc()).limit(limit)).mappings()
    return [_summary(row) for row in rows]


def describe(conn: Connection, fault_id: str) -> dict[str, Any]:
    """A fault period with who declared it and when, whether it was cancelled and why, and
    the claims relying on it (those that keep it from being cancelled)."""
    summary = _summary(_fault(conn, fault_id))
    relying = _relying_claims(fault_id)
    claims = [{"claim_id": c.claim_id, "invono": c.invono, "psn_no": c.psn_no,
               "status": c.status, "care_begins_at": c.begntime.isoformat()}
              for c in conn.execute(select(relying).order_by(relying.c.invono)
                                    .limit(SHOWN))]
    total = conn.execute(select(func.count()).select_from(relying)).scalar_one()
    return summary | {"claims_total": total, "claims": claims}


def _summary(row: RowMapping) -> dict[str, Any]:
    cancelled_at = row["cancelled_at"]
    return {
        "fault_id": row["fault_id"], "fixmedins_code": row["fixmedins_code"],
        "begin_at": row["begin_at"].isoformat(), "end_at": row["end_at"].isoformat(),
        "reason": row["reason"], "declared_by": row["actor"],
        "declared_at": row["created_at"].isoformat(),
        "status": IN_FORCE if cancelled_at is None else CANCELLED,
        "cancelled_at": None if cancelled_at is None else cancelled_at.isoformat(),
        "cancelled_reason": row["cancelled_reason"],
    }
