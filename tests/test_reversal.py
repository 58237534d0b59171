"""2601 reversal (冲正): the HIS undoes a message whose answer it never saw, by msgid."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from flows import (
    LIU_YANG,
    WANG_FANG,
    admit,
    line,
    ok,
    person,
    refused,
    register,
    settle_payload,
    upload,
)

OTHER = "H11010500002"


def D(value: object) -> Decimal:
    return Decimal(str(value))


def reverse(his, psn_no: str, omsgid: str, oinfno: str) -> dict[str, Any]:
    return his.call("2601", {"data": {"psn_no": psn_no, "omsgid": omsgid, "oinfno": oinfno}})


def rslt(answer: dict[str, Any]) -> str:
    return str(ok(answer)["data"]["rslt"])


def balance(his, certno: str = WANG_FANG) -> Decimal:
    return D(person(his, certno)["insuinfo"][0]["balc"])


def cum(his, psn_no: str) -> dict[str, Decimal]:
    rows = ok(his.call("5206", {"data": {"psn_no": psn_no, "cum_ym": "202605"}}))["cuminfo"]
    return {r["cum_type_code"]: D(r["cum"]) for r in rows if D(r["cum"]) != 0}


def settle(his, psn_no: str, price: str, sn: str = "1") -> tuple[str, dict[str, Any], str]:
    """A visit with one 甲 line, settled; returns mdtrt_id, setlinfo and the 2207 msgid."""
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line(sn, "XA01AAA0001", price)])
    s = ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, price)))["setlinfo"]
    return mdtrt_id, s, his.last_msgid


def query_setl(his, psn_no: str, mdtrt_id: str, setl_id: str) -> dict[str, Any]:
    data = {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "setl_id": setl_id}
    return dict(ok(his.call("5203", {"data": data}))["setlinfo"])


def visit_row(his, psn_no: str, mdtrt_id: str) -> dict[str, Any]:
    rows = ok(his.call("5201", {"data": {
        "psn_no": psn_no, "mdtrt_id": mdtrt_id, "begntime": "2026-01-01 00:00:00",
        "endtime": "2026-12-31 23:59:59"}}))["mdtrtinfo"]
    assert len(rows) == 1
    return dict(rows[0])


# ------------------------------------------------------------------- settlement


def test_reversing_a_settlement_cancels_it(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    settle(his, psn_no, "2000.00")                     # kept: accumulators non-zero
    balance_before, cum_before = balance(his), cum(his, psn_no)
    assert cum_before and balance_before < D(3000)

    mdtrt_id, s, msgid = settle(his, psn_no, "300.00", sn="7")
    assert D(s["acct_pay"]) > 0 and balance(his) == balance_before - D(s["acct_pay"])
    assert cum(his, psn_no) != cum_before

    result = rslt(reverse(his, psn_no, msgid, "2207"))
    assert "reversed" in result and "already" not in result and s["setl_id"] in result
    assert balance(his) == balance_before
    assert cum(his, psn_no) == cum_before
    info = query_setl(his, psn_no, mdtrt_id, s["setl_id"])
    assert info["memo"] == "cancelled"
    # a cancelled settlement cannot be cancelled a second time by 2208
    refused(his.call("2208", {"data": {"setl_id": s["setl_id"], "mdtrt_id": mdtrt_id,
                                       "psn_no": psn_no}}), "E-SETL-003")


def test_after_reversing_a_settlement_the_visit_can_be_settled_again(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id, s, msgid = settle(his, psn_no, "300.00")
    ok(reverse(his, psn_no, msgid, "2207"))
    again = ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "300.00")))
    assert again["setlinfo"]["setl_id"] != s["setl_id"]
    assert D(again["setlinfo"]["fund_pay_sumamt"]) == D(s["fund_pay_sumamt"])
    assert balance(his) == D(3000) - D(again["setlinfo"]["acct_pay"])


def test_the_reversed_message_cannot_be_resent(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "300.00")])
    message = his.envelope("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "300.00"))
    assert his.send(message)["infcode"] == 0
    ok(reverse(his, psn_no, message["msgid"], "2207"))
    refused(his.send(message), "E-MSG-003")
    assert balance(his) == D(3000)


def test_reversing_with_another_persons_psn_no_is_refused(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    _, s, msgid = settle(his, psn_no, "300.00")
    liu = person(his, LIU_YANG)["baseinfo"]["psn_no"]
    refused(reverse(his, liu, msgid, "2207"), "E-VIS-004")
    assert balance(his) == D(3000) - D(s["acct_pay"])


# ------------------------------------------------------------ never arrived


def test_reversing_a_message_that_never_arrived_blocks_its_msgid(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    lost = his.next_msgid()
    result = rslt(reverse(his, psn_no, lost, "2201"))
    assert "nothing" in result and not result.startswith("reversed")

    late = his.envelope("2201", {"data": {
        "psn_no": psn_no, "insutype": "310", "begntime": "2026-05-11 09:00:00",
        "mdtrt_cert_type": "02", "mdtrt_cert_no": WANG_FANG, "ipt_otp_no": "OP1",
        "atddr_no": "D001", "dr_name": "医生甲", "dept_code": "K01", "dept_name": "内科",
        "caty": "A03"}}, msgid=lost)
    refused(his.send(late), "E-MSG-003")
    rows = ok(his.call("5201", {"data": {"psn_no": psn_no, "begntime": "2026-01-01 00:00:00",
                                         "endtime": "2026-12-31 23:59:59"}}))["mdtrtinfo"]
    assert rows == []
    register(his, psn_no, WANG_FANG)  # a new msgid works


def test_a_lost_settlement_reversed_before_it_arrives_never_takes_effect(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "300.00")])
    message = his.envelope("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "300.00"))
    assert "nothing" in rslt(reverse(his, psn_no, message["msgid"], "2207"))
    refused(his.send(message), "E-MSG-003")
    assert balance(his) == D(3000) and cum(his, psn_no) == {}


def test_another_institution_cannot_reverse_my_message(his, his_factory):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id, s, msgid = settle(his, psn_no, "300.00")
    other = his_factory(OTHER)
    assert "nothing" in rslt(reverse(other, psn_no, msgid, "2207"))
    assert query_setl(his, psn_no, mdtrt_id, s["setl_id"])["memo"] == ""
    assert balance(his) == D(3000) - D(s["acct_pay"])


# ------------------------------------------------------------ visit and upload


def test_reversing_a_registration_cancels_the_visit(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    msgid = his.last_msgid
    assert visit_row(his, psn_no, mdtrt_id)["memo"] == "open"
    assert "reversed" in rslt(reverse(his, psn_no, msgid, "2201"))
    assert visit_row(his, psn_no, mdtrt_id)["memo"] == "cancelled"
    item = line("1", "XA01AAA0001", "10.00")
    item.update(mdtrt_id=mdtrt_id, psn_no=psn_no)
    refused(his.call("2204", {"feedetail": [item]}), "E-VIS-002")


def test_reversing_an_upload_withdraws_its_lines(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00"),
                                   line("2", "XB02BBB0002", "50.00")])
    assert "reversed" in rslt(reverse(his, psn_no, his.last_msgid, "2204"))
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "150.00")
    refused(his.call("2206", payload), "E-FEE-004")
    # the same line numbers may be uploaded again
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "40.00")])
    pre = ok(his.call("2206", settle_payload(psn_no, mdtrt_id, WANG_FANG, "40.00")))
    assert D(pre["setlinfo"]["medfee_sumamt"]) == D(40)


def test_reversing_one_upload_keeps_the_other_uploads(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00")])
    upload(his, mdtrt_id, psn_no, [line("2", "XA01AAA0001", "70.00")])
    ok(reverse(his, psn_no, his.last_msgid, "2204"))
    s = ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "100.00")))
    assert D(s["setlinfo"]["medfee_sumamt"]) == D(100)


def test_reversing_an_upload_whose_lines_are_settled_is_refused(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00")])
    upload_msgid = his.last_msgid
    ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "100.00")))
    refused(reverse(his, psn_no, upload_msgid, "2204"), "E-REV-002")


# --------------------------------------------------------------- refusals


def test_reversing_twice_says_already_reversed(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    _, _, msgid = settle(his, psn_no, "300.00")
    first = rslt(reverse(his, psn_no, msgid, "2207"))
    second = rslt(reverse(his, psn_no, msgid, "2207"))
    assert "already reversed" in second and "already" not in first
    assert balance(his) == D(3000)  # refunded once, not twice


def test_retrying_the_same_2601_message_gives_the_same_answer(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    _, _, msgid = settle(his, psn_no, "300.00")
    message = his.envelope("2601", {"data": {"psn_no": psn_no, "omsgid": msgid,
                                             "oinfno": "2207"}})
    first, again = his.send(message), his.send(message)
    assert first["infcode"] == 0 and again["output"] == first["output"]
    assert "already" not in again["output"]["data"]["rslt"]


def test_wrong_oinfno_is_refused_and_changes_nothing(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id, s, msgid = settle(his, psn_no, "300.00")
    refused(reverse(his, psn_no, msgid, "2201"), "E-REV-001")
    assert query_setl(his, psn_no, mdtrt_id, s["setl_id"])["memo"] == ""
    # the refusal was not remembered: the right oinfno still reverses
    assert "reversed" in rslt(reverse(his, psn_no, msgid, "2207"))


def test_reversing_a_cancellation_is_refused(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id, s, _ = settle(his, psn_no, "300.00")
    ok(his.call("2208", {"data": {"setl_id": s["setl_id"], "mdtrt_id": mdtrt_id,
                                  "psn_no": psn_no}}))
    cancel_msgid = his.last_msgid
    refused(reverse(his, psn_no, cancel_msgid, "2208"), "E-REV-002")
    assert query_setl(his, psn_no, mdtrt_id, s["setl_id"])["memo"] == "cancelled"
    assert balance(his) == D(3000)


def test_a_2601_cannot_reverse_itself(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    msgid = his.next_msgid()
    answer = his.call("2601", {"data": {"psn_no": psn_no, "omsgid": msgid,
                                        "oinfno": "2601"}}, msgid=msgid)
    refused(answer, "E-REV-002")


def test_reversing_a_sign_in_ends_it(his_factory):
    his = his_factory()
    signin_msgid = his.last_msgid
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    ok(reverse(his, psn_no, signin_msgid, "9001"))
    refused(his.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": WANG_FANG,
                                       "psn_cert_type": "01", "certno": WANG_FANG}}),
            "E-AUTH-007")


def test_reversing_a_discharge_reopens_the_stay(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = admit(his, psn_no, WANG_FANG)
    ok(his.call("2402", {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no,
                                      "endtime": "2026-05-10 10:00:00", "dscg_way": "1"}}))
    discharge_msgid = his.last_msgid
    assert visit_row(his, psn_no, mdtrt_id)["memo"] == "discharged"
    assert "reversed" in rslt(reverse(his, psn_no, discharge_msgid, "2402"))
    row = visit_row(his, psn_no, mdtrt_id)
    assert (row["memo"], row["endtime"]) == ("open", "")


# ------------------------------------------------------------ edge cases found in review


@pytest.mark.parametrize("oinfno", ["1101", "2206"])
def test_reversing_a_query_is_refused(his, oinfno):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    if oinfno == "2206":
        mdtrt_id = register(his, psn_no, WANG_FANG)
        upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00")])
        ok(his.call("2206", settle_payload(psn_no, mdtrt_id, WANG_FANG, "100.00")))
    refused(reverse(his, psn_no, his.last_msgid, oinfno), "E-REV-002")


def test_reversing_an_upload_whose_line_was_refunded_leaves_no_orphan_refund(his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = admit(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00", "2")], infno="2301")
    first = his.last_msgid
    upload(his, mdtrt_id, psn_no, [line("2", "XA01AAA0001", "100.00", "-1", init="1")],
           infno="2301")
    answer = reverse(his, psn_no, first, "2301")
    if answer["infcode"] != 0:  # refusing the reversal is acceptable
        refused(answer, "E-REV-002")
        expected = "100.00"
    else:  # so is withdrawing the refund with its original
        upload(his, mdtrt_id, psn_no, [line("3", "XA01AAA0001", "50.00")], infno="2301")
        expected = "50.00"
    pre = ok(his.call("2303", settle_payload(psn_no, mdtrt_id, WANG_FANG, expected,
                                             med_type="21")))
    assert D(pre["setlinfo"]["medfee_sumamt"]) == D(expected)
