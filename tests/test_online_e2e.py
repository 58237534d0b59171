"""A hospital app's online payment end to end, on both databases: 6201 through the
centre's SM2/SM4 envelope, the person's authorisation in the channel API, 6202, the
person paying at the WeChat Pay simulator (its own process, reached through the
wechatpayv3 client), its signed and encrypted notification to yibao served over HTTP,
6302 to the institution's receiver through the outbox, 6301 showing it settled, 6203
refunding it; and the failure paths of the payment notification, yibao down between
payment and settlement, the daily reconciliation."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from apps import ChannelApp
from conftest import ROOT, FakeClock
from flows import WANG_FANG, fen, person
from mpc_client import MpcHospital, china_stamp
from online import fee_line, scan_token, upload_data
from receiver import Receiver
from servers import Served, simulator
from yibao.api import mpc
from yibao.api import mpc_envelope as codec
from yibao.api.app import create_app
from yibao.api.paynotify import PATH
from yibao.api.tx_online import Online
from yibao.bench.server import free_port
from yibao.client import HisClient, httpx_transport
from yibao.domain.paybill import Kind
from yibao.services import online_payment, outbox
from yibao.services.context import Ids, china_now
from yibao.services.online_payment import Sweeper
from yibao.services.online_reconcile import reconcile
from yibao.store import accounts, online_orders
from yibao.store.demo import demo_token
from yibao.store.policy_files import load_policies
from yibao.store.schema import channel, mpc_app
from yibao.thirdpay.wechat import WeChatConfig, WeChatPayPlatform

CODE = "H11010500001"
WAIT_SECONDS_MAX = 20.0


@pytest.fixture
def sim() -> Iterator[str]:
    """A fresh simulator for each test: its day's bill holds that test's trades only."""
    with simulator() as url:
        yield url


@dataclass
class World:
    db: object
    clock: FakeClock
    http: TestClient
    his: HisClient
    hospital: MpcHospital
    app: ChannelApp
    platform: WeChatPayPlatform
    sim: str
    institution: Receiver
    served: Served


@pytest.fixture
def world(db, sim) -> Iterator[World]:
    platform = WeChatPayPlatform(WeChatConfig.from_env({"YIBAO_WECHATPAY_URL": sim}))
    with served_world(db, sim, platform, PATH) as served:
        yield served


@contextmanager
def served_world(db, sim: str, platform, notify_path: str) -> Iterator[World]:
    """yibao served over HTTP with ``platform`` (its notifications at ``notify_path``),
    the institution's callback receiver registered, the HIS signed in."""
    clock = FakeClock(china_now().replace(tzinfo=None, microsecond=0))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    made = create_app(db, clock=clock, online=Online(platform, base + notify_path, base))
    made.state.clock = clock
    institution = Receiver()
    with db.write() as conn:  # the institution registers its callback
        conn.execute(update(mpc_app).where(mpc_app.c.fixmedins_code == CODE)
                     .values(callback_url=institution.url))
    with Served(made, "127.0.0.1", port) as served, TestClient(made) as http:
        his = HisClient(httpx_transport(http), CODE, demo_token(CODE))
        his.sign_in()
        yield World(db, clock, http, his, MpcHospital(http, CODE), ChannelApp(http), platform,
                    sim, institution, served)
    institution.stop()


def _mpc(w: World, name: str, data: dict) -> dict:
    """A call through the centre's envelope: the opened data (the answer verified)."""
    answer = w.hospital.call(name, data, china_stamp(w.clock.now))
    assert answer["code"] == 0, answer["message"]
    return w.hospital.opened(answer)


def _ident(w: World, pay_ord_id: str, token: str) -> dict:
    return {"payOrdId": pay_ord_id, "orgCodg": CODE, "payToken": token, "idNo": WANG_FANG,
            "userName": "王芳", "idType": "01"}


