"""Visits: outpatient registration (2201/2202/2203) and inpatient stays (2401/2402/2404/2405).

A visit is ``open`` until cancelled; an inpatient stay becomes ``discharged`` (2402) and
can be reopened (2405) while its final settlement is not live. Every status change is a
move of ``domain/visit_states.TRANSITIONS``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from yibao.domain import visit_states
from yibao.domain.codes import VisitClass, visit_class_of
from yibao.domain.errors import Refused
from yibao.domain.visit_states import START, VisitAction, VisitStatus
from yibao.services import contribution
from yibao.services.context import Call, Done, Effect, EffectKind
from yibao.services.persons import Credential, active_insurance, find_by_credential, get_person
from yibao.store import fever, online_orders, settlements
from yibao.store.lean import Lean, Row
from yibao.store.schema import (
    account,
    admission_detail,
    diagnosis,
    fee_line,
    insurance,
    settlement,
    visit,
)

_VISIT_QUERY = select(visit).where(visit.c.mdtrt_id == bindparam("mdtrt_id"))
_VISIT = Lean(_VISIT_QUERY)
_LOCK_VISIT = Lean(_VISIT_QUERY.with_for_update())
# the visit locked with the sequence number its next settlement takes (one round trip)
_NEXT_SEQ = (
    select(func.coalesce(func.max(settlement.c.seq), 0) + 1)
    .where(settlement.c.mdtrt_id == visit.c.mdtrt_id)
    .scalar_subquery()
)
_LOCK_VISIT_FOR_SETTLEMENT = Lean(
    select(visit, _NEXT_SEQ.label("next_seq"), account.c.balance,
           online_orders.held_account(visit.c.psn_no).label("held_account"),
           insurance.c.psn_type,
           insurance.c.psn_insu_stas, insurance.c.psn_insu_date, insurance.c.paus_insu_date,
           insurance.c.cvlserv_flag, insurance.c.emp_name, insurance.c.contrib_stas,
           insurance.c.contrib_since, insurance.c.contrib_until)
    .outerjoin(insurance, and_(insurance.c.psn_no == visit.c.psn_no,
                               insurance.c.insutype == visit.c.insutype))
    .outerjoin(account, account.c.psn_no == visit.c.psn_no)
    .where(visit.c.mdtrt_id == bindparam("mdtrt_id"))
    .with_for_update(of=visit)
)

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
    """What the HIS says in exp_content about emergency and injury (docs/away.md) and
    the population group (MDTRT_GRP_TYPE, docs/fever.md)."""

    emergency: str = "0"
    trauma: str = "0"
    third_party: str = ""  # "0" none liable, "1" liable, "" not an injury
    group: str = ""  # MDTRT_GRP_TYPE (table 598), "" none


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
    detail: tuple[tuple[str, str], ...] = ()  # an admission's other fields (2401)


@dataclass(frozen=True, slots=True)
class AdmissionChange:
    """2403: the admission as it now stands. ``end`` only for a discharged stay;
    ``flags`` None keeps the stay's; ``detail`` replaces the admission's other fields."""

    begin: datetime
    end: datetime | None
    med_type: str
    ipt_otp_no: str
    doctor_no: str
    doctor_name: str
    dept_code: str
    dept_name: str
    flags: AwayFlags | None
    detail: tuple[tuple[str, str], ...]


def _replace_detail(call: Call, mdtrt_id: str, detail: tuple[tuple[str, str], ...]) -> None:
    """The admission's other fields (``admission_detail``), replacing what it had."""
    call.conn.execute(delete(admission_detail).where(admission_detail.c.mdtrt_id == mdtrt_id))
    _store_detail(call, mdtrt_id, detail)


def _store_detail(call: Call, mdtrt_id: str, detail: tuple[tuple[str, str], ...]) -> None:
    """A new visit's other fields (``admission_detail``), if it has any."""
    if detail:
        call.conn.execute(insert(admission_detail).values(
            mdtrt_id=mdtrt_id,
            detail=json.dumps(dict(detail), ensure_ascii=False, sort_keys=True)))


