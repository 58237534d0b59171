"""yibao's Alipay client (thirdpay/alipay.py, the real python-alipay-sdk) against the
Alipay gateway simulator run as a separate process (``python -m yibao.cli paysim --style
alipay``): the wap.pay URL and the person's pay page, the signed return_url, RSA2
asynchronous notifications (valid, tampered, retried until ``success``), query, close,
refunds with out_request_no, the daily bill (a zip of GBK CSV files), the platform down,
requests and answers signed with the wrong keys, the configuration's refusals. The test
drives the platform only through the client, the pay page and the /_sim controls;
notifications arrive at a small HTTP receiver in this process."""

from __future__ import annotations

import io
import re
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import servers
from yibao.api.app import online_from_env
from yibao.api.paynotify import ALIPAY_PATH, PATH
from yibao.bench.server import free_port
from yibao.domain.paybill import Kind, OurOrder, OurStatus, differences
from yibao.services.context import china_now
from yibao.thirdpay import alipay_bill
from yibao.thirdpay.alipay import AlipayConfig, AlipayPlatform
from yibao.thirdpay.keys import AlipayAppKeys, demo_alipay_app, public_pem
from yibao.thirdpay.platform import (
    NotificationInvalid,
    PlatformDown,
    PlatformRefusal,
    RefundStatus,
    TradeState,
)
from yibao.thirdpay.wechat import WeChatPayPlatform

WAIT_S = 20.0


class Receiver:
    """The app's notify_url: records each notification and answers the planned bodies
    first (status 200), then ``success``."""

    def __init__(self, answers: list[str] | None = None) -> None:
        self.port = free_port()
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._answers = list(answers or [])
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    receiver.received.append((dict(self.headers.items()), body))
                    text = receiver._answers.pop(0) if receiver._answers else "success"
                self.send_response(200)
                self.send_header("content-length", str(len(text)))
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{ALIPAY_PATH}"

    def wait(self, count: int) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + WAIT_S
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= count, f"{len(self.received)} of {count} notifications"
        return self.received[:count]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    with servers.simulator(style="alipay") as url:
        yield url


@pytest.fixture()
def platform(simulator: str) -> AlipayPlatform:
    return AlipayPlatform(AlipayConfig.from_env({"YIBAO_ALIPAY_URL": simulator}))


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.stop()


def _number() -> str:
    return "YB" + uuid.uuid4().hex[:20].upper()


def _order(platform: AlipayPlatform, url: str, fen: int = 12345) -> tuple[str, str]:
    number = _number()
    created = platform.create(number, fen, "门诊缴费 (自付部分)", url,
                              china_now().replace(tzinfo=None) + timedelta(minutes=30))
    return number, created.pay_url


def _pay_in_browser(pay_url: str) -> httpx.Response:
    """The person opens the pay URL and presses Pay: the answer to the button."""
    shown = httpx.get(pay_url, timeout=10)
    assert shown.status_code == 200, shown.text
    prepay = re.search(r'name=prepay_id value="([^"]+)"', shown.text)
    assert prepay is not None, shown.text
    base = f"{urlsplit(pay_url).scheme}://{urlsplit(pay_url).netloc}"
    return httpx.post(f"{base}/wap/pay", data={"prepay_id": prepay[1]}, timeout=10)


