"""Alipay (支付宝, the openapi gateway, RSA2) as a ``Platform``, through the maintained
``python-alipay-sdk`` library (import ``alipay``, class ``AliPay``) in its public-key
mode.

The person pays on Alipay's mobile web cashier: ``create`` signs an
``alipay.trade.wap.pay`` request and answers the gateway URL with it as ``pay_url`` (no
HTTP call: Alipay opens the trade when the person's browser opens that URL). ``query``,
``close``, ``refund`` (with ``out_request_no``) and the bill
(``alipay.data.dataservice.bill.downloadurl.query``, then the zip it names) are signed
server calls whose answers ``{"<method>_response": {...}, "sign": "..."}`` the library
verifies with the Alipay public key. Notifications are Alipay's asynchronous
notifications: a form, RSA2-signed over its sorted fields without ``sign`` and
``sign_type``, answered with the plain body ``success``. Money is yuan text on the wire
("12.34"), converted exactly to and from integer fen here.

The gateway: python-alipay-sdk 3.4 fixes it in ``BaseAliPay.__init__`` as
``self._gateway = "https://openapi.alipay.com/gateway.do"`` and sends every call to
``_gateway + "?" + signed query``. ``AlipayPlatform`` sets that one attribute on its own
client right after constructing it, ``AliPay(...)._gateway = config.url +
"/gateway.do"``: no subclass, no patched module, nothing global. The library stamps
``timestamp`` with the host's local clock; ``AlipayPlatform`` passes its own, China
Standard Time, as the gateway expects.

Configuration (``AlipayConfig.from_env``): ``YIBAO_ALIPAY_URL``, ``YIBAO_ALIPAY_APP_ID``,
``YIBAO_ALIPAY_SELLER_ID``, ``YIBAO_ALIPAY_APP_PRIVATE_KEY_FILE``,
``YIBAO_ALIPAY_PUBLIC_KEY_FILE``. Without an app id the DEMO keys are used, and only
against a gateway that is not Alipay's.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from alipay import AliPay  # type: ignore[import-untyped]
from alipay.exceptions import (  # type: ignore[import-untyped]
    AliPayException,
    AliPayValidationError,
)
from alipay.utils import AliPayConfig  # type: ignore[import-untyped]

from yibao.domain.money import Fen, MoneyError, fen_to_yuan, yuan_to_fen
from yibao.domain.paybill import BillRow
from yibao.thirdpay import alipay_bill
from yibao.thirdpay.keys import AlipayAppKeys, demo_alipay_app
from yibao.thirdpay.platform import (
    CST,
    Created,
    NotificationInvalid,
    Platform,
    PlatformDown,
    PlatformRefusal,
    Refund,
    RefundStatus,
    Trade,
    TradeState,
)

ALIPAY_GATEWAY = "https://openapi.alipay.com"
REAL_HOSTS = ("openapi.alipay.com", "openapi-sandbox.dl.alipaydev.com",
              "openapi.alipaydev.com")
GATEWAY_PATH = "/gateway.do"
TIMEOUT_S = 10.0
BILL_BYTES_MAX = 64 * 1024 * 1024  # a day's bill as downloaded (zip)
SUCCESS = "10000"  # the code of an answer that did what was asked
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_STATES = {"WAIT_BUYER_PAY": TradeState.NOTPAY, "TRADE_CLOSED": TradeState.CLOSED,
           "TRADE_SUCCESS": TradeState.PAID, "TRADE_FINISHED": TradeState.PAID}
NOT_EXIST = "ACQ.TRADE_NOT_EXIST"  # no trade: the person never opened the pay URL
NO_BILL = "isp.bill_not_exist"


@dataclass(frozen=True, slots=True)
class AlipayConfig:
    url: str  # the gateway's base: Alipay's, or the simulator's (http://127.0.0.1:8091)
    keys: AlipayAppKeys

    def __post_init__(self) -> None:
        assert self.url.startswith(("http://", "https://")), "the gateway is an http(s) URL"

    @property
    def gateway(self) -> str:
        return self.url.rstrip("/") + GATEWAY_PATH

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlipayConfig:
        """From YIBAO_ALIPAY_*; ValueError when keys are missing, or when the DEMO keys
        would be used against Alipay's own gateway."""
        env = os.environ if env is None else env
        url = env.get("YIBAO_ALIPAY_URL", ALIPAY_GATEWAY).rstrip("/")
        if url.endswith(GATEWAY_PATH):
            url = url[: -len(GATEWAY_PATH)]
        if not env.get("YIBAO_ALIPAY_APP_ID"):
            if urlsplit(url).hostname in REAL_HOSTS:
                raise ValueError("the DEMO keys are refused against Alipay's gateway: set "
                                 "YIBAO_ALIPAY_APP_ID and the keys")
            return cls(url=url, keys=demo_alipay_app())
        names = ("APP_ID", "SELLER_ID", "APP_PRIVATE_KEY_FILE", "PUBLIC_KEY_FILE")
        missing = [name for name in names if not env.get(f"YIBAO_ALIPAY_{name}")]
        if missing:
            raise ValueError("missing " + ", ".join(f"YIBAO_ALIPAY_{n}" for n in missing))
        return cls(url=url, keys=AlipayAppKeys(
            app_id=env["YIBAO_ALIPAY_APP_ID"], seller_id=env["YIBAO_ALIPAY_SELLER_ID"],
            app_private_key=Path(env["YIBAO_ALIPAY_APP_PRIVATE_KEY_FILE"]).read_text(
                encoding="ascii"),
            alipay_public_key=Path(env["YIBAO_ALIPAY_PUBLIC_KEY_FILE"]).read_text(
                encoding="ascii")))


