"""Online orders through the national envelope with an in-memory payment platform: the
split held for the order, the payment settling it in the month of payment, the room never
used twice, cancellation, expiry, late payments, refunds back the way each part was paid."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from flows import WANG_FANG, fen, line, ok, person, refused, register, settle_payload, upload
from online import (
    Till,
    as_platform,
    authorise,
    fee_line,
    open_shop,
    pay_data,
    place_order,
    scan_token,
    upload_data,
)
from yibao.domain.errors import Refused
from yibao.services import accumulators, online_payment
from yibao.store import accounts, online_orders


@pytest.fixture
def till() -> Till:
    return Till()


@pytest.fixture
def shop(db, clock, till):
    """The app with the in-memory platform; the HIS signed in; the app's person."""
    with open_shop(db, clock, till) as opened:
        yield None, opened.his, opened.channel


def test_an_order_is_held_then_paid_and_settled_in_the_month_of_payment(db, clock, shop, till):
    _http, his, app = shop
    cert_id = app.activate()
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    uploaded = place_order(his, app, cert_id, psn_no, [fee_line("1", "XA01AAA0001", "100.00", "5")],
                      account=False)
    assert uploaded["cashierUrl"].endswith(f"/cashier/{uploaded['payOrdId']}")
    auth = authorise(db, clock, psn_no, uploaded["payOrdId"])
    held = ok(his.call("6202", pay_data(his, uploaded, auth)))["data"]
    assert held["ordStas"] == "1"
    assert Decimal(held["feeSumamt"]) == Decimal("500.00")
    parts = fen(held["fundPay"]) + fen(held["psnAcctPay"]) + fen(held["ownPayAmt"])
    assert parts == 50000
    assert held["extData"]["payUrl"].endswith(uploaded["payOrdId"])
    with db.read() as conn:  # nothing posted yet: the account still whole, the room held
        assert accounts.balance(conn, psn_no) == 300000
        assert accumulators.for_person(conn, psn_no) == []
    # the same 6202 again (a retry): the same order, nothing held twice
    again = ok(his.call("6202", pay_data(his, uploaded, auth)))["data"]
    assert again == held
    clock.now += timedelta(minutes=3)
    trade = till.pay(uploaded["payOrdId"], clock(), fen(held["ownPayAmt"]))
    did = as_platform(db, clock, lambda call: online_payment.on_trade(call, trade, till).did)
    assert did == "settled"
    replay = as_platform(db, clock, lambda call: online_payment.on_trade(call, trade, till).did)
    assert replay == "already"
    queried = ok(his.call("6301", {"data": {
        "payOrdId": uploaded["payOrdId"], "orgCodg": his.code, "payToken": uploaded["payToken"],
        "idNo": WANG_FANG, "userName": "王芳", "idType": "01"}}))["data"]
    assert queried["ordStas"] == "6" and queried["revsToken"]
    assert queried["traceTime"] == f"{clock():%Y-%m-%d %H:%M:%S}"
    with db.read() as conn:
        assert accounts.balance(conn, psn_no) == 300000 - fen(held["psnAcctPay"])
        order = online_orders.find(conn, uploaded["payOrdId"])
        assert order is not None and order["setl_id"]
        holds = conn.exec_driver_sql("select count(*) from online_hold").scalar()
        assert holds == 0


def test_held_room_is_not_used_by_a_window_settlement(db, clock, shop, till):
    """The order holds the whole account; a settlement at the window meanwhile pays no
    account; once the order expires, the account is there again."""
    _http, his, app = shop
    cert_id = app.activate()
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    uploaded = place_order(his, app, cert_id, psn_no,
                      [fee_line("1", "XC03CCC0003", "1000.00", "4")])  # 丙类: account pays
    auth = authorise(db, clock, psn_no, uploaded["payOrdId"])
    held = ok(his.call("6202", pay_data(his, uploaded, auth)))["data"]
    assert fen(held["psnAcctPay"]) == 300000  # the whole account
    visit = register(his, psn_no, WANG_FANG)
    upload(his, visit, psn_no, [line("W1", "XC03CCC0003", "100.00")])
    window = ok(his.call("2207", settle_payload(psn_no, visit, WANG_FANG, "100.00")))
    assert fen(window["setlinfo"]["acct_pay"]) == 0
    assert fen(window["setlinfo"]["balc"]) == 300000  # the account's, holds aside
    ok(his.call("2208", {"data": {"setl_id": window["setlinfo"]["setl_id"],
                                  "mdtrt_id": visit, "psn_no": psn_no}}))
    clock.now += timedelta(minutes=31)
    did = as_platform(db, clock, lambda call: online_payment.expire(
        call, uploaded["payOrdId"], till))
    assert did == "expired" and till.closed == [uploaded["payOrdId"]]
    later = ok(his.call("2207", settle_payload(psn_no, visit, WANG_FANG, "100.00")))
    assert fen(later["setlinfo"]["acct_pay"]) == 10000
    # a payment that comes after the expiry is given back
    trade = till.pay(uploaded["payOrdId"], clock(), fen(held["ownPayAmt"]))
    did = as_platform(db, clock, lambda call: online_payment.on_trade(call, trade, till).did)
    assert did == "late_refund"
    assert [r[2] for r in till.refunds] == [trade.amount_fen]


