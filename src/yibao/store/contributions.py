"""The contribution aggregate: the insurance row's current status, its history
(``contribution_period``), the bureau's deferral decisions and declared periods. Each
statement is built once, at import. (The rules are domain/contribution.py; the order of
the steps and the locks, services/contribution.py.)"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, RowMapping, bindparam, insert, select, update

from yibao.domain.contribution import Declared, Period, Standing, Status, standing_of
from yibao.store.schema import contribution_period, declared_period, deferral, insurance

_KEY = (contribution_period.c.psn_no == bindparam("psn_no"),
        contribution_period.c.insutype == bindparam("insutype"))
_HISTORY = select(contribution_period).where(*_KEY).order_by(
    contribution_period.c.begin_date, contribution_period.c.recorded_at)
_OF_PERSON = select(contribution_period).where(
    contribution_period.c.psn_no == bindparam("psn_no")).order_by(
    contribution_period.c.insutype, contribution_period.c.begin_date.desc(),
    contribution_period.c.recorded_at.desc()).limit(bindparam("limit"))
_OPEN = select(contribution_period).where(*_KEY, contribution_period.c.end_date.is_(None))
_CLOSE = update(contribution_period).where(
    contribution_period.c.period_id == bindparam("pid")).values(
    end_date=bindparam("end"), continuous=bindparam("cont"))
_INSERT = insert(contribution_period)
_STANDING = select(insurance.c.contrib_stas, insurance.c.contrib_since,
                   insurance.c.contrib_until, insurance.c.psn_insu_date).where(
    insurance.c.psn_no == bindparam("psn_no"), insurance.c.insutype == bindparam("insutype"))
_SET_STANDING = update(insurance).where(
    insurance.c.psn_no == bindparam("b_psn_no"), insurance.c.insutype == bindparam("b_insutype"),
).values(contrib_stas=bindparam("stas"), contrib_since=bindparam("since"),
         contrib_until=bindparam("until"))
_EMPLOYEES = select(insurance.c.psn_no).where(
    insurance.c.insutype == bindparam("insutype"),
    insurance.c.contrib_stas != Status.SUSPENDED.value,
).order_by(insurance.c.psn_no)
_OF_EMPLOYER = _EMPLOYEES.where(insurance.c.emp_no == bindparam("emp_no"))
_DEFERRALS = select(deferral).order_by(deferral.c.decided_at.desc(),
                                       deferral.c.deferral_id.desc()).limit(bindparam("limit"))
_DECLARED = select(declared_period).order_by(
    declared_period.c.begin_date.desc(), declared_period.c.declared_id.desc()
).limit(bindparam("limit"))
_DECLARED_OF_AREA = select(declared_period).where(declared_period.c.area == bindparam("area"))


def standing(conn: Connection, psn_no: str, insutype: str) -> tuple[Standing, date] | None:
    """The insurance's current standing and the day it began (None: no such insurance)."""
    row = conn.execute(_STANDING, {"psn_no": psn_no, "insutype": insutype}).first()
    if row is None:
        return None
    return standing_of(row[0], row[1], row[2]), row[3]


def set_standing(conn: Connection, psn_no: str, insutype: str, new: Standing) -> None:
    conn.execute(_SET_STANDING, {"b_psn_no": psn_no, "b_insutype": insutype,
                                 "stas": new.status.value, "since": new.since,
                                 "until": new.until})


def open_period(conn: Connection, psn_no: str, insutype: str) -> RowMapping | None:
    """The current period of the history (None: the history has not begun)."""
    return conn.execute(_OPEN, {"psn_no": psn_no, "insutype": insutype}).mappings().first()


def close_period(conn: Connection, period_id: str, end: date, continuous: bool) -> None:
    conn.execute(_CLOSE, {"pid": period_id, "end": end, "cont": continuous})


def add_period(conn: Connection, **values: object) -> None:
    conn.execute(_INSERT, values)


def periods(conn: Connection, psn_no: str, insutype: str) -> list[Period]:
    """The history as the rules read it, oldest first."""
    rows = conn.execute(_HISTORY, {"psn_no": psn_no, "insutype": insutype}).mappings()
    return [Period(Status(r["status"]), r["begin_date"], r["end_date"], r["continuous"])
            for r in rows]


def history(conn: Connection, psn_no: str, limit: int) -> list[RowMapping]:
    """The person's periods, by insurance type, newest first (at most ``limit``)."""
    return list(conn.execute(_OF_PERSON, {"psn_no": psn_no, "limit": limit}).mappings())


def deferred_persons(conn: Connection, insutype: str, emp_no: str) -> list[str]:
    """The persons a deferral decision marks: the employer's (or, ``emp_no`` empty,
    everyone's) insurances of the type, suspended ones excepted."""
    query = _OF_EMPLOYER if emp_no else _EMPLOYEES
    rows = conn.execute(query, {"insutype": insutype, "emp_no": emp_no})
    return [str(r[0]) for r in rows]


def add_deferral(conn: Connection, **values: object) -> None:
    conn.execute(insert(deferral).values(**values))


def count_deferral(conn: Connection, deferral_id: str, persons: int) -> None:
    conn.execute(update(deferral).where(deferral.c.deferral_id == deferral_id)
                 .values(persons=persons))


def deferrals(conn: Connection, limit: int) -> list[RowMapping]:
    """The deferral decisions, newest first."""
    return list(conn.execute(_DEFERRALS, {"limit": limit}).mappings())


def add_declared(conn: Connection, **values: object) -> None:
    conn.execute(insert(declared_period).values(**values))


def declared(conn: Connection, limit: int) -> list[RowMapping]:
    """The declared periods, newest first."""
    return list(conn.execute(_DECLARED, {"limit": limit}).mappings())


def declared_of_area(conn: Connection, area: str) -> list[Declared]:
    rows = conn.execute(_DECLARED_OF_AREA, {"area": area}).mappings()
    return [Declared(r["area"], r["begin_date"], r["until_date"]) for r in rows]

