"""2601 reversal of the yibao extensions for manual reimbursement: a 2901 bill is
withdrawn while nobody has applied for it, a 2902 fault period cancelled while no bill
relies on it; refusals say why and change nothing."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import insert

from apps import ChannelApp
from concurrency import run_threads
from conftest import APPROVER, AUDITOR, FINANCE, REVIEWER
from flows import LIU_YANG, ok, person, refused
from test_errors import unchanged
from test_reimbursement import (
    declare_fault,
    fault_bill,
    fault_bill_input,
    psn,
    window_apply,
    window_call,
)
from test_reversal import reverse, rslt
from yibao.domain.errors import Refused
from yibao.services import applications
from yibao.services.claims import Payee
from yibao.store.schema import fault_period

CODE = "H11010500001"
CARE = "2026-05-11 08:30:00"


def upload_bill(his, psn_no: str, invono: str, amount: str = "2000.00", at: str = CARE) -> str:
    return str(ok(fault_bill(his, psn_no, invono, amount, at))["result"]["claim_id"])


def claim_of(http, claim_id: str) -> dict:
    reply = http.get(f"/admin/v1/claims/{claim_id}", headers=AUDITOR)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def apply_for(http, psn_no: str, invono: str) -> dict:
    return window_apply(http, psn_no, reason="fault", fixmedins_code=CODE, invono=invono)


def bring_to(http, psn_no: str, claim_id: str, invono: str, status: str) -> None:
    """The person applies for the uploaded bill and the bureau takes it to ``status``."""
    assert apply_for(http, psn_no, invono)["claim_id"] == claim_id
    if status != "submitted":
        assert http.post(f"/admin/v1/claims/{claim_id}/review", headers=REVIEWER).status_code == 200
    if status in ("approved", "paid", "rejected"):
        decision = {"approve": status != "rejected", "reason": "checked"}
        reply = http.post(f"/admin/v1/claims/{claim_id}/decision", json=decision, headers=APPROVER)
        assert reply.json()["status"] == ("rejected" if status == "rejected" else "approved")
    if status == "paid":
        order_id = http.post("/admin/v1/payments/export", headers=FINANCE).text.splitlines()[1]
        reply = http.post(f"/admin/v1/payments/{order_id.split(',')[1]}/result",
                          json={"paid": True}, headers=FINANCE)
        assert reply.json()["status"] == "paid"


# ------------------------------------------------------------------- 2901


def test_reversing_a_2901_withdraws_the_bill_and_the_invoice_may_be_uploaded_again(
    db, http, his
):
    psn_no = psn(his)
    declare_fault(his)
    claim_id = upload_bill(his, psn_no, "INV-R1")
    upload_msgid = his.last_msgid

    result = rslt(reverse(his, psn_no, upload_msgid, "2901"))
    assert result == f"reversed 2901 claim:{claim_id}"

    # what the person sees in the app: the bill withdrawn by the hospital, with the step
    app = ChannelApp(http)
    cert_id = app.activate()
    [mine] = app.post(f"/channel/v1/certificates/{cert_id}/claims/list",
                      {"pin": "135790"}).json()
    assert mine["claim_id"] == claim_id and mine["status"] == "withdrawn"
    assert [s["status"] for s in mine["steps"]] == ["eligible", "withdrawn"]
    assert mine["steps"][-1]["actor"] == CODE and "2601" in mine["steps"][-1]["reason"]
    assert [x["status"] for x in mine["lines"]] == ["cancelled"]
    # the HIS sees the bill's visit cancelled
    visits = ok(his.call("5201", {"data": {"psn_no": psn_no, "begntime": "2026-05-11 00:00:00",
                                           "endtime": "2026-05-11 23:59:59"}}))["mdtrtinfo"]
    assert [v["memo"] for v in visits] == ["cancelled"]
    # nobody can apply for the withdrawn bill
    assert apply_for(http, psn_no, "INV-R1")["code"] == "E-CLM-001"

    again = upload_bill(his, psn_no, "INV-R1", "1500.00")
    assert again != claim_id
    applied = apply_for(http, psn_no, "INV-R1")
    assert applied["status"] == 201 and applied["claim_id"] == again
    assert claim_of(http, claim_id)["status"] == "withdrawn"


@pytest.mark.parametrize("status", ["submitted", "under_review", "approved", "paid",
                                    "rejected"])
def test_a_2901_the_person_applied_for_cannot_be_reversed(db, http, his, status):
    psn_no = psn(his)
    declare_fault(his)
    claim_id = upload_bill(his, psn_no, "INV-R2")
    upload_msgid = his.last_msgid
    bring_to(http, psn_no, claim_id, "INV-R2", status)

    with unchanged(db):
        message = refused(reverse(his, psn_no, upload_msgid, "2901"), "E-REV-003")
    assert claim_id in message and status in message and "window" in message
    assert claim_of(http, claim_id)["status"] == status
    # the refusal was not remembered as a reversal: asked again, the same answer
    refused(reverse(his, psn_no, upload_msgid, "2901"), "E-REV-003")


def test_reversing_a_2901_with_another_persons_psn_no_is_refused(db, http, his):
    psn_no = psn(his)
    declare_fault(his)
    claim_id = upload_bill(his, psn_no, "INV-R3")
    upload_msgid = his.last_msgid
    liu = person(his, LIU_YANG)["baseinfo"]["psn_no"]
    with unchanged(db):
        refused(reverse(his, liu, upload_msgid, "2901"), "E-VIS-004")
    assert claim_of(http, claim_id)["status"] == "eligible"


def test_a_lost_2901_reversed_before_it_arrives_never_takes_effect(db, http, his):
    psn_no = psn(his)
    declare_fault(his)
    message = his.envelope("2901", fault_bill_input(psn_no, "INV-R4", "300.00", CARE))
    assert "nothing" in rslt(reverse(his, psn_no, message["msgid"], "2901"))
    refused(his.send(message), "E-MSG-003")
    assert apply_for(http, psn_no, "INV-R4")["code"] == "E-CLM-001"
    upload_bill(his, psn_no, "INV-R4", "300.00")  # a new msgid uploads it


# ------------------------------------------------------------------- 2902


def test_reversing_a_2902_cancels_the_fault_period(db, his):
    psn_no = psn(his)
    fault_id = declare_fault(his)
    declare_msgid = his.last_msgid
    assert rslt(reverse(his, psn_no, declare_msgid, "2902")) == f"reversed 2902 fault:{fault_id}"
    # the period is gone: no bill can be uploaded in it, and it may be declared again
    refused(fault_bill(his, psn_no, "INV-F1", "100.00", CARE), "E-CLM-005")
    assert declare_fault(his) != fault_id
    upload_bill(his, psn_no, "INV-F1", "100.00")


def test_a_2902_whose_period_has_a_bill_cannot_be_reversed_until_the_bill_is(db, http, his):
    psn_no = psn(his)
    declare_fault(his)
    declare_msgid = his.last_msgid
    claim_id = upload_bill(his, psn_no, "INV-F2")
    upload_msgid = his.last_msgid

    with unchanged(db):
        message = refused(reverse(his, psn_no, declare_msgid, "2902"), "E-REV-004")
    assert "INV-F2" in message and "2901" in message
    upload_bill(his, psn_no, "INV-F3", "100.00", at="2026-05-11 08:45:00")  # still declared
    ok(reverse(his, psn_no, his.last_msgid, "2901"))

    ok(reverse(his, psn_no, upload_msgid, "2901"))  # the hospital withdraws its bills first
    assert "reversed 2902" in rslt(reverse(his, psn_no, declare_msgid, "2902"))
    assert claim_of(http, claim_id)["status"] == "withdrawn"
    refused(fault_bill(his, psn_no, "INV-F4", "100.00", CARE), "E-CLM-005")


def test_a_2902_whose_bill_was_applied_for_keeps_its_period(db, http, his):
    psn_no = psn(his)
    declare_fault(his)
    declare_msgid = his.last_msgid
    claim_id = upload_bill(his, psn_no, "INV-F5")
    bring_to(http, psn_no, claim_id, "INV-F5", "approved")
    with unchanged(db):
        refused(reverse(his, psn_no, declare_msgid, "2902"), "E-REV-004")


def test_a_rejected_bill_does_not_keep_the_period(db, http, his):
    psn_no = psn(his)
    declare_fault(his)
    declare_msgid = his.last_msgid
    claim_id = upload_bill(his, psn_no, "INV-F6")
    bring_to(http, psn_no, claim_id, "INV-F6", "rejected")
    assert "reversed 2902" in rslt(reverse(his, psn_no, declare_msgid, "2902"))


def test_a_bill_also_covered_by_an_older_overlapping_period_does_not_keep_the_period(
    db, his
):
    """Periods declared before overlaps were refused may overlap: a bill inside another
    live period does not rely on the one reversed."""
    psn_no = psn(his)
    declare_fault(his)
    declare_msgid = his.last_msgid
    with db.write() as conn:
        conn.execute(insert(fault_period).values(
            fault_id="FLT-OLD", fixmedins_code=CODE, begin_at=datetime(2026, 5, 11, 8, 15),
            end_at=datetime(2026, 5, 11, 8, 45), reason="legacy", actor="operator",
            created_at=datetime(2026, 5, 11, 8, 50)))
    upload_bill(his, psn_no, "INV-F7", at="2026-05-11 08:30:00")
    assert "reversed 2902" in rslt(reverse(his, psn_no, declare_msgid, "2902"))
    upload_bill(his, psn_no, "INV-F8", at="2026-05-11 08:40:00")  # the old period remains
    refused(fault_bill(his, psn_no, "INV-F9", "100.00", "2026-05-11 08:50:00"), "E-CLM-005")


@pytest.mark.parametrize("sent", ["null", ""])
def test_a_2902_is_reversed_without_a_psn_no(db, his, sent):
    """A fault period is no person's: the HIS has no psn_no to send."""
    fault_id = declare_fault(his)
    answer = reverse(his, sent, his.last_msgid, "2902")
    assert rslt(answer) == f"reversed 2902 fault:{fault_id}"
    refused(fault_bill(his, psn(his), "INV-F11", "100.00", CARE), "E-CLM-005")
    refused(reverse(his, sent, his.next_msgid(), "2901"), "E-ENV-004")  # a bill's is needed


