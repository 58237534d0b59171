"""The durable outbox: messages written in the same transaction as the change they
describe, delivered at least once to a configured endpoint afterwards.

The row's ``id`` is the receiver's idempotency key: a redelivery carries the same key
(header ``Idempotency-Key``) and the same body, so a receiver that remembers keys
applies each message once.

Delivery leases one due row at a time (``lease_until``) in a short write
transaction, posts outside any transaction, then records the outcome only if the lease
is still its own, so several deliverers (threads or processes, SQLite or PostgreSQL)
can run side by side. A deliverer that dies mid-flight leaves a lease that expires
after ``LEASE_SECONDS``; the message is then delivered again. See docs/outbox.md.

A row with a ``url`` goes there instead of the deliverer's configured URL (an
institution's callback, a channel's webhook). A kind may have a signer
(``register_signer``): when the row is leased, it dresses the message (the bytes to send
and extra headers, e.g. a signature with the receiver's secret and the time of sending).
A row with a ``url`` and no signer for its kind is never sent bare: each attempt fails.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import Connection, RowMapping, func, insert, or_, select, update

from yibao import log
from yibao.domain.errors import Refused
from yibao.services import audit
from yibao.services.context import Call, Clock, china_now
from yibao.store.db import Database
from yibao.store.schema import outbox

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
STATUSES = (PENDING, DELIVERED, FAILED)
LOST = "lost"  # a delivery outcome, not a status: another deliverer leased it first

BACKOFF_SECONDS_FIRST = 5
BACKOFF_SECONDS_MAX = 3600
ATTEMPTS_MAX = 20
TIMEOUT_SECONDS = 10.0
LEASE_SECONDS = 60  # longer than one post can take
BATCH_SIZE = 50
INTERVAL_SECONDS = 5.0
ROWS_MAX = 500
ERROR_CHARS_MAX = 200
assert LEASE_SECONDS > 2 * TIMEOUT_SECONDS



class Post(Protocol):
    """(url, idempotency key, body[, extra headers]) -> HTTP status; raises
    httpx.HTTPError or OSError when no answer came back. The extra headers are passed
    only when a signer gave some."""

    def __call__(self, url: str, key: str, body: bytes,
                 headers: Mapping[str, str] | None = None, /) -> int: ...


# (the transaction's connection, the outbox row) -> (the bytes to send, extra headers)
Signer = Callable[[Connection, RowMapping], tuple[bytes, dict[str, str]]]
_SIGNERS: dict[str, Signer] = {}

logger = log.get("yibao.outbox")


def enqueue(
    conn: Connection, *, key: str, kind: str, psn_no: str, payload: dict[str, Any],
    now: datetime, url: str = "",
) -> None:
    """Add a message in the caller's transaction (it is sent only if that commits);
    ``url``: where to (empty: the national platform, the deliverer's URL)."""
    assert 1 <= len(key) <= 40, key
    conn.execute(
        insert(outbox).values(
            id=key, kind=kind, psn_no=psn_no, status=PENDING, created_at=now, url=url,
            payload=json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str),
            next_attempt_at=now,
        )
    )


def register_signer(kind_prefix: str, fn: Signer) -> None:
    """Dress every message whose kind starts with ``kind_prefix`` with ``fn`` when it is
    leased for sending (the longest matching prefix wins)."""
    assert kind_prefix, "a signer names the kinds it dresses"
    _SIGNERS[kind_prefix] = fn


def signer_of(kind: str) -> Signer | None:
    prefixes = [p for p in _SIGNERS if kind.startswith(p)]
    return _SIGNERS[max(prefixes, key=len)] if prefixes else None


# ---------------------------------------------------------------- delivery


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    delivered: int = 0
    retried: int = 0  # failed this time, due again after the backoff
    failed: int = 0  # failed for the ATTEMPTS_MAX-th time: waits for an operator
    lost: int = 0  # leased by another deliverer first

    @property
    def handled(self) -> int:
        return self.delivered + self.retried + self.failed + self.lost

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(self.delivered + other.delivered, self.retried + other.retried,
                              self.failed + other.failed, self.lost + other.lost)


