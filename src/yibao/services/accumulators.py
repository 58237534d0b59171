"""Year-to-date treatment history: accumulators per person, insurance type and period.

A period is a calendar year (``"2026"``, China Standard Time) or one inpatient stay
(``"stay:<mdtrt_id>"``). Every settlement stores its deltas; applying a cancellation's
negated deltas restores the accumulators exactly, so an accumulator always equals the
sum of the deltas of the person's live settlements.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, insert, select, update

from yibao.store.schema import accumulator, accumulator_delta


def stay_period(mdtrt_id: str) -> str:
    return f"stay:{mdtrt_id}"


def read(conn: Connection, psn_no: str, insutype: str, period: str) -> dict[str, int]:
    query = select(accumulator.c.cum_key, accumulator.c.cum).where(
        accumulator.c.psn_no == psn_no,
        accumulator.c.insutype == insutype,
        accumulator.c.period == period,
    )
    return {key: cum for key, cum in conn.execute(query)}


def apply(
    conn: Connection, *, setl_id: str, psn_no: str, insutype: str,
    deltas: Iterable[tuple[str, str, int]],
) -> None:
    """Record a settlement's (period, key, delta) rows and add them to the accumulators.

    The caller holds the person's lock, so update-then-insert cannot race.
    """
    rows = [d for d in deltas if d[2] != 0]
    if not rows:
        return
    conn.execute(
        insert(accumulator_delta),
        [
            dict(setl_id=setl_id, psn_no=psn_no, insutype=insutype, period=p, cum_key=k, delta=d)
            for p, k, d in rows
        ],
    )
    for period, key, delta in rows:
        pk = (
            accumulator.c.psn_no == psn_no,
            accumulator.c.insutype == insutype,
            accumulator.c.period == period,
            accumulator.c.cum_key == key,
        )
        changed = conn.execute(
            update(accumulator).where(*pk).values(cum=accumulator.c.cum + delta)
        ).rowcount
        if changed == 0:
            conn.execute(
                insert(accumulator).values(
                    psn_no=psn_no, insutype=insutype, period=period, cum_key=key, cum=delta
                )
            )


def deltas_of(conn: Connection, setl_id: str) -> list[tuple[str, str, int]]:
    query = select(
        accumulator_delta.c.period, accumulator_delta.c.cum_key, accumulator_delta.c.delta
    ).where(accumulator_delta.c.setl_id == setl_id)
    return [(p, k, d) for p, k, d in conn.execute(query)]


def for_person(conn: Connection, psn_no: str, *, year: int | None = None) -> list[dict]:
    """All of a person's accumulators (5206), optionally for one year only."""
    query = select(accumulator).where(accumulator.c.psn_no == psn_no)
    if year is not None:
        query = query.where(accumulator.c.period == str(year))
    query = query.order_by(accumulator.c.insutype, accumulator.c.period, accumulator.c.cum_key)
    return [dict(row) for row in conn.execute(query).mappings()]