def admission_detail_of(conn: Connection, mdtrt_id: str) -> dict[str, str]:
    """The admission's other fields as 2401 / 2403 last sent them (``{}``: none)."""
    text = conn.execute(select(admission_detail.c.detail).where(
        admission_detail.c.mdtrt_id == mdtrt_id)).scalar_one_or_none()
    loaded = json.loads(text or "{}")
    assert isinstance(loaded, dict), mdtrt_id
    return {str(k): str(v) for k, v in loaded.items()}


def get_visit(call: Call, mdtrt_id: str, psn_no: str, *, lock: bool = False,
              for_settlement: bool = False) -> Row:
    """The caller's visit; another institution's visit is reported as unknown. Locked
    ``for_settlement``, the row also carries ``next_seq``, the person's insurance
    columns of the visit's insurance type (``persons.require_insured``), the personal
    account's ``balance`` and the part of it online orders hold (``held_account``): read
    after the person's lock, so current (settlement._plan)."""
    query = _LOCK_VISIT_FOR_SETTLEMENT if for_settlement else _LOCK_VISIT if lock else _VISIT
    row = query.first(call.conn, {"mdtrt_id": mdtrt_id})
    if row is None or row["fixmedins_code"] != call.institution.code:
        raise Refused("E-VIS-001", f"mdtrt_id {mdtrt_id}")
    if psn_no and row["psn_no"] != psn_no:
        raise Refused("E-VIS-004", f"mdtrt_id {mdtrt_id}")
    return row


_DIAGNOSIS_CODES = select(diagnosis.c.diag_code).where(
    diagnosis.c.mdtrt_id == bindparam("mdtrt_id"), diagnosis.c.vali_flag == "1"
).distinct()


def diagnosis_codes(conn: Connection, mdtrt_id: str) -> list[str]:
    """The codes of the visit's valid diagnoses (2201, 2203, 2401, 2402)."""
    return [str(r[0]) for r in conn.execute(_DIAGNOSIS_CODES, {"mdtrt_id": mdtrt_id})]


def require_status(row: Row, *allowed: VisitStatus) -> None:
    """The visit is in one of ``allowed`` for what is to be done with it (E-VIS-002)."""
    visit_states.require(row["status"], row["mdtrt_id"], *allowed)


def _move(call: Call, mdtrt_id: str, status: VisitStatus, **values: object) -> None:
    """Store a status ``visit_states.after`` allowed (with the columns that go with it)."""
    call.conn.execute(
        update(visit).where(visit.c.mdtrt_id == mdtrt_id).values(status=status, **values)
    )


def open_visit(call: Call, new: NewVisit, visit_class: VisitClass) -> Done[str]:
    """2201 / 2401: check the person and insurance, create the visit; its mdtrt_id."""
    if visit_class_of(new.med_type) is not visit_class:
        raise Refused("E-VIS-003", f"med_type {new.med_type} is not {visit_class}")
    # the holder's whole person row (every credential resolves to one): read once
    person = find_by_credential(call.conn, new.credential, new.begin.date())
    if person["psn_no"] != new.psn_no:
        raise Refused("E-PSN-005", "the credential belongs to another person")
    active_insurance(call.conn, new.psn_no, new.insutype, new.begin.date())
    mdtrt_id = call.ids.new("M")
    call.conn.execute(
        insert(visit).values(
            mdtrt_id=mdtrt_id, psn_no=new.psn_no, fixmedins_code=call.institution.code,
            insutype=new.insutype, med_type=new.med_type, visit_class=visit_class.value,
            status=START, begntime=new.begin, ipt_otp_no=new.ipt_otp_no,
            mdtrt_cert_type=new.credential.cert_type, mdtrt_cert_no=new.credential.cert_no,
            atddr_no=new.doctor_no, dr_name=new.doctor_name, dept_code=new.dept_code,
            dept_name=new.dept_name, caty=new.caty,
            insuplc_admdvs=new.insured_area or person["insuplc_admdvs"],
            mdtrtarea_admvs=new.treatment_area or call.institution.pool_area, msgid=call.ref,
            emergency=new.flags.emergency, trum_flag=new.flags.trauma,
            rel_ttp_flag=new.flags.third_party, mdtrt_grp_type=new.flags.group,
            fever=fever.is_fever_dept(call.institution.code, new.dept_code),
        )
    )
    _store_detail(call, mdtrt_id, new.detail)
    if new.diagnoses:
        replace_diagnoses(call, mdtrt_id, new.psn_no, new.diagnoses, stage="visit")
    return Done(mdtrt_id, Effect(EffectKind.VISIT, mdtrt_id))


