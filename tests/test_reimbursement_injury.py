"""A manual reimbursement of injury care away from home, on both databases: like a
real-time settlement of the same care it needs the person's injury declaration for the
area of treatment, made under the current insured relationship (one registered after
the care counts, a cancelled one never), checked when the claim is applied for and
again when it is approved; the approved claim records the declaration, which can then
no longer be cancelled. At home no declaration is needed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from apps import ChannelApp
from conftest import AUDITOR, CLERK
from flows import WANG_FANG, ZHAO_LEI, ok, refused
from test_errors import unchanged
from test_reimbursement import (
    PAYEE,
    bill,
    declare_fault,
    fault_bill,
    fault_bill_input,
    psn,
    window_apply,
)
from test_reimbursement_filing import (
    T0,
    cancel,
    change_employer,
    counts,
    decide,
    file,
    review,
)
from yibao.store.schema import settlement

APRIL = datetime(2026, 4, 1, 9, 0)  # before the care (2026-04-20)


def injury(invono: str, *, code: str = "H11010500001") -> dict:
    """Outpatient injury care (med_type 19) on 2026-04-20, paid in full."""
    return dict(bill(invono, ("1", "XA01AAA0001", "1800.00"), code=code), med_type="19")


def declare(http, clock, at: datetime, psn_no: str, area: str = "110000") -> str:
    """The person's no-third-party declaration at the operator window."""
    return file(http, clock, at, psn_no, filing_type="trauma", area=area)


def cancel_refused(http, psn_no: str, serial: str) -> dict:
    reply = http.post(f"/admin/v1/filings/{serial}/cancellation",
                      json={"psn_no": psn_no, "reason": "withdrawn"}, headers=CLERK)
    return {"http": reply.status_code, **reply.json()}


def settled(db, setl_id: str) -> dict:
    with db.read() as conn:
        return dict(conn.execute(select(settlement).where(
            settlement.c.setl_id == setl_id)).mappings().one())


def test_an_injury_claim_away_from_home_without_a_declaration_for_the_area_is_refused(
    db, http, his_factory, clock
):
    beijing = his_factory("H11010500001")
    psn_no = psn(beijing, ZHAO_LEI)
    filed = file(http, clock, APRIL, psn_no, filing_type="temporary", area="110000",
                 end_date="2026-06-30")  # an area filing is no declaration
    before = counts(db)
    none = window_apply(http, psn_no, reason="other", trt_dcla_detl_sn=filed,
                        bill=injury("INV-I1"))
    assert (none["status"], none["code"]) == (409, "E-FIL-010")
    assert "110000" in none["detail"] and "2026-04-20" in none["detail"]

    shanghai = declare(http, clock, APRIL, psn_no, area="310000")
    elsewhere = window_apply(http, psn_no, reason="other", bill=injury("INV-I1"))
    assert (elsewhere["status"], elsewhere["code"]) == (409, "E-FIL-012")
    assert shanghai in elsewhere["detail"] and "care is in 110000" in elsewhere["detail"]
    assert counts(db) == before  # no claim, no visit
    assert http.get("/admin/v1/claims", headers=AUDITOR).json() == []

    declare(http, clock, APRIL, psn_no)
    applied = window_apply(http, psn_no, reason="other", trt_dcla_detl_sn=filed,
                           bill=injury("INV-I1"))
    assert applied["status"] == 201, applied


def test_a_claim_from_the_app_for_injury_care_away_needs_the_declaration(
    db, http, his_factory, clock
):
    hebei = his_factory("H13010200001")
    psn_no = psn(hebei, WANG_FANG)  # insured in Beijing, treated in Hebei
    app = ChannelApp(http)
    cert_id = app.activate()
    app.register_payee(cert_id)  # an app's claims pay only to it
    path = f"/channel/v1/certificates/{cert_id}/claims"
    body = {"pin": "135790", "reason": "other", "payee": PAYEE,
            "bill": injury("INV-A1", code="H13010200001")}
    refusal = app.post(path, body)
    assert (refusal.status_code, refusal.json()["code"]) == (409, "E-FIL-010")
    assert "130102" in refusal.json()["detail"]
    assert counts(db)["claim"] == 0
    declare(http, clock, T0, psn_no, area="130102")  # after the care: it counts
    assert app.post(path, body).status_code == 201


