"""A hospital app's online payment end to end with Alipay as the payment platform, on
both databases: 6201 through the centre's envelope, the person's authorisation, 6202
(its payUrl an ``alipay.trade.wap.pay`` URL of the Alipay simulator, its own process),
the person paying on the simulator's page in the browser, Alipay's signed asynchronous
notification to yibao served over HTTP (answered ``success``), 6204 naming ALIPAY, 6302,
6301 showing it settled, 6203 refunding it through ``alipay.trade.refund``, and the day's
bill (a zip of GBK CSV files) reconciled with no difference; then a tampered
notification, another amount and a replay, none of which changes anything."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

import test_online_e2e as wechat_e2e
from flows import fen
from servers import simulator
from yibao.api import mpc
from yibao.api import mpc_envelope as codec
from yibao.api.paynotify import ALIPAY_PATH, PATH
from yibao.domain import orders as rules
from yibao.services import online_payment, outbox
from yibao.services.context import Ids
from yibao.services.online_payment import Sweeper
from yibao.services.online_reconcile import reconcile
from yibao.store import accounts, online_orders
from yibao.store.policy_files import load_policies
from yibao.thirdpay.alipay import AlipayConfig, AlipayPlatform

CODE = wechat_e2e.CODE
World = wechat_e2e.World
_held, _mpc, _ident = wechat_e2e._held, wechat_e2e._mpc, wechat_e2e._ident
_status_becomes = wechat_e2e._status_becomes


@pytest.fixture
def sim() -> Iterator[str]:
    """A fresh Alipay simulator for each test: its day's bill holds that test's trades."""
    with simulator(style="alipay") as url:
        yield url


@pytest.fixture
def world(db, sim) -> Iterator[World]:
    platform = AlipayPlatform(AlipayConfig.from_env({"YIBAO_ALIPAY_URL": sim}))
    with wechat_e2e.served_world(db, sim, platform, ALIPAY_PATH) as served:
        yield served


def _pay_on_alipays_page(pay_url: str) -> httpx.Response:
    """The person's browser: the wap.pay URL opened, the Pay button pressed."""
    shown = httpx.get(pay_url, timeout=10)
    assert shown.status_code == 200 and "确认付款 / Pay" in shown.text, shown.text
    prepay = re.search(r'name=prepay_id value="([^"]+)"', shown.text)
    assert prepay is not None
    parts = urlsplit(pay_url)
    return httpx.post(f"{parts.scheme}://{parts.netloc}/wap/pay",
                      data={"prepay_id": prepay[1]}, timeout=10)


