"""Queries 5201-5206 after a settled outpatient visit: what the HIS reads back must be
what it was told when it settled, and only its own institution's records."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from flows import (
    LIU_YANG,
    WANG_FANG,
    amounts,
    line,
    ok,
    person,
    refused,
    register,
    settle_payload,
    upload,
)

OTHER = "H11010500002"
WINDOW = {"begntime": "2026-01-01 00:00:00", "endtime": "2026-12-31 23:59:59"}


def D(value: object) -> Decimal:
    return Decimal(str(value))


def bill() -> list[dict]:
    return [
        line("1", "XA01AAA0001", "1000.00", "2"),   # 甲: 2000.00 in scope
        line("2", "XB02BBB0002", "100.00", "3"),    # 乙 10 %: 30.00 first self-pay
        line("3", "XC03CCC0003", "20.00"),          # 丙: 20.00 fully self-paid
        line("4", "001102000010000", "80.00"),      # cap 50.00: 30.00 over the limit
    ]


def diagnoses_payload(mdtrt_id: str, psn_no: str) -> dict[str, Any]:
    def diag(srt: str, code: str, name: str) -> dict[str, str]:
        return {"diag_type": "1", "diag_srt_no": srt, "diag_code": code, "diag_name": name,
                "diag_dept": "内科", "dise_dor_no": "D001", "dise_dor_name": "医生甲",
                "diag_time": "2026-05-11 09:05:00", "vali_flag": "1"}

    return {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11",
                          "begntime": "2026-05-11 09:00:00", "main_cond_dscr": "",
                          "dise_codg": "", "dise_name": "", "birctrl_type": "",
                          "birctrl_matn_date": ""},
            "diseinfo": [diag("1", "J06.900", "急性上呼吸道感染"),
                         diag("2", "I10.x00", "特发性(原发性)高血压")]}


def settled_visit(his) -> dict[str, Any]:
    """1101 -> 2201 -> 2203 -> 2204 -> 2207 for 王芳; returns ids and the 2207 answer."""
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    ok(his.call("2203", diagnoses_payload(mdtrt_id, psn_no)))
    upload(his, mdtrt_id, psn_no, bill())
    final = ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "2400.00")))
    return {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "setl_id": final["setlinfo"]["setl_id"],
            "final": final}


def ids(v: dict[str, Any], setl_id: str | None = None) -> dict[str, Any]:
    return {"data": {"psn_no": v["psn_no"], "mdtrt_id": v["mdtrt_id"],
                     "setl_id": setl_id or v["setl_id"]}}


def cum(his, psn_no: str, cum_ym: str = "202605") -> dict[str, Decimal]:
    rows = ok(his.call("5206", {"data": {"psn_no": psn_no, "cum_ym": cum_ym}}))["cuminfo"]
    return {r["cum_type_code"]: D(r["cum"]) for r in rows}


# ------------------------------------------------------------------------- 5201


def test_5201_lists_the_visit_of_this_institution_only(his, his_factory):
    v = settled_visit(his)
    other = his_factory(OTHER)
    other_visit = register(other, v["psn_no"], WANG_FANG)

    rows = ok(his.call("5201", {"data": {"psn_no": v["psn_no"], "med_type": "11",
                                         **WINDOW}}))["mdtrtinfo"]
    assert [r["mdtrt_id"] for r in rows] == [v["mdtrt_id"]]
    r = rows[0]
    assert (r["psn_no"], r["psn_name"], r["certno"]) == (v["psn_no"], "王芳", WANG_FANG)
    assert (r["insutype"], r["med_type"]) == ("310", "11")
    assert r["begntime"] == "2026-05-11 09:00:00"
    assert (r["adm_dept_codg"], r["adm_dept_name"], r["atddr_no"]) == ("K01", "内科", "D001")

    seen_by_other = ok(other.call("5201", {"data": {"psn_no": v["psn_no"], "med_type": "11",
                                                    **WINDOW}}))["mdtrtinfo"]
    assert [r["mdtrt_id"] for r in seen_by_other] == [other_visit]


def test_5201_filters_by_time_window_and_visit(his):
    v = settled_visit(his)
    second = register(his, v["psn_no"], WANG_FANG)
    both = ok(his.call("5201", {"data": {"psn_no": v["psn_no"], **WINDOW}}))["mdtrtinfo"]
    assert sorted(r["mdtrt_id"] for r in both) == sorted([v["mdtrt_id"], second])
    one = ok(his.call("5201", {"data": {"psn_no": v["psn_no"], "mdtrt_id": second,
                                        **WINDOW}}))["mdtrtinfo"]
    assert [r["mdtrt_id"] for r in one] == [second]
    earlier = ok(his.call("5201", {"data": {
        "psn_no": v["psn_no"], "begntime": "2025-01-01 00:00:00",
        "endtime": "2025-12-31 23:59:59"}}))["mdtrtinfo"]
    assert earlier == []
    inpatient = ok(his.call("5201", {"data": {"psn_no": v["psn_no"], "med_type": "21",
                                              **WINDOW}}))["mdtrtinfo"]
    assert inpatient == []


def test_5201_does_not_list_another_persons_visits(his):
    settled_visit(his)
    liu = person(his, LIU_YANG)["baseinfo"]["psn_no"]
    assert ok(his.call("5201", {"data": {"psn_no": liu, **WINDOW}}))["mdtrtinfo"] == []


# ------------------------------------------------------------------------- 5202


def test_5202_returns_the_diagnoses_sent_with_2203(his):
    v = settled_visit(his)
    rows = ok(his.call("5202", {"data": {"mdtrt_id": v["mdtrt_id"],
                                         "psn_no": v["psn_no"]}}))["diseinfo"]
    got = [(r["diag_srt_no"], r["diag_code"], r["diag_name"], r["maindiag_flag"],
            r["diag_type"], r["mdtrt_id"], r["psn_no"]) for r in rows]
    assert got == [
        (1, "J06.900", "急性上呼吸道感染", "1", "1", v["mdtrt_id"], v["psn_no"]),
        (2, "I10.x00", "特发性(原发性)高血压", "0", "1", v["mdtrt_id"], v["psn_no"]),
    ]
    assert all(r["diag_dept"] == "内科" and r["dise_dor_no"] == "D001" for r in rows)
    assert rows[0]["diag_time"] == "2026-05-11 09:05:00"


def test_5202_after_a_second_2203_returns_only_the_new_diagnoses(his):
    v = settled_visit(his)
    mdtrt_id = register(his, v["psn_no"], WANG_FANG)
    payload = diagnoses_payload(mdtrt_id, v["psn_no"])
    ok(his.call("2203", payload))
    payload["diseinfo"] = payload["diseinfo"][1:]
    ok(his.call("2203", payload))
    rows = ok(his.call("5202", {"data": {"mdtrt_id": mdtrt_id,
                                         "psn_no": v["psn_no"]}}))["diseinfo"]
    assert [r["diag_code"] for r in rows] == ["I10.x00"]


def test_5202_of_another_institutions_visit_is_refused(his, his_factory):
    v = settled_visit(his)
    other = his_factory(OTHER)
    answer = other.call("5202", {"data": {"mdtrt_id": v["mdtrt_id"], "psn_no": v["psn_no"]}})
    refused(answer, "E-VIS-001")


# ------------------------------------------------------------------------- 5203


def test_5203_returns_the_settlement_as_2207_answered_it(his):
    v = settled_visit(his)
    final = v["final"]
    out = ok(his.call("5203", ids(v)))
    s = out["setlinfo"]
    settled = amounts(final["setlinfo"])
    assert {k: D(s[k]) for k in settled} == settled
    assert (s["setl_id"], s["mdtrt_id"], s["psn_no"]) == (v["setl_id"], v["mdtrt_id"],
                                                          v["psn_no"])
    assert s["medins_setl_id"] == final["setlinfo"]["medins_setl_id"]
    assert (s["refd_setl_flag"], s["memo"]) == ("0", "")
    assert s["fixmedins_code"] == his.code
    assert [(d["fund_pay_type"], D(d["fund_payamt"])) for d in out["setldetail"]] == [
        (d["fund_pay_type"], D(d["fund_payamt"])) for d in final["setldetail"]]
    assert D(s["medfee_sumamt"]) == D("2400") and D(s["hifob_pay"]) == D("364.00")


def test_5203_marks_a_cancelled_settlement_and_returns_the_cancellation(his):
    v = settled_visit(his)
    cancel = ok(his.call("2208", ids(v)))["setlinfo"]
    original = ok(his.call("5203", ids(v)))["setlinfo"]
    assert original["memo"] == "cancelled"
    assert original["refd_setl_flag"] == "0"
    assert D(original["fund_pay_sumamt"]) == D(v["final"]["setlinfo"]["fund_pay_sumamt"])

    record = ok(his.call("5203", ids(v, cancel["setl_id"])))
    r = record["setlinfo"]
    assert (r["setl_id"], r["refd_setl_flag"], r["memo"]) == (cancel["setl_id"], "1",
                                                              "cancelled")
    assert {k: D(r[k]) for k in amounts(cancel)} == amounts(cancel)
    assert D(r["medfee_sumamt"]) == -D("2400")
    assert [(d["fund_pay_type"], D(d["fund_payamt"])) for d in record["setldetail"]] == [
        ("330100", -D("364.00"))]


def test_5203_of_another_institutions_settlement_is_refused(his, his_factory):
    v = settled_visit(his)
    refused(his_factory(OTHER).call("5203", ids(v)), "E-SETL-002")


def test_5203_with_ids_that_do_not_belong_together_is_refused(his):
    v = settled_visit(his)
    liu = person(his, LIU_YANG)["baseinfo"]["psn_no"]
    refused(his.call("5203", {"data": {"psn_no": liu, "mdtrt_id": v["mdtrt_id"],
                                       "setl_id": v["setl_id"]}}), "E-SETL-002")
    refused(his.call("5203", ids(v, "S00000000000000000000")), "E-SETL-002")


# ------------------------------------------------------------------------- 5204


def test_5204_returns_the_settled_fee_lines(his):
    v = settled_visit(his)
    rows = ok(his.call("5204", ids(v)))["feedetail"]
    got = {r["feedetl_sn"]: r for r in rows}
    assert sorted(got) == ["1", "2", "3", "4"]
    assert all(r["setl_id"] == v["setl_id"] and r["mdtrt_id"] == v["mdtrt_id"] for r in rows)
    assert (D(got["1"]["det_item_fee_sumamt"]), D(got["1"]["inscp_scp_amt"])) == (D(2000),
                                                                                 D(2000))
    assert (D(got["2"]["preselfpay_amt"]), D(got["2"]["inscp_scp_amt"])) == (D(30), D(270))
    assert (D(got["3"]["fulamt_ownpay_amt"]), got["3"]["chrgitm_lv"]) == (D(20), "03")
    assert D(got["4"]["overlmt_amt"]) == D(30)
    assert got["1"]["med_list_codg"] == "XA01AAA0001"
    total = sum((D(r["det_item_fee_sumamt"]) for r in rows), D(0))
    assert total == D(v["final"]["setlinfo"]["medfee_sumamt"])


def test_5204_for_the_cancellation_record_returns_the_lines_it_undid(his):
    v = settled_visit(his)
    cancel_id = ok(his.call("2208", ids(v)))["setlinfo"]["setl_id"]
    rows = ok(his.call("5204", ids(v, cancel_id)))["feedetail"]
    assert sorted(r["feedetl_sn"] for r in rows) == ["1", "2", "3", "4"]
    assert all(r["setl_id"] == cancel_id for r in rows)
    # the original settlement still lists the lines it settled
    original = ok(his.call("5204", ids(v)))["feedetail"]
    assert sorted(r["feedetl_sn"] for r in original) == ["1", "2", "3", "4"]


def test_5204_lists_only_the_lines_of_that_settlement(his):
    v = settled_visit(his)
    second = register(his, v["psn_no"], WANG_FANG)
    upload(his, second, v["psn_no"], [line("9", "XA01AAA0001", "10.00")])
    s2 = ok(his.call("2207", settle_payload(v["psn_no"], second, WANG_FANG, "10.00")))
    rows = ok(his.call("5204", {"data": {"psn_no": v["psn_no"], "mdtrt_id": second,
                                         "setl_id": s2["setlinfo"]["setl_id"]}}))["feedetail"]
    assert [(r["feedetl_sn"], D(r["det_item_fee_sumamt"])) for r in rows] == [("9", D(10))]


def test_5204_of_another_institutions_settlement_is_refused(his, his_factory):
    v = settled_visit(his)
    refused(his_factory(OTHER).call("5204", ids(v)), "E-SETL-002")


# ------------------------------------------------------------------------- 5206


def test_5206_returns_the_year_accumulators_of_the_settlement(his):
    v = settled_visit(his)
    s = v["final"]["setlinfo"]
    rows = ok(his.call("5206", {"data": {"psn_no": v["psn_no"], "cum_ym": "202605"}}))[
        "cuminfo"]
    assert rows and all(r["insutype"] == "310" and str(r["year"]) == "2026"
                        and r["cum_ym"] == "202605" for r in rows)
    got = {r["cum_type_code"]: D(r["cum"]) for r in rows}
    assert got["D.emp_otp"] == D(s["act_pay_dedc"]) == D(1800)
    assert got["B.emp_otp"] == D(s["inscp_scp_amt"]) == D(2320)
    assert got["F.330100"] == D(s["hifob_pay"]) == D("364.00")


def test_5206_adds_up_two_settlements(his):
    v = settled_visit(his)
    second = register(his, v["psn_no"], WANG_FANG)
    upload(his, second, v["psn_no"], [line("1", "XA01AAA0001", "100.00")])
    s2 = ok(his.call("2207", settle_payload(v["psn_no"], second, WANG_FANG,
                                            "100.00")))["setlinfo"]
    got = cum(his, v["psn_no"])
    assert got["B.emp_otp"] == D(2420)
    assert got["F.330100"] == D("364.00") + D(s2["hifob_pay"]) == D("434.00")
    assert got["D.emp_otp"] == D(1800)


def test_5206_for_a_month_of_another_year_returns_nothing(his):
    v = settled_visit(his)
    assert cum(his, v["psn_no"], "202605")  # this year has them
    assert cum(his, v["psn_no"], "202512") == {}
    assert cum(his, v["psn_no"], "202701") == {}


def test_5206_without_cum_ym_uses_the_current_month(his):
    v = settled_visit(his)
    rows = ok(his.call("5206", {"data": {"psn_no": v["psn_no"]}}))["cuminfo"]
    assert {r["cum_ym"] for r in rows} == {"202605"}
    assert {r["cum_type_code"]: D(r["cum"]) for r in rows} == cum(his, v["psn_no"])


@pytest.mark.parametrize("cum_ym", ["2026", "202613", "2026-05", "abcdef"])
def test_5206_refuses_a_malformed_month(his, cum_ym):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    refused(his.call("5206", {"data": {"psn_no": psn_no, "cum_ym": cum_ym}}), "E-ENV-005")


def test_5206_is_the_persons_total_seen_from_any_institution(his, his_factory):
    v = settled_visit(his)
    assert cum(his_factory(OTHER), v["psn_no"]) == cum(his, v["psn_no"])
