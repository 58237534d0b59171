"""Visits: outpatient registration (2201/2202/2203) and inpatient stays (2401/2402/2404/2405).

A visit is ``open`` until cancelled; an inpatient stay becomes ``discharged`` (2402) and
can be reopened (2405) while its final settlement is not live.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from yibao.domain.codes import VisitClass, visit_class_of
from yibao.domain.errors import Refused
from yibao.services.context import Call, Done, Effect, EffectKind
from yibao.services.persons import Credential, active_insurance, find_by_credential, get_person
from yibao.store.schema import diagnosis, fee_line, insurance, settlement, visit

_VISIT = select(visit).where(visit.c.mdtrt_id == bindparam("mdtrt_id"))
_LOCK_VISIT = _VISIT.with_for_update()
# the visit locked with the sequence number its next settlement takes (one round trip)
_NEXT_SEQ = (
    select(func.coalesce(func.max(settlement.c.seq), 0) + 1)
    .where(settlement.c.mdtrt_id == visit.c.mdtrt_id)
    .scalar_subquery()
)
_LOCK_VISIT_FOR_SETTLEMENT = (
    select(visit, _NEXT_SEQ.label("next_seq"), insurance.c.psn_type,
           insurance.c.psn_insu_stas, insurance.c.psn_insu_date, insurance.c.paus_insu_date,
           insurance.c.cvlserv_flag, insurance.c.emp_name)
    .outerjoin(insurance, and_(insurance.c.psn_no == visit.c.psn_no,
                               insurance.c.insutype == visit.c.insutype))
    .where(visit.c.mdtrt_id == bindparam("mdtrt_id"))
    .with_for_update(of=visit)
)

OPEN = "open"
DISCHARGED = "discharged"
CANCELLED = "cancelled"
SELFPAID = "selfpaid"  # paid in full, to be reimbursed manually (services/reimbursement.py)
DIAGNOSES_MAX = 50


@dataclass(frozen=True, slots=True)
class Diagnosis:
    diag_type: str
    srt_no: int
    code: str
    name: str
    dept: str = ""
    doctor_no: str = ""
    doctor_name: str = ""
    time: datetime | None = None
    valid: str = "1"


@dataclass(frozen=True, slots=True)
class AwayFlags:
    """What the HIS says in exp_content about emergency and injury (docs/away.md)."""

    emergency: str = "0"
    trauma: str = "0"
    third_party: str = ""  # "0" none liable, "1" liable, "" not an injury


ORDINARY = AwayFlags()  # neither an emergency nor an injury


@dataclass(frozen=True, slots=True)
class NewVisit:
    psn_no: str
    insutype: str
    med_type: str
    begin: datetime
    credential: Credential
    ipt_otp_no: str
    doctor_no: str = ""
    doctor_name: str = ""
    dept_code: str = ""
    dept_name: str = ""
    caty: str = ""
    insured_area: str = ""
    treatment_area: str = ""
    diagnoses: tuple[Diagnosis, ...] = field(default=())
    flags: AwayFlags = AwayFlags()


def get_visit(call: Call, mdtrt_id: str, psn_no: str, *, lock: bool = False,
              for_settlement: bool = False) -> RowMapping:
    """The caller's visit; another institution's visit is reported as unknown. Locked
    ``for_settlement``, the row also carries ``next_seq`` and the person's insurance
    columns of the visit's insurance type (``persons.require_insured``)."""
    query = _LOCK_VISIT_FOR_SETTLEMENT if for_settlement else _LOCK_VISIT if lock else _VISIT
    row = call.conn.execute(query, {"mdtrt_id": mdtrt_id}).mappings().first()
    if row is None or row["fixmedins_code"] != call.institution.code:
        raise Refused("E-VIS-001", f"mdtrt_id {mdtrt_id}")
    if psn_no and row["psn_no"] != psn_no:
        raise Refused("E-VIS-004", f"mdtrt_id {mdtrt_id}")
    return row


def require_status(row: RowMapping, *allowed: str) -> None:
    if row["status"] not in allowed:
        raise Refused("E-VIS-002", f"visit {row['mdtrt_id']} is {row['status']}")