def _sim(w: World, path: str, **body) -> httpx.Response:
    answer = httpx.post(f"{w.sim}/_sim/{path}", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer


def _sent(w: World, pay_ord_id: str) -> list[dict]:
    return [n for n in httpx.get(f"{w.sim}/_sim/notifications", timeout=10).json()
            if n["out_trade_no"] == pay_ord_id]


def test_a_hospital_app_flow_paid_with_alipay_end_to_end(world):
    w = world
    uploaded, held = _held(w)
    pay_ord_id = uploaded["payOrdId"]
    pay_url = held["extData"]["payUrl"]
    sent = dict(parse_qsl(urlsplit(pay_url).query))
    assert pay_url.startswith(f"{w.sim}/gateway.do?")
    assert sent["method"] == "alipay.trade.wap.pay"
    assert sent["notify_url"] == f"{w.served.url}{ALIPAY_PATH}"
    assert f'"total_amount":"{held["ownPayAmt"]}"' in sent["biz_content"]
    assert _pay_on_alipays_page(pay_url).status_code == 200  # no return_url: a paid page
    order = _status_becomes(w, pay_ord_id, "settled")
    assert order["cash_paid"] == fen(held["ownPayAmt"]) and re.fullmatch(r"\d{28}",
                                                                         order["trade_no"])
    [notice] = _sent(w, pay_ord_id)
    assert notice["attempts"] == [200] and notice["delivered"]  # yibao answered success
    report = outbox.deliver_due(w.db, url="", clock=w.clock)  # 6204 and 6302
    assert report.delivered == 2
    sealed = {key.split(":")[0]: codec.open_answer(m, w.hospital.app, mpc.DEMO_PUBLIC_KEY)
              for key, m in w.institution.messages.items() if "encData" in m}
    assert sealed["6204"]["thdPayType"] == "ALIPAY"
    assert sealed["6204"]["ownPayAmt"] == held["ownPayAmt"]
    revs_token = sealed["6302"]["revsToken"]
    queried = _mpc(w, "query_order_info", _ident(w, pay_ord_id, uploaded["payToken"]))
    assert queried["ordStas"] == "6" and queried["revsToken"] == revs_token
    refund = _mpc(w, "refund_Order", {
        "payOrdId": pay_ord_id, "appRefdSn": "RF-ALI-1", "appRefdTime": "20260511100000",
        "totlRefdAmt": "250.00", "cashRefdAmt": held["ownPayAmt"],
        "fundRefdAmt": held["fundPay"], "psnAcctRefdAmt": held["psnAcctPay"],
        "ecToken": revs_token, "refdType": "ALL"})
    assert refund["refStatus"] == "SUCC" and refund["hiFefdSn"]
    assert _mpc(w, "query_order_info", _ident(w, pay_ord_id, uploaded["payToken"]))[
        "ordStas"] == "7"
    assert w.platform.query(pay_ord_id).state.value == "CLOSED"  # refunded in full
    refund_notice = _wait_delivered(w, pay_ord_id, 2)[1]
    assert refund_notice["event_type"] == "refund" and refund_notice["attempts"] == [200]
    with w.db.read() as conn:
        assert accounts.balance(conn, order["psn_no"]) == 300_000
        assert conn.exec_driver_sql(
            "select count(*) from settlement where kind = 'settle'").scalar() == 1
    bill = w.platform.bill(w.clock.now.date())
    assert sorted((r.state, r.amount_fen, r.refund_fen) for r in bill) == [
        ("REFUND", 0, fen(held["ownPayAmt"])), ("SUCCESS", fen(held["ownPayAmt"]), 0)]
    with w.db.read() as conn:
        assert reconcile(conn, w.platform, w.clock.now.date()) == []


def _wait_delivered(w: World, pay_ord_id: str, count: int) -> list[dict]:
    deadline = time.monotonic() + wechat_e2e.WAIT_SECONDS_MAX
    while time.monotonic() < deadline:
        sent = _sent(w, pay_ord_id)
        if len(sent) >= count and all(n["attempts"] for n in sent):
            return sent
        time.sleep(0.05)
    raise AssertionError(f"{count} notifications of {pay_ord_id} were not all attempted")


def test_the_person_is_sent_back_to_the_result_page(world):
    w = world
    uploaded, held = _held(w, order="MO-ALI-BACK")
    pay_ord_id = uploaded["payOrdId"]
    back = f"{w.served.url}/cashier/{pay_ord_id}/result"
    paid = _pay_on_alipays_page(w.platform.return_to(held["extData"]["payUrl"], back))
    assert paid.status_code == 303 and paid.headers["location"].startswith(back + "?")
    result = httpx.get(paid.headers["location"], timeout=10)  # Alipay's parameters ignored
    assert result.status_code == 200 and pay_ord_id in result.text
    _status_becomes(w, pay_ord_id, "settled")


def test_notifications_that_do_not_fit_change_nothing(world):
    w = world
    uploaded, held = _held(w, order="MO-ALI-BAD")
    pay_ord_id = uploaded["payOrdId"]
    httpx.get(held["extData"]["payUrl"], timeout=10)  # opened, not paid
    due = fen(held["ownPayAmt"])
    _sim(w, f"orders/{pay_ord_id}/notify", bad_signature=True)  # not Alipay's
    first = _wait_delivered(w, pay_ord_id, 1)[0]
    assert first["attempts"][0] == "401 fail"
    _sim(w, f"orders/{pay_ord_id}/pay")  # paid, then notified with another amount
    _status_becomes(w, pay_ord_id, "settled")
    _sim(w, f"orders/{pay_ord_id}/notify", amount_fen=due + 1)
    sent = _wait_delivered(w, pay_ord_id, 3)
    assert [(n["tampered"], n["attempts"][0]) for n in sent] == [
        ("signature", "401 fail"), ("", 200), ("amount", "400 fail")]
    _sim(w, "replay")  # the tampered one again: refused again
    _sim(w, f"orders/{pay_ord_id}/notify")  # the real payment's notification again
    sent = _wait_delivered(w, pay_ord_id, 5)
    assert [n["attempts"][0] for n in sent[3:]] == ["400 fail", 200]
    with w.db.read() as conn:
        order = online_orders.find(conn, pay_ord_id)
        assert order["status"] == "settled" and order["cash_paid"] == due
        assert conn.exec_driver_sql(
            "select count(*) from settlement where kind = 'settle'").scalar() == 1


def test_a_different_amount_before_the_payment_settles_nothing(world):
    w = world
    uploaded, held = _held(w, order="MO-ALI-AMT")
    pay_ord_id = uploaded["payOrdId"]
    httpx.get(held["extData"]["payUrl"], timeout=10)
    _sim(w, f"orders/{pay_ord_id}/notify", amount_fen=fen(held["ownPayAmt"]) - 1)
    # a notification of the opened, unpaid trade says WAIT_BUYER_PAY: nothing to settle
    assert _wait_delivered(w, pay_ord_id, 1)[0]["attempts"][0] == 200
    with w.db.read() as conn:
        assert online_orders.find(conn, pay_ord_id)["status"] == "held"


def test_only_the_configured_platforms_notify_route_answers(world):
    w = world
    assert w.http.post(PATH, content=b"{}").status_code == 404  # WeChat's: not configured
    answer = w.http.post(ALIPAY_PATH, content=b"trade_status=TRADE_SUCCESS&sign=x",
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert (answer.status_code, answer.text) == (401, "fail")


def _sweeper(w: World) -> Sweeper:
    return Sweeper(w.db, w.platform, clock=w.clock, ids=Ids(w.clock), policies=load_policies())


def test_yibao_down_when_alipay_notifies_recovers_by_asking_alipay(world):
    w = world
    uploaded, held = _held(w, order="MO-ALI-DOWN")
    pay_ord_id = uploaded["payOrdId"]
    w.served.server.should_exit = True  # yibao stops listening: the notification fails
    w.served.thread.join(10)
    _pay_on_alipays_page(held["extData"]["payUrl"])
    assert _wait_delivered(w, pay_ord_id, 1)[0]["attempts"][0].startswith("error")
    with w.db.read() as conn:
        assert online_orders.find(conn, pay_ord_id)["status"] == "held"
    w.clock.now += online_payment.RECOVER_AFTER  # the sweeper asks alipay.trade.query
    assert _sweeper(w).run_once() == {"settled": 1}
    assert _sweeper(w).run_once() == {}
    _status_becomes(w, pay_ord_id, "settled")


@pytest.mark.parametrize("opened", [False, True], ids=["never-opened", "opened"])
def test_an_order_never_paid_at_alipay_expires(world, opened):
    w = world
    uploaded, held = _held(w, order="MO-ALI-EXP")
    pay_ord_id = uploaded["payOrdId"]
    if opened:
        httpx.get(held["extData"]["payUrl"], timeout=10)  # the page, not paid
    w.clock.now += rules.ORDER_LIFETIME + online_payment.RECOVER_AFTER
    assert _sweeper(w).run_once() == {"expired": 1}
    with w.db.read() as conn:
        assert online_orders.find(conn, pay_ord_id)["status"] == "expired"
    # a trade Alipay never opened has nothing to close; an opened one is closed
    state = w.platform.query(pay_ord_id).state.value
    assert state == ("CLOSED" if opened else "NOTPAY")
