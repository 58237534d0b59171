"""The payment of an online order's cash part and what follows: the platform order, the
payment confirmed (notification or query) settling the order, the expiry releasing it,
the recovery of paid orders after a restart, and the 6302 callback to the institution.

A held order resolves at most once, under the person's lock: settled (the settlement
written in the month of payment, the holds turned into postings), or released. A
payment that arrives for an order already released is given back (a LATE refund).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping

from yibao import log
from yibao.domain import orders as rules
from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_yuan
from yibao.domain.orders import Action, OrderStatus
from yibao.services import online, settlement
from yibao.services.context import Call
from yibao.services.persons import lock_person
from yibao.store import institutions, online_orders
from yibao.thirdpay.platform import Platform, PlatformError, Trade, TradeState

logger = log.get("yibao.online")


# ---------------------------------------------------------------- the platform order


def start(call: Call, order: RowMapping, platform: Platform, notify_url: str) -> RowMapping:
    """Ask the platform for a payment of the held order's cash part (nothing to pay:
    settle now). The platform down: the order stays held, without a pay URL; asking again
    (6202 resent, the cashier reloaded) tries again. Idempotent at the platform
    (out_trade_no = payOrdId)."""
    if order["status"] != OrderStatus.HELD or order["pay_url"]:
        return order
    if order["cash_pay"] == 0:
        return settle(call, order["pay_ord_id"], trade=None)
    try:
        created = platform.create(order["pay_ord_id"], order["cash_pay"],
                                  f"医保移动支付 {order['pay_ord_id']}", notify_url,
                                  order["expires_at"])
    except PlatformError as exc:  # down, or refused: asked again later (a paid order is
        # found by the sweeper's query)
        logger.warning("online_platform_failed", pay_ord_id=order["pay_ord_id"], step="create",
                       error=type(exc).__name__)
        return order
    online_orders.change(call.conn, order["pay_ord_id"], OrderStatus.HELD,
                         pay_url=created.pay_url)
    return _reread(call.conn, order["pay_ord_id"])


# ---------------------------------------------------------------- settling


def settle(call: Call, pay_ord_id: str, trade: Trade | None) -> RowMapping:
    """The held order's cash part is paid (``trade``; None: there was none to pay): its
    settlement is written now, the holds become postings, the institution is told (6302).
    The person is locked here."""
    found = _reread(call.conn, pay_ord_id)
    site = institutions.find(call.conn, found["fixmedins_code"])
    assert site is not None, found["fixmedins_code"]
    call = call.for_care(site, at=call.now, ref=pay_ord_id)  # the institution's settlement
    lock_person(call.conn, found["psn_no"])
    order = online_orders.find(call.conn, pay_ord_id, lock=True)
    assert order is not None and order["status"] == OrderStatus.HELD, pay_ord_id
    outcome = settlement.store_held(
        call, settlement.Held.from_json(order["held_settlement"]), pay_ord_id)
    online_orders.release(call.conn, pay_ord_id)
    revs_token = online.new_secret("RV")
    online_orders.change(
        call.conn, pay_ord_id, OrderStatus.HELD,
        status=rules.move(OrderStatus.HELD, Action.SETTLE), setl_id=outcome.row["setl_id"],
        settled_at=call.now, revs_token=revs_token,
        trade_no=trade.trade_no if trade else "", cash_paid=trade.amount_fen if trade else 0)
    settled = _reread(call.conn, pay_ord_id)
    online.tell_institution(call.conn, settled, "6302", settlement_notice(call.conn, settled),
                            call.now)
    online.announce(call.conn, pay_ord_id, call.now)
    logger.info("online_settled", pay_ord_id=pay_ord_id, setl_id=outcome.row["setl_id"])
    return settled


def settlement_notice(conn: Connection, order: RowMapping) -> dict[str, Any]:
    """6302's data (the standard's names; yuan as strings with two decimals)."""
    institution = institutions.find(conn, order["fixmedins_code"])
    settled_at: datetime = order["settled_at"]
    return {
        "payOrdId": order["pay_ord_id"], "callType": "2", "medOrgOrd": order["med_org_ord"],
        "traceTime": f"{settled_at:%Y-%m-%d %H:%M:%S}",
        "feeSumamt": fen_to_yuan(order["medfee_sumamt"]),
        "ownpayAmt": fen_to_yuan(order["cash_pay"]),
        "psnAcctPay": fen_to_yuan(order["acct_pay"]), "fundPay": fen_to_yuan(order["fund_pay"]),
        "hiChrgTime": f"{settled_at:%H%M%S}", "hiDocSn": order["setl_id"],
        "hiRgstSn": order["mdtrt_id"], "orgName": institution.name if institution else "",
        "setlType": "ALL", "revsToken": order["revs_token"],
    }


# ---------------------------------------------------------------- the platform's word


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a payment (notification or query) did to its order."""

    order: RowMapping
    did: str  # settled | already | late_refund | pending