def _control(simulator: str, path: str, **body: Any) -> Any:
    answer = httpx.post(f"{simulator}/_sim/{path}", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _notifications(simulator: str, number: str) -> list[dict[str, Any]]:
    listed = httpx.get(f"{simulator}/_sim/notifications", timeout=10).json()
    return [n for n in listed if n["out_trade_no"] == number]


def test_the_person_pays_on_the_wap_page_and_is_sent_back_signed(
        platform, simulator, receiver):
    number, pay_url = _order(platform, receiver.url, 12345)
    assert pay_url.startswith(f"{simulator}/gateway.do?")
    sent = dict(parse_qsl(urlsplit(pay_url).query))
    assert (sent["method"], sent["sign_type"], sent["charset"], sent["version"]) == (
        "alipay.trade.wap.pay", "RSA2", "utf-8", "1.0")
    assert '"total_amount":"123.45"' in sent["biz_content"]
    # nothing exists at Alipay until the person opens the URL: not paid
    assert platform.query(number).state is TradeState.NOTPAY
    back = "http://127.0.0.1:9/cashier/result?x=1"
    linked = platform.return_to(pay_url, back)
    assert dict(parse_qsl(urlsplit(linked).query))["return_url"] == back
    shown = httpx.get(linked, timeout=10)
    assert "¥123.45" in shown.text and "确认付款 / Pay" in shown.text
    paid = _pay_in_browser(linked)
    assert paid.status_code == 303
    location = paid.headers["location"]
    assert location.startswith(back + "&")
    returned = dict(parse_qsl(urlsplit(location).query))
    assert (returned["out_trade_no"], returned["total_amount"], returned["method"]) == (
        number, "123.45", "alipay.trade.wap.pay.return")
    signature = returned.pop("sign")
    assert returned.pop("x") == "1"  # the app's own parameter, kept, not Alipay's to sign
    assert platform._client.verify(dict(returned), signature)  # signed by Alipay's key
    [(headers, body)] = receiver.wait(1)
    assert headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    notified = platform.notification(headers, body)
    queried = platform.query(number)
    assert notified.state is TradeState.PAID and notified.amount_fen == 12345
    assert (queried.state, queried.amount_fen, queried.trade_no, queried.paid_at) == (
        TradeState.PAID, 12345, notified.trade_no, notified.paid_at)
    assert re.fullmatch(r"\d{28}", queried.trade_no)
    assert _notifications(simulator, number)[0]["attempts"] == [200]


def test_a_pay_url_changed_after_signing_is_refused_by_the_page(platform, receiver):
    number, pay_url = _order(platform, receiver.url, 100)
    cheaper = pay_url.replace("%221.00%22", "%220.01%22")
    assert cheaper != pay_url
    shown = httpx.get(cheaper, timeout=10)
    assert shown.status_code == 400 and "isv.invalid-signature" in shown.text
    assert platform.query(number).state is TradeState.NOTPAY  # no trade was opened


def test_tampered_notifications_are_refused(platform, simulator, receiver):
    number, pay_url = _order(platform, receiver.url, 500)
    httpx.get(pay_url, timeout=10)  # opened: the trade exists
    _control(simulator, f"orders/{number}/notify", bad_signature=True)
    [(headers, body)] = receiver.wait(1)
    with pytest.raises(NotificationInvalid, match="does not verify"):
        platform.notification(headers, body)
    _control(simulator, f"orders/{number}/pay")
    _, (headers, body) = receiver.wait(2)
    assert platform.notification(headers, body).state is TradeState.PAID
    fields = dict(parse_qsl(body.decode()))
    for name, value in (("total_amount", "0.01"), ("out_trade_no", "YB-OTHER"),
                        ("trade_status", "TRADE_CLOSED")):
        changed = urlencode(fields | {name: value}).encode()
        with pytest.raises(NotificationInvalid, match="does not verify"):
            platform.notification(headers, changed)
    with pytest.raises(NotificationInvalid, match="RSA2"):
        platform.notification(headers, urlencode(fields | {"sign_type": "RSA"}).encode())
    with pytest.raises(NotificationInvalid, match="once"):
        platform.notification(headers, body + b"&trade_no=1")
    other = AlipayPlatform(AlipayConfig(url=simulator, keys=AlipayAppKeys(
        app_id="2021000000000002", seller_id=demo_alipay_app().seller_id,
        app_private_key=demo_alipay_app().app_private_key,
        alipay_public_key=demo_alipay_app().alipay_public_key)))
    with pytest.raises(NotificationInvalid, match="another app"):
        other.notification(headers, body)


def test_a_notification_with_another_amount_verifies_and_shows_that_amount(
        platform, simulator, receiver):
    number, pay_url = _order(platform, receiver.url, 800)
    httpx.get(pay_url, timeout=10)
    _control(simulator, f"orders/{number}/pay")
    _control(simulator, f"orders/{number}/notify", amount_fen=1)
    first, second = receiver.wait(2)
    assert platform.notification(*first).amount_fen == 800
    assert platform.notification(*second).amount_fen == 1  # the caller compares: E-PAY-003


def test_a_notification_is_retried_until_the_answer_is_success(platform, simulator):
    receiver = Receiver(["fail", "SUCCESS?"])
    try:
        number, pay_url = _order(platform, receiver.url, 300)
        httpx.get(pay_url, timeout=10)
        _control(simulator, f"orders/{number}/pay")
        bodies = [body for _, body in receiver.wait(3)]
    finally:
        receiver.stop()
    assert bodies[0] == bodies[1] == bodies[2]  # the same notification, signed once
    [sent] = _notifications(simulator, number)
    assert sent["attempts"] == ["200 fail", "200 SUCCESS?", 200] and sent["delivered"]


def test_the_last_notification_can_be_replayed(platform, simulator, receiver):
    _, pay_url = _order(platform, receiver.url, 450)
    _pay_in_browser(pay_url)
    receiver.wait(1)
    _control(simulator, "replay")
    first, again = receiver.wait(2)
    assert first[1] == again[1]
    assert platform.notification(*first) == platform.notification(*again)


def test_refunds_and_the_daily_bill(platform, simulator, receiver):
    number, pay_url = _order(platform, receiver.url, 10_000)
    _pay_in_browser(pay_url)
    receiver.wait(1)
    done = platform.refund(number, "RF-" + number, 2_500, 10_000)
    assert done.status is RefundStatus.SUCCESS and done.refund_id == platform.query(
        number).trade_no
    assert platform.refund(number, "RF-" + number, 2_500, 10_000) == done  # the same again
    with pytest.raises(PlatformRefusal) as exceeded:
        platform.refund(number, "RF2-" + number, 7_501, 10_000)
    assert exceeded.value.code == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    with pytest.raises(PlatformRefusal) as discordant:
        platform.refund(number, "RF-" + number, 100, 10_000)
    assert discordant.value.code == "ACQ.DISCORDANT_REPEAT_REQUEST"
    _, refund_notice = receiver.wait(2)  # Alipay notifies the refund too
    refunded = platform.notification(*refund_notice)
    assert (refunded.state, refunded.out_trade_no) == (TradeState.REFUND, number)
    assert platform.query(number).state is TradeState.PAID  # partly refunded: still paid
    rows = [r for r in platform.bill(china_now().date()) if r.out_trade_no == number]
    assert [(r.state, r.amount_fen, r.refund_fen, r.out_refund_no) for r in rows] == [
        ("SUCCESS", 10_000, 0, ""), ("REFUND", 0, 2_500, "RF-" + number)]
    ours = [OurOrder(number, OurStatus.PAID, 10_000, 2_500)]
    assert differences(ours, rows) == []
    found = differences([OurOrder(number, OurStatus.PAID, 10_000, 0)], rows)
    assert [(d.kind, d.ours, d.theirs) for d in found] == [(Kind.REFUND_DIFFERS, 0, 2_500)]
    platform.refund(number, "RF3-" + number, 7_500, 10_000)  # the rest: the trade closes
    assert platform.query(number).state is TradeState.CLOSED


def test_the_bill_download_is_a_zip_of_gbk_csv_files_checked_against_its_summary(
        platform, simulator, receiver):
    number, pay_url = _order(platform, receiver.url, 4_321)
    _pay_in_browser(pay_url)
    answer = platform._call("alipay.data.dataservice.bill.downloadurl.query",
                            {"bill_type": "trade", "bill_date": china_now().date().isoformat()})
    packed = httpx.get(answer["bill_download_url"], timeout=10).content
    with zipfile.ZipFile(io.BytesIO(packed)) as archive:
        names = sorted(archive.namelist())
        texts = {name: archive.read(name).decode("gbk") for name in names}
    assert [n.rsplit("_", 1)[1] for n in names] == ["业务明细(汇总).csv", "业务明细.csv"]
    detail = texts[names[1]]
    assert detail.startswith("#支付宝业务明细查询") and f",{number},交易," in detail
    assert any(row.out_trade_no == number and row.amount_fen == 4_321
               for row in alipay_bill.parse(packed))
    summary = texts[names[0]]
    total_line = next(line for line in summary.splitlines() if line.startswith("合计"))
    one_more = re.sub(r"^合计,,(\d+)", lambda m: f"合计,,{int(m[1]) + 1}", total_line)
    wrong = summary.replace(total_line, one_more)
    with pytest.raises(alipay_bill.BillFormatError, match="counts"):
        alipay_bill.parse(_zip({names[1]: detail, names[0]: wrong}))
    with pytest.raises(alipay_bill.BillFormatError, match="lacks"):
        alipay_bill.parse(_zip({names[1]: detail}))
    with pytest.raises(alipay_bill.BillFormatError, match="zip"):
        alipay_bill.parse(b"PK not a zip")


def _zip(files: dict[str, str]) -> bytes:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text.encode("gbk"))
    return packed.getvalue()


