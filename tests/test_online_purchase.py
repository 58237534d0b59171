"""Online drug purchase end to end, on both databases: the hospital prescribes (7101-7103),
the person picks an online pharmacy in her app, the pharmacy fills the prescription
(7202, 7204-7207), uploads the order naming it (6201, extData.hiRxno), the person
authorises and pays (6202, the platform), the pharmacy dispatches (7209) and the person
receives (7210). An order not delivered is refunded and the prescription goes back to
the pharmacy; a received one is not refunded online; each misuse is refused and changes
nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from flows import fen, ok, refused
from online import (
    Till,
    as_platform,
    authorise,
    fee_line,
    open_shop,
    pay_data,
    scan_token,
    upload_data,
)
from rx import download, fill, operator, prescribe, sale_line
from test_errors import unchanged
from yibao.client import HisClient, httpx_transport
from yibao.services import ledger, online_payment
from yibao.store import accounts
from yibao.store.demo import demo_token
from yibao.store.schema import online_order, prescription

ONLINE_PHARMACY = "P11010500002"
COUNTER_PHARMACY = "P11010500001"
PIN = "135790"
PRICE = {"XA01AAA0001": "12.50", "XB02BBB0002": "80.00"}


@pytest.fixture
def till() -> Till:
    return Till()


@pytest.fixture
def shop(db, clock, till):
    with open_shop(db, clock, till) as opened:
        yield opened


def pharmacy(shop, code: str = ONLINE_PHARMACY) -> HisClient:
    his = HisClient(httpx_transport(shop.channel.http), code, demo_token(code))
    his.sign_in()
    return his


def filled_online(shop, clock) -> tuple[dict, str, HisClient]:
    """A prescription of 王芳 (2 x XA01AAA0001, 1 x XB02BBB0002), given in her app to the
    online pharmacy, which filled it (7202, 7204-7207): (rx, cert_id, the pharmacy)."""
    rx = prescribe(shop.his, clock.now)
    app = shop.channel
    cert_id = app.activate()
    given = app.post(f"/channel/v1/certificates/{cert_id}/prescriptions/{rx['hiRxno']}"
                     "/online", {"pin": PIN, "fixmedins_code": ONLINE_PHARMACY})
    assert given.status_code == 201, given.text
    online = pharmacy(shop)
    access = ok(online.call("7202", {"data": operator(online.code) | {
        "hiRxno": rx["hiRxno"], "authCircBizSn": given.json()["authCircBizSn"],
        "epcChnlId": given.json()["epcChnlId"]}}))["data"]
    fill(online, rx, access)
    return rx, cert_id, online


def order_body(online: HisClient, shop, cert_id: str, rx: dict, lines: list[dict], *,
               order: str = "MO-RX-1", hi_rxno: str | None = None) -> dict:
    """The online pharmacy's 6201 naming the prescription."""
    token = scan_token(online, shop.channel, cert_id)
    # without the account: the person's part is paid at the platform
    body = upload_data(online, rx["psn_no"], token, lines, order=order, account=False)
    body["data"] |= {"rxCircFlag": "1",
                     "extData": {"hiRxno": rx["hiRxno"] if hi_rxno is None else hi_rxno}}
    return body


def prescribed_lines() -> list[dict]:
    return [fee_line("1", "XA01AAA0001", PRICE["XA01AAA0001"], "2"),
            fee_line("2", "XB02BBB0002", PRICE["XB02BBB0002"], "1")]


def delivery(online: HisClient, hi_rxno: str, status: str = "1") -> dict:
    return {"data": {"hiRxno": hi_rxno, "delvNo": "DV-1", "delvAddr": "北京市朝阳区示范路1号",
                     "delvEntpName": "示范配送", "delvStasCodg": status,
                     "delvStasName": "配送中", "delvStasTime": "2026-05-11 11:00:00",
                     "delvConner": "王芳", "fixmedinsCode": online.code,
                     "fixmedinsName": "示范网上药店"}}


