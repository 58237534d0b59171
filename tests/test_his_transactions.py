"""The everyday transactions a HIS sends (issue 16) as the HIS sees them: 2203A, 2403,
2306, 2406/2407, 1201, 3301/3302/1317, 5303 and 3101/3102, each with its refusals; and
the answer fields a HIS stores (med_chrgitm_type, pric_uplmt_amt, a pre-settlement's
setl_id)."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import insert

from flows import (
    LI_JIANGUO,
    LIU_YANG,
    WANG_FANG,
    ZHAO_LEI,
    admit,
    line,
    ok,
    person,
    refused,
    register,
    settle_payload,
    upload,
)
from yibao.domain.catalogue import NO_PRICE_CAP
from yibao.store.schema import catalogue_item

OTHER = "H11010500002"  # another hospital of the same area


def D(value: object) -> Decimal:
    return Decimal(str(value))


def psn(his, certno: str) -> str:
    return str(person(his, certno)["baseinfo"]["psn_no"])


def reverse(his, psn_no: str, omsgid: str, oinfno: str) -> dict:
    return his.call("2601", {"data": {"psn_no": psn_no, "omsgid": omsgid, "oinfno": oinfno}})


def diagnosis(srt: str, code: str, name: str) -> dict:
    return {"diag_type": "1", "diag_srt_no": srt, "diag_code": code, "diag_name": name,
            "diag_dept": "内科", "dise_dor_no": "D001", "dise_dor_name": "医生甲",
            "diag_time": "2026-05-11 09:05:00", "vali_flag": "1"}


def visit_info(mdtrt_id: str, psn_no: str, *diagnoses: dict) -> dict:
    """A 2203 body as a C# HIS client sends it (it sends the same body as 2203A)."""
    return {"mdtrtinfo": {
        "mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "14",
        "begntime": "2026-05-11 09:00:00", "main_cond_dscr": "", "dise_codg": "I10.x00",
        "dise_name": "高血压", "birctrl_type": "", "birctrl_matn_date": "",
        "exp_content": ""}, "diseinfo": list(diagnoses)}


def diagnoses_of(his, mdtrt_id: str, psn_no: str) -> list[tuple[str, int, str, str]]:
    out = ok(his.call("5202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}))
    return [(d["inout_diag_type"], d["diag_srt_no"], d["diag_code"], d["diag_name"])
            for d in out["diseinfo"]]


def visit_of(his, mdtrt_id: str, psn_no: str) -> dict:
    out = ok(his.call("5201", {"data": {"psn_no": psn_no, "begntime": "2026-01-01 00:00:00",
                                        "endtime": "2026-12-31 00:00:00",
                                        "mdtrt_id": mdtrt_id}}))
    (found,) = out["mdtrtinfo"]
    return dict(found)


# 2203A ---------------------------------------------------------------------------------

def test_2203A_sets_the_visit_information_as_2203_does(his):
    psn_no = psn(his, WANG_FANG)
    mdtrt_id = register(his, psn_no, WANG_FANG)
    body = visit_info(mdtrt_id, psn_no, diagnosis("1", "I10.x00", "特发性高血压"),
                      diagnosis("2", "E11.900", "2型糖尿病"))
    ok(his.call("2203A", body))
    assert diagnoses_of(his, mdtrt_id, psn_no) == [
        ("1", 1, "I10.x00", "特发性高血压"), ("1", 2, "E11.900", "2型糖尿病")]
    assert visit_of(his, mdtrt_id, psn_no)["med_type"] == "14"
    # the pharmacy's own fields are read (and their format checked), not kept
    body["mdtrtinfo"].update(rxfixmedinsCode="H11010500001", rxfixmedinsName="示范医院",
                             rxfilename="rx.pdf", geso_val="12", matn_type="")
    ok(his.call("2203A", body))
    body["mdtrtinfo"]["geso_val"] = "twelve"
    assert "geso_val" in refused(his.call("2203A", body), "E-ENV-005")


def test_2203A_is_refused_as_2203_for_an_unknown_foreign_or_cancelled_visit(his, his_factory):
    psn_no = psn(his, WANG_FANG)
    mdtrt_id = register(his, psn_no, WANG_FANG)
    one = diagnosis("1", "I10.x00", "高血压")
    refused(his.call("2203A", visit_info("M-UNKNOWN", psn_no, one)), "E-VIS-001")
    refused(his_factory(OTHER).call("2203A", visit_info(mdtrt_id, psn_no, one)), "E-VIS-001")
    refused(his.call("2203A", visit_info(mdtrt_id, psn_no)), "E-ENV-004")  # no diagnosis
    ok(his.call("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}))
    refused(his.call("2203A", visit_info(mdtrt_id, psn_no, one)), "E-VIS-002")
    assert diagnoses_of(his, mdtrt_id, psn_no) == []


# answers a client stores ---------------------------------------------------------------

def test_fee_answers_carry_the_fee_item_category_and_999999_without_a_price_cap(his):
    psn_no = psn(his, WANG_FANG)
    mdtrt_id = register(his, psn_no, WANG_FANG)
    result = upload(his, mdtrt_id, psn_no, [
        line("1", "XA01AAA0001", "10.00"), line("2", "001102000010000", "40.00"),
        line("3", "C01010101001", "5.00"), line("4", "NOT-IN-CATALOGUE", "7.00")])
    by_sn = {r["feedetl_sn"]: r for r in result}
    assert {sn: r["med_chrgitm_type"] for sn, r in by_sn.items()} == {
        "1": "09", "2": "02", "3": "08", "4": "14"}
    assert {sn: D(r["pric_uplmt_amt"]) for sn, r in by_sn.items()} == {
        "1": D(999999), "2": D(50), "3": D(999999), "4": D(999999)}
    # 5204 answers the settled lines the same way
    setl = ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "62.00")))
    setl_id = setl["setlinfo"]["setl_id"]
    lines = ok(his.call("5204", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id,
                                          "psn_no": psn_no}}))["feedetail"]
    assert sorted((x["feedetl_sn"], x["med_chrgitm_type"], D(x["pric_uplmt_amt"]),
                   x["list_type"]) for x in lines) == [
        ("1", "09", D(999999), "101"), ("2", "02", D(50), "201"),
        ("3", "08", D(999999), "301"), ("4", "14", D(999999), "")]


