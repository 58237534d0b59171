"""A scripted HIS session for every demo person at every hospital level:
sign-in -> 1101 -> 2201 -> 2204 -> 2206 -> 2207 -> 5206 -> 2208 -> 5206, checking every amount."""

from __future__ import annotations

from decimal import Decimal

import pytest

from flows import (
    LI_JIANGUO,
    LIU_YANG,
    WANG_FANG,
    ZHANG_DEMING,
    ZHAO_LEI,
    line,
    ok,
    person,
    refused,
    register,
    settle_payload,
    upload,
)

HOSPITALS = {1: "H11010500003", 2: "H11010500002", 3: "H11010500001"}
# person: (certno, insutype, account balance, annual deductible by level, ratio by level)
PEOPLE = {
    "王芳": (WANG_FANG, "310", "3000", {1: "1800", 2: "1800", 3: "1800"},
             {1: "0.90", 2: "0.70", 3: "0.70"}),
    "李建国": (LI_JIANGUO, "310", "5000", {1: "1300", 2: "1300", 3: "1300"},
               {1: "0.90", 2: "0.85", 3: "0.85"}),
    "张德明": (ZHANG_DEMING, "310", "8000", {1: "1300", 2: "1300", 3: "1300"},
               {1: "0.90", 2: "0.90", 3: "0.90"}),
    "刘洋": (LIU_YANG, "390", "0", {1: "100", 2: "550", 3: "550"},
             {1: "0.55", 2: "0.50", 3: "0.50"}),
}
FUND_FIELD = {"310": ("hifob_pay", "330100"), "390": ("hifp_pay", "390100")}


def bill() -> list[dict]:
    return [
        line("1", "XA01AAA0001", "1000.00", "2"),   # 甲: 2000.00 in scope
        line("2", "XB02BBB0002", "100.00", "3"),    # 乙 10 %: 30.00 first self-pay, 270.00
        line("3", "XC03CCC0003", "20.00"),          # 丙: 20.00 fully self-paid
        line("4", "001102000010000", "80.00"),      # cap 50.00: 30.00 over the limit
    ]


def D(value: object) -> Decimal:
    return Decimal(str(value))


@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize("name", list(PEOPLE))
def test_first_outpatient_visit_of_the_year(his_factory, name, level):
    certno, insutype, balance, deductibles, ratios = PEOPLE[name]
    his = his_factory(HOSPITALS[level])
    info = person(his, certno)
    psn_no = info["baseinfo"]["psn_no"]
    assert info["baseinfo"]["psn_name"] == name
    assert [i["insutype"] for i in info["insuinfo"]] == [insutype]
    assert D(info["insuinfo"][0]["balc"]) == D(balance)

    mdtrt_id = register(his, psn_no, certno, insutype)
    lines = {r["feedetl_sn"]: r for r in upload(his, mdtrt_id, psn_no, bill())}
    assert (D(lines["1"]["inscp_scp_amt"]), lines["1"]["chrgitm_lv"]) == (D(2000), "01")
    assert (D(lines["2"]["preselfpay_amt"]), D(lines["2"]["inscp_scp_amt"])) == (D(30), D(270))
    assert D(lines["2"]["selfpay_prop"]) == D("0.10")
    assert (D(lines["3"]["fulamt_ownpay_amt"]), lines["3"]["chrgitm_lv"]) == (D(20), "03")
    assert (D(lines["4"]["overlmt_amt"]), D(lines["4"]["pric_uplmt_amt"])) == (D(30), D(50))

    payload = settle_payload(psn_no, mdtrt_id, certno, "2400.00", insutype=insutype)
    pre = ok(his.call("2206", payload))
    final = ok(his.call("2207", payload))
    volatile = {"setl_id": "", "medins_setl_id": ""}
    assert pre["setlinfo"] | volatile == final["setlinfo"] | volatile
    s = final["setlinfo"]

    in_scope, deductible = D(2320), D(deductibles[level])
    fund = ((in_scope - deductible) * D(ratios[level])).quantize(D("0.01"))
    person_part = D(2400) - fund
    account = min(D(balance), person_part)
    field, fund_code = FUND_FIELD[insutype]
    assert (D(s["medfee_sumamt"]), D(s["inscp_scp_amt"])) == (D(2400), in_scope)
    assert (D(s["fulamt_ownpay_amt"]), D(s["overlmt_selfpay"])) == (D(20), D(30))
    assert D(s["preselfpay_amt"]) == D(30)
    assert D(s["act_pay_dedc"]) == deductible
    assert D(s[field]) == fund and D(s["fund_pay_sumamt"]) == fund
    assert D(s["psn_part_amt"]) == person_part
    assert (D(s["acct_pay"]), D(s["psn_cash_pay"])) == (account, person_part - account)
    assert D(s["balc"]) == D(balance) - account
    assert [(d["fund_pay_type"], D(d["fund_payamt"])) for d in final["setldetail"]] == [
        (fund_code, fund)]

    stage = "emp_otp" if insutype == "310" else "res_otp"
    cum = {c["cum_type_code"]: D(c["cum"]) for c in ok(
        his.call("5206", {"data": {"psn_no": psn_no, "cum_ym": "202605"}}))["cuminfo"]}
    assert cum[f"D.{stage}"] == deductible
    assert cum[f"B.{stage}"] == in_scope
    assert cum[f"F.{fund_code}"] == fund

    cancel = ok(his.call("2208", {"data": {"setl_id": s["setl_id"], "mdtrt_id": mdtrt_id,
                                          "psn_no": psn_no}}))["setlinfo"]
    assert D(cancel["fund_pay_sumamt"]) == -fund and D(cancel["acct_pay"]) == -account
    assert D(cancel["balc"]) == D(balance)
    after = ok(his.call("5206", {"data": {"psn_no": psn_no, "cum_ym": "202605"}}))["cuminfo"]
    assert all(D(c["cum"]) == 0 for c in after)
    assert D(person(his, certno)["insuinfo"][0]["balc"]) == D(balance)