class AlipayPlatform:
    """A ``Platform`` speaking Alipay's openapi gateway (mobile web payments) with
    python-alipay-sdk."""

    thd_pay_type = "ALIPAY"  # thdPayType of the orders paid here (6204)

    def __init__(self, config: AlipayConfig, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(CST),
                 unix_clock: Callable[[], float] = time.time) -> None:
        self._config, self._clock, self._unix = config, clock, unix_clock
        self._client = AliPay(
            appid=config.keys.app_id, app_private_key_string=config.keys.app_private_key,
            alipay_public_key_string=config.keys.alipay_public_key, sign_type="RSA2",
            config=AliPayConfig(timeout=TIMEOUT_S))
        assert hasattr(self._client, "_gateway"), "python-alipay-sdk moved its gateway"
        self._client._gateway = config.gateway  # the gateway override

    @property
    def seller_id(self) -> str:
        return self._config.keys.seller_id

    def create(self, out_trade_no: str, amount_fen: Fen, description: str, notify_url: str,
               expire_at: datetime) -> Created:
        """The signed ``alipay.trade.wap.pay`` URL (QUICK_WAP_WAY) the browser opens;
        the trade closes at ``expire_at`` (time_expire, CST)."""
        assert isinstance(amount_fen, int) and amount_fen > 0, amount_fen
        signed = self._client.client_api(
            "alipay.trade.wap.pay", {
                "subject": description, "out_trade_no": out_trade_no,
                "total_amount": fen_to_yuan(amount_fen), "product_code": "QUICK_WAP_WAY",
                "time_expire": f"{_cst(expire_at):{TIME_FORMAT}}"},
            notify_url=notify_url, timestamp=self._stamp())
        return Created(pay_url=f"{self._config.gateway}?{signed}", prepay_id=out_trade_no)

    def return_to(self, pay_url: str, return_url: str) -> str:
        """The same wap.pay request with ``return_url`` among its parameters, signed
        again (the signature covers it): Alipay's page sends the person there, with
        signed parameters of its own, once they have paid."""
        base, _, query = pay_url.partition("?")
        params = {k: v for k, v in parse_qsl(query, keep_blank_values=True) if k != "sign"}
        params["return_url"] = return_url
        return f"{base}?{self._client.sign_data(params)}"

    def query(self, out_trade_no: str) -> Trade:
        """The trade (``alipay.trade.query``). A trade Alipay does not have (the person
        never opened the pay URL) is NOTPAY: nothing can have been paid."""
        try:
            answer = self._call("alipay.trade.query", {"out_trade_no": out_trade_no})
        except PlatformRefusal as refusal:
            if refusal.code != NOT_EXIST:
                raise
            return Trade(out_trade_no=out_trade_no, trade_no="", state=TradeState.NOTPAY,
                         amount_fen=0, paid_at=None)
        return _trade(answer, paid_field="send_pay_date")

    def close(self, out_trade_no: str) -> None:
        """``alipay.trade.close``; a trade never opened has nothing to close (its pay URL
        stops at time_expire); a paid one is refused (ACQ.TRADE_STATUS_ERROR)."""
        try:
            self._call("alipay.trade.close", {"out_trade_no": out_trade_no})
        except PlatformRefusal as refusal:
            if refusal.code != NOT_EXIST:
                raise

    def refund(self, out_trade_no: str, out_refund_no: str, refund_fen: Fen,
               total_fen: Fen) -> Refund:
        """``alipay.trade.refund`` with ``out_request_no`` = out_refund_no (the same one
        again answers the same refund). Alipay has no refund id: the trade number is
        answered as the refund's."""
        assert 0 < refund_fen <= total_fen, (refund_fen, total_fen)
        answer = self._call("alipay.trade.refund", {
            "out_trade_no": out_trade_no, "refund_amount": fen_to_yuan(refund_fen),
            "out_request_no": out_refund_no})
        trade_no = answer.get("trade_no")
        if not isinstance(trade_no, str) or not trade_no:
            raise PlatformDown("a refund answer without trade_no")
        return Refund(RefundStatus.SUCCESS, trade_no)

    def notification(self, headers: Mapping[str, str], body: bytes | str) -> Trade:
        """An asynchronous notification's trade, once its RSA2 signature (the Alipay
        public key, over the sorted fields without sign and sign_type), app_id and
        seller_id check out; NotificationInvalid otherwise. A refund's notification
        (refund_fee, gmt_refund) is a trade in state REFUND."""
        fields = _form(body)
        signature = fields.pop("sign", "")
        if fields.get("sign_type") != "RSA2" or not signature:
            raise NotificationInvalid("sign_type is not RSA2, or no sign")
        try:
            valid = self._client.verify(dict(fields), signature)
        except (AliPayException, ValueError, TypeError) as exc:
            raise NotificationInvalid(f"not verifiable: {exc}") from exc
        if not valid:
            raise NotificationInvalid("the signature does not verify")
        if fields.get("app_id") != self._config.keys.app_id or \
                fields.get("seller_id", self.seller_id) != self.seller_id:
            raise NotificationInvalid("the notification is for another app or seller")
        if fields.get("notify_type") != "trade_status_sync":
            raise NotificationInvalid(f"notify_type {fields.get('notify_type', '')[:40]}")
        try:
            trade = _trade(fields, paid_field="gmt_payment")
        except PlatformDown as exc:
            raise NotificationInvalid(str(exc)) from exc
        if fields.get("gmt_refund") or fields.get("refund_fee", "0.00") not in ("", "0.00"):
            return Trade(trade.out_trade_no, trade.trade_no, TradeState.REFUND,
                         trade.amount_fen, trade.paid_at)
        return trade

    def bill(self, day: date) -> list[BillRow]:
        """The day's trade bill: its download URL, then the zip of GBK CSV files, parsed
        and checked against its summary. A day without trades has no bill: []."""
        try:
            answer = self._call("alipay.data.dataservice.bill.downloadurl.query",
                                {"bill_type": "trade", "bill_date": day.isoformat()})
        except PlatformRefusal as refusal:
            if refusal.code == NO_BILL:
                return []
            raise
        url = answer.get("bill_download_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise PlatformDown("no bill_download_url")
        packed = _download(url)
        try:
            return alipay_bill.parse(packed)
        except alipay_bill.BillFormatError as exc:
            raise PlatformDown(f"the bill is not readable: {exc}") from exc

    def _stamp(self) -> str:
        return f"{_cst(self._clock()):{TIME_FORMAT}}"

    def _call(self, method: str, biz_content: dict[str, Any]) -> dict[str, Any]:
        """The verified answer of a gateway call whose code is 10000."""
        try:
            answer = self._client.server_api(method, biz_content, timestamp=self._stamp())
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code == 429:
                raise PlatformDown(f"HTTP {exc.code}") from exc
            raise PlatformRefusal(exc.code, "HTTP", str(exc.reason)[:200]) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise PlatformDown(f"unreachable: {type(exc).__name__}") from exc
        except AliPayValidationError as exc:
            raise PlatformDown("the answer's signature does not verify") from exc
        except AliPayException as exc:  # an answer without sign, or error_response
            raise _unsigned_refusal(exc) from exc
        except (ValueError, TypeError, AttributeError) as exc:  # not JSON, not an object
            raise PlatformDown(f"the answer is not readable: {type(exc).__name__}") from exc
        if not isinstance(answer, dict):
            raise PlatformDown("the answer is not a JSON object")
        code = str(answer.get("code", ""))
        if code != SUCCESS:
            raise PlatformRefusal(400, str(answer.get("sub_code") or code),
                                  str(answer.get("sub_msg") or answer.get("msg", ""))[:200])
        return answer


def _unsigned_refusal(exc: Exception) -> PlatformRefusal:
    """The refusal an unsigned answer states (its sub_code), as far as it can be read."""
    raw = getattr(exc, "_AliPayException__message", "")
    try:
        body = json.loads(raw)
        inner = next(v for k, v in body.items() if k.endswith("_response"))
        return PlatformRefusal(400, str(inner.get("sub_code") or inner.get("code")),
                               str(inner.get("sub_msg", ""))[:200])
    except (ValueError, TypeError, AttributeError, StopIteration):
        return PlatformRefusal(400, "UNKNOWN", str(raw)[:200])


def _download(url: str) -> bytes:
    try:
        with httpx.stream("GET", url, timeout=TIMEOUT_S) as answer:
            if answer.status_code >= 400:
                raise PlatformDown(f"the bill download answered HTTP {answer.status_code}")
            data = bytearray()
            for chunk in answer.iter_bytes():
                data += chunk
                if len(data) > BILL_BYTES_MAX:
                    raise PlatformDown("the bill is larger than BILL_BYTES_MAX")
    except httpx.HTTPError as exc:
        raise PlatformDown(f"the bill download failed: {type(exc).__name__}") from exc
    return bytes(data)


def _form(body: bytes | str) -> dict[str, str]:
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise NotificationInvalid("the notification is not UTF-8") from exc
    pairs = parse_qsl(text, keep_blank_values=True)
    fields = dict(pairs)
    if len(fields) != len(pairs) or not fields:
        raise NotificationInvalid("not a form with each field once")
    return fields


def _trade(answer: Mapping[str, Any], *, paid_field: str) -> Trade:
    """A query answer or a notification's fields as a Trade."""
    try:
        state = _STATES[str(answer["trade_status"])]
        number = str(answer["out_trade_no"])
        amount = yuan_to_fen(str(answer["total_amount"]), field="total_amount")
    except (KeyError, MoneyError) as exc:
        raise PlatformDown(f"a trade without trade_status, out_trade_no or total_amount "
                           f"in yuan: {exc}") from exc
    paid = answer.get(paid_field)
    try:
        paid_at = datetime.strptime(str(paid), TIME_FORMAT) if paid else None
    except ValueError as exc:
        raise PlatformDown(f"{paid_field} {str(paid)[:40]!r}") from exc
    return Trade(out_trade_no=number, trade_no=str(answer.get("trade_no", "")), state=state,
                 amount_fen=amount, paid_at=paid_at)


def _cst(moment: datetime) -> datetime:
    """A naive time is CST (the project's stored times)."""
    return moment if moment.tzinfo is None else moment.astimezone(CST).replace(tzinfo=None)


if TYPE_CHECKING:  # mypy --strict checks that the client is a Platform
    _IS_A_PLATFORM: type[Platform] = AlipayPlatform
