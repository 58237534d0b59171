"""The mobile-payment centre's envelope (SM2/SM4) as deployed centres and the published
hospital clients speak it (docs/online-payment-transport.md). Pure: no I/O and no clock
(``now`` is an argument); the only randomness is SM2's nonce k (injectable).

An envelope is ``{appId, encType: "SM4", signType: "SM2", version, timestamp, encData,
signData}`` (an answer adds ``code`` and ``message``); the business ``data`` travels only
as ``encData``:

- ``clean``: the data without null, "", {} and [] (recursively; booleans and 0 stay);
- ``sign_string``: every top-level field but signData, encData and extra, with ``data``
  the cleaned plaintext, sorted by key, empty values skipped, ``k=v`` joined with ``&``,
  then ``&key=<appSecret>``; a string as itself, anything else as compact JSON (keys
  sorted, no spaces, Chinese not escaped);
- ``sign``/``verify``: SM3withSM2 with the user id 1234567812345678, r‖s (64 bytes) base64;
- ``encrypt``/``decrypt``: SM4-ECB, PKCS#7, upper-case hex, with ``derive_key``'s key.

SM2 signatures and keys are yibao/sm2.py's (gmssl, wrapped). SM4 is OpenSSL's through
``cryptography``: gmssl's pure-Python SM4 runs at about 180 KB/s, so a 4 MB body would
hold a worker for 20 s; the reference's vectors and tests/test_mpc_envelope.py check the two agree.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from yibao.api import envelope as env_mod
from yibao.domain.errors import Refused
from yibao.domain.mpc import App
from yibao.domain.text import is_digits
from yibao.services.context import CHINA
from yibao.sm2 import KeyPair, key_pair, new_key_pair, sign, verify

__all__ = ["App", "KeyPair", "clean", "decrypt", "derive_key", "encrypt", "key_pair",
           "new_key_pair", "open_request", "seal", "sign", "sign_string", "verify"]

ENC_TYPE, SIGN_TYPE, VERSION = "SM4", "SM2", "2.0.1"
UNSIGNED = frozenset({"signData", "encData", "extra"})
WINDOW_SECONDS = 300  # a request's timestamp against the centre's clock
SUCCESS_CODE, REFUSED_CODE, SUCCESS_MESSAGE = 0, -1, "success"
SM4_KEY_BYTES = SM4_BLOCK_BYTES = 16
APP_ID_TEXT_MAX = 40
SIGN_DATA_TEXT_MAX = 200  # base64 of 64 bytes is 88 characters
TIMESTAMP_TEXT_MAX = 14
_HEX = re.compile(r"(?:[0-9A-Fa-f]{32})+")


# ---------------------------------------------------------------- cleaning and signing


def clean(value: Any) -> Any:
    """``value`` without null, "", empty objects and empty arrays at any depth (a
    container left empty by the cleaning goes too); booleans, 0 and "0" stay."""
    if isinstance(value, Mapping):
        cleaned = {k: clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if not _empty(v)}
    if isinstance(value, list):
        return [item for item in map(clean, value) if not _empty(item)]
    return value


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str | Mapping | list):
        return len(value) == 0
    return False


def compact(value: Any) -> str:
    """Compact JSON, keys sorted at every depth, non-ASCII not escaped, a ``Decimal``
    as its digits (``0.10`` stays ``0.10``), a time as ``yyyy-MM-dd HH:mm:ss``."""
    if isinstance(value, Mapping):
        members = (f"{_string(str(k))}:{compact(v)}" for k, v in sorted(value.items()))
        return "{" + ",".join(members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(compact(item) for item in value) + "]"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _string(value.strftime("%Y-%m-%d %H:%M:%S"))
    if isinstance(value, int | float):
        return json.dumps(value)
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def sign_string(envelope: Mapping[str, Any], data: Any, app_secret: str) -> str:
    """The text an envelope's signData signs: ``envelope``'s fields but signData,
    encData and extra, with ``data`` (cleaned) in place of the ciphertext."""
    fields = {k: v for k, v in envelope.items() if k not in UNSIGNED}
    fields["data"] = clean(data)
    pairs = [f"{k}={v if isinstance(v, str) else compact(v)}"
             for k, v in sorted(fields.items()) if not _empty(v)]
    return "&".join([*pairs, f"key={app_secret}"])


# ---------------------------------------------------------------- encryption


def derive_key(app_id: str, app_secret: str) -> bytes:
    """The SM4 key: SM4-ECB/PKCS#7 of the UTF-8 appSecret under the first 16 ASCII bytes
    of the appId; the first 16 characters of its upper-case hex, as ASCII bytes."""
    head = app_id[:SM4_KEY_BYTES].encode("ascii")
    if len(head) != SM4_KEY_BYTES:
        raise ValueError("an appId has at least 16 ASCII characters")
    sealed = _sm4(head, _pad(app_secret.encode("utf-8")), encrypt=True)
    return sealed.hex().upper()[:SM4_KEY_BYTES].encode("ascii")


def encrypt(data: Any, key: bytes) -> str:
    """encData: SM4-ECB/PKCS#7 of ``data``'s compact JSON, upper-case hex."""
    return _sm4(key, _pad(compact(data).encode("utf-8")), encrypt=True).hex().upper()


def decrypt(text: str, key: bytes) -> Any:
    """The JSON value ``encData`` holds (hex of either case); Refused E-MPC-003 when it
    is not whole blocks of hex, its padding is wrong or the plaintext is not JSON."""
    if not isinstance(text, str) or not _HEX.fullmatch(text):
        raise Refused("E-MPC-003", "encData is not hex of whole 16-byte blocks")
    plain = _unpad(_sm4(key, bytes.fromhex(text), encrypt=False))
    try:
        return env_mod.loads(plain.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise Refused("E-MPC-003", f"the plaintext is not JSON ({type(exc).__name__})") from exc


def _sm4(key: bytes, data: bytes, *, encrypt: bool) -> bytes:
    assert len(key) == SM4_KEY_BYTES and len(data) % SM4_BLOCK_BYTES == 0
    cipher = Cipher(algorithms.SM4(key), modes.ECB())
    work = cipher.encryptor() if encrypt else cipher.decryptor()
    return work.update(data) + work.finalize()


def _pad(data: bytes) -> bytes:
    size = SM4_BLOCK_BYTES - len(data) % SM4_BLOCK_BYTES
    return data + bytes([size]) * size


def _unpad(data: bytes) -> bytes:
    size = data[-1] if data else 0
    if not 0 < size <= SM4_BLOCK_BYTES or data[-size:] != bytes([size]) * size:
        raise Refused("E-MPC-003", "wrong padding: not this app's key?")
    return data[:-size]


# ---------------------------------------------------------------- envelopes


def app_id_of(body: Mapping[str, Any]) -> str:
    """The envelope's appId (E-ENV-002 when it is missing or not a short text)."""
    return _text(body, "appId", APP_ID_TEXT_MAX)


def open_request(body: Mapping[str, Any], app: App, *, now_unix: float) -> dict[str, Any]:
    """The business data of a request envelope of ``app``, checked in this order: the
    envelope's fields (E-ENV-002), its timestamp within WINDOW_SECONDS of ``now_unix``
    (E-MPC-004), the decryption (E-MPC-003; data must be an object, E-ENV-005), the
    signature by the institution's key over the plaintext (E-MPC-002)."""
    if body.get("encType", ENC_TYPE) != ENC_TYPE or body.get("signType", SIGN_TYPE) != SIGN_TYPE:
        raise Refused("E-ENV-002", f"encType must be {ENC_TYPE}, signType {SIGN_TYPE}")
    encrypted = _text(body, "encData", env_mod.BODY_BYTES_MAX)
    signature = _text(body, "signData", SIGN_DATA_TEXT_MAX)
    sent = sent_at(body.get("timestamp"))
    if sent is None or abs(sent - now_unix) > WINDOW_SECONDS:
        raise Refused("E-MPC-004", "yyyyMMddHHmmss (China time) or epoch milliseconds, "
                      f"within {WINDOW_SECONDS} s")
    data = decrypt(encrypted, derive_key(app.app_id, app.app_secret))
    if not isinstance(data, dict):
        raise Refused("E-ENV-005", "data must be a JSON object")
    if env_mod.depth(data) > env_mod.JSON_DEPTH_MAX:
        raise Refused("E-ENV-006", f"data nested deeper than {env_mod.JSON_DEPTH_MAX}")
    if not verify(sign_string(body, data, app.app_secret), signature, app.public_key):
        raise Refused("E-MPC-002", "over the cleaned plaintext, with the institution's key")
    return data


def open_answer(body: Mapping[str, Any], app: App, centre_public_key: str) -> Any:
    """The data of an envelope the centre sealed (what a hospital does with an answer or
    a callback): decrypted, its signature verified with the centre's public key;
    Refused E-MPC-003 / E-MPC-002 otherwise."""
    data = decrypt(_text(body, "encData", env_mod.BODY_BYTES_MAX),
                   derive_key(app.app_id, app.app_secret))
    signature = _text(body, "signData", SIGN_DATA_TEXT_MAX)
    if not verify(sign_string(body, data, app.app_secret), signature, centre_public_key):
        raise Refused("E-MPC-002", "not sealed by the centre's key")
    return data


def seal(data: Any, app: App, platform_private_key: str, now: datetime, *,
         result: tuple[int, str] | None = None,
         randbelow: Callable[[int], int] = secrets.randbelow) -> dict[str, Any]:
    """The centre's envelope of ``data`` for ``app`` at ``now`` (China time): an answer
    (``result``: its code and message, both signed) or a callback (6204, 6302, the
    payment notification: no result), encrypted with the app's key and signed with the
    centre's private key."""
    envelope: dict[str, Any] = {
        "appId": app.app_id, "encType": ENC_TYPE, "signType": SIGN_TYPE,
        "version": VERSION, "timestamp": f"{now:%Y%m%d%H%M%S}",
    }
    if result is not None:
        envelope["code"], envelope["message"] = result
    cleaned = clean(data)
    text = sign_string(envelope, cleaned, app.app_secret)
    return {**envelope, "encData": encrypt(cleaned, derive_key(app.app_id, app.app_secret)),
            "signData": sign(text, platform_private_key, randbelow)}


def unsealed(refusal: Refused, app_id: str = "") -> dict[str, Any]:
    """The answer to a request the centre cannot seal for (not JSON, no or an unknown
    appId): the envelope's fields, ``code`` -1 and the refusal, no encData/signData."""
    return {"appId": app_id, "encType": ENC_TYPE, "signType": SIGN_TYPE, "version": VERSION,
            "code": REFUSED_CODE, "message": refusal.message}


def sent_at(value: Any) -> int | None:
    """A timestamp's unix seconds: 14 digits ``yyyyMMddHHmmss`` of China time, or 13
    digits of epoch milliseconds (text or a JSON number); None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > TIMESTAMP_TEXT_MAX or not is_digits(value):
        return None
    if len(value) == 13:
        return int(value) // 1000
    if len(value) != 14:
        return None
    try:
        moment = datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=CHINA)
    except ValueError:
        return None
    return int(moment.timestamp())


def nonce_of(signature: str) -> str:
    """What the replay check records of a request: the SHA-256 (hex) of its signData."""
    return hashlib.sha256(signature.encode("utf-8")).hexdigest()


def _text(body: Mapping[str, Any], name: str, length_max: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > length_max:
        raise Refused("E-ENV-002", f"{name}: a text of 1..{length_max} characters")
    return value
