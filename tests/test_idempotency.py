"""Idempotency by (fixmedins_code, msgid): a retry of a state-changing message gets the
first answer back and changes nothing; a reused msgid with another body is refused; a
refused message is not remembered; another institution's msgids are its own."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from flows import (
    LIU_YANG,
    WANG_FANG,
    line,
    ok,
    person,
    refused,
    register,
    settle_payload,
    upload,
)
from yibao.client import HisClient
from yibao.store.schema import metadata, settlement, visit

OTHER = "H11010500002"
MSGID = "H11010500001202605110930009999"


def D(value: object) -> Decimal:
    return Decimal(str(value))


def snapshot(db) -> dict[str, list[str]]:
    with db.read() as conn:
        return {
            t.name: sorted(repr(tuple(r)) for r in conn.execute(select(t)))
            for t in metadata.sorted_tables if t.name not in ("gateway_nonce", "refusal_count")
        }


def count(db, table) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def balance(his: HisClient, certno: str = WANG_FANG) -> Decimal:
    return D(person(his, certno)["insuinfo"][0]["balc"])


def cum(his: HisClient, psn_no: str) -> dict[str, Decimal]:
    rows = ok(his.call("5206", {"data": {"psn_no": psn_no, "cum_ym": "202605"}}))["cuminfo"]
    return {f'{r["insutype"]}/{r["year"]}/{r["cum_type_code"]}': D(r["cum"]) for r in rows}


def ready_visit(his: HisClient, price: str = "2000.00") -> tuple[str, str]:
    """Wang Fang's visit with one 甲 line uploaded; returns psn_no, mdtrt_id."""
    psn_no = str(person(his, WANG_FANG)["baseinfo"]["psn_no"])
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", price)])
    return psn_no, mdtrt_id


def registration(psn_no: str, certno: str, insutype: str, otp: str = "OP1") -> dict[str, Any]:
    return {"data": {
        "psn_no": psn_no, "insutype": insutype, "begntime": "2026-05-11 09:00:00",
        "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "ipt_otp_no": otp,
        "atddr_no": "D001", "dr_name": "医生甲", "dept_code": "K01", "dept_name": "内科",
        "caty": "A03"}}


# ---------------------------------------------------------------- same msgid, same body


def test_retried_settlement_returns_the_first_answer_and_settles_once(his, db):
    psn_no, mdtrt_id = ready_visit(his)
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "2000.00")
    first = his.call("2207", payload, msgid=MSGID)
    s = ok(first)["setlinfo"]
    assert D(s["acct_pay"]) > 0
    paid_balance, paid_cum = balance(his), cum(his, psn_no)
    assert paid_balance == D(3000) - D(s["acct_pay"])
    assert any(v != 0 for v in paid_cum.values())
    before = snapshot(db)

    retry = his.call("2207", payload, msgid=MSGID)
    assert retry["infcode"] == 0
    assert retry["inf_refmsgid"] == first["inf_refmsgid"]
    assert retry["output"]["setlinfo"]["setl_id"] == s["setl_id"]
    assert retry == first
    assert snapshot(db) == before
    assert balance(his) == paid_balance
    assert cum(his, psn_no) == paid_cum
    assert count(db, settlement) == 1


def test_many_retries_change_nothing(his, db):
    psn_no, mdtrt_id = ready_visit(his, "500.00")
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "500.00")
    first = his.call("2207", payload, msgid=MSGID)
    ok(first)
    before = snapshot(db)
    for _ in range(3):
        assert his.call("2207", payload, msgid=MSGID) == first
    assert snapshot(db) == before


def test_retry_after_the_settlement_was_cancelled_does_not_settle_again(his, db):
    psn_no, mdtrt_id = ready_visit(his)
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "2000.00")
    first = his.call("2207", payload, msgid=MSGID)
    setl_id = ok(first)["setlinfo"]["setl_id"]
    ok(his.call("2208", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}}))
    assert balance(his) == D(3000)
    before = snapshot(db)

    assert his.call("2207", payload, msgid=MSGID) == first
    assert snapshot(db) == before
    assert balance(his) == D(3000)
    assert all(v == 0 for v in cum(his, psn_no).values())


def test_retried_registration_returns_the_same_visit(his, db):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    payload = registration(psn_no, WANG_FANG, "310")
    first = his.call("2201", payload, msgid=MSGID)
    mdtrt_id = ok(first)["data"]["mdtrt_id"]
    retry = his.call("2201", payload, msgid=MSGID)
    assert retry == first
    assert retry["output"]["data"]["mdtrt_id"] == mdtrt_id
    assert count(db, visit) == 1