@dataclass(frozen=True, slots=True)
class Lease:
    """A leased message dressed for sending: to ``url`` ("" for the deliverer's), its
    bytes and extra headers; ``problem``: why it cannot be sent (each attempt fails)."""

    key: str
    kind: str
    attempts: int
    lease_until: datetime
    body: bytes
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    problem: str = ""


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 5 s, 10 s, 20 s ... at most 1 h."""
    assert attempts >= 1, attempts
    exponent = min(attempts - 1, BACKOFF_SECONDS_MAX.bit_length())  # (at the cap by then)
    return timedelta(seconds=min(BACKOFF_SECONDS_FIRST * 2**exponent, BACKOFF_SECONDS_MAX))


def post_json(url: str, key: str, body: bytes, headers: Mapping[str, str] | None = None,
              /) -> int:
    """POST ``body`` (JSON) with the ``Idempotency-Key`` header (and ``headers``); the
    HTTP status."""
    sent = {"content-type": "application/json; charset=utf-8", **(headers or {}),
            "idempotency-key": key}
    return httpx.post(url, content=body, headers=sent, timeout=TIMEOUT_SECONDS).status_code


def deliver_due(
    db: Database, *, url: str, clock: Clock, post: Post = post_json,
    limit: int = BATCH_SIZE, stop: threading.Event | None = None,
) -> DeliveryReport:
    """Deliver up to ``limit`` due messages, one by one (each leased just before its
    post); returns before the next one once ``stop`` is set."""
    outcomes: Counter[str] = Counter()
    for key in _due_keys(db, clock(), limit, own_url_only=not url):
        if stop is not None and stop.is_set():
            break
        lease = lease_one(db, key, clock())
        outcomes[LOST if lease is None else _send(db, lease, url, clock, post)] += 1
    return DeliveryReport(outcomes[DELIVERED], outcomes[PENDING], outcomes[FAILED],
                          outcomes[LOST])


def lease_one(db: Database, key: str, now: datetime) -> Lease | None:
    """Lease the message if it is due and nobody holds a live lease on it (else None)."""
    lease_until = now + timedelta(seconds=LEASE_SECONDS)
    with db.write() as conn:
        taken = conn.execute(
            update(outbox)
            .where(outbox.c.id == key, *_leasable(now))
            .values(lease_until=lease_until)
        )
        if taken.rowcount != 1:
            return None
        row = conn.execute(select(outbox).where(outbox.c.id == key)).mappings().one()
        return _dressed(conn, row, lease_until)


def _dressed(conn: Connection, row: RowMapping, lease_until: datetime) -> Lease:
    """The leased row as it will be sent: its signer's bytes and headers, else the
    envelope; a row for another receiver than the deliverer's needs a signer."""
    lease = Lease(row["id"], row["kind"], row["attempts"], lease_until, envelope(row),
                  url=row["url"])
    sign = signer_of(row["kind"])
    if sign is None:
        return lease if not row["url"] else replace(
            lease, problem=f"no signer registered for kind {row['kind']}")
    body, headers = sign(conn, row)
    return replace(lease, body=body, headers=headers)


def _due_keys(db: Database, now: datetime, limit: int, *, own_url_only: bool) -> list[str]:
    """Due messages, oldest first; ``own_url_only``: only those with their own URL (no
    national endpoint is configured: the national messages wait)."""
    query = select(outbox.c.id).where(*_leasable(now))
    if own_url_only:
        query = query.where(outbox.c.url != "")
    with db.read() as conn:
        rows = conn.execute(query.order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit))
        return list(rows.scalars())


def _leasable(now: datetime) -> tuple[Any, ...]:
    return (
        outbox.c.status == PENDING,
        outbox.c.next_attempt_at <= now,
        or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now),
    )


def envelope(row: RowMapping) -> bytes:
    """The envelope the receiver gets: the same bytes on every redelivery."""
    envelope = {"id": row["id"], "kind": row["kind"],
                "created_at": row["created_at"].isoformat(),
                "payload": json.loads(row["payload"])}
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True).encode("utf-8")


