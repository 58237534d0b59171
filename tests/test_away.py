"""Care away from the insured place, both directions, on both databases: a Hebei person
(赵磊, insured in 130102) treated in Beijing, a Beijing person (王芳) treated in Hebei.
Filing from the referring hospital (2501), the app, the operator window; settlement by
the treatment place's catalogue and the insured place's policy; cancellation; the
outbox of cost information; every refusal that explains what the person can do."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from apps import WANG, ChannelApp
from calls import window_call
from concurrency import run_threads
from conftest import ADMIN, AUDITOR, CLERK
from flows import SIGNED, WANG_FANG, ZHAO_LEI, line, ok, person, refused, settle_payload, upload
from receiver import Receiver
from yibao.domain.errors import Refused
from yibao.services import filing as filing_service
from yibao.services import outbox as outbox_service
from yibao.store.schema import insurance, outbox, settlement

T0 = datetime(2026, 5, 11, 9, 30, 0)  # the FakeClock's start


def psn_of(his, certno: str) -> str:
    return str(person(his, certno)["baseinfo"]["psn_no"])


def referral(his, psn_no: str, area: str = "110000", enddate: str = "2026-12-31") -> dict:
    return his.call("2501", {"refmedin": {
        "psn_no": psn_no, "insutype": "310", "tel": "", "addr": "", "insu_optins": "130102",
        "diag_code": "J18.900", "diag_name": "肺炎", "dise_cond_dscr": "",
        "reflin_medins_no": "H11010500001", "reflin_medins_name": "北京示范第一医院",
        "mdtrtarea_admdvs": area, "hosp_agre_refl_flag": "1", "refl_type": "3",
        "refl_date": "2026-05-11", "refl_rea": "病情需要", "refl_opnn": "同意转诊",
        "begndate": "2026-05-11", "enddate": enddate}})


def admin_file(http, psn_no: str, **body) -> dict:
    reply = http.post("/admin/v1/filings", json={"psn_no": psn_no, **SIGNED, **body}, headers=CLERK)
    return {"status": reply.status_code, **reply.json()}


def temporary_filing(http, psn_no: str, end_date: str = "2026-06-30") -> dict:
    """A temporary filing (other temporary trips) for Beijing, 110000, at the window."""
    return admin_file(http, psn_no, filing_type="temporary", area="110000", end_date=end_date)


def declare_injury(his, psn_no: str, area: str = "110000") -> dict:
    """2507: 赵磊 declares that no third party is liable for his injury."""
    return his.call("2507", {"data": {
        "dcla_souc": "01", "psn_no": psn_no, "psn_cert_type": "01", "certno": ZHAO_LEI,
        "psn_name": "赵磊", "insu_admdvs": "130102", "mdtrtarea_admdvs": area,
        "trum_time": "2026-05-10 18:00:00", "trum_site": "家中", "trum_rea": "摔伤",
        "chk_pay_flag": "1", "begndate": "2026-05-10", "enddate": ""}})


def visit(his, psn_no: str, certno: str, *, med_type: str = "11", exp: dict | None = None,
          begin: str = "2026-05-11 09:00:00") -> str:
    data = {"psn_no": psn_no, "insutype": "310", "begntime": begin, "med_type": med_type,
            "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "ipt_otp_no": "OP1",
            "exp_content": json.dumps(exp or {})}
    return str(ok(his.call("2201", {"data": data}))["data"]["mdtrt_id"])


def settle(his, psn_no: str, mdtrt_id: str, certno: str, lines: list[dict], *,
           med_type: str = "11", total: str = "") -> dict:
    """Upload ``lines`` (none: settle the ``total`` uploaded before) and settle."""
    if lines:
        upload(his, mdtrt_id, psn_no, lines)
        total = str(sum(Decimal(x["det_item_fee_sumamt"]) for x in lines))
    return his.call("2207", settle_payload(psn_no, mdtrt_id, certno, total, account=False,
                                           med_type=med_type))


def outbox_rows(db) -> list[dict]:
    with db.read() as conn:
        rows = conn.execute(select(outbox).order_by(outbox.c.created_at, outbox.c.id))
        return [dict(r, payload=json.loads(r["payload"])) for r in rows.mappings()]


def cumulative(his, psn_no: str) -> dict[str, Decimal]:
    rows = ok(his.call("5206", {"data": {"psn_no": psn_no, "cum_ym": "202605"}}))["cuminfo"]
    return {r["cum_type_code"]: Decimal(str(r["cum"])) for r in rows}


# ---------------------------------------------------------------- Hebei person in Beijing


def test_hebei_referral_settles_in_beijing_by_beijing_catalogue_and_hebei_policy(
    db, his_factory
):
    hebei, beijing = his_factory("H13010200001"), his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    serial = ok(referral(hebei, psn_no))["result"]["trt_dcla_detl_sn"]
    mdtrt_id = visit(beijing, psn_no, ZHAO_LEI)
    # C01010101001 is 乙 with 20 % self-pay in Beijing's catalogue (丙 in Hebei's)
    setl = ok(settle(beijing, psn_no, mdtrt_id, ZHAO_LEI, [
        line("1", "XA01AAA0001", "2000.00"), line("2", "C01010101001", "100.00")]))["setlinfo"]
    assert Decimal(setl["preselfpay_amt"]) == Decimal("20.00")
    assert Decimal(setl["inscp_scp_amt"]) == Decimal("2080.00")
    # Hebei policy: deductible 800, outpatient 60 % less 10 points for a referral
    assert Decimal(setl["act_pay_dedc"]) == Decimal("800.00")
    assert Decimal(setl["hifp_pay"]) == Decimal("640.00")  # (2080 - 800) x 50 %
    assert Decimal(setl["psn_cash_pay"]) == Decimal("1460.00")
    assert setl["clr_optins"] == "130102"

    [sent] = outbox_rows(db)
    assert sent["id"] == f"cost:{setl['setl_id']}" and sent["status"] == "pending"
    info = sent["payload"]["setlinfo"]
    assert (info["insuplc_admdvs"], info["mdtrtarea_admvs"]) == ("130102", "110000")
    assert (info["away_basis"], info["trt_dcla_detl_sn"]) == ("referral", serial)
    assert info["fund_pay_sumamt"] == "640.00"
    assert [x["med_list_codg"] for x in sent["payload"]["feedetail"]] == [
        "XA01AAA0001", "C01010101001"]


def test_an_away_settlement_shares_the_year_with_home_and_its_cancellation_is_sent(
    db, his_factory
):
    hebei, beijing = his_factory("H13010200001"), his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    ok(referral(hebei, psn_no))
    away = ok(settle(beijing, psn_no, visit(beijing, psn_no, ZHAO_LEI), ZHAO_LEI,
                     [line("1", "XA01AAA0001", "1000.00")]))["setlinfo"]
    assert Decimal(away["act_pay_dedc"]) == Decimal("800.00")
    home = ok(settle(hebei, psn_no, visit(hebei, psn_no, ZHAO_LEI), ZHAO_LEI,
                     [line("1", "XA01AAA0001", "1000.00")]))["setlinfo"]
    assert Decimal(home["act_pay_dedc"]) == 0  # the deductible was met away
    assert Decimal(home["hifp_pay"]) == Decimal("600.00")  # home ratio 60 %, no cut
    assert len(outbox_rows(db)) == 1  # a settlement at home sends no cost information

    ok(beijing.call("2208", {"data": {"setl_id": away["setl_id"], "mdtrt_id": away["mdtrt_id"],
                                      "psn_no": psn_no}}))
    [cancel] = [r["payload"]["setlinfo"] for r in outbox_rows(db)
                if r["payload"]["setlinfo"]["kind"] == "cancel"]
    assert cancel["reverses"] == away["setl_id"]
    assert cancel["fund_pay_sumamt"] == "-100.00"
    assert cumulative(hebei, psn_no)["D.hb_otp"] == 0  # home settled with no deductible


def test_refusals_say_why_and_what_to_do(db, his_factory):
    hebei, beijing = his_factory("H13010200001"), his_factory("H11010500001")
    community = his_factory("H11010500003")  # not networked
    psn_no = psn_of(beijing, ZHAO_LEI)
    mdtrt_id = visit(beijing, psn_no, ZHAO_LEI)
    message = refused(settle(beijing, psn_no, mdtrt_id, ZHAO_LEI,
                             [line("1", "XA01AAA0001", "100.00")]), "E-FIL-002")
    assert "file with this area" in message and "manual reimbursement" in message
    ok(referral(hebei, psn_no))
    other = visit(community, psn_no, ZHAO_LEI)
    message = refused(settle(community, psn_no, other, ZHAO_LEI,
                             [line("1", "XA01AAA0001", "100.00")]), "E-FIL-001")
    assert "H11010500003" in message
    assert outbox_rows(db) == []


def test_emergency_counts_as_filed_with_the_insured_places_ratio(db, his_factory):
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    by_type = visit(beijing, psn_no, ZHAO_LEI, med_type="13")
    setl = ok(settle(beijing, psn_no, by_type, ZHAO_LEI, [line("1", "XA01AAA0001", "1800.00")],
                     med_type="13"))["setlinfo"]
    assert Decimal(setl["hifp_pay"]) == Decimal("500.00")  # (1800 - 800) x (60 - 10) %
    by_flag = visit(beijing, psn_no, ZHAO_LEI, exp={"OTP_ER_REFL_FLAG": "1"})
    setl = ok(settle(beijing, psn_no, by_flag, ZHAO_LEI, [line("1", "XA01AAA0001", "100.00")]))
    assert Decimal(setl["setlinfo"]["hifp_pay"]) == Decimal("50.00")
    assert [r["payload"]["setlinfo"]["away_basis"] for r in outbox_rows(db)] == [
        "emergency", "emergency"]


def admit_stay(his, psn_no: str, certno: str, exp: dict | None = None, *,
           med_type: str = "21") -> str:
    info = {"psn_no": psn_no, "insutype": "310", "begntime": "2026-05-10 08:00:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "med_type": med_type,
            "ipt_no": "ZY1", "atddr_no": "D1", "chfpdr_name": "主任", "adm_dept_codg": "K02",
            "adm_dept_name": "呼吸科", "exp_content": json.dumps(exp or {})}
    return str(ok(his.call("2401", {"mdtrtinfo": info}))["result"]["mdtrt_id"])


def discharge(his, psn_no: str, mdtrt_id: str, at: str) -> None:
    ok(his.call("2402", {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "endtime": at,
                                      "dscg_way": "1"}}))


def settle_stay(his, psn_no: str, mdtrt_id: str, certno: str, *,
                 med_type: str = "21") -> dict:
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "5000.00")], infno="2301")
    return his.call("2304", settle_payload(psn_no, mdtrt_id, certno, "5000.00",
                                           account=False, med_type=med_type))


def withdraw_visit(his, psn_no: str, mdtrt_id: str, *, stay: bool = False) -> None:
    """The institution cancels an unsettled visit, its fee lines first: 2205 and 2202, or
    for a discharged stay 2405 (reopen), 2302 and 2404."""
    steps = ((("2405", {}), ("2302", {"feedetl_sn": "0000"}), ("2404", {})) if stay
             else (("2205", {"chrg_bchno": "0000"}), ("2202", {})))
    for infno, extra in steps:
        ok(his.call(infno, {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, **extra}}))


def test_filed_after_discharge_but_before_the_settlement_settles_directly(
    db, http, his_factory, clock
):
    """The 2022 notice: a filing made before the settlement settles directly, even when
    the stay was already discharged (2401 admit, 2402 discharge, file, 2304 settles)."""
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    emergency = admit_stay(beijing, psn_no, ZHAO_LEI, exp={"IPT_TYPE": "2"})  # counts as filed
    discharge(beijing, psn_no, emergency, "2026-05-11 09:00:00")
    ok(settle_stay(beijing, psn_no, emergency, ZHAO_LEI))

    left = admit_stay(beijing, psn_no, ZHAO_LEI)
    discharge(beijing, psn_no, left, "2026-05-11 10:00:00")
    refused(settle_stay(beijing, psn_no, left, ZHAO_LEI), "E-FIL-002")  # not filed yet
    clock.now = datetime(2026, 5, 11, 10, 0, 1)  # one second after the discharge
    serial = temporary_filing(http, psn_no)["trt_dcla_detl_sn"]
    setl = ok(beijing.call("2304", settle_payload(psn_no, left, ZHAO_LEI, "5000.00",
                                                  account=False, med_type="21")))["setlinfo"]
    # Hebei tier 3, a later stay: deductible 500, 85 % less 20 points (other temporary)
    assert Decimal(setl["hifp_pay"]) == Decimal("2925.00")
    sent = [r["payload"]["setlinfo"] for r in outbox_rows(db)]
    assert (sent[-1]["trt_dcla_detl_sn"], sent[-1]["away_basis"]) == (serial, "temporary")


def test_validity_edges_one_second_before_start_after_expiry_and_after_refiling(
    db, http, his_factory, clock
):
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    serial = temporary_filing(http, psn_no, "2026-05-20")["trt_dcla_detl_sn"]
    fee = [line("1", "XA01AAA0001", "10.00")]
    clock.now = T0 - timedelta(seconds=1)
    early = visit(beijing, psn_no, ZHAO_LEI, begin="2026-05-11 09:00:00")
    refused(settle(beijing, psn_no, early, ZHAO_LEI, fee), "E-FIL-002")
    clock.now = T0
    assert ok(settle(beijing, psn_no, early, ZHAO_LEI, [], total="10.00"))["setlinfo"]

    clock.now = datetime(2026, 5, 20, 23, 59, 59)  # the last second of the chosen end day
    last = visit(beijing, psn_no, ZHAO_LEI, begin="2026-05-20 23:59:00")
    ok(settle(beijing, psn_no, last, ZHAO_LEI, fee))
    clock.now = datetime(2026, 5, 21, 0, 0, 0)
    expired = visit(beijing, psn_no, ZHAO_LEI, begin="2026-05-21 00:00:00")
    refused(settle(beijing, psn_no, expired, ZHAO_LEI, fee), "E-FIL-002")
    listed = http.get(f"/admin/v1/persons/{psn_no}/filings", headers=AUDITOR).json()
    assert [(f["trt_dcla_detl_sn"], f["status"]) for f in listed] == [(serial, "expired")]

    # re-filing: a long-term filing with Shanghai ends the Beijing one
    clock.now = datetime(2026, 5, 12, 8, 0, 0)
    beijing_filing = temporary_filing(http, psn_no, "2026-12-31")["trt_dcla_detl_sn"]
    clock.now = datetime(2026, 5, 12, 9, 0, 0)
    admin_file(http, psn_no, filing_type="resident", area="310000")
    moved = visit(beijing, psn_no, ZHAO_LEI, begin="2026-05-12 09:30:00")
    clock.now = datetime(2026, 5, 12, 9, 30, 0)
    refused(settle(beijing, psn_no, moved, ZHAO_LEI, fee), "E-FIL-002")
    listed = http.get(f"/admin/v1/persons/{psn_no}/filings", headers=AUDITOR).json()
    ended = next(f for f in listed if f["trt_dcla_detl_sn"] == beijing_filing)
    assert ended["status"] == "superseded" and ended["ended_at"] == "2026-05-12 09:00:00"


def test_a_change_of_insured_relationship_needs_a_new_filing(db, http, his_factory):
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    admin_file(http, psn_no, filing_type="stationed", area="110000")
    with db.write() as conn:
        conn.execute(update(insurance).where(insurance.c.psn_no == psn_no)
                     .values(emp_name="新单位"))
    fee = [line("1", "XA01AAA0001", "10.00")]
    mdtrt_id = visit(beijing, psn_no, ZHAO_LEI)
    refused(settle(beijing, psn_no, mdtrt_id, ZHAO_LEI, fee), "E-FIL-006")
    admin_file(http, psn_no, filing_type="stationed", area="110000")
    setl = ok(settle(beijing, psn_no, mdtrt_id, ZHAO_LEI, [], total="10.00"))["setlinfo"]
    assert outbox_rows(db)[0]["payload"]["setlinfo"]["away_basis"] == "long_term"
    assert Decimal(setl["medfee_sumamt"]) == Decimal("10.00")


def test_special_disease_filing_two_institutions_at_most(db, his_factory, clock):
    beijing, second = his_factory("H11010500001"), his_factory("H11010500002")
    psn_no = psn_of(beijing, ZHAO_LEI)

    def disease(institution: str) -> dict:
        return beijing.call("2503", {"data": {
            "psn_no": psn_no, "insutype": "310", "opsp_dise_code": "M03900",
            "opsp_dise_name": "高血压", "insu_optins": "130102",
            "ide_fixmedins_no": institution, "ide_fixmedins_name": "示范",
            "hosp_ide_date": "2026-05-01", "diag_dr_codg": "D1", "diag_dr_name": "医生",
            "begndate": "2026-05-11", "enddate": ""}})

    first = ok(disease("H11010500001"))["result"]["trt_dcla_detl_sn"]
    ok(disease("H11010500002"))
    message = refused(disease("H11010500003"), "E-FIL-004")
    assert "H11010500001" in message and "H11010500002" in message
    fee = [line("1", "XA01AAA0001", "900.00")]
    setl = ok(settle(beijing, psn_no, visit(beijing, psn_no, ZHAO_LEI, med_type="14"),
                     ZHAO_LEI, fee, med_type="14"))["setlinfo"]
    assert Decimal(setl["hifp_pay"]) == Decimal("60.00")  # (900 - 800) x 60 %, no cut
    withdraw = {"data": {"trt_dcla_detl_sn": first, "psn_no": psn_no, "memo": "换医院"}}
    refused(beijing.call("2504", withdraw), "E-FIL-009")  # a live settlement rests on it
    assert "is a disease filing" in refused(beijing.call("2502", withdraw), "E-FIL-005")
    ok(beijing.call("2208", {"data": {"setl_id": setl["setl_id"], "mdtrt_id": setl["mdtrt_id"],
                                      "psn_no": psn_no}}))
    # the visit could settle on it again: the hospital cancels it first
    assert setl["mdtrt_id"] in refused(beijing.call("2504", withdraw), "E-FIL-009")
    withdraw_visit(beijing, psn_no, setl["mdtrt_id"])
    ok(beijing.call("2504", withdraw))
    clock.now = T0 + timedelta(minutes=10)  # a visit after the filing ended
    later = visit(beijing, psn_no, ZHAO_LEI, med_type="14", begin="2026-05-11 09:40:00")
    refused(settle(beijing, psn_no, later, ZHAO_LEI, fee, med_type="14"), "E-FIL-011")
    refused(second.call("2504", {"data": {"trt_dcla_detl_sn": first, "psn_no": psn_no,
                                          "memo": "x"}}), "E-FIL-005")


def test_a_declaration_covers_care_of_an_injury_that_had_happened_by_then(
    db, http, his_factory
):
    """2507 says when the injury happened (trum_time 2026-05-10 18:00): care that began
    the day before is not for that injury; care that day or later is."""
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    temporary_filing(http, psn_no)
    serial = ok(declare_injury(beijing, psn_no))["result"]["trt_dcla_detl_sn"]
    fee = [line("1", "XA01AAA0001", "10.00")]
    earlier = visit(beijing, psn_no, ZHAO_LEI, med_type="19", begin="2026-05-09 09:00:00")
    message = refused(settle(beijing, psn_no, earlier, ZHAO_LEI, fee, med_type="19"),
                      "E-FIL-010")
    assert f"{serial} declares an injury on 2026-05-10" in message and "2026-05-09" in message
    same_day = visit(beijing, psn_no, ZHAO_LEI, med_type="19", begin="2026-05-10 20:00:00")
    assert ok(settle(beijing, psn_no, same_day, ZHAO_LEI, fee, med_type="19"))["setlinfo"]


def test_injury_needs_the_no_third_party_declaration(db, http, his_factory):
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    temporary_filing(http, psn_no)
    fee = [line("1", "XA01AAA0001", "100.00")]
    liable = visit(beijing, psn_no, ZHAO_LEI, exp={"TRUM_FLAG": "1", "REL_TTP_FLAG": "1"})
    refused(settle(beijing, psn_no, liable, ZHAO_LEI, fee), "E-FIL-007")
    injured = visit(beijing, psn_no, ZHAO_LEI, med_type="19")
    refused(settle(beijing, psn_no, injured, ZHAO_LEI, fee, med_type="19"), "E-FIL-010")
    unsaid = refused(beijing.call("2201", {"data": {
        "psn_no": psn_no, "insutype": "310", "begntime": "2026-05-11 09:00:00",
        "med_type": "11", "mdtrt_cert_type": "02", "mdtrt_cert_no": ZHAO_LEI,
        "ipt_otp_no": "OP1", "exp_content": '{"TRUM_FLAG": "1"}'}}), "E-ENV-004")
    assert "REL_TTP_FLAG (required with TRUM_FLAG 1)" in unsaid
    ok(declare_injury(beijing, psn_no))
    assert ok(settle(beijing, psn_no, injured, ZHAO_LEI, [], med_type="19", total="100.00"))


def test_a_filing_in_use_cannot_be_cancelled_until_its_settlement_is(db, his_factory):
    hebei, beijing = his_factory("H13010200001"), his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    serial = ok(referral(hebei, psn_no))["result"]["trt_dcla_detl_sn"]
    setl = ok(settle(beijing, psn_no, visit(beijing, psn_no, ZHAO_LEI), ZHAO_LEI,
                     [line("1", "XA01AAA0001", "10.00")]))["setlinfo"]
    cancel = {"data": {"trt_dcla_detl_sn": serial, "psn_no": psn_no, "memo": "不去了"}}
    refused(beijing.call("2502", cancel), "E-FIL-005")  # not the referring hospital's
    assert "live settlement" in refused(hebei.call("2502", cancel), "E-FIL-009")
    ok(beijing.call("2208", {"data": {"setl_id": setl["setl_id"], "mdtrt_id": setl["mdtrt_id"],
                                      "psn_no": psn_no}}))
    assert "unsettled visit" in refused(hebei.call("2502", cancel), "E-FIL-009")
    withdraw_visit(beijing, psn_no, setl["mdtrt_id"])
    ok(hebei.call("2502", cancel))
    refused(hebei.call("2502", cancel), "E-FIL-009")


# ---------------------------------------------------------------- Beijing person in Hebei


def test_beijing_person_files_in_the_app_and_settles_in_hebei(db, http, his_factory):
    hebei = his_factory("H13010200001")
    app = ChannelApp(http)
    cert_id = app.activate()
    path = f"/channel/v1/certificates/{cert_id}/filings"
    wrong = app.post(path, {"pin": "000000", "filing_type": "resident", **SIGNED, "area": "130102"})
    assert wrong.status_code == 403
    reply = app.post(path, {"pin": "135790", "filing_type": "resident", **SIGNED, "area": "130102",
                            "reason": "随子女异地居住"})
    assert reply.status_code == 201, reply.text
    psn_no = psn_of(hebei, WANG_FANG)
    # Hebei's catalogue: XB02BBB0002 has 5 % self-pay (10 % in Beijing)
    setl = ok(settle(hebei, psn_no, visit(hebei, psn_no, WANG_FANG), WANG_FANG,
                     [line("1", "XB02BBB0002", "3000.00")]))["setlinfo"]
    assert Decimal(setl["preselfpay_amt"]) == Decimal("150.00")
    # Beijing policy, working employee, tier 3: deductible 1800, 70 %, long-term: no cut
    assert Decimal(setl["act_pay_dedc"]) == Decimal("1800.00")
    assert Decimal(setl["fund_pay_sumamt"]) == Decimal("735.00")
    assert setl["clr_optins"] == "110000"
    [sent] = outbox_rows(db)
    assert sent["payload"]["setlinfo"]["mdtrtarea_admvs"] == "130102"

    listed = app.post(f"{path}/list", {"pin": "135790"}).json()
    assert [(f["filing_type"], f["area"], f["status"]) for f in listed] == [
        ("resident", "130102", "active")]
    bad = app.post(path, {"pin": "135790", "filing_type": "temporary", **SIGNED, "area": "130102"})
    assert bad.status_code == 400 and bad.json()["code"] == "E-FIL-008"
    home = app.post(path, {"pin": "135790", "filing_type": "resident", **SIGNED, "area": "110000"})
    assert home.json()["code"] == "E-FIL-008" and "insured place" in home.json()["detail"]
    assert WANG["certno"] == WANG_FANG


def test_unnetworked_hebei_hospital_until_the_operator_networks_it(db, http, his_factory):
    second = his_factory("H13010200002")
    psn_no = psn_of(second, WANG_FANG)
    admin_file(http, psn_no, filing_type="resident", area="130102")
    mdtrt_id = visit(second, psn_no, WANG_FANG)
    refused(settle(second, psn_no, mdtrt_id, WANG_FANG, [line("1", "XA01AAA0001", "10.00")]),
            "E-FIL-001")
    reply = http.put("/admin/v1/institutions/H13010200002/networked",
                     json={"enabled": True}, headers=ADMIN)
    assert reply.status_code == 200 and reply.json()["networked"] is True
    assert ok(settle(second, psn_no, mdtrt_id, WANG_FANG, [], total="10.00"))["setlinfo"]


def test_an_unknown_institution_cannot_be_networked(db, http):
    reply = http.put("/admin/v1/institutions/H99999999999/networked",
                     json={"enabled": True}, headers=ADMIN)
    assert reply.status_code == 404 and reply.json()["code"] == "E-ADM-001"
    assert "H99999999999" in reply.json()["detail"]


# ---------------------------------------------------------------- every type, both ways

DIRECTIONS = {  # person, institution of treatment, its area
    "hebei-in-beijing": (ZHAO_LEI, "H11010500001", "110000"),
    "beijing-in-hebei": (WANG_FANG, "H13010200001", "130102"),
}
AREA_TYPES = {"resettled": "long_term", "resident": "long_term", "stationed": "long_term",
              "referral": "referral", "emergency": "emergency", "temporary": "temporary"}


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("filing_type", AREA_TYPES)
def test_each_filing_type_from_start_to_expiry_and_refiling(
    db, http, his_factory, clock, direction, filing_type
):
    certno, code, area = DIRECTIONS[direction]
    his = his_factory(code)
    psn_no = psn_of(his, certno)
    fee = [line("1", "XA01AAA0001", "10.00")]
    admin_file(http, psn_no, filing_type=filing_type, area=area, end_date="2026-05-20")

    clock.now = T0 - timedelta(seconds=1)  # one second before registration
    first = visit(his, psn_no, certno)
    refused(settle(his, psn_no, first, certno, fee), "E-FIL-002")
    clock.now = T0
    setl = ok(settle(his, psn_no, first, certno, [], total="10.00"))["setlinfo"]
    ok(his.call("2208", {"data": {"setl_id": setl["setl_id"], "mdtrt_id": first,
                                  "psn_no": psn_no}}))
    sent = [(r["payload"]["setlinfo"]["kind"], r["payload"]["setlinfo"]["away_basis"])
            for r in outbox_rows(db)]
    assert sorted(sent) == [("cancel", AREA_TYPES[filing_type]),
                            ("settle", AREA_TYPES[filing_type])]

    clock.now = datetime(2026, 5, 21, 0, 0, 0)  # the chosen end day is over
    expired = visit(his, psn_no, certno, begin="2026-05-21 00:00:00")
    refused(settle(his, psn_no, expired, certno, fee), "E-FIL-002")
    admin_file(http, psn_no, filing_type=filing_type, area=area, end_date="2026-05-31")
    ok(settle(his, psn_no, expired, certno, [], total="10.00"))

    clock.now = datetime(2026, 5, 22, 9, 0, 0)  # re-filed for another area
    assert admin_file(http, psn_no, filing_type=filing_type, area="310000",
                      end_date="2026-05-31")["status"] == 201
    clock.now = datetime(2026, 5, 22, 9, 0, 1)
    after = visit(his, psn_no, certno, begin="2026-05-22 09:00:01")
    refused(settle(his, psn_no, after, certno, fee), "E-FIL-002")


def test_disease_and_injury_filings_have_the_same_edges(db, http, his_factory, clock):
    his = his_factory("H11010500001")
    psn_no = psn_of(his, ZHAO_LEI)
    fee = [line("1", "XA01AAA0001", "10.00")]
    admin_file(http, psn_no, filing_type="disease", institution="H11010500001",
               disease_code="M03900", disease_name="高血压", end_date="2026-05-20")
    clock.now = T0 - timedelta(seconds=1)
    early = visit(his, psn_no, ZHAO_LEI, med_type="14")
    refused(settle(his, psn_no, early, ZHAO_LEI, fee, med_type="14"), "E-FIL-011")
    clock.now = T0
    ok(settle(his, psn_no, early, ZHAO_LEI, [], med_type="14", total="10.00"))
    clock.now = datetime(2026, 5, 21)
    late = visit(his, psn_no, ZHAO_LEI, med_type="14", begin="2026-05-21 00:00:00")
    refused(settle(his, psn_no, late, ZHAO_LEI, fee, med_type="14"), "E-FIL-011")

    admin_file(http, psn_no, filing_type="resident", area="110000")
    admin_file(http, psn_no, filing_type="trauma", area="110000", end_date="2026-05-21")
    injured = visit(his, psn_no, ZHAO_LEI, med_type="19", begin="2026-05-21 00:00:00")
    ok(settle(his, psn_no, injured, ZHAO_LEI, fee, med_type="19"))
    clock.now = datetime(2026, 5, 22)
    again = visit(his, psn_no, ZHAO_LEI, med_type="19", begin="2026-05-22 00:00:00")
    refused(settle(his, psn_no, again, ZHAO_LEI, fee, med_type="19"), "E-FIL-010")


def test_three_special_disease_filings_at_once_two_succeed(app, db, his_factory):
    hospitals = [his_factory(c) for c in ("H11010500001", "H11010500002", "H11010500003")]
    psn_no = psn_of(hospitals[0], ZHAO_LEI)
    requests = []
    for his in hospitals:
        message = his.envelope("2503", {"data": {
            "psn_no": psn_no, "insutype": "310", "opsp_dise_code": "M01600",
            "opsp_dise_name": "糖尿病", "ide_fixmedins_no": his.code,
            "ide_fixmedins_name": "示范", "hosp_ide_date": "2026-05-01", "diag_dr_codg": "D1",
            "diag_dr_name": "医生", "begndate": "2026-05-11"}})
        requests.append((his.headers(), json.dumps(message).encode()))
    answers = run_threads(app.state.hospital.handle, requests)
    assert sorted(a["infcode"] for a in answers) == [-1, 0, 0]
    assert [a["err_msg"][:9] for a in answers if a["infcode"]] == ["E-FIL-004"]


def test_an_emergency_with_a_temporary_filing_gets_the_smaller_cut(db, http, his_factory):
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    temporary_filing(http, psn_no)
    setl = ok(settle(beijing, psn_no, visit(beijing, psn_no, ZHAO_LEI, med_type="13"),
                     ZHAO_LEI, [line("1", "XA01AAA0001", "1800.00")], med_type="13"))
    # Hebei: emergency -10 points, other temporary -20: (1800 - 800) x 50 %
    assert Decimal(setl["setlinfo"]["hifp_pay"]) == Decimal("500.00")
    assert outbox_rows(db)[0]["payload"]["setlinfo"]["trt_dcla_detl_sn"] is None


def test_cost_information_of_a_settlement_and_its_cancellation_reaches_the_platform(
    db, http, his_factory, clock
):
    receiver = Receiver()
    try:
        beijing = his_factory("H11010500001")
        psn_no = psn_of(beijing, ZHAO_LEI)
        temporary_filing(http, psn_no)
        setl = ok(settle(beijing, psn_no, visit(beijing, psn_no, ZHAO_LEI), ZHAO_LEI,
                         [line("1", "XA01AAA0001", "1800.00")]))["setlinfo"]
        receiver.fail_next(1)  # the platform is briefly down: delivered on a later attempt
        report = outbox_service.deliver_due(db, url=receiver.url, clock=clock)
        assert (report.delivered, report.retried) == (0, 1)
        ok(beijing.call("2208", {"data": {"setl_id": setl["setl_id"],
                                          "mdtrt_id": setl["mdtrt_id"], "psn_no": psn_no}}))
        clock.now = T0 + timedelta(minutes=5)
        assert outbox_service.deliver_due(db, url=receiver.url, clock=clock).delivered == 2
        got = {key: m["payload"]["setlinfo"] for key, m in receiver.messages.items()}
        assert got[f"cost:{setl['setl_id']}"]["fund_pay_sumamt"] == "400.00"
        [cancel] = [v for k, v in got.items() if v["kind"] == "cancel"]
        assert cancel["reverses"] == setl["setl_id"] and cancel["fund_pay_sumamt"] == "-400.00"
        statuses = http.get("/admin/v1/outbox", headers=AUDITOR).json()["counts"]
        assert statuses.get("delivered") == 2 and not statuses.get("pending")
    finally:
        receiver.stop()


def test_hospitals_query_special_disease_and_referral_filings(db, his_factory, clock):
    hebei, beijing = his_factory("H13010200001"), his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    serial = ok(referral(hebei, psn_no))["result"]["trt_dcla_detl_sn"]
    ok(beijing.call("2503", {"data": {
        "psn_no": psn_no, "insutype": "310", "opsp_dise_code": "M03900",
        "opsp_dise_name": "高血压", "ide_fixmedins_no": "H11010500001",
        "ide_fixmedins_name": "示范", "hosp_ide_date": "2026-05-01", "diag_dr_codg": "D1",
        "diag_dr_name": "医生", "begndate": "2026-05-11", "enddate": "2026-12-31"}}))
    diseases = ok(beijing.call("5301", {"data": {"psn_no": psn_no}}))["feedetail"]
    assert [(d["opsp_dise_code"], d["begndate"], d["enddate"]) for d in diseases] == [
        ("M03900", "2026-05-11", "2026-12-31")]
    sent = ok(hebei.call("5304", {"data": {"psn_no": psn_no,
                                           "begntime": "2026-05-01 00:00:00"}}))["refmedin"]
    assert [(r["trt_dcla_detl_sn"], r["reflin_medins_no"], r["out_flag"]) for r in sent] == [
        (serial, "H11010500001", "1")]
    assert sent[0]["reflin_medins_name"].startswith("北京示范第一医院")
    assert ok(beijing.call("5304", {"data": {"psn_no": psn_no,
                                             "begntime": "2026-05-01 00:00:00"}}))[
        "refmedin"] == []  # only the referring hospital's own referrals


def test_a_special_disease_filing_needs_its_disease_and_a_known_institution(db, http):
    psn_no = "13010200000000000005"
    no_disease = admin_file(http, psn_no, filing_type="disease", institution="H11010500001")
    unknown = admin_file(http, psn_no, filing_type="disease", institution="H99",
                         disease_code="M03900")
    assert (no_disease["status"], no_disease["code"]) == (400, "E-FIL-008")
    assert (unknown["status"], unknown["code"]) == (400, "E-FIL-008")
    assert http.get(f"/admin/v1/persons/{psn_no}/filings", headers=AUDITOR).json() == []


def test_a_filing_made_on_29_february_may_run_ten_years(db, http, clock):
    clock.now = datetime(2028, 2, 29, 9, 30)
    psn_no = "13010200000000000005"
    longest = admin_file(http, psn_no, filing_type="resident", area="110000",
                         end_date="2038-02-28")
    assert longest["status"] == 201, longest
    too_long = admin_file(http, psn_no, filing_type="resident", area="110000",
                          end_date="2038-03-01")
    assert (too_long["status"], too_long["code"]) == (400, "E-FIL-008")
    listed = http.get(f"/admin/v1/persons/{psn_no}/filings", headers=AUDITOR).json()
    assert [(f["end_at"], f["status"]) for f in listed] == [("2038-03-01 00:00:00", "active")]


NON_ASCII_AREAS = {"full-width": "１１００００", "arabic-indic": "١١٠٠٠٠",
                   "devanagari": "११००००", "superscript": "11000²"}  # all pass str.isdigit


def filing_states(http, psn_no: str) -> list[tuple[str, str]]:
    listed = http.get(f"/admin/v1/persons/{psn_no}/filings", headers=AUDITOR).json()
    return [(f["trt_dcla_detl_sn"], f["status"]) for f in listed]


@pytest.mark.parametrize("area", NON_ASCII_AREAS.values(), ids=NON_ASCII_AREAS)
def test_an_area_code_is_six_ascii_digits_wherever_a_filing_names_one(
    db, http, his_factory, area
):
    hebei, beijing = his_factory("H13010200001"), his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    valid = admin_file(http, psn_no, filing_type="resident", area="110000")
    assert "6 ASCII digits" in refused(referral(hebei, psn_no, area=area), "E-FIL-008")
    refused(declare_injury(beijing, psn_no, area=area), "E-FIL-008")
    at_window = [admin_file(http, psn_no, filing_type=t, area=area, end_date="2026-06-30")
                 for t in ("temporary", "trauma")]
    assert [(r["status"], r["code"]) for r in at_window] == [(400, "E-FIL-008")] * 2
    assert filing_states(http, psn_no) == [(valid["trt_dcla_detl_sn"], "active")]

    app = ChannelApp(http)
    path = f"/channel/v1/certificates/{app.activate()}/filings"
    home = psn_of(beijing, WANG_FANG)
    mine = app.post(path, {"pin": "135790", "filing_type": "resident", **SIGNED, "area": "130102"})
    by_app = app.post(path, {"pin": "135790", "filing_type": "resident", **SIGNED, "area": area})
    assert (by_app.status_code, by_app.json()["code"]) == (400, "E-FIL-008")
    assert filing_states(http, home) == [(mine.json()["trt_dcla_detl_sn"], "active")]


def test_an_injury_declaration_counts_only_in_the_area_it_names(db, http, his_factory):
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    temporary_filing(http, psn_no)
    shanghai = admin_file(http, psn_no, filing_type="trauma", area="310000")
    assert shanghai["status"] == 201  # at the window a person declares for any area
    fee = [line("1", "XA01AAA0001", "100.00")]
    injured = visit(beijing, psn_no, ZHAO_LEI, med_type="19")
    message = refused(settle(beijing, psn_no, injured, ZHAO_LEI, fee, med_type="19"),
                      "E-FIL-012")
    assert shanghai["trt_dcla_detl_sn"] in message and "care is in 110000" in message
    # the Beijing hospital cannot record a declaration for care in Shanghai
    message = refused(declare_injury(beijing, psn_no, area="310000"), "E-FIL-012")
    assert "treats in 110000" in message
    assert len(filing_states(http, psn_no)) == 2 and outbox_rows(db) == []
    ok(declare_injury(beijing, psn_no))
    setl = ok(settle(beijing, psn_no, injured, ZHAO_LEI, [], med_type="19", total="100.00"))
    assert outbox_rows(db)[0]["payload"]["setlinfo"]["setl_id"] == setl["setlinfo"]["setl_id"]


def test_special_disease_care_rests_on_the_filing_made_under_the_current_relationship(
    db, his_factory, clock
):
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)

    def disease(code: str, name: str) -> str:
        return str(ok(beijing.call("2503", {"data": {
            "psn_no": psn_no, "insutype": "310", "opsp_dise_code": code,
            "opsp_dise_name": name, "ide_fixmedins_no": "H11010500001",
            "ide_fixmedins_name": "示范", "hosp_ide_date": "2026-05-01",
            "diag_dr_codg": "D1", "diag_dr_name": "医生", "begndate": "2026-05-11",
            "enddate": ""}}))["result"]["trt_dcla_detl_sn"])

    old_employer = disease("M03900", "高血压")  # found first, but no longer valid
    with db.write() as conn:
        conn.execute(update(insurance).where(insurance.c.psn_no == psn_no)
                     .values(emp_name="新单位"))
    clock.now = T0 + timedelta(minutes=1)
    current = disease("M01600", "糖尿病")
    setl = ok(settle(beijing, psn_no, visit(beijing, psn_no, ZHAO_LEI, med_type="14"),
                     ZHAO_LEI, [line("1", "XA01AAA0001", "900.00")], med_type="14"))
    [sent] = outbox_rows(db)
    assert sent["payload"]["setlinfo"]["trt_dcla_detl_sn"] == current
    assert sent["payload"]["setlinfo"]["setl_id"] == setl["setlinfo"]["setl_id"]
    withdraw = {"psn_no": psn_no, "memo": "换医院"}
    refused(beijing.call("2504", {"data": {"trt_dcla_detl_sn": current, **withdraw}}),
            "E-FIL-009")  # the settlement rests on it
    ok(beijing.call("2504", {"data": {"trt_dcla_detl_sn": old_employer, **withdraw}}))


def test_an_injury_declaration_made_under_an_earlier_relationship_does_not_count(
    db, http, his_factory
):
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    declared = ok(declare_injury(beijing, psn_no))["result"]["trt_dcla_detl_sn"]
    with db.write() as conn:
        conn.execute(update(insurance).where(insurance.c.psn_no == psn_no)
                     .values(emp_name="新单位"))
    admin_file(http, psn_no, filing_type="stationed", area="110000")  # filed again
    injured = visit(beijing, psn_no, ZHAO_LEI, med_type="19")
    message = refused(settle(beijing, psn_no, injured, ZHAO_LEI,
                             [line("1", "XA01AAA0001", "100.00")], med_type="19"), "E-FIL-006")
    assert declared in message and "(now 新单位)" in message
    assert outbox_rows(db) == []  # nothing settled
    ok(declare_injury(beijing, psn_no))  # declared again under the new relationship
    setl = ok(settle(beijing, psn_no, injured, ZHAO_LEI, [], med_type="19", total="100.00"))
    assert outbox_rows(db)[0]["payload"]["setlinfo"]["setl_id"] == setl["setlinfo"]["setl_id"]


def cancel_filing(http, psn_no: str, serial: str) -> dict:
    reply = http.post(f"/admin/v1/filings/{serial}/cancellation",
                      json={"psn_no": psn_no, "reason": "withdrawn"}, headers=CLERK)
    return {"http": reply.status_code, **reply.json()}


def test_an_injury_declaration_in_use_is_not_cancelled_until_its_settlements_are(
    db, http, his_factory, clock
):
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    clock.now = datetime(2026, 5, 10, 7, 0)  # before the admission
    temporary_filing(http, psn_no)
    declared = ok(declare_injury(beijing, psn_no))["result"]["trt_dcla_detl_sn"]
    reverse = {"data": {"psn_no": psn_no, "omsgid": beijing.last_msgid, "oinfno": "2507"}}
    clock.now = T0
    stay = admit_stay(beijing, psn_no, ZHAO_LEI, med_type="22")  # 外伤住院
    discharge(beijing, psn_no, stay, "2026-05-11 09:00:00")
    inpatient = ok(settle_stay(beijing, psn_no, stay, ZHAO_LEI, med_type="22"))["setlinfo"]
    outpatient = ok(settle(beijing, psn_no, visit(beijing, psn_no, ZHAO_LEI, med_type="19"),
                           ZHAO_LEI, [line("1", "XA01AAA0001", "100.00")],
                           med_type="19"))["setlinfo"]
    for setl, infno in ((outpatient, "2208"), (inpatient, "2305")):
        refusal = cancel_filing(http, psn_no, declared)
        assert (refusal["http"], refusal["code"]) == (409, "E-FIL-009")
        assert "live settlement" in refusal["detail"]
        refused(beijing.call("2601", reverse), "E-FIL-009")  # nor by reversing the 2507
        ok(beijing.call(infno, {"data": {"setl_id": setl["setl_id"],
                                         "mdtrt_id": setl["mdtrt_id"], "psn_no": psn_no}}))
    # both visits are unsettled again and could settle on it: cancelled first
    message = refused(beijing.call("2601", reverse), "E-FIL-009")
    assert stay in message and outpatient["mdtrt_id"] in message
    withdraw_visit(beijing, psn_no, stay, stay=True)
    withdraw_visit(beijing, psn_no, outpatient["mdtrt_id"])
    ok(beijing.call("2601", reverse))
    assert dict(filing_states(http, psn_no))[declared] == "cancelled"
    again = visit(beijing, psn_no, ZHAO_LEI, med_type="19")  # a cancelled one never counts
    refused(settle(beijing, psn_no, again, ZHAO_LEI, [line("1", "XA01AAA0001", "10.00")],
                   med_type="19"), "E-FIL-010")


def test_an_injury_settlement_and_the_cancellation_of_its_declaration_at_once(
    db, app, http, his_factory, clock
):
    """The person's lock orders them, and either way the settlement rests on the
    declaration and the cancellation is refused: first, the visit is unsettled and the
    declaration covers it; second, a live settlement uses it. Never a live settlement on
    a cancelled declaration."""
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    temporary_filing(http, psn_no)
    for _ in range(4):
        declared = ok(declare_injury(beijing, psn_no))["result"]["trt_dcla_detl_sn"]
        injured = visit(beijing, psn_no, ZHAO_LEI, med_type="19")
        answers = race_settlement_and_cancellation(db, app, beijing, clock, injured, declared)
        assert answers == ["settled", "E-FIL-009"]
        with db.read() as conn:
            [(setl_id, serial)] = conn.execute(
                select(settlement.c.setl_id, settlement.c.trum_dcla_detl_sn)
                .where(settlement.c.mdtrt_id == injured)).all()
        assert serial == declared and dict(filing_states(http, psn_no))[declared] == "active"
        # the next round starts with no declaration in force
        ok(beijing.call("2208", {"data": {"setl_id": setl_id, "mdtrt_id": injured,
                                          "psn_no": psn_no}}))
        withdraw_visit(beijing, psn_no, injured)
        assert cancel_filing(http, psn_no, declared)["http"] == 200


def race_settlement_and_cancellation(db, app, his, clock, mdtrt_id: str, serial: str, *,
                                     med_type: str = "19", stay: bool = False) -> list[str]:
    """A settlement of 赵磊's visit (2207; a discharged ``stay``: 2304) and the window's
    cancellation of his filing or declaration ``serial`` at the same moment: 'settled',
    'cancelled', or the refusal's code, in that order."""
    psn_no = psn_of(his, ZHAO_LEI)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "10.00")],
           infno="2301" if stay else "2204")
    message = json.dumps(his.envelope("2304" if stay else "2207", settle_payload(
        psn_no, mdtrt_id, ZHAO_LEI, "10.00", account=False, med_type=med_type))).encode()
    headers = his.headers()

    def settle_it() -> str:
        answer = app.state.hospital.handle(headers, message)
        return "settled" if answer["infcode"] == 0 else answer["err_msg"][:9]

    def cancel_it() -> str:
        try:
            with db.write() as conn:
                filing_service.cancel(window_call(conn, clock), serial, psn_no, "withdrawn",
                                      own_only=False)
            return "cancelled"
        except Refused as refusal:
            return refusal.code

    return run_threads(lambda work: work(), [(settle_it,), (cancel_it,)])
