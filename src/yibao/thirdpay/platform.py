"""The payment platform as yibao's services see it, whichever platform it is.

Third-party payment (thdPay): the person pays their own part of an online order on a
payment platform (WeChat Pay: thirdpay/wechat.py, or Alipay: thirdpay/alipay.py), in the
browser at the platform's ``pay_url``; the platform tells yibao by a signed notification
and answers queries, refunds and a daily bill. Money is integer fen; times are naive
China Standard Time.

Errors: ``PlatformDown`` (unreachable, 5xx, or an answer that cannot be trusted; callers
answer E-PAY-001 and keep the order pending), ``PlatformRefusal`` (the platform refused
the request: its own code and message), ``NotificationInvalid`` (a notification whose
signature, serial, ciphertext or merchant is wrong; callers answer E-PAY-002).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Protocol

from yibao.domain.money import Fen
from yibao.domain.paybill import BillRow

CST = timezone(timedelta(hours=8))  # China Standard Time: the platform's and yibao's clock


class TradeState(StrEnum):
    """A trade's state on the platform (WeChat's trade_state; SUCCESS is PAID here)."""

    PAID = "PAID"  # paid (WeChat SUCCESS)
    NOTPAY = "NOTPAY"  # created, not paid
    CLOSED = "CLOSED"  # closed by the merchant
    REFUND = "REFUND"  # paid, then (partly) refunded
    REVOKED = "REVOKED"  # revoked (code payments)
    USERPAYING = "USERPAYING"  # the person is paying
    PAYERROR = "PAYERROR"  # the payment failed


class RefundStatus(StrEnum):
    SUCCESS = "SUCCESS"
    PROCESSING = "PROCESSING"
    CLOSED = "CLOSED"
    ABNORMAL = "ABNORMAL"


@dataclass(frozen=True, slots=True)
class Created:
    pay_url: str  # where the person's browser is sent to pay (H5 cashier)
    prepay_id: str


@dataclass(frozen=True, slots=True)
class Trade:
    out_trade_no: str
    trade_no: str  # the platform's transaction id; "" while not paid
    state: TradeState
    amount_fen: Fen  # the order's total (amount.total)
    paid_at: datetime | None  # when it was paid (CST, naive); None while not paid


@dataclass(frozen=True, slots=True)
class Refund:
    status: RefundStatus
    refund_id: str


class PlatformError(Exception):
    """Anything that went wrong talking to the payment platform."""


class PlatformDown(PlatformError):
    """Unreachable, a 5xx or 429, or an answer whose signature does not verify: nothing it
    said can be used (E-PAY-001)."""


class PlatformRefusal(PlatformError):
    """The platform refused the request (a 4xx): its own error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class NotificationInvalid(PlatformError):
    """A notification that is not from the platform, not for us or not readable
    (E-PAY-002)."""


class Platform(Protocol):
    """What yibao's services use; independent of the platform (WeChat Pay: wechat.py,
    Alipay: alipay.py)."""

    @property
    def thd_pay_type(self) -> str:
        """The platform's name in the centre's messages (thdPayType): WECHAT, ALIPAY."""
        ...

    def create(self, out_trade_no: str, amount_fen: Fen, description: str, notify_url: str,
               expire_at: datetime) -> Created: ...

    def query(self, out_trade_no: str) -> Trade: ...

    def close(self, out_trade_no: str) -> None: ...

    def refund(self, out_trade_no: str, out_refund_no: str, refund_fen: Fen,
               total_fen: Fen) -> Refund: ...

    def notification(self, headers: Mapping[str, str], body: bytes | str) -> Trade: ...

    def bill(self, day: date) -> list[BillRow]: ...

    def return_to(self, pay_url: str, return_url: str) -> str:
        """``pay_url`` (a ``Created``'s) such that the platform's page sends the person
        back to ``return_url`` once they have paid."""
        ...


__all__ = ["CST", "BillRow", "Created", "NotificationInvalid", "Platform", "PlatformDown",
           "PlatformError", "PlatformRefusal", "Refund", "RefundStatus", "Trade",
           "TradeState"]