def test_inpatient_fee_answers_carry_the_category_too(his):
    psn_no = psn(his, WANG_FANG)
    mdtrt_id = admit(his, psn_no, WANG_FANG)
    (answer,) = upload(his, mdtrt_id, psn_no, [line("1", "C01010101001", "20.00")],
                       infno="2301")
    assert (answer["med_chrgitm_type"], D(answer["pric_uplmt_amt"])) == ("08", NO_PRICE_CAP)


def test_1312_answers_the_category_and_derives_it_from_the_list_type_when_absent(his, db):
    with db.write() as conn:  # items loaded without their category
        conn.execute(insert(catalogue_item), [
            dict(region="110000", code=code, name=name, list_type=list_type, chrgitm_lv="01",
                 med_chrgitm_type="", price_cap=None, selfpay_ratio="0",
                 valid_from=date(2020, 1, 1), ver="20250101")
            for code, name, list_type in (("T-SERVICE", "某项服务", "201"),
                                          ("T-HERB", "某饮片", "102"))])
    category = {}
    for code in ("XA01AAA0001", "001102000010000", "C01010101001", "T-SERVICE", "T-HERB"):
        out = ok(his.call("1312", {"data": {"hilist_code": code, "page_num": "1",
                                            "page_size": "10"}}))
        (row,) = out["data"]
        category[code] = row["med_chrgitm_type"]
    assert category == {"XA01AAA0001": "09", "001102000010000": "02", "C01010101001": "08",
                        "T-SERVICE": "14", "T-HERB": "10"}


@pytest.mark.parametrize(("infno", "settle_infno"), [("2206", "2207"), ("2303", "2304")])
def test_a_pre_settlement_answers_no_settlement_id(his, infno, settle_infno):
    psn_no = psn(his, WANG_FANG)
    inpatient = infno == "2303"
    mdtrt_id = (admit if inpatient else register)(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00")],
           infno="2301" if inpatient else "2204")
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "100.00",
                             med_type="21" if inpatient else "11", interim=inpatient)
    pre = ok(his.call(infno, payload))["setlinfo"]
    assert pre["setl_id"] == ""
    real = ok(his.call(settle_infno, payload))["setlinfo"]
    assert real["setl_id"] and D(real["hifp_pay"]) == D(pre["hifp_pay"])


# 2403 ----------------------------------------------------------------------------------

