"""Visits over the interface: 2201/2202/2203/2203A outpatient, 2401/2402/2403/2404/2405
inpatient."""

from __future__ import annotations

from typing import Any

from yibao.api.fields import Fields
from yibao.api.registry import Answer
from yibao.api.tx_basic import read_credential
from yibao.domain.codes import INSUTYPES, MDTRT_GRP_TYPES, VisitClass
from yibao.domain.errors import Refused
from yibao.domain.text import is_digits
from yibao.services import persons, visits
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
    return visits.AwayFlags("1" if emergency else "0", trauma, third_party, read_group(ext))


def read_group(ext: Fields) -> str:
    """exp_content.MDTRT_GRP_TYPE (就诊人群类型, table 598; "" when not sent): a code
    outside the table is refused with E-VIS-005 (docs/fever.md)."""
    group = ext.text("MDTRT_GRP_TYPE", required=False, max_len=10)
    if group and group not in MDTRT_GRP_TYPES:
        raise Refused("E-VIS-005", f"{ext.where}.MDTRT_GRP_TYPE={group}")
    return group


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
        read_group(info.extension()),
    )
    return {}


# 2203A's fields beyond 2203's (the prescription of a pharmacy's outpatient visit): read
# for their format, not kept (yibao keeps no prescription files)
PHARMACY_VISIT_FIELDS = (("matn_type", 6), ("rxfixmedinsCode", 12), ("rxfixmedinsName", 200),
                         ("rxfilename", 200), ("rxExpContent", 2000))
RX_FILE_LENGTH_MAX = 1_400_000  # rxIn, as 9101's ``in`` (base64 or a byte array)


def pharmacy_visit_info(call: Call, inp: Fields) -> dict[str, Any]:
    """2203A (定点零售药店门诊就诊信息上传): 2203's meaning with the fields of a pharmacy's
    visit; its dise_codg and dise_name are optional (they are in 2203 too, and unread)."""
    info = inp.child("mdtrtinfo")
    for name, length in PHARMACY_VISIT_FIELDS:
        info.text(name, required=False, max_len=length)
    geso_val = info.text("geso_val", required=False, max_len=2)
    if geso_val and not is_digits(geso_val):
        raise Refused("E-ENV-005", f"{info.where}.geso_val must be a number of weeks")
    rx_file = info.node.get("rxIn")
    if isinstance(rx_file, (str, list)) and len(rx_file) > RX_FILE_LENGTH_MAX:
        raise Refused("E-ENV-005", f"{info.where}.rxIn longer than {RX_FILE_LENGTH_MAX}")
    return visit_info(call, inp)


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
        detail=read_admission_detail(info, required=False),
    )
    opened = visits.open_visit(call, new, VisitClass.INPATIENT)
    return Answer({"result": {"mdtrt_id": opened.value, "psn_no": new.psn_no,
                              "ipt_otp_no": new.ipt_otp_no}}, opened.effect)


# an admission's fields kept as its detail (visit.adm_detail), with their lengths and
# whether 2403 requires them (2401 reads them all as optional, as it always has)
ADMISSION_DETAIL = (
    ("coner_name", 50, False), ("tel", 50, False), ("medrcdno", 30, False),
    ("adm_diag_dscr", 200, True), ("adm_bed", 30, True), ("dscg_maindiag_code", 20, True),
    ("dscg_maindiag_name", 300, True), ("main_cond_dscr", 1000, False),
    ("dise_codg", 30, False), ("dise_name", 500, False), ("oprn_oprt_code", 30, False),
    ("oprn_oprt_name", 500, False), ("fpsc_no", 50, False), ("matn_type", 6, False),
    ("birctrl_type", 6, False), ("latechb_flag", 3, False), ("geso_val", 2, False),
    ("fetts", 3, False), ("fetus_cnt", 3, False), ("pret_flag", 3, False),
    ("birctrl_matn_date", 10, False), ("dise_type_code", 6, False),
    ("ttp_pay_prop", 6, False),
)


def read_admission_detail(info: Fields, *, required: bool) -> tuple[tuple[str, str], ...]:
    """The admission's other fields that are sent (``required``: 2403's required ones
    must be)."""
    sent = ((name, info.text(name, required=required and must, max_len=length))
            for name, length, must in ADMISSION_DETAIL)
    return tuple((name, value) for name, value in sent if value)


def change_admission(call: Call, inp: Fields) -> dict[str, Any]:
    """2403 住院信息变更: ``adminfo`` (the admission as it now stands) and ``diseinfo``
    (admission diagnoses added or replaced by diag_srt_no)."""
    info = inp.child("adminfo")
    info.code("mdtrt_cert_type", persons.CERT_TYPES)
    begin = info.moment("begntime")
    assert begin is not None
    ext = info.extension()
    change = visits.AdmissionChange(
        begin=begin, end=info.moment("endtime", required=False),
        med_type=info.text("med_type", max_len=6), ipt_otp_no=info.text("ipt_otp_no", max_len=30),
        doctor_no=info.text("atddr_no", max_len=30),
        doctor_name=info.text("chfpdr_name", max_len=50),
        dept_code=info.text("adm_dept_codg", max_len=30),
        dept_name=info.text("adm_dept_name", max_len=100),
        flags=read_inpatient_flags(info) if ext.node else None,
        detail=read_admission_detail(info, required=True),
    )
    items = read_diagnoses(inp)
    visits.change_admission(call, info.text("mdtrt_id", max_len=30),
                            info.text("psn_no", max_len=30), change, items)
    return {}


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