def test_second_visit_uses_what_is_left_of_the_deductible(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    first = register(his, psn_no, WANG_FANG)
    upload(his, first, psn_no, [line("1", "XA01AAA0001", "1000.00")])
    s1 = ok(his.call("2207", settle_payload(psn_no, first, WANG_FANG, "1000.00")))["setlinfo"]
    assert (D(s1["act_pay_dedc"]), D(s1["fund_pay_sumamt"])) == (D(1000), D(0))
    second = register(his, psn_no, WANG_FANG)
    upload(his, second, psn_no, [line("1", "XA01AAA0001", "2000.00")])
    s2 = ok(his.call("2207", settle_payload(psn_no, second, WANG_FANG, "2000.00")))["setlinfo"]
    assert D(s2["act_pay_dedc"]) == D(800)
    assert D(s2["hifob_pay"]) == D("840.00")  # 1200 x 70 %


def test_cash_only_when_the_account_is_not_used(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00")])
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "100.00", account=False)
    s = ok(his.call("2207", payload))["setlinfo"]
    assert (D(s["acct_pay"]), D(s["psn_cash_pay"]), D(s["balc"])) == (D(0), D(100), D(3000))


def test_card_and_id_number_settle_the_same_person(his):
    by_card = ok(his.call("1101", {"data": {
        "mdtrt_cert_type": "03", "mdtrt_cert_no": "BJ0000000001", "card_sn": "SN0000000001",
        "psn_cert_type": "", "certno": "", "psn_name": ""}}))
    assert by_card["baseinfo"]["psn_no"] == person(his, WANG_FANG)["baseinfo"]["psn_no"]
    wrong_sn = his.call("1101", {"data": {
        "mdtrt_cert_type": "03", "mdtrt_cert_no": "BJ0000000001", "card_sn": "SN9"}})
    refused(wrong_sn, "E-PSN-004")


def test_person_insured_elsewhere_without_filing_is_refused_with_what_to_do(his):
    psn_no = person(his, ZHAO_LEI)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, ZHAO_LEI)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00")])
    message = refused(his.call("2207", settle_payload(psn_no, mdtrt_id, ZHAO_LEI, "100.00")),
                      "E-FIL-002")
    assert "130102" in message and "file" in message and "manual reimbursement" in message
