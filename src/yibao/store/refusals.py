"""The ``refusal_count`` aggregate: how many national messages of an institution were
refused, per business day, infno and error code (the refused message itself is rolled
back and not stored). One upsert, built at import for each database."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, Executable, bindparam
from sqlalchemy.dialects import postgresql, sqlite

from yibao.store.schema import refusal_count

_KEY = ("day", "fixmedins_code", "infno", "code")
_VALUES: dict[str, object] = {**{name: bindparam(name) for name in _KEY}, "count": 1}


_MORE = {"count": refusal_count.c["count"] + 1}
_COUNT: dict[str, Executable] = {
    "postgresql": postgresql.insert(refusal_count).values(_VALUES).on_conflict_do_update(
        index_elements=list(_KEY), set_=_MORE),
    "sqlite": sqlite.insert(refusal_count).values(_VALUES).on_conflict_do_update(
        index_elements=list(_KEY), set_=_MORE),
}


def count(conn: Connection, *, day: date, code: str, infno: str, refused: str) -> None:
    """One more refusal ``refused`` (an E-... code) of institution ``code``'s ``infno``
    on ``day``."""
    conn.execute(_COUNT[conn.dialect.name],
                 {"day": day, "fixmedins_code": code, "infno": infno, "code": refused})
