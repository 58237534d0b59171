"""The durable outbox: messages written in the same transaction as the change they
describe, delivered at least once to a configured endpoint afterwards.

The row's ``id`` is the receiver's idempotency key: a redelivery carries the same key,
so a receiver that remembers keys applies each message once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from yibao.store.schema import outbox

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


def enqueue(
    conn: Connection, *, key: str, kind: str, psn_no: str, payload: dict[str, Any],
    now: datetime,
) -> None:
    """Add a message in the caller's transaction (it is sent only if that commits)."""
    assert 1 <= len(key) <= 40, key
    conn.execute(
        insert(outbox).values(
            id=key, kind=kind, psn_no=psn_no, status=PENDING, created_at=now,
            payload=json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str),
            next_attempt_at=now,
        )
    )