def test_a_payment_authorisation_is_single_use_and_bound(db, clock, shop):
    _http, his, app = shop
    cert_id = app.activate()
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    first = place_order(his, app, cert_id, psn_no, [fee_line("1", "XA01AAA0001", "10.00")], "MO1")
    second = place_order(his, app, cert_id, psn_no, [fee_line("2", "XA01AAA0001", "20.00")], "MO2")
    auth = authorise(db, clock, psn_no, first["payOrdId"])
    refused(his.call("6202", pay_data(his, second, auth)), "E-PAU-002")
    refused(his.call("6202", pay_data(his, first, "PA-nothing")), "E-PAU-001")
    refused(his.call("6202", pay_data(his, first, "")), "E-PAU-003")
    ok(his.call("6202", pay_data(his, first, auth)))
    auth2 = authorise(db, clock, psn_no, second["payOrdId"])
    clock.now += timedelta(minutes=11)
    refused(his.call("6202", pay_data(his, second, auth2)), "E-PAU-001")  # expired
    bad_token = dict(pay_data(his, second, auth2)["data"], payToken="PT-wrong")
    refused(his.call("6202", {"data": bad_token}), "E-ORD-002")


def test_an_upload_retried_gets_its_order_and_other_fees_are_refused(db, clock, shop):
    _http, his, app = shop
    cert_id = app.activate()
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    token = scan_token(his, app, cert_id)
    body = upload_data(his, psn_no, token, [fee_line("1", "XA01AAA0001", "10.00")])
    first = ok(his.call("6201", body))["data"]
    again = ok(his.call("6201", body))["data"]
    assert again["payOrdId"] == first["payOrdId"] and again["payToken"] != first["payToken"]
    changed = upload_data(his, psn_no, token, [fee_line("1", "XA01AAA0001", "11.00")])
    refused(his.call("6201", changed), "E-ORD-004")
    wrong_total = upload_data(his, psn_no, token, [fee_line("1", "XA01AAA0001", "10.00")],
                              order="MO9")
    wrong_total["data"]["medfeeSumamt"] = "12.00"
    refused(his.call("6201", wrong_total), "E-SETL-001")


def test_6401_cancels_an_unpaid_order_and_releases_its_hold(db, clock, shop, till):
    _http, his, app = shop
    cert_id = app.activate()
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    uploaded = place_order(his, app, cert_id, psn_no, [fee_line("1", "XC03CCC0003", "100.00")],
                      account=False)
    ok(his.call("6202", pay_data(his, uploaded, authorise(db, clock, psn_no,
                                                          uploaded["payOrdId"]))))
    ident = {"payOrdId": uploaded["payOrdId"], "orgCodg": his.code,
             "payToken": uploaded["payToken"], "idNo": WANG_FANG, "userName": "王芳",
             "idType": "01"}
    refused(his.call("6401", {"data": dict(ident, userName="李四")}), "E-ORD-008")
    assert ok(his.call("6401", {"data": ident}))["data"] == {"success": True}
    assert ok(his.call("6301", {"data": ident}))["data"]["ordStas"] == "12"
    refused(his.call("6401", {"data": ident}), "E-ORD-003")
    with db.read() as conn:
        assert conn.exec_driver_sql("select count(*) from online_hold").scalar() == 0


def _settled(db, clock, his, app, till, lines):
    cert_id = app.activate()
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    uploaded = place_order(his, app, cert_id, psn_no, lines)
    held = ok(his.call("6202", pay_data(his, uploaded, authorise(
        db, clock, psn_no, uploaded["payOrdId"]))))["data"]
    if fen(held["ownPayAmt"]):
        trade = till.pay(uploaded["payOrdId"], clock(), fen(held["ownPayAmt"]))
        as_platform(db, clock, lambda call: online_payment.on_trade(call, trade, till))
    return psn_no, uploaded, held, cert_id


