"""A small HIS-side client of the national interface: builds envelopes, msgids and
gateway signatures (x-tif, or AK/SK with ``access_key``/``secret_key``). Used by the
tests, the benchmarks and the README walk-through.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from yibao.api.gateway import signature
from yibao.api.hospital import ROUTE
from yibao.domain import gateway_keys

Transport = Callable[[dict[str, str], bytes], bytes]


def httpx_transport(client: Any, base_url: str = "") -> Transport:
    """Send through an httpx.Client (or starlette's TestClient); returns the body."""

    def send(headers: dict[str, str], body: bytes) -> bytes:
        reply = client.post(base_url + ROUTE, content=body, headers=headers)
        reply.raise_for_status()
        content: bytes = reply.content
        return content

    return send


class HisClient:
    """One institution's HIS: signs every request with its x-tif token, or with an AK/SK
    pair when ``access_key`` and ``secret_key`` are given (``api_name``: how the
    ``_api_name`` header spells the service, ``{infno}`` replaced by the transaction
    number; ``api_version`` its ``_api_version``)."""

    def __init__(self, transport: Transport, code: str, token: str, *, area: str = "110000",
                 access_key: str = "", secret_key: str = "", api_name: str = "{infno}",
                 api_version: str = "1.0.0"):
        assert bool(access_key) == bool(secret_key), "an AK/SK pair: both or neither"
        self.transport = transport
        self.code = code
        self.token = token
        self.area = area
        self.access_key = access_key
        self.secret_key = secret_key
        self.api_name = api_name
        self.api_version = api_version
        self.sign_no = ""
        self._last_ms = 0
        self._serial = itertools.count(1)
        self.last_msgid = ""

    def next_msgid(self) -> str:
        serial = next(self._serial) % 10000
        return f"{self.code[:12]}{datetime.now():%Y%m%d%H%M%S}{serial:04d}"

    def envelope(
        self, infno: str, payload: dict[str, Any], msgid: str | None = None
    ) -> dict[str, Any]:
        self.last_msgid = msgid or self.next_msgid()
        return {
            "infno": infno, "msgid": self.last_msgid, "mdtrtarea_admvs": self.area,
            "insuplc_admdvs": self.area, "recer_sys_code": "FSI_LOCAL", "dev_no": "null",
            "dev_safe_info": "null", "cainfo": "null", "signtype": "SM2", "infver": "1.0.0",
            "opter_type": "1", "opter": "001", "opter_name": "收费员",
            "inf_time": f"{datetime.now():%Y-%m-%d %H:%M:%S}", "fixmedins_code": self.code,
            "fixmedins_name": "demo", "sign_no": self.sign_no, "input": payload,
        }

    def headers(self, *, nonce: str | None = None, timestamp: int | None = None,
                infno: str = "") -> dict[str, str]:
        """The gateway headers of one request: x-tif (``timestamp`` in unix seconds), or
        AK/SK (``timestamp`` in unix milliseconds; ``nonce`` unused: it has none)."""
        if self.access_key:
            return self.aksk_headers(timestamp=timestamp, infno=infno)
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(16)
        return {
            "x-tif-paasid": self.code, "x-tif-timestamp": ts, "x-tif-nonce": nonce,
            "x-tif-signature": signature(ts, self.token, nonce),
            "content-type": "application/json",
        }

    def aksk_headers(self, *, timestamp: int | None = None, infno: str = "") -> dict[str, str]:
        signed = {
            gateway_keys.NAME: self.api_name.replace("{infno}", infno),
            gateway_keys.VERSION: self.api_version,
            gateway_keys.TIMESTAMP: str(self._next_ms() if timestamp is None else timestamp),
            gateway_keys.ACCESS_KEY: self.access_key,
        }
        return {**signed, gateway_keys.SIGNATURE: gateway_keys.signature(self.secret_key, signed),
                "content-type": "application/json"}

    def _next_ms(self) -> int:
        """Now in unix milliseconds, later than the last request's: AK/SK has no nonce,
        so two requests in one millisecond would sign alike (the second a replay)."""
        self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
        return self._last_ms

    def send_raw(self, message: dict[str, Any], **header_options: Any) -> bytes:
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
        header_options.setdefault("infno", str(message.get("infno", "")))
        return self.transport(self.headers(**header_options), body)

    def send(self, message: dict[str, Any], **header_options: Any) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(self.send_raw(message, **header_options))
        return answer

    def call(self, infno: str, payload: dict[str, Any], msgid: str | None = None) -> dict[str, Any]:
        return self.send(self.envelope(infno, payload, msgid))

    def sign_in(self) -> str:
        answer = self.call("9001", {"signIn": {"opter_no": "001", "mac": "00-00", "ip": "::1"}})
        assert answer["infcode"] == 0, answer
        self.sign_no = answer["output"]["signinoutb"]["sign_no"]
        return self.sign_no
