"""The open interface for channels (/channel/v1), its pure rules: the scopes a channel's
credential carries, what a sandbox channel may touch, the form of an idempotency key and
the token bucket of a channel's rate limit (time is passed in: no clock here).

docs/channel-api.md explains them to an integrator.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from yibao.domain.errors import Refused


class Scope(StrEnum):
    """What a channel's credential lets it do (``channel.scopes``, comma-separated)."""

    ACTIVATION = "activation"  # the certificate: activation, QR codes, PIN, family, face
    PAYMENT = "payment"  # the person's authorisation of an online order (payAuthNo)
    OWN_DATA = "own_data"  # the person's account, settlements, orders and notices
    CLAIMS = "claims"  # claims, filings for care away from home, the payee they pay to
    PRESCRIPTIONS = "prescriptions"  # the person's e-prescriptions: list, QR, online pharmacy


SCOPES = tuple(s.value for s in Scope)
IDEMPOTENCY_KEY_LENGTH_MAX = 64


def scopes_of(text: str) -> frozenset[Scope]:
    """The scopes of a stored comma-separated list (the database checks each item)."""
    return frozenset(Scope(item) for item in text.split(",") if item)


def check_scope(held: Collection[Scope], needed: Scope) -> None:
    """E-CHN-001 unless the channel's credential carries ``needed``."""
    if needed not in held:
        raise Refused("E-CHN-001", f"this route needs the scope {needed.value}; the "
                      f"channel holds {', '.join(sorted(held)) or 'none'}")


def check_sandbox_person(sandbox: bool, certno: str, demo_certnos: Collection[str]) -> None:
    """A sandbox channel acts only on the demo dataset's persons (E-CHN-005)."""
    if sandbox and certno not in demo_certnos:
        raise Refused("E-CHN-005", "a sandbox channel acts only on the demo persons "
                      "(docs/channel-api.md, Sandbox)")


def check_idempotency_key(key: str | None) -> str:
    """The key of a write: 1..64 printable ASCII characters (E-CHN-002 otherwise)."""
    if key is None or key == "":
        raise Refused("E-CHN-002", "send the header Idempotency-Key with every write")
    if not (len(key) <= IDEMPOTENCY_KEY_LENGTH_MAX and key.isascii() and key.isprintable()):
        raise Refused("E-CHN-002", f"Idempotency-Key: 1..{IDEMPOTENCY_KEY_LENGTH_MAX} "
                      "printable ASCII characters")
    return key


@dataclass(frozen=True, slots=True)
class Rate:
    """A channel's rate limit: ``per_second`` requests on average, ``burst`` at once."""

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        assert self.per_second > 0 and self.burst >= 1, self


@dataclass(frozen=True, slots=True)
class Bucket:
    """A token bucket: ``tokens`` left at the moment ``at`` (seconds of some clock)."""

    tokens: float
    at: float


def take(rate: Rate, bucket: Bucket | None, now: float) -> tuple[Bucket, int]:
    """One request at ``now``: the bucket afterwards and 0 (admitted), or the bucket
    unchanged but refilled and the whole seconds until a token is there (refused). A
    clock that went backwards refills nothing."""
    if bucket is None:
        bucket = Bucket(float(rate.burst), now)
    elapsed = max(0.0, now - bucket.at)
    tokens = min(float(rate.burst), bucket.tokens + elapsed * rate.per_second)
    at = max(now, bucket.at)
    if tokens >= 1.0:
        return Bucket(tokens - 1.0, at), 0
    return Bucket(tokens, at), max(1, math.ceil((1.0 - tokens) / rate.per_second))
