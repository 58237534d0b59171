"""A small HIS-side client of the national interface: builds envelopes, msgids and
gateway signatures. Used by the tests, the benchmarks and the README walk-through.
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
    """One institution's HIS: signs every request with its token."""

    def __init__(self, transport: Transport, code: str, token: str, *, area: str = "110000"):
        self.transport = transport
        self.code = code
        self.token = token
        self.area = area
        self.sign_no = ""
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

    def headers(self, *, nonce: str | None = None, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(16)
        return {
            "x-tif-paasid": self.code, "x-tif-timestamp": ts, "x-tif-nonce": nonce,
            "x-tif-signature": signature(ts, self.token, nonce),
            "content-type": "application/json",
        }

    def send_raw(self, message: dict[str, Any], **header_options: Any) -> bytes:
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
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