def change_admission(call: Call, mdtrt_id: str, psn_no: str, change: AdmissionChange,
                     items: tuple[Diagnosis, ...]) -> None:
    """2403: an admitted stay's registration changes, and its admission diagnoses are
    added or replaced by diag_srt_no; refused once the stay is finally settled."""
    row = get_visit(call, mdtrt_id, psn_no, lock=True)
    if row["visit_class"] != VisitClass.INPATIENT.value:
        raise Refused("E-VIS-003", f"visit {mdtrt_id} is not an inpatient stay")
    require_status(row, VisitStatus.OPEN, VisitStatus.DISCHARGED)
    if is_final_settled(call.conn, mdtrt_id):
        raise Refused("E-VIS-002", "the stay is finally settled: cancel it (2305) first")
    if visit_class_of(change.med_type) is not VisitClass.INPATIENT:
        raise Refused("E-VIS-003", f"med_type {change.med_type} is not an inpatient type")
    end = _changed_end(row, change)
    if change.begin > call.now:
        raise Refused("E-ENV-005", "begntime is in the future")
    values: dict[str, object] = dict(
        begntime=change.begin, endtime=end, med_type=change.med_type,
        ipt_otp_no=change.ipt_otp_no, atddr_no=change.doctor_no, dr_name=change.doctor_name,
        dept_code=change.dept_code, dept_name=change.dept_name,
        fever=fever.is_fever_dept(call.institution.code, change.dept_code))
    if change.flags is not None:
        values.update(emergency=change.flags.emergency, trum_flag=change.flags.trauma,
                      rel_ttp_flag=change.flags.third_party,
                      mdtrt_grp_type=change.flags.group)
    call.conn.execute(update(visit).where(visit.c.mdtrt_id == mdtrt_id).values(**values))
    _replace_detail(call, mdtrt_id, change.detail)
    if items:
        merge_diagnoses(call, mdtrt_id, psn_no, items, stage="visit")


def _changed_end(row: Row, change: AdmissionChange) -> datetime | None:
    """The stay's end after a 2403: set by 2402 only; a discharged stay's may move."""
    if change.end is None:
        return row["endtime"]  # type: ignore[no-any-return]
    if row["status"] != VisitStatus.DISCHARGED:
        raise Refused("E-ENV-005", "endtime: the stay is not discharged (2402 sets it)")
    if change.end < change.begin:
        raise Refused("E-ENV-005", "endtime is before begntime")
    return change.end


