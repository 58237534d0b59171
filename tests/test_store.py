"""The store's transaction helpers on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from yibao.store.db import pipelined
from yibao.store.schema import gateway_nonce


def nonces(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(gateway_nonce)).scalar_one()


def test_statements_sent_together_are_committed_together(db):
    with db.write() as conn, pipelined(conn):
        for n in range(3):
            conn.execute(insert(gateway_nonce).values(paasid="H1", nonce=f"n{n}", ts=n))
    assert nonces(db) == 3


def test_a_conflict_among_statements_sent_together_is_an_integrity_error_and_undoes_all(db):
    """The gateway tells a replay or a duplicate msgid by IntegrityError: it must be the
    same exception whether the statements went one by one or in one round trip."""
    with pytest.raises(IntegrityError), db.write() as conn, pipelined(conn):
        conn.execute(insert(gateway_nonce).values(paasid="H1", nonce="first", ts=1))
        conn.execute(insert(gateway_nonce).values(paasid="H1", nonce="same", ts=1))
        conn.execute(insert(gateway_nonce).values(paasid="H1", nonce="same", ts=2))
    assert nonces(db) == 0
    with db.write() as conn:  # the pool's connection is usable again
        conn.execute(insert(gateway_nonce).values(paasid="H1", nonce="after", ts=3))
    assert nonces(db) == 1


def test_a_snapshot_read_sees_one_moment(db):
    """Long readers (``ledger verify``) read in many statements: a commit made meanwhile
    must not show in the later ones."""
    with db.read(snapshot=True) as conn:
        before = conn.execute(select(func.count()).select_from(gateway_nonce)).scalar_one()
        with db.write() as other:
            other.execute(insert(gateway_nonce).values(paasid="H1", nonce="meanwhile", ts=1))
        after = conn.execute(select(func.count()).select_from(gateway_nonce)).scalar_one()
    assert after == before
    assert nonces(db) == before + 1
