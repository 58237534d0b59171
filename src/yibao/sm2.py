"""SM2 keys and SM3withSM2 signatures (GB/T 32918, user id 1234567812345678), as the
mobile-payment centre's envelope (api/mpc_envelope.py) and the electronic-prescription
centre's signatures (services/prescriptions.py) use them. Pure: no I/O; the only
randomness is the nonce k (injectable).

gmssl's SM2, wrapped: its constructor strips a ``04`` prefix with ``lstrip("04")`` (which
also eats a point's leading 0 and 4 digits), its own nonce k comes from ``random``, and
it checks neither the ranges of r and s nor that a public key is a point of the curve;
all of that is done here.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gmssl import sm2  # type: ignore[import-untyped]

__all__ = ["KeyPair", "key_pair", "new_key_pair", "sign", "verify"]

USER_ID = "1234567812345678"  # SM2's default user id (GB/T 35276): the one gmssl hashes into Z
SIGNATURE_BYTES = 64  # r ‖ s
PRIVATE_KEY_BYTES = 32
POINT_BYTES = 64  # x ‖ y; 65 with the uncompressed-point prefix 04
SIGN_ATTEMPTS_MAX = 8  # a k giving r = 0, r + k = n or s = 0 is drawn again (p ~ 2^-254)
PUBLIC_POINTS_CACHED_MAX = 64
_ECC = sm2.default_ecc_table
_N, _P = int(_ECC["n"], 16), int(_ECC["p"], 16)
_A, _B = int(_ECC["a"], 16), int(_ECC["b"], 16)
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


# ---------------------------------------------------------------- keys and signatures


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An SM2 key pair as the envelope's parties exchange them: the private key base64
    of 32 bytes, the public key base64 of 65 bytes (04 ‖ x ‖ y)."""

    private_key: str
    public_key: str


def key_pair(private_key: str) -> KeyPair:
    """The pair of a private key (base64 of 32 bytes); ValueError when it is not one."""
    scalar = _private_scalar(private_key)
    return KeyPair(private_key, _b64(b"\x04" + bytes.fromhex(_public_point(scalar))))


def new_key_pair(randbelow: Callable[[int], int] = secrets.randbelow) -> KeyPair:
    """A fresh key pair (d uniform in 1..n-2)."""
    scalar = randbelow(_N - 2) + 1
    return key_pair(_b64(scalar.to_bytes(PRIVATE_KEY_BYTES, "big")))


def sign(text: str, private_key: str,
         randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """SM3withSM2 of the UTF-8 ``text`` with the default user id: r ‖ s, base64."""
    scalar = _private_scalar(private_key)
    signer = _sm2(f"{scalar:064x}", _public_point(scalar))
    for _ in range(SIGN_ATTEMPTS_MAX):
        k = randbelow(_N - 1) + 1
        signature = signer.sign_with_sm3(text.encode("utf-8"), f"{k:064x}")
        if signature is not None:
            return _b64(bytes.fromhex(signature))
    raise AssertionError("no SM2 signature in SIGN_ATTEMPTS_MAX draws of k")


def verify(text: str, signature: str, public_key: str) -> bool:
    """Whether ``signature`` (base64 r ‖ s) is the SM3withSM2 signature of ``text`` by
    the holder of ``public_key``; False for anything malformed, never an exception."""
    try:
        raw = _b64decode(signature)
        point = _public_hex(public_key)
    except ValueError:
        return False
    if len(raw) != SIGNATURE_BYTES:
        return False
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    if not (0 < r < _N and 0 < s < _N):
        return False
    try:
        return bool(_sm2("", point).verify_with_sm3(raw.hex(), text.encode("utf-8")))
    except (TypeError, ValueError):  # gmssl meets the point at infinity
        return False


def _sm2(private_hex: str, public_hex: str) -> Any:
    """gmssl's signer with the keys set after construction (its constructor would
    ``lstrip("04")`` the public key)."""
    signer = sm2.CryptSM2(private_key="", public_key="")
    signer.private_key, signer.public_key = private_hex, public_hex
    return signer


@lru_cache(maxsize=PUBLIC_POINTS_CACHED_MAX)
def _public_point(scalar: int) -> str:
    """d·G as 128 hex digits (x ‖ y); the centre's own is computed once."""
    point: str = _sm2("", "")._kg(scalar, _ECC["g"])
    return point


def _private_scalar(private_key: str) -> int:
    raw = _b64decode(private_key)
    scalar = int.from_bytes(raw, "big")
    if len(raw) != PRIVATE_KEY_BYTES or not 0 < scalar < _N - 1:
        raise ValueError("an SM2 private key is base64 of 32 bytes, 1 <= d <= n-2")
    return scalar


def _public_hex(public_key: str) -> str:
    """The point of a base64 public key (64 bytes, or 65 with 04 first) as 128 hex
    digits; ValueError when it is not a point of the curve."""
    raw = _b64decode(public_key)
    if len(raw) == POINT_BYTES + 1 and raw[0] == 4:
        raw = raw[1:]
    if len(raw) != POINT_BYTES:
        raise ValueError("an SM2 public key is 64 bytes, or 65 with the prefix 04")
    x, y = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    if not (x < _P and y < _P and (y * y - x * x * x - _A * x - _B) % _P == 0):
        raise ValueError("not a point of the SM2 curve")
    return raw.hex()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64decode(text: str) -> bytes:
    if not isinstance(text, str) or not _BASE64.fullmatch(text):
        raise ValueError("not base64")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc
