"""The console's filings page over HTTP: a person's filings and the newest of everyone,
registering one at the window and cancelling one (clerk), the refusals shown on the page
(a field named, a filing a settlement rests on), in both languages."""

from __future__ import annotations

import re
from datetime import timedelta

from conftest import AUDITOR, CLERK
from flows import SIGNED, ZHAO_LEI
from test_console import csrf_of, sign_in
from test_errors import unchanged
from test_reimbursement import bill, psn, review_and_decide, window_apply
from yibao.services import audit

PAGE = "/console/filings"
ZHAO = "13010200000000000005"  # 赵磊, insured in Hebei (130102)
LI = "11000000000000000002"  # 李建国, insured in Beijing
TEMPORARY = {"filing_type": "temporary", **SIGNED, "area": "110000", "end_date": "2026-06-30",
             "reason": "visiting family"}


def register(http, psn_no: str = ZHAO, **fields: str):
    form = http.get(PAGE).text
    return http.post(PAGE, data={"csrf": csrf_of(form), "psn_no": psn_no,
                                 **TEMPORARY, **fields}, follow_redirects=False)


def serial_of(answer) -> str:
    assert answer.status_code == 303, answer.text[:500]
    found = re.search(r"serial=(F[^&]+)", answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def row_of(html: str, serial: str) -> str:
    found = re.search(rf'<tr id="filing-{serial}">(.*?)</tr>', html, re.S)
    assert found, f"{serial} not listed"
    return found.group(1)


def rest_status(http, psn_no: str, serial: str) -> str:
    listed = http.get(f"/admin/v1/persons/{psn_no}/filings", headers=AUDITOR).json()
    return str(next(f["status"] for f in listed if f["trt_dcla_detl_sn"] == serial))


def test_a_clerk_registers_a_filing_and_cancels_it(db, http):
    sign_in(http, "clerk")
    answer = register(http)
    serial = serial_of(answer)
    assert answer.headers["location"] == (
        f"{PAGE}?done=filing-registered&psn_no={ZHAO}&serial={serial}")
    shown = http.get(answer.headers["location"]).text
    assert "备案已登记。" in shown
    row = row_of(shown, serial)
    assert "temporary" in row and "其他临时外出就医人员" in row and "有效" in row
    assert "参保地 130102" in row and "就医地 110000" in row
    assert "2026-05-11 09:30:00 — 2026-07-01 00:00:00" in row  # through 30 June
    english = row_of(http.get(f"{PAGE}?psn_no={ZHAO}&lang=en").text, serial)
    assert "active" in english and "insured in 130102" in english
    assert rest_status(http, ZHAO, serial) == "active"

    cancelled = http.post(f"{PAGE}/{serial}/cancel", follow_redirects=False, data={
        "csrf": csrf_of(shown), "psn_no": ZHAO, "reason": "trip called off"})
    assert cancelled.status_code == 303
    page = http.get(cancelled.headers["location"]).text
    assert "The filing is cancelled." in page  # the language chosen stays
    row = row_of(page, serial)
    assert "cancelled" in row and "trip called off" in row
    assert f'id="cancel-{serial}"' not in row  # nothing left to cancel
    assert rest_status(http, ZHAO, serial) == "cancelled"
    with db.read() as conn:
        logged = [(a["action"], a["subject"], a["role"])
                  for a in audit.actions(conn, actor="clerk")]
    assert logged[:2] == [("filing.cancel", serial, "clerk"),
                          ("filing.register", serial, "clerk")]


def test_without_a_person_the_newest_filings_of_everyone_are_listed(db, http, clock):
    sign_in(http, "clerk")
    first = serial_of(register(http))
    clock.now += timedelta(minutes=1)
    second = serial_of(register(http, LI, area="130102"))
    html = http.get(PAGE).text
    assert "最新备案" in html
    assert html.index(f'id="filing-{second}"') < html.index(f'id="filing-{first}"')
    assert f'id="filing-{first}"' not in http.get(f"{PAGE}?psn_no={LI}").text


def test_a_refused_filing_names_the_field_keeps_the_form_and_changes_nothing(db, http):
    sign_in(http, "clerk")
    with unchanged(db):
        missing = register(http, "")
        wrong_day = register(http, end_date="30/06/2026")
        insured_place = register(http, LI, area="110000")
        too_long = register(http, reason="长" * 501)
    assert missing.status_code == 400 and "E-ENV-004" in missing.text
    assert "psn_no" in missing.text
    assert wrong_day.status_code == 400 and "E-ENV-005" in wrong_day.text
    assert "end_date" in wrong_day.text and 'value="30/06/2026"' in wrong_day.text
    assert insured_place.status_code == 400 and "E-FIL-008" in insured_place.text
    assert "110000 is the insured place" in insured_place.text
    assert too_long.status_code == 400 and "reason: at most 500" in too_long.text
    english = http.post(f"{PAGE}?lang=en", data={
        "csrf": csrf_of(http.get(PAGE).text), "psn_no": ZHAO, **TEMPORARY,
        "filing_type": "holiday"})
    assert english.status_code == 400 and "E-FIL-008" in english.text
    assert "Register a filing" in english.text


def test_a_filing_a_settlement_rests_on_is_not_cancelled(db, http, his_factory):
    psn_no = psn(his_factory("H11010500001"), ZHAO_LEI)
    filed = http.post("/admin/v1/filings", headers=CLERK, json={
        "psn_no": psn_no, **TEMPORARY}).json()["trt_dcla_detl_sn"]
    claim = window_apply(http, psn_no, reason="after_discharge", trt_dcla_detl_sn=filed,
                         bill=bill("INV-C1", ("1", "XA01AAA0001", "1800.00")))
    review_and_decide(http, claim["claim_id"])
    sign_in(http, "clerk")
    page = http.get(f"{PAGE}?psn_no={psn_no}").text
    with unchanged(db):
        refused = http.post(f"{PAGE}/{filed}/cancel", data={
            "csrf": csrf_of(page), "psn_no": psn_no, "reason": "moved back"})
    assert refused.status_code == 409 and "E-FIL-009" in refused.text
    assert "used by a live settlement" in refused.text
    assert "有效" in row_of(refused.text, filed)


def test_a_cancellation_needs_a_reason_the_form_token_and_the_clerks_role(db, http):
    sign_in(http, "clerk")
    serial = serial_of(register(http))
    page = http.get(f"{PAGE}?psn_no={ZHAO}").text
    with unchanged(db):
        no_reason = http.post(f"{PAGE}/{serial}/cancel?lang=en", data={
            "csrf": csrf_of(page), "psn_no": ZHAO, "reason": " "})
        forged = http.post(f"{PAGE}/{serial}/cancel", data={
            "csrf": "forged", "psn_no": ZHAO, "reason": "x"})
    sign_in(http, "auditor")
    audited = http.get(f"{PAGE}?psn_no={ZHAO}").text
    with unchanged(db):
        not_clerk = http.post(f"{PAGE}/{serial}/cancel", data={
            "csrf": csrf_of(audited), "psn_no": ZHAO, "reason": "x"})
        not_registering = http.post(PAGE, data={"csrf": csrf_of(audited), "psn_no": ZHAO,
                                                **TEMPORARY})
    assert no_reason.status_code == 400 and "E-ENV-004" in no_reason.text
    assert "reason" in no_reason.text and "Filings" in no_reason.text
    assert forged.status_code == 403 and "E-ADM-010" in forged.text
    assert f'id="cancel-{serial}"' not in audited and 'id="register"' not in audited
    for answer in (not_clerk, not_registering):
        assert answer.status_code == 403 and "E-ADM-003" in answer.text
        assert "clerk" in answer.text
    assert rest_status(http, ZHAO, serial) == "active"