def open_visit(call: Call, new: NewVisit, visit_class: VisitClass) -> Done[str]:
    """2201 / 2401: check the person and insurance, create the visit; its mdtrt_id."""
    if visit_class_of(new.med_type) is not visit_class:
        raise Refused("E-VIS-003", f"med_type {new.med_type} is not {visit_class}")
    holder = find_by_credential(call.conn, new.credential, new.begin.date())
    if holder["psn_no"] != new.psn_no:
        raise Refused("E-PSN-005", "the credential belongs to another person")
    person = get_person(call.conn, new.psn_no)
    active_insurance(call.conn, new.psn_no, new.insutype, new.begin.date())
    mdtrt_id = call.ids.new("M")
    call.conn.execute(
        insert(visit).values(
            mdtrt_id=mdtrt_id, psn_no=new.psn_no, fixmedins_code=call.institution.code,
            insutype=new.insutype, med_type=new.med_type, visit_class=visit_class.value,
            status=OPEN, begntime=new.begin, ipt_otp_no=new.ipt_otp_no,
            mdtrt_cert_type=new.credential.cert_type, mdtrt_cert_no=new.credential.cert_no,
            atddr_no=new.doctor_no, dr_name=new.doctor_name, dept_code=new.dept_code,
            dept_name=new.dept_name, caty=new.caty,
            insuplc_admdvs=new.insured_area or person["insuplc_admdvs"],
            mdtrtarea_admvs=new.treatment_area or call.institution.pool_area, msgid=call.ref,
            emergency=new.flags.emergency, trum_flag=new.flags.trauma,
            rel_ttp_flag=new.flags.third_party,
        )
    )
    if new.diagnoses:
        replace_diagnoses(call, mdtrt_id, new.psn_no, new.diagnoses, stage="visit")
    return Done(mdtrt_id, Effect(EffectKind.VISIT, mdtrt_id))


def open_selfpaid(
    call: Call, psn_no: str, insutype: str, med_type: str, visit_class: VisitClass,
    diagnoses: tuple[Diagnosis, ...], flags: AwayFlags,
) -> str:
    """The visit of a bill paid in full (manual reimbursement), at ``call.institution`` and
    ``call.now``; open until its lines are stored, then ``close_selfpaid``."""
    person = get_person(call.conn, psn_no)
    active_insurance(call.conn, psn_no, insutype, call.now.date())
    mdtrt_id = call.ids.new("M")
    call.conn.execute(insert(visit).values(
        mdtrt_id=mdtrt_id, psn_no=psn_no, fixmedins_code=call.institution.code,
        insutype=insutype, med_type=med_type, visit_class=visit_class.value, status=OPEN,
        begntime=call.now, ipt_otp_no=call.ref, mdtrt_cert_type="", mdtrt_cert_no="",
        insuplc_admdvs=person["insuplc_admdvs"], mdtrtarea_admvs=call.institution.pool_area,
        msgid=call.ref, emergency=flags.emergency, trum_flag=flags.trauma,
        rel_ttp_flag=flags.third_party,
    ))
    if diagnoses:
        replace_diagnoses(call, mdtrt_id, psn_no, diagnoses, stage="visit")
    return mdtrt_id


def close_selfpaid(call: Call, mdtrt_id: str, end: datetime | None) -> None:
    call.conn.execute(update(visit).where(visit.c.mdtrt_id == mdtrt_id).values(
        status=SELFPAID, endtime=end))


def replace_diagnoses(
    call: Call, mdtrt_id: str, psn_no: str, items: tuple[Diagnosis, ...], *, stage: str
) -> None:
    if len(items) > DIAGNOSES_MAX:
        raise Refused("E-ENV-005", f"at most {DIAGNOSES_MAX} diagnoses")
    call.conn.execute(
        delete(diagnosis).where(diagnosis.c.mdtrt_id == mdtrt_id, diagnosis.c.stage == stage)
    )
    if not items:  # an empty executemany would insert one row of defaults
        return
    call.conn.execute(
        insert(diagnosis),
        [
            dict(
                mdtrt_id=mdtrt_id, psn_no=psn_no, diag_type=d.diag_type, diag_srt_no=d.srt_no,
                diag_code=d.code, diag_name=d.name, diag_dept=d.dept, dise_dor_no=d.doctor_no,
                dise_dor_name=d.doctor_name, diag_time=d.time, vali_flag=d.valid, stage=stage,
            )
            for d in items
        ],
    )


def record_visit_info(
    call: Call, mdtrt_id: str, psn_no: str, med_type: str, items: tuple[Diagnosis, ...]
) -> None:
    """2203: the outpatient visit's medical type and diagnoses."""
    row = get_visit(call, mdtrt_id, psn_no, lock=True)
    require_status(row, OPEN)
    if visit_class_of(med_type) is not VisitClass(row["visit_class"]):
        raise Refused("E-VIS-003", f"med_type {med_type} for a {row['visit_class']} visit")
    call.conn.execute(update(visit).where(visit.c.mdtrt_id == mdtrt_id).values(med_type=med_type))
    replace_diagnoses(call, mdtrt_id, psn_no, items, stage="visit")


