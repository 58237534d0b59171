"""The ``institution`` aggregate: the designated institutions, read by code."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, select, update

from yibao.services.context import Institution, institution_of
from yibao.store.schema import institution

FLAGS = frozenset({"networked", "prepay"})  # the flags an operator sets
_BY_CODE = select(institution).where(institution.c.fixmedins_code == bindparam("code"))


def find(conn: Connection, code: str) -> Institution | None:
    row = conn.execute(_BY_CODE, {"code": code}).mappings().first()
    return None if row is None else institution_of(row)


def names(conn: Connection, codes: Iterable[str]) -> dict[str, str]:
    """The names of the institutions among ``codes`` (unknown codes are left out)."""
    query = select(institution.c.fixmedins_code, institution.c.name).where(
        institution.c.fixmedins_code.in_(list(codes)))
    return {code: name for code, name in conn.execute(query).all()}


def set_flag(conn: Connection, code: str, flag: str, enabled: bool) -> bool:
    """Set one of ``FLAGS`` of the institution; False when there is no such institution."""
    if flag not in FLAGS:
        raise ValueError(f"not an institution flag: {flag}")
    changed = conn.execute(update(institution).where(
        institution.c.fixmedins_code == code).values({flag: enabled}))
    return changed.rowcount == 1