def receipt(hi_rxno: str) -> dict:
    return {"data": {"hiRxno": hi_rxno, "delvNo": "DV-1", "delverCertType": "01",
                     "delverCertno": "110105199001010011", "delverName": "配送员",
                     "chkWayCodg": "2", "delvStasTime": "2026-05-11 12:00:00"}}


def refund(online: HisClient, uploaded: dict, held: dict, token: str, sn: str) -> dict:
    return online.call("6203", {"data": {
        "payOrdId": uploaded["payOrdId"], "appRefdSn": sn, "appRefdTime": "20260511130000",
        "totlRefdAmt": held["feeSumamt"], "cashRefdAmt": held["ownPayAmt"],
        "fundRefdAmt": held["fundPay"], "psnAcctRefdAmt": held["psnAcctPay"],
        "ecToken": token, "refdType": "ALL"}})


def paid(db, clock, till, online: HisClient, rx: dict, uploaded: dict) -> dict:
    """The person authorises in her app, the pharmacy holds (6202), the platform is paid:
    6202's data."""
    auth = authorise(db, clock, rx["psn_no"], uploaded["payOrdId"])
    held = ok(online.call("6202", pay_data(online, uploaded, auth)))["data"]
    trade = till.pay(uploaded["payOrdId"], clock(), fen(held["ownPayAmt"]))
    did = as_platform(db, clock, lambda call: online_payment.on_trade(call, trade, till).did)
    assert did == "settled"
    return held


def rx_status(db, hi_rxno: str) -> str:
    with db.read() as conn:
        return str(conn.execute(select(prescription.c.status).where(
            prescription.c.hi_rxno == hi_rxno)).scalar_one())


def test_bought_online_paid_delivered_and_received(db, clock, shop, till):
    rx, cert_id, online = filled_online(shop, clock)
    uploaded = ok(online.call("6201", order_body(online, shop, cert_id, rx,
                                                 prescribed_lines())))["data"]
    # not paid yet: nothing leaves the pharmacy
    refused(online.call("7209", delivery(online, rx["hiRxno"])), "E-RX-017")
    held = paid(db, clock, till, online, rx, uploaded)
    total = 2 * 1250 + 8000
    assert fen(held["feeSumamt"]) == total == (
        fen(held["fundPay"]) + fen(held["psnAcctPay"]) + fen(held["ownPayAmt"]))
    with db.read() as conn:
        order = conn.execute(select(online_order).where(
            online_order.c.pay_ord_id == uploaded["payOrdId"])).mappings().one()
        assert accounts.balance(conn, rx["psn_no"]) == 300_000 - order["acct_pay"]
    assert (order["status"], order["hi_rxno"], order["fixmedins_code"]) == (
        "settled", rx["hiRxno"], ONLINE_PHARMACY)
    assert ok(online.call("7209", delivery(online, rx["hiRxno"])))["data"] == {"flag": True}
    assert ok(online.call("7210", receipt(rx["hiRxno"])))["data"] == {"flag": True}
    assert rx_status(db, rx["hiRxno"]) == "received"
    token = scan_token(online, shop.channel, cert_id)
    with unchanged(db):  # received: not refunded online
        refused(refund(online, uploaded, held, token, "RF-1"), "E-RX-018")


