"""WeChat Pay API v3's signatures and encryption, as the platform does them (the
simulator's side; the merchant's side is the wechatpayv3 library).

- A merchant request carries ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",
  nonce_str="…",signature="…",timestamp="…",serial_no="…"``: the signature is
  SHA256withRSA (PKCS#1 v1.5), base64, over ``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\n
  BODY\\n`` with the merchant's private key.
- An answer or a notification carries ``Wechatpay-Timestamp``, ``Wechatpay-Nonce``,
  ``Wechatpay-Signature`` (over ``TIMESTAMP\\nNONCE\\nBODY\\n`` with the platform's private
  key), ``Wechatpay-Serial`` (the platform public key id, ``PUB_KEY_ID_…``) and
  ``Wechatpay-Signature-Type``.
- A notification's ``resource`` is AEAD_AES_256_GCM with the APIv3 key: the
  ``ciphertext`` is base64 of ciphertext+tag, the ``nonce`` 12 ASCII characters.
"""

from __future__ import annotations

import base64
import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from yibao.thirdpay.keys import PlatformKeys, load_private

SCHEME = "WECHATPAY2-SHA256-RSA2048"
TIMESTAMP_SKEW_MAX_S = 300  # a request's timestamp may be this far from the platform's clock
_FIELD = re.compile(r'(\w+)="([^"]*)"')
_NONCE_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class Authorization:
    mchid: str
    nonce_str: str
    signature: str
    timestamp: str
    serial_no: str


def parse_authorization(header: str) -> Authorization | None:
    scheme, _, rest = header.strip().partition(" ")
    fields = dict(_FIELD.findall(rest))
    names = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
    if scheme != SCHEME or any(not fields.get(name) for name in names):
        return None
    return Authorization(*(fields[name] for name in names))


def request_problem(keys: PlatformKeys, *, method: str, target: str, body: str, header: str,
                    now_unix: int) -> str | None:
    """Why a merchant request's Authorization is not acceptable, or None when it is."""
    auth = parse_authorization(header)
    if auth is None:
        return "Authorization missing or not WECHATPAY2-SHA256-RSA2048 with five fields"
    if auth.mchid != keys.mchid:
        return f"unknown mchid {auth.mchid[:20]}"
    if auth.serial_no != keys.merchant_serial_no:
        return "serial_no is not the merchant's certificate serial"
    if not auth.timestamp.isdigit() or abs(int(auth.timestamp) - now_unix) > \
            TIMESTAMP_SKEW_MAX_S:
        return "timestamp outside five minutes of the platform's clock"
    message = f"{method}\n{target}\n{auth.timestamp}\n{auth.nonce_str}\n{body}\n"
    if not verify(_public(keys.merchant_public_key), message, auth.signature):
        return "signature does not verify"
    return None


def sign(private_key: RSAPrivateKey, message: str) -> str:
    raw = private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode()


def verify(public_key: RSAPublicKey, message: str, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message.encode(),
                          padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def signed_headers(keys: PlatformKeys, body: str, *, timestamp: int,
                   signing_key: RSAPrivateKey | None = None) -> dict[str, str]:
    """The Wechatpay-* headers of an answer or notification with ``body``; a
    ``signing_key`` other than the platform's makes a signature that will not verify."""
    nonce = nonce_str(32)
    key = signing_key or load_private(keys.private_key)
    return {
        "Wechatpay-Timestamp": str(timestamp), "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign(key, f"{timestamp}\n{nonce}\n{body}\n"),
        "Wechatpay-Serial": keys.public_key_id, "Wechatpay-Signature-Type": SCHEME,
    }


def encrypt_resource(apiv3_key: str, plaintext: str, *, original_type: str,
                     associated_data: str) -> dict[str, Any]:
    nonce = nonce_str(12)
    sealed = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext.encode(),
                                                associated_data.encode())
    return {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(sealed).decode(),
            "associated_data": associated_data, "nonce": nonce}


def nonce_str(length: int) -> str:
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def _public(pem: str) -> RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, RSAPublicKey), "an RSA public key"
    return key
