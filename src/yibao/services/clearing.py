"""Monthly clearing: what every fund owes every institution for a month (settlements
minus cancellations, minus what was prepaid and what supervision recovered), what
insured places owe treatment places,
prepayment to large institutions, and the institutions' applications (3203/3204).

A month is computed by the set-based SQL of ``analytics/`` (DuckDB, or Spark) over an
extract of the store, and may be run again until it is closed. Closing posts the
payments to the ledger; a closed month is never rewritten: a later cancellation counts
in the month it happens.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from yibao.analytics import engines
from yibao.analytics.extract import extract_month, month_bounds
from yibao.domain import ledger as ledger_rules
from yibao.domain.errors import Refused
from yibao.domain.money import floor_average
from yibao.domain.states import CLEARED_KINDS
from yibao.domain.supervision_case import recovered_this_month
from yibao.services import advance, ledger
from yibao.services.context import Call, Done, Effect, EffectKind
from yibao.store import advances, cases, institutions
from yibao.store.db import Failure, classify
from yibao.store.schema import (
    clearing_application,
    clearing_institution,
    clearing_line,
    clearing_month,
    clearing_region,
    institution,
    prepayment,
    settlement,
)

OPEN = "open"
CLOSED = "closed"
PREPAY_MONTHS = 3  # a prepayment is the average of the last three closed months


@dataclass(frozen=True, slots=True)
class Month:
    """A month's clearing: open (run again as often as needed) or closed, how many runs,
    the settlement rows of its last run, who ran it last and who closed it, when."""

    month: str
    status: str
    runs: int
    settlements: int
    run_at: datetime
    run_by: str
    closed_at: datetime | None
    closed_by: str | None


def check_month(month: str) -> str:
    """A month as YYYY-MM (E-CLR-002 otherwise)."""
    month_bounds(month)
    return month


def months(conn: Connection, *, limit: int = 36) -> list[Month]:
    """The months ever run, newest first."""
    return [Month(**row) for row in conn.execute(
        select(clearing_month).order_by(clearing_month.c.month.desc()).limit(limit)
    ).mappings()]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A month's clearing as its statements show it: settlements and cancellations
    counted apart, the institutions with a statement (those prepaid with nothing settled
    too), the region pairs, and what is due in all (fen, net of prepayments)."""

    month: str
    settlements: int
    cancellations: int
    institutions: int
    regions: int
    due: int


def run(call: Call, month: str, *, engine: str = "duckdb",
        workdir: Path | None = None) -> Outcome:
    """Compute (or recompute) an open month from the store."""
    conn = call.conn
    if _require_open(conn, month) is None:
        _take_month(call, month)
    with tempfile.TemporaryDirectory() as scratch:
        directory = workdir or Path(scratch)
        count = extract_month(conn, month, directory)
        runner = engines.run_spark if engine == "spark" else engines.run_duckdb
        results = runner(directory)
    _replace(call, month, count, results)
    return outcome(conn, month)


def outcome(conn: Connection, month: str) -> Outcome:
    """The month's stored clearing, totalled as its statements show it."""
    c = clearing_institution.c
    settled, cancelled, institutions, due = conn.execute(select(
        func.coalesce(func.sum(c.settlements), 0), func.coalesce(func.sum(c.cancellations), 0),
        func.count(), func.coalesce(func.sum(c.due), 0)).where(c.month == month)).one()
    regions = conn.execute(select(func.count()).select_from(clearing_region).where(
        clearing_region.c.month == month)).scalar_one()
    return Outcome(month, int(settled), int(cancelled), institutions, regions, int(due))


def _month(conn: Connection, month: str) -> RowMapping | None:
    """The month's row, locked; a run of the same month that committed meanwhile makes
    PostgreSQL's snapshot stale: refused, to be run again."""
    try:
        with conn.begin_nested():
            return conn.execute(select(clearing_month).where(clearing_month.c.month == month)
                                .with_for_update()).mappings().first()
    except OperationalError as exc:
        if classify(exc) is not Failure.COLLISION:  # the database, not a concurrent run
            raise
        raise Refused("E-CLR-004", f"{month} changed while this run waited") from exc


def _take_month(call: Call, month: str) -> None:
    """Take the month: its first run creates its row before reading anything, so that a
    second first run waits for it and is refused instead of clearing twice."""
    try:
        with call.conn.begin_nested():
            call.conn.execute(insert(clearing_month).values(
                month=month, status=OPEN, runs=0, settlements=0, run_at=call.now,
                run_by=call.actor.name))
    except IntegrityError as exc:
        if classify(exc) is not Failure.DUPLICATE:
            raise
        raise Refused("E-CLR-004", f"another run of {month} started first") from exc