def _live(mdtrt_id: str | ColumnElement[str], *, final_only: bool) -> Select[Any]:
    """The settlements of a visit (an id, or the ``visit`` row of an outer query) that no
    cancellation reverses (the unique index on ``reverses`` answers the NOT EXISTS)."""
    cancel = settlement.alias("cancel")
    query = select(settlement).where(
        settlement.c.mdtrt_id == mdtrt_id,
        settlement.c.kind == "settle",
        ~select(cancel.c.setl_id).where(cancel.c.reverses == settlement.c.setl_id).exists(),
    )
    return query.where(settlement.c.mid_setl_flag == "0") if final_only else query


def live_settlements(conn: Connection, mdtrt_id: str, *, final_only: bool) -> list[RowMapping]:
    """The visit's settlements that no cancellation reverses, oldest first."""
    query = _live(mdtrt_id, final_only=final_only).order_by(settlement.c.seq)
    return list(conn.execute(query).mappings())


def unsettled(conn: Connection, psn_no: str) -> list[RowMapping]:
    """The person's visits still to be settled, oldest first: open (or discharged) with no
    live final settlement. A visit whose settlement was cancelled is unsettled again."""
    query = select(visit).where(
        visit.c.psn_no == psn_no, visit.c.status.in_((OPEN, DISCHARGED)),
        ~_live(visit.c.mdtrt_id, final_only=True).exists(),
    ).order_by(visit.c.begntime, visit.c.mdtrt_id)
    return list(conn.execute(query).mappings())


def _has_active_fees(conn: Connection, mdtrt_id: str) -> bool:
    query = select(func.count()).where(
        fee_line.c.mdtrt_id == mdtrt_id, fee_line.c.status == "active"
    )
    return conn.execute(query).scalar_one() > 0


def cancel_visit(call: Call, mdtrt_id: str, psn_no: str, visit_class: VisitClass) -> Effect:
    """2202 / 2404: only a visit without live settlements or uploaded fee lines."""
    row = get_visit(call, mdtrt_id, psn_no, lock=True)
    if row["visit_class"] != visit_class.value:
        raise Refused("E-VIS-003", f"visit {mdtrt_id} is {row['visit_class']}")
    require_status(row, OPEN)
    if live_settlements(call.conn, mdtrt_id, final_only=False):
        raise Refused("E-SETL-005", "cancel its settlements (2208/2305) first")
    if _has_active_fees(call.conn, mdtrt_id):
        raise Refused("E-VIS-002", "fee details are uploaded: cancel them (2205/2302) first")
    set_status(call, mdtrt_id, CANCELLED)
    return Effect(EffectKind.VISIT_CANCEL, mdtrt_id)


def set_status(call: Call, mdtrt_id: str, status: str, **values: object) -> None:
    call.conn.execute(
        update(visit).where(visit.c.mdtrt_id == mdtrt_id).values(status=status, **values)
    )


def discharge(
    call: Call, mdtrt_id: str, psn_no: str, end: datetime, way: str,
    items: tuple[Diagnosis, ...],
) -> Effect:
    """2402: the stay ends; final settlement may come before or after this message."""
    row = get_visit(call, mdtrt_id, psn_no, lock=True)
    if row["visit_class"] != VisitClass.INPATIENT.value:
        raise Refused("E-VIS-003", f"visit {mdtrt_id} is not an inpatient stay")
    require_status(row, OPEN)
    if end < row["begntime"]:
        raise Refused("E-ENV-005", "endtime is before the admission time")
    set_status(call, mdtrt_id, DISCHARGED, endtime=end, dscg_way=way)
    if items:
        replace_diagnoses(call, mdtrt_id, psn_no, items, stage="discharge")
    return Effect(EffectKind.DISCHARGE, mdtrt_id)


def undo_discharge(call: Call, mdtrt_id: str, psn_no: str) -> Effect:
    """2405: reopen a discharged stay whose final settlement is not live."""
    row = get_visit(call, mdtrt_id, psn_no, lock=True)
    require_status(row, DISCHARGED)
    if live_settlements(call.conn, mdtrt_id, final_only=True):
        raise Refused("E-SETL-005", "cancel the final settlement (2305) first")
    set_status(call, mdtrt_id, OPEN, endtime=None, dscg_way="")
    call.conn.execute(
        delete(diagnosis).where(diagnosis.c.mdtrt_id == mdtrt_id, diagnosis.c.stage == "discharge")
    )
    return Effect(EffectKind.DISCHARGE_CANCEL, mdtrt_id)


def is_final_settled(conn: Connection, mdtrt_id: str) -> bool:
    return bool(live_settlements(conn, mdtrt_id, final_only=True))
