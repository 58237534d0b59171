"""How long yibao keeps what it only needs for a while, and the purge that removes it
(``yibao purge``; docs/retention.md).

``RETENTION`` is the one table: what, its table, the time column, how long after that
time a row is kept, and (optionally) which rows of the table. Adding a kind is one line.
Money is never here: settlements, fee lines, the ledger, accounts, claims, payment
orders, clearing and the audit trail of money are kept for good.

The purge deletes in batches of ``BATCH_ROWS``, each in its own short transaction, so
the service keeps serving while it runs: a settlement waits for one batch at most.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Date, Table, delete, func, select, tuple_

from yibao.services.face import ATTEMPT_KINDS as FACE_ATTEMPT_KINDS
from yibao.store.db import Database
from yibao.store.schema import (
    audit_event,
    channel_request,
    ec_token,
    gateway_nonce,
    message,
    operator_session,
    qr_code,
    refusal_count,
    stored_file,
)

BATCH_ROWS = 1000
GATEWAY_WINDOW_SECONDS = 300  # api/gateway.py and api/channel.py WINDOW_SECONDS


@dataclass(frozen=True, slots=True)
class Kind:
    """Rows of ``table`` whose ``column`` is more than ``keep`` in the past. ``unix``: the
    column holds Unix seconds of the real clock (gateway nonces), not China time."""

    name: str
    table: Table
    column: str
    keep: timedelta
    only: Callable[[], Sequence[ColumnElement[bool]]] = field(default=lambda: ())
    unix: bool = False


RETENTION: tuple[Kind, ...] = (
    # a msgid is answered from here (idempotency) and 2601 undoes what it did: a year
    # and a day, past any retry, reversal, reconciliation or clearing of the message
    Kind("messages", message, "created_at", timedelta(days=366)),
    # a nonce only has to outlive the window a timestamp is accepted in, on both sides
    Kind("nonces", gateway_nonce, "ts", timedelta(seconds=2 * GATEWAY_WINDOW_SECONDS),
         unix=True),
    Kind("ectokens", ec_token, "expires_at", timedelta(days=1)),
    Kind("qr_codes", qr_code, "expires_at", timedelta(days=1)),
    # 9102 refuses a file after its dld_endtime; a day more for an operator to look
    Kind("stored_files", stored_file, "dld_endtime", timedelta(days=1)),
    Kind("face_attempts", audit_event, "at", timedelta(days=180),
         only=lambda: (audit_event.c.kind.in_(FACE_ATTEMPT_KINDS),)),
    # a channel's write is answered again from here for a day (its Idempotency-Key)
    Kind("channel_requests", channel_request, "created_at", timedelta(days=1)),
    # a console session ends within a working day; the sign-in itself stays in the
    # operators' log for good
    Kind("console_sessions", operator_session, "expires_at", timedelta(days=1)),
    # the dashboard's error codes per institution: a year and a month, so that a month
    # compares with the same month a year before
    Kind("refusal_counts", refusal_count, "day", timedelta(days=400)),
)


def purge(db: Database, now: datetime, now_unix: int, *, dry_run: bool = False,
          batch_rows: int = BATCH_ROWS, kinds: Sequence[Kind] = RETENTION) -> dict[str, int]:
    """Rows past their retention per kind: deleted, or with ``dry_run`` only counted.
    ``now`` is the business clock (China time), ``now_unix`` the real clock."""
    assert batch_rows > 0
    counts: dict[str, int] = {}
    for kind in kinds:
        expired = _expired(kind, now, now_unix)
        if dry_run:
            with db.read() as conn:
                counts[kind.name] = _count(conn, kind.table, expired)
        else:
            counts[kind.name] = _delete(db, kind.table, expired, batch_rows)
    return counts


def _expired(kind: Kind, now: datetime, now_unix: int) -> list[ColumnElement[bool]]:
    column = kind.table.c[kind.column]
    if kind.unix:
        cutoff: object = now_unix - int(kind.keep.total_seconds())
    elif isinstance(column.type, Date):  # a day: kept through the whole of its last day
        cutoff = (now - kind.keep).date()
    else:
        cutoff = now - kind.keep
    return [column < cutoff, *kind.only()]


def _count(conn: Connection, table: Table, expired: list[ColumnElement[bool]]) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*expired))
               .scalar_one())


def _delete(db: Database, table: Table, expired: list[ColumnElement[bool]],
            batch_rows: int) -> int:
    """Delete in batches; each batch re-checks the condition on the rows it deletes, so a
    row another transaction has just renewed (a catalogue file served again) stays."""
    key = list(table.primary_key.columns)
    batch = select(*key).where(*expired).limit(batch_rows)
    chosen = key[0].in_(batch) if len(key) == 1 else tuple_(*key).in_(batch)
    statement = delete(table).where(chosen, *expired)
    total = 0
    while True:
        with db.write() as conn:
            deleted = conn.execute(statement).rowcount
        total += deleted
        if deleted < batch_rows:
            return total