def test_a_declaration_made_under_an_earlier_relationship_does_not_count(
    db, http, his_factory, clock
):
    beijing = his_factory("H11010500001")
    psn_no = psn(beijing, ZHAO_LEI)
    declared = declare(http, clock, APRIL, psn_no)
    applied = window_apply(http, psn_no, reason="other", bill=injury("INV-I2"))
    review(http, applied["claim_id"])
    change_employer(db, psn_no)  # while the claim is under review
    before = counts(db)
    at_approval = decide(http, applied["claim_id"])
    assert (at_approval["http"], at_approval["code"]) == (409, "E-FIL-006")
    refusal = window_apply(http, psn_no, reason="other", bill=injury("INV-I3"))
    assert (refusal["status"], refusal["code"]) == (409, "E-FIL-006")
    assert declared in refusal["detail"] and "(now 新单位)" in refusal["detail"]
    assert counts(db) == before


def test_a_declaration_made_after_the_care_counts_and_the_approved_claim_keeps_it(
    db, http, his_factory, clock
):
    beijing = his_factory("H11010500001")
    psn_no = psn(beijing, ZHAO_LEI)
    declared = declare(http, clock, T0, psn_no)  # three weeks after the care
    applied = window_apply(http, psn_no, reason="other", bill=injury("INV-I3"))
    assert applied["status"] == 201, applied
    review(http, applied["claim_id"])
    approved = decide(http, applied["claim_id"])
    # Hebei policy, no area filing: cut as another temporary trip, (1800 - 800) x 40 %
    assert (approved["http"], approved["status"], approved["approved_amount"]) == (
        200, "approved", 40000)
    row = settled(db, approved["setl_id"])
    assert (row["kind"], row["trum_dcla_detl_sn"], row["trt_dcla_detl_sn"]) == (
        "claim", declared, None)
    refusal = cancel_refused(http, psn_no, declared)
    assert (refusal["http"], refusal["code"]) == (409, "E-FIL-009")
    assert "approved claim" in refusal["detail"]


def test_a_cancelled_declaration_never_counts(db, http, his_factory, clock):
    beijing = his_factory("H11010500001")
    psn_no = psn(beijing, ZHAO_LEI)
    declared = declare(http, clock, APRIL, psn_no)  # it covered the care ...
    cancel(http, psn_no, declared)  # ... but the person withdrew it
    before = counts(db)
    refusal = window_apply(http, psn_no, reason="other", bill=injury("INV-I4"))
    assert (refusal["status"], refusal["code"]) == (409, "E-FIL-010")
    assert counts(db) == before


def test_a_declaration_a_claim_under_review_rests_on_is_not_cancelled_until_decided(
    db, http, his_factory, clock
):
    """The claim does not name the declaration, yet would rest on it: cancelled under
    the review, it would refuse the approval, so the cancellation waits."""
    beijing = his_factory("H11010500001")
    psn_no = psn(beijing, ZHAO_LEI)
    declared = declare(http, clock, APRIL, psn_no)
    shanghai = declare(http, clock, APRIL, psn_no, area="310000")
    applied = window_apply(http, psn_no, reason="other", bill=injury("INV-I5"))
    assert applied["status"] == 201, applied
    review(http, applied["claim_id"])
    with unchanged(db):
        refusal = cancel_refused(http, psn_no, declared)
    assert (refusal["http"], refusal["code"]) == (409, "E-FIL-009")
    assert applied["claim_id"] in refusal["detail"]
    cancel(http, psn_no, shanghai)  # for another area: the claim cannot rest on it
    assert decide(http, applied["claim_id"])["status"] == "approved"
    assert "live settlement" in cancel_refused(http, psn_no, declared)["detail"]


def test_an_uploaded_injury_bill_is_applied_for_only_with_a_declaration(
    db, http, his_factory, clock
):
    beijing = his_factory("H11010500001")
    psn_no = psn(beijing, ZHAO_LEI)
    declare_fault(beijing)
    uploaded = ok(fault_bill(beijing, psn_no, "INV-U1", "1800.00", "2026-05-11 08:30:00",
                             med_type="19"))
    claim_id = uploaded["result"]["claim_id"]

    def apply() -> dict:
        return window_apply(http, psn_no, reason="fault", fixmedins_code="H11010500001",
                            invono="INV-U1")

    refusal = apply()
    assert (refusal["status"], refusal["code"]) == (409, "E-FIL-010")
    shown = http.get(f"/admin/v1/claims/{claim_id}", headers=AUDITOR).json()
    assert (shown["status"], shown["med_type"], len(shown["steps"])) == ("eligible", "19", 1)
    declared = declare(http, clock, T0, psn_no)  # after the care
    assert apply()["status"] == 201
    review(http, claim_id)
    approved = decide(http, claim_id)
    assert approved["status"] == "approved"
    assert settled(db, approved["setl_id"])["trum_dcla_detl_sn"] == declared


