"""Online orders of the mobile-payment centre: the fee upload (6201), the person's
payment authorisation (payAuthNo, in a channel), the hold (6202 or the cashier's
confirmation), the query (6301) and the cancellation of an unpaid upload (6401).

Order of locks, always: the person's row, then the order's, then the visit's. The
payment, expiry and refunds are in services/online_payment.py and online_refund.py.
See docs/online-payment.md for the money states.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, RowMapping

from yibao.domain import orders as rules
from yibao.domain.codes import VisitClass, visit_class_of
from yibao.domain.errors import Refused
from yibao.domain.money import Fen, fen_to_yuan
from yibao.domain.orders import Action, OrderStatus
from yibao.services import (
    ecert,
    face,
    fees,
    outbox,
    rx_purchase,
    settlement,
    visits,
    webhooks,
)
from yibao.services.context import Call, Done, Effect, EffectKind, Entry, Institution
from yibao.services.persons import lock_person
from yibao.store import institutions, online_orders

TOKEN_BYTES = 24
Order = RowMapping  # an online_order row, as the services read it


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str) -> str:
    """A bearer secret of at most 40 characters (the standard's payToken, payAuthNo)."""
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True, slots=True)
class Upload:
    """6201 in the service's words."""

    med_org_ord: str
    request_hash: str  # SHA-256 of the upload as sent: a retry sends the same
    visit: visits.NewVisit  # the person, insurance, medical type and visit details
    mdtrt_id: str  # empty: the visit is registered now (outpatient only)
    chrg_bchno: str
    medfee_sumamt: Fen
    acct_used: bool
    lines: tuple[fees.FeeLineIn, ...]
    hi_rxno: str = ""  # the electronic prescription it pays (services/rx_purchase.py)


@dataclass(frozen=True, slots=True)
class Uploaded:
    pay_ord_id: str
    pay_token: str
    mdtrt_id: str


def upload(call: Call, up: Upload) -> Done[Uploaded]:
    """6201: register the visit if needed, upload and classify its fee lines as 2203/2204
    do, reserve them for a new order. A retry with the same body gets the same order (and
    a fresh payToken); the same medOrgOrd with other fees is refused."""
    code = call.institution.code
    existing = online_orders.by_med_org_ord(call.conn, code, up.med_org_ord)
    if existing is not None:
        return _again(call, existing, up)
    if not up.lines or len(up.lines) > rules.FEE_LINES_MAX:
        raise Refused("E-ENV-005", f"feedetailList: 1..{rules.FEE_LINES_MAX} lines")
    lock_person(call.conn, up.visit.psn_no)
    if up.hi_rxno:
        rx_purchase.check_order(call, up.hi_rxno, up.visit.psn_no,
                                [(line.list_code, line.count) for line in up.lines])
    mdtrt_id, visit_class = _visit_of(call, up)
    fees.upload(call, mdtrt_id, up.visit.psn_no, list(up.lines), visit_class)
    ids, total = _uploaded_lines(call.conn, mdtrt_id, up.lines)
    if total != up.medfee_sumamt:
        raise Refused("E-SETL-001", f"medfeeSumamt sent {fen_to_yuan(up.medfee_sumamt)}, "
                      f"the fee lines give {fen_to_yuan(total)}")
    pay_ord_id, token = call.ids.new("ORD"), new_secret("PT")
    online_orders.reserve_lines(call.conn, mdtrt_id, ids, pay_ord_id)
    online_orders.add(call.conn, dict(
        pay_ord_id=pay_ord_id, pay_token_hash=digest(token), fixmedins_code=code,
        med_org_ord=up.med_org_ord, request_hash=up.request_hash, psn_no=up.visit.psn_no,
        insutype=up.visit.insutype, mdtrt_id=mdtrt_id, chrg_bchno=up.chrg_bchno,
        med_type=up.visit.med_type, acct_used=up.acct_used, status=OrderStatus.UPLOADED,
        created_at=call.now, expires_at=call.now + rules.ORDER_LIFETIME,
        medfee_sumamt=total, hi_rxno=up.hi_rxno or None))
    return Done(Uploaded(pay_ord_id, token, mdtrt_id), Effect(EffectKind.ORDER, pay_ord_id))


def _again(call: Call, order: RowMapping, up: Upload) -> Done[Uploaded]:
    """A 6201 resent: the same order if nothing changed and it is still unpaid."""
    if order["request_hash"] != up.request_hash:
        raise Refused("E-ORD-004", f"medOrgOrd {up.med_org_ord} is order {order['pay_ord_id']}")
    status = OrderStatus(order["status"])
    if status is not OrderStatus.UPLOADED:
        raise Refused("E-ORD-003", f"order {order['pay_ord_id']} is {status.value} (ordStas "
                      f"{rules.ORD_STAS[status]})")
    token = new_secret("PT")
    online_orders.change(call.conn, order["pay_ord_id"], status, pay_token_hash=digest(token))
    return Done(Uploaded(order["pay_ord_id"], token, order["mdtrt_id"]),
                Effect(EffectKind.ORDER, order["pay_ord_id"]))


