"""An inpatient stay end to end: 2401 -> 2301 (with a refund line) -> 2303 -> 2304 interim
-> 2301 -> 2402 -> 2304 final -> 5206 -> 2305, and the order rules around them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from flows import (
    LI_JIANGUO,
    LIU_YANG,
    WANG_FANG,
    admit,
    line,
    ok,
    person,
    refused,
    settle_payload,
    upload,
)


def D(value: object) -> Decimal:
    return Decimal(str(value))


def discharge(his, mdtrt_id: str, psn_no: str) -> None:
    ok(his.call("2402", {"dscginfo": {
        "mdtrt_id": mdtrt_id, "psn_no": psn_no, "insutype": "310",
        "endtime": "2026-05-10 10:00:00", "dise_codg": "J18.9", "dise_name": "肺炎",
        "dscg_way": "1"}, "diseinfo": []}))


def settle(his, psn_no, mdtrt_id, certno, medfee, *, interim=False, infno="2304",
           insutype="310"):
    payload = settle_payload(psn_no, mdtrt_id, certno, medfee, interim=interim,
                             med_type="21", insutype=insutype)
    return his.call(infno, payload)


def cum(his, psn_no) -> dict[str, Decimal]:
    out = ok(his.call("5206", {"data": {"psn_no": psn_no, "cum_ym": "202605"}}))["cuminfo"]
    return {c["cum_type_code"]: D(c["cum"]) for c in out}


def cancel(his, setl_id, mdtrt_id, psn_no):
    return his.call("2305", {"data": {"mdtrt_id": mdtrt_id, "setl_id": setl_id,
                                      "psn_no": psn_no}})


def test_stay_with_refund_interim_and_final_settlement(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = admit(his, psn_no, WANG_FANG)
    result = upload(his, mdtrt_id, psn_no, [
        line("1", "XA01AAA0001", "10000.00", "3"),
        line("2", "C01010101001", "1000.00"),
    ], infno="2301")
    assert D(result[1]["preselfpay_amt"]) == D(200)
    refund = line("3", "XA01AAA0001", "10000.00", "-1", init="1")
    assert D(upload(his, mdtrt_id, psn_no, [refund], infno="2301")[0]["inscp_scp_amt"]) == -10000

    pre = ok(settle(his, psn_no, mdtrt_id, WANG_FANG, "21000.00", interim=True, infno="2303"))
    interim = ok(settle(his, psn_no, mdtrt_id, WANG_FANG, "21000.00", interim=True))
    assert pre["setlinfo"]["hifp_pay"] == interim["setlinfo"]["hifp_pay"]
    s1 = interim["setlinfo"]
    # in scope 30000 - 10000 + 800 = 20800; deductible 1300; 19500 x 85 %
    assert (D(s1["inscp_scp_amt"]), D(s1["act_pay_dedc"])) == (D(20800), D(1300))
    assert D(s1["hifp_pay"]) == D("16575.00") and s1["mid_setl_flag"] == "1"

    upload(his, mdtrt_id, psn_no, [line("4", "XA01AAA0001", "10000.00", "3")], infno="2301")
    discharge(his, mdtrt_id, psn_no)
    s2 = ok(settle(his, psn_no, mdtrt_id, WANG_FANG, "30000.00"))["setlinfo"]
    # stay cumulative 20800 -> 50800: 9200 x 85 % + 10000 x 90 % + 10800 x 95 %, no deductible
    assert D(s2["act_pay_dedc"]) == 0
    assert D(s2["hifp_pay"]) == D("7820.00") + D("9000.00") + D("10260.00")
    # the two settlements together equal one settlement of the whole stay (50 800 in scope)
    assert D(s1["hifp_pay"]) + D(s2["hifp_pay"]) == D("24395") + D("9000") + D("10260")

    history = cum(his, psn_no)
    assert history["S.emp_ipt"] == 1
    assert history["F.310100"] == D("43655.00")

    refused(cancel(his, s1["setl_id"], mdtrt_id, psn_no), "E-SETL-004")
    refused(his.call("2405", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}), "E-SETL-005")
    ok(cancel(his, s2["setl_id"], mdtrt_id, psn_no))
    ok(cancel(his, s1["setl_id"], mdtrt_id, psn_no))
    refused(cancel(his, s1["setl_id"], mdtrt_id, psn_no), "E-SETL-003")
    assert all(value == 0 for value in cum(his, psn_no).values())
    assert D(person(his, WANG_FANG)["insuinfo"][0]["balc"]) == D(3000)


def test_final_settlement_before_the_discharge_message(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = admit(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "10000.00", "5")], infno="2301")
    s = ok(settle(his, psn_no, mdtrt_id, WANG_FANG, "50000.00"))["setlinfo"]
    assert (D(s["hifp_pay"]), D(s["psn_part_amt"])) == (D("42895.00"), D("7105.00"))
    discharge(his, mdtrt_id, psn_no)  # accepted after the final settlement
    refused(settle(his, psn_no, mdtrt_id, WANG_FANG, "0.00"), "E-SETL-005")
    more = his.call("2301", {"feedetail": [dict(line("9", "XA01AAA0001", "1.00"),
                                                mdtrt_id=mdtrt_id, psn_no=psn_no)]})
    refused(more, "E-VIS-002")


def test_second_stay_of_the_year_has_the_lower_deductible(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    for expected_deductible, expected_fund in (("1300", "7395.00"), ("650", "7947.50")):
        mdtrt_id = admit(his, psn_no, WANG_FANG)
        upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "10000.00")], infno="2301")
        discharge(his, mdtrt_id, psn_no)
        s = ok(settle(his, psn_no, mdtrt_id, WANG_FANG, "10000.00"))["setlinfo"]
        assert D(s["act_pay_dedc"]) == D(expected_deductible)
        assert D(s["hifp_pay"]) == D(expected_fund)
    assert cum(his, psn_no)["S.emp_ipt"] == 2


@pytest.mark.parametrize(
    ("certno", "hospital", "insutype", "amount", "fund_field", "fund"),
    [
        (LI_JIANGUO, "H11010500002", "310", "35000.00", "hifp_pay", "31221.40"),
        # resident, tier 3: deductible 1300, 75 %; critical illness below its deductible
        (LIU_YANG, "H11010500001", "390", "10000.00", "hifp_pay", "6525.00"),
    ],
)
def test_first_stay_by_person_type(his_factory, certno, hospital, insutype, amount, fund_field,
                                   fund):
    his = his_factory(hospital)
    psn_no = person(his, certno)["baseinfo"]["psn_no"]
    mdtrt_id = admit(his, psn_no, certno, insutype)
    count = str(int(D(amount) / 1000))
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "1000.00", count)], infno="2301")
    s = ok(settle(his, psn_no, mdtrt_id, certno, amount, insutype=insutype))["setlinfo"]
    assert D(s[fund_field]) == D(fund)
    assert D(s["psn_part_amt"]) == D(amount) - D(fund)


def test_admission_cancel_and_discharge_cancel(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = admit(his, psn_no, WANG_FANG)
    discharge(his, mdtrt_id, psn_no)
    ok(his.call("2405", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}))
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "10.00")], infno="2301")
    refused(his.call("2404", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}), "E-VIS-002")
    ok(his.call("2302", {"data": {"mdtrt_id": mdtrt_id, "feedetl_sn": "0000",
                                  "psn_no": psn_no}}))
    ok(his.call("2404", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}))
    refused(settle(his, psn_no, mdtrt_id, WANG_FANG, "10.00"), "E-VIS-002")


def test_outpatient_and_inpatient_transactions_do_not_mix(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = admit(his, psn_no, WANG_FANG)
    wrong = his.call("2204", {"feedetail": [dict(line("1", "XA01AAA0001", "10.00"),
                                                 mdtrt_id=mdtrt_id, psn_no=psn_no)]})
    refused(wrong, "E-VIS-003")


def test_a_refunded_line_cannot_be_cancelled_alone(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = admit(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00", "2"),
                                   line("2", "XA01AAA0001", "100.00", "-1", init="1")],
           infno="2301")
    one = his.call("2302", {"data": {"mdtrt_id": mdtrt_id, "feedetl_sn": "1", "psn_no": psn_no}})
    assert "refunded by 2" in refused(one, "E-FEE-006")
    ok(his.call("2302", {"data": {"mdtrt_id": mdtrt_id, "feedetl_sn": "2", "psn_no": psn_no}}))
    ok(his.call("2302", {"data": {"mdtrt_id": mdtrt_id, "feedetl_sn": "1", "psn_no": psn_no}}))
