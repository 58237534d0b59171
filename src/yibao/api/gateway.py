"""Gateway authentication: x-tif-paasid / x-tif-timestamp / x-tif-nonce / x-tif-signature.

signature = lowercase hex SHA-256 of ``timestamp + token + nonce + timestamp`` where
``token`` is the institution's secret. Timestamps outside +-300 s and reused nonces are
refused. The nonce is recorded in the database in the same transaction as the message it
carries (so every server process agrees, at no extra commit), and in a transaction of
its own when the message is refused; nonces older than twice the window are pruned.
Institutions are cached for ``INSTITUTION_CACHE_SECONDS``: a changed token takes effect
within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection

from yibao.domain.errors import Refused
from yibao.domain.text import unix_seconds
from yibao.services.context import Institution
from yibao.store import institutions, nonces
from yibao.store.db import Database

UnixClock = Callable[[], float]  # seconds since the epoch (time.time)
WINDOW_SECONDS = 300
NONCE_LENGTH_MAX = 64
INSTITUTION_CACHE_SECONDS = 60.0
INSTITUTION_CACHE_MAX = 20_000  # entries: every institution of a large region, with room
PRUNE_EVERY = 1000


def signature(timestamp: str, token: str, nonce: str) -> str:
    return hashlib.sha256(f"{timestamp}{token}{nonce}{timestamp}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Pass:
    """An authenticated request: who sent it and the nonce to record with it."""

    caller: Institution
    nonce: str
    timestamp: int


def load_institution(db: Database, code: str) -> Institution | None:
    with db.read() as conn:
        return institutions.find(conn, code)


class Gateway:
    """``clock`` is the machine's unix-seconds clock the timestamps are checked against
    (``time.time``; tests pass a fake one)."""

    def __init__(self, db: Database, clock: UnixClock = time.time) -> None:
        self.db = db
        self.clock = clock
        self._cache: dict[str, tuple[float, Institution | None]] = {}
        self._lock = threading.Lock()
        self._recorded = 0

    def institution(self, code: str) -> Institution | None:
        now = time.monotonic()
        cached = self._cache.get(code)
        if cached is not None and now - cached[0] < INSTITUTION_CACHE_SECONDS:
            return cached[1]
        found = load_institution(self.db, code)
        with self._lock:
            if len(self._cache) >= INSTITUTION_CACHE_MAX:
                self._cache.clear()  # bounded: unknown x-tif-paasid values are cached too
            self._cache[code] = (now, found)
        return found

    def knows(self, paasid: str) -> bool:
        """Whether ``authenticate`` can answer for this x-tif-paasid without the database
        (its institution is cached for at least another second)."""
        cached = self._cache.get(paasid[:30])
        return cached is not None and (
            time.monotonic() - cached[0] < INSTITUTION_CACHE_SECONDS - 1.0)

    def forget(self, code: str) -> None:
        """Drop a cached institution (this process reads it again on its next message)."""
        with self._lock:
            self._cache.pop(code, None)

    def now(self) -> int:
        """The gateway clock's time, whole unix seconds."""
        return int(self.clock())

    def authenticate(self, headers: Mapping[str, str]) -> Pass:
        """The pass of a correctly signed request sent within the window of the gateway
        clock's time."""
        now_unix = self.now()
        paasid = headers.get("x-tif-paasid", "")
        timestamp = headers.get("x-tif-timestamp", "")
        nonce = headers.get("x-tif-nonce", "")
        sent = headers.get("x-tif-signature", "")
        if not (paasid and timestamp and nonce and sent):
            missing = [name for name, value in (
                ("x-tif-paasid", paasid), ("x-tif-timestamp", timestamp),
                ("x-tif-nonce", nonce), ("x-tif-signature", sent)) if not value]
            raise Refused("E-AUTH-001", "missing " + ", ".join(missing))
        if not all(value.isprintable() for value in (paasid, timestamp, nonce, sent)):
            raise Refused("E-AUTH-001", "x-tif-* headers must be printable text (no NUL)")
        caller = self.institution(paasid[:30])
        if caller is None:
            raise Refused("E-AUTH-002")
        sent_at = unix_seconds(timestamp)
        if sent_at is None or abs(sent_at - now_unix) > WINDOW_SECONDS:
            raise Refused("E-AUTH-003")
        if len(nonce) > NONCE_LENGTH_MAX:
            raise Refused("E-AUTH-004", "nonce too long")
        expected = signature(timestamp, caller.token, nonce)
        if not hmac.compare_digest(expected.encode(), sent.lower().encode()):
            raise Refused("E-AUTH-005")
        return Pass(caller, nonce, sent_at)

    def record(self, conn: Connection, granted: Pass) -> None:
        """Record the nonce in the caller's transaction (IntegrityError if reused)."""
        nonces.record(conn, granted.caller.code, granted.nonce, granted.timestamp)
        self._recorded += 1

    def seen(self, conn: Connection, granted: Pass) -> bool:
        return nonces.seen(conn, granted.caller.code, granted.nonce)

    def prune_if_due(self) -> None:
        if self._recorded < PRUNE_EVERY:
            return
        self._recorded = 0
        with self.db.write() as conn:
            nonces.prune(conn, self.now() - 2 * WINDOW_SECONDS)
