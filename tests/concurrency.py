"""Workers for the concurrency tests: each call builds its own database connection and
hospital interface, as a separate server process would."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from yibao.api.app import create_app
from yibao.store.db import Database


def serve_one(url: str, now: datetime, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """Answer one message in this process (used through multiprocessing)."""
    database = Database(url, pool_size=1)
    try:
        app = create_app(database, clock=lambda: now)
        answer: dict[str, Any] = app.state.hospital.handle(headers, body)
        return answer
    finally:
        database.dispose()