def open_selfpaid(
    call: Call, psn_no: str, insutype: str, med_type: str, visit_class: VisitClass,
    diagnoses: tuple[Diagnosis, ...], flags: AwayFlags,
) -> str:
    """The visit of a bill paid in full (manual reimbursement), at ``call.institution`` and
    ``call.now``; open until its lines are stored, then ``close_selfpaid``."""
    person = get_person(call.conn, psn_no)
    active_insurance(call.conn, psn_no, insutype, call.now.date())
    contribution.check_claim(call.conn, call.policies, person, insutype, call.now.date())
    mdtrt_id = call.ids.new("M")
    call.conn.execute(insert(visit).values(
        mdtrt_id=mdtrt_id, psn_no=psn_no, fixmedins_code=call.institution.code,
        insutype=insutype, med_type=med_type, visit_class=visit_class.value, status=START,
        begntime=call.now, ipt_otp_no=call.ref, mdtrt_cert_type="", mdtrt_cert_no="",
        insuplc_admdvs=person["insuplc_admdvs"], mdtrtarea_admvs=call.institution.pool_area,
        msgid=call.ref, emergency=flags.emergency, trum_flag=flags.trauma,
        rel_ttp_flag=flags.third_party,
    ))
    if diagnoses:
        replace_diagnoses(call, mdtrt_id, psn_no, diagnoses, stage="visit")
    return mdtrt_id


def close_selfpaid(call: Call, mdtrt_id: str, end: datetime | None) -> None:
    """The lines of the visit ``open_selfpaid`` opened in this call are stored."""
    _move(call, mdtrt_id, visit_states.after(VisitAction.CLOSE_SELFPAID, START, mdtrt_id),
          endtime=end)


def claim_uploaded(call: Call, row: Row) -> None:
    """The uploaded visit ``row`` (locked) becomes a claim's: paid in full, reimbursed
    manually; no longer settled in real time, its lines no longer changed by the HIS."""
    mdtrt_id = row["mdtrt_id"]
    _move(call, mdtrt_id, visit_states.after(VisitAction.CLAIM_UPLOADED, row["status"],
                                             mdtrt_id))


def withdraw_selfpaid(call: Call, row: Row) -> None:
    """The bill paid in full is withdrawn (2601 of its 2901): its visit (``row``, locked
    by ``get_visit``) is cancelled."""
    mdtrt_id = row["mdtrt_id"]
    _move(call, mdtrt_id, visit_states.after(VisitAction.WITHDRAW_BILL, row["status"], mdtrt_id))


def replace_diagnoses(
    call: Call, mdtrt_id: str, psn_no: str, items: tuple[Diagnosis, ...], *, stage: str
) -> None:
    if len(items) > DIAGNOSES_MAX:
        raise Refused("E-ENV-005", f"at most {DIAGNOSES_MAX} diagnoses")
    call.conn.execute(
        delete(diagnosis).where(diagnosis.c.mdtrt_id == mdtrt_id, diagnosis.c.stage == stage)
    )
    _insert_diagnoses(call, mdtrt_id, psn_no, items, stage)


def _insert_diagnoses(
    call: Call, mdtrt_id: str, psn_no: str, items: tuple[Diagnosis, ...], stage: str
) -> None:
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


def merge_diagnoses(
    call: Call, mdtrt_id: str, psn_no: str, items: tuple[Diagnosis, ...], *, stage: str
) -> None:
    """Add the diagnoses whose diag_srt_no the visit has not, replace those it has."""
    numbers = [d.srt_no for d in items]
    if len(numbers) != len(set(numbers)):
        raise Refused("E-ENV-005", "the same diag_srt_no appears twice in diseinfo")
    kept = call.conn.execute(select(func.count()).where(
        diagnosis.c.mdtrt_id == mdtrt_id, diagnosis.c.stage == stage,
        diagnosis.c.diag_srt_no.not_in(numbers))).scalar_one()
    if kept + len(items) > DIAGNOSES_MAX:
        raise Refused("E-ENV-005", f"at most {DIAGNOSES_MAX} diagnoses")
    call.conn.execute(delete(diagnosis).where(
        diagnosis.c.mdtrt_id == mdtrt_id, diagnosis.c.stage == stage,
        diagnosis.c.diag_srt_no.in_(numbers)))
    _insert_diagnoses(call, mdtrt_id, psn_no, items, stage)


