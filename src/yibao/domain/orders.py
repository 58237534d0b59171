"""Online orders of the mobile-payment centre (6201-6401): their states, the moves between
them, and what a refund gives back. Pure: no clock, no I/O.

An **online order** (payOrdId) is one bill of one visit uploaded by an institution for
payment from the phone. Its money is two-phase: when the person authorises and the split
is computed, the fund part, the account part and the year's room (deductible, caps) are
**held** for this order only; the payment of the person's own part **settles** it (the
settlement is written then, in the month of payment); otherwise it **expires** and the
holds are released. See docs/online-payment.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_yuan

ORDER_LIFETIME = timedelta(minutes=30)  # from the upload: held room is released after it
PAY_AUTH_LIFETIME = timedelta(minutes=10)  # a payAuthNo, used once
REVS_TOKEN_LIFETIME = timedelta(hours=1)  # the institution's reversal authorisation
FEE_LINES_MAX = 500  # fee lines of one upload


class OrderStatus(StrEnum):
    UPLOADED = "uploaded"  # fees uploaded and classified; nothing held yet
    HELD = "held"  # the split computed; fund, account and room held; own part awaited
    SETTLED = "settled"  # paid: the settlement is final
    REFUNDED = "refunded"  # every part given back
    HI_REFUNDED = "hi_refunded"  # fund and account given back, the cash part kept
    CASH_REFUNDED = "cash_refunded"  # the cash part given back, the settlement kept
    CANCELLED = "cancelled"  # 6401 before payment: holds released
    EXPIRED = "expired"  # not paid within the lifetime: holds released


# ordStas (the standard's code table 订单状态) of each status
ORD_STAS: dict[OrderStatus, str] = {
    OrderStatus.UPLOADED: "0",  # 已保存
    OrderStatus.HELD: "1",  # 预结算完成
    OrderStatus.SETTLED: "6",  # 结算完成
    OrderStatus.REFUNDED: "7",  # 已退款
    OrderStatus.HI_REFUNDED: "8",  # 已医保全部退款
    OrderStatus.CASH_REFUNDED: "9",  # 仅自费全部退款
    OrderStatus.CANCELLED: "12",  # 已撤销
    OrderStatus.EXPIRED: "13",  # 医保已撤销
}

# statuses whose holds count against the person's room (while not past expires_at)
HOLDING = (OrderStatus.HELD,)
OPEN = (OrderStatus.UPLOADED, OrderStatus.HELD)  # may still be paid, cancelled, expired


class Action(StrEnum):
    HOLD = "hold"  # 6202 or the cashier's confirmation
    SETTLE = "settle"  # the own part paid (or nothing to pay)
    CANCEL = "cancel"  # 6401
    EXPIRE = "expire"  # the lifetime passed
    REFUND_ALL = "ALL"  # 6203 refdType ALL, or the revsToken reversal
    REFUND_HI = "HI"  # 6203 refdType HI
    REFUND_CASH = "CASH"  # 6203 refdType CASH


S, A = OrderStatus, Action
TRANSITIONS: dict[Action, dict[OrderStatus, OrderStatus]] = {
    A.HOLD: {S.UPLOADED: S.HELD},
    A.SETTLE: {S.HELD: S.SETTLED},
    A.CANCEL: {S.UPLOADED: S.CANCELLED, S.HELD: S.CANCELLED},
    A.EXPIRE: {S.UPLOADED: S.EXPIRED, S.HELD: S.EXPIRED},
    A.REFUND_ALL: {S.SETTLED: S.REFUNDED, S.HI_REFUNDED: S.REFUNDED,
                   S.CASH_REFUNDED: S.REFUNDED},
    A.REFUND_HI: {S.SETTLED: S.HI_REFUNDED, S.CASH_REFUNDED: S.REFUNDED},
    A.REFUND_CASH: {S.SETTLED: S.CASH_REFUNDED, S.HI_REFUNDED: S.REFUNDED},
}
del S, A


def move(status: OrderStatus, action: Action) -> OrderStatus:
    """The status ``action`` leaves an order in, or E-ORD-003."""
    to = TRANSITIONS[action].get(status)
    if to is None:
        raise Refused("E-ORD-003", f"order is {status.value} (ordStas {ORD_STAS[status]}); "
                      f"cannot {action.value}")
    return to


def expired(expires_at: datetime, now: datetime) -> bool:
    return now >= expires_at


def live(status: OrderStatus, expires_at: datetime, now: datetime) -> bool:
    """Whether an order still stands for what it pays (one live order per prescription):
    open within its lifetime, or settled and not wholly given back."""
    if status in OPEN:
        return not expired(expires_at, now)
    return status not in (OrderStatus.REFUNDED, OrderStatus.CANCELLED, OrderStatus.EXPIRED)


def history(status: OrderStatus, *, created_at: datetime, held_at: datetime | None,
            settled_at: datetime | None, closed_at: datetime | None
            ) -> list[tuple[OrderStatus, datetime]]:
    """The statuses an order went through with when, oldest first, from the moments its
    row keeps: uploaded, held, settled, and the status it ended in (cancelled, expired,
    given back) when it ended."""
    steps = [(OrderStatus.UPLOADED, created_at), (OrderStatus.HELD, held_at),
             (OrderStatus.SETTLED, settled_at)]
    if status not in (OrderStatus.UPLOADED, OrderStatus.HELD, OrderStatus.SETTLED):
        steps.append((status, closed_at))
    return [(step, at) for step, at in steps if at is not None]


def revs_token_valid(settled_at: datetime | None, now: datetime) -> bool:
    """Whether a settled order's revsToken still authorises its reversal (6203): for
    ``REVS_TOKEN_LIFETIME`` after the settlement, its end included."""
    return settled_at is not None and now <= settled_at + REVS_TOKEN_LIFETIME


@dataclass(frozen=True, slots=True)
class Split:
    """What each part of an order paid, in fen: fund + account + cash = total."""

    total: int
    fund: int
    account: int
    cash: int

    def __post_init__(self) -> None:
        assert min(self.total, self.fund, self.account, self.cash) >= 0, self
        assert self.total == self.fund + self.account + self.cash, self


def refunded_parts(split: Split, status: OrderStatus, kind: Action) -> Split:
    """What a refund of ``kind`` gives back from an order in ``status``: the insurance
    parts (fund and account, back to the person's history) unless already given back,
    the cash part (back through the payment platform) unless already given back."""
    move(status, kind)  # refuses a refund the status does not allow
    hi = kind in (Action.REFUND_ALL, Action.REFUND_HI) and status is not OrderStatus.HI_REFUNDED
    cash = (kind in (Action.REFUND_ALL, Action.REFUND_CASH)
            and status is not OrderStatus.CASH_REFUNDED)
    fund, account = (split.fund, split.account) if hi else (0, 0)
    back = split.cash if cash else 0
    return Split(fund + account + back, fund, account, back)


@dataclass(frozen=True, slots=True)
class RefundAsked:
    """6203's amounts as sent (fen); None where an optional part was left out."""

    total: int  # totlRefdAmt: the order's total (原交易记录总金额)
    fund: int | None
    account: int | None
    cash: int


def check_refund(split: Split, parts: Split, asked: RefundAsked) -> None:
    """The amounts sent are the order's total and exactly the parts given back."""
    if asked.total != split.total:
        raise Refused("E-ORD-006", f"totlRefdAmt {fen_to_yuan(asked.total)}, the order's total is "
                      f"{fen_to_yuan(split.total)}")
    for name, sent, due in (("fundRefdAmt", asked.fund, parts.fund),
                            ("psnAcctRefdAmt", asked.account, parts.account),
                            ("cashRefdAmt", asked.cash, parts.cash)):
        if sent is not None and sent != due:
            raise Refused("E-ORD-006", f"{name} {fen_to_yuan(sent)}, this refund gives back "
                          f"{fen_to_yuan(due)}")

