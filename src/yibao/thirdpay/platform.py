"""What yibao's services need of a third-party payment platform (the person's own part,
thdPay): independent of any one platform (thirdpay/wechat.py speaks WeChat Pay v3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class PlatformDown(Exception):
    """The platform did not answer, or answered 5xx: try again later."""


class BadNotification(Exception):
    """A notification whose signature, serial or ciphertext is not valid."""


class TradeState(StrEnum):
    PAID = "SUCCESS"
    NOTPAY = "NOTPAY"
    CLOSED = "CLOSED"
    REFUND = "REFUND"
    PAYERROR = "PAYERROR"
    USERPAYING = "USERPAYING"


@dataclass(frozen=True, slots=True)
class Created:
    pay_url: str  # where the person's browser is sent to pay
    prepay_id: str


@dataclass(frozen=True, slots=True)
class Trade:
    out_trade_no: str
    trade_no: str  # the platform's transaction id ("" before payment)
    state: TradeState
    amount_fen: int
    paid_at: datetime | None


@dataclass(frozen=True, slots=True)
class Refund:
    status: str  # SUCCESS | PROCESSING | ABNORMAL | CLOSED
    refund_id: str


class Platform(Protocol):
    def create(self, out_trade_no: str, amount_fen: int, description: str, notify_url: str,
               expire_at: datetime) -> Created: ...

    def query(self, out_trade_no: str) -> Trade: ...

    def close(self, out_trade_no: str) -> None: ...

    def refund(self, out_trade_no: str, out_refund_no: str, refund_fen: int,
               total_fen: int) -> Refund: ...

    def notification(self, headers: Mapping[str, str], body: bytes) -> Trade: ...
