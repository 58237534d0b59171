"""Outpatient special-disease care at home (2020 epidemic measures, item 11): a 2503 for
a person insured where the institution is registers the disease; a special-disease
settlement (med_type 14) at home needs it, for the disease the visit names; a
registration due for renewal inside a declared period continues until the period's end
plus the policy's extension days. Both databases."""

from __future__ import annotations

from datetime import datetime

from conftest import ADMIN, AUDITOR, CLERK
from flows import WANG_FANG, line, ok, person, refused, settle_payload, upload


def _psn(his) -> str:
    return str(person(his, WANG_FANG)["baseinfo"]["psn_no"])


def _register_disease(his, psn_no: str, *, code: str = "I10.x00", enddate: str = "") -> str:
    answer = his.call("2503", {"data": {
        "psn_no": psn_no, "insutype": "310", "opsp_dise_code": code,
        "opsp_dise_name": "高血压", "ide_fixmedins_no": his.code,
        "ide_fixmedins_name": "示范", "hosp_ide_date": "2026-05-01", "diag_dr_codg": "D1",
        "diag_dr_name": "医生", "begndate": "2026-05-11", "enddate": enddate}})
    return str(ok(answer)["result"]["trt_dcla_detl_sn"])


def _special_visit(his, psn_no: str, *, diagnosis: str = "") -> str:
    data = {"psn_no": psn_no, "insutype": "310", "begntime": "2026-05-11 09:00:00",
            "med_type": "14", "mdtrt_cert_type": "02", "mdtrt_cert_no": WANG_FANG,
            "ipt_otp_no": "OP14"}
    mdtrt_id = str(ok(his.call("2201", {"data": data}))["data"]["mdtrt_id"])
    if diagnosis:
        ok(his.call("2203", {"mdtrtinfo": {
            "mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "14",
            "begntime": "2026-05-11 09:00:00", "main_cond_dscr": "", "dise_codg": diagnosis,
            "dise_name": "诊断"},
            "diseinfo": [{"psn_no": psn_no, "diag_type": "1", "maindiag_flag": "1",
                          "diag_srt_no": "1", "diag_code": diagnosis, "diag_name": "诊断",
                          "diag_dept": "内科", "dise_dor_no": "D1", "dise_dor_name": "医生",
                          "diag_time": "2026-05-11 09:00:00"}]}))
    return mdtrt_id


def _settle_special(his, psn_no: str, *, diagnosis: str = "") -> dict:
    mdtrt_id = _special_visit(his, psn_no, diagnosis=diagnosis)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "300.00")])
    return his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "300.00",
                                           med_type="14", account=False))


def test_special_disease_care_at_home_needs_a_registration(his):
    psn_no = _psn(his)
    message = refused(_settle_special(his, psn_no), "E-FIL-013")
    assert "no special-disease registration in force in 110000" in message
    serial = _register_disease(his, psn_no)
    setl = ok(_settle_special(his, psn_no))["setlinfo"]
    assert setl["medfee_sumamt"] == 300.0
    # the registration a live settlement rests on cannot be cancelled
    cancel = his.call("2504", {"data": {"psn_no": psn_no, "trt_dcla_detl_sn": serial,
                                        "memo": "no longer needed"}})
    refused(cancel, "E-FIL-009")


def test_the_visit_names_the_registered_disease(his):
    psn_no = _psn(his)
    _register_disease(his, psn_no, code="I10.x00")
    message = refused(_settle_special(his, psn_no, diagnosis="E11.900"), "E-FIL-013")
    assert "names E11.900" in message and "registered: I10.x00" in message
    ok(_settle_special(his, psn_no, diagnosis="I10.x00"))


def test_a_registration_due_inside_a_declared_period_continues(http, his, clock):
    psn_no = _psn(his)
    _register_disease(his, psn_no, enddate="2026-06-30")
    clock.now = datetime(2026, 7, 5, 9, 0)
    refused(_settle_special(his, psn_no), "E-FIL-013")  # ended 30 June, no declaration
    declared = http.post("/admin/v1/declared-periods", headers=ADMIN, json={
        "area": "110000", "title": "新冠肺炎疫情防控", "begin_date": "2026-06-01",
        "until_date": "2026-07-31"})
    assert declared.status_code == 201, declared.text
    ok(_settle_special(his, psn_no))
    clock.now = datetime(2026, 10, 29, 9, 0)  # 31 July + 90 days: the last day
    ok(_settle_special(his, psn_no))
    clock.now = datetime(2026, 10, 30, 9, 0)
    refused(_settle_special(his, psn_no), "E-FIL-013")
    listed = http.get("/admin/v1/declared-periods", headers=AUDITOR).json()
    assert [(d["area"], d["title"], d["until_date"], d["actor"]) for d in listed] == [
        ("110000", "新冠肺炎疫情防控", "2026-07-31", "admin")]


def test_a_declared_period_of_another_area_or_after_the_end_changes_nothing(
        http, his, clock):
    psn_no = _psn(his)
    _register_disease(his, psn_no, enddate="2026-05-31")
    for area, begin, until in (("130102", "2026-05-01", "2026-07-31"),
                               ("110000", "2026-06-01", "2026-07-31")):
        made = http.post("/admin/v1/declared-periods", headers=ADMIN, json={
            "area": area, "title": "t", "begin_date": begin, "until_date": until})
        assert made.status_code == 201
    clock.now = datetime(2026, 6, 2, 9, 0)
    refused(_settle_special(his, psn_no), "E-FIL-013")
    denied = http.post("/admin/v1/declared-periods", headers=CLERK, json={
        "area": "110000", "title": "t", "begin_date": "2026-06-01", "until_date": "2026-07-31"})
    assert denied.status_code == 403
