"""A certified app calling the channel API (/channel/v1) with signed requests."""

from __future__ import annotations

import json
import time

from flows import WANG_FANG
from yibao.api.channel import signature
from yibao.store.demo import demo_token

WANG = {"insured_place": "110000", "name": "王芳", "certno": WANG_FANG}
FACE_OK = {"verified": True, "method": "face-liveness"}


class ChannelApp:
    """A certified app calling the channel API with signed requests."""

    def __init__(self, http, channel_id: str = "CH-BJAPP") -> None:
        self.http, self.channel_id = http, channel_id
        self.counter = 0

    def post(self, path: str, body: dict | None = None, *, nonce: str = "", secret: str = ""):
        raw = json.dumps(body or {}).encode()
        ts = str(int(time.time()))
        self.counter += 1
        nonce = nonce or f"n{self.counter}-{time.perf_counter_ns()}"
        sig = signature(secret or demo_token(self.channel_id), "POST", path, ts, nonce, raw)
        return self.http.post(path, content=raw, headers={
            "x-yb-channel": self.channel_id, "x-yb-timestamp": ts, "x-yb-nonce": nonce,
            "x-yb-signature": sig, "content-type": "application/json"})

    def activate(self, pin: str = "135790", **override) -> str:
        reply = self.post("/channel/v1/certificates",
                          dict(WANG, pin=pin, real_person=FACE_OK, **override))
        assert reply.status_code == 201, reply.text
        return str(reply.json()["cert_id"])

    def qr(self, cert_id: str, pin: str = "135790"):
        return self.post(f"/channel/v1/certificates/{cert_id}/qr", {"pin": pin})