def _replace(call: Call, month: str, count: int, results: engines.Results) -> None:
    conn = call.conn
    for table in (clearing_line, clearing_institution, clearing_region):
        conn.execute(delete(table).where(table.c.month == month))
    conn.execute(update(clearing_month).where(clearing_month.c.month == month).values(
        runs=clearing_month.c.runs + 1, status=OPEN, settlements=count, run_at=call.now,
        run_by=call.actor.name))
    lines = [dict(zip(("fixmedins_code", "region", "fund_pay_type", "clr_type", "settled",
                       "cancelled", "net"), row, strict=True), month=month)
             for row in results["lines"]]
    if lines:
        conn.execute(insert(clearing_line), lines)
    _institutions(conn, month, results["institutions"])
    regions = [dict(zip(("insured", "treatment", "amount", "settlements", "cancellations"),
                        row, strict=True), month=month) for row in results["regions"]]
    if regions:
        conn.execute(insert(clearing_region), regions)
    advance.preview_draws(conn, month)


def _institutions(conn: Connection, month: str, rows: list[tuple[Any, ...]]) -> None:
    prepaid = advances.approved_by_code(conn, month)  # by need, approved for the month
    for r in conn.execute(select(prepayment.c.fixmedins_code, prepayment.c.amount).where(
            prepayment.c.month == month)):
        prepaid[r.fixmedins_code] = prepaid.get(r.fixmedins_code, 0) + r.amount
    out = []
    names = ("fixmedins_code", "region", "settlements", "cancellations", "medfee", "fund",
             "acct", "cash")
    outstanding = cases.outstanding_recoveries(conn, month)
    for row in rows:
        item = dict(zip(names, row, strict=True), month=month)
        item["prepaid"] = prepaid.pop(item["fixmedins_code"], 0)
        # supervision's recoveries, at most what the month would pay (the rest carries)
        item["recovered"] = recovered_this_month(
            outstanding.get(item["fixmedins_code"], 0), item["fund"] + item["acct"],
            item["prepaid"])
        item["due"] = item["fund"] + item["acct"] - item["prepaid"] - item["recovered"]
        out.append(item)
    for code, amount in prepaid.items():  # prepaid, but nothing settled this month
        found = institutions.find(conn, code)
        assert found is not None, code  # a prepayment names a designated institution
        region = found.pool_area
        out.append(dict(month=month, fixmedins_code=code, region=region, settlements=0,
                        cancellations=0, medfee=0, fund=0, acct=0, cash=0, prepaid=amount,
                        recovered=0, due=-amount))
    if out:
        conn.execute(insert(clearing_institution), out)


def close(call: Call, month: str) -> None:
    """Close a computed month: post the payments to institutions (net of prepayment) and
    between regions (drawn from the pair's advance fund first), and the advance funds'
    interest of the month. Nothing of the month changes afterwards."""
    conn = call.conn
    state = _month(conn, month)
    if state is None:
        raise Refused("E-CLR-002", f"{month} has not been run")
    if state["status"] == CLOSED:
        raise Refused("E-CLR-001", f"{month} was closed on {state['closed_at']}")
    _check_prepayments_included(conn, month)
    _check_nothing_settled_since(conn, month, state["settlements"])
    for row in conn.execute(select(clearing_institution).where(
            clearing_institution.c.month == month)).mappings():
        ledger.post(conn, ledger_rules.txn(
                    ledger_rules.TXN_CLEARING, month, row["fixmedins_code"]), "clearing",
                    ledger_rules.clearing_entries(row["fixmedins_code"], row["region"],
                                                  row["fund"] + row["acct"], row["prepaid"],
                                                  row["recovered"]),
                    call.now)
    for row in advance.draw_at_close(call, month):
        ledger.post(conn, ledger_rules.txn(ledger_rules.TXN_REGION, month, row["insured"],
                                           row["treatment"]), "interregional",
                    ledger_rules.region_entries(row["insured"], row["treatment"],
                                                row["amount"], row["drawn"]),
                    call.now)
    advance.accrue_interest(call, month)
    conn.execute(update(clearing_month).where(clearing_month.c.month == month).values(
        status=CLOSED, closed_at=call.now, closed_by=call.actor.name))


def _check_prepayments_included(conn: Connection, month: str) -> None:
    """A prepayment made after the month's last run is not netted yet: run it again."""
    prepaid = conn.execute(select(func.coalesce(func.sum(prepayment.c.amount), 0)).where(
        prepayment.c.month == month)).scalar_one() + advances.approved_total(conn, month)
    netted = conn.execute(select(func.coalesce(func.sum(clearing_institution.c.prepaid), 0))
                          .where(clearing_institution.c.month == month)).scalar_one()
    if prepaid != netted:
        raise Refused("E-CLR-002", f"{month} was prepaid after its last run: run it again")