def _visit_of(call: Call, up: Upload) -> tuple[str, VisitClass]:
    """The visit the fees belong to: the one named, or an outpatient visit registered now
    (2201 with the ecToken, then 2203's diagnoses)."""
    visit_class = _class_of(up.visit.med_type)
    if up.mdtrt_id:
        row = visits.get_visit(call, up.mdtrt_id, up.visit.psn_no, lock=True)
        if row["visit_class"] != visit_class.value:
            raise Refused("E-VIS-003", f"medType {up.visit.med_type} for a "
                          f"{row['visit_class']} visit")
        return up.mdtrt_id, visit_class
    if visit_class is not VisitClass.OUTPATIENT:
        raise Refused("E-VIS-003", "an inpatient order names its mdtrtId (2401 first)")
    return visits.open_visit(call, up.visit, visit_class).value, visit_class


def _class_of(med_type: str) -> VisitClass:
    visit_class = visit_class_of(med_type)
    if visit_class is None:
        raise Refused("E-ENV-007", f"medType {med_type}")
    return visit_class


def _uploaded_lines(conn: Connection, mdtrt_id: str,
                    sent: Sequence[fees.FeeLineIn]) -> tuple[list[int], Fen]:
    """The ids and total of the lines just uploaded (the visit's unsettled lines of these
    serial numbers)."""
    serials = {line.feedetl_sn for line in sent}
    rows = [r for r in fees.unsettled_lines(conn, mdtrt_id) if r["feedetl_sn"] in serials]
    assert len(rows) == len(serials), (mdtrt_id, len(rows), len(serials))
    return [r["id"] for r in rows], sum(r["det_item_fee_sumamt"] for r in rows)


# ---------------------------------------------------------------- authorisation


def authorise(call: Call, psn_no: str, pay_ord_id: str) -> Done[str]:
    """The person (the holder the channel proved by PIN) authorises payment of one of
    their unpaid orders: a payAuthNo bound to them, the institution and the order, valid
    for ``PAY_AUTH_LIFETIME`` and used once."""
    return _issue_authorisation(call, _own_open_order(call, psn_no, pay_ord_id))


def authorise_by_face(call: Call, cert_id: str, pay_ord_id: str, photo: str,
                      liveness: str) -> Done[str]:
    """As ``authorise``, the holder proved by their face instead of the PIN: only for an
    order of an institution in the face pilot (E-FACE-002), compared with the template
    enrolled in the app, audited and locked out after failures as 9601 is (the channel is
    the place: its failures lock it out)."""
    psn_no = str(ecert.settled_certificate(call, cert_id)["psn_no"])
    order = _own_open_order(call, psn_no, pay_ord_id)
    at = institutions.find(call.conn, order["fixmedins_code"])
    assert at is not None, order["fixmedins_code"]  # an order's institution is kept
    channel = call.actor.name
    face.attempted(call, psn_no, face.Where(channel, channel, at.face_pilot), photo, liveness)
    return _issue_authorisation(call, order)


def _own_open_order(call: Call, psn_no: str, pay_ord_id: str) -> RowMapping:
    order = online_orders.find(call.conn, pay_ord_id)
    if order is None or order["psn_no"] != psn_no:
        raise Refused("E-ORD-001", f"payOrdId {pay_ord_id}")
    _require_open(order, call.now, Action.HOLD)
    return order


def _issue_authorisation(call: Call, order: RowMapping) -> Done[str]:
    token = new_secret("PA")
    pay_ord_id = order["pay_ord_id"]
    online_orders.add_auth(call.conn, dict(
        auth_hash=digest(token), pay_ord_id=pay_ord_id, psn_no=order["psn_no"],
        fixmedins_code=order["fixmedins_code"], channel_id=call.actor.name,
        created_at=call.now, expires_at=call.now + rules.PAY_AUTH_LIFETIME))
    return Done(token, Effect(EffectKind.ORDER, pay_ord_id))


def _require_open(order: RowMapping, now: datetime, action: Action) -> OrderStatus:
    """The status ``action`` moves the order to (E-ORD-003), unless its lifetime is over
    (E-ORD-005: the expiry releases it)."""
    status = OrderStatus(order["status"])
    after = rules.move(status, action)
    if status in rules.OPEN and rules.expired(order["expires_at"], now):
        raise Refused("E-ORD-005", f"order {order['pay_ord_id']} expired at "
                      f"{order['expires_at']:%Y-%m-%d %H:%M:%S}")
    return after


