"""Person info (1101), entitlement (2001), suspended insurance and card states."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import update

from flows import LIU_YANG, WANG_FANG, line, ok, person, refused, register, settle_payload, upload
from yibao.store.schema import card, insurance


def entitlement(his, psn_no: str, insutype: str = "310", med_type: str = "11") -> list[dict]:
    return list(ok(his.call("2001", {"data": {
        "psn_no": psn_no, "insutype": insutype, "fixmedins_code": his.code,
        "med_type": med_type, "begntime": "2026-05-11 09:00:00", "endtime": "null",
        "dise_codg": "", "dise_name": ""}}))["trtinfo"])


def test_entitlement_lists_the_funds_of_the_scheme(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    outpatient = entitlement(his, psn_no)
    assert [(t["fund_pay_type"], t["trt_enjymnt_flag"]) for t in outpatient] == [("330100", "1")]
    inpatient = entitlement(his, psn_no, med_type="21")
    assert [t["fund_pay_type"] for t in inpatient] == ["310100"]
    resident = person(his, LIU_YANG)["baseinfo"]["psn_no"]
    assert [t["fund_pay_type"] for t in entitlement(his, resident, "390", "21")] == [
        "390100", "390200"]


def test_suspended_insurance_is_refused_with_its_reason(db, his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "10.00")])
    with db.write() as conn:
        conn.execute(update(insurance).where(insurance.c.psn_no == psn_no)
                     .values(psn_insu_stas="2"))
    assert entitlement(his, psn_no)[0]["trt_enjymnt_flag"] == "0"
    refused(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "10.00")), "E-PSN-002")
    assert person(his, WANG_FANG)["insuinfo"][0]["psn_insu_stas"] == "2"


def test_a_lost_card_is_refused_at_once(db, his):
    with db.write() as conn:
        conn.execute(update(card).where(card.c.card_no == "BJ0000000001").values(status="lost"))
    answer = his.call("1101", {"data": {"mdtrt_cert_type": "03", "mdtrt_cert_no": "BJ0000000001",
                                        "card_sn": "SN0000000001"}})
    assert "lost" in refused(answer, "E-PSN-004")


def test_name_must_match_when_sent(his):
    answer = his.call("1101", {"data": {"mdtrt_cert_type": "02",
                                        "mdtrt_cert_no": WANG_FANG, "psn_name": "李四"}})
    refused(answer, "E-PSN-005")


def test_unknown_person(his):
    answer = his.call("1101", {"data": {"mdtrt_cert_type": "02",
                                        "mdtrt_cert_no": "110105199001010000"}})
    refused(answer, "E-PSN-001")


def test_pharmacy_purchase_is_paid_by_the_account(his_factory):
    pharmacy = his_factory("P11010500001")
    psn_no = person(pharmacy, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(pharmacy, psn_no, WANG_FANG)
    upload(pharmacy, mdtrt_id, psn_no, [line("1", "XB02BBB0002", "50.00", "2")])
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "100.00", med_type="41")
    s = ok(pharmacy.call("2207", payload))["setlinfo"]
    assert Decimal(str(s["fund_pay_sumamt"])) == 0
    assert Decimal(str(s["acct_pay"])) == 100
    assert s["clr_type"] == "41"
