"""Year-to-date treatment history: accumulators per person, insurance type and period.

A period is a calendar year (``"2026"``, China Standard Time) or one inpatient stay
(``"stay:<mdtrt_id>"``). Every settlement stores its deltas; applying a cancellation's
negated deltas restores the accumulators exactly, so an accumulator always equals the
sum of the deltas of the person's live settlements.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, union_all
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from yibao.store.lean import Lean
from yibao.store.schema import accumulator, accumulator_delta, online_hold

_POSTED = select(accumulator.c.cum_key, accumulator.c.cum.label("cum")).where(
    accumulator.c.psn_no == bindparam("psn_no"),
    accumulator.c.insutype == bindparam("insutype"),
    accumulator.c.period == bindparam("period"),
)
_HELD = select(online_hold.c.cum_key, online_hold.c.amount.label("cum")).where(
    online_hold.c.psn_no == bindparam("psn_no"),
    online_hold.c.insutype == bindparam("insutype"),
    online_hold.c.period == bindparam("period"),
)
# what a new settlement may use: the posted accumulators plus the room online orders hold
# (docs/online-payment.md), in one statement
_both = union_all(_POSTED, _HELD).subquery()
_READ = Lean(select(_both.c.cum_key, func.sum(_both.c.cum).label("cum"))
             .group_by(_both.c.cum_key))
_INSERT_DELTA = Lean(insert(accumulator_delta))


def _upsert(insert_for: Any) -> Any:
    statement = insert_for(accumulator)
    return statement.on_conflict_do_update(
        index_elements=[c.name for c in accumulator.primary_key.columns],
        set_={"cum": accumulator.c.cum + statement.excluded.cum},
    )


_UPSERT = {"sqlite": Lean(_upsert(sqlite_insert)),
           "postgresql": Lean(_upsert(postgresql_insert))}


def stay_period(mdtrt_id: str) -> str:
    return f"stay:{mdtrt_id}"


def read(conn: Connection, psn_no: str, insutype: str, period: str) -> dict[str, int]:
    """The accumulators of the period, with the room held by online orders counted as
    used."""
    params = {"psn_no": psn_no, "insutype": insutype, "period": period}
    return {row["cum_key"]: int(row["cum"]) for row in _READ.all(conn, params)}


def add(
    conn: Connection, *, setl_id: str, psn_no: str, insutype: str,
    deltas: Iterable[tuple[str, str, int]],
) -> None:
    """Record a settlement's (period, key, delta) rows and add them to the accumulators
    (one upsert: INSERT ... ON CONFLICT DO UPDATE, on SQLite and PostgreSQL alike)."""
    rows = [
        dict(setl_id=setl_id, psn_no=psn_no, insutype=insutype, period=p, cum_key=k, delta=d)
        for p, k, d in deltas
        if d != 0
    ]
    if not rows:
        return
    _INSERT_DELTA.run(conn, rows)
    _UPSERT[conn.dialect.name].run(
        conn,
        [dict(psn_no=psn_no, insutype=insutype, period=r["period"], cum_key=r["cum_key"],
              cum=r["delta"]) for r in rows],
    )


def deltas_of(conn: Connection, setl_id: str) -> list[tuple[str, str, int]]:
    query = select(
        accumulator_delta.c.period, accumulator_delta.c.cum_key, accumulator_delta.c.delta
    ).where(accumulator_delta.c.setl_id == setl_id)
    return [(p, k, d) for p, k, d in conn.execute(query)]


def for_person(conn: Connection, psn_no: str, *, year: int | None = None) -> list[dict[str, Any]]:
    """All of a person's accumulators (5206), optionally for one year only."""
    query = select(accumulator).where(accumulator.c.psn_no == psn_no)
    if year is not None:
        query = query.where(accumulator.c.period == str(year))
    query = query.order_by(accumulator.c.insutype, accumulator.c.period, accumulator.c.cum_key)
    return [dict(row) for row in conn.execute(query).mappings()]