def test_a_lost_2902_reversed_before_it_arrives_never_takes_effect(db, his):
    psn_no = psn(his)
    message = his.envelope("2902", {"data": {"begntime": "2026-05-11 08:00:00",
                                             "endtime": "2026-05-11 09:00:00", "memo": "x"}})
    assert "nothing" in rslt(reverse(his, psn_no, message["msgid"], "2902"))
    refused(his.send(message), "E-MSG-003")
    refused(fault_bill(his, psn_no, "INV-F10", "100.00", CARE), "E-CLM-005")


# ------------------------------------------------------------------- retries


@pytest.mark.parametrize("oinfno", ["2901", "2902"])
def test_a_retried_2601_repeats_its_answer_and_a_second_says_already_reversed(
    db, his, oinfno
):
    psn_no = psn(his)
    declare_fault(his)
    if oinfno == "2901":
        upload_bill(his, psn_no, "INV-T1")
    omsgid = his.last_msgid
    message = his.envelope("2601", {"data": {"psn_no": psn_no, "omsgid": omsgid,
                                             "oinfno": oinfno}})
    first, retried = his.send(message), his.send(message)
    assert first["infcode"] == 0 and retried["output"] == first["output"]
    assert first["output"]["data"]["rslt"].startswith(f"reversed {oinfno}")
    second = rslt(reverse(his, psn_no, omsgid, oinfno))
    assert second.startswith("already reversed earlier (reversed")


