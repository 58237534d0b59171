"""How a channel signs its requests, as the OpenAPI declares it: the security schemes
(apiKey headers) and the channel tag's description with a worked example in curl and
Python against the demo sandbox channel. docs/channel-api.md carries the same snippets
(tests/test_channel_api.py keeps them equal and runs the Python one against the app)."""

from __future__ import annotations

from typing import Any

SANDBOX_ID = "CH-SANDBOX"
SANDBOX_SECRET = "demo-CH-SANDBOX"  # published: the sandbox acts only on demo persons

# a known answer: the signature of this request with the sandbox secret
KNOWN_ANSWER = {
    "method": "POST", "path": "/channel/v1/certificates/EC20260511093000abcdef/account",
    "timestamp": "1780000000", "nonce": "n-0001", "body": '{"pin": "135790"}',
    "signature": "86bcfad9185b8b0d5e5f52c4a5f62bab984a6936b98dc5aa34d632b454ee1e86",
}

PYTHON_EXAMPLE = '''\
import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx

BASE = "http://127.0.0.1:8080"  # yibao demo
CHANNEL, SECRET = "CH-SANDBOX", "demo-CH-SANDBOX"  # the published sandbox credentials


def signed_post(client, path, body, idempotency_key=None):
    """POST a JSON body signed as the channel; a write carries its Idempotency-Key."""
    raw = json.dumps(body, ensure_ascii=False).encode()
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex
    to_sign = "\\n".join(["POST", path, timestamp, nonce, hashlib.sha256(raw).hexdigest()])
    headers = {
        "content-type": "application/json",
        "x-yb-channel": CHANNEL,
        "x-yb-timestamp": timestamp,
        "x-yb-nonce": nonce,
        "x-yb-signature": hmac.new(SECRET.encode(), to_sign.encode(),
                                   hashlib.sha256).hexdigest(),
    }
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return client.post(path, content=raw, headers=headers)


china_now = datetime.now(timezone(timedelta(hours=8)))
with httpx.Client(base_url=BASE) as client:
    activation = {
        "insured_place": "110000", "name": "王芳", "certno": "110105198503150027",
        "pin": "135790",
        "real_person": {"method": "face_liveness", "evidence_ref": uuid.uuid4().hex[:32],
                        "attested_at": china_now.isoformat(timespec="seconds")},
    }
    key = uuid.uuid4().hex  # keep it: a retry of this write sends the same key and body
    answer = signed_post(client, "/channel/v1/certificates", activation, key)
    assert answer.status_code == 201, answer.text
    again = signed_post(client, "/channel/v1/certificates", activation, key)
    assert again.json() == answer.json()  # answered again, not activated twice
    cert_id = answer.json()["cert_id"]
    account = signed_post(client, f"/channel/v1/certificates/{cert_id}/account",
                          {"pin": "135790", "limit": 10})
    print("balance", account.json()["balance"])
'''

CURL_EXAMPLE = '''\
BASE=http://127.0.0.1:8080 CHANNEL=CH-SANDBOX SECRET=demo-CH-SANDBOX
URL_PATH=/channel/v1/certificates/$CERT_ID/account   # the cert_id activation answered
BODY='{"pin": "135790", "limit": 10}'
TS=$(date +%s) NONCE=$(openssl rand -hex 16)
BODY_SHA=$(printf '%s' "$BODY" | openssl dgst -sha256 -r | cut -d' ' -f1)
SIG=$(printf 'POST\\n%s\\n%s\\n%s\\n%s' "$URL_PATH" "$TS" "$NONCE" "$BODY_SHA" \\
      | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
curl -s "$BASE$URL_PATH" -H 'content-type: application/json' \\
     -H "x-yb-channel: $CHANNEL" -H "x-yb-timestamp: $TS" -H "x-yb-nonce: $NONCE" \\
     -H "x-yb-signature: $SIG" --data "$BODY"
# a write adds -H "Idempotency-Key: $(openssl rand -hex 16)" (kept for its retries)
'''

_SIGNING = (
    "Every /channel/v1 request is signed with the channel's secret: `x-yb-signature` is "
    "the hex HMAC-SHA256 over `METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nhex(SHA-256(body))` "
    "(PATH without the query; the body's exact bytes). All four headers are required on "
    "every route; `Idempotency-Key` on every write (the routes that declare it).")

_IN_DOCS = "In /docs: leave it empty, the page sets it."

SECURITY_SCHEMES: dict[str, Any] = {
    "ChannelId": {"type": "apiKey", "in": "header", "name": "x-yb-channel",
                  "description": "The channel's id (demo sandbox: CH-SANDBOX)."},
    "ChannelTimestamp": {"type": "apiKey", "in": "header", "name": "x-yb-timestamp",
                         "description": "Unix seconds, within ±300 s of the server. "
                         + _IN_DOCS},
    "ChannelNonce": {"type": "apiKey", "in": "header", "name": "x-yb-nonce",
                     "description": "1..64 printable characters, never used before by the "
                     "channel (a reused nonce: 401). " + _IN_DOCS},
    "ChannelSignature": {"type": "apiKey", "in": "header", "name": "x-yb-signature",
                         "description": _SIGNING + " The requirement names the scope the "
                         "route needs (activation, payment, own_data, claims): without "
                         "it, 403 E-CHN-001. **In /docs: type the channel's secret here** "
                         "(sandbox: `demo-CH-SANDBOX`): the page signs each request with it "
                         "and sends only the signature."},
    "IdempotencyKey": {"type": "apiKey", "in": "header", "name": "Idempotency-Key",
                       "description": "1..64 printable ASCII characters, one per write: a "
                       "retry with the same key, path and body gets the first answer again "
                       "(header Idempotent-Replayed: true) without acting twice; the same "
                       "key with another path or body: 409 E-CHN-003. Kept 24 hours. In "
                       "/docs: leave it empty and each write gets a fresh key, or authorise "
                       "one to send it every time (a retry)."},
}

TAG: dict[str, Any] = {
    "name": "channel",
    "description": (
        "The open interface for certified channels (docs/channel-api.md). " + _SIGNING
        + " A channel's credential carries scopes; each route declares the one it needs. "
        "Rate limit per channel: 429 E-CHN-004 with Retry-After.\n\n"
        "Sandbox: the demo channel `CH-SANDBOX`, secret `demo-CH-SANDBOX`, acts only on "
        "the demo persons (E-CHN-005 otherwise).\n\n"
        "Try it here: Authorize with `ChannelId` = the channel id and `ChannelSignature` = "
        "its secret; this page then signs each request (WebCrypto HMAC-SHA256) and adds an "
        "Idempotency-Key to each write (docs/channel-api.md, \"Trying it in /docs\").\n\n"
        "Known answer: POST `" + KNOWN_ANSWER["path"] + "`, timestamp "
        + KNOWN_ANSWER["timestamp"] + ", nonce `" + KNOWN_ANSWER["nonce"] + "`, body `"
        + KNOWN_ANSWER["body"] + "` → `" + KNOWN_ANSWER["signature"] + "`.\n\n"
        "curl:\n\n```sh\n" + CURL_EXAMPLE + "```\n\nPython (httpx):\n\n```python\n"
        + PYTHON_EXAMPLE + "```\n"),
}
