"""WeChat Pay API v3 as a ``Platform``, through the maintained ``wechatpayv3`` library in
its public-key mode (no platform-certificate download).

The gateway: wechatpayv3 2.0.4 fixes it in ``Core.__init__`` as
``self._gate_way = 'https://api.mch.weixin.qq.com'`` and builds every URL as
``_gate_way + path``. ``WeChatPayPlatform`` sets that one attribute on its own client,
``WeChatPay(...)._core._gate_way = config.url``, right after constructing it: no subclass,
no patched module, nothing global. With ``YIBAO_WECHATPAY_URL`` unset it is WeChat's.

Configuration (environment, ``WeChatConfig.from_env``): ``YIBAO_WECHATPAY_URL``,
``YIBAO_WECHATPAY_MCHID``, ``YIBAO_WECHATPAY_APPID``, ``YIBAO_WECHATPAY_SERIAL_NO``,
``YIBAO_WECHATPAY_PRIVATE_KEY_FILE``, ``YIBAO_WECHATPAY_APIV3_KEY``,
``YIBAO_WECHATPAY_PUBLIC_KEY_FILE``, ``YIBAO_WECHATPAY_PUBLIC_KEY_ID``. Without a MCHID
the DEMO keys are used, and only against a gateway that is not WeChat's.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

import requests
from wechatpayv3 import WeChatPay, WeChatPayType  # type: ignore[import-untyped]

from yibao.domain.money import Fen
from yibao.domain.paybill import BillRow
from yibao.thirdpay import bill
from yibao.thirdpay.keys import MerchantKeys, demo_merchant
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

WECHAT_GATEWAY = "https://api.mch.weixin.qq.com"
REAL_HOSTS = ("api.mch.weixin.qq.com", "api2.mch.weixin.qq.com")
NOTIFICATION_AGE_MAX_S = 300  # a notification signed longer ago than this is refused
TIMEOUT_S = (3.0, 10.0)  # connect, read
BILL_BYTES_MAX = 64 * 1024 * 1024  # a day's bill, unpacked
_STATES = {"SUCCESS": TradeState.PAID} | {s.value: s for s in TradeState if s.value != "PAID"}


@dataclass(frozen=True, slots=True)
class WeChatConfig:
    url: str  # the gateway: WeChat's, or the simulator's (http://127.0.0.1:8090)
    keys: MerchantKeys
    payer_ip: str = "127.0.0.1"  # scene_info.payer_client_ip of an H5 order

    def __post_init__(self) -> None:
        assert self.url.startswith(("http://", "https://")), "the gateway is an http(s) URL"

    @property
    def is_demo(self) -> bool:
        return self.keys == demo_merchant()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WeChatConfig:
        """From YIBAO_WECHATPAY_*; ValueError when keys are missing, or when the DEMO keys
        would be used against WeChat's own gateway."""
        env = os.environ if env is None else env
        url = env.get("YIBAO_WECHATPAY_URL", WECHAT_GATEWAY).rstrip("/")
        if not env.get("YIBAO_WECHATPAY_MCHID"):
            if urlsplit(url).hostname in REAL_HOSTS:
                raise ValueError("the DEMO keys are refused against WeChat's gateway: set "
                                 "YIBAO_WECHATPAY_MCHID and the keys")
            return cls(url=url, keys=demo_merchant())
        return cls(url=url, keys=_keys_from_env(env))


def _keys_from_env(env: Mapping[str, str]) -> MerchantKeys:
    names = ("MCHID", "APPID", "SERIAL_NO", "PRIVATE_KEY_FILE", "APIV3_KEY",
             "PUBLIC_KEY_FILE", "PUBLIC_KEY_ID")
    missing = [name for name in names if not env.get(f"YIBAO_WECHATPAY_{name}")]
    if missing:
        raise ValueError("missing " + ", ".join(f"YIBAO_WECHATPAY_{n}" for n in missing))
    value = {name: env[f"YIBAO_WECHATPAY_{name}"] for name in names}
    return MerchantKeys(
        mchid=value["MCHID"], appid=value["APPID"], serial_no=value["SERIAL_NO"],
        private_key=Path(value["PRIVATE_KEY_FILE"]).read_text(encoding="ascii"),
        apiv3_key=value["APIV3_KEY"],
        platform_public_key=Path(value["PUBLIC_KEY_FILE"]).read_text(encoding="ascii"),
        platform_public_key_id=value["PUBLIC_KEY_ID"])


