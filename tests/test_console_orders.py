"""The console's online orders over HTTP: the newest orders with their filters, one
order (amounts, statuses, the platform's trade number, the settlement, refunds), and both
languages. The orders are made through the channel as a hospital app makes them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from flows import WANG_FANG, fen, ok, person
from online import (
    Shop,
    Till,
    as_platform,
    authorise,
    fee_line,
    open_shop,
    pay_data,
    place_order,
    scan_token,
)
from test_console import sign_in
from test_console_persons import table_rows, text_of
from yibao.services import online_payment


@dataclass
class Paid:
    psn_no: str
    pay_ord_id: str
    held: dict
    cert_id: str


def paid_order(db, clock, shop: Shop, till: Till, order: str, amount: str) -> Paid:
    """Wang Fang's order of one class B line (more than her account holds) placed,
    authorised, held (6202), its own part paid, then that cash part refunded (6203)."""
    cert_id = shop.channel.activate()
    psn_no = person(shop.his, WANG_FANG)["baseinfo"]["psn_no"]
    uploaded = place_order(shop.his, shop.channel, cert_id, psn_no,
                           [fee_line("1", "XB02BBB0002", amount)], order)
    held = ok(shop.his.call("6202", pay_data(shop.his, uploaded, authorise(
        db, clock, psn_no, uploaded["payOrdId"]))))["data"]
    trade = till.pay(uploaded["payOrdId"], clock(), fen(held["ownPayAmt"]))
    as_platform(db, clock, lambda call: online_payment.on_trade(call, trade, till))
    refund = {"payOrdId": uploaded["payOrdId"], "appRefdSn": f"R-{order}",
              "appRefdTime": "20260511100000", "totlRefdAmt": held["feeSumamt"],
              "ecToken": scan_token(shop.his, shop.channel, cert_id), "refdType": "CASH",
              "cashRefdAmt": held["ownPayAmt"]}
    assert ok(shop.his.call("6203", {"data": refund}))["data"]["refStatus"] == "SUCC"
    return Paid(psn_no, uploaded["payOrdId"], held, cert_id)


@dataclass
class World:
    console: TestClient
    shop: Shop
    till: Till


@pytest.fixture
def world(db, clock) -> Iterator[World]:
    till = Till()
    with open_shop(db, clock, till) as shop, TestClient(shop.app) as console:
        yield World(console, shop, till)


def test_the_orders_page_lists_the_newest_with_filters(db, clock, world):
    paid = paid_order(db, clock, world.shop, world.till, "MO-PAID", "5000.00")
    clock.now += timedelta(minutes=1)
    open_one = place_order(world.shop.his, world.shop.channel, paid.cert_id,
                           paid.psn_no, [fee_line("1", "XA01AAA0001", "10.00")], "MO-OPEN")
    http = world.console
    sign_in(http, "reviewer")
    listed = http.get("/console/orders").text
    assert re.findall(r'/console/orders/([^"]+)"', listed) == [open_one["payOrdId"],
                                                              paid.pay_ord_id]
    assert "自费部分已退款" in listed and "已保存" in listed
    uploaded = http.get("/console/orders?status=uploaded").text
    assert open_one["payOrdId"] in uploaded and paid.pay_ord_id not in uploaded
    elsewhere = http.get("/console/orders?institution=H13010200001&lang=en").text
    assert "No orders." in elsewhere
    here = http.get("/console/orders", params={"institution": world.shop.his.code}).text
    assert paid.pay_ord_id in here
    wrong = http.get("/console/orders?status=paid")
    assert wrong.status_code == 400 and "E-ENV-005" in wrong.text and "status" in wrong.text


def test_an_order_shows_its_amounts_statuses_settlement_and_refunds(db, clock, world):
    paid = paid_order(db, clock, world.shop, world.till, "MO-ONE", "5000.00")
    http = world.console
    sign_in(http, "clerk")
    html = http.get(f"/console/orders/{paid.pay_ord_id}").text
    assert text_of(html, "order-total") == "5,000.00"
    parts = [text_of(html, f"order-{part}") for part in ("fund", "account", "cash")]
    assert [fen(part.replace(",", "")) for part in parts] == [
        fen(paid.held[part]) for part in ("fundPay", "psnAcctPay", "ownPayAmt")]
    assert all(fen(part.replace(",", "")) > 0 for part in parts)  # each part paid some
    assert sum(fen(part.replace(",", "")) for part in parts) == 500000
    assert text_of(html, "order-trade-no") == f"42000{paid.pay_ord_id}"
    assert text_of(html, "order-status") == "自费部分已退款"
    history = table_rows(html, "history")
    assert [status for _when, status in history] == ["已保存", "预结算完成", "结算完成"]
    assert history[0][0] == "2026-05-11 09:30:00"
    setl_id = text_of(html, "order-settlement")
    assert setl_id and f"/console/persons/{paid.psn_no}#settlement-{setl_id}" in html
    assert f'id="settlement-{setl_id}"' in http.get(f"/console/persons/{paid.psn_no}").text
    [refund] = table_rows(html, "refunds")
    assert refund[1:4] == ["自费部分退款", "0.00", "0.00"] and refund[5] == "成功"
    assert fen(refund[4].replace(",", "")) == fen(paid.held["ownPayAmt"])
    english = http.get(f"/console/orders/{paid.pay_ord_id}?lang=en").text
    assert "cash part refunded" in english and "Status history" in english
    missing = http.get("/console/orders/NO-SUCH-ORDER")
    assert missing.status_code == 404 and "E-ORD-001" in missing.text