def _check_nothing_settled_since(conn: Connection, month: str, counted: int) -> None:
    """A settlement or cancellation of the month recorded after its last run would never
    be cleared once the month is closed: run it again."""
    begin, end = month_bounds(month)
    now = conn.execute(select(func.count()).select_from(settlement).where(
        settlement.c.setl_time >= begin, settlement.c.setl_time < end,
        settlement.c.kind.in_(CLEARED_KINDS))).scalar_one()
    if now != counted:
        raise Refused("E-CLR-002", f"{month} has {now - counted} rows since its last run: "
                      "run it again")


# ---------------------------------------------------------------- prepayment


def prepay(call: Call, month: str) -> dict[str, int]:
    """Pay each prepaying institution, in advance for ``month``, the average it was due
    over the last closed months (at most three); nets off in that month's clearing."""
    conn = call.conn
    _require_open(conn, month)
    before = [m for (m,) in conn.execute(select(clearing_month.c.month).where(
        clearing_month.c.status == CLOSED, clearing_month.c.month < month).order_by(
        clearing_month.c.month.desc()).limit(PREPAY_MONTHS))]
    paid: dict[str, int] = {}
    for row in conn.execute(select(institution).where(institution.c.prepay.is_(True))
                            .order_by(institution.c.fixmedins_code)).mappings():
        amount = _average_due(conn, row["fixmedins_code"], before)
        if amount <= 0 or _prepaid(conn, month, row["fixmedins_code"]):
            continue
        conn.execute(insert(prepayment).values(
            month=month, fixmedins_code=row["fixmedins_code"], amount=amount,
            basis=f"average of {', '.join(before)}", created_at=call.now,
            actor=call.actor.name))
        ledger.post(conn, ledger_rules.txn(
                    ledger_rules.TXN_PREPAY, month, row["fixmedins_code"]), "prepay",
                    ledger_rules.prepayment_entries(row["pool_area"], row["fixmedins_code"],
                                                    amount), call.now)
        paid[row["fixmedins_code"]] = amount
    return paid


def _average_due(conn: Connection, code: str, months: list[str]) -> int:
    if not months:
        return 0
    total = conn.execute(select(func.coalesce(func.sum(
        clearing_institution.c.fund + clearing_institution.c.acct), 0)).where(
        clearing_institution.c.fixmedins_code == code,
        clearing_institution.c.month.in_(months))).scalar_one()
    return floor_average(int(total), len(months))


def _prepaid(conn: Connection, month: str, code: str) -> bool:
    return conn.execute(select(prepayment.c.amount).where(
        prepayment.c.month == month, prepayment.c.fixmedins_code == code)).first() is not None


# ---------------------------------------------------------------- applications (3203/3204)


@dataclass(frozen=True, slots=True)
class Application:
    setlym: str  # YYYYMM
    clr_type: str
    psntime: int
    medfee_sumamt: int
    fund_appy_sum: int
    acct_pay: int
    cash_payamt: int


def file_application(call: Call, app: Application) -> Done[str]:
    """3203: the calling institution files its clearing application for an open month;
    its clr_appy_evt_id."""
    month = f"{app.setlym[:4]}-{app.setlym[4:]}"
    _require_open(call.conn, month)
    serial = call.ids.new("CLR")
    call.conn.execute(insert(clearing_application).values(
        clr_appy_evt_id=serial, fixmedins_code=call.institution.code, setlym=app.setlym,
        clr_type=app.clr_type, psntime=app.psntime, medfee_sumamt=app.medfee_sumamt,
        fund_appy_sum=app.fund_appy_sum, acct_pay=app.acct_pay, cash_payamt=app.cash_payamt,
        status="applied", created_at=call.now))
    return Done(serial, Effect(EffectKind.CLEARING_APPLICATION, serial))


def withdraw(call: Call, serial: str) -> None:
    """3204: the calling institution withdraws its application while the month is open."""
    conn = call.conn
    row = conn.execute(select(clearing_application).where(
        clearing_application.c.clr_appy_evt_id == serial)).mappings().first()
    if row is None or row["fixmedins_code"] != call.institution.code or row["status"] != "applied":
        raise Refused("E-CLR-003", f"clr_appy_evt_id {serial}")
    _require_open(conn, f"{row['setlym'][:4]}-{row['setlym'][4:]}")
    conn.execute(update(clearing_application).where(
        clearing_application.c.clr_appy_evt_id == serial).values(status="cancelled"))


def require_open(conn: Connection, month: str) -> RowMapping | None:
    """The month's clearing state (locked), refusing a malformed or closed month."""
    return _require_open(conn, month)


def _require_open(conn: Connection, month: str) -> RowMapping | None:
    """The month's clearing state (locked), refusing a malformed or closed month."""
    month_bounds(month)
    state = _month(conn, month)
    if state is not None and state["status"] == CLOSED:
        raise Refused("E-CLR-001", f"{month} was closed on {state['closed_at']}")
    return state