def _refund(his, uploaded, held, token, kind, sn, **amounts):
    body = {"payOrdId": uploaded["payOrdId"], "appRefdSn": sn, "appRefdTime": "20260511100000",
            "totlRefdAmt": held["feeSumamt"], "ecToken": token, "refdType": kind,
            "cashRefdAmt": "0.00"} | amounts
    return his.call("6203", {"data": body})


def test_refunds_give_each_part_back_the_way_it_was_paid(db, clock, shop, till):
    _http, his, app = shop
    psn_no, uploaded, held, cert_id = _settled(
        db, clock, his, app, till, [fee_line("1", "XB02BBB0002", "1000.00", "5")])
    token = scan_token(his, app, cert_id)
    refused(_refund(his, uploaded, held, token, "CASH", "R1", cashRefdAmt="1.00"), "E-ORD-006")
    cash = ok(_refund(his, uploaded, held, token, "CASH", "R1",
                      cashRefdAmt=held["ownPayAmt"]))["data"]
    assert cash["refStatus"] == "SUCC" and cash["hiFefdSn"] == ""
    assert till.refunds[-1][2] == fen(held["ownPayAmt"])
    with db.read() as conn:
        assert accounts.balance(conn, psn_no) == 300000 - fen(held["psnAcctPay"])
    again = ok(_refund(his, uploaded, held, token, "CASH", "R1",
                       cashRefdAmt=held["ownPayAmt"]))["data"]
    assert again == cash  # the same appRefdSn: the same refund, once
    hi = ok(_refund(his, uploaded, held, token, "HI", "R2", fundRefdAmt=held["fundPay"],
                    psnAcctRefdAmt=held["psnAcctPay"]))["data"]
    assert hi["refStatus"] == "SUCC" and hi["hiFefdSn"]
    with db.read() as conn:
        assert accounts.balance(conn, psn_no) == 300000
        assert all(r["cum"] == 0 for r in accumulators.for_person(conn, psn_no))
    ident = {"payOrdId": uploaded["payOrdId"], "orgCodg": his.code,
             "payToken": uploaded["payToken"], "idNo": WANG_FANG, "userName": "王芳",
             "idType": "01"}
    assert ok(his.call("6301", {"data": ident}))["data"]["ordStas"] == "7"
    refused(_refund(his, uploaded, held, token, "ALL", "R3"), "E-ORD-003")


def test_the_revs_token_reverses_within_the_hour(db, clock, shop, till):
    _http, his, app = shop
    psn_no, uploaded, held, _ = _settled(db, clock, his, app, till,
                                         [fee_line("1", "XA01AAA0001", "100.00")])
    ident = {"payOrdId": uploaded["payOrdId"], "orgCodg": his.code,
             "payToken": uploaded["payToken"], "idNo": WANG_FANG, "userName": "王芳",
             "idType": "01"}
    revs = ok(his.call("6301", {"data": ident}))["data"]["revsToken"]
    clock.now += timedelta(minutes=61)
    late = _refund(his, uploaded, held, revs, "ALL", "R1", cashRefdAmt=held["ownPayAmt"])
    refused(late, "E-PAU-001")
    clock.now -= timedelta(minutes=30)
    done = ok(_refund(his, uploaded, held, revs, "ALL", "R1",
                      cashRefdAmt=held["ownPayAmt"]))["data"]
    assert done["refStatus"] == "SUCC"
    with db.read() as conn:
        assert accounts.balance(conn, psn_no) == 300000


def test_the_platform_down_keeps_the_order_held_and_a_query_recovers(db, clock, shop, till):
    _http, his, app = shop
    cert_id = app.activate()
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    uploaded = place_order(his, app, cert_id, psn_no, [fee_line("1", "XB02BBB0002", "100.00")],
                      account=False)
    auth = authorise(db, clock, psn_no, uploaded["payOrdId"])
    till.down = True
    held = ok(his.call("6202", pay_data(his, uploaded, auth)))["data"]
    assert held["ordStas"] == "1" and "payUrl" not in held["extData"]
    till.down = False
    retried = ok(his.call("6202", pay_data(his, uploaded, auth)))["data"]
    assert retried["extData"]["payUrl"]
    till.pay(uploaded["payOrdId"], clock())  # the notification is lost
    till.down = True
    clock.now += timedelta(minutes=40)
    assert as_platform(db, clock, lambda call: online_payment.expire(
        call, uploaded["payOrdId"], till)) == "pending"  # never released unasked
    till.down = False
    assert as_platform(db, clock, lambda call: online_payment.expire(
        call, uploaded["payOrdId"], till)) == "settled"