def test_the_list_of_reversible_transactions_names_2901_and_2902(db, his):
    psn_no = psn(his)
    ok(his.call("9002", {"signOut": {"sign_no": his.sign_no, "opter_no": "001"}}))
    his.sign_no = ""
    message = refused(reverse(his, psn_no, his.last_msgid, "9002"), "E-REV-002")
    assert "2901" in message and "2902" in message


# ------------------------------------------------------------------- at the same moment


def test_a_bill_and_the_reversal_of_its_period_at_once_never_leave_a_bill_without_period(
    db, app, his
):
    """The 2901 holds the period while it records the bill; the 2601 locks it before
    looking for bills: exactly one of them succeeds, in every round."""
    psn_no = psn(his)
    for day in range(1, 5):
        at = f"2026-05-0{day} 08:30:00"
        declare_fault(his, f"2026-05-0{day} 08:00:00", f"2026-05-0{day} 09:00:00")
        reversal = his.envelope("2601", {"data": {"psn_no": psn_no, "omsgid": his.last_msgid,
                                                  "oinfno": "2902"}})
        upload = his.envelope("2901", fault_bill_input(psn_no, f"INV-C{day}", "100.00", at))
        requests = [(his.headers(), json.dumps(m).encode()) for m in (reversal, upload)]
        answers = run_threads(app.state.hospital.handle, requests)
        codes = [a["err_msg"][:9] if a["infcode"] else "ok" for a in answers]
        assert codes in (["ok", "E-CLM-005"], ["E-REV-004", "ok"]), codes



def test_a_bill_withdrawn_and_applied_for_at_once_is_one_or_the_other(db, app, his, clock):
    """The claim's row orders the 2601 and the application: the bill is withdrawn and the
    application finds none, or it is applied for and the 2601 is refused."""
    psn_no = psn(his)
    declare_fault(his)
    payee = Payee("银行", "6222020200001234567")
    for round_ in range(4):
        invono = f"INV-W{round_}"
        upload_bill(his, psn_no, invono, "100.00")
        reversal = his.envelope("2601", {"data": {"psn_no": psn_no, "omsgid": his.last_msgid,
                                                  "oinfno": "2901"}})
        body = json.dumps(reversal).encode()

        def withdraw(headers: dict[str, str] = his.headers(), body: bytes = body) -> str:
            answer = app.state.hospital.handle(headers, body)
            return answer["err_msg"][:9] if answer["infcode"] else "withdrawn"

        def apply(invono: str = invono) -> str:
            try:
                with db.write() as conn:
                    applications.apply_for(window_call(conn, clock), psn_no, CODE, invono,
                                           payee)
                    return "applied"
            except Refused as refusal:
                return refusal.code

        answers = run_threads(lambda work: work(), [(withdraw,), (apply,)])
        assert answers in (["withdrawn", "E-CLM-001"], ["E-REV-003", "applied"]), answers
