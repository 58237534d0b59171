"""The cashier page's work (api/cashier.py): the person opens their order from the app
with a payAuthNo, the order is held for the browser session that spent it, the person
confirms and pays their own part at the payment platform.

The session is a random token in an HttpOnly cookie; the order keeps only the first 32
hex characters of its SHA-256 in ``hold_ref`` ("cashier:" + digest: 40 characters, the
column's width), so a reload shows the held order without the spent payAuthNo, and no
one without the cookie can confirm it. The confirmation form carries a token derived
from the session and the order (HMAC-SHA-256), so another site cannot post it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, RowMapping

from yibao.domain import orders as rules
from yibao.domain.errors import Refused
from yibao.domain.orders import OrderStatus
from yibao.domain.policy import Policy
from yibao.services import online, online_payment
from yibao.services.context import Actor, ActorKind, Call, Entry, Ids, Institution
from yibao.services.persons import lock_person
from yibao.store import online_orders
from yibao.thirdpay.platform import Platform

SESSION_BYTES = 32
REF_PREFIX = "cashier:"
REF_HEX = 32  # hex characters of the session's SHA-256 kept in hold_ref
ACTOR = Actor(ActorKind.SYSTEM, "cashier")


def new_session() -> str:
    return secrets.token_urlsafe(SESSION_BYTES)


def session_ref(session: str) -> str:
    """What the order keeps of the session that holds it (``hold_ref``)."""
    assert session, "a session token"
    return REF_PREFIX + hashlib.sha256(session.encode()).hexdigest()[:REF_HEX]


def form_token(session: str, pay_ord_id: str) -> str:
    """The confirmation form's token: bound to the session and the order."""
    return hmac.new(session.encode(), f"confirm {pay_ord_id}".encode(),
                    hashlib.sha256).hexdigest()


def cashier_call(conn: Connection, site: Institution, *, now: datetime, ids: Ids,
                 policies: tuple[Policy, ...], pay_ord_id: str) -> Call:
    """The cashier's call for an order: the system acting at the order's institution."""
    return Call(conn=conn, actor=ACTOR, entry=Entry.CASHIER, now=now, ids=ids,
                policies=policies, site=site, ref=pay_ord_id)


def site(conn: Connection, pay_ord_id: str) -> Institution:
    """The order's institution (E-ORD-001: no such order)."""
    found = online.site_of(conn, pay_ord_id)
    if found is None:
        raise Refused("E-ORD-001", f"payOrdId {pay_ord_id}")
    return found


def of_session(conn: Connection, pay_ord_id: str, session: str) -> RowMapping | None:
    """The order if ``session`` is the one that holds it (None otherwise)."""
    if not session:
        return None
    order = online_orders.find(conn, pay_ord_id)
    if order is None or not hmac.compare_digest(order["hold_ref"], session_ref(session)):
        return None
    return order


@dataclass(frozen=True, slots=True)
class Opened:
    order: RowMapping
    session: str  # the session that holds it
    fresh: bool  # a new session (its cookie to be set)


def open_order(call: Call, pay_ord_id: str, session: str, pay_auth_no: str,
               thd_pay_type: str = "WECHAT") -> Opened:
    """The order shown to the person: the one ``session`` holds, else held now for a new
    session with the payAuthNo (spent). E-PAU-003: neither; E-CSH-001: a session of
    another order and no payAuthNo."""
    held = of_session(call.conn, pay_ord_id, session)
    if held is not None:
        return Opened(held, session, fresh=False)
    if not pay_auth_no:
        raise Refused("E-CSH-001" if session else "E-PAU-003", f"payOrdId {pay_ord_id}")
    fresh = new_session()
    order = online.hold(call, online.HoldRequest(
        pay_ord_id=pay_ord_id, pay_token="", pay_auth_no=pay_auth_no,
        hold_ref=session_ref(fresh), thd_pay_type=thd_pay_type)).value
    return Opened(order, fresh, fresh=True)


def confirm(call: Call, pay_ord_id: str, session: str, sent_token: str,
            platform: Platform | None, notify_url: str) -> RowMapping:
    """The person confirms: the payment of their part is asked of the platform (its pay
    URL on the order), or, nothing to pay, the order is settled now. The platform down:
    the order stays held without a pay URL (try again)."""
    found = of_session(call.conn, pay_ord_id, session)
    if found is None:
        raise Refused("E-CSH-001", f"payOrdId {pay_ord_id}")
    if not hmac.compare_digest(sent_token.encode(), form_token(session, pay_ord_id).encode()):
        raise Refused("E-CSH-002", f"payOrdId {pay_ord_id}")
    lock_person(call.conn, found["psn_no"])
    order = online_orders.find(call.conn, pay_ord_id, lock=True)
    assert order is not None, pay_ord_id
    status = OrderStatus(order["status"])
    if status is OrderStatus.SETTLED or (status is OrderStatus.HELD and order["pay_url"]):
        return order  # confirmed before (a second click, a reload of the form)
    if status is not OrderStatus.HELD:
        raise Refused("E-ORD-003", f"order {pay_ord_id} is {status.value}")
    if rules.expired(order["expires_at"], call.now):
        raise Refused("E-ORD-005", f"order {pay_ord_id} expired at "
                      f"{order['expires_at']:%Y-%m-%d %H:%M:%S}")
    if platform is not None:
        return online_payment.start(call, order, platform, notify_url)
    if order["cash_pay"]:
        raise Refused("E-PAY-001", "no payment platform is configured")
    return online_payment.settle(call, pay_ord_id, None)


def returned(call: Call, pay_ord_id: str, platform: Platform | None) -> RowMapping:
    """The person back from the platform's page: an order held with a platform order is
    asked of the platform (paid → settled now, as its notification would settle it; the
    notification then finds it settled), then the order as it is (E-ORD-001)."""
    order = state(call.conn, pay_ord_id)
    if (platform is not None and order["status"] == OrderStatus.HELD and order["pay_url"]):
        online_payment.recover(call, pay_ord_id, platform)
        order = state(call.conn, pay_ord_id)
    return order


def state(conn: Connection, pay_ord_id: str) -> RowMapping:
    """The order as it is (E-ORD-001: no such order)."""
    order = online_orders.find(conn, pay_ord_id)
    if order is None:
        raise Refused("E-ORD-001", f"payOrdId {pay_ord_id}")
    return order
