"""A scripted HIS session: sign-in -> 1101 -> 2201 -> 2204 -> 2206 -> 2207 -> 5206 -> 2208."""

from __future__ import annotations

from decimal import Decimal

from flows import WANG_FANG, amounts, line, ok, person, register, settle_payload, upload


def test_working_employee_outpatient_at_tier3(his):
    info = person(his, WANG_FANG)
    psn_no = info["baseinfo"]["psn_no"]
    assert info["baseinfo"]["psn_name"] == "王芳"
    assert info["insuinfo"][0]["balc"] == 3000
    mdtrt_id = register(his, psn_no, WANG_FANG)
    result = upload(his, mdtrt_id, psn_no, [
        line("1", "XA01AAA0001", "1000.00", "2"),      # 甲 2000.00 in scope
        line("2", "XB02BBB0002", "100.00", "3"),       # 乙 300.00: 30.00 first self-pay
        line("3", "XC03CCC0003", "20.00"),             # 丙 20.00 fully self-paid
        line("4", "001102000010000", "80.00"),         # cap 50.00: 30.00 over the limit
        line("5", "UNKNOWN0001", "5.00"),              # not in catalogue: self-paid
    ])
    by_sn = {r["feedetl_sn"]: r for r in result}
    assert by_sn["2"]["preselfpay_amt"] == 30 and by_sn["2"]["inscp_scp_amt"] == 270
    assert by_sn["3"]["fulamt_ownpay_amt"] == 20 and by_sn["3"]["chrgitm_lv"] == "03"
    assert by_sn["4"]["overlmt_amt"] == 30 and by_sn["4"]["inscp_scp_amt"] == 50
    assert by_sn["5"]["fulamt_ownpay_amt"] == 5
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "2405.00")
    pre = ok(his.call("2206", payload))["setlinfo"]
    final = ok(his.call("2207", payload))["setlinfo"]
    assert amounts(pre) == {k: v for k, v in amounts(final).items()}
    # in scope 2000 + 270 + 50 = 2320; deductible 1800 (annual); 520 x 70 % = 364.00
    assert Decimal(str(final["inscp_scp_amt"])) == Decimal("2320")
    assert Decimal(str(final["act_pay_dedc"])) == Decimal("1800")
    assert Decimal(str(final["hifob_pay"])) == Decimal("364")
    assert Decimal(str(final["fund_pay_sumamt"])) == Decimal("364")
    assert Decimal(str(final["psn_part_amt"])) == Decimal("2041")
    assert Decimal(str(final["acct_pay"])) == Decimal("2041")
    assert Decimal(str(final["balc"])) == Decimal("959")
    cum = ok(his.call("5206", {"data": {"psn_no": psn_no, "cum_ym": "202605"}}))
    assert cum