# ---------------------------------------------------------------- the hold


@dataclass(frozen=True, slots=True)
class HoldRequest:
    pay_ord_id: str
    pay_token: str  # "" from the cashier page (the payAuthNo alone proves it)
    pay_auth_no: str
    hold_ref: str  # orgBizSer (6202) or the cashier's reference: a retry holds nothing new
    mdtrt_id: str = ""  # checked when sent
    thd_pay_type: str = "WECHAT"  # the configured platform's (6204's thdPayType)


def hold(call: Call, req: HoldRequest) -> Done[RowMapping]:
    """6202 / the cashier's confirmation: spend the payAuthNo, compute the split with the
    room other orders hold counted as used, and hold fund, account and room for this
    order until it is paid or released. The order as it is now."""
    found = _order_for(call, req.pay_ord_id, req.pay_token)
    lock_person(call.conn, found["psn_no"])
    order = _locked(call.conn, req.pay_ord_id)
    if req.mdtrt_id and req.mdtrt_id != order["mdtrt_id"]:
        raise Refused("E-VIS-001", f"mdtrtId {req.mdtrt_id} is not the order's")
    if order["status"] == OrderStatus.HELD and order["hold_ref"] == req.hold_ref:
        return Done(order, Effect(EffectKind.ORDER, order["pay_ord_id"]))  # a retry
    after = _require_open(order, call.now, Action.HOLD)
    channel_id = _spend_authorisation(call, order, req.pay_auth_no)
    held = settlement.compute_held(
        call, _settle_request(order), _class_of(order["med_type"]),
        online_orders.lines(call.conn, order["pay_ord_id"], order["mdtrt_id"]))
    row = held.row
    assert row["medfee_sumamt"] == order["medfee_sumamt"], (row, order)
    online_orders.change(
        call.conn, order["pay_ord_id"], OrderStatus.UPLOADED, status=after,
        fund_pay=row["fund_pay_sumamt"], acct_pay=row["acct_pay"],
        cash_pay=row["psn_cash_pay"], held_at=call.now, held_settlement=held.to_json(),
        hold_ref=req.hold_ref, channel_id=channel_id)
    online_orders.hold(call.conn, order["pay_ord_id"], order["psn_no"], order["insutype"],
                       held.deltas)
    announce(call.conn, order["pay_ord_id"], call.now)
    now_held = _locked(call.conn, req.pay_ord_id)
    tell_institution(call.conn, now_held, "6204", order_sync(now_held, req.thd_pay_type),
                     call.now)
    return Done(now_held, Effect(EffectKind.ORDER, order["pay_ord_id"]))


def _settle_request(order: RowMapping) -> settlement.SettleRequest:
    return settlement.SettleRequest(
        psn_no=order["psn_no"], mdtrt_id=order["mdtrt_id"], med_type=order["med_type"],
        insutype=order["insutype"], credential=None, use_account=order["acct_used"],
        online=True)


def _spend_authorisation(call: Call, order: RowMapping, pay_auth_no: str) -> str:
    """Spend the payAuthNo of this order (E-PAU-*); the channel it was issued in."""
    if not pay_auth_no:
        raise Refused("E-PAU-003", "payAuthNo is empty")
    auth = online_orders.auth(call.conn, digest(pay_auth_no))
    if auth is None or auth["used_at"] is not None or auth["expires_at"] <= call.now:
        raise Refused("E-PAU-001", "unknown, used or expired")
    if (auth["pay_ord_id"] != order["pay_ord_id"] or auth["psn_no"] != order["psn_no"]
            or auth["fixmedins_code"] != order["fixmedins_code"]):
        raise Refused("E-PAU-002", f"not for order {order['pay_ord_id']}")
    spent = online_orders.use_auth(call.conn, auth["auth_hash"], call.now)
    assert spent, auth["pay_ord_id"]  # read locked and unused
    return str(auth["channel_id"])


def _order_for(call: Call, pay_ord_id: str, pay_token: str) -> RowMapping:
    """The caller's order, with its payToken (institution calls). The cashier page sends
    none: the payAuthNo alone proves the person (its call's site is the order's own)."""
    order = online_orders.find(call.conn, pay_ord_id)
    if order is None or (call.site is not None
                         and order["fixmedins_code"] != call.institution.code):
        raise Refused("E-ORD-001", f"payOrdId {pay_ord_id}")
    cashier = pay_token == "" and call.entry is Entry.CASHIER
    if call.site is not None and not cashier and digest(pay_token) != order["pay_token_hash"]:
        raise Refused("E-ORD-002", f"payOrdId {pay_ord_id}")
    return order


