"""yibao's WeChat Pay client (thirdpay/wechat.py, the real wechatpayv3 library) against the
simulator run as a separate process (``python -m yibao.cli paysim``): orders, the
cashier, signed and encrypted notifications with retries, refunds, the daily bill, the
platform down. The test drives the platform only through the client and the /_sim
controls; notifications arrive at a small HTTP receiver in this process."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import servers
from yibao.bench.server import free_port
from yibao.domain.paybill import Kind, OurOrder, OurStatus, differences
from yibao.services.context import china_now
from yibao.thirdpay.keys import MerchantKeys, demo_merchant
from yibao.thirdpay.platform import (
    NotificationInvalid,
    PlatformDown,
    PlatformRefusal,
    RefundStatus,
    TradeState,
)
from yibao.thirdpay.wechat import WeChatConfig, WeChatPayPlatform

WAIT_S = 20.0  # the longest a test waits for the simulator or a notification


class NotifyReceiver:
    """The merchant's notify_url: records each notification (headers, body) and answers
    the planned statuses first, then 200."""

    def __init__(self, failures: list[int] | None = None) -> None:
        self.port = free_port()
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        self._failures = list(failures or [])
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/thdpay/wechat/notify"

    def take(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self.received.append((headers, body))
            status = self._failures.pop(0) if self._failures else 200
            self.answers.append(status)
            return status

    def wait(self, count: int) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + WAIT_S
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= count, f"{len(self.received)} of {count} notifications"
        return self.received[:count]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(receiver: NotifyReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status = receiver.take(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    with servers.simulator() as url:
        yield url


@pytest.fixture()
def platform(simulator: str) -> WeChatPayPlatform:
    return WeChatPayPlatform(WeChatConfig.from_env({"YIBAO_WECHATPAY_URL": simulator}))


@pytest.fixture()
def receiver() -> Iterator[NotifyReceiver]:
    receiver = NotifyReceiver()
    yield receiver
    receiver.stop()


def _number() -> str:
    return "YB" + uuid.uuid4().hex[:20].upper()


def _order(platform: WeChatPayPlatform, url: str, fen: int = 12345) -> str:
    number = _number()
    platform.create(number, fen, "门诊缴费 (自付部分)", url, china_now() + timedelta(minutes=30))
    return number


def _control(simulator: str, path: str, **body: Any) -> Any:
    answer = httpx.post(f"{simulator}/_sim/{path}", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _notifications(simulator: str, number: str) -> list[dict[str, Any]]:
    listed = httpx.get(f"{simulator}/_sim/notifications").json()
    return [n for n in listed if n["out_trade_no"] == number]


def test_a_paid_order_is_notified_signed_and_encrypted_and_queries_paid(
        platform, simulator, receiver):
    number = _order(platform, receiver.url, 12345)
    assert platform.query(number).state is TradeState.NOTPAY
    _control(simulator, f"orders/{number}/pay")
    [(headers, body)] = receiver.wait(1)
    assert headers["Wechatpay-Serial"] == demo_merchant().platform_public_key_id
    assert "out_trade_no" not in body.decode()  # the trade travels encrypted
    notified = platform.notification(headers, body)
    queried = platform.query(number)
    assert notified == queried
    assert (queried.out_trade_no, queried.state, queried.amount_fen) == (
        number, TradeState.PAID, 12345)
    assert queried.trade_no and queried.paid_at is not None


def test_the_person_pays_on_the_cashier_page(platform, simulator, receiver):
    number = _number()
    created = platform.create(number, 880, "挂号费", receiver.url,
                              china_now() + timedelta(minutes=30))
    page = httpx.get(created.pay_url)
    assert page.status_code == 200 and "¥8.80" in page.text and "确认支付" in page.text
    done = httpx.post(f"{simulator}/pay/h5", data={"prepay_id": created.prepay_id})
    assert done.status_code == 200 and "支付成功" in done.text
    [(headers, body)] = receiver.wait(1)
    assert platform.notification(headers, body).state is TradeState.PAID
    again = httpx.post(f"{simulator}/pay/h5", data={"prepay_id": created.prepay_id})
    assert again.status_code == 409  # paid once only


def test_tampered_notifications_are_refused(platform, simulator, receiver):
    number = _order(platform, receiver.url)
    _control(simulator, f"orders/{number}/pay")
    [(headers, body)] = receiver.wait(1)
    forged = json.loads(body)
    sealed = forged["resource"]["ciphertext"]
    forged["resource"]["ciphertext"] = ("B" if sealed[0] == "A" else "A") + sealed[1:]
    with pytest.raises(NotificationInvalid):
        platform.notification(headers, json.dumps(forged))
    _control(simulator, f"orders/{number}/notify", bad_signature=True)
    bad_headers, bad_body = receiver.wait(2)[1]
    with pytest.raises(NotificationInvalid, match="signature"):
        platform.notification(bad_headers, bad_body)
    stale = WeChatPayPlatform(platform._config, unix_clock=lambda: time.time() + 600)
    with pytest.raises(NotificationInvalid, match="Timestamp"):
        stale.notification(headers, body)


def test_a_notification_with_another_amount_verifies_and_shows_that_amount(
        platform, simulator, receiver):
    number = _order(platform, receiver.url, 5000)
    _control(simulator, f"orders/{number}/pay")
    receiver.wait(1)
    _control(simulator, f"orders/{number}/notify", amount_fen=1)
    headers, body = receiver.wait(2)[1]
    trade = platform.notification(headers, body)  # signed by the platform: the caller
    assert (trade.out_trade_no, trade.amount_fen) == (number, 1)  # compares (E-PAY-003)


def test_a_notification_is_retried_until_the_receiver_answers_2xx(platform, simulator):
    receiver = NotifyReceiver(failures=[500, 503, 404])
    try:
        number = _order(platform, receiver.url)
        _control(simulator, f"orders/{number}/pay")
        received = receiver.wait(4)
        assert receiver.answers == [500, 503, 404, 200]
        assert len({body for _, body in received}) == 1  # the same notification each time
        assert platform.notification(*received[-1]).state is TradeState.PAID
        deadline = time.monotonic() + WAIT_S
        while not _notifications(simulator, number)[0]["delivered"] and \
                time.monotonic() < deadline:
            time.sleep(0.02)
        assert _notifications(simulator, number)[0]["attempts"] == [500, 503, 404, 200]
    finally:
        receiver.stop()


def test_the_last_notification_can_be_replayed(platform, simulator, receiver):
    number = _order(platform, receiver.url)
    _control(simulator, f"orders/{number}/pay")
    receiver.wait(1)
    _control(simulator, "replay")
    first, second = receiver.wait(2)
    assert first[1] == second[1]
    assert platform.notification(*first) == platform.notification(*second)


def test_refunds_and_the_daily_bill(platform, simulator, receiver):
    paid, refunded, unpaid = (_order(platform, receiver.url, fen) for fen in (1000, 2000, 3000))
    for number in (paid, refunded):
        _control(simulator, f"orders/{number}/pay")
    refund = platform.refund(refunded, "RF" + refunded, 500, 2000)
    assert refund.status is RefundStatus.SUCCESS and refund.refund_id
    assert platform.refund(refunded, "RF" + refunded, 500, 2000) == refund  # idempotent
    assert platform.query(refunded).state is TradeState.REFUND
    with pytest.raises(PlatformRefusal) as too_much:
        platform.refund(refunded, "RF2" + refunded, 1501, 2000)
    assert too_much.value.code == "NOT_ENOUGH"
    day = platform.query(paid).paid_at
    assert day is not None
    rows = [r for r in platform.bill(day.date()) if r.out_trade_no in (paid, refunded, unpaid)]
    assert sorted((r.out_trade_no, r.state, r.amount_fen, r.refund_fen) for r in rows) == \
        sorted([(paid, "SUCCESS", 1000, 0), (refunded, "SUCCESS", 2000, 0),
                (refunded, "REFUND", 0, 500)])
    ours = [OurOrder(paid, OurStatus.PAID, 1000), OurOrder(refunded, OurStatus.PAID, 2000, 500),
            OurOrder(unpaid, OurStatus.UNPAID, 0)]
    assert differences(ours, rows) == []
    ours[0] = OurOrder(paid, OurStatus.UNPAID, 0)
    assert [d.kind for d in differences(ours, rows)] == [Kind.STATUS_DIFFERS]


def test_a_refund_of_an_unpaid_order_and_closing_a_paid_one_are_refused(
        platform, simulator, receiver):
    number = _order(platform, receiver.url)
    with pytest.raises(PlatformRefusal):
        platform.refund(number, "RF" + number, 100, 12345)
    _control(simulator, f"orders/{number}/pay")
    with pytest.raises(PlatformRefusal) as closing:
        platform.close(number)
    assert closing.value.code == "ORDERPAID"
    other = _order(platform, receiver.url)
    platform.close(other)
    assert platform.query(other).state is TradeState.CLOSED
    with pytest.raises(PlatformRefusal) as unknown:
        platform.query(_number())
    assert (unknown.value.status, unknown.value.code) == (404, "ORDER_NOT_EXIST")


def test_a_day_without_trades_has_an_empty_bill(platform):
    assert platform.bill((china_now() - timedelta(days=400)).date()) == []


def test_the_platform_down_or_unreachable_is_platform_down(platform, simulator):
    number = _order(platform, "http://127.0.0.1:9/notify")
    _control(simulator, "down", down=True)
    try:
        with pytest.raises(PlatformDown):
            platform.query(number)
    finally:
        _control(simulator, "down", down=False)
    assert platform.query(number).state is TradeState.NOTPAY
    nowhere = WeChatPayPlatform(WeChatConfig.from_env(
        {"YIBAO_WECHATPAY_URL": f"http://127.0.0.1:{free_port()}"}))
    with pytest.raises(PlatformDown):
        nowhere.query(number)


def test_a_request_signed_with_another_key_is_refused_with_sign_error(platform, simulator):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    demo = demo_merchant()
    keys = MerchantKeys(demo.mchid, demo.appid, demo.serial_no, other, demo.apiv3_key,
                        demo.platform_public_key, demo.platform_public_key_id)
    impostor = WeChatPayPlatform(WeChatConfig(url=simulator, keys=keys))
    with pytest.raises(PlatformRefusal) as refused:
        impostor.query(_number())
    assert (refused.value.status, refused.value.code) == (401, "SIGN_ERROR")


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fen=st.integers(min_value=1, max_value=9_999_999_999))
def test_amounts_in_fen_round_trip(platform, simulator, fen):
    number = _order(platform, "http://127.0.0.1:9/notify", fen)
    assert platform.query(number).amount_fen == fen
    assert _control(simulator, f"orders/{number}/pay")["amount"]["total"] == fen
    assert platform.query(number).amount_fen == fen


def test_demo_keys_are_refused_against_wechats_gateway_and_real_keys_must_be_complete():
    with pytest.raises(ValueError, match="DEMO"):
        WeChatConfig.from_env({})
    with pytest.raises(ValueError, match="YIBAO_WECHATPAY_APPID"):
        WeChatConfig.from_env({"YIBAO_WECHATPAY_MCHID": "1900000001"})
    assert WeChatConfig.from_env({"YIBAO_WECHATPAY_URL": "http://127.0.0.1:8090"}).is_demo
