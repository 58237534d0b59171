"""The operators' view of fault periods (/admin/v1), on both databases: an institution's
periods newest first, one period with who declared it, its cancellation and the claims
relying on it, and the cancellation of a wrongly declared one by the rules of the 2601
of its 2902 — refused while a bill relies on it or when it is cancelled already,
changing nothing; every cancellation is in the audit log."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from conftest import ADMIN, AUDITOR
from flows import refused
from test_errors import unchanged
from test_reimbursement import declare_fault, fault_bill, psn
from test_reversal import reverse, rslt
from test_reversal_claims import CODE, bring_to, upload_bill
from yibao.store.schema import audit_event


def faults(http, code: str = CODE, **params: str) -> Any:
    return http.get(f"/admin/v1/institutions/{code}/faults", params=params, headers=AUDITOR)


def shown(http, fault_id: str) -> dict[str, Any]:
    reply = http.get(f"/admin/v1/faults/{fault_id}", headers=AUDITOR)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def cancel(http, fault_id: str, reason: str = "declared for the wrong day",
           headers: dict[str, str] = ADMIN) -> Any:
    return http.post(f"/admin/v1/faults/{fault_id}/cancel", json={"reason": reason},
                     headers=headers)


def declare_at_window(http, begin: str, end: str, reason: str = "link down") -> str:
    reply = http.post(f"/admin/v1/institutions/{CODE}/faults", headers=ADMIN,
                      json={"begin_at": begin, "end_at": end, "reason": reason})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["fault_id"])


def audit_of(db, fault_id: str) -> list[tuple[str, str, str, str]]:
    with db.read() as conn:
        rows = conn.execute(select(audit_event.c.kind, audit_event.c.actor,
                                   audit_event.c.place, audit_event.c.detail)
                            .where(audit_event.c.detail.startswith(fault_id)))
        return [tuple(r) for r in rows]


# ---------------------------------------------------------------- list and show


def test_an_institutions_periods_newest_first_with_who_declared_them_and_their_status(
    db, http, his
):
    psn_no = psn(his)
    by_hospital = declare_fault(his, "2026-05-09 08:00:00", "2026-05-09 10:00:00")
    reversed_ = declare_fault(his, "2026-05-10 08:00:00", "2026-05-10 09:00:00")
    rslt(reverse(his, psn_no, his.last_msgid, "2902"))
    by_operator = declare_at_window(http, "2026-05-11T07:00:00", "2026-05-11T12:00:00",
                                    "platform down")

    listed = faults(http).json()
    assert [f["fault_id"] for f in listed] == [by_operator, reversed_, by_hospital]
    assert listed[0] | {"fault_id": ""} == {
        "fault_id": "", "fixmedins_code": CODE, "begin_at": "2026-05-11T07:00:00",
        "end_at": "2026-05-11T12:00:00", "reason": "platform down", "declared_by": "admin",
        "declared_at": "2026-05-11T09:30:00", "status": "in_force", "cancelled_at": None,
        "cancelled_reason": ""}
    assert listed[1]["status"] == "cancelled" and listed[1]["declared_by"] == CODE
    assert listed[1]["cancelled_reason"].startswith("reversed by 2601 ")
    assert listed[2] | {"fault_id": ""} == {
        "fault_id": "", "fixmedins_code": CODE, "begin_at": "2026-05-09T08:00:00",
        "end_at": "2026-05-09T10:00:00", "reason": "专线中断", "declared_by": CODE,
        "declared_at": "2026-05-11T09:30:00", "status": "in_force", "cancelled_at": None,
        "cancelled_reason": ""}

    in_force = faults(http, status="in_force").json()
    assert [f["fault_id"] for f in in_force] == [by_operator, by_hospital]
    assert [f["fault_id"] for f in faults(http, status="cancelled").json()] == [reversed_]
    assert [f["fault_id"] for f in faults(http, limit="1").json()] == [by_operator]
    assert faults(http, status="expired").status_code == 422
    assert faults(http, "H11010500002").json() == []  # another institution's: none


def test_a_period_shows_the_claims_relying_on_it_with_their_status(db, http, his):
    psn_no = psn(his)
    fault_id = declare_fault(his)
    applied = upload_bill(his, psn_no, "INV-P2")
    eligible = upload_bill(his, psn_no, "INV-P1", "300.00", at="2026-05-11 08:10:00")
    withdrawn = upload_bill(his, psn_no, "INV-P3", "100.00")
    rslt(reverse(his, psn_no, his.last_msgid, "2901"))
    bring_to(http, psn_no, applied, "INV-P2", "under_review")

    period = shown(http, fault_id)
    assert period["status"] == "in_force" and period["claims_total"] == 2
    assert period["claims"] == [
        {"claim_id": eligible, "invono": "INV-P1", "psn_no": psn_no, "status": "eligible",
         "care_begins_at": "2026-05-11T08:10:00"},
        {"claim_id": applied, "invono": "INV-P2", "psn_no": psn_no, "status": "under_review",
         "care_begins_at": "2026-05-11T08:30:00"},
    ]
    assert withdrawn not in str(period)


# ---------------------------------------------------------------- cancel


def test_an_operator_cancels_a_wrongly_declared_period_and_it_is_audited(db, http, his):
    psn_no = psn(his)
    fault_id = declare_fault(his)

    reply = cancel(http, fault_id, "the hospital declared the wrong day")
    assert reply.status_code == 200, reply.text
    period = reply.json()
    assert period["status"] == "cancelled" and period["cancelled_at"] == "2026-05-11T09:30:00"
    assert period["cancelled_reason"] == "cancelled by admin: the hospital declared the wrong day"
    assert shown(http, fault_id) == period
    assert audit_of(db, fault_id) == [
        ("fault-cancel", "admin", CODE, f"{fault_id}: {period['cancelled_reason']}")]
    # as after the 2601 of its 2902: no bill can be uploaded in it, it may be declared again
    refused(fault_bill(his, psn_no, "INV-C1", "100.00", "2026-05-11 08:30:00"), "E-CLM-005")
    assert declare_fault(his) != fault_id
    upload_bill(his, psn_no, "INV-C1", "100.00")


def test_the_2601_of_a_2902_is_audited_too(db, his):
    psn_no = psn(his)
    fault_id = declare_fault(his)
    reversal = rslt(reverse(his, psn_no, his.last_msgid, "2902"))
    assert reversal == f"reversed 2902 fault:{fault_id}"
    [(kind, actor, place, detail)] = audit_of(db, fault_id)
    assert (kind, actor, place) == ("fault-cancel", CODE, CODE)
    assert detail.startswith(f"{fault_id}: reversed by 2601 ")


@pytest.mark.parametrize("status", ["eligible", "submitted", "approved"])
def test_a_period_a_bill_relies_on_is_not_cancelled_and_nothing_changes(
    db, http, his, status
):
    psn_no = psn(his)
    fault_id = declare_fault(his)
    claim_id = upload_bill(his, psn_no, "INV-K1")
    if status != "eligible":
        bring_to(http, psn_no, claim_id, "INV-K1", status)

    with unchanged(db):
        reply = cancel(http, fault_id)
    assert reply.status_code == 409
    assert reply.json()["code"] == "E-REV-004" and "INV-K1" in reply.json()["detail"]
    period = shown(http, fault_id)
    assert period["status"] == "in_force" and period["cancelled_reason"] == ""
    assert [c["status"] for c in period["claims"]] == [status]
    assert audit_of(db, fault_id) == []
    upload_bill(his, psn_no, "INV-K2", "100.00")  # still declared


def test_a_period_is_cancelled_once_its_bills_are_withdrawn_or_rejected(db, http, his):
    psn_no = psn(his)
    fault_id = declare_fault(his)
    rejected = upload_bill(his, psn_no, "INV-J1")
    upload_bill(his, psn_no, "INV-J2", "100.00")
    rslt(reverse(his, psn_no, his.last_msgid, "2901"))  # the hospital withdraws one
    assert cancel(http, fault_id).json()["code"] == "E-REV-004"
    bring_to(http, psn_no, rejected, "INV-J1", "rejected")  # the window rejects the other

    period = cancel(http, fault_id).json()
    assert period["status"] == "cancelled" and period["claims"] == []


def test_a_cancelled_period_is_not_cancelled_again(db, http, his):
    psn_no = psn(his)
    by_operator = declare_fault(his)
    declare_msgid = his.last_msgid
    assert cancel(http, by_operator, "wrong day").status_code == 200
    words = declare_fault(his, "2026-05-10 08:00:00", "2026-05-10 09:00:00")
    assert cancel(http, words, "no such outage happened").status_code == 200
    with unchanged(db):  # the operator's words do not make it "not found"
        twice = cancel(http, words, "again")
    assert (twice.status_code, twice.json()["code"]) == (409, "E-CLM-010")

    with unchanged(db):
        again = cancel(http, by_operator, "again")
        late_2601 = refused(reverse(his, psn_no, declare_msgid, "2902"), "E-CLM-010")
    assert again.status_code == 409 and again.json()["code"] == "E-CLM-010"
    assert "cancelled by admin: wrong day" in again.json()["detail"]
    assert "cancelled by admin: wrong day" in late_2601
    assert shown(http, by_operator)["cancelled_reason"] == "cancelled by admin: wrong day"

    by_2601 = declare_fault(his)
    rslt(reverse(his, psn_no, his.last_msgid, "2902"))
    with unchanged(db):
        reply = cancel(http, by_2601)
    assert reply.status_code == 409 and "reversed by 2601" in reply.json()["detail"]


# ---------------------------------------------------------------- refusals


def test_unknown_institutions_and_periods_are_404_in_the_error_format(db, http):
    assert faults(http, "H99999999999").status_code == 404
    assert faults(http, "H99999999999").json() == {
        "type": "/errors/E-ADM-001", "title": "institution not found", "status": 404,
        "detail": "E-ADM-001 institution not found: no such institution H99999999999",
        "instance": "/admin/v1/institutions/H99999999999/faults", "code": "E-ADM-001"}
    missing = http.get("/admin/v1/faults/FLT-NONE", headers=AUDITOR)
    assert missing.status_code == 404 and missing.json() == {
        "type": "/errors/E-CLM-009", "title": "fault period not found", "status": 404,
        "detail": "E-CLM-009 fault period not found: no such fault period FLT-NONE",
        "instance": "/admin/v1/faults/FLT-NONE", "code": "E-CLM-009"}
    assert missing.headers["content-type"] == "application/problem+json"
    with unchanged(db):
        reply = cancel(http, "FLT-NONE")
        declared = http.post("/admin/v1/institutions/H99999999999/faults", headers=ADMIN,
                             json={"begin_at": "2026-05-09T08:00:00",
                                   "end_at": "2026-05-09T10:00:00", "reason": "link down"})
    assert reply.status_code == 404 and reply.json()["code"] == "E-CLM-009"
    assert declared.status_code == 404 and declared.json()["code"] == "E-ADM-001"


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer not-an-operator"}])
def test_only_an_operator_sees_or_cancels_fault_periods(db, http, his, headers):
    fault_id = declare_fault(his)
    with unchanged(db):
        assert http.get(f"/admin/v1/institutions/{CODE}/faults",
                        headers=headers).status_code == 401
        assert http.get(f"/admin/v1/faults/{fault_id}", headers=headers).status_code == 401
        assert cancel(http, fault_id, headers=headers).status_code == 401
    assert shown(http, fault_id)["status"] == "in_force"


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 201}])
def test_a_cancellation_needs_a_reason(db, http, his, body):
    fault_id = declare_fault(his)
    with unchanged(db):
        reply = http.post(f"/admin/v1/faults/{fault_id}/cancel", json=body, headers=ADMIN)
    assert reply.status_code == 422
