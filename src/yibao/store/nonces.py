"""The ``gateway_nonce`` aggregate: every signed request's nonce, recorded once per
sender (an institution's x-tif-paasid, or ``ch:<channel>``), pruned after the window."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, delete, insert, select

from yibao.store.lean import Lean
from yibao.store.schema import gateway_nonce

_RECORD = Lean(insert(gateway_nonce))
_SEEN = select(gateway_nonce.c.ts).where(
    gateway_nonce.c.paasid == bindparam("sender"), gateway_nonce.c.nonce == bindparam("nonce"))
_PRUNE = delete(gateway_nonce).where(gateway_nonce.c.ts < bindparam("cutoff"))


def record(conn: Connection, sender: str, nonce: str, ts: int) -> None:
    """Record the nonce in the caller's transaction (IntegrityError if reused)."""
    _RECORD.run(conn, {"paasid": sender, "nonce": nonce, "ts": ts})


def seen(conn: Connection, sender: str, nonce: str) -> bool:
    return conn.execute(_SEEN, {"sender": sender, "nonce": nonce}).first() is not None


def prune(conn: Connection, cutoff: int) -> None:
    """Forget the nonces sent before ``cutoff`` (unix seconds)."""
    conn.execute(_PRUNE, {"cutoff": cutoff})