def _held(w: World, order: str = "MO-E2E-1", amount: str = "250.00") -> tuple[dict, dict]:
    """Wang Fang's bill uploaded (6201, SM2/SM4), authorised in her app, held (6202)."""
    cert_id = w.app.activate()
    psn_no = person(w.his, WANG_FANG)["baseinfo"]["psn_no"]
    token = scan_token(w.his, w.app, cert_id)
    body = upload_data(w.his, psn_no, token, [fee_line("1", "XB02BBB0002", amount)],
                       order=order, account=False)["data"]
    uploaded = _mpc(w, "uldFeeInfo", body)
    auth = w.app.post(f"/channel/v1/certificates/{cert_id}/payments/authorisation",
                      {"pin": "135790", "pay_ord_id": uploaded["payOrdId"]})
    assert auth.status_code == 201, auth.text
    held = _mpc(w, "pay_order", {
        "payAuthNo": auth.json()["payAuthNo"], "payOrdId": uploaded["payOrdId"],
        "payToken": uploaded["payToken"], "orgCodg": CODE, "orgBizSer": f"BIZ-{order}",
        "mdtrtId": uploaded["extData"]["mdtrtId"]})
    assert held["ordStas"] == "1" and held["extData"]["payUrl"].startswith(w.sim)
    return uploaded, held


def _sim(w: World, path: str, **body) -> httpx.Response:
    answer = httpx.post(f"{w.sim}/_sim/{path}", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer


def _status_becomes(w: World, pay_ord_id: str, status: str) -> dict:
    deadline = time.monotonic() + WAIT_SECONDS_MAX
    while time.monotonic() < deadline:
        with w.db.read() as conn:
            order = online_orders.find(conn, pay_ord_id)
        if order is not None and order["status"] == status:
            return dict(order)
        time.sleep(0.05)
    raise AssertionError(f"order {pay_ord_id} never became {status}")


def test_the_outbox_command_seals_the_centres_callbacks_on_its_own(world):
    """``yibao outbox deliver`` in a process of its own (no application built there)
    delivers the 6204 of a held order sealed in the centre's envelope."""
    w = world
    uploaded, held = _held(w, order="MO-E2E-CLI")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "yibao.cli", "outbox", "deliver", "--once", "--db", w.db.url,
         "--url", "http://127.0.0.1:9/unused"], env=env, capture_output=True, text=True,
        timeout=120)
    assert done.returncode == 0, done.stderr
    assert "delivered 1," in done.stdout
    [message] = [m for m in w.institution.messages.values() if "encData" in m]
    opened = codec.open_answer(message, w.hospital.app, mpc.DEMO_PUBLIC_KEY)
    assert (opened["payOrdId"], opened["ownPayAmt"]) == (uploaded["payOrdId"],
                                                         held["ownPayAmt"])


def test_a_hospital_app_flow_end_to_end(world):
    w = world
    uploaded, held = _held(w)
    pay_ord_id = uploaded["payOrdId"]
    assert fen(held["fundPay"]) + fen(held["psnAcctPay"]) + fen(held["ownPayAmt"]) == 25_000
    _sim(w, f"orders/{pay_ord_id}/pay")  # the person pays; the platform notifies yibao
    order = _status_becomes(w, pay_ord_id, "settled")
    assert order["cash_paid"] == fen(held["ownPayAmt"]) and order["trade_no"]
    report = outbox.deliver_due(w.db, url="", clock=w.clock)  # 6204 and 6302
    assert report.delivered == 2
    sealed = {key.split(":")[0]: codec.open_answer(m, w.hospital.app, mpc.DEMO_PUBLIC_KEY)
              for key, m in w.institution.messages.items() if "encData" in m}
    assert sealed["6204"] == {
        "payOrdId": pay_ord_id, "medOrgOrd": "MO-E2E-1", "feeSumamt": "250.00",
        "ownPayAmt": held["ownPayAmt"], "psnAcctPay": held["psnAcctPay"],
        "fundPay": held["fundPay"], "thdPayType": "WECHAT"}
    notice = sealed["6302"]
    assert (notice["payOrdId"], notice["callType"], notice["medOrgOrd"]) == (
        pay_ord_id, "2", "MO-E2E-1")
    assert notice["feeSumamt"] == "250.00" and notice["revsToken"]
    queried = _mpc(w, "query_order_info", _ident(w, pay_ord_id, uploaded["payToken"]))
    assert queried["ordStas"] == "6" and queried["revsToken"] == notice["revsToken"]
    refund = _mpc(w, "refund_Order", {
        "payOrdId": pay_ord_id, "appRefdSn": "RF-1", "appRefdTime": "20260511100000",
        "totlRefdAmt": "250.00", "cashRefdAmt": held["ownPayAmt"],
        "fundRefdAmt": held["fundPay"], "psnAcctRefdAmt": held["psnAcctPay"],
        "ecToken": notice["revsToken"], "refdType": "ALL"})
    assert refund["refStatus"] == "SUCC" and refund["hiFefdSn"]
    assert _mpc(w, "query_order_info", _ident(w, pay_ord_id, uploaded["payToken"]))[
        "ordStas"] == "7"
    trade = w.platform.query(pay_ord_id)
    assert trade.state.value == "REFUND"
    with w.db.read() as conn:  # the ledger is verified after the test (conftest)
        psn_no = order["psn_no"]
        assert accounts.balance(conn, psn_no) == 300_000
    assert reconcile_today(w) == []


