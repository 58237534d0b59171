"""A manual reimbursement away from home that names a filing, on both databases: the
filing counts only where real-time settlement of the same care would have rested on it
(or, for an area filing, where it was registered after discharge), checked when the
claim is applied for and again when it is approved."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from calls import window_call
from concurrency import run_threads
from conftest import APPROVER, AUDITOR, CLERK, REVIEWER
from flows import SIGNED, ZHAO_LEI, ok
from test_errors import unchanged
from test_reimbursement import bill, declare_fault, fault_bill, psn, window_apply
from yibao.api.claim_models import BillIn, bill_of
from yibao.domain.errors import Refused
from yibao.services import applications
from yibao.services import filing as filing_service
from yibao.services.claims import Payee
from yibao.store.schema import (
    claim,
    filing,
    insurance,
    ledger_entry,
    payment_order,
    settlement,
    visit,
)

T0 = datetime(2026, 5, 11, 9, 30, 0)  # the FakeClock's start; the bills' care is 2026-04-20


def file(http, clock, at: datetime, psn_no: str, **body) -> str:
    clock.now = at
    reply = http.post("/admin/v1/filings", json={"psn_no": psn_no, **SIGNED, **body}, headers=CLERK)
    assert reply.status_code == 201, reply.text
    clock.now = T0
    return str(reply.json()["trt_dcla_detl_sn"])


def cancel(http, psn_no: str, serial: str) -> None:
    reply = http.post(f"/admin/v1/filings/{serial}/cancellation",
                      json={"psn_no": psn_no, "reason": "withdrawn"}, headers=CLERK)
    assert reply.status_code == 200, reply.text


def counts(db) -> dict[str, int]:
    """What an application or an approval would have written."""
    with db.read() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (claim, visit, settlement, payment_order, ledger_entry)}


def change_employer(db, psn_no: str) -> None:
    with db.write() as conn:
        conn.execute(update(insurance).where(insurance.c.psn_no == psn_no)
                     .values(emp_name="新单位"))


def decide(http, claim_id: str, **decision) -> dict:
    reply = http.post(f"/admin/v1/claims/{claim_id}/decision",
                      json={"approve": True, **decision}, headers=APPROVER)
    return {**reply.json(), "http": reply.status_code}


def two_lines(invono: str) -> dict:
    return bill(invono, ("1", "XA01AAA0001", "1800.00"), ("2", "XA01AAA0001", "200.00"))


def review(http, claim_id: str) -> None:
    assert http.post(f"/admin/v1/claims/{claim_id}/review", headers=REVIEWER).status_code == 200


def test_a_claim_names_only_a_filing_that_counts_for_its_care(db, http, his_factory, clock):
    beijing = his_factory("H11010500001")
    psn_no, other = psn(beijing, ZHAO_LEI), psn(beijing)
    expired = file(http, clock, datetime(2026, 3, 1, 9, 0), psn_no, filing_type="temporary",
                   area="110000", end_date="2026-03-31")
    april = datetime(2026, 4, 1, 9, 0)
    shanghai = file(http, clock, april, psn_no, filing_type="resident", area="310000")
    injury = file(http, clock, april, psn_no, filing_type="trauma", area="110000")
    disease_elsewhere = file(http, clock, april, psn_no, filing_type="disease",
                             institution="H11010500002", disease_code="M03900",
                             disease_name="高血压")
    withdrawn = file(http, clock, datetime(2026, 4, 2, 9, 0), psn_no,
                     filing_type="temporary", area="110000", end_date="2026-06-30")
    cancel(http, psn_no, withdrawn)  # after the care: it covered the care, but it is withdrawn
    disease_later = file(http, clock, T0, psn_no, filing_type="disease",
                         institution="H11010500001", disease_code="M03900",
                         disease_name="高血压")  # registered after the care
    not_his = file(http, clock, april, other, filing_type="resident", area="130102")
    care = bill("INV-F1", ("1", "XA01AAA0001", "1800.00"))
    special = dict(care, med_type="14")

    def apply(filing: str, details: dict = care) -> tuple[int, str, str]:
        reply = window_apply(http, psn_no, reason="other", trt_dcla_detl_sn=filing,
                             bill=dict(details, invono=f"INV-{filing}"))
        return reply["status"], reply.get("code", ""), reply.get("detail", "")

    answers = {name: apply(serial, details) for name, serial, details in (
        ("expired", expired, care), ("shanghai", shanghai, care), ("injury", injury, care),
        ("withdrawn", withdrawn, care), ("disease_elsewhere", disease_elsewhere, special),
        ("not_his", not_his, care))}
    assert {name: code for name, (_, code, _) in answers.items()} == {
        "expired": "E-FIL-002", "shanghai": "E-FIL-002", "injury": "E-FIL-002",
        "withdrawn": "E-FIL-002", "disease_elsewhere": "E-FIL-011", "not_his": "E-FIL-005"}
    assert {name: status for name, (status, _, _) in answers.items()} == dict(
        dict.fromkeys(answers, 409), not_his=404)  # another person's filing is not found
    for name, serial in (("expired", expired), ("shanghai", shanghai),
                         ("disease_elsewhere", disease_elsewhere)):
        message = answers[name][2]
        assert serial in message and "H11010500001" in message and "2026-04-20" in message
    assert "2026-03-31" in answers["expired"][2]  # the last day it was valid
    assert "310000" in answers["shanghai"][2] and "trauma" in answers["injury"][2]
    assert "cancelled" in answers["withdrawn"][2]
    assert "H11010500002" in answers["disease_elsewhere"][2]
    assert counts(db)["claim"] == counts(db)["visit"] == 0
    assert http.get("/admin/v1/claims", headers=AUDITOR).json() == []

    disease_here = file(http, clock, april, psn_no, filing_type="disease",
                        institution="H11010500001", disease_code="M01600",
                        disease_name="糖尿病")
    assert apply(disease_here, special)[0] == 201
    # registered after the care, before the claim: it counts (the 2022 notice)
    assert apply(disease_later, special)[0] == 201


def test_a_filing_made_under_an_earlier_relationship_counts_neither_at_application_nor_at_approval(
    db, http, his_factory, clock
):
    beijing = his_factory("H11010500001")
    psn_no = psn(beijing, ZHAO_LEI)
    stationed = file(http, clock, datetime(2026, 4, 1, 9, 0), psn_no,
                     filing_type="stationed", area="110000")
    first = window_apply(http, psn_no, reason="other", trt_dcla_detl_sn=stationed,
                         bill=two_lines("INV-R1"))
    assert first["status"] == 201
    review(http, first["claim_id"])
    change_employer(db, psn_no)  # while the claim is under review
    before = counts(db)
    refusal = decide(http, first["claim_id"], excluded_lines={"2": "not prescribed"})
    assert (refusal["http"], refusal["code"]) == (409, "E-FIL-006")
    assert stationed in refusal["detail"] and "(now 新单位)" in refusal["detail"]
    assert counts(db) == before  # no settlement, payment order or ledger entry
    shown = http.get(f"/admin/v1/claims/{first['claim_id']}", headers=AUDITOR).json()
    assert (shown["status"], shown["approved_amount"], shown["setl_id"]) == (
        "under_review", 0, None)
    assert [x["status"] for x in shown["lines"]] == ["active", "active"]  # nothing excluded

    second = window_apply(http, psn_no, reason="other", trt_dcla_detl_sn=stationed,
                          bill=bill("INV-R2", ("1", "XA01AAA0001", "1800.00")))
    assert (second["status"], second["code"]) == (409, "E-FIL-006")
    assert counts(db) == before

    # filed again under the new relationship, after the care: the claim counts it
    again = file(http, clock, T0, psn_no, filing_type="stationed", area="110000")
    third = window_apply(http, psn_no, reason="after_discharge", trt_dcla_detl_sn=again,
                         bill=bill("INV-R3", ("1", "XA01AAA0001", "1800.00")))
    assert third["status"] == 201
    review(http, third["claim_id"])
    approved = decide(http, third["claim_id"])  # long-term: (1800 - 800) x 60 %, no cut
    assert (approved["status"], approved["approved_amount"]) == ("approved", 60000)


def test_a_filing_a_claim_awaiting_its_decision_names_is_not_cancelled_until_decided(
    db, http, his_factory, clock
):
    """Cancelled under a claim under review, the filing would refuse its approval: the
    cancellation waits for the decision instead (the person's lock orders the two)."""
    beijing = his_factory("H11010500001")
    psn_no = psn(beijing, ZHAO_LEI)
    temporary = file(http, clock, datetime(2026, 4, 1, 9, 0), psn_no,
                     filing_type="temporary", area="110000", end_date="2026-06-30")
    applied = window_apply(http, psn_no, reason="other", trt_dcla_detl_sn=temporary,
                           bill=two_lines("INV-C1"))
    assert applied["status"] == 201
    review(http, applied["claim_id"])
    with unchanged(db):
        refusal = http.post(f"/admin/v1/filings/{temporary}/cancellation",
                            json={"psn_no": psn_no, "reason": "withdrawn"}, headers=CLERK)
    assert (refusal.status_code, refusal.json()["code"]) == (409, "E-FIL-009")
    assert applied["claim_id"] in refusal.json()["detail"]
    rejected = http.post(f"/admin/v1/claims/{applied['claim_id']}/decision", headers=APPROVER,
                         json={"approve": False, "reason": "no prescription"})
    assert rejected.status_code == 200, rejected.text
    cancel(http, psn_no, temporary)  # decided: nothing rests on it


def test_an_uploaded_bill_is_applied_for_only_with_a_filing_for_its_institutions_area(
    db, http, his_factory, clock
):
    beijing = his_factory("H11010500001")
    psn_no = psn(beijing, ZHAO_LEI)
    declare_fault(beijing)
    uploaded = ok(fault_bill(beijing, psn_no, "INV-U1", "1800.00", "2026-05-11 08:30:00"))
    shanghai = file(http, clock, T0, psn_no, filing_type="resident", area="310000")

    def apply(serial: str) -> dict:
        return window_apply(http, psn_no, reason="fault", trt_dcla_detl_sn=serial,
                            fixmedins_code="H11010500001", invono="INV-U1")

    refusal = apply(shanghai)
    assert (refusal["status"], refusal["code"]) == (409, "E-FIL-002")
    assert shanghai in refusal["detail"] and "110000" in refusal["detail"]
    shown = http.get(f"/admin/v1/claims/{uploaded['result']['claim_id']}", headers=AUDITOR).json()
    assert (shown["status"], shown["trt_dcla_detl_sn"]) == ("eligible", None)

    beijing_filing = file(http, clock, T0, psn_no, filing_type="temporary", area="110000",
                          end_date="2026-06-30")  # after the care: it counts for the claim
    applied = apply(beijing_filing)
    assert applied["status"] == 201
    review(http, applied["claim_id"])
    approved = decide(http, applied["claim_id"])  # (1800 - 800) x (60 - 20) %
    assert (approved["status"], approved["approved_amount"]) == ("approved", 40000)


def test_an_application_naming_a_filing_and_its_cancellation_at_once(
    db, http, his_factory, clock
):
    """The person's lock orders them: the claim is recorded and the cancellation refused,
    or the filing is cancelled and the application refused; never a claim on a cancelled
    filing."""
    psn_no = psn(his_factory("H11010500001"), ZHAO_LEI)
    payee = Payee("银行", "6222020200001234567")
    for round_ in range(4):
        serial = file(http, clock, datetime(2026, 4, 1, 9, 0), psn_no, filing_type="temporary",
                      area="110000", end_date="2026-06-30")
        application = bill_of(psn_no, BillIn(**two_lines(f"INV-RACE{round_}")))

        def apply_it(serial: str = serial, application=application) -> str:
            try:
                with db.write() as conn:
                    applications.submit(window_call(conn, clock), application,
                                        reason="other", payee=payee, filing_sn=serial)
                return "applied"
            except Refused as refusal:
                return refusal.code

        def cancel_it(serial: str = serial) -> str:
            try:
                with db.write() as conn:
                    filing_service.cancel(window_call(conn, clock), serial, psn_no,
                                          "withdrawn", own_only=False)
                return "cancelled"
            except Refused as refusal:
                return refusal.code

        answers = run_threads(lambda work: work(), [(apply_it,), (cancel_it,)])
        assert answers in (["applied", "E-FIL-009"], ["E-FIL-002", "cancelled"]), answers
        with db.read() as conn:
            claimed = conn.execute(select(func.count()).select_from(claim).where(
                claim.c.trt_dcla_detl_sn == serial)).scalar_one()
            status = conn.execute(select(filing.c.status).where(
                filing.c.trt_dcla_detl_sn == serial)).scalar_one()
        assert (claimed, status) == ((1, "active") if answers[0] == "applied"
                                     else (0, "cancelled"))