class WeChatPayPlatform:
    """A ``Platform`` speaking WeChat Pay v3 (H5 orders) with wechatpayv3."""

    thd_pay_type = "WECHAT"  # thdPayType of the orders paid here (6204)

    def __init__(self, config: WeChatConfig, *,
                 unix_clock: Callable[[], float] = time.time) -> None:
        keys = config.keys
        self._config, self._clock = config, unix_clock
        self._client = WeChatPay(
            wechatpay_type=WeChatPayType.H5, mchid=keys.mchid, private_key=keys.private_key,
            cert_serial_no=keys.serial_no, appid=keys.appid, apiv3_key=keys.apiv3_key,
            timeout=TIMEOUT_S, public_key=keys.platform_public_key,
            public_key_id=keys.platform_public_key_id)
        assert hasattr(self._client._core, "_gate_way"), "wechatpayv3 moved its gateway"
        self._client._core._gate_way = config.url.rstrip("/")  # the gateway override

    def create(self, out_trade_no: str, amount_fen: Fen, description: str, notify_url: str,
               expire_at: datetime) -> Created:
        assert isinstance(amount_fen, int) and amount_fen > 0, amount_fen
        answer = self._call(
            self._client.pay, description=description, out_trade_no=out_trade_no,
            amount={"total": amount_fen, "currency": "CNY"}, notify_url=notify_url,
            time_expire=_rfc3339(expire_at),
            scene_info={"payer_client_ip": self._config.payer_ip, "h5_info": {"type": "Wap"}})
        pay_url = str(answer.get("h5_url", ""))
        prepay_id = parse_qs(urlsplit(pay_url).query).get("prepay_id", [""])[0]
        if not pay_url or not prepay_id:
            raise PlatformDown("the order's answer has no h5_url with a prepay_id")
        return Created(pay_url=pay_url, prepay_id=prepay_id)

    def return_to(self, pay_url: str, return_url: str) -> str:
        """WeChat Pay H5: the h5_url with ``redirect_url`` (URL-encoded) appended; the
        cashier sends the person back there after paying."""
        return f"{pay_url}&redirect_url={quote(return_url, safe='')}"

    def query(self, out_trade_no: str) -> Trade:
        return _trade(self._call(self._client.query, out_trade_no=out_trade_no))

    def close(self, out_trade_no: str) -> None:
        self._call(self._client.close, out_trade_no=out_trade_no)

    def refund(self, out_trade_no: str, out_refund_no: str, refund_fen: Fen,
               total_fen: Fen, *, notify_url: str | None = None) -> Refund:
        assert 0 < refund_fen <= total_fen, (refund_fen, total_fen)
        answer = self._call(
            self._client.refund, out_refund_no=out_refund_no, out_trade_no=out_trade_no,
            amount={"refund": refund_fen, "total": total_fen, "currency": "CNY"},
            notify_url=notify_url)
        try:
            return Refund(RefundStatus(answer["status"]), str(answer["refund_id"]))
        except (KeyError, ValueError) as exc:
            raise PlatformDown(f"a refund answer without status or refund_id: {exc}") from exc

    def notification(self, headers: Mapping[str, str], body: bytes | str) -> Trade:
        """A payment notification's trade, once its signature (platform public key, fresh
        timestamp) and AES-GCM ciphertext check out; NotificationInvalid otherwise."""
        resource = self._open(headers, body, "TRANSACTION.")
        if resource.get("mchid") != self._config.keys.mchid or \
                resource.get("appid") != self._config.keys.appid:
            raise NotificationInvalid("the notification is for another merchant or app")
        try:
            return _trade(resource)
        except PlatformDown as exc:
            raise NotificationInvalid(str(exc)) from exc

    def refund_notification(self, headers: Mapping[str, str],
                            body: bytes | str) -> dict[str, Any]:
        """A refund notification's decrypted resource (out_refund_no, refund_status,
        amount ...), verified as ``notification`` is."""
        resource = self._open(headers, body, "REFUND.")
        if resource.get("mchid") != self._config.keys.mchid:
            raise NotificationInvalid("the notification is for another merchant")
        return resource

    def bill(self, day: date) -> list[BillRow]:
        """The day's trade bill (type ALL): its download, unpacked, checked against the
        SHA1 it was announced with, parsed. A day without trades has no bill: []."""
        try:
            answer = self._call(self._client.trade_bill, bill_date=day.isoformat(),
                                bill_type="ALL", tar_type="GZIP")
        except PlatformRefusal as refusal:
            if refusal.code == "NO_STATEMENT_EXIST":
                return []
            raise
        packed = self._call_raw(self._client.download_bill, url=answer["download_url"])
        text = _unpack(packed)
        if hashlib.sha1(text).hexdigest() != str(answer.get("hash_value", "")).lower():
            raise PlatformDown("the bill's SHA1 is not the one announced")
        try:
            return bill.parse(text.decode("utf-8"))
        except (bill.BillFormatError, UnicodeDecodeError) as exc:
            raise PlatformDown(f"the bill is not readable: {exc}") from exc

    def _open(self, headers: Mapping[str, str], body: bytes | str,
              event_prefix: str) -> dict[str, Any]:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        lowered = {key.lower(): value for key, value in headers.items()}
        stamp = lowered.get("wechatpay-timestamp", "")
        if not stamp.isdigit() or abs(self._clock() - int(stamp)) > NOTIFICATION_AGE_MAX_S:
            raise NotificationInvalid("Wechatpay-Timestamp missing or not within 5 minutes")
        if lowered.get("wechatpay-serial") != self._config.keys.platform_public_key_id:
            raise NotificationInvalid("Wechatpay-Serial is not the platform public key id")
        try:
            opened = self._client.callback(lowered, text)
        except Exception as exc:  # the library raises bare Exception for unknown algorithms
            raise NotificationInvalid(f"not readable: {exc}") from exc
        if not isinstance(opened, dict) or not isinstance(opened.get("resource"), dict):
            raise NotificationInvalid("signature or ciphertext does not verify")
        if not str(opened.get("event_type", "")).startswith(event_prefix):
            raise NotificationInvalid(f"event_type {str(opened.get('event_type'))[:40]}")
        return dict(opened["resource"])

    def _call(self, method: Callable[..., tuple[int, Any]], **kwargs: Any) -> dict[str, Any]:
        """The JSON object of a 2xx answer ({} for 204)."""
        raw = self._call_raw(method, **kwargs)
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise PlatformDown("the answer is not JSON") from exc
        if not isinstance(value, dict):
            raise PlatformDown("the answer is not a JSON object")
        return value

    def _call_raw(self, method: Callable[..., tuple[int, Any]], **kwargs: Any) -> bytes | str:
        try:
            status, content = method(**kwargs)
        except requests.RequestException as exc:
            raise PlatformDown(f"unreachable: {type(exc).__name__}") from exc
        except Exception as exc:  # wechatpayv3: "failed to verify the signature"
            raise PlatformDown(f"answer not trusted: {exc}") from exc
        if status >= 500 or status == 429:
            raise PlatformDown(f"HTTP {status}")
        if status >= 400:
            raise _refusal(status, content)
        assert isinstance(content, bytes | str)
        return content