def on_trade(call: Call, trade: Trade, platform: Platform) -> Outcome:
    """The platform says ``trade`` (a notification, verified by the caller, or a query's
    answer). Paid for a held order: settle it. Paid again (a replay): nothing. Paid for
    an order already released: give the money back (LATE refund). Unknown order or
    another amount: refused, nothing changes (the daily reconciliation lists it)."""
    found = online_orders.find(call.conn, trade.out_trade_no)
    if found is None:
        raise Refused("E-PAY-003", f"unknown order {trade.out_trade_no[:40]}")
    if trade.state is not TradeState.PAID:
        return Outcome(found, "pending")
    lock_person(call.conn, found["psn_no"])  # the same payment again, or the expiry, waits
    order = _reread(call.conn, found["pay_ord_id"], lock=True)  # ... and then reads it settled
    if trade.amount_fen != order["cash_pay"] and order["status"] != OrderStatus.UPLOADED:
        raise Refused("E-PAY-003", f"paid {fen_to_yuan(trade.amount_fen)}, the order's cash "
                      f"part is {fen_to_yuan(order['cash_pay'])}")
    status = OrderStatus(order["status"])
    if order["trade_no"] == trade.trade_no and status is not OrderStatus.HELD:
        return Outcome(order, "already")
    if status is OrderStatus.HELD:
        return Outcome(settle(call, order["pay_ord_id"], trade), "settled")
    if status in (OrderStatus.EXPIRED, OrderStatus.CANCELLED, OrderStatus.UPLOADED):
        return Outcome(_late(call, order, trade, platform), "late_refund")
    raise Refused("E-PAY-003", f"order {order['pay_ord_id']} is {status.value}, paid again "
                  f"as {trade.trade_no[:40]}")


def _late(call: Call, order: RowMapping, trade: Trade, platform: Platform) -> RowMapping:
    """A payment for an order no longer open: recorded and refunded in full."""
    from yibao.services import online_refund
    online_refund.give_back_late(call, order, trade, platform)
    return _reread(call.conn, order["pay_ord_id"])


# ---------------------------------------------------------------- expiry and recovery


def expire(call: Call, pay_ord_id: str, platform: Platform) -> str:
    """Resolve an order past its lifetime: if the platform says it was paid, settle it;
    else close the platform's order and release everything. The platform unreachable
    while a payment may have been made: keep holding (never release room a payment may
    still claim); try again on the next pass."""
    found = _reread(call.conn, pay_ord_id)
    lock_person(call.conn, found["psn_no"])
    order = _reread(call.conn, pay_ord_id, lock=True)
    status = OrderStatus(order["status"])
    if status not in rules.OPEN or not rules.expired(order["expires_at"], call.now):
        return "not_due"
    if status is OrderStatus.HELD and order["pay_url"]:
        try:
            trade = platform.query(pay_ord_id)
            if trade.state is TradeState.PAID:
                return on_trade(call, trade, platform).did
            platform.close(pay_ord_id)
        except PlatformError:  # down, or (a race) paid meanwhile: the next pass decides
            return "pending"
    online.close(call.conn, order, rules.move(status, Action.EXPIRE), call.now)
    logger.info("online_expired", pay_ord_id=pay_ord_id)
    return "expired"


def recover(call: Call, pay_ord_id: str, platform: Platform) -> str:
    """A held order whose notification may have been lost (the platform or yibao was
    down): ask the platform; paid → settled."""
    order = _reread(call.conn, pay_ord_id)
    if not order["pay_url"]:
        return "pending"  # no platform order yet: nothing can have been paid
    try:
        trade = platform.query(pay_ord_id)
    except PlatformError:
        return "pending"
    return on_trade(call, trade, platform).did


Step = Callable[[str], str]


def sweep(ids: list[str], step: Step) -> dict[str, int]:
    """Run ``step`` for each order id, one transaction each; counts by outcome (a refusal
    is counted, logged and skipped)."""
    counts: dict[str, int] = {}
    for pay_ord_id in ids:
        try:
            did = step(pay_ord_id)
        except Refused as refusal:
            logger.warning("online_sweep_refused", pay_ord_id=pay_ord_id, code=refusal.code)
            did = "refused"
        counts[did] = counts.get(did, 0) + 1
    return counts


def _reread(conn: Connection, pay_ord_id: str, *, lock: bool = False) -> RowMapping:
    order = online_orders.find(conn, pay_ord_id, lock=lock)
    assert order is not None, pay_ord_id
    return order


