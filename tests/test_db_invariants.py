"""Invariants kept by the database, not only by Python (issue 13).

A database error caused by the input is never reported as a concurrency collision: 2203
without ``diseinfo`` is refused at once with E-ENV-004 naming the field; a row the
database refuses is E-SYS-002 and not retried; only serialization failures, deadlocks and
SQLite's busy lock are collisions, retried once and then E-SYS-001.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from flows import WANG_FANG, ok, person, refused, register
from yibao.api import tx_visits
from yibao.services import visits
from yibao.store.db import Failure, classify
from yibao.store.schema import diagnosis, institution, message, visit


def _visit(his) -> tuple[str, str]:
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    return psn_no, register(his, psn_no, WANG_FANG)


def _visit_info(mdtrt_id: str, psn_no: str, **extra: Any) -> dict[str, Any]:
    return {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11"}, **extra}


def _state(db) -> tuple[int, int, str]:
    """Diagnoses and answered messages stored, and the one visit's medical type."""
    with db.read() as conn:
        return (conn.execute(select(func.count()).select_from(diagnosis)).scalar_one(),
                conn.execute(select(func.count()).select_from(message)).scalar_one(),
                conn.execute(select(visit.c.med_type)).scalar_one())


DIAGNOSIS = {"diag_type": "1", "diag_srt_no": "1", "diag_code": "J06.900",
             "diag_name": "急性上呼吸道感染"}


@pytest.mark.parametrize("extra", [{}, {"diseinfo": []}, {"diseinfo": ""}],
                         ids=["absent", "empty-list", "empty-text"])
def test_2203_without_diagnoses_is_an_input_error_at_once_and_changes_nothing(
        db, his, extra):
    psn_no, mdtrt_id = _visit(his)
    before = _state(db)
    payload = _visit_info(mdtrt_id, psn_no, **extra)
    payload["mdtrtinfo"]["med_type"] = "14"
    message_text = refused(his.call("2203", payload), "E-ENV-004")
    assert "input.diseinfo" in message_text
    assert _state(db) == before


def test_2203_with_a_diagnosis_still_answers(db, his):
    psn_no, mdtrt_id = _visit(his)
    ok(his.call("2203", _visit_info(mdtrt_id, psn_no, diseinfo=[DIAGNOSIS])))
    assert _state(db)[0] == 1


def _count_calls(monkeypatch, target, name: str, replacement) -> list[int]:
    calls: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return replacement(*args, **kwargs)

    monkeypatch.setattr(target, name, counted)
    return calls


def test_a_row_the_database_refuses_is_e_sys_002_at_once_never_a_collision(
        db, his, monkeypatch):
    """The old path of the 2203 bug (one row of defaults: NOT NULL violated) written on
    purpose: answered E-SYS-002 after one attempt, nothing stored."""
    psn_no, mdtrt_id = _visit(his)
    before = _state(db)

    def bad_row(ctx, *_args: Any, **_kwargs: Any) -> None:
        ctx.conn.execute(insert(diagnosis), {"mdtrt_id": mdtrt_id, "psn_no": psn_no})

    calls = _count_calls(monkeypatch, visits, "replace_diagnoses", bad_row)
    answer = his.call("2203", _visit_info(mdtrt_id, psn_no, diseinfo=[DIAGNOSIS]))
    refused(answer, "E-SYS-002")
    assert len(calls) == 1
    assert _state(db) == before


def _fake_sqlite_error(name: str, kind: type[sqlite3.Error]) -> sqlite3.Error:
    error = kind(name)
    error.sqlite_errorname = name
    return error


def _busy() -> OperationalError:
    return OperationalError("COMMIT", {}, _fake_sqlite_error("SQLITE_BUSY",
                                                             sqlite3.OperationalError))


def test_a_collision_is_retried_once_then_answered(db, his, monkeypatch):
    psn_no, mdtrt_id = _visit(his)
    real = tx_visits.visits.record_visit_info
    failures = [_busy()]

    def collide_once(*args: Any) -> None:
        if failures:
            raise failures.pop()
        real(*args)

    calls = _count_calls(monkeypatch, tx_visits.visits, "record_visit_info", collide_once)
    ok(his.call("2203", _visit_info(mdtrt_id, psn_no, diseinfo=[DIAGNOSIS])))
    assert len(calls) == 2
    assert _state(db)[0] == 1


def test_a_collision_on_every_attempt_is_e_sys_001_and_changes_nothing(db, his, monkeypatch):
    psn_no, mdtrt_id = _visit(his)
    before = _state(db)

    def collide(*_args: Any) -> None:
        raise _busy()

    calls = _count_calls(monkeypatch, tx_visits.visits, "record_visit_info", collide)
    refused(his.call("2203", _visit_info(mdtrt_id, psn_no, diseinfo=[DIAGNOSIS])),
            "E-SYS-001")
    assert len(calls) == 2
    assert _state(db) == before


def _error_of(db, statement, params: dict[str, Any]) -> DBAPIError:
    with pytest.raises(DBAPIError) as caught, db.write() as conn:
        conn.execute(statement, params)
    return caught.value


def test_classify_real_errors_of_both_databases(db):
    missing = _error_of(db, insert(diagnosis), {"mdtrt_id": "M1", "psn_no": "P1"})
    assert isinstance(missing, IntegrityError)
    assert classify(missing) is Failure.BROKEN
    with db.read() as conn:
        row = dict(conn.execute(select(institution).limit(1)).mappings().one())
    duplicate = _error_of(db, insert(institution), row)
    assert classify(duplicate) is Failure.DUPLICATE


class _PgError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(("orig", "failure"), [
    (_PgError("40001"), Failure.COLLISION),  # serialization failure
    (_PgError("40P01"), Failure.COLLISION),  # deadlock
    (_PgError("23505"), Failure.DUPLICATE),
    (_PgError("23502"), Failure.BROKEN),  # not null
    (_PgError("23514"), Failure.BROKEN),  # check
    (_PgError("22003"), Failure.BROKEN),  # numeric value out of range
    (_PgError("08006"), Failure.UNAVAILABLE),  # connection failure
    (_PgError("57P01"), Failure.UNAVAILABLE),  # admin shutdown
    (_PgError(None), Failure.UNAVAILABLE),  # no server answer
    (_fake_sqlite_error("SQLITE_BUSY", sqlite3.OperationalError), Failure.COLLISION),
    (_fake_sqlite_error("SQLITE_LOCKED", sqlite3.OperationalError), Failure.COLLISION),
    (_fake_sqlite_error("SQLITE_CONSTRAINT_UNIQUE", sqlite3.IntegrityError),
     Failure.DUPLICATE),
    (_fake_sqlite_error("SQLITE_CONSTRAINT_NOTNULL", sqlite3.IntegrityError), Failure.BROKEN),
    (_fake_sqlite_error("SQLITE_CONSTRAINT_CHECK", sqlite3.IntegrityError), Failure.BROKEN),
    (_fake_sqlite_error("SQLITE_ERROR", sqlite3.OperationalError), Failure.BROKEN),
    (_fake_sqlite_error("SQLITE_IOERR", sqlite3.OperationalError), Failure.UNAVAILABLE),
])
def test_classify_by_sqlstate_and_sqlite_result_code(orig, failure):
    assert classify(DBAPIError("SELECT 1", {}, orig)) is failure
