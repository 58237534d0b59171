"""Refunds of online orders (6203): back the way each part was paid. The fund and
account parts by a cancellation of the order's settlement (the person's history and
account restored; posted now, so a month already cleared is not reopened); the cash
part through the payment platform. Also the revsToken reversal (the institution's own
booking failed) and the LATE refund of a payment that came after the order closed.

A platform that does not answer leaves the cash part pending (refStatus EXP); the
sweeper (``retry_pending``) asks again. An appRefdSn is the refund's idempotency key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import RowMapping

from yibao import log
from yibao.domain import orders as rules
from yibao.domain.errors import Refused
from yibao.domain.orders import Action, OrderStatus, RefundAsked, Split
from yibao.services import ecert, online, rx_purchase, settlement
from yibao.services.context import Call
from yibao.services.persons import lock_person
from yibao.store import online_orders
from yibao.thirdpay.platform import Platform, PlatformDown, PlatformRefusal, Trade

logger = log.get("yibao.online")
SUCC, FAIL, EXP = "SUCC", "FAIL", "EXP"
PLATFORM_DONE = ("SUCCESS", "PROCESSING")  # the platform took the refund


@dataclass(frozen=True, slots=True)
class RefundRequest:
    pay_ord_id: str
    app_refd_sn: str
    app_refd_time: str
    kind: Action  # REFUND_ALL | REFUND_HI | REFUND_CASH
    asked: RefundAsked
    token: str  # ecToken of the person, or the order's revsToken (within the hour)

    def digest(self) -> str:
        body = json.dumps({**asdict(self), "kind": self.kind.value}, sort_keys=True,
                          default=str)
        return hashlib.sha256(body.encode()).hexdigest()


def refund(call: Call, req: RefundRequest, platform: Platform | None) -> RowMapping:
    """6203: the refund row (a retry with the same appRefdSn and body: the same row)."""
    order = online_orders.find(call.conn, req.pay_ord_id)
    if order is None or order["fixmedins_code"] != call.institution.code:
        raise Refused("E-ORD-001", f"payOrdId {req.pay_ord_id}")
    lock_person(call.conn, order["psn_no"])  # the same refund sent twice at once waits here
    before = online_orders.refund(call.conn, req.pay_ord_id, req.app_refd_sn)
    if before is not None:  # ... and then finds the first one's refund
        if before["request_hash"] != req.digest():
            raise Refused("E-ORD-007", f"appRefdSn {req.app_refd_sn}")
        return before
    order = online_orders.find(call.conn, req.pay_ord_id, lock=True)
    assert order is not None
    _check_authority(call, order, req.token)
    if order["hi_rxno"]:  # an electronic prescription's order: not once received
        rx_purchase.check_refundable(call, order["hi_rxno"])
    status = OrderStatus(order["status"])
    split = Split(order["medfee_sumamt"], order["fund_pay"], order["acct_pay"],
                  order["cash_pay"])
    parts = rules.refunded_parts(split, status, req.kind)
    rules.check_refund(split, parts, req.asked)
    after = rules.move(status, req.kind)
    given = _give_back(call, order, req.kind.value, req.app_refd_sn, req.digest(), parts,
                       after, platform)
    if order["hi_rxno"] and after is OrderStatus.REFUNDED:
        rx_purchase.returned(call, order["hi_rxno"])
    return given


def _check_authority(call: Call, order: RowMapping, token: str) -> None:
    """The person's ecToken (issued to this institution, unexpired), or the order's
    revsToken within the hour after its settlement."""
    if order["revs_token"] and token == order["revs_token"]:
        if rules.revs_token_valid(order["settled_at"], call.now):
            return
        raise Refused("E-PAU-001", "the revsToken is valid for one hour after settlement")
    holder = ecert.token_holder(call.conn, ecert.digest(token), institution=call.institution.code,
                                infno="", now=call.now)
    if holder != order["psn_no"]:
        raise Refused("E-ORD-008", f"the ecToken is not of order {order['pay_ord_id']}'s person")


def _give_back(call: Call, order: RowMapping, refd_type: str, app_refd_sn: str,
               request_hash: str, parts: Split, after: OrderStatus,
               platform: Platform | None) -> RowMapping:
    cancel_setl_id = None
    if after in (OrderStatus.REFUNDED, OrderStatus.HI_REFUNDED) and _hi_live(order):
        cancelled = settlement.cancel(call, order["setl_id"], order["mdtrt_id"],
                                      order["psn_no"])
        cancel_setl_id = cancelled.row["setl_id"]
    refd_sn = call.ids.new("RF")
    online_orders.add_refund(call.conn, dict(
        refd_sn=refd_sn, pay_ord_id=order["pay_ord_id"], app_refd_sn=app_refd_sn,
        request_hash=request_hash, refd_type=refd_type, fund_refd=parts.fund,
        acct_refd=parts.account, cash_refd=parts.cash, cancel_setl_id=cancel_setl_id,
        status=EXP if parts.cash else SUCC, created_at=call.now))
    online_orders.change(call.conn, order["pay_ord_id"], OrderStatus(order["status"]),
                         status=after, closed_at=call.now if after is OrderStatus.REFUNDED
                         else None)
    online.announce(call.conn, order["pay_ord_id"], call.now)
    if parts.cash:
        _cash_back(call, refd_sn, order["pay_ord_id"], parts.cash, order["cash_paid"]
                   or order["cash_pay"], platform)
    found = online_orders.refund(call.conn, order["pay_ord_id"], app_refd_sn)
    assert found is not None
    return found


def _hi_live(order: RowMapping) -> bool:
    """The order's settlement is still live (its insurance parts not given back)."""
    return order["status"] in (OrderStatus.SETTLED, OrderStatus.CASH_REFUNDED)


