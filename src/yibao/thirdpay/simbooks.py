"""The simulators' books: their orders and refunds in memory, the rules of a payment
platform they imitate (an order paid once, before it expires; refunds up to what was
paid; a repeated request answering the same order or refund), and WeChat Pay v3's JSON.
Both simulators keep their trades here: WeChat's (simulator.py) and Alipay's
(alipay_sim.py, which speaks its own wire over the same ``SimOrder``s). No HTTP here;
nothing is kept across a restart.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from yibao.domain.money import Fen, apply_ratio, fen_to_yuan
from yibao.thirdpay.bill import TIME_FORMAT
from yibao.thirdpay.keys import PlatformKeys
from yibao.thirdpay.platform import CST

FEE_RATE = Decimal("0.0060")  # the service fee the bill shows: 0.60 %, half-up to the fen
ORDERS_MAX = 100_000  # orders one simulator keeps
TRADE_STATE_DESC = {"SUCCESS": "支付成功", "NOTPAY": "未支付", "CLOSED": "已关闭",
                    "REFUND": "转入退款"}
_OUT_NO = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-|*")


class SimRefusal(Exception):
    """An error answer of the platform: HTTP status, WeChat's code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message = status, code, message


@dataclass
class SimRefund:
    out_refund_no: str
    refund_id: str
    refund_fen: Fen
    created_at: datetime
    notify_url: str


@dataclass
class SimOrder:
    out_trade_no: str
    prepay_id: str
    description: str
    total_fen: Fen
    notify_url: str
    expire_at: datetime | None
    trade_type: str  # MWEB (H5) or NATIVE
    state: str = "NOTPAY"  # SUCCESS, NOTPAY, CLOSED, REFUND
    transaction_id: str = ""
    paid_at: datetime | None = None
    refunds: list[SimRefund] = field(default_factory=list)

    @property
    def refunded_fen(self) -> Fen:
        return sum(refund.refund_fen for refund in self.refunds)


def iso(moment: datetime) -> str:
    return moment.astimezone(CST).isoformat(timespec="seconds")


