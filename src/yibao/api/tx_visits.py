"""Visits over the interface: 2201/2202/2203 outpatient, 2401/2402/2404/2405 inpatient."""

from __future__ import annotations

from typing import Any

from yibao.api.fields import Fields
from yibao.api.registry import Answer
from yibao.api.tx_basic import read_credential
from yibao.domain.codes import INSUTYPES, VisitClass
from yibao.domain.errors import Refused
from yibao.domain.text import is_digits
from yibao.services import visits
from yibao.services.context import Call


def read_diagnoses(inp: Fields, *, required: bool = False) -> tuple[visits.Diagnosis, ...]:
    """The ``diseinfo`` list; ``required``: at least one diagnosis (E-ENV-004 otherwise,
    an empty list too)."""
    items = inp.list_of("diseinfo", required=required)
    if required and not items:
        raise Refused("E-ENV-004", f"{inp.where}.diseinfo (at least one diagnosis)")
    out = []
    for i, d in enumerate(items):
        srt = d.text("diag_srt_no", required=False, max_len=3) or str(i + 1)
        if not is_digits(srt):
            srt = str(i + 1)
        out.append(
            visits.Diagnosis(
                diag_type=d.text("diag_type", max_len=3), srt_no=int(srt),
                code=d.text("diag_code", max_len=30), name=d.text("diag_name", max_len=200),
                dept=d.text("diag_dept", required=False), doctor_no=d.text(
                    "dise_dor_no", required=False, max_len=30),
                doctor_name=d.text("dise_dor_name", required=False, max_len=50),
                time=d.moment("diag_time", required=False),
                valid=d.text("vali_flag", required=False, max_len=1) or "1",
            )
        )
    return tuple(out)


def read_away_flags(node: Fields, *, emergency_field: str, emergency_values: frozenset[str]
                    ) -> visits.AwayFlags:
    """exp_content flags of the national inter-provincial extension: emergency
    (OTP_ER_REFL_FLAG 1/3 or IPT_TYPE 2), injury (TRUM_FLAG) and whether a third party is
    liable (REL_TTP_FLAG, required with TRUM_FLAG 1)."""
    ext = node.extension()
    trauma = ext.flag("TRUM_FLAG")
    third_party = ""
    if trauma == "1":
        if not ext.text("REL_TTP_FLAG", required=False, max_len=1):
            raise Refused("E-ENV-004", f"{ext.where}.REL_TTP_FLAG (required with TRUM_FLAG 1)")
        third_party = ext.flag("REL_TTP_FLAG")
    emergency = ext.text(emergency_field, required=False, max_len=1) in emergency_values
    return visits.AwayFlags("1" if emergency else "0", trauma, third_party)


OUTPATIENT_EMERGENCY = frozenset({"1", "3"})  # OTP_ER_REFL_FLAG: 急诊, 转诊合并急诊
INPATIENT_EMERGENCY = frozenset({"2"})  # IPT_TYPE: 急诊或者抢救住院


def read_outpatient_flags(node: Fields) -> visits.AwayFlags:
    return read_away_flags(node, emergency_field="OTP_ER_REFL_FLAG",
                           emergency_values=OUTPATIENT_EMERGENCY)


def read_inpatient_flags(node: Fields) -> visits.AwayFlags:
    return read_away_flags(node, emergency_field="IPT_TYPE",
                           emergency_values=INPATIENT_EMERGENCY)


def register(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    new = visits.NewVisit(
        psn_no=data.text("psn_no", max_len=30), insutype=data.code("insutype", INSUTYPES),
        med_type=data.text("med_type", required=False, max_len=6) or "11",
        begin=data.moment("begntime") or call.now, credential=read_credential(data, call),
        ipt_otp_no=data.text("ipt_otp_no", max_len=30),
        doctor_no=data.text("atddr_no", required=False, max_len=30),
        doctor_name=data.text("dr_name", required=False, max_len=50),
        dept_code=data.text("dept_code", required=False, max_len=30),
        dept_name=data.text("dept_name", required=False),
        caty=data.text("caty", required=False, max_len=10),
        flags=read_outpatient_flags(data),
    )
    opened = visits.open_visit(call, new, VisitClass.OUTPATIENT)
    return Answer({
        "data": {"mdtrt_id": opened.value, "psn_no": new.psn_no, "ipt_otp_no": new.ipt_otp_no,
                 "exp_content": ""}
    }, opened.effect)


def cancel_registration(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    return Answer({}, visits.cancel_visit(
        call, data.text("mdtrt_id", max_len=30), data.text("psn_no", max_len=30),
        VisitClass.OUTPATIENT,
    ))


def visit_info(call: Call, inp: Fields) -> dict[str, Any]:
    info = inp.child("mdtrtinfo")
    visits.record_visit_info(
        call, info.text("mdtrt_id", max_len=30), info.text("psn_no", max_len=30),
        info.text("med_type", max_len=6), read_diagnoses(inp, required=True),
    )
    return {}


def admit(call: Call, inp: Fields) -> Answer:
    info = inp.child("mdtrtinfo")
    new = visits.NewVisit(
        psn_no=info.text("psn_no", max_len=30), insutype=info.code("insutype", INSUTYPES),
        med_type=info.text("med_type", max_len=6), begin=info.moment("begntime") or call.now,
        credential=read_credential(info, call), ipt_otp_no=info.text("ipt_no", max_len=30),
        doctor_no=info.text("atddr_no", required=False, max_len=30),
        doctor_name=info.text("chfpdr_name", required=False, max_len=50),
        dept_code=info.text("adm_dept_codg", required=False, max_len=30),
        dept_name=info.text("adm_dept_name", required=False),
        diagnoses=read_diagnoses(inp),
        flags=read_inpatient_flags(info),
    )
    opened = visits.open_visit(call, new, VisitClass.INPATIENT)
    return Answer({"result": {"mdtrt_id": opened.value, "psn_no": new.psn_no,
                              "ipt_otp_no": new.ipt_otp_no}}, opened.effect)


def discharge(call: Call, inp: Fields) -> Answer:
    info = inp.child("dscginfo")
    return Answer({}, visits.discharge(
        call, info.text("mdtrt_id", max_len=30), info.text("psn_no", max_len=30),
        info.moment("endtime") or call.now, info.text("dscg_way", required=False, max_len=6),
        read_diagnoses(inp),
    ))


def cancel_admission(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    return Answer({}, visits.cancel_visit(
        call, data.text("mdtrt_id", max_len=30), data.text("psn_no", max_len=30),
        VisitClass.INPATIENT,
    ))


def cancel_discharge(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    return Answer({}, visits.undo_discharge(call, data.text("mdtrt_id", max_len=30),
                                            data.text("psn_no", max_len=30)))