def _send(db: Database, lease: Lease, url: str, clock: Clock, post: Post) -> str:
    try:
        status = _post(lease, url, post)
        error = "" if 200 <= status < 300 else f"HTTP {status}"
    except (httpx.HTTPError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    except _Unsendable as exc:
        error = str(exc)
    if not error:
        return _delivered(db, lease, clock())
    return _attempt_failed(db, lease, error[:ERROR_CHARS_MAX], clock())


class _Unsendable(Exception):
    """A message that cannot be sent as it is (no signer for a row with its own URL)."""


def _post(lease: Lease, url: str, post: Post) -> int:
    if lease.problem:
        raise _Unsendable(lease.problem)
    target = lease.url or url
    if lease.headers:
        return post(target, lease.key, lease.body, lease.headers)
    return post(target, lease.key, lease.body)


def _delivered(db: Database, lease: Lease, now: datetime) -> str:
    """The receiver has it: recorded even if the lease was lost meanwhile."""
    with db.write() as conn:
        conn.execute(
            update(outbox).where(outbox.c.id == lease.key, outbox.c.status == PENDING)
            .values(status=DELIVERED, delivered_at=now, attempts=outbox.c.attempts + 1,
                    lease_until=None, last_error="")
        )
    logger.info("outbox_delivered", key=lease.key, kind=lease.kind,
                attempts=lease.attempts + 1)
    return DELIVERED


def _attempt_failed(db: Database, lease: Lease, error: str, now: datetime) -> str:
    """Count the attempt and schedule the next one (or give up), if still our lease."""
    attempts = lease.attempts + 1
    status = FAILED if attempts >= ATTEMPTS_MAX else PENDING
    with db.write() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == lease.key, outbox.c.status == PENDING,
                   outbox.c.lease_until == lease.lease_until)
            .values(status=status, attempts=attempts, last_error=error, lease_until=None,
                    next_attempt_at=now + backoff(attempts))
        )
    event = "outbox_failed" if status == FAILED else "outbox_attempt_failed"
    logger.warning(event, key=lease.key, kind=lease.kind, attempts=attempts, error=error)
    return status


class Deliverer:
    """Delivers due messages in a background thread every ``interval`` seconds (at
    once again while there is more to do) until ``stop``; ``run`` is the same loop in
    the foreground."""

    def __init__(
        self, db: Database, *, url: str, clock: Clock = china_now,
        interval: float = INTERVAL_SECONDS, post: Post = post_json,
    ) -> None:
        self.db, self.url, self.clock, self.interval, self.post = db, url, clock, interval, post
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Deliverer:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="outbox-deliverer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the loop to end after the message in flight, and wait for it."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def run(self) -> None:
        logger.info("outbox_deliverer_started", interval=self.interval)
        while not self._stop.is_set():
            if self._pass().handled == 0:
                self._stop.wait(self.interval)
        logger.info("outbox_deliverer_stopped")

    def _pass(self) -> DeliveryReport:
        try:
            return deliver_due(self.db, url=self.url, clock=self.clock, post=self.post,
                               stop=self._stop)
        except Exception:  # the database is away: try again after the interval
            logger.exception("outbox_pass_failed")
            return DeliveryReport()


# ---------------------------------------------------------------- operators


def counts(conn: Connection) -> dict[str, int]:
    """Messages per status (every status named, zero included)."""
    rows = conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
    found = {status: count for status, count in rows}
    return {status: found.get(status, 0) for status in STATUSES}


def listing(conn: Connection, *, status: str | None = None,
            limit: int = ROWS_MAX) -> list[dict[str, Any]]:
    """Messages without their payload, newest first."""
    assert status is None or status in STATUSES, status
    query = select(*(c for c in outbox.c if c.name != "payload"))
    if status is not None:
        query = query.where(outbox.c.status == status)
    query = query.order_by(outbox.c.created_at.desc(), outbox.c.id.desc()).limit(limit)
    return [_summary(row) for row in conn.execute(query).mappings()]


def message(conn: Connection, key: str) -> dict[str, Any]:
    """One message with its payload (E-OUT-001 when there is none)."""
    row = conn.execute(select(outbox).where(outbox.c.id == key)).mappings().first()
    if row is None:
        raise Refused("E-OUT-001", f"no such outbox message {key}")
    return _summary(row) | {"payload": json.loads(row["payload"])}


def retry(call: Call, key: str) -> dict[str, Any]:
    """Put a failed message back in the queue, due now, with a fresh set of attempts; the
    operators' log names who did."""
    conn = call.conn
    status = conn.execute(
        select(outbox.c.status).where(outbox.c.id == key).with_for_update()).scalar()
    if status is None:
        raise Refused("E-OUT-001", f"no such outbox message {key}")
    if status != FAILED:
        raise Refused("E-OUT-002", f"it is {status}")
    conn.execute(update(outbox).where(outbox.c.id == key).values(
        status=PENDING, attempts=0, next_attempt_at=call.now, lease_until=None))
    audit.action(call, "outbox.retry", key)
    logger.info("outbox_retry", key=key, operator=call.actor.name)
    return message(conn, key)


def _summary(row: RowMapping) -> dict[str, Any]:
    times = ("next_attempt_at", "lease_until", "created_at", "delivered_at")
    return {
        "id": row["id"], "kind": row["kind"], "psn_no": row["psn_no"],
        "status": row["status"], "attempts": row["attempts"], "last_error": row["last_error"],
        **{name: row[name].isoformat() if row[name] is not None else None for name in times},
    }