def site_of(conn: Connection, pay_ord_id: str) -> Institution | None:
    """The institution of an order (None: no such order)."""
    order = online_orders.find(conn, pay_ord_id)
    return None if order is None else institutions.find(conn, order["fixmedins_code"])


def _locked(conn: Connection, pay_ord_id: str) -> RowMapping:
    order = online_orders.find(conn, pay_ord_id, lock=True)
    assert order is not None, pay_ord_id
    return order


# ---------------------------------------------------------------- query and cancellation


@dataclass(frozen=True, slots=True)
class Holder:
    """Who the institution says the order's person is (6301, 6401)."""

    id_no: str
    id_type: str
    name: str


def query(call: Call, pay_ord_id: str, pay_token: str, holder: Holder) -> RowMapping:
    """6301: the order, if the caller's, with its token and person."""
    order = _order_for(call, pay_ord_id, pay_token)
    _check_holder(call.conn, order, holder)
    return order


def _check_holder(conn: Connection, order: RowMapping, holder: Holder) -> None:
    from yibao.services.persons import get_person
    person = get_person(conn, order["psn_no"])
    if (holder.id_no != person["certno"] or holder.name != person["name"]
            or holder.id_type != person["psn_cert_type"]):
        raise Refused("E-ORD-008", f"payOrdId {order['pay_ord_id']}")


def cancel(call: Call, pay_ord_id: str, pay_token: str, holder: Holder) -> Done[RowMapping]:
    """6401: an unpaid order is cancelled, what it held released and its fee lines
    cancelled (as 2205 would): the institution uploads the changed bill again."""
    order = _order_for(call, pay_ord_id, pay_token)
    _check_holder(call.conn, order, holder)
    lock_person(call.conn, order["psn_no"])
    order = _locked(call.conn, pay_ord_id)
    status = OrderStatus(order["status"])
    close(call.conn, order, rules.move(status, Action.CANCEL), call.now)
    return Done(_locked(call.conn, pay_ord_id), Effect(EffectKind.ORDER, pay_ord_id))


def close(conn: Connection, order: RowMapping, after: OrderStatus, now: datetime) -> None:
    """Release an open order (cancelled or expired): its holds go, its lines are
    cancelled, nothing of it remains in the person's room. The person is locked."""
    online_orders.release(conn, order["pay_ord_id"])
    online_orders.cancel_lines(conn, order["pay_ord_id"], order["mdtrt_id"])
    online_orders.change(conn, order["pay_ord_id"], OrderStatus(order["status"]),
                         status=after, closed_at=now)
    announce(conn, order["pay_ord_id"], now)


def announce(conn: Connection, pay_ord_id: str, now: datetime) -> None:
    """The order's new status to the webhook of the channel it was authorised in (none
    before an authorisation, or without a webhook), in the change's transaction."""
    order = online_orders.find(conn, pay_ord_id)
    assert order is not None, pay_ord_id
    status = OrderStatus(order["status"])
    webhooks.notify(conn, channel_id=order["channel_id"], event="order.status",
                    subject_id=pay_ord_id, psn_no=order["psn_no"], now=now, payload={
                        "payOrdId": pay_ord_id, "status": status.value,
                        "ordStas": rules.ORD_STAS[status]})


CALLBACK_KINDS = {"6204": "mpc_6204", "6302": "mpc_6302"}  # outbox kinds (api/mpc.py seals)


def tell_institution(conn: Connection, order: RowMapping, infno: str, data: dict[str, object],
                     now: datetime) -> None:
    """6204 or 6302 to the institution's registered callback, at least once (the outbox,
    sealed in the centre's envelope when sent); none registered: it queries with 6301."""
    url = online_orders.callback_url(conn, order["fixmedins_code"])
    if not url:
        return
    outbox.enqueue(conn, key=f"{infno}:{order['pay_ord_id']}", kind=CALLBACK_KINDS[infno],
                   psn_no=order["psn_no"], now=now, url=url, payload={
                       "fixmedins_code": order["fixmedins_code"], "data": data})


def order_sync(order: RowMapping, thd_pay_type: str) -> dict[str, object]:
    """6204's data: the order and its split, once held; ``thd_pay_type`` names the
    platform the own part is paid on (WECHAT, ALIPAY: ``Platform.thd_pay_type``)."""
    return {"payOrdId": order["pay_ord_id"], "medOrgOrd": order["med_org_ord"],
            "feeSumamt": fen_to_yuan(order["medfee_sumamt"]),
            "ownPayAmt": fen_to_yuan(order["cash_pay"]),
            "psnAcctPay": fen_to_yuan(order["acct_pay"]), "fundPay": fen_to_yuan(order["fund_pay"]),
            "thdPayType": thd_pay_type}
