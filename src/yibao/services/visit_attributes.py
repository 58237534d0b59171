"""Special attributes of a visit (就医特殊属性): 2406 records one, 2407 lists them.

The standard has the bureau's staff review an uploaded attribute before local systems use
it; yibao has no such review yet, so an attribute is recorded as uploaded and listed at
once (docs/interface.md). The attribute types and values are the local bureau's
dictionary; yibao stores them as sent (at most 6 characters each)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import RowMapping, Select, func, insert, select

from yibao.domain.errors import Refused
from yibao.domain.paging import Page
from yibao.domain.visit_states import VisitStatus
from yibao.services.context import Call
from yibao.services.persons import get_person
from yibao.services.visits import get_visit, require_status
from yibao.store.schema import institution, person, visit_sp_flag

ROWS_MAX = 100  # page_size of 2407 is cut to this


@dataclass(frozen=True, slots=True)
class Attribute:
    """2406's input: the visit, who it is (checked against the person's record) and the
    attribute."""

    mdtrt_id: str
    psn_no: str
    cert_type: str
    certno: str
    name: str
    ipt_otp_no: str
    flag_type: str
    flag: str
    memo: str = ""
    admdvs: str = ""


def record(call: Call, attr: Attribute) -> str:
    """2406: the visit's attribute; its ipt_psn_sp_flag_detl_id. The same type and value
    sent again for the visit answers the id it has."""
    row = get_visit(call, attr.mdtrt_id, attr.psn_no, lock=True)
    require_status(row, VisitStatus.OPEN, VisitStatus.DISCHARGED)
    who = get_person(call.conn, attr.psn_no)
    if (who["psn_cert_type"], who["certno"], who["name"]) != (
            attr.cert_type, attr.certno, attr.name):
        raise Refused("E-PSN-005", "psn_cert_type, certno or psn_name differs from the record")
    if attr.ipt_otp_no != row["ipt_otp_no"]:
        raise Refused("E-ENV-005", "ipt_otp_no differs from the visit's (2201/2401/2403)")
    c = visit_sp_flag.c
    known = call.conn.execute(select(c.detl_id).where(
        c.mdtrt_id == attr.mdtrt_id, c.flag_type == attr.flag_type, c.flag == attr.flag)
    ).scalar_one_or_none()
    if known is not None:
        return str(known)
    detl_id = call.ids.new("SPF")
    call.conn.execute(insert(visit_sp_flag).values(
        detl_id=detl_id, mdtrt_id=attr.mdtrt_id, psn_no=attr.psn_no,
        fixmedins_code=call.institution.code, ipt_otp_no=attr.ipt_otp_no,
        flag_type=attr.flag_type, flag=attr.flag, memo=attr.memo, admdvs=attr.admdvs,
        msgid=call.ref, created_at=call.now))
    return detl_id


@dataclass(frozen=True, slots=True)
class AttributeFilter:
    """2407's optional conditions (all that are set must hold)."""

    detl_id: str = ""
    mdtrt_id: str = ""
    psn_no: str = ""
    cert_type: str = ""
    certno: str = ""
    name: str = ""
    ipt_otp_no: str = ""
    flag_type: str = ""
    flag: str = ""
    admdvs: str = ""


def _query(call: Call, f: AttributeFilter) -> Select[tuple[object, ...]]:
    c, p = visit_sp_flag.c, person.c
    query = (select(visit_sp_flag, p.psn_cert_type, p.certno, p.name.label("psn_name"),
                    institution.c.name.label("fixmedins_name"))
             .join(person, p.psn_no == c.psn_no)
             .join(institution, institution.c.fixmedins_code == c.fixmedins_code)
             .where(c.fixmedins_code == call.institution.code))
    for column, value in ((c.detl_id, f.detl_id), (c.mdtrt_id, f.mdtrt_id),
                          (c.psn_no, f.psn_no), (p.psn_cert_type, f.cert_type),
                          (p.certno, f.certno), (p.name, f.name), (c.ipt_otp_no, f.ipt_otp_no),
                          (c.flag_type, f.flag_type), (c.flag, f.flag), (c.admdvs, f.admdvs)):
        if value:
            query = query.where(column == value)
    return query.order_by(c.created_at, c.msgid, c.detl_id)  # the order they came in


def listed(call: Call, f: AttributeFilter, page: Page) -> tuple[list[RowMapping], int]:
    """2407: one page of the caller's attributes the filter selects, and how many in all.
    A visit named is checked as every query checks it (E-VIS-001)."""
    if f.mdtrt_id:
        get_visit(call, f.mdtrt_id, "")
    query = _query(call, f)
    total = call.conn.execute(
        select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = call.conn.execute(query.limit(page.limit).offset(page.offset)).mappings()
    return list(rows), int(total)
