"""The ``institution`` aggregate: the designated institutions, read by code."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, RowMapping, bindparam, select, update

from yibao.services.context import Institution, institution_of
from yibao.store.schema import institution

FLAGS = frozenset({"networked", "prepay"})  # the flags an operator sets
_BY_CODE = select(institution).where(institution.c.fixmedins_code == bindparam("code"))
_LOCK = (select(institution.c.fixmedins_code)
         .where(institution.c.fixmedins_code == bindparam("code")).with_for_update())


def find(conn: Connection, code: str) -> Institution | None:
    """The institution of ``code``, or None when there is none."""
    row = conn.execute(_BY_CODE, {"code": code}).first()
    return None if row is None else institution_of(row._asdict())


def lock(conn: Connection, code: str) -> bool:
    """Lock the institution's row (orders its concurrent uploads, fault periods, ...);
    False when there is no such institution."""
    return conn.execute(_LOCK, {"code": code}).first() is not None


def names(conn: Connection, codes: Iterable[str]) -> dict[str, str]:
    """The names of the institutions among ``codes`` (unknown codes are left out)."""
    query = select(institution.c.fixmedins_code, institution.c.name).where(
        institution.c.fixmedins_code.in_(list(codes)))
    return {code: name for code, name in conn.execute(query).all()}


SEARCH_ROWS_MAX = 100


def search(conn: Connection, kind: str, *, name_part: str, code: str) -> list[RowMapping]:
    """Institutions of ``kind`` (hospital, pharmacy) whose name contains ``name_part``
    and whose code is ``code`` (each when set), by code; at most SEARCH_ROWS_MAX."""
    c = institution.c
    query = select(c.fixmedins_code, c.name, c.kind, c.level, c.uscc).where(c.kind == kind)
    if name_part:
        query = query.where(c.name.contains(name_part, autoescape=True))
    if code:
        query = query.where(c.fixmedins_code == code)
    return list(conn.execute(query.order_by(c.fixmedins_code).limit(SEARCH_ROWS_MAX)).mappings())


def set_flag(conn: Connection, code: str, flag: str, enabled: bool) -> bool:
    """Set one of ``FLAGS`` of the institution; False when there is no such institution."""
    if flag not in FLAGS:
        raise ValueError(f"not an institution flag: {flag}")
    changed = conn.execute(update(institution).where(
        institution.c.fixmedins_code == code).values({flag: enabled}))
    return changed.rowcount == 1