def record_visit_info(
    call: Call, mdtrt_id: str, psn_no: str, med_type: str, items: tuple[Diagnosis, ...],
    group: str = "",
) -> None:
    """2203: the outpatient visit's medical type and diagnoses (and its population group
    when exp_content states one)."""
    row = get_visit(call, mdtrt_id, psn_no, lock=True)
    require_status(row, VisitStatus.OPEN)
    if visit_class_of(med_type) is not VisitClass(row["visit_class"]):
        raise Refused("E-VIS-003", f"med_type {med_type} for a {row['visit_class']} visit")
    values = dict(med_type=med_type, mdtrt_grp_type=group or row["mdtrt_grp_type"])
    call.conn.execute(update(visit).where(visit.c.mdtrt_id == mdtrt_id).values(**values))
    replace_diagnoses(call, mdtrt_id, psn_no, items, stage="visit")


def set_group(conn: Connection, mdtrt_id: str, group: str) -> None:
    """The visit's population group as a settlement (2207 / 2304) stated it."""
    conn.execute(update(visit).where(visit.c.mdtrt_id == mdtrt_id)
                 .values(mdtrt_grp_type=group))


def unsettled(conn: Connection, psn_no: str) -> list[Row]:
    """The person's visits still to be settled, oldest first: open (or discharged) with no
    live final settlement. A visit whose settlement was cancelled is unsettled again."""
    query = select(visit).where(
        visit.c.psn_no == psn_no,
        visit.c.status.in_((VisitStatus.OPEN, VisitStatus.DISCHARGED)),
        ~settlements.of_visit(visit.c.mdtrt_id, final_only=True).exists(),
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
    cancelled = visit_states.after(VisitAction.CANCEL, row["status"], mdtrt_id)
    if settlements.live_of_visit(call.conn, mdtrt_id, final_only=False):
        raise Refused("E-SETL-005", "cancel its settlements (2208/2305) first")
    if _has_active_fees(call.conn, mdtrt_id):
        raise Refused("E-VIS-002", "fee details are uploaded: cancel them (2205/2302) first")
    _move(call, mdtrt_id, cancelled)
    return Effect(EffectKind.VISIT_CANCEL, mdtrt_id)


def discharge(
    call: Call, mdtrt_id: str, psn_no: str, end: datetime, way: str,
    items: tuple[Diagnosis, ...],
) -> Effect:
    """2402: the stay ends; final settlement may come before or after this message."""
    row = get_visit(call, mdtrt_id, psn_no, lock=True)
    if row["visit_class"] != VisitClass.INPATIENT.value:
        raise Refused("E-VIS-003", f"visit {mdtrt_id} is not an inpatient stay")
    discharged = visit_states.after(VisitAction.DISCHARGE, row["status"], mdtrt_id)
    if end < row["begntime"]:
        raise Refused("E-ENV-005", "endtime is before the admission time")
    _move(call, mdtrt_id, discharged, endtime=end, dscg_way=way)
    if items:
        replace_diagnoses(call, mdtrt_id, psn_no, items, stage="discharge")
    return Effect(EffectKind.DISCHARGE, mdtrt_id)


def undo_discharge(call: Call, mdtrt_id: str, psn_no: str) -> Effect:
    """2405: reopen a discharged stay whose final settlement is not live."""
    row = get_visit(call, mdtrt_id, psn_no, lock=True)
    reopened = visit_states.after(VisitAction.UNDO_DISCHARGE, row["status"], mdtrt_id)
    if settlements.live_of_visit(call.conn, mdtrt_id, final_only=True):
        raise Refused("E-SETL-005", "cancel the final settlement (2305) first")
    _move(call, mdtrt_id, reopened, endtime=None, dscg_way="")
    call.conn.execute(
        delete(diagnosis).where(diagnosis.c.mdtrt_id == mdtrt_id, diagnosis.c.stage == "discharge")
    )
    return Effect(EffectKind.DISCHARGE_CANCEL, mdtrt_id)


def is_final_settled(conn: Connection, mdtrt_id: str) -> bool:
    return bool(settlements.live_of_visit(conn, mdtrt_id, final_only=True))
