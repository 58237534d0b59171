"""The daily bill of the payment platform against yibao's own records of the person's own
part (third-party payment, thdPay). Pure: frozen records in, a list of differences out.

The platform's trade bill of a day (WeChat Pay's 交易账单, type ALL) has one row per
payment that succeeded that day (state ``SUCCESS``) and one per refund made that day
(state ``REFUND``); amounts are fen here (the file says yuan: thirdpay/bill.py converts).
yibao's side is one ``OurOrder`` per order paid or refunded that day, or still thought
unpaid. ``differences`` compares them per merchant order number (out_trade_no).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from yibao.domain.money import Fen

PAID, REFUND = "SUCCESS", "REFUND"  # the bill's 交易状态 of a payment row and a refund row


@dataclass(frozen=True, slots=True)
class BillRow:
    """One detail row of the platform's trade bill."""

    traded_at: datetime  # 交易时间: when the payment (or the refund request) succeeded, CST
    out_trade_no: str  # 商户订单号
    trade_no: str  # 微信订单号 (the platform's transaction id)
    state: str  # 交易状态: SUCCESS (a payment) or REFUND (a refund); others are listed as is
    amount_fen: Fen  # 应结订单金额 of a payment row (0 on a refund row)
    refund_fen: Fen = 0  # 退款金额 of a refund row (0 on a payment row)
    out_refund_no: str = ""  # 商户退款单号
    refund_id: str = ""  # 微信退款单号

    def __post_init__(self) -> None:
        assert self.amount_fen >= 0 and self.refund_fen >= 0, self


class OurStatus(StrEnum):
    PAID = "paid"  # yibao holds the own part as paid (refunded ones stay paid: it was paid)
    UNPAID = "unpaid"  # pending, cancelled or expired: yibao took no money


@dataclass(frozen=True, slots=True)
class OurOrder:
    """yibao's view of one order for the bill's day."""

    out_trade_no: str
    status: OurStatus
    paid_fen: Fen  # paid on the bill's day (0 when paid another day, or unpaid)
    refund_fen: Fen = 0  # refunded on the bill's day

    def __post_init__(self) -> None:
        assert self.paid_fen >= 0 and self.refund_fen >= 0, self
        assert self.status is OurStatus.PAID or not (self.paid_fen or self.refund_fen), self


class Kind(StrEnum):
    MISSING_AT_PLATFORM = "missing_at_platform"  # we recorded money that day, the bill has none
    MISSING_AT_YIBAO = "missing_at_yibao"  # the bill has a trade we do not know
    AMOUNT_DIFFERS = "amount_differs"  # the day's paid amounts differ
    REFUND_DIFFERS = "refund_differs"  # the day's refunded amounts differ
    STATUS_DIFFERS = "status_differs"  # we hold it unpaid, the bill says it was paid


@dataclass(frozen=True, slots=True)
class Difference:
    kind: Kind
    out_trade_no: str
    ours: Fen | str | None  # fen, or our status for status_differs; None: we have nothing
    theirs: Fen | str | None  # fen, or the bill's state for status_differs; None: no row


@dataclass(frozen=True, slots=True)
class _Theirs:
    paid_fen: Fen
    refund_fen: Fen


def differences(orders: Iterable[OurOrder], bill_rows: Iterable[BillRow]) -> list[Difference]:
    """Every disagreement between our orders and the bill's rows, ordered by out_trade_no
    (then kind). An order with nothing that day and no row in the bill agrees."""
    ours: dict[str, OurOrder] = {}
    for order in orders:
        assert order.out_trade_no not in ours, f"order listed twice: {order.out_trade_no}"
        ours[order.out_trade_no] = order
    theirs = _aggregate(bill_rows)
    found: list[Difference] = []
    for number in sorted(ours.keys() | theirs.keys()):
        found.extend(_compare(number, ours.get(number), theirs.get(number)))
    return found


def _aggregate(rows: Iterable[BillRow]) -> dict[str, _Theirs]:
    """Per out_trade_no, the day's paid and refunded fen of the bill."""
    paid: dict[str, Fen] = {}
    refunded: dict[str, Fen] = {}
    for row in rows:
        paid[row.out_trade_no] = paid.get(row.out_trade_no, 0) + (
            row.amount_fen if row.state == PAID else 0)
        refunded[row.out_trade_no] = refunded.get(row.out_trade_no, 0) + (
            row.refund_fen if row.state == REFUND else 0)
    return {number: _Theirs(paid[number], refunded[number]) for number in paid}


def _compare(number: str, ours: OurOrder | None, theirs: _Theirs | None) -> list[Difference]:
    if ours is None:
        assert theirs is not None
        return [Difference(Kind.MISSING_AT_YIBAO, number, None, theirs.paid_fen
                           or theirs.refund_fen)]
    if theirs is None:
        if ours.paid_fen or ours.refund_fen:
            return [Difference(Kind.MISSING_AT_PLATFORM, number, ours.paid_fen
                               or ours.refund_fen, None)]
        return []
    if ours.status is OurStatus.UNPAID:
        if theirs.paid_fen or theirs.refund_fen:
            return [Difference(Kind.STATUS_DIFFERS, number, ours.status.value, PAID)]
        return []
    found = []
    if ours.paid_fen != theirs.paid_fen:
        found.append(Difference(Kind.AMOUNT_DIFFERS, number, ours.paid_fen, theirs.paid_fen))
    if ours.refund_fen != theirs.refund_fen:
        found.append(Difference(Kind.REFUND_DIFFERS, number, ours.refund_fen,
                                theirs.refund_fen))
    return found