def _cash_back(call: Call, refd_sn: str, pay_ord_id: str, amount: int, total: int,
               platform: Platform | None) -> None:
    """Ask the platform to give ``amount`` back; unanswered: pending (EXP), asked again
    by the sweeper."""
    if platform is None:
        raise Refused("E-PAY-001", "no payment platform is configured")
    try:
        done = platform.refund(pay_ord_id, refd_sn, amount, total)
    except PlatformDown:
        logger.warning("online_refund_pending", pay_ord_id=pay_ord_id, refd_sn=refd_sn)
        return
    except PlatformRefusal as refusal:  # recorded as failed, with the platform's code
        logger.warning("online_refund_refused", pay_ord_id=pay_ord_id, refd_sn=refd_sn,
                       code=refusal.code)
        online_orders.refund_done(call.conn, refd_sn, FAIL, "")
        return
    status = SUCC if done.status in PLATFORM_DONE else FAIL
    online_orders.refund_done(call.conn, refd_sn, status, done.refund_id)


def give_back_late(call: Call, order: RowMapping, trade: Trade, platform: Platform) -> None:
    """A payment for an order already closed (expired, cancelled): given back in full,
    once (the refund's key is the platform's trade number)."""
    key = f"LATE-{trade.trade_no}"[:40]
    if online_orders.refund(call.conn, order["pay_ord_id"], key) is not None:
        return  # the notification again
    refd_sn = call.ids.new("RF")
    online_orders.add_refund(call.conn, dict(
        refd_sn=refd_sn, pay_ord_id=order["pay_ord_id"], app_refd_sn=key,
        request_hash=trade.trade_no, refd_type="LATE", cash_refd=trade.amount_fen,
        status=EXP, created_at=call.now))
    _cash_back(call, refd_sn, order["pay_ord_id"], trade.amount_fen, trade.amount_fen,
               platform)
    logger.info("online_late_payment_refunded", pay_ord_id=order["pay_ord_id"])


def retry_pending(call: Call, refund_row: RowMapping, platform: Platform) -> str:
    """Ask the platform again for a cash part still pending."""
    order = online_orders.find(call.conn, refund_row["pay_ord_id"])
    assert order is not None
    total = order["cash_paid"] or order["cash_pay"] or refund_row["cash_refd"]
    _cash_back(call, refund_row["refd_sn"], order["pay_ord_id"], refund_row["cash_refd"],
               total, platform)
    after = online_orders.refund(call.conn, order["pay_ord_id"], refund_row["app_refd_sn"])
    assert after is not None
    return str(after["status"])


def describe(row: RowMapping, now: datetime) -> dict[str, str]:
    """6203's answer."""
    hi = bool(row["cancel_setl_id"])
    return {
        "refdSn": row["refd_sn"], "hiFefdSn": row["cancel_setl_id"] or "",
        "hiTrnsDate": f"{row['created_at']:%Y%m%d}" if hi else "",
        "hiTrnsTime": f"{row['created_at']:%H%M%S}" if hi else "",
        "refStatus": row["status"],
    }

