"""The ``institution_disease_service`` rows: the special diseases whose care away from
home an institution opened (the 2022 notice), from when, by whom, and when closed.
Each statement is built once, at import."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update

from yibao.store.schema import institution_disease_service as _t

_OPEN_AT = and_(_t.c.opened_from <= bindparam("at"),
                or_(_t.c.closed_at.is_(None), _t.c.closed_at > bindparam("at")))
_OPENED = select(_t.c.opsp_dise_code).where(_t.c.fixmedins_code == bindparam("code"),
                                            _OPEN_AT)
_OF_INSTITUTION = select(_t).where(_t.c.fixmedins_code == bindparam("code")).order_by(
    _t.c.opsp_dise_code)
_ONE = select(_t).where(_t.c.fixmedins_code == bindparam("code"),
                        _t.c.opsp_dise_code == bindparam("disease")).with_for_update()


@dataclass(frozen=True, slots=True)
class Service:
    """A disease an institution opened (or closed) for care away from home."""

    code: str
    disease: str
    opened_from: datetime
    opened_by: str
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str

    def open_at(self, at: datetime) -> bool:
        return self.opened_from <= at and (self.closed_at is None or self.closed_at > at)


def opened(conn: Connection, code: str, at: datetime) -> frozenset[str]:
    """The diseases (opsp_dise_code) the institution settles away from home at ``at``."""
    return frozenset(str(r[0]) for r in conn.execute(_OPENED, {"code": code, "at": at}))


def of_institution(conn: Connection, code: str) -> list[Service]:
    """Every disease the institution opened or closed, by code."""
    return [Service(r["fixmedins_code"], r["opsp_dise_code"], r["opened_from"],
                    r["opened_by"], r["opened_at"], r["closed_at"], r["closed_by"])
            for r in conn.execute(_OF_INSTITUTION, {"code": code}).mappings()]


def open_service(conn: Connection, code: str, disease: str, *, opened_from: datetime,
                 by: str, at: datetime) -> None:
    """Open (or open again) the disease at the institution from ``opened_from``."""
    values = dict(opened_from=opened_from, opened_by=by, opened_at=at, closed_at=None,
                  closed_by="")
    found = conn.execute(_ONE, {"code": code, "disease": disease}).first()
    if found is None:
        conn.execute(insert(_t).values(fixmedins_code=code, opsp_dise_code=disease, **values))
    else:
        conn.execute(update(_t).where(_t.c.fixmedins_code == code,
                                      _t.c.opsp_dise_code == disease).values(**values))


def close_service(conn: Connection, code: str, disease: str, *, by: str,
                  at: datetime) -> bool:
    """Close the disease at the institution from ``at``; False when it is not open."""
    found = conn.execute(_ONE, {"code": code, "disease": disease}).mappings().first()
    if found is None or found["closed_at"] is not None:
        return False
    closed_at = max(at, found["opened_from"])
    conn.execute(update(_t).where(_t.c.fixmedins_code == code,
                                  _t.c.opsp_dise_code == disease).values(
        closed_at=closed_at, closed_by=by))
    return True