def test_the_authorising_channel_gets_each_status_of_the_order(world):
    w = world
    with w.db.write() as conn:  # the app registered its webhook (yibao channels webhook)
        conn.execute(update(channel).where(channel.c.channel_id == "CH-BJAPP")
                     .values(webhook_url=w.institution.url))
    uploaded, _ = _held(w)
    _sim(w, f"orders/{uploaded['payOrdId']}/pay")
    _status_becomes(w, uploaded["payOrdId"], "settled")
    outbox.deliver_due(w.db, url="", clock=w.clock)
    events = [m for m in w.institution.messages.values() if m.get("kind") == "wh.order.status"]
    statuses = sorted((m["payload"]["data"]["status"], m["payload"]["data"]["ordStas"])
                      for m in events)
    assert statuses == [("held", "1"), ("settled", "6")]
    assert {m["payload"]["subject_id"] for m in events} == {uploaded["payOrdId"]}


def reconcile_today(w: World) -> list:
    with w.db.read() as conn:
        return reconcile(conn, w.platform, w.clock.now.date())


def test_notifications_that_do_not_fit_change_nothing(world):
    w = world
    uploaded, held = _held(w)
    pay_ord_id = uploaded["payOrdId"]
    due = fen(held["ownPayAmt"])
    _sim(w, f"orders/{pay_ord_id}/notify", amount_fen=due + 1)  # another amount
    _sim(w, f"orders/{pay_ord_id}/notify", bad_signature=True)  # not the platform's
    time.sleep(0.5)
    with w.db.read() as conn:
        assert online_orders.find(conn, pay_ord_id)["status"] == "held"
    sent = [n for n in httpx.get(f"{w.sim}/_sim/notifications", timeout=10).json()
            if n["out_trade_no"] == pay_ord_id]
    assert {n["tampered"] for n in sent} == {"amount", "signature"}
    firsts = {n["tampered"]: n["attempts"][0] for n in sent if n["attempts"]}
    # refused both: a "payment" of an unpaid order, a notification not signed by the platform
    assert firsts == {"amount": 400, "signature": 401}, sent
    _sim(w, f"orders/{pay_ord_id}/pay")  # then the real payment
    _status_becomes(w, pay_ord_id, "settled")
    _sim(w, "replay")  # the same notification again: taken, nothing twice
    time.sleep(0.3)
    with w.db.read() as conn:
        assert conn.exec_driver_sql(
            "select count(*) from settlement where kind = 'settle'").scalar() == 1


def test_yibao_down_between_payment_and_settlement_recovers(world):
    w = world
    uploaded, _ = _held(w)
    pay_ord_id = uploaded["payOrdId"]
    w.served.server.should_exit = True  # yibao stops listening: notifications fail
    w.served.thread.join(10)
    _sim(w, f"orders/{pay_ord_id}/pay")
    time.sleep(0.3)
    with w.db.read() as conn:
        assert online_orders.find(conn, pay_ord_id)["status"] == "held"
    w.clock.now += online_payment.RECOVER_AFTER  # restarted: the sweeper asks the platform
    sweeper = Sweeper(w.db, w.platform, clock=w.clock, ids=Ids(w.clock),
                      policies=load_policies())
    assert sweeper.run_once() == {"settled": 1}
    assert sweeper.run_once() == {}  # once
    _status_becomes(w, pay_ord_id, "settled")


def test_a_payment_yibao_does_not_know_is_reported_by_the_reconciliation(world):
    w = world
    stranger = f"ORD-UNKNOWN-{time.time_ns()}"
    w.platform.create(stranger, 1234, "not ours", f"{w.served.url}{PATH}",
                      w.clock.now.replace(microsecond=0) + online_payment.RECOVER_AFTER * 30)
    _sim(w, f"orders/{stranger}/pay")  # yibao refuses the notification (E-PAY-003)
    found = reconcile_today(w)
    assert [(d.kind, d.out_trade_no) for d in found] == [(Kind.MISSING_AT_YIBAO, stranger)]
