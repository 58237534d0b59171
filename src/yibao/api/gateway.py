"""Gateway authentication of the national route, two schemes, chosen per institution.

x-tif: ``x-tif-paasid`` / ``x-tif-timestamp`` / ``x-tif-nonce`` / ``x-tif-signature``;
signature = lowercase hex SHA-256 of ``timestamp + token + nonce + timestamp`` where
``token`` is the institution's secret. Timestamps outside +-300 s and reused nonces are
refused.

AK/SK (the provincial edition's service gateway, domain/gateway_keys.py): ``_api_name``,
``_api_version``, ``_api_timestamp`` (unix milliseconds, +-30 minutes), ``_api_access_key``
and ``_api_signature`` = base64 HmacSHA1 with the secret key over the sorted
``key=value&...`` of the other four. It has no nonce: the signature stands for one (a
replay carries the same one), recorded as ``aksk:<signature>``.

A request carrying ``_api_access_key`` is AK/SK (its x-tif headers, if any, are ignored);
one carrying ``x-tif-paasid`` otherwise is x-tif; one carrying only other ``_api_*``
headers is AK/SK (the refusal names the missing ones). An institution signs only with the
schemes it is allowed (E-AUTH-008, said only to a caller whose signature verified).

The nonce is recorded in the database in the same transaction as the message it carries
(so every server process agrees, at no extra commit), and in a transaction of its own when
the message is refused. Every pruner of the nonce table keeps a row ``2 * WINDOW_SECONDS``
past its ``ts``: an AK/SK nonce's ``ts`` is the end of its request's window, so it is kept
as long past that. Institutions are cached for ``INSTITUTION_CACHE_SECONDS``, by code and
by access key: a changed token, key or scheme takes effect within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection

from yibao.domain import gateway_keys as aksk
from yibao.domain.errors import Refused
from yibao.domain.text import unix_seconds
from yibao.services.context import Institution
from yibao.store import institutions, nonces
from yibao.store.db import Database
from yibao.store.institutions import GatewayKey

UnixClock = Callable[[], float]  # seconds since the epoch (time.time)
WINDOW_SECONDS = 300
NONCE_LENGTH_MAX = 64
INSTITUTION_CACHE_SECONDS = 60.0
INSTITUTION_CACHE_MAX = 20_000  # entries: every institution of a large region, with room
PRUNE_EVERY = 1000
AKSK_WINDOW_SECONDS = aksk.WINDOW_MS // 1000
XTIF_HEADERS = ("x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature")
AKSK_NONCE_PREFIX = "aksk:"
AK_CACHE_PREFIX = "ak:"  # cache keys of access keys (institution codes never hold ':')


AK_LENGTH_MAX = aksk.HEADER_LENGTH_MAX[aksk.ACCESS_KEY]
NEITHER_SCHEME = ("send x-tif-paasid, x-tif-timestamp, x-tif-nonce, x-tif-signature; "
                  "or _api_name, _api_version, _api_timestamp, _api_access_key, "
                  "_api_signature")


def _fresh(cached_at: float) -> bool:
    """A cache entry good for at least another second."""
    return time.monotonic() - cached_at < INSTITUTION_CACHE_SECONDS - 1.0


def signature(timestamp: str, token: str, nonce: str) -> str:
    return hashlib.sha256(f"{timestamp}{token}{nonce}{timestamp}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Pass:
    """An authenticated request: who sent it and the nonce to record with it."""

    caller: Institution
    nonce: str
    timestamp: int  # unix seconds the nonce is kept relative to (see the module's text)


def load_institution(db: Database, code: str) -> Institution | None:
    with db.read() as conn:
        return institutions.find(conn, code)


def load_key(db: Database, access_key: str) -> GatewayKey | None:
    with db.read() as conn:
        return institutions.find_by_access_key(conn, access_key)


def scheme_of(headers: Mapping[str, str]) -> str:
    """"aksk" or "xtif": which scheme a request's headers choose (the module's text)."""
    if aksk.ACCESS_KEY in headers:
        return "aksk"
    if "x-tif-paasid" in headers:
        return "xtif"
    return "aksk" if any(name in headers for name in aksk.HEADERS) else "xtif"


class Gateway:
    """``clock`` is the machine's unix-seconds clock the timestamps are checked against
    (``time.time``; tests pass a fake one)."""

    def __init__(self, db: Database, clock: UnixClock = time.time) -> None:
        self.db = db
        self.clock = clock
        self._cache: dict[str, tuple[float, Institution | None]] = {}
        self._keys: dict[str, tuple[float, GatewayKey | None]] = {}
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

    def key(self, access_key: str) -> GatewayKey | None:
        """The AK/SK pair of ``access_key`` (cached like institutions, by access key)."""
        now = time.monotonic()
        cached = self._keys.get(access_key)
        if cached is not None and now - cached[0] < INSTITUTION_CACHE_SECONDS:
            return cached[1]
        found = load_key(self.db, access_key)
        with self._lock:
            if len(self._keys) >= INSTITUTION_CACHE_MAX:
                self._keys.clear()  # bounded: unknown access keys are cached too
            self._keys[access_key] = (now, found)
        return found

    def knows(self, headers: Mapping[str, str]) -> bool:
        """Whether ``authenticate`` can answer for these headers without the database
        (the institution or access key is cached for at least another second)."""
        if scheme_of(headers) == "aksk":
            cached_key = self._keys.get(headers.get(aksk.ACCESS_KEY, "")[:AK_LENGTH_MAX])
            return cached_key is not None and _fresh(cached_key[0])
        cached = self._cache.get(headers.get("x-tif-paasid", "")[:30])
        return cached is not None and _fresh(cached[0])

    def forget(self, code: str) -> None:
        """Drop a cached institution and every cached access key (this process reads
        them again on their next message): a new key may have been cached as unknown."""
        with self._lock:
            self._cache.pop(code, None)
            self._keys.clear()

    def now(self) -> int:
        """The gateway clock's time, whole unix seconds."""
        return int(self.clock())

    def authenticate(self, headers: Mapping[str, str]) -> Pass:
        """The pass of a correctly signed request sent within the window of the gateway
        clock's time, by an institution allowed the scheme its headers choose."""
        if scheme_of(headers) == "aksk":
            return self._aksk(headers)
        return self._xtif(headers)

    def _xtif(self, headers: Mapping[str, str]) -> Pass:
        now_unix = self.now()
        paasid, timestamp, nonce, sent = (headers.get(name, "") for name in XTIF_HEADERS)
        if not (paasid or any(name in headers for name in XTIF_HEADERS)):
            raise Refused("E-AUTH-001", NEITHER_SCHEME)
        missing = [name for name in XTIF_HEADERS if not headers.get(name)]
        if missing:
            raise Refused("E-AUTH-001", "missing " + ", ".join(missing))
        if not all(value.isprintable() for value in (paasid, timestamp, nonce, sent)):
            raise Refused("E-AUTH-001", "x-tif-* headers must be printable text (no NUL)")
        caller = self.institution(paasid[:30])
        if caller is None:
            raise Refused("E-AUTH-002", "x-tif-paasid")
        sent_at = unix_seconds(timestamp)
        if sent_at is None or abs(sent_at - now_unix) > WINDOW_SECONDS:
            raise Refused("E-AUTH-003", f"x-tif-timestamp: unix seconds within "
                          f"{WINDOW_SECONDS} s of the server clock")
        if len(nonce) > NONCE_LENGTH_MAX:
            raise Refused("E-AUTH-004", "nonce too long")
        expected = signature(timestamp, caller.token, nonce)
        if not hmac.compare_digest(expected.encode(), sent.lower().encode()):
            raise Refused("E-AUTH-005", "x-tif-signature")
        if not caller.xtif_allowed:
            raise Refused("E-AUTH-008", "x-tif is not allowed for this institution")
        return Pass(caller, nonce, sent_at)

    def _aksk(self, headers: Mapping[str, str]) -> Pass:
        now_ms = int(self.clock() * 1000)
        missing = [name for name in aksk.HEADERS if not headers.get(name)]
        if missing:
            raise Refused("E-AUTH-001", "missing " + ", ".join(missing))
        for name in aksk.HEADERS:
            value = headers[name]
            if not value.isprintable():
                raise Refused("E-AUTH-001", f"{name} must be printable text (no NUL)")
            if len(value) > aksk.HEADER_LENGTH_MAX[name] and name != aksk.TIMESTAMP:
                raise Refused("E-AUTH-001",
                              f"{name} longer than {aksk.HEADER_LENGTH_MAX[name]}")
        found = self.key(headers[aksk.ACCESS_KEY])
        if found is None or (found.retires_at_unix is not None
                             and found.retires_at_unix <= now_ms // 1000):
            raise Refused("E-AUTH-002", "_api_access_key")
        sent_ms = aksk.milliseconds(headers[aksk.TIMESTAMP])
        if sent_ms is None or abs(sent_ms - now_ms) > aksk.WINDOW_MS:
            raise Refused("E-AUTH-003", "_api_timestamp: unix milliseconds (13 digits) "
                          "within 30 minutes of the server clock")
        expected = aksk.signature(found.secret_key, headers)
        sent = headers[aksk.SIGNATURE]
        if not hmac.compare_digest(expected.encode(), sent.encode("utf-8")):
            raise Refused("E-AUTH-005", "_api_signature")
        if not found.institution.aksk_allowed:
            raise Refused("E-AUTH-008", "AK/SK is not allowed for this institution")
        # kept as long past its window's end as an x-tif nonce is past its timestamp
        return Pass(found.institution, AKSK_NONCE_PREFIX + expected,
                    sent_ms // 1000 + AKSK_WINDOW_SECONDS)

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
