"""Gateway authentication: x-tif-paasid / x-tif-timestamp / x-tif-nonce / x-tif-signature.

signature = lowercase hex SHA-256 of ``timestamp + token + nonce + timestamp`` where
``token`` is the institution's secret. Timestamps outside +-300 s and reused nonces are
refused. Nonces are remembered in the database (so every server process agrees) for
twice the window, then pruned.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from yibao.domain.errors import Refused
from yibao.services.context import Institution
from yibao.store.db import Database
from yibao.store.schema import gateway_nonce, institution

WINDOW_SECONDS = 300
NONCE_LENGTH_MAX = 64
PRUNE_EVERY = 500


def signature(timestamp: str, token: str, nonce: str) -> str:
    return hashlib.sha256(f"{timestamp}{token}{nonce}{timestamp}".encode()).hexdigest()


def load_institution(db: Database, code: str) -> Institution | None:
    with db.read() as conn:
        row = conn.execute(
            select(institution).where(institution.c.fixmedins_code == code)
        ).mappings().first()
    if row is None:
        return None
    return Institution(
        code=row["fixmedins_code"], name=row["name"], kind=row["kind"], level=row["level"],
        admdvs=row["admdvs"], pool_area=row["pool_area"], token=row["token"],
    )


class Gateway:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._calls = 0

    def authenticate(self, headers: Mapping[str, str], now_unix: int) -> Institution:
        paasid = headers.get("x-tif-paasid", "")
        timestamp = headers.get("x-tif-timestamp", "")
        nonce = headers.get("x-tif-nonce", "")
        sent = headers.get("x-tif-signature", "")
        if not (paasid and timestamp and nonce and sent):
            raise Refused("E-AUTH-001")
        caller = load_institution(self.db, paasid[:30])
        if caller is None:
            raise Refused("E-AUTH-002")
        if not timestamp.isdigit() or abs(int(timestamp) - now_unix) > WINDOW_SECONDS:
            raise Refused("E-AUTH-003")
        if len(nonce) > NONCE_LENGTH_MAX:
            raise Refused("E-AUTH-004", "nonce too long")
        expected = signature(timestamp, caller.token, nonce)
        if not hmac.compare_digest(expected, sent.lower()):
            raise Refused("E-AUTH-005")
        self._use_nonce(paasid, nonce, now_unix)
        return caller

    def _use_nonce(self, paasid: str, nonce: str, now_unix: int) -> None:
        try:
            with self.db.write() as conn:
                conn.execute(insert(gateway_nonce).values(paasid=paasid, nonce=nonce, ts=now_unix))
        except IntegrityError as exc:
            raise Refused("E-AUTH-004") from exc
        self._calls += 1
        if self._calls % PRUNE_EVERY == 0:
            with self.db.write() as conn:
                cutoff = now_unix - 2 * WINDOW_SECONDS
                conn.execute(delete(gateway_nonce).where(gateway_nonce.c.ts < cutoff))