def test_a_day_without_trades_has_an_empty_bill(platform):
    assert platform.bill(china_now().date() - timedelta(days=3)) == []


def test_close_and_refusals_of_trades_in_the_wrong_state(platform, simulator, receiver):
    never_opened, _ = _order(platform, receiver.url, 200)
    platform.close(never_opened)  # nothing at Alipay: nothing to close
    opened, pay_url = _order(platform, receiver.url, 200)
    httpx.get(pay_url, timeout=10)
    with pytest.raises(PlatformRefusal) as unpaid:
        platform.refund(opened, "RF-" + opened, 100, 200)
    assert unpaid.value.code == "ACQ.TRADE_STATUS_ERROR"
    platform.close(opened)
    assert platform.query(opened).state is TradeState.CLOSED
    shown = httpx.get(pay_url, timeout=10)  # a closed trade cannot be paid: no button
    assert "TRADE_CLOSED" in shown.text and "Pay</button>" not in shown.text
    paid, paid_url = _order(platform, receiver.url, 200)
    _pay_in_browser(paid_url)
    with pytest.raises(PlatformRefusal) as closing_paid:
        platform.close(paid)
    assert closing_paid.value.code == "ACQ.TRADE_STATUS_ERROR"


def test_the_platform_down_or_unreachable_is_platform_down(platform, simulator):
    _control(simulator, "down", down=True)
    try:
        with pytest.raises(PlatformDown, match="HTTP 503"):
            platform.query(_number())
    finally:
        _control(simulator, "down", down=False)
    closed = AlipayPlatform(AlipayConfig.from_env(
        {"YIBAO_ALIPAY_URL": f"http://127.0.0.1:{free_port()}"}))
    with pytest.raises(PlatformDown, match="unreachable"):
        closed.query(_number())


