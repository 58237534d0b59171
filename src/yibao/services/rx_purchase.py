"""Online drug purchase: an electronic prescription an online pharmacy dispensed, paid
through the mobile-payment centre's online order (docs/prescriptions.md, "Buying online").

The online pharmacy uploads the order with 6201, naming the prescription in
``extData.hiRxno``: the order may hold only the drugs prescribed, at most the quantities
prescribed, for the prescription's own person, once the pharmacy the person chose online
has dispensed it (7207). One live order per prescription. The person authorises and pays
as for any online order; the delivery (7209) waits for the payment; an order refunded
before its delivery was received returns the prescription to the pharmacy (reviewed, not
filled: the standard's automatic 7208 after a refund), a received one is not refunded
online.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import RowMapping

from yibao.domain import orders as order_rules
from yibao.domain import prescriptions as rules
from yibao.domain.errors import Refused
from yibao.domain.orders import OrderStatus
from yibao.domain.prescriptions import Action, RxStatus
from yibao.services import prescriptions as rx
from yibao.services.context import Call
from yibao.store import online_orders
from yibao.store import prescriptions as store


def check_order(call: Call, hi_rxno: str, psn_no: str,
                lines: Sequence[tuple[str, Decimal]]) -> None:
    """6201 naming ``hi_rxno``: the caller's online, dispensed prescription of ``psn_no``
    without a live order, and ``lines`` (catalogue code, count) within what was
    prescribed."""
    row = store.get(call.conn, hi_rxno, lock=True)
    if row is None or row["pharmacy_code"] != call.institution.code:
        raise Refused("E-RX-001", f"hiRxno {hi_rxno}")
    if not row["online"]:
        raise Refused("E-RX-015", "this prescription was filled at the counter")
    if row["psn_no"] != psn_no:
        raise Refused("E-RX-006", f"hiRxno {hi_rxno} is not psnNo {psn_no}'s")
    if RxStatus(row["status"]) is not RxStatus.DISPENSED:
        raise Refused("E-RX-020", f"the prescription is {row['status']}")
    if any(order_rules.live(OrderStatus(o["status"]), o["expires_at"], call.now)
           for o in online_orders.of_prescription(call.conn, hi_rxno)):
        raise Refused("E-RX-019", f"hiRxno {hi_rxno}")
    rules.check_dispensed(rx.items_of(row), tuple(
        rules.Dispensed(code=code, count=count) for code, count in lines))


def require_paid(call: Call, row: RowMapping) -> None:
    """7209: an online prescription is delivered once its order is settled."""
    paid = (OrderStatus.SETTLED, OrderStatus.CASH_REFUNDED)
    if not any(OrderStatus(o["status"]) in paid
               for o in online_orders.of_prescription(call.conn, row["hi_rxno"])):
        raise Refused("E-RX-017", f"hiRxno {row['hi_rxno']}")


def check_refundable(call: Call, hi_rxno: str) -> None:
    """6203 of a prescription's order: not once the person received the delivery."""
    row = store.get(call.conn, hi_rxno, lock=True)
    assert row is not None, hi_rxno  # an order names an existing prescription
    if RxStatus(row["status"]) is RxStatus.RECEIVED:
        raise Refused("E-RX-018", f"hiRxno {hi_rxno}")


def returned(call: Call, hi_rxno: str) -> None:
    """The order was wholly refunded before receipt: the prescription is the pharmacy's
    again, reviewed and not filled (its sale and delivery withdrawn)."""
    row = store.get(call.conn, hi_rxno, lock=True)
    assert row is not None, hi_rxno
    to = rx.moved(call, row, Action.RETURN)
    store.change(call.conn, hi_rxno, {"status": to.value, "filled_at": None, "sale": "",
                                      "delivery": "", "updated_at": call.now})
    store.record(call.conn, hi_rxno, at=call.now, infno=call.infno or "",
                 actor=call.actor.name, status=to.value, detail="order refunded")