def adminfo(stay: str, who: str, **changed: str) -> dict:
    info = {
        "mdtrt_id": stay, "psn_no": who, "coner_name": "家属", "tel": "13800000000",
        "begntime": "2026-05-01 07:30:00", "endtime": "", "mdtrt_cert_type": "02",
        "med_type": "21", "ipt_otp_no": "ZY0001-B", "medrcdno": "BL01", "atddr_no": "D009",
        "chfpdr_name": "主任乙", "adm_diag_dscr": "重症肺炎", "adm_dept_codg": "K05",
        "adm_dept_name": "重症医学科", "adm_bed": "ICU-3", "dscg_maindiag_code": "J18.9",
        "dscg_maindiag_name": "肺炎", "exp_content": ""}
    info.update(changed)
    return info


def admission_diagnosis(psn_no: str, srt: str, code: str, name: str) -> dict:
    return {"mdtrt_id": "", "psn_no": psn_no, "diag_type": "1",
            "maindiag_flag": "1" if srt == "1" else "0", "diag_srt_no": srt,
            "diag_code": code, "diag_name": name, "adm_cond": "", "diag_dept": "呼吸科",
            "dise_dor_no": "D002", "dise_dor_name": "主任", "diag_time": "2026-05-02 08:00:00"}


def test_2403_changes_the_admission_and_adds_or_replaces_diagnoses_by_number(his):
    psn_no = psn(his, WANG_FANG)
    mdtrt_id = admit(his, psn_no, WANG_FANG)
    ok(his.call("2403", {"adminfo": adminfo(mdtrt_id, psn_no), "diseinfo": [
        admission_diagnosis(psn_no, "1", "J18.900", "重症肺炎"),
        admission_diagnosis(psn_no, "2", "I10.x00", "高血压")]}))
    seen = visit_of(his, mdtrt_id, psn_no)
    assert (seen["begntime"], seen["ipt_otp_no"], seen["atddr_no"], seen["adm_dept_codg"],
            seen["adm_dept_name"]) == ("2026-05-01 07:30:00", "ZY0001-B", "D009", "K05",
                                       "重症医学科")
    assert diagnoses_of(his, mdtrt_id, psn_no) == [
        ("1", 1, "J18.900", "重症肺炎"), ("1", 2, "I10.x00", "高血压")]
    # only diagnosis 2 sent: it is replaced, 1 stays
    ok(his.call("2403", {"adminfo": adminfo(mdtrt_id, psn_no), "diseinfo": [
        admission_diagnosis(psn_no, "2", "E11.900", "2型糖尿病")]}))
    assert diagnoses_of(his, mdtrt_id, psn_no) == [
        ("1", 1, "J18.900", "重症肺炎"), ("1", 2, "E11.900", "2型糖尿病")]
    # the stay settles as changed
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00")], infno="2301")
    ok(his.call("2303", settle_payload(psn_no, mdtrt_id, WANG_FANG, "100.00", med_type="21")))


def test_2403_moves_the_discharge_time_of_a_discharged_stay_only(his):
    psn_no = psn(his, WANG_FANG)
    mdtrt_id = admit(his, psn_no, WANG_FANG)
    body = {"adminfo": adminfo(mdtrt_id, psn_no, endtime="2026-05-09 10:00:00"),
            "diseinfo": []}
    assert "2402" in refused(his.call("2403", body), "E-ENV-005")
    ok(his.call("2402", {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no,
                                      "insutype": "310", "endtime": "2026-05-10 10:00:00",
                                      "dscg_way": "1"}, "diseinfo": []}))
    ok(his.call("2403", body))
    assert visit_of(his, mdtrt_id, psn_no)["endtime"] == "2026-05-09 10:00:00"
    body["adminfo"]["endtime"] = "2026-04-01 10:00:00"  # before the admission
    refused(his.call("2403", body), "E-ENV-005")


def test_2403_refusals_change_nothing(his, his_factory):
    psn_no = psn(his, WANG_FANG)
    mdtrt_id = admit(his, psn_no, WANG_FANG)
    before = visit_of(his, mdtrt_id, psn_no)

    def change(**fields: str) -> dict:
        return {"adminfo": adminfo(mdtrt_id, psn_no, **fields), "diseinfo": []}

    assert "adminfo.adm_bed" in refused(his.call("2403", change(adm_bed="")), "E-ENV-004")
    refused(his.call("2403", change(mdtrt_id="M-UNKNOWN")), "E-VIS-001")
    refused(his_factory(OTHER).call("2403", change()), "E-VIS-001")
    refused(his.call("2403", change(psn_no=psn(his, LI_JIANGUO))), "E-VIS-004")
    refused(his.call("2403", change(med_type="11")), "E-VIS-003")
    refused(his.call("2403", change(begntime="2026-06-01 00:00:00")), "E-ENV-005")
    assert visit_of(his, mdtrt_id, psn_no) == before
    # an outpatient visit is no stay
    otp = register(his, psn_no, WANG_FANG)
    refused(his.call("2403", {"adminfo": adminfo(otp, psn_no), "diseinfo": []}), "E-VIS-003")


