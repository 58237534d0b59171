"""The test fixtures' own promises: the ``db`` fixture's reset (tests/conftest.py), which
copies the demo dataset back instead of seeding it row by row, leaves exactly what
emptying the database and seed_demo leave, on both databases; and under pytest-xdist
each worker has its own PostgreSQL database."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import insert, make_url, select

from conftest import PG_URL, _empty, demo_rows, reset, worker_database
from yibao.store.demo import seed_demo
from yibao.store.schema import audit_event, operator, operator_credential, person


def contents(db) -> tuple[dict[str, list[str]], dict[str, tuple[int, bool]]]:
    """Every table's rows as a sorted list (the order rows are stored in is not data),
    and the sequences' states."""
    rows, sequences = demo_rows(db)
    return {name: sorted(map(repr, found)) for name, found in rows.items()}, sequences


def test_the_reset_leaves_what_seed_demo_leaves(db, clock):
    with db.write() as conn:  # what a test leaves behind
        conn.execute(person.update().values(name="改过"))
        conn.execute(insert(audit_event).values(
            at=clock(), kind="test", actor="x"))
    reset(db)
    fast = contents(db)
    assert fast[0]["person"] and "改过" not in repr(fast[0]["person"])
    assert "audit_event" not in fast[0]
    _empty(db)
    with db.read() as conn:
        assert conn.execute(select(person)).first() is None
    with db.write() as conn:
        seed_demo(conn)
    assert contents(db) == fast
    made = next_ids(db, clock)
    reset(db)
    assert next_ids(db, clock) == made  # the ids a test gets next are seed_demo's


def next_ids(db, clock) -> tuple[int, int]:
    """The ids the next rows get, in a table the demo fills and in one it leaves empty."""
    with db.write() as conn:
        name = conn.execute(select(operator.c.name).limit(1)).scalar_one()
        credential = conn.execute(insert(operator_credential).values(
            operator=name, token_hash="0" * 64, created_at=clock(), expires_at=clock())
            .returning(operator_credential.c.id)).scalar_one()
        event = conn.execute(insert(audit_event).values(at=clock(), kind="test", actor="x")
                             .returning(audit_event.c.id)).scalar_one()
    assert credential > 1
    return credential, event


def test_a_worker_has_a_database_of_its_own():
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    assert worker_database(url, "") == url and worker_database("", "gw0") == ""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not (PG_URL and worker):
        pytest.skip("runs under pytest-xdist with YIBAO_TEST_PG_URL set")
    assert make_url(PG_URL).database.endswith(f"_{worker}")
    assert os.environ["YIBAO_TEST_PG_URL"] == PG_URL  # what the fuzzing and servers read
    assert worker_database(PG_URL.rsplit("_", 1)[0], worker) == PG_URL  # there already
