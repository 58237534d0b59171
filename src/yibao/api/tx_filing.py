"""Filing over the interface: 2501/2502 referral, 2503/2504 special disease, 2507 injury
declaration (人员意外伤害备案). See docs/away.md."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from yibao.api.fields import Fields
from yibao.api.registry import Answer
from yibao.domain import filing as rules
from yibao.domain.codes import INSUTYPES
from yibao.domain.errors import Refused
from yibao.services import filing, institutions
from yibao.services.context import Call
from yibao.services.persons import get_person

REFERRAL_TYPES = {"1": "市内转院", "2": "转往省内异地", "3": "转往省外异地"}


def _register(call: Call, new: filing.NewFiling) -> Answer:
    done = filing.register(call, new)
    return Answer({"result": {"trt_dcla_detl_sn": done.value}}, done.effect)


def referral(call: Call, inp: Fields) -> Answer:
    data = inp.child("refmedin")
    data.code("refl_type", REFERRAL_TYPES)
    reason = data.text("refl_rea", max_len=100)
    opinion = data.text("refl_opnn", required=False, max_len=200)
    return _register(call, filing.NewFiling(
        psn_no=data.text("psn_no", max_len=30), filing_type="referral",
        insutype=data.code("insutype", INSUTYPES, required=False),
        area=data.text("mdtrtarea_admdvs", max_len=6), end_date=data.day("enddate",
                                                                         required=False),
        institution=data.text("reflin_medins_no", max_len=30),
        disease_code=data.text("diag_code", max_len=20),
        disease_name=data.text("diag_name", max_len=100),
        reason=f"{reason}: {opinion}"[:500],
    ))


def cancel_referral(call: Call, inp: Fields) -> Answer:
    return _cancel(call, inp.child("data"), rules.Kind.AREA, memo_required=False)


def special_disease(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    answer = _register(call, filing.NewFiling(
        psn_no=data.text("psn_no", max_len=30), filing_type="disease",
        insutype=data.code("insutype", INSUTYPES),
        end_date=data.day("enddate", required=False),
        institution=data.text("ide_fixmedins_no", max_len=30),
        disease_code=data.text("opsp_dise_code", max_len=30),
        disease_name=data.text("opsp_dise_name", max_len=300),
        reason=f"鉴定 {data.day('hosp_ide_date')} {data.text('diag_dr_codg', max_len=30)}",
    ))
    answer.output["result"]["exp_content"] = ""
    return answer


def cancel_special_disease(call: Call, inp: Fields) -> Answer:
    return _cancel(call, inp.child("data"), rules.Kind.DISEASE, memo_required=True)


def injury(call: Call, inp: Fields) -> Answer:
    """The person's declaration that the injury has no liable third party."""
    data = inp.child("data")
    psn_no = data.text("psn_no", max_len=30)
    person = get_person(call.conn, psn_no)
    if data.text("certno", max_len=50) != person["certno"] or (
        data.text("psn_name", max_len=50) != person["name"]
    ):
        raise Refused("E-PSN-005", "certno or psn_name is not the person's")
    return _register(call, filing.NewFiling(
        psn_no=psn_no, filing_type="trauma",
        insutype=data.code("insutype", INSUTYPES, required=False),
        area=data.text("mdtrtarea_admdvs", required=False, max_len=6)
        or call.institution.pool_area,
        end_date=data.day("enddate", required=False),
        reason=data.text("trum_rea", required=False, max_len=200)
        or data.text("memo", required=False, max_len=500),
        injury_time=data.moment("trum_time", required=False),
        injury_site=data.text("trum_site", required=False, max_len=200),
        care_area=call.institution.pool_area,
    ))


def _cancel(call: Call, data: Fields, kind: rules.Kind, *, memo_required: bool
            ) -> Answer:
    serial = data.text("trt_dcla_detl_sn", max_len=30)
    return Answer({}, filing.cancel(
        call, serial, data.text("psn_no", max_len=30),
        data.text("memo", required=memo_required, max_len=500), own_only=True, kind=kind))


def _day(moment: date | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d}"


def _last_day(end_at: datetime | None) -> str:
    """The chosen end day (end_at is the exclusive midnight after it)."""
    return "" if end_at is None else _day(end_at - timedelta(days=1))


def special_diseases(call: Call, inp: Fields) -> dict[str, Any]:
    psn_no = inp.child("data").text("psn_no", max_len=30)
    get_person(call.conn, psn_no)
    rows = filing.in_force(call.conn, psn_no, rules.Kind.DISEASE, call.now)
    return {"feedetail": [
        {"opsp_dise_code": r.disease_code, "opsp_dise_name": r.disease_name,
         "begndate": _day(r.begin_at), "enddate": _last_day(r.end_at),
         "fixmedins_code": r.institution, "trt_dcla_detl_sn": r.serial}
        for r in rows]}


def referrals(call: Call, inp: Fields) -> dict[str, Any]:
    data = inp.child("data")
    psn_no = data.text("psn_no", max_len=30)
    person = get_person(call.conn, psn_no)
    begin = data.moment("begntime")
    assert begin is not None
    rows = [r for r in filing.made_by(call.conn, psn_no, call.institution.code, begin,
                                      data.moment("endtime", required=False))
            if r.filing_type is rules.FilingType.REFERRAL]
    names = institutions.names(call.conn, [r.institution for r in rows])
    return {"refmedin": [
        {"insutype": r.relationship.insutype, "dcla_souc": r.source, "psn_no": psn_no,
         "psn_cert_type": person["psn_cert_type"], "certno": person["certno"],
         "psn_name": person["name"], "gend": person["gend"], "brdy": _day(person["brdy"]),
         "insu_optins": r.relationship.insured_area, "emp_name": r.relationship.employer,
         "diag_code": r.disease_code, "diag_name": r.disease_name,
         "reflin_medins_no": r.institution,
         "reflin_medins_name": names.get(r.institution, ""),
         "out_flag": "1" if r.area != r.relationship.insured_area else "0",
         "refl_date": _day(r.begin_at), "refl_rea": r.reason,
         "begndate": _day(r.begin_at), "enddate": _last_day(r.end_at),
         "hosp_agre_refl_flag": "1", "status": r.status.value,
         "trt_dcla_detl_sn": r.serial}
        for r in rows]}

