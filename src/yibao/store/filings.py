"""The ``filing`` aggregate, read: a person's filings (备案) as typed records
(``domain.filing.Filing``), for the away-from-home rules and the filing lists. Each
statement is built once, at import; the rows become records here and nowhere else.
(Registering, superseding and cancelling a filing are services/filing.py's writes.)"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, RowMapping, and_, bindparam, or_, select

from yibao.domain.filing import Commitment, Filing, FilingType, Kind, Relationship, Status
from yibao.domain.paging import Page
from yibao.store.schema import filing

_HELD = select(filing).where(filing.c.psn_no == bindparam("psn_no"))
_NAMED = _HELD.where(filing.c.trt_dcla_detl_sn == bindparam("serial"))
_ONE = select(filing).where(filing.c.trt_dcla_detl_sn == bindparam("serial"))
# active and not past its chosen end at :now (registered by then: checked on the records)
_IN_FORCE = and_(filing.c.status == Status.ACTIVE.value,
                 or_(filing.c.end_at.is_(None), filing.c.end_at > bindparam("now")))
_OF_KIND_IN_FORCE = select(filing).where(
    filing.c.psn_no == bindparam("psn_no"), filing.c.kind == bindparam("kind"), _IN_FORCE,
).order_by(filing.c.begin_at, filing.c.trt_dcla_detl_sn)
_DISEASE_INSTITUTIONS = select(filing.c.fixmedins_code).where(
    filing.c.psn_no == bindparam("psn_no"), filing.c.kind == Kind.DISEASE.value,
    filing.c.dise_code == bindparam("disease"), _IN_FORCE)
_MADE = select(filing).where(
    filing.c.psn_no == bindparam("psn_no"), filing.c.actor == bindparam("actor"),
    filing.c.begin_at >= bindparam("begin"))
_MADE_SINCE = _MADE.order_by(filing.c.begin_at)
_MADE_BETWEEN = _MADE.where(filing.c.begin_at <= bindparam("end")).order_by(filing.c.begin_at)
_NEWEST = select(filing).order_by(
    filing.c.begin_at.desc(), filing.c.trt_dcla_detl_sn.desc()).limit(bindparam("limit"))
_PAGE = select(filing).where(filing.c.psn_no == bindparam("psn_no")).order_by(
    filing.c.begin_at.desc(), filing.c.trt_dcla_detl_sn.desc(),
).limit(bindparam("limit")).offset(bindparam("offset"))


def held_by(conn: Connection, psn_no: str) -> list[Filing]:
    """Every filing of the person, ended ones too (the rules judge them)."""
    return _records(conn.execute(_HELD, {"psn_no": psn_no}).mappings())


def named(conn: Connection, psn_no: str, serial: str) -> Filing | None:
    """The person's filing ``serial`` (None: no such filing of the person)."""
    row = conn.execute(_NAMED, {"psn_no": psn_no, "serial": serial}).mappings().first()
    return None if row is None else _record(row)


def by_serial(conn: Connection, serial: str) -> Filing | None:
    row = conn.execute(_ONE, {"serial": serial}).mappings().first()
    return None if row is None else _record(row)


def in_force(conn: Connection, psn_no: str, kind: Kind, now: datetime) -> list[Filing]:
    """The person's filings of a kind that count at ``now``, oldest first."""
    rows = conn.execute(_OF_KIND_IN_FORCE, {"psn_no": psn_no, "kind": kind.value, "now": now})
    return [f for f in _records(rows.mappings()) if f.begin_at <= now]


def disease_institutions(conn: Connection, psn_no: str, disease_code: str, now: datetime
                         ) -> list[str]:
    """The institutions the person's special-disease filings for a disease, active and
    not past their end at ``now``, are with."""
    rows = conn.execute(_DISEASE_INSTITUTIONS,
                        {"psn_no": psn_no, "disease": disease_code, "now": now})
    return [str(r[0]) for r in rows]


def made_by(conn: Connection, psn_no: str, actor: str, begin: datetime, end: datetime | None
            ) -> list[Filing]:
    """The person's filings ``actor`` registered from ``begin`` (to ``end``), oldest
    first."""
    query = _MADE_SINCE if end is None else _MADE_BETWEEN
    rows = conn.execute(query, {"psn_no": psn_no, "actor": actor, "begin": begin, "end": end})
    return _records(rows.mappings())


def page_of(conn: Connection, psn_no: str, page: Page) -> list[Filing]:
    """A page of the person's filings, newest first."""
    rows = conn.execute(_PAGE, {"psn_no": psn_no, "limit": page.limit, "offset": page.offset})
    return _records(rows.mappings())


def newest(conn: Connection, limit: int) -> list[Filing]:
    """The ``limit`` filings registered last, of everyone, newest first."""
    return _records(conn.execute(_NEWEST, {"limit": limit}).mappings())


def _records(rows: Iterable[RowMapping]) -> list[Filing]:
    return [_record(r) for r in rows]


def _record(row: RowMapping) -> Filing:
    return Filing(
        serial=row["trt_dcla_detl_sn"], psn_no=row["psn_no"], kind=Kind(row["kind"]),
        filing_type=FilingType(row["filing_type"]),
        relationship=Relationship(row["insutype"], row["insuplc_admdvs"], row["emp_name"]),
        area=row["mdtrtarea_admdvs"], institution=row["fixmedins_code"],
        disease_code=row["dise_code"], disease_name=row["dise_name"], reason=row["reason"],
        injury_time=row["trum_time"], injury_site=row["trum_site"],
        begin_at=row["begin_at"], end_at=row["end_at"], status=Status(row["status"]),
        ended_at=row["ended_at"], ended_reason=row["ended_reason"], source=row["source"],
        actor=row["actor"], msgid=row["msgid"],
        commitment=Commitment(bool(row["commitment_signed"]), row["commitment_at"],
                              row["commitment_version"], row["commitment_entry"]),
    )
