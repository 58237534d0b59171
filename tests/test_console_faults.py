"""The console's fault periods page over HTTP: an institution's periods with their
status, declaring one and cancelling one (administrator), the refusals shown on the page
(a field named, a period bills rely on: E-REV-004), in both languages."""

from __future__ import annotations

import re

from conftest import AUDITOR
from test_console import csrf_of, sign_in
from test_errors import unchanged
from test_reimbursement import declare_fault, psn
from test_reversal_claims import CODE, upload_bill
from yibao.services import audit

PAGE = "/console/faults"
MORNING = {"begin_at": "2026-05-11T07:00", "end_at": "2026-05-11T09:00",
           "reason": "platform link down"}


def declare(http, code: str = CODE, **fields: str):
    form = http.get(f"{PAGE}?code={code}").text
    return http.post(PAGE, follow_redirects=False,
                     data={"csrf": csrf_of(form), "code": code, **MORNING, **fields})


def fault_of(answer) -> str:
    assert answer.status_code == 303, answer.text[:500]
    found = re.search(r"fault=(FLT[^&]+)", answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def row_of(html: str, fault_id: str) -> str:
    found = re.search(rf'<tr id="period-{fault_id}">(.*?)</tr>', html, re.S)
    assert found, f"{fault_id} not listed"
    return found.group(1)


def rest_period(http, fault_id: str) -> dict:
    reply = http.get(f"/admin/v1/faults/{fault_id}", headers=AUDITOR)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def test_an_administrator_declares_a_fault_period_and_cancels_it(db, http):
    sign_in(http, "admin")
    first = http.get(PAGE).text  # the first institution is chosen
    assert 'value="H11010500001" selected' in first and "没有故障时段。" in first
    answer = declare(http)
    fault_id = fault_of(answer)
    assert answer.headers["location"] == (
        f"{PAGE}?done=fault-declared&code={CODE}&fault={fault_id}")
    page = http.get(answer.headers["location"]).text
    assert "故障时段已登记。" in page
    row = row_of(page, fault_id)
    assert "2026-05-11T07:00:00" in row and "2026-05-11T09:00:00" in row
    assert "platform link down" in row and "admin" in row and "生效中" in row
    assert rest_period(http, fault_id)["status"] == "in_force"
    assert "in force" in row_of(http.get(f"{PAGE}?code={CODE}&lang=en").text, fault_id)

    cancelled = http.post(f"{PAGE}/{fault_id}/cancel", follow_redirects=False, data={
        "csrf": csrf_of(page), "code": CODE, "reason": "declared for the wrong day"})
    assert cancelled.status_code == 303
    page = http.get(cancelled.headers["location"]).text
    assert "The fault period is cancelled." in page
    row = row_of(page, fault_id)
    assert "cancelled" in row and "cancelled by admin: declared for the wrong day" in row
    assert f'id="cancel-{fault_id}"' not in row
    with db.read() as conn:
        logged = [(a["action"], a["subject"]) for a in audit.actions(conn, actor="admin")]
    assert logged[:2] == [("fault.cancel", fault_id), ("fault.declare", fault_id)]


def test_a_refused_declaration_names_the_field_and_changes_nothing(db, http):
    sign_in(http, "admin")
    with unchanged(db):
        backwards = declare(http, end_at="2026-05-11T06:00")
        no_reason = declare(http, reason="")
        not_a_time = declare(http, begin_at="yesterday")
        unknown = declare(http, "H99999999999")
    assert backwards.status_code == 400 and "E-CLM-006" in backwards.text
    assert 'value="2026-05-11T06:00"' in backwards.text  # the form as typed
    assert no_reason.status_code == 400 and "E-ENV-004" in no_reason.text
    assert "reason" in no_reason.text
    assert not_a_time.status_code == 400 and "E-ENV-005" in not_a_time.text
    assert "begin_at" in not_a_time.text
    assert unknown.status_code == 404 and "E-ADM-001" in unknown.text
    fault_of(declare(http))
    english = http.post(f"{PAGE}?lang=en", data={
        "csrf": csrf_of(http.get(PAGE).text), "code": CODE, **MORNING,
        "begin_at": "2026-05-11T08:00", "end_at": "2026-05-11T10:00"})
    assert english.status_code == 400 and "overlaps fault period" in english.text
    assert "Declare a fault period" in english.text


def test_a_period_bills_rely_on_is_not_cancelled(db, http, his):
    psn_no = psn(his)
    fault_id = declare_fault(his)
    upload_bill(his, psn_no, "INV-C9")
    sign_in(http, "admin")
    page = http.get(f"{PAGE}?code={CODE}").text
    assert CODE in row_of(page, fault_id)  # declared by the hospital (2902)
    with unchanged(db):
        refused = http.post(f"{PAGE}/{fault_id}/cancel", data={
            "csrf": csrf_of(page), "code": CODE, "reason": "wrong day"})
    assert refused.status_code == 409 and "E-REV-004" in refused.text
    assert "INV-C9" in refused.text and "生效中" in row_of(refused.text, fault_id)
    assert rest_period(http, fault_id)["status"] == "in_force"


def test_only_an_administrator_changes_fault_periods(db, http):
    sign_in(http, "admin")
    fault_id = fault_of(declare(http))
    with unchanged(db):
        forged = http.post(f"{PAGE}/{fault_id}/cancel", data={
            "csrf": "forged", "code": CODE, "reason": "x"})
    assert forged.status_code == 403 and "E-ADM-010" in forged.text
    sign_in(http, "clerk")
    page = http.get(f"{PAGE}?code={CODE}").text
    assert 'id="declare"' not in page and f'id="cancel-{fault_id}"' not in page
    with unchanged(db):
        declared = declare(http, begin_at="2026-05-10T07:00", end_at="2026-05-10T08:00")
        cancelled = http.post(f"{PAGE}/{fault_id}/cancel", data={
            "csrf": csrf_of(page), "code": CODE, "reason": "x"})
    for answer in (declared, cancelled):
        assert answer.status_code == 403 and "E-ADM-003" in answer.text
        assert "administrator" in answer.text


def test_an_unknown_institution_in_the_address_is_said_so(http):
    sign_in(http, "auditor")
    answer = http.get(f"{PAGE}?code=H99999999999&lang=en")
    assert answer.status_code == 404 and "E-ADM-001" in answer.text
    assert 'id="declare"' not in answer.text
