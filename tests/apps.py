"""A certified app calling the channel API (/channel/v1) with signed requests."""

from __future__ import annotations

import json
import time
from datetime import datetime

from flows import WANG_FANG
from yibao.api.channel import signature
from yibao.store.demo import demo_token

WANG = {"insured_place": "110000", "name": "王芳", "certno": WANG_FANG}
# an attestation made at the default test clock (2026-05-11 09:30); ChannelApp.attestation()
# makes a fresh one at the app's clock with a reference of its own
FACE_OK = {"method": "face_liveness", "evidence_ref": "FL-test-000000",
           "attested_at": "2026-05-11T09:29:30"}
PAYEE = {"bank_name": "中国工商银行北京分行", "bank_account": "6222020200001234567"}


class ChannelApp:
    """A certified app calling the channel API with signed requests; its real-person
    checks are attestations of an accepted method, made at the test clock."""

    def __init__(self, http, channel_id: str = "CH-BJAPP") -> None:
        self.http, self.channel_id = http, channel_id
        self.counter = 0

    def post(self, path: str, body: dict | None = None, *, nonce: str = "", secret: str = "",
             key: str | bytes | None = None):
        """A signed POST; ``key``: its Idempotency-Key (None: a fresh one, "": none)."""
        raw = json.dumps(body or {}).encode()
        ts = str(int(time.time()))
        self.counter += 1
        nonce = nonce or f"n{self.counter}-{time.perf_counter_ns()}"
        sig = signature(secret or demo_token(self.channel_id), "POST", path, ts, nonce, raw)
        headers = {"x-yb-channel": self.channel_id, "x-yb-timestamp": ts, "x-yb-nonce": nonce,
                   "x-yb-signature": sig, "content-type": "application/json"}
        if key is None:
            key = f"k{self.counter}-{time.perf_counter_ns()}"
        if key:
            headers["Idempotency-Key"] = key
        return self.http.post(path, content=raw, headers=headers)

    def now(self) -> datetime:
        return self.http.app.state.clock()

    def attestation(self, method: str = "face_liveness", **override) -> dict:
        """A fresh real-person attestation: now, with a reference never used before."""
        self.counter += 1
        return {"method": method, "evidence_ref": f"EV-{self.counter}-{time.perf_counter_ns()}",
                "attested_at": self.now().isoformat(), **override}

    def activate(self, pin: str = "135790", **override) -> str:
        reply = self.post("/channel/v1/certificates",
                          dict(WANG, pin=pin, real_person=self.attestation(), **override))
        assert reply.status_code == 201, reply.text
        return str(reply.json()["cert_id"])

    def qr(self, cert_id: str, pin: str = "135790"):
        return self.post(f"/channel/v1/certificates/{cert_id}/qr", {"pin": pin})

    def register_payee(self, cert_id: str, pin: str = "135790", account_name: str = "王芳",
                       **payee) -> dict:
        """Register the account the holder's app claims pay to (PAYEE unless given)."""
        reply = self.post(f"/channel/v1/certificates/{cert_id}/payee", dict(
            PAYEE, **payee, pin=pin, account_name=account_name,
            real_person=self.attestation("bank_card_four")))
        assert reply.status_code == 201, reply.text
        return dict(reply.json())

    def notices(self, cert_id: str, pin: str = "135790") -> list[dict]:
        reply = self.post(f"/channel/v1/certificates/{cert_id}/notifications/list",
                          {"pin": pin})
        assert reply.status_code == 200, reply.text
        return list(reply.json())
