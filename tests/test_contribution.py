"""Contribution status (2020 epidemic measures, items 6 and 10): deferred settles and
pays no late fee, arrears settle within the grace and are refused beyond it, a payment
within the grace restores continuity, a suspension is refused, a deferral decision marks
an employer's persons; the operators see the history. Both databases."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from concurrency import race
from conftest import ADMIN, AUDITOR, CLERK
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

EMPLOYER = "E110000000001"  # the demo employer of Beijing's employees (store/demo.py)


def _psn(his, certno: str = WANG_FANG) -> str:
    return str(person(his, certno)["baseinfo"]["psn_no"])


def _settle(his, psn_no: str, certno: str = WANG_FANG, insutype: str = "310") -> dict:
    mdtrt_id = register(his, psn_no, certno, insutype)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00")])
    return his.call("2207", settle_payload(psn_no, mdtrt_id, certno, "100.00",
                                           insutype=insutype, account=False))


def _record(http, psn_no: str, status: str, since: str, **extra: str):
    return http.post(f"/admin/v1/persons/{psn_no}/contributions", headers=CLERK,
                     json={"insutype": "310", "status": status, "since": since, **extra})


def _pay(http, psn_no: str, paid_on: str, owed: str = "1000.00"):
    return http.post(f"/admin/v1/persons/{psn_no}/contributions/payments", headers=CLERK,
                     json={"insutype": "310", "paid_on": paid_on, "owed": owed})


def _history(http, psn_no: str) -> list[dict]:
    answer = http.get(f"/admin/v1/persons/{psn_no}/contributions", headers=AUDITOR)
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def test_arrears_settle_within_the_grace_and_are_refused_beyond_it(http, his, clock):
    psn_no = _psn(his)
    made = _record(http, psn_no, "arrears", "2026-03-01", owed="1000.00")
    assert made.status_code == 201, made.text
    ok(_settle(his, psn_no))  # 11 May: day 71 of Beijing's 90 grace days
    clock.now = datetime(2026, 5, 29, 9, 0)  # the 90th day (1 March is the first)
    ok(_settle(his, psn_no))
    clock.now = datetime(2026, 5, 30, 9, 0)
    message = refused(_settle(his, psn_no), "E-PSN-018")
    assert "unpaid since 2026-03-01" in message and "ended 2026-05-29" in message


def test_a_payment_within_the_grace_restores_continuity_even_registered_late(
        http, his, clock):
    psn_no = _psn(his)
    _record(http, psn_no, "arrears", "2026-03-01", owed="1000.00")
    clock.now = datetime(2026, 6, 5, 9, 0)
    refused(_settle(his, psn_no), "E-PSN-018")
    paid = _pay(http, psn_no, "2026-05-20")  # received within the grace, entered late
    assert paid.status_code == 201, paid.text
    # 80 days late × 0.05 % × 1000.00 = 40.00
    assert paid.json() | {"period_id": ""} == {
        "period_id": "", "days_late": 80, "late_fee": "40.00", "continuous": True}
    ok(_settle(his, psn_no))
    history = _history(http, psn_no)
    assert [(h["status"], h["begin_date"], h["end_date"], h["continuous"]) for h in history] == [
        ("paid", "2026-05-20", "", False), ("arrears", "2026-03-01", "2026-05-20", True)]
    assert history[0]["decision"] == "payment" and history[0]["late_fee"] == "40.00"
    assert history[1]["actor"] == "clerk"


def test_a_payment_after_the_grace_leaves_a_gap(http, his, clock):
    psn_no = _psn(his)
    _record(http, psn_no, "arrears", "2026-01-01")
    paid = _pay(http, psn_no, "2026-05-11", owed="200.00")
    assert paid.json()["continuous"] is False
    assert paid.json()["late_fee"] == "13.00"  # 130 days × 0.05 % × 200.00
    assert [h["continuous"] for h in _history(http, psn_no)] == [False, False]
    ok(_settle(his, psn_no))  # paid now: benefits again


def test_a_suspension_is_refused_at_once(http, his):
    psn_no = _psn(his)
    assert _record(http, psn_no, "suspended", "2026-05-01").status_code == 201
    assert "suspended since 2026-05-01" in refused(_settle(his, psn_no), "E-PSN-019")
    again = _record(http, psn_no, "suspended", "2026-05-01")
    assert again.status_code == 409 and again.json()["code"] == "E-CON-003"


def test_a_deferral_decision_marks_the_employers_persons_and_charges_no_late_fee(
        http, his, clock):
    psn_no = _psn(his)
    resident = _psn(his, LIU_YANG)
    decided = http.post("/admin/v1/deferrals", headers=ADMIN, json={
        "emp_no": EMPLOYER, "insutype": "310", "begin_date": "2026-02-01",
        "until_date": "2026-06-30", "reason": "2020 epidemic measures: deferral"})
    assert decided.status_code == 201, decided.text
    assert decided.json()["persons"] == 3  # Beijing's three employees, not the resident
    listed = http.get("/admin/v1/deferrals", headers=AUDITOR).json()
    assert [(d["emp_no"], d["persons"], d["until_date"]) for d in listed] == [
        (EMPLOYER, 3, "2026-06-30")]
    assert _history(http, resident) == []
    history = _history(http, psn_no)
    assert [(h["status"], h["decision"], h["decision_ref"], h["until_date"])
            for h in history] == [
        ("deferred", "deferral", decided.json()["deferral_id"], "2026-06-30")]
    ok(_settle(his, psn_no))  # deferred: benefits continue
    clock.now = datetime(2026, 6, 30, 9, 0)  # a payment is recorded once received
    paid = _pay(http, psn_no, "2026-06-30")
    assert paid.json()["late_fee"] == "0.00" and paid.json()["continuous"] is True


def test_a_deferral_ended_unpaid_becomes_arrears_after_the_grace(http, his, clock):
    psn_no = _psn(his)
    http.post("/admin/v1/deferrals", headers=ADMIN, json={
        "insutype": "310", "begin_date": "2026-02-01", "until_date": "2026-03-31",
        "reason": "everyone"})
    ok(_settle(his, psn_no))  # 11 May: within the 90 days after the deferral
    clock.now = datetime(2026, 6, 30, 9, 0)  # 1 April + 90 days = 30 June
    assert "unpaid since 2026-03-31" in refused(_settle(his, psn_no), "E-PSN-018")
    paid = _pay(http, psn_no, "2026-06-30", owed="1000.00")
    assert paid.json()["late_fee"] == "45.00"  # from 1 April: 90 days × 0.05 %


def test_operators_need_their_permission_and_dates_in_order(http, his):
    psn_no = _psn(his)
    denied = http.post("/admin/v1/deferrals", headers=CLERK, json={
        "insutype": "310", "begin_date": "2026-02-01", "until_date": "2026-03-31",
        "reason": "x"})
    assert denied.status_code == 403 and denied.json()["code"] == "E-ADM-003"
    backwards = http.post("/admin/v1/deferrals", headers=ADMIN, json={
        "insutype": "310", "begin_date": "2026-04-01", "until_date": "2026-03-31",
        "reason": "x"})
    assert backwards.status_code == 400 and backwards.json()["code"] == "E-CON-001"
    future = _record(http, psn_no, "arrears", "2026-05-12")
    assert future.status_code == 400 and "after today 2026-05-11" in future.json()["detail"]
    nothing = _pay(http, psn_no, "2026-05-11")
    assert nothing.status_code == 409 and nothing.json()["code"] == "E-CON-002"
    assert _history(http, psn_no) == []  # a refusal changes nothing


def test_two_payments_of_the_same_arrears_at_once_record_one(http, his, app):
    psn_no = _psn(his)
    _record(http, psn_no, "arrears", "2026-04-01")
    first, second = TestClient(app), TestClient(app)
    answers = race(lambda: _pay(first, psn_no, "2026-05-10"),
                   lambda: _pay(second, psn_no, "2026-05-10"))
    assert sorted(a.status_code for a in answers) == [201, 409]
    assert [a.json()["code"] for a in answers if a.status_code == 409] == ["E-CON-002"]
    assert [h["status"] for h in _history(http, psn_no)] == ["paid", "arrears"]


def test_care_refused_in_the_arrears_window_is_claimed_once_paid_within_the_grace(
        http, his, clock):
    """Care on 20 April, after the grace of arrears since 1 January ended (31 March): the
    claim is refused; the payment received on 15 March (within the grace), registered
    late, restores continuity and the same claim is accepted."""
    from test_reimbursement import bill, window_apply

    psn_no = _psn(his)
    _record(http, psn_no, "arrears", "2026-01-01")
    care = bill("INV-C1", ("1", "XA01AAA0001", "100.00"))  # care on 20 April
    refused_claim = window_apply(http, psn_no, bill=care)
    assert refused_claim["status"] == 409 and refused_claim["code"] == "E-PSN-018"
    assert _pay(http, psn_no, "2026-03-15").json()["continuous"] is True
    accepted = window_apply(http, psn_no, bill=care)
    assert accepted["status"] == 201, accepted
