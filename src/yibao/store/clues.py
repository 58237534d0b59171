"""Supervision's screening runs and clues (issue 20): each query once."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from yibao.store.schema import clue, supervision_run

CLUES_SHOWN_MAX = 500


@dataclass(frozen=True, slots=True)
class Found:
    """One clue a rule found: its key (the same finding has the same key when the month
    is screened again), who and where, the amount at risk (fen), a one-line summary
    and the evidence rows (column name -> value: text, int or None)."""

    rule_id: str
    clue_key: str
    month: str
    fixmedins_code: str
    psn_no: str
    mdtrt_id: str
    amount_at_risk: int
    summary: str
    evidence: Sequence[Mapping[str, Any]]


def record_run(conn: Connection, *, run_id: str, month: str, engine: str,
               rules: Sequence[str], lines: int, operator: str, started_at: datetime,
               finished_at: datetime, found: Iterable[Found], new_id: Any) -> int:
    """Record a run and the clues it found that are not clues already (same rule and
    key); returns how many were new. ``new_id()`` makes a clue id. Two runs at once add
    each clue once: a key the other run inserted first (committed or not) is skipped
    (INSERT ... ON CONFLICT DO NOTHING waits for the other's outcome)."""
    conn.execute(insert(supervision_run).values(
        run_id=run_id, month=month, engine=engine, rules=",".join(rules), lines=lines,
        clues=0, operator=operator, started_at=started_at, finished_at=finished_at))
    known = _known_keys(conn, rules)
    added = 0
    statement = _INSERT_NEW[conn.dialect.name]
    for item in found:
        if (item.rule_id, item.clue_key) in known:
            continue
        known.add((item.rule_id, item.clue_key))
        done = conn.execute(statement, dict(
            clue_id=new_id(), run_id=run_id, rule_id=item.rule_id, clue_key=item.clue_key,
            month=item.month, fixmedins_code=item.fixmedins_code, psn_no=item.psn_no,
            mdtrt_id=item.mdtrt_id, amount_at_risk=item.amount_at_risk,
            summary=item.summary[:500], evidence=json.dumps(list(item.evidence),
                                                            ensure_ascii=False),
            status="open", created_at=finished_at))
        added += len(done.all())  # (psycopg reports no rowcount for it)
    if added:
        conn.execute(update(supervision_run).where(supervision_run.c.run_id == run_id)
                     .values(clues=added))
    return added


_INSERT_NEW = {
    "postgresql": postgresql.insert(clue).on_conflict_do_nothing(
        index_elements=["rule_id", "clue_key"]).returning(clue.c.clue_id),
    "sqlite": sqlite.insert(clue).on_conflict_do_nothing(
        index_elements=["rule_id", "clue_key"]).returning(clue.c.clue_id),
}


def _known_keys(conn: Connection, rules: Sequence[str]) -> set[tuple[str, str]]:
    query = select(clue.c.rule_id, clue.c.clue_key).where(clue.c.rule_id.in_(list(rules)))
    return {(r.rule_id, r.clue_key) for r in conn.execute(query)}


def get(conn: Connection, clue_id: str, *, lock: bool = False) -> RowMapping | None:
    query = select(clue).where(clue.c.clue_id == clue_id)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def evidence(row: Mapping[Any, Any]) -> list[dict[str, Any]]:
    """A clue row's evidence rows."""
    loaded: list[dict[str, Any]] = json.loads(row["evidence"])
    return loaded


def listed(conn: Connection, *, status: str | None = None, rule_id: str | None = None,
           fixmedins_code: str | None = None, month: str | None = None,
           limit: int = CLUES_SHOWN_MAX) -> list[RowMapping]:
    """Clues, the largest amount at risk first, filtered by what is given."""
    query = select(clue)
    for column, value in (("status", status), ("rule_id", rule_id),
                          ("fixmedins_code", fixmedins_code), ("month", month)):
        if value is not None:
            query = query.where(clue.c[column] == value)
    query = query.order_by(clue.c.amount_at_risk.desc(), clue.c.clue_id).limit(limit)
    return list(conn.execute(query).mappings())


def set_status(conn: Connection, clue_id: str, *, status: str, case_id: str | None,
               by: str, at: datetime, expected: str = "open") -> bool:
    """Move a clue from ``expected`` to ``status`` (in_case names the case); False when
    it was not in ``expected`` (someone else moved it first)."""
    done = conn.execute(update(clue).where(clue.c.clue_id == clue_id,
                                           clue.c.status == expected)
                        .values(status=status, case_id=case_id, status_by=by, status_at=at))
    return done.rowcount == 1


def runs(conn: Connection, *, month: str | None = None, limit: int = 100) -> list[RowMapping]:
    query = select(supervision_run)
    if month is not None:
        query = query.where(supervision_run.c.month == month)
    query = query.order_by(supervision_run.c.started_at.desc()).limit(limit)
    return list(conn.execute(query).mappings())


def amount_of_run(conn: Connection, run_id: str) -> int:
    """The amount at risk (fen) of the clues a run added."""
    total = conn.execute(select(func.coalesce(func.sum(clue.c.amount_at_risk), 0))
                         .where(clue.c.run_id == run_id)).scalar_one()
    return int(total)


def counts_by_rule(conn: Connection, *, status: str = "open") -> dict[str, int]:
    query = (select(clue.c.rule_id, func.count()).where(clue.c.status == status)
             .group_by(clue.c.rule_id))
    return {rule_id: int(n) for rule_id, n in conn.execute(query)}