class Books:
    """Orders by out_trade_no; ``clock`` gives the platform's time (aware); ``keys``: a
    WeChat merchant's (None for Alipay's books, which use no WeChat JSON)."""

    def __init__(self, keys: PlatformKeys | None, clock: Callable[[], datetime]) -> None:
        self._keys, self.clock = keys, clock
        self.orders: dict[str, SimOrder] = {}
        self._serial = 0

    @property
    def keys(self) -> PlatformKeys:
        assert self._keys is not None, "WeChat's books"
        return self._keys

    def _number(self, prefix: str, now: datetime) -> str:
        """A platform number shaped like WeChat's (28 digits): transaction and refund ids."""
        self._serial += 1
        return f"{prefix}{self._serial % 10**5:05d}{now:%Y%m%d}{secrets.randbelow(10**10):010d}"

    def create(self, body: dict[str, Any], trade_type: str) -> SimOrder:
        """A new order of a WeChat request, or the same order again for the same
        out_trade_no and content."""
        number, total, expire_at = _order_fields(body, self.keys)
        return self.open(number, total, str(body["description"]),
                         str(body.get("notify_url", "")), expire_at, trade_type)

    def open(self, number: str, total: Fen, description: str, notify_url: str,
             expire_at: datetime | None, trade_type: str, prefix: str = "wx") -> SimOrder:
        """A new order, or the known one when out_trade_no, amount and description are the
        same (OUT_TRADE_NO_USED when they differ)."""
        known = self.orders.get(number)
        if known is not None:
            if (known.total_fen, known.description) != (total, description):
                raise SimRefusal(400, "OUT_TRADE_NO_USED", "商户订单号重复")
            return known
        if len(self.orders) >= ORDERS_MAX:
            raise SimRefusal(429, "FREQUENCY_LIMITED", "the simulator keeps no more orders")
        order = SimOrder(
            out_trade_no=number,
            prepay_id=f"{prefix}{self.clock():%d%H%M%S}{secrets.token_hex(12)}",
            description=description, total_fen=total, notify_url=notify_url,
            expire_at=expire_at, trade_type=trade_type)
        self.orders[number] = order
        return order

    def get(self, out_trade_no: str) -> SimOrder:
        order = self.orders.get(out_trade_no)
        if order is None:
            raise SimRefusal(404, "ORDER_NOT_EXIST", "订单不存在")
        return order

    def by_transaction(self, transaction_id: str) -> SimOrder:
        for order in self.orders.values():
            if order.transaction_id and order.transaction_id == transaction_id:
                return order
        raise SimRefusal(404, "ORDER_NOT_EXIST", "订单不存在")

    def by_prepay(self, prepay_id: str) -> SimOrder:
        for order in self.orders.values():
            if order.prepay_id == prepay_id:
                return order
        raise SimRefusal(404, "ORDER_NOT_EXIST", "订单不存在")

    def pay(self, order: SimOrder, number: str = "") -> None:
        """The person paid (the cashier's button or /_sim); ``number`` is the platform's
        trade number (default: WeChat's shape)."""
        now = self.clock()
        if order.state != "NOTPAY":
            raise SimRefusal(400, "ORDERPAID" if order.paid_at else "ORDER_CLOSED",
                             f"order is {order.state}")
        if order.expire_at is not None and now > order.expire_at:
            raise SimRefusal(400, "ORDER_CLOSED", "订单已过期 (time_expire passed)")
        order.state, order.paid_at = "SUCCESS", now
        order.transaction_id = number or self._number("42000", now)

    def close(self, order: SimOrder) -> None:
        if order.state in ("SUCCESS", "REFUND"):
            raise SimRefusal(400, "ORDERPAID", "订单已支付")
        order.state = "CLOSED"

    def refund(self, body: dict[str, Any]) -> tuple[SimOrder, SimRefund]:
        order = self.get(str(body.get("out_trade_no", "")))
        number, refund_fen, total_fen = _refund_fields(body)
        return order, self.refund_of(order, number, refund_fen, total_fen,
                                     str(body.get("notify_url", "")))

    def refund_of(self, order: SimOrder, number: str, refund_fen: Fen, total_fen: Fen | None,
                  notify_url: str = "") -> SimRefund:
        """A refund of ``order`` (the known one again for the same number and amount);
        ``total_fen``, when given, must be the order's total."""
        known = next((r for r in order.refunds if r.out_refund_no == number), None)
        if known is not None:
            if known.refund_fen != refund_fen:
                raise SimRefusal(400, "INVALID_REQUEST", "商户退款单号重复, 金额不同")
            return known
        if order.paid_at is None:
            raise SimRefusal(400, "INVALID_REQUEST", "订单未支付")
        if total_fen is not None and total_fen != order.total_fen:
            raise SimRefusal(400, "INVALID_REQUEST", "订单金额与原订单不一致 (amount.total)")
        if refund_fen > order.total_fen - order.refunded_fen:
            raise SimRefusal(400, "NOT_ENOUGH", "申请退款金额超过订单可退金额")
        refund = SimRefund(number, self._number("50300", self.clock()), refund_fen,
                           self.clock(), notify_url)
        order.refunds.append(refund)
        order.state = "REFUND"
        return refund

    def trade_json(self, order: SimOrder, *, amount_fen: Fen | None = None) -> dict[str, Any]:
        """The order as the query answers it (and a payment notification's resource);
        ``amount_fen`` overrides amount.total (the /_sim tampered notification)."""
        total = order.total_fen if amount_fen is None else amount_fen
        answer: dict[str, Any] = {
            "appid": self.keys.appid, "mchid": self.keys.mchid,
            "out_trade_no": order.out_trade_no, "trade_type": order.trade_type,
            "trade_state": order.state, "trade_state_desc": TRADE_STATE_DESC[order.state],
            "attach": "", "amount": {"total": total, "currency": "CNY"}}
        if order.paid_at is not None:
            answer.update(transaction_id=order.transaction_id, bank_type="OTHERS",
                          success_time=iso(order.paid_at),
                          payer={"openid": "o-demo-" + order.transaction_id[-8:]})
            answer["amount"].update(payer_total=total, payer_currency="CNY")
        return answer

    def refund_json(self, order: SimOrder, refund: SimRefund) -> dict[str, Any]:
        return {
            "refund_id": refund.refund_id, "out_refund_no": refund.out_refund_no,
            "transaction_id": order.transaction_id, "out_trade_no": order.out_trade_no,
            "channel": "ORIGINAL", "user_received_account": "支付用户零钱",
            "success_time": iso(refund.created_at), "create_time": iso(refund.created_at),
            "status": "SUCCESS", "funds_account": "AVAILABLE",
            "amount": {"total": order.total_fen, "refund": refund.refund_fen,
                       "payer_total": order.total_fen, "payer_refund": refund.refund_fen,
                       "settlement_total": order.total_fen,
                       "settlement_refund": refund.refund_fen, "discount_refund": 0,
                       "currency": "CNY"}}

    def events(self, day: date) -> list[tuple[SimOrder, SimRefund | None]]:
        """What a day's bill lists, in time order: each payment that succeeded that day
        (refund None) and each refund made that day."""
        found: list[tuple[datetime, SimOrder, SimRefund | None]] = []
        for order in self.orders.values():
            if order.paid_at is not None and _day(order.paid_at) == day:
                found.append((order.paid_at, order, None))
            found += [(r.created_at, order, r) for r in order.refunds
                      if _day(r.created_at) == day]
        return [(order, refund) for _, order, refund in sorted(found, key=lambda t: t[0])]

    def bill_details(self, day: date) -> list[dict[str, str]]:
        """The day's WeChat trade-bill rows (bill.py's columns)."""
        return [self._payment_row(order) if refund is None else self._refund_row(order, refund)
                for order, refund in self.events(day)]

    def _common(self, order: SimOrder, at: datetime) -> dict[str, str]:
        assert order.paid_at is not None
        return {"交易时间": at.astimezone(CST).strftime(TIME_FORMAT),
                "公众账号ID": self.keys.appid, "商户号": self.keys.mchid, "特约商户号": "0",
                "微信订单号": order.transaction_id, "商户订单号": order.out_trade_no,
                "用户标识": "o-demo-" + order.transaction_id[-8:],
                "交易类型": order.trade_type,
                "付款银行": "OTHERS", "货币种类": "CNY", "代金券金额": "0.00",
                "充值券退款金额": "0.00", "商品名称": order.description,
                "费率": "0.60%"}

    def _payment_row(self, order: SimOrder) -> dict[str, str]:
        assert order.paid_at is not None
        return self._common(order, order.paid_at) | {
            "交易状态": "SUCCESS", "应结订单金额": fen_to_yuan(order.total_fen),
            "订单金额": fen_to_yuan(order.total_fen), "退款金额": "0.00",
            "申请退款金额": "0.00", "手续费": fen_to_yuan(fee(order.total_fen))}

    def _refund_row(self, order: SimOrder, refund: SimRefund) -> dict[str, str]:
        return self._common(order, refund.created_at) | {
            "交易状态": "REFUND", "应结订单金额": "0.00", "订单金额": "0.00",
            "微信退款单号": refund.refund_id, "商户退款单号": refund.out_refund_no,
            "退款金额": fen_to_yuan(refund.refund_fen),
            "申请退款金额": fen_to_yuan(refund.refund_fen), "退款类型": "ORIGINAL",
            "退款状态": "SUCCESS", "手续费": fen_to_yuan(-fee(refund.refund_fen))}