def order_view(order: RowMapping) -> dict[str, Any]:
    """An order for logs and operators: no token, no person."""
    return {k: order[k] for k in ("pay_ord_id", "fixmedins_code", "status", "medfee_sumamt",
                                  "fund_pay", "acct_pay", "cash_pay")} | {
        "ordStas": rules.ORD_STAS[OrderStatus(order["status"])]}


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


# ---------------------------------------------------------------- the sweeper

SWEEP_INTERVAL_SECONDS = 15.0
SWEEP_BATCH = 100
RECOVER_AFTER = timedelta(minutes=1)  # a held order unheard of this long is asked


class Sweeper:
    """Every ``interval`` seconds: orders past their lifetime expire (or settle, if the
    platform says they were paid), held orders the platform has not notified about are
    asked about (a lost notification, a restart between payment and settlement), and
    refunds whose cash part is pending are asked again. Each order in a transaction of
    its own; ``run_once`` is one pass (the CLI's ``yibao orders sweep``)."""

    def __init__(self, db: Any, platform: Platform, *, clock: Callable[[], datetime],
                 ids: Any, policies: tuple[Any, ...],
                 interval: float = SWEEP_INTERVAL_SECONDS) -> None:
        self.db, self.platform, self.clock = db, platform, clock
        self.ids, self.policies, self.interval = ids, policies, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _in_transaction(self, step: Callable[[Call, str], str]) -> Step:
        def run(pay_ord_id: str) -> str:
            with self.db.write() as conn:
                call = system_call(conn, self.clock(), self.ids, self.policies)
                return step(call, pay_ord_id)
        return run

    def run_once(self) -> dict[str, int]:
        now = self.clock()
        with self.db.read() as conn:
            due = online_orders.due(conn, now, SWEEP_BATCH)
            quiet = online_orders.held_since(conn, now - RECOVER_AFTER, SWEEP_BATCH)
            pending = [r["refd_sn"] for r in online_orders.pending_refunds(conn, SWEEP_BATCH)]
        counts = sweep(due, self._in_transaction(
            lambda call, i: expire(call, i, self.platform)))
        for did, n in sweep([i for i in quiet if i not in due], self._in_transaction(
                lambda call, i: recover(call, i, self.platform))).items():
            counts[did] = counts.get(did, 0) + n
        for did, n in sweep(pending, self._in_transaction(self._refund_again)).items():
            counts[f"refund_{did}"] = counts.get(f"refund_{did}", 0) + n
        return counts

    def _refund_again(self, call: Call, refd_sn: str) -> str:
        from yibao.services import online_refund
        row = online_orders.refund_by_sn(call.conn, refd_sn)
        assert row is not None, refd_sn
        return online_refund.retry_pending(call, row, self.platform)

    def start(self) -> Sweeper:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="online-sweeper", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                counts = self.run_once()
                if counts:
                    logger.info("online_sweep", **counts)
            except Exception:  # the database or platform away: next pass
                logger.exception("online_sweep_failed")
            self._stop.wait(self.interval)


def system_call(conn: Connection, now: datetime, ids: Any,
                policies: tuple[Any, ...]) -> Call:
    """The call of scheduled work and of the platform's notifications: the system acts
    (a settlement it writes is the order's institution's: ``settle``)."""
    from yibao.services.context import Actor, ActorKind, Entry
    return Call(conn=conn, actor=Actor(ActorKind.SYSTEM, "online"), entry=Entry.PLATFORM,
                now=now, ids=ids, policies=policies)


def newest_orders(conn: Connection, status: str, institution: str, *,
                  limit: int) -> dict[str, Any]:
    """The operators' list: the newest orders (of a status, of an institution), with
    their institutions' names."""
    rows = online_orders.newest(conn, status=status, fixmedins_code=institution, limit=limit)
    return {"orders": rows, "names": institutions.names(
        conn, {row["fixmedins_code"] for row in rows})}


def order_sheet(conn: Connection, pay_ord_id: str) -> dict[str, Any]:
    """The operators' view of one order with its status history and refunds; E-ORD-001
    for an unknown payOrdId."""
    order = online_orders.find(conn, pay_ord_id)
    if order is None:
        raise Refused("E-ORD-001", f"no online order {pay_ord_id[:40]}")
    history = rules.history(OrderStatus(order["status"]), created_at=order["created_at"],
                             held_at=order["held_at"], settled_at=order["settled_at"],
                             closed_at=order["closed_at"])
    return {"order": order, "history": history,
            "refunds": online_orders.refunds(conn, pay_ord_id),
            "institution": institutions.names(conn, [order["fixmedins_code"]]).get(
                order["fixmedins_code"], "")}
