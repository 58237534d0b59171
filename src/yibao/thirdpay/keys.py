"""The keys of WeChat Pay's public-key mode and of Alipay's RSA2 mode, on both sides, and
the DEMO sets.

The merchant (yibao) signs its requests with its private key (the platform knows the
public half by the merchant's serial number) and decrypts notifications with the APIv3
key; the platform signs answers and notifications with its private key, which the
merchant verifies with the platform public key named by its id (``PUB_KEY_ID_…``).

The DEMO sets (thirdpay/demo/*.pem, an APIv3 key written below) are for the simulators,
the tests and the demo only: their private keys are public in this repository, so they are
refused against the real gateways (wechat.py, alipay.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

DEMO_MCHID = "1900009191"
DEMO_APPID = "wx000000000demo001"
DEMO_APIV3_KEY = "yibao-demo-apiv3-key-not-secret!"  # 32 bytes: AES-256-GCM
DEMO_PUBLIC_KEY_ID = "PUB_KEY_ID_0119000091912026DEMO0001"


@dataclass(frozen=True, slots=True)
class MerchantKeys:
    """What the merchant's client holds (PEM text, not file names)."""

    mchid: str
    appid: str
    serial_no: str  # the merchant API certificate's serial number
    private_key: str  # PEM, PKCS#8
    apiv3_key: str  # 32 ASCII characters
    platform_public_key: str  # PEM, SubjectPublicKeyInfo
    platform_public_key_id: str  # PUB_KEY_ID_...

    def __post_init__(self) -> None:
        assert len(self.apiv3_key.encode()) == 32, "the APIv3 key is 32 bytes"

    def __repr__(self) -> str:  # never print keys
        return f"MerchantKeys(mchid={self.mchid!r}, serial_no={self.serial_no!r})"


@dataclass(frozen=True, slots=True)
class PlatformKeys:
    """What the platform (the simulator) holds for one merchant."""

    mchid: str
    appid: str
    merchant_serial_no: str
    merchant_public_key: str  # PEM: verifies the merchant's requests
    private_key: str  # PEM: signs answers and notifications
    public_key_id: str
    apiv3_key: str  # encrypts notification resources

    def __repr__(self) -> str:
        return f"PlatformKeys(mchid={self.mchid!r}, public_key_id={self.public_key_id!r})"


def _demo_pem(name: str) -> str:
    return (resources.files("yibao.thirdpay") / "demo" / f"{name}_private_key.pem").read_text(
        encoding="ascii")


def public_pem(private_pem: str) -> str:
    """The SubjectPublicKeyInfo PEM of a private key's public half."""
    return load_private(private_pem).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@lru_cache(maxsize=8)
def load_private(pem: str) -> RSAPrivateKey:
    """The key of a PEM (cached: loading checks the key, which takes tens of ms)."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, RSAPrivateKey), "an RSA private key"
    return key


def serial_of(public_key_pem: str) -> str:
    """A certificate-serial-shaped name (40 upper-case hex digits) derived from a key."""
    return hashlib.sha1(public_key_pem.encode()).hexdigest().upper()


@lru_cache(maxsize=1)
def demo_merchant() -> MerchantKeys:
    merchant = _demo_pem("merchant")
    return MerchantKeys(
        mchid=DEMO_MCHID, appid=DEMO_APPID, serial_no=serial_of(public_pem(merchant)),
        private_key=merchant, apiv3_key=DEMO_APIV3_KEY,
        platform_public_key=public_pem(_demo_pem("platform")),
        platform_public_key_id=DEMO_PUBLIC_KEY_ID)


@lru_cache(maxsize=1)
def demo_platform() -> PlatformKeys:
    merchant_public = public_pem(_demo_pem("merchant"))
    return PlatformKeys(
        mchid=DEMO_MCHID, appid=DEMO_APPID, merchant_serial_no=serial_of(merchant_public),
        merchant_public_key=merchant_public, private_key=_demo_pem("platform"),
        public_key_id=DEMO_PUBLIC_KEY_ID, apiv3_key=DEMO_APIV3_KEY)


# -- Alipay (RSA2 public-key mode) -------------------------------------------------------
# The app (yibao) signs each request with its app private key; Alipay knows the app's
# public key. Alipay signs answers and notifications with its own private key, which the
# app verifies with "the Alipay public key". DEMO only, as the WeChat set above.

DEMO_ALIPAY_APP_ID = "2021000000000001"  # an app id: 16 digits
DEMO_ALIPAY_SELLER_ID = "2088000000000001"  # the merchant's PID (seller_id): 2088 + 12


@dataclass(frozen=True, slots=True)
class AlipayAppKeys:
    """What the app's client holds (PEM text)."""

    app_id: str
    seller_id: str  # the merchant's PID: notifications and answers name it
    app_private_key: str  # PEM: signs requests (RSA2, SHA256withRSA)
    alipay_public_key: str  # PEM: verifies answers and notifications

    def __repr__(self) -> str:
        return f"AlipayAppKeys(app_id={self.app_id!r})"


@dataclass(frozen=True, slots=True)
class AlipayKeys:
    """What Alipay (the simulator) holds for one app."""

    app_id: str
    seller_id: str
    app_public_key: str  # PEM: verifies the app's requests
    private_key: str  # PEM: signs answers, notifications and return_url redirects

    def __repr__(self) -> str:
        return f"AlipayKeys(app_id={self.app_id!r})"


@lru_cache(maxsize=1)
def demo_alipay_app() -> AlipayAppKeys:
    return AlipayAppKeys(app_id=DEMO_ALIPAY_APP_ID, seller_id=DEMO_ALIPAY_SELLER_ID,
                         app_private_key=_demo_pem("alipay_app"),
                         alipay_public_key=public_pem(_demo_pem("alipay")))


@lru_cache(maxsize=1)
def demo_alipay() -> AlipayKeys:
    return AlipayKeys(app_id=DEMO_ALIPAY_APP_ID, seller_id=DEMO_ALIPAY_SELLER_ID,
                      app_public_key=public_pem(_demo_pem("alipay_app")),
                      private_key=_demo_pem("alipay"))