def test_a_payment_of_another_amount_is_refused_and_the_order_stays_held(db, clock, shop, till):
    _http, his, app = shop
    cert_id = app.activate()
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    uploaded = place_order(his, app, cert_id, psn_no, [fee_line("1", "XB02BBB0002", "100.00")],
                      account=False)
    held = ok(his.call("6202", pay_data(his, uploaded, authorise(
        db, clock, psn_no, uploaded["payOrdId"]))))["data"]
    wrong = till.pay(uploaded["payOrdId"], clock(), fen(held["ownPayAmt"]) - 1)
    with pytest.raises(Refused) as caught:
        as_platform(db, clock, lambda call: online_payment.on_trade(call, wrong, till))
    assert caught.value.code == "E-PAY-003"
    with db.read() as conn:
        order = online_orders.find(conn, uploaded["payOrdId"])
        assert order is not None and order["status"] == "held" and order["setl_id"] is None


def test_an_order_never_held_is_cancelled_and_expires_without_a_split(db, clock, shop, till):
    _http, his, app = shop
    cert_id = app.activate()
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    first = place_order(his, app, cert_id, psn_no, [fee_line("1", "XA01AAA0001", "10.00")],
                        "MO1")
    ident = {"payOrdId": first["payOrdId"], "orgCodg": his.code, "payToken": first["payToken"],
             "idNo": WANG_FANG, "userName": "王芳", "idType": "01"}
    assert ok(his.call("6401", {"data": ident}))["data"] == {"success": True}
    assert ok(his.call("6301", {"data": ident}))["data"]["ordStas"] == "12"
    second = place_order(his, app, cert_id, psn_no, [fee_line("2", "XA01AAA0001", "20.00")],
                         "MO2")
    clock.now += timedelta(minutes=31)
    assert as_platform(db, clock, lambda call: online_payment.expire(
        call, second["payOrdId"], till)) == "expired"
    with db.read() as conn:
        for pay_ord_id in (first["payOrdId"], second["payOrdId"]):
            order = online_orders.find(conn, pay_ord_id)
            assert order is not None and (order["fund_pay"], order["cash_pay"]) == (0, 0)


def test_a_refund_months_later_posts_in_the_month_it_is_made(db, clock, shop, till):
    """The settlement is cleared in the month of payment; a refund a month later posts its
    cancellation then (a month already cleared is not reopened)."""
    _http, his, app = shop
    _psn_no, uploaded, held, cert_id = _settled(
        db, clock, his, app, till, [fee_line("1", "XB02BBB0002", "100.00")])
    paid_on = clock.now
    clock.now = paid_on + timedelta(days=31)
    token = scan_token(his, app, cert_id)
    done = ok(_refund(his, uploaded, held, token, "ALL", "R1", cashRefdAmt=held["ownPayAmt"],
                      fundRefdAmt=held["fundPay"], psnAcctRefdAmt=held["psnAcctPay"]))["data"]
    with db.read() as conn:
        posted = dict(conn.exec_driver_sql(
            "select kind, min(at) from ledger_entry group by kind").all())
    assert f"{posted['settle']}"[:7] == f"{paid_on:%Y-%m}"
    assert f"{posted['cancel']}"[:7] == f"{clock.now:%Y-%m}" != f"{paid_on:%Y-%m}"
    assert done["hiTrnsDate"] == f"{clock.now:%Y%m%d}"


def test_6101_decodes_the_qr_code_as_1162_does_and_its_token_uploads_an_order(shop):
    _http, his, app = shop
    cert_id = app.activate()
    code = app.qr(cert_id).json()["qr_code"]
    decoded = ok(his.call("6101", {"data": {
        "ecQrCode": code, "businessType": "01101", "orgId": his.code, "operatorId": "001",
        "operatorName": "收费员", "officeId": "K01", "officeName": "内科"}}))["data"]
    assert (decoded["userName"], decoded["idNo"], decoded["idType"]) == ("王芳", WANG_FANG, "01")
    assert decoded["insuOrg"] == "110000"  # insured in Beijing
    uploaded = ok(his.call("6201", upload_data(
        his, decoded["psn_no"], decoded["ecToken"],
        [fee_line("1", "XA01AAA0001", "10.00")])))["data"]
    assert uploaded["payOrdId"] and uploaded["payToken"]
    refused(his.call("6101", {"data": {  # a QR code decodes once
        "ecQrCode": code, "businessType": "01101", "orgId": his.code, "operatorId": "001",
        "operatorName": "收费员", "officeId": "K01", "officeName": "内科"}}), "E-ECT-006")
