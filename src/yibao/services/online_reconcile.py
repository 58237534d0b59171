"""The daily reconciliation with the payment platform: the platform's trade bill of a day
against yibao's online orders (``domain/paybill.differences``). Every difference is
reported with its kind; nothing is changed (an operator decides: docs/online-payment.md).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import Connection

from yibao.domain.paybill import Difference, OurOrder, OurStatus, differences
from yibao.store import online_orders
from yibao.thirdpay.platform import Platform


def our_orders(conn: Connection, day: date) -> list[OurOrder]:
    """yibao's view of the day: what each order had paid and refunded on it. A payment
    that came after its order closed (LATE) was taken and given back: paid and refunded."""
    start = datetime.combine(day, time())
    end = start + timedelta(days=1)
    paid: dict[str, int] = defaultdict(int)
    refunded: dict[str, int] = defaultdict(int)
    known: set[str] = set()
    for order in online_orders.of_day(conn, start, end):
        known.add(order["pay_ord_id"])
        settled = order["settled_at"]
        if settled is not None and start <= settled < end:
            paid[order["pay_ord_id"]] += order["cash_paid"]
    for refund in online_orders.refunds_of_day(conn, start, end):
        known.add(refund["pay_ord_id"])
        refunded[refund["pay_ord_id"]] += refund["cash_refd"]
        if refund["refd_type"] == "LATE":
            paid[refund["pay_ord_id"]] += refund["cash_refd"]
    return [OurOrder(number, OurStatus.PAID if paid[number] or refunded[number]
                     else OurStatus.UNPAID, paid[number], refunded[number])
            for number in sorted(known)]


def reconcile(conn: Connection, platform: Platform, day: date) -> list[Difference]:
    """Every difference between the platform's bill of ``day`` and yibao's orders."""
    return differences(our_orders(conn, day), platform.bill(day))
