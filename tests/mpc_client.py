"""A hospital's side of the mobile-payment centre's envelope, for tests: it seals requests
as a published hospital client does (with a demo institution's appId, appSecret and SM2
private key: store/demo.py) and opens the centre's answers with the centre's public key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from yibao.api import envelope as env_mod
from yibao.api import mpc
from yibao.api import mpc_envelope as codec
from yibao.store.demo import demo_mpc_app, demo_mpc_private_key


def china_stamp(moment: datetime) -> str:
    """A request timestamp: yyyyMMddHHmmss of a naive China time."""
    return f"{moment:%Y%m%d%H%M%S}"


class MpcHospital:
    """A demo institution calling the centre's routes through ``http``."""

    def __init__(self, http: TestClient, code: str = "H11010500001", *,
                 centre_public_key: str = mpc.DEMO_PUBLIC_KEY) -> None:
        self.http = http
        self.app = demo_mpc_app(code)
        self.private_key = demo_mpc_private_key(code)
        self.centre_public_key = centre_public_key

    def envelope(self, data: dict[str, Any], timestamp: str | int, *,
                 private_key: str | None = None, app_id: str | None = None) -> dict[str, Any]:
        """The request envelope of ``data``: signed over the cleaned plaintext, then the
        cleaned data encrypted with the key derived from the appId and appSecret."""
        fields = {"appId": app_id or self.app.app_id, "encType": "SM4", "signType": "SM2",
                  "version": "2.0.1", "timestamp": timestamp}
        text = codec.sign_string(fields, data, self.app.app_secret)
        key = codec.derive_key(self.app.app_id, self.app.app_secret)
        return {**fields, "encData": codec.encrypt(codec.clean(data), key),
                "signData": codec.sign(text, private_key or self.private_key)}

    def post(self, name: str, body: dict[str, Any] | bytes) -> dict[str, Any]:
        """POST to ``/org/local/api/hos/<name>``: the answer (always HTTP 200, JSON)."""
        content = body if isinstance(body, bytes) else env_mod.dumps(body).encode()
        response = self.http.post(f"{mpc.PREFIX}/{name}", content=content,
                                  headers={"content-type": "application/json"})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = env_mod.loads(response.text)
        return answer

    def call(self, name: str, data: dict[str, Any], timestamp: str | int) -> dict[str, Any]:
        return self.post(name, self.envelope(data, timestamp))

    def opened(self, answer: dict[str, Any]) -> Any:
        """The data of a sealed answer, its signature verified with the centre's key
        (Refused E-MPC-002/003 when it does not verify or decrypt)."""
        return codec.open_answer(answer, self.app, self.centre_public_key)