def test_2403_is_refused_once_the_stay_is_finally_settled_or_cancelled(his):
    psn_no = psn(his, WANG_FANG)
    mdtrt_id = admit(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00")], infno="2301")
    ok(his.call("2304", settle_payload(psn_no, mdtrt_id, WANG_FANG, "100.00", med_type="21")))
    body = {"adminfo": adminfo(mdtrt_id, psn_no), "diseinfo": []}
    assert "2305" in refused(his.call("2403", body), "E-VIS-002")
    stay = admit(his, psn_no, WANG_FANG)
    ok(his.call("2404", {"data": {"mdtrt_id": stay, "psn_no": psn_no}}))
    refused(his.call("2403", {"adminfo": adminfo(stay, psn_no), "diseinfo": []}), "E-VIS-002")


def test_2601_does_not_undo_a_2403(his):
    psn_no = psn(his, WANG_FANG)
    mdtrt_id = admit(his, psn_no, WANG_FANG)
    ok(his.call("2403", {"adminfo": adminfo(mdtrt_id, psn_no), "diseinfo": []}))
    refused(reverse(his, psn_no, his.last_msgid, "2403"), "E-REV-002")
    assert visit_of(his, mdtrt_id, psn_no)["ipt_otp_no"] == "ZY0001-B"


# 2306 ----------------------------------------------------------------------------------

def memo(mdtrt_id: str, psn_no: str, sn: str, code: str, text: str) -> dict:
    return {"mdtrt_id": mdtrt_id, "bkkp_sn": sn, "psn_no": psn_no, "memo": text,
            "med_list_codg": code}


def test_2306_sets_the_memo_of_lines_settled_or_not(his):
    psn_no = psn(his, WANG_FANG)
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "10.00"),
                                   line("2", "C01010101001", "5.00")])
    ok(his.call("2306", {"data": [memo(mdtrt_id, psn_no, "1", "XA01AAA0001", "TRACE-0001")]}))
    setl = ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "15.00")))
    setl_id = setl["setlinfo"]["setl_id"]
    # after the sale, and a single object where the standard has rows
    ok(his.call("2306", {"data": memo(mdtrt_id, psn_no, "2", "C01010101001", "TRACE-0002")}))
    lines = ok(his.call("5204", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id,
                                          "psn_no": psn_no}}))["feedetail"]
    assert sorted((x["feedetl_sn"], x["memo"]) for x in lines) == [
        ("1", "TRACE-0001"), ("2", "TRACE-0002")]


