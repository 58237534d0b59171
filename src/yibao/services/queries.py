"""Read-only queries for the institution (5201-5206, 5303). An institution sees only its own
visits and settlements; accumulators (5206) are the person's, as the spec intends."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import RowMapping, select

from yibao.domain.codes import VisitClass
from yibao.domain.errors import Refused
from yibao.domain.states import SettlementKind
from yibao.domain.visit_states import VisitStatus
from yibao.services.context import Call
from yibao.store import settlements
from yibao.store.schema import (
    diagnosis,
    fee_line,
    person,
    settlement,
    settlement_fund,
    settlement_line,
)
from yibao.store.schema import visit as visit_table

ROWS_MAX = 1000


def visits_between(
    call: Call, psn_no: str, begin: datetime, end: datetime, med_type: str, mdtrt_id: str
) -> list[RowMapping]:
    query = select(visit_table).where(
        visit_table.c.psn_no == psn_no,
        visit_table.c.fixmedins_code == call.institution.code,
        visit_table.c.begntime >= begin,
        visit_table.c.begntime <= end,
    )
    if med_type:
        query = query.where(visit_table.c.med_type == med_type)
    if mdtrt_id:
        query = query.where(visit_table.c.mdtrt_id == mdtrt_id)
    query = query.order_by(visit_table.c.begntime).limit(ROWS_MAX)
    return list(call.conn.execute(query).mappings())


def in_hospital(call: Call, psn_no: str, begin: datetime, end: datetime) -> list[RowMapping]:
    """5303: the caller's inpatients admitted between ``begin`` and ``end`` and not yet
    discharged (of one person when ``psn_no``), with the person's columns; oldest first,
    at most ROWS_MAX (admitted at the same time: in the order of admission)."""
    v = visit_table.c
    query = (
        select(visit_table, person.c.psn_cert_type, person.c.certno,
               person.c.name.label("psn_name"), person.c.gend, person.c.brdy)
        .join(person, person.c.psn_no == v.psn_no)
        .where(v.fixmedins_code == call.institution.code,
               v.visit_class == VisitClass.INPATIENT.value, v.status == VisitStatus.OPEN,
               v.begntime >= begin, v.begntime <= end)
    )
    if psn_no:
        query = query.where(v.psn_no == psn_no)
    return list(call.conn.execute(query.order_by(v.begntime, v.msgid, v.mdtrt_id).limit(ROWS_MAX))
                .mappings())


def diagnoses(call: Call, mdtrt_id: str) -> list[RowMapping]:
    query = select(diagnosis).where(diagnosis.c.mdtrt_id == mdtrt_id).order_by(
        diagnosis.c.stage, diagnosis.c.diag_srt_no
    )
    return list(call.conn.execute(query).mappings())


def settlement_of(call: Call, setl_id: str, mdtrt_id: str, psn_no: str) -> RowMapping:
    row = call.conn.execute(select(settlement).where(settlement.c.setl_id == setl_id)).mappings()
    found = row.first()
    if (
        found is None
        # a reimbursement is the fund's, not the institution's
        or found["kind"] == SettlementKind.CLAIM
        or found["fixmedins_code"] != call.institution.code
        or found["mdtrt_id"] != mdtrt_id
        or found["psn_no"] != psn_no
    ):
        raise Refused("E-SETL-002", f"setl_id {setl_id}")
    return found


def fund_lines(call: Call, setl_id: str) -> list[RowMapping]:
    query = select(settlement_fund).where(settlement_fund.c.setl_id == setl_id).order_by(
        settlement_fund.c.seq
    )
    return list(call.conn.execute(query).mappings())


def is_cancelled(call: Call, setl_id: str) -> bool:
    return settlements.is_reversed(call.conn, setl_id)


def settled_lines(call: Call, setl_id: str) -> list[RowMapping]:
    query = (
        select(fee_line)
        .join(settlement_line, settlement_line.c.fee_line_id == fee_line.c.id)
        .where(settlement_line.c.setl_id == setl_id)
        .order_by(fee_line.c.id)
    )
    return list(call.conn.execute(query).mappings())


def chronic_lines(call: Call, psn_no: str, begin: datetime, end: datetime) -> list[RowMapping]:
    """Fee lines of the person's chronic/special-disease outpatient visits (med_type 14)."""
    query = (
        select(fee_line, visit_table.c.fixmedins_code, visit_table.c.med_type)
        .join(visit_table, visit_table.c.mdtrt_id == fee_line.c.mdtrt_id)
        .where(
            fee_line.c.psn_no == psn_no,
            visit_table.c.med_type == "14",
            fee_line.c.status == "active",
            visit_table.c.begntime >= begin,
            visit_table.c.begntime <= end,
        )
        .order_by(fee_line.c.id)
        .limit(ROWS_MAX)
    )
    return list(call.conn.execute(query).mappings())
