"""Workers for the concurrency tests: each call builds its own database connection and
hospital interface, as a separate server process would."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
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


def run_processes(url: str, now: datetime, requests: Sequence[tuple]) -> list[dict]:
    """Each (headers, body) served by its own process (``serve_one``, spawned), at once."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(requests), mp_context=context) as pool:
        futures = [pool.submit(serve_one, url, now, h, b) for h, b in requests]
        return [f.result(timeout=120) for f in futures]


def run_threads(handle: Callable[..., dict], requests: Sequence[tuple]) -> list[dict]:
    """Call ``handle(*request)`` for every request at the same moment, one thread each."""
    barrier = threading.Barrier(len(requests))
    answers: list[dict] = [{}] * len(requests)

    def worker(i: int) -> None:
        barrier.wait()
        answers[i] = handle(*requests[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return answers


def race(*actions: Callable[[], Any]) -> list[Any]:
    """Run every action at the same moment, one thread each; their results in order. An
    action that raised fails the caller with its exception (after every thread ended)."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = actions[i]()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(actions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a racer did not finish"
    if errors:
        raise errors[0]
    return results