def test_an_injury_claim_at_home_needs_no_declaration(db, http):
    app = ChannelApp(http)  # 王芳, insured in Beijing, treated in Beijing
    cert_id = app.activate()
    app.register_payee(cert_id)
    reply = app.post(f"/channel/v1/certificates/{cert_id}/claims", {
        "pin": "135790", "reason": "no_credential", "payee": PAYEE, "bill": injury("INV-H1")})
    assert reply.status_code == 201, reply.text
    review(http, reply.json()["claim_id"])
    approved = decide(http, reply.json()["claim_id"])
    assert (approved["http"], approved["status"]) == (200, "approved")
    row = settled(db, approved["setl_id"])
    assert (row["away_basis"], row["trum_dcla_detl_sn"]) == ("", None)


def test_an_injury_flagged_on_an_ordinary_bill_needs_the_declaration_too(
    db, http, his_factory, clock
):
    """The window types in what the hospital's papers say: an injury (外伤) under an
    ordinary outpatient med_type, and whether a third party is liable."""
    psn_no = psn(his_factory("H11010500001"), ZHAO_LEI)
    ordinary = bill("INV-F1", ("1", "XA01AAA0001", "1800.00"))
    before = counts(db)
    unsaid = window_apply(http, psn_no, reason="other", bill=ordinary | {"injury": True})
    assert (unsaid["status"], unsaid["code"]) == (400, "E-CLM-006")
    assert "third_party_liable" in unsaid["detail"]
    stray = window_apply(http, psn_no, reason="other", bill=ordinary | {
        "third_party_liable": False})
    assert (stray["status"], stray["code"]) == (400, "E-CLM-006")
    assert "goes with injury" in stray["detail"]
    liable = window_apply(http, psn_no, reason="other",
                          bill=ordinary | {"injury": True, "third_party_liable": True})
    assert (liable["status"], liable["code"]) == (409, "E-FIL-007")
    undeclared = window_apply(http, psn_no, reason="other",
                              bill=ordinary | {"injury": True, "third_party_liable": False})
    assert (undeclared["status"], undeclared["code"]) == (409, "E-FIL-010")
    assert counts(db) == before

    declared = declare(http, clock, APRIL, psn_no)
    applied = window_apply(http, psn_no, reason="other",
                           bill=ordinary | {"injury": True, "third_party_liable": False})
    assert applied["status"] == 201
    review(http, applied["claim_id"])
    approved = decide(http, applied["claim_id"])
    assert settled(db, approved["setl_id"])["trum_dcla_detl_sn"] == declared
    shown = http.get(f"/admin/v1/claims/{applied['claim_id']}", headers=AUDITOR).json()
    assert (shown["away_basis"], shown["trum_dcla_detl_sn"]) == ("unfiled", declared)


def test_a_2901_bill_flags_an_injury_in_exp_content_as_2201_does(db, http, his_factory, clock):
    beijing = his_factory("H11010500001")
    psn_no = psn(beijing, ZHAO_LEI)
    declare_fault(beijing)
    message = fault_bill_input(psn_no, "INV-X1", "1800.00", "2026-05-11 08:30:00")
    message["billinfo"]["exp_content"] = '{"TRUM_FLAG": "1"}'
    refused(beijing.call("2901", message), "E-ENV-004")  # REL_TTP_FLAG goes with it
    message["billinfo"]["exp_content"] = '{"TRUM_FLAG": "1", "REL_TTP_FLAG": "0"}'
    claim_id = ok(beijing.call("2901", message))["result"]["claim_id"]

    def apply() -> dict:
        return window_apply(http, psn_no, reason="fault", fixmedins_code="H11010500001",
                            invono="INV-X1")

    assert apply()["code"] == "E-FIL-010"
    declare(http, clock, T0, psn_no)
    assert apply()["status"] == 201
    review(http, claim_id)
    assert decide(http, claim_id)["status"] == "approved"