def _fresh_key() -> str:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()


def test_requests_and_answers_signed_with_other_keys_are_refused(platform, simulator):
    demo = demo_alipay_app()
    stranger = AlipayPlatform(AlipayConfig(url=simulator, keys=AlipayAppKeys(
        app_id=demo.app_id, seller_id=demo.seller_id, app_private_key=_fresh_key(),
        alipay_public_key=demo.alipay_public_key)))
    with pytest.raises(PlatformRefusal) as refused:
        stranger.query(_number())
    assert refused.value.code == "isv.invalid-signature"
    fooled = AlipayPlatform(AlipayConfig(url=simulator, keys=AlipayAppKeys(
        app_id=demo.app_id, seller_id=demo.seller_id, app_private_key=demo.app_private_key,
        alipay_public_key=public_pem(_fresh_key()))))
    with pytest.raises(PlatformDown, match="signature"):  # not Alipay's answer
        fooled.query(_number())
    late = AlipayPlatform(AlipayConfig(url=simulator, keys=demo),
                          clock=lambda: china_now() - timedelta(minutes=10))
    with pytest.raises(PlatformRefusal) as stale:
        late.query(_number())
    assert stale.value.code == "isv.invalid-timestamp"


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(fen=st.integers(min_value=1, max_value=9_999_999_999))
def test_amounts_in_fen_round_trip_through_yuan_text(platform, simulator, fen):
    number, pay_url = _order(platform, "http://127.0.0.1:9/notify", fen)
    httpx.get(pay_url, timeout=10)
    assert platform.query(number).amount_fen == fen


def test_demo_keys_are_refused_against_alipays_gateway_and_real_keys_must_be_complete():
    with pytest.raises(ValueError, match="DEMO keys are refused"):
        AlipayConfig.from_env({})
    with pytest.raises(ValueError, match=r"YIBAO_ALIPAY_SELLER_ID.*YIBAO_ALIPAY_PUBLIC_KEY_FILE"):
        AlipayConfig.from_env({"YIBAO_ALIPAY_APP_ID": "2021000000000009",
                               "YIBAO_ALIPAY_APP_PRIVATE_KEY_FILE": "/dev/null"})
    config = AlipayConfig.from_env({"YIBAO_ALIPAY_URL": "http://127.0.0.1:8091/gateway.do"})
    assert config.gateway == "http://127.0.0.1:8091/gateway.do"


def test_one_payment_platform_per_deployment():
    both = {"YIBAO_WECHATPAY_URL": "http://127.0.0.1:8090",
            "YIBAO_ALIPAY_URL": "http://127.0.0.1:8091"}
    with pytest.raises(ValueError, match="one payment platform per deployment"):
        online_from_env(both)
    alipay = online_from_env({"YIBAO_ALIPAY_URL": "http://127.0.0.1:8091",
                              "YIBAO_PUBLIC_URL": "https://yb.example"})
    assert isinstance(alipay.platform, AlipayPlatform)
    assert alipay.notify_url == "https://yb.example" + ALIPAY_PATH
    wechat = online_from_env({"YIBAO_WECHATPAY_URL": "http://127.0.0.1:8090"})
    assert isinstance(wechat.platform, WeChatPayPlatform)
    assert wechat.notify_url.endswith(PATH)
    assert online_from_env({}).platform is None


def test_serve_refuses_to_start_with_both_platforms_configured(monkeypatch):
    from typer.testing import CliRunner

    from yibao.cli import app

    monkeypatch.setenv("YIBAO_WECHATPAY_URL", "http://127.0.0.1:8090")
    monkeypatch.setenv("YIBAO_ALIPAY_URL", "http://127.0.0.1:8091")
    result = CliRunner().invoke(app, ["serve", "--demo", "--db", "sqlite:///:memory:"])
    assert result.exit_code == 2
    assert "one payment platform per deployment" in result.output
    monkeypatch.delenv("YIBAO_WECHATPAY_URL")
    monkeypatch.setenv("YIBAO_ALIPAY_APP_ID", "2021000000000009")  # its keys missing
    result = CliRunner().invoke(app, ["serve", "--demo", "--db", "sqlite:///:memory:"])
    assert result.exit_code == 2 and "YIBAO_ALIPAY_SELLER_ID" in result.output
