"""The ``designation`` aggregate: a person's designated institutions (就医定点医疗机构) as
typed records (``domain.designation.Designation``). Each statement is built once, at
import; the rows become records here and nowhere else."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import Connection, RowMapping, bindparam, insert, select, update

from yibao.domain.designation import ACTIVE, Designation, Ending, Status
from yibao.store.schema import designation

_c = designation.c
_HELD = select(designation).where(_c.psn_no == bindparam("psn_no")).order_by(
    _c.begin_date.desc(), _c.created_at.desc(), _c.trt_dcla_detl_sn.desc())
_ONE = select(designation).where(_c.trt_dcla_detl_sn == bindparam("serial"))
# the settlement's one statement: does a designation of the institution count that day?
_COUNTS = select(_c.trt_dcla_detl_sn).where(
    _c.psn_no == bindparam("psn_no"), _c.insutype == bindparam("insutype"),
    _c.fixmedins_code == bindparam("code"), _c.status == ACTIVE,
    _c.begin_date <= bindparam("day"),
    (_c.end_date.is_(None)) | (_c.end_date >= bindparam("day"))).limit(1)
_INSERT = insert(designation)
_END = update(designation).where(_c.trt_dcla_detl_sn == bindparam("serial")).values(
    end_date=bindparam("end"), status=bindparam("new_status"), ended_at=bindparam("at"),
    ended_reason=bindparam("reason"))


def held_by(conn: Connection, psn_no: str) -> list[Designation]:
    """Every designation of the person, ended and cancelled ones too, newest first."""
    return _records(conn.execute(_HELD, {"psn_no": psn_no}).mappings())


def by_serial(conn: Connection, serial: str) -> Designation | None:
    row = conn.execute(_ONE, {"serial": serial}).mappings().first()
    return None if row is None else _record(row)


def counts(conn: Connection, psn_no: str, insutype: str, code: str, day: date) -> bool:
    """Whether the person designated the institution for ``insutype`` on ``day``."""
    found = conn.execute(_COUNTS, {"psn_no": psn_no, "insutype": insutype, "code": code,
                                   "day": day}).first()
    return found is not None


def add(conn: Connection, row: Designation) -> None:
    conn.execute(_INSERT, {
        "trt_dcla_detl_sn": row.serial, "psn_no": row.psn_no, "insutype": row.insutype,
        "fix_srt_no": row.order, "fixmedins_code": row.institution,
        "begin_date": row.begin, "end_date": row.end, "status": row.status.value,
        "source": row.source, "actor": row.actor, "entry": row.entry, "msgid": row.msgid,
        "memo": row.memo, "created_at": row.created_at, "ended_at": None,
        "ended_reason": ""})


def end(conn: Connection, serial: str, ending: Ending, *, at: datetime, reason: str) -> None:
    """Record how the designation ended (its last day, or cancelled)."""
    conn.execute(_END, {"serial": serial, "end": ending.end,
                        "new_status": ending.status.value, "at": at,
                        "reason": reason[:500]})


def _records(rows: Iterable[RowMapping]) -> list[Designation]:
    return [_record(r) for r in rows]


def _record(row: RowMapping) -> Designation:
    return Designation(
        serial=row["trt_dcla_detl_sn"], psn_no=row["psn_no"], insutype=row["insutype"],
        order=row["fix_srt_no"], institution=row["fixmedins_code"],
        begin=row["begin_date"], end=row["end_date"], status=Status(row["status"]),
        source=row["source"], actor=row["actor"], entry=row["entry"], msgid=row["msgid"],
        created_at=row["created_at"], ended_at=row["ended_at"],
        ended_reason=row["ended_reason"], memo=row["memo"])