def _refusal(status: int, content: bytes | str) -> PlatformRefusal:
    try:
        error = json.loads(content)
        return PlatformRefusal(status, str(error["code"]), str(error.get("message", "")))
    except (ValueError, KeyError, TypeError):
        return PlatformRefusal(status, "UNKNOWN", str(content)[:200])


def _trade(answer: Mapping[str, Any]) -> Trade:
    """A query answer or a notification's resource as a Trade."""
    try:
        state = _STATES[str(answer["trade_state"])]
        amount = answer["amount"]["total"]
        number = str(answer["out_trade_no"])
        paid = answer.get("success_time")
    except (KeyError, TypeError) as exc:
        raise PlatformDown(f"a trade without trade_state, out_trade_no or amount: {exc}") \
            from exc
    if type(amount) is not int or amount < 0:
        raise PlatformDown("amount.total is not fen")
    return Trade(out_trade_no=number, trade_no=str(answer.get("transaction_id", "")),
                 state=state, amount_fen=amount, paid_at=_cst(paid) if paid else None)


def _rfc3339(moment: datetime) -> str:
    """A naive time is CST (the project's stored times); WeChat wants an offset."""
    aware = moment.replace(tzinfo=CST) if moment.tzinfo is None else moment
    return aware.isoformat(timespec="seconds")


def _cst(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).astimezone(CST).replace(tzinfo=None)
    except (ValueError, TypeError) as exc:
        raise PlatformDown(f"success_time {str(text)[:40]!r}") from exc


def _unpack(packed: bytes | str) -> bytes:
    data = packed.encode() if isinstance(packed, str) else packed
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unpacked:
            text = unpacked.read(BILL_BYTES_MAX + 1)
    except (OSError, EOFError) as exc:
        raise PlatformDown(f"the bill does not unpack: {exc}") from exc
    if len(text) > BILL_BYTES_MAX:
        raise PlatformDown("the bill is larger than BILL_BYTES_MAX")
    return text


if TYPE_CHECKING:  # mypy --strict checks that the client is a Platform
    _IS_A_PLATFORM: type[Platform] = WeChatPayPlatform