def test_2306_refusals(his, his_factory):
    psn_no = psn(his, WANG_FANG)
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "10.00")])
    good = memo(mdtrt_id, psn_no, "1", "XA01AAA0001", "T")
    refused(his.call("2306", {"data": [memo(mdtrt_id, psn_no, "9", "XA01AAA0001", "T")]}),
            "E-FEE-007")
    assert "XA01AAA0001" in refused(his.call("2306", {"data": [
        memo(mdtrt_id, psn_no, "1", "C01010101001", "T")]}), "E-FEE-007")
    refused(his.call("2306", {"data": [dict(good, mdtrt_id="M-UNKNOWN")]}), "E-VIS-001")
    refused(his_factory(OTHER).call("2306", {"data": [good]}), "E-VIS-001")
    refused(his.call("2306", {"data": [dict(good, bkkp_sn="")]}), "E-ENV-004")
    # a withdrawn line has no memo to change; a cancelled visit neither
    ok(his.call("2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "0000",
                                  "psn_no": psn_no}}))
    refused(his.call("2306", {"data": [good]}), "E-FEE-007")
    ok(his.call("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}))
    refused(his.call("2306", {"data": [good]}), "E-VIS-002")


# 2406 / 2407 ---------------------------------------------------------------------------

def attribute(mdtrt_id: str, psn_no: str, **changed: str) -> dict:
    data = {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "psn_cert_type": "01",
            "certno": WANG_FANG, "psn_name": "王芳", "ipt_otp_no": "ZY0001",
            "ipt_psn_sp_flag_type": "01", "ipt_psn_sp_flag": "1", "memo": "新生儿随母",
            "admdvs": "110000"}
    data.update(changed)
    return {"data": data}


def query(**conditions: str) -> dict:
    return {"data": {"page_num": "1", "page_size": "10", **conditions}}


def test_2406_records_an_attribute_and_2407_lists_it(his, his_factory):
    psn_no = psn(his, WANG_FANG)
    mdtrt_id = admit(his, psn_no, WANG_FANG)
    out = ok(his.call("2406", attribute(mdtrt_id, psn_no)))
    detl_id = out["IptPsnSpFlagRegOut"]["ipt_psn_sp_flag_detl_id"]
    assert detl_id
    # the same attribute again: the same id; another value: another
    assert ok(his.call("2406", attribute(mdtrt_id, psn_no)))["IptPsnSpFlagRegOut"] == {
        "ipt_psn_sp_flag_detl_id": detl_id}
    ok(his.call("2406", attribute(mdtrt_id, psn_no, ipt_psn_sp_flag="2")))
    listed = ok(his.call("2407", query(mdtrt_id=mdtrt_id)))
    assert listed["recordCounts"] == 2
    first = listed["IptPsnSpFlagReg"][0]
    assert (first["ipt_psn_sp_flag_detl_id"], first["psn_name"], first["certno"],
            first["fixmedins_code"], first["ipt_otp_no"], first["ipt_psn_sp_flag_type"],
            first["ipt_psn_sp_flag"]) == (detl_id, "王芳", WANG_FANG, "H11010500001",
                                          "ZY0001", "01", "1")
    assert ok(his.call("2407", query(ipt_psn_sp_flag="2")))["recordCounts"] == 1
    # another institution sees none of them
    other = his_factory(OTHER)
    assert ok(other.call("2407", query()))["IptPsnSpFlagReg"] == []
    refused(other.call("2407", query(mdtrt_id=mdtrt_id)), "E-VIS-001")
    assert ok(his.call("2407", query(fixmedins_code=OTHER)))["recordCounts"] == 0


def test_2406_and_2407_refusals(his, his_factory):
    psn_no = psn(his, WANG_FANG)
    mdtrt_id = admit(his, psn_no, WANG_FANG)
    refused(his.call("2406", attribute("M-UNKNOWN", psn_no)), "E-VIS-001")
    refused(his_factory(OTHER).call("2406", attribute(mdtrt_id, psn_no)), "E-VIS-001")
    refused(his.call("2406", attribute(mdtrt_id, psn_no, certno=LI_JIANGUO)), "E-PSN-005")
    refused(his.call("2406", attribute(mdtrt_id, psn_no, ipt_otp_no="ZY9999")), "E-ENV-005")
    refused(his.call("2406", attribute(mdtrt_id, psn_no, ipt_psn_sp_flag="")), "E-ENV-004")
    ok(his.call("2404", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}))
    refused(his.call("2406", attribute(mdtrt_id, psn_no)), "E-VIS-002")
    assert ok(his.call("2407", query()))["recordCounts"] == 0
    assert "page_num" in refused(his.call("2407", {"data": {"page_size": "10"}}), "E-ENV-004")


# 1201 ----------------------------------------------------------------------------------

def medins(fixmedins_type: str = "1", name: str = "", code: str = "") -> dict:
    return {"medinsinfo": {"fixmedins_type": fixmedins_type, "fixmedins_name": name,
                           "fixmedins_code": code}}


def test_1201_finds_institutions_by_code_or_a_part_of_the_name(his):
    (found,) = ok(his.call("1201", medins(code="H11010500002")))["medinsinfo"]
    assert (found["fixmedins_code"], found["fixmedins_type"], found["hosp_lv"]) == (
        "H11010500002", "1", "13")
    assert found["fixmedins_name"].startswith("北京示范第二医院") and len(found["uscc"]) == 18
    by_name = ok(his.call("1201", medins(name="示范第一")))["medinsinfo"]
    assert [f["fixmedins_code"] for f in by_name] == ["H11010500001", "H13010200001"]
    shops = ok(his.call("1201", medins("2", name="药店")))["medinsinfo"]  # and the online one
    assert [(s["fixmedins_code"], s["hosp_lv"]) for s in shops] == [
        ("P11010500001", ""), ("P11010500002", "")]
    # a pharmacy is not a hospital; nothing matches: an empty list
    assert ok(his.call("1201", medins("1", code="P11010500001")))["medinsinfo"] == []
    assert ok(his.call("1201", medins("3", name="示范")))["medinsinfo"] == []


def test_1201_refusals(his):
    assert "at least one" in refused(his.call("1201", medins()), "E-ENV-004")
    refused(his.call("1201", medins("9", code="H11010500002")), "E-ENV-007")
    refused(his.call("1201", medins("", code="H11010500002")), "E-ENV-004")


# 3301 / 3302 / 1317 --------------------------------------------------------------------

def matching(own: str, code: str, list_type: str, **more: str) -> dict:
    row = {"fixmedins_hilist_id": own, "fixmedins_hilist_name": f"本院{own}",
           "list_type": list_type, "med_list_codg": code, "begndate": "2026-01-01",
           "enddate": "2099-12-31", "aprvno": "", "dosform": "胶囊", "spec": "0.25g*24"}
    row.update(more)
    return row


def matchings(his, **conditions: str) -> dict:
    return ok(his.call("1317", {"data": {"updt_time": "2000-01-01 00:00:00",
                                         "page_num": "1", "page_size": "50", **conditions}}))


def test_3301_uploads_matchings_that_1317_lists_and_3302_cancels(his, his_factory, clock):
    assert matchings(his)["data"] == []
    ok(his.call("3301", {"data": [matching("YP001", "XA01AAA0001", "101"),
                                  matching("HC001", "C01010101001", "301")]}))
    listed = {r["medins_list_codg"]: r for r in matchings(his)["data"]}
    assert set(listed) == {"YP001", "HC001"}
    drug = listed["YP001"]
    assert (drug["fixmedins_code"], drug["med_list_codg"], drug["list_type"],
            drug["dosform"], drug["spec"], drug["vali_flag"], drug["insu_admdvs"],
            drug["begndate"], drug["enddate"]) == (
        "H11010500001", "XA01AAA0001", "101", "胶囊", "0.25g*24", "1", "110000",
        "2026-01-01", "2099-12-31")
    assert drug["rid"] and drug["updt_time"] == "2026-05-11 09:30:00"
    # another institution has none of them
    assert matchings(his_factory(OTHER))["data"] == []

    clock.now = clock.now.replace(hour=11)
    ok(his.call("3302", {"data": {"fixmedins_code": "H11010500001",
                                  "fixmedins_hilist_id": "HC001", "list_type": "301",
                                  "med_list_codg": "C01010101001"}}))
    changed = matchings(his, updt_time="2026-05-11 10:00:00")["data"]
    assert [(r["medins_list_codg"], r["vali_flag"]) for r in changed] == [("HC001", "0")]
    assert [r["medins_list_codg"] for r in matchings(his, vali_flag="1")["data"]] == ["YP001"]
    # uploaded again it is in force again, with its new dates
    ok(his.call("3301", {"data": matching("HC001", "C01010101001", "301",
                                          begndate="2026-06-01")}))
    again = matchings(his, medins_list_codg="HC001")["data"]
    assert [(r["vali_flag"], r["begndate"]) for r in again] == [("1", "2026-06-01")]
    assert matchings(his, medins_list_name="YP")["recordCounts"] == 1


def test_3301_3302_and_1317_refusals_store_nothing(his):
    good = matching("YP001", "XA01AAA0001", "101")
    assert "NO-SUCH-ITEM" in refused(his.call("3301", {"data": [
        good, matching("YP002", "NO-SUCH-ITEM", "101")]}), "E-CAT-001")
    assert "list_type 301" in refused(his.call("3301", {"data": [
        matching("HC001", "C01010101001", "101")]}), "E-CAT-001")
    refused(his.call("3301", {"data": [matching("YP001", "XA01AAA0001", "999")]}),
            "E-ENV-007")
    refused(his.call("3301", {"data": [matching("YP001", "XA01AAA0001", "101",
                                                enddate="2025-01-01")]}), "E-ENV-005")
    assert "begndate" in refused(his.call("3301", {"data": [
        matching("YP001", "XA01AAA0001", "101", begndate="")]}), "E-ENV-004")
    assert matchings(his)["data"] == []
    cancel = {"fixmedins_code": "H11010500001", "fixmedins_hilist_id": "YP001",
              "list_type": "101", "med_list_codg": "XA01AAA0001"}
    refused(his.call("3302", {"data": cancel}), "E-CAT-002")
    refused(his.call("3302", {"data": dict(cancel, fixmedins_code=OTHER)}), "E-AUTH-006")
    refused(his.call("1317", {"data": {"page_num": "1", "page_size": "10"}}), "E-ENV-004")
    refused(his.call("1317", {"data": {"updt_time": "2000-01-01", "page_num": "1",
                                       "page_size": "10", "fixmedins_code": OTHER}}),
            "E-AUTH-006")


def test_3302_accepts_the_fields_without_a_data_node(his):
    ok(his.call("3301", {"data": matching("YP001", "XA01AAA0001", "101")}))
    ok(his.call("3302", {"fixmedins_code": "H11010500001", "fixmedins_hilist_id": "YP001",
                         "list_type": "101", "med_list_codg": "XA01AAA0001"}))
    assert [r["vali_flag"] for r in matchings(his)["data"]] == ["0"]


# 5303 ----------------------------------------------------------------------------------

def in_hospital(his, begin="2026-05-01 00:00:00", end="2026-05-31 23:59:59", psn_no=""):
    return ok(his.call("5303", {"data": {"psn_no": psn_no, "begntime": begin,
                                         "endtime": end}}))["data"]


def test_5303_lists_the_callers_stays_not_yet_discharged(his, his_factory):
    wang, li, zhao = psn(his, WANG_FANG), psn(his, LI_JIANGUO), psn(his, ZHAO_LEI)
    stay_wang = admit(his, wang, WANG_FANG)
    stay_li = admit(his, li, LI_JIANGUO)
    discharged = admit(his, zhao, ZHAO_LEI)
    ok(his.call("2402", {"dscginfo": {"mdtrt_id": discharged, "psn_no": zhao,
                                      "insutype": "310", "endtime": "2026-05-10 10:00:00",
                                      "dscg_way": "1"}, "diseinfo": []}))
    register(his, wang, WANG_FANG)  # an outpatient visit is no stay
    other = his_factory(OTHER)
    liu = psn(other, LIU_YANG)
    admit(other, liu, LIU_YANG, insutype="390")  # another hospital's inpatient

    rows = in_hospital(his)
    assert [(r["mdtrt_id"], r["psn_no"]) for r in rows] == [(stay_wang, wang), (stay_li, li)]
    first = rows[0]
    assert (first["psn_name"], first["certno"], first["gend"], first["brdy"], first["age"],
            first["insutype"], first["begndate"], first["med_type"], first["ipt_otp_no"],
            first["out_flag"]) == ("王芳", WANG_FANG, "2", "1985-03-15", 41, "310",
                                   "2026-05-01", "21", "ZY0001", "0")
    assert [r["mdtrt_id"] for r in in_hospital(his, psn_no=li)] == [stay_li]
    assert in_hospital(his, begin="2026-05-02 00:00:00") == []  # admitted before the period
    assert [r["psn_no"] for r in in_hospital(other)] == [liu]


def test_5303_refusals(his):
    refused(his.call("5303", {"data": {"begntime": "2026-05-01 00:00:00"}}), "E-ENV-004")
    refused(his.call("5303", {"data": {"begntime": "2026-05-31 00:00:00",
                                       "endtime": "2026-05-01 00:00:00"}}), "E-ENV-005")
    refused(his.call("5303", {"data": {"begntime": "yesterday",
                                       "endtime": "2026-05-01 00:00:00"}}), "E-ENV-005")
    assert "changes nothing" in refused(reverse(his, "", "M-ANY", "5303"), "E-REV-002")


# 3101 / 3102 ---------------------------------------------------------------------------

REVIEW = {"data": {"trig_scen": "1", "rule_ids": [], "patient_dtos": [{
    "patn_id": "11000000000000000001", "patn_name": "王芳", "gend": "2", "brdy": "1985-03-15",
    "poolarea": "110000", "curr_mdtrt_id": "M1",
    "fsi_encounter_dtos": [{
        "mdtrt_id": "M1", "medins_id": "H11010500001", "medins_name": "北京示范第一医院",
        "medins_admdvs": "110105", "medins_type": "1", "medins_lv": "12",
        "wardarea_codg": "", "wardno": "", "bedno": "", "adm_date": "2026-05-11 09:00:00",
        "dscg_date": "2026-05-11 09:00:00", "dscg_main_dise_codg": "J18.900",
        "dscg_main_dise_name": "肺炎", "dr_codg": "D001", "adm_dept_codg": "K01",
        "adm_dept_name": "内科", "dscg_dept_codg": "K01", "dscg_dept_name": "内科",
        "med_mdtrt_type": "1", "med_type": "11", "matn_stas": "0", "medfee_sumamt": "30.00",
        "ownpay_amt": "0", "selfpay_amt": "0", "acct_payamt": "", "setl_totlnum": "0",
        "insutype": "310", "reim_flag": "0", "out_setl_flag": "0",
        "fsi_diagnose_dtos": [{
            "dise_id": "1", "inout_dise_type": "1", "maindise_flag": "1", "dias_srt_no": "1",
            "dise_codg": "J18.900", "dise_name": "肺炎", "dise_date": "2026-05-11 09:00:00"}],
        "fsi_order_dtos": [{
            "rx_id": "R1", "rxno": "RX1", "grpno": "", "long_drord_flag": "0",
            "hilist_type": "101", "chrg_type": "09", "drord_bhvr": "0",
            "hilist_code": "XA01AAA0001", "hilist_name": "阿莫西林胶囊", "hilist_lv": "01",
            "hilist_pric": "10.1234", "hosplist_code": "YP001", "hosplist_name": "阿莫西林",
            "cnt": "3", "pric": "10.00", "sumamt": "30.00", "ownpay_amt": "0",
            "selfpay_amt": "0", "spec": "0.25g*24", "spec_unt": "盒",
            "drord_begn_date": "2026-05-11 09:00:00", "drord_dept_codg": "K01",
            "drord_dept_name": "内科", "drord_dr_codg": "D001", "drord_dr_name": "医生甲",
            "drord_dr_profttl": "1", "curr_drord_flag": "1",
            "extend_order_map": {"o_prdDays": "3"}}],
    }]}]}}


@pytest.mark.parametrize("infno", ["3101", "3102"])
def test_review_calls_answer_no_findings_for_items_without_limits(his, infno):
    assert ok(his.call(infno, REVIEW)) == {"result": []}
    # a single patient object where the standard has a list is read the same
    single = copy.deepcopy(REVIEW)
    single["data"]["patient_dtos"] = single["data"]["patient_dtos"][0]
    assert ok(his.call(infno, single)) == {"result": []}


@pytest.mark.parametrize(("path", "value", "code", "named"), [
    (("fsi_order_dtos", 0, "hosplist_code"), "", "E-ENV-004",
     "patient_dtos[0].fsi_encounter_dtos[0].fsi_order_dtos[0].hosplist_code"),
    (("fsi_diagnose_dtos", 0, "dise_date"), "not a time", "E-ENV-005", "dise_date"),
    (("medfee_sumamt",), "30.001", "E-ENV-005", "medfee_sumamt"),
    (("fsi_order_dtos",), [], "E-ENV-004", "fsi_order_dtos"),
    (("fsi_order_dtos", 0, "cnt"), "three", "E-ENV-005", "cnt"),
])
def test_review_calls_refuse_input_missing_what_the_standard_requires(his, path, value, code,
                                                                      named):
    body = copy.deepcopy(REVIEW)
    node = body["data"]["patient_dtos"][0]["fsi_encounter_dtos"][0]
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    assert named in refused(his.call("3101", body), code)
    refused(his.call("3102", {"data": {"patient_dtos": []}}), "E-ENV-004")


def test_2601_knows_the_new_transactions(his):
    """The read-only ones change nothing; the writing ones are not undone by 2601."""
    for infno in ("1201", "1317", "2407", "5303"):
        assert "changes nothing" in refused(reverse(his, "", "M-ANY", infno), "E-REV-002")
    psn_no = psn(his, WANG_FANG)
    # 3101/3102 store their warnings and 3103 the feedback (docs/supervision.md): kept
    ok(his.call("3101", REVIEW))
    refused(reverse(his, psn_no, his.last_msgid, "3101"), "E-REV-002")
    ok(his.call("3301", {"data": matching("YP001", "XA01AAA0001", "101")}))
    refused(reverse(his, psn_no, his.last_msgid, "3301"), "E-REV-002")
    assert [r["vali_flag"] for r in matchings(his)["data"]] == ["1"]