def test_retried_fee_upload_is_not_stored_twice(his, db):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    item = line("1", "XA01AAA0001", "100.00") | {"mdtrt_id": mdtrt_id, "psn_no": psn_no}
    first = his.call("2204", {"feedetail": [item]}, msgid=MSGID)
    ok(first)
    before = snapshot(db)
    # without idempotency the second upload would be refused E-FEE-001
    assert his.call("2204", {"feedetail": [item]}, msgid=MSGID) == first
    assert snapshot(db) == before


def test_retry_matches_on_the_input_not_on_the_envelope_details(his, db):
    """inf_time, opter and sign_no of a retry may differ: the body is the input."""
    psn_no, mdtrt_id = ready_visit(his, "300.00")
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "300.00")
    first = his.call("2207", payload, msgid=MSGID)
    ok(first)
    message = his.envelope("2207", payload, msgid=MSGID)
    message.update(inf_time="2026-05-11 09:35:00", opter="002", opter_name="另一收费员")
    before = snapshot(db)
    assert his.send(message) == first
    assert snapshot(db) == before


# ---------------------------------------------------------------- same msgid, other body


def test_same_msgid_with_another_body_is_refused(his, db):
    psn_no, mdtrt_id = ready_visit(his)
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "2000.00")
    ok(his.call("2207", payload, msgid=MSGID))
    paid = balance(his)
    before = snapshot(db)

    changed = settle_payload(psn_no, mdtrt_id, WANG_FANG, "2000.00", account=False)
    message = refused(his.call("2207", changed, msgid=MSGID), "E-MSG-002")
    assert MSGID in message
    assert snapshot(db) == before
    assert balance(his) == paid


def test_same_msgid_for_another_transaction_is_refused(his, db):
    psn_no, mdtrt_id = ready_visit(his)
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "2000.00")
    ok(his.call("2207", payload, msgid=MSGID))
    before = snapshot(db)
    # 2201 carries a valid registration, but its msgid is taken by the settlement
    refused(his.call("2201", registration(psn_no, WANG_FANG, "310"), msgid=MSGID),
            "E-MSG-002")
    assert snapshot(db) == before
    assert count(db, visit) == 1


# ---------------------------------------------------------------- refusals are not kept


def test_a_refused_message_may_be_sent_again_with_the_same_msgid(his, db):
    psn_no, mdtrt_id = ready_visit(his, "100.00")
    wrong = settle_payload(psn_no, mdtrt_id, WANG_FANG, "999.00")
    refused(his.call("2207", wrong, msgid=MSGID), "E-SETL-001")
    assert count(db, settlement) == 0
    fixed = settle_payload(psn_no, mdtrt_id, WANG_FANG, "100.00")
    s = ok(his.call("2207", fixed, msgid=MSGID))["setlinfo"]
    assert D(s["medfee_sumamt"]) == D(100)
    assert count(db, settlement) == 1


# ---------------------------------------------------------------- per institution


def test_same_msgid_from_another_institution_is_independent(his_factory, db):
    first, second = his_factory(), his_factory(OTHER)
    psn_no = person(first, LIU_YANG)["baseinfo"]["psn_no"]
    payload = registration(psn_no, LIU_YANG, "390")
    mine = ok(first.call("2201", payload, msgid=MSGID))["data"]["mdtrt_id"]
    theirs = ok(second.call("2201", payload, msgid=MSGID))["data"]["mdtrt_id"]
    assert mine != theirs
    assert count(db, visit) == 2
    with db.read() as conn:
        owners = dict(conn.execute(select(visit.c.mdtrt_id, visit.c.fixmedins_code)).all())
    assert owners == {mine: first.code, theirs: OTHER}
    # and each institution's retry still returns its own first answer
    assert ok(second.call("2201", payload, msgid=MSGID))["data"]["mdtrt_id"] == theirs
    assert ok(first.call("2201", payload, msgid=MSGID))["data"]["mdtrt_id"] == mine
    assert count(db, visit) == 2


def test_another_institution_cannot_see_my_answer_by_guessing_my_msgid(his_factory, db):
    first, second = his_factory(), his_factory(OTHER)
    psn_no, mdtrt_id = ready_visit(first)
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "2000.00")
    setl_id = ok(first.call("2207", payload, msgid=MSGID))["setlinfo"]["setl_id"]
    answer = second.call("2207", payload, msgid=MSGID)
    refused(answer, "E-VIS-001")  # the visit is not theirs; no stored answer leaks
    assert setl_id not in str(answer)
    assert count(db, settlement) == 1