def fee(amount: Fen) -> Fen:
    """The platform's service fee on an amount (FEE_RATE, half-up to the fen)."""
    return apply_ratio(amount, FEE_RATE)


def _day(moment: datetime) -> date:
    return moment.astimezone(CST).date()


def _order_fields(body: dict[str, Any], keys: PlatformKeys) -> tuple[str, Fen, datetime | None]:
    """out_trade_no, amount.total and time_expire of a create request, or PARAM_ERROR."""
    number = body.get("out_trade_no")
    amount = body.get("amount")
    total = amount.get("total") if isinstance(amount, dict) else None
    if body.get("appid") != keys.appid or body.get("mchid") != keys.mchid:
        raise SimRefusal(400, "PARAM_ERROR", "appid和mchid不匹配")
    if not isinstance(number, str) or not 6 <= len(number) <= 32 or set(number) - _OUT_NO:
        raise SimRefusal(400, "PARAM_ERROR", "out_trade_no: 6-32 letters, digits, _-|*")
    if type(total) is not int or total <= 0 or not body.get("description"):
        raise SimRefusal(400, "PARAM_ERROR", "amount.total (fen, > 0) and description")
    if not str(body.get("notify_url", "")).startswith(("http://", "https://")):
        raise SimRefusal(400, "PARAM_ERROR", "notify_url: an absolute http(s) URL")
    expire = body.get("time_expire")
    try:
        expire_at = datetime.fromisoformat(expire) if isinstance(expire, str) else None
    except ValueError as exc:
        raise SimRefusal(400, "PARAM_ERROR", "time_expire: RFC 3339") from exc
    if expire_at is not None and expire_at.tzinfo is None:
        raise SimRefusal(400, "PARAM_ERROR", "time_expire: RFC 3339 with an offset")
    return number, total, expire_at


def _refund_fields(body: dict[str, Any]) -> tuple[str, Fen, Fen]:
    number = body.get("out_refund_no")
    amount = body.get("amount")
    refund, total = (amount.get("refund"), amount.get("total")) if isinstance(amount, dict) \
        else (None, None)
    if not isinstance(number, str) or not 1 <= len(number) <= 64:
        raise SimRefusal(400, "PARAM_ERROR", "out_refund_no")
    if type(refund) is not int or type(total) is not int or not 0 < refund <= total:
        raise SimRefusal(400, "PARAM_ERROR", "amount.refund and amount.total: fen, "
                         "0 < refund <= total")
    return number, refund, total
