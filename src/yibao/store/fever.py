"""The ``fever_dept`` aggregate: the departments an institution marked as fever clinics
(发热门诊, docs/fever.md), and the expression a visit's registration stores as its flag
(inside the visit's own INSERT or UPDATE: no statement of its own)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, exists, insert, select

from yibao.store.schema import fever_dept


def is_fever_dept(code: str, dept_code: str) -> ColumnElement[bool] | bool:
    """Whether ``dept_code`` of the institution ``code`` is a fever clinic, as a value of
    the visit's INSERT / UPDATE (False for a visit registered without a department)."""
    if not dept_code:
        return False
    found: ColumnElement[Any] = exists().where(
        fever_dept.c.fixmedins_code == code, fever_dept.c.dept_code == dept_code)
    return found


def departments(conn: Connection, code: str) -> list[tuple[str, str, datetime]]:
    """The institution's fever-clinic departments: (dept_code, marked_by, marked_at)."""
    rows = conn.execute(select(fever_dept.c.dept_code, fever_dept.c.marked_by,
                               fever_dept.c.marked_at)
                        .where(fever_dept.c.fixmedins_code == code)
                        .order_by(fever_dept.c.dept_code))
    return [(r.dept_code, r.marked_by, r.marked_at) for r in rows]


def mark(conn: Connection, code: str, dept_code: str, by: str, at: datetime) -> bool:
    """Mark the department; False when it was marked already (nothing changes)."""
    if conn.execute(select(fever_dept.c.dept_code).where(
            fever_dept.c.fixmedins_code == code, fever_dept.c.dept_code == dept_code)
            ).first() is not None:
        return False
    conn.execute(insert(fever_dept).values(fixmedins_code=code, dept_code=dept_code,
                                           marked_by=by, marked_at=at))
    return True


def unmark(conn: Connection, code: str, dept_code: str) -> bool:
    """Unmark the department; False when it was not marked."""
    gone = conn.execute(delete(fever_dept).where(
        fever_dept.c.fixmedins_code == code, fever_dept.c.dept_code == dept_code)).rowcount
    return bool(gone)