def test_an_order_not_delivered_is_refunded_and_the_prescription_returns(
        db, clock, shop, till):
    rx, cert_id, online = filled_online(shop, clock)
    uploaded = ok(online.call("6201", order_body(online, shop, cert_id, rx,
                                                 prescribed_lines())))["data"]
    held = paid(db, clock, till, online, rx, uploaded)
    ok(online.call("7209", delivery(online, rx["hiRxno"], status="4")))  # 配送异常
    token = scan_token(online, shop.channel, cert_id)
    given = ok(refund(online, uploaded, held, token, "RF-1"))["data"]
    assert given["refStatus"] == "SUCC"
    assert till.refunds[-1] == (uploaded["payOrdId"], till.refunds[-1][1],
                                fen(held["ownPayAmt"]))  # the cash back through the platform
    with db.read() as conn:
        assert ledger.verify(conn) == []
    assert rx_status(db, rx["hiRxno"]) == "reviewed"  # the pharmacy's again, not filled
    refused(online.call("7210", receipt(rx["hiRxno"])), "E-RX-002")
    # the pharmacy sells it again (7207) and a new order is taken: one live order at a time
    again = ok(online.call("7207", {"data": {
        "hiRxno": rx["hiRxno"], "fixmedinsCode": online.code, "fixmedinsName": "药店",
        "rxChkBizSn": _review_sn(db, rx["hiRxno"]), "hiFeesetlFlag": "1"},
        "rxSaleDrugDetl": [_sale("XA01AAA0001", "2"), _sale("XB02BBB0002", "1")]}))
    assert again["data"]["flag"] is True
    second = ok(online.call("6201", order_body(online, shop, cert_id, rx, prescribed_lines(),
                                               order="MO-RX-2")))["data"]
    assert second["payOrdId"] != uploaded["payOrdId"]


def test_an_order_holds_only_what_was_prescribed_once_filled(db, clock, shop, till):
    rx, cert_id, online = filled_online(shop, clock)
    counter = pharmacy(shop, COUNTER_PHARMACY)

    def body(lines: list[dict], his: HisClient = online, **kw) -> dict:
        return order_body(his, shop, cert_id, rx, lines, **kw)

    more = body([fee_line("1", "XA01AAA0001", PRICE["XA01AAA0001"], "3")])
    other = body([fee_line("1", "XC03CCC0003", "10.00", "1")])
    unflagged = body(prescribed_lines())
    del unflagged["data"]["extData"]  # the flag without the prescription
    chosen_by_nobody = body(prescribed_lines(), counter)  # a pharmacy she did not choose
    unknown = body(prescribed_lines(), hi_rxno="HRX-NOT-THERE")
    for his, sent, code in ((online, more, "E-RX-008"), (online, other, "E-RX-007"),
                            (online, unflagged, "E-ENV-005"),
                            (counter, chosen_by_nobody, "E-RX-001"),
                            (online, unknown, "E-RX-001")):
        with unchanged(db):
            refused(his.call("6201", sent), code)
    # less than prescribed is fine
    ok(online.call("6201", body([fee_line("1", "XA01AAA0001", PRICE["XA01AAA0001"], "1")])))
    second = body(prescribed_lines(), order="MO-RX-2")
    with unchanged(db):  # one live order per prescription
        refused(online.call("6201", second), "E-RX-019")


def test_an_order_waits_for_the_dispensing(db, clock, shop, till):
    rx = prescribe(shop.his, clock.now)
    app = shop.channel
    cert_id = app.activate()
    given = app.post(f"/channel/v1/certificates/{cert_id}/prescriptions/{rx['hiRxno']}"
                     "/online", {"pin": PIN, "fixmedins_code": ONLINE_PHARMACY})
    online = pharmacy(shop)
    access = ok(online.call("7202", {"data": operator(online.code) | {
        "hiRxno": rx["hiRxno"], "authCircBizSn": given.json()["authCircBizSn"],
        "epcChnlId": given.json()["epcChnlId"]}}))["data"]
    ok(download(online, access))  # the online pharmacy's now, reviewed by nobody yet
    sent = order_body(online, shop, cert_id, rx, prescribed_lines())
    with unchanged(db):
        refused(online.call("6201", sent), "E-RX-020")


def _review_sn(db, hi_rxno: str) -> str:
    with db.read() as conn:
        review = conn.execute(select(prescription.c.review).where(
            prescription.c.hi_rxno == hi_rxno)).scalar_one()
    return str(json.loads(review)["sn"])


def _sale(code: str, count: str) -> dict:
    return sale_line(code, count)
