"""The console's claims pages over HTTP: the queue, the window's application for an
uploaded bill (clerk), and a claim's review, approval and rejection, with the roles'
refusals, separation of duties, the second approval and the payee's confirmation, in
both languages."""

from __future__ import annotations

import re

from calls import command_call
from conftest import CLERK, REVIEWER
from flows import WANG_FANG, ok
from test_console import csrf_of, sign_in
from test_errors import unchanged
from test_operators import LARGE, SMALL
from test_reimbursement import PAYEE, bill, declare_fault, fault_bill, holder_of, psn
from test_window_payee import ELSEWHERE
from yibao.services import operators

CLAIMS = "/console/claims"


def signed_in(http, name: str, page: str = "/console") -> str:
    """Sign in as ``name``; the form token of ``page``."""
    assert sign_in(http, name).status_code == 303
    return csrf_of(http.get(page).text)


def uploaded_bill(his, invono: str = "INV-1") -> str:
    """A bill the hospital uploaded in a fault period (2902, 2901); the person's psn_no."""
    psn_no = psn(his)
    declare_fault(his)
    ok(fault_bill(his, psn_no, invono, "2000.00", "2026-05-11 08:30:00"))
    return psn_no


def application(psn_no: str, /, **fields: str) -> dict[str, str]:
    """The window's form for the person's uploaded bill INV-1, ``fields`` changed."""
    return {"psn_no": psn_no, "fixmedins_code": "H11010500001", "invono": "INV-1",
            "bank_name": PAYEE["bank_name"], "bank_account": PAYEE["bank_account"],
            "account_name": holder_of(psn_no), **fields}


def window_claim(http, psn_no: str, invono: str, line: tuple[str, str, str] = SMALL,
                 payee: dict[str, str] | None = None) -> str:
    """A claim with paper lists through /admin/v1 (the clerk): its id."""
    payee = payee or dict(PAYEE, account_name=holder_of(psn_no))
    made = http.post("/admin/v1/claims", headers=CLERK, json={
        "psn_no": psn_no, "reason": "no_credential", "payee": payee,
        "bill": bill(invono, line)})
    assert made.status_code == 201, made.text
    return str(made.json()["claim_id"])


def reviewed(http, claim_id: str) -> None:
    assert http.post(f"/admin/v1/claims/{claim_id}/review", headers=REVIEWER).status_code == 200


def post(http, path: str, csrf: str, **fields: str):
    return http.post(path, data={"csrf": csrf, **fields}, follow_redirects=False)


def banner(html: str) -> str:
    found = re.search(r'<div class="error" role="alert" id="error">(.*?)</div>', html, re.S)
    assert found, "no refusal shown"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def status_of(html: str) -> str:
    found = re.search(r'id="claim-status"><span class="status status-([a-z_]+)"', html)
    assert found, "no status shown"
    return found.group(1)


def operator_with(db, clock, name: str, roles: list[str]) -> None:
    with db.write() as conn:
        operators.create(command_call(conn, clock), name, roles, token=f"demo-{name}")


def test_a_clerk_applies_for_an_uploaded_bill_and_the_claim_page_shows_it(db, http, his):
    psn_no = uploaded_bill(his)
    csrf = signed_in(http, "clerk", CLAIMS)
    made = post(http, CLAIMS, csrf, **application(psn_no))
    assert made.status_code == 303
    path, done = made.headers["location"].split("?")
    assert path.startswith(CLAIMS + "/") and done == "done=applied"
    html = http.get(made.headers["location"]).text
    assert "申请已提交" in html and status_of(html) == "submitted"
    assert WANG_FANG not in html and f"{WANG_FANG[:6]}********{WANG_FANG[-4:]}" in html
    assert "****4567" in html and PAYEE["bank_account"] not in html
    assert "XA01AAA0001" in html and "2,000.00" in html and "甲类" in html
    # the steps: the hospital's upload, then the clerk's application, under the clerk's role
    steps = re.findall(r"status-([a-z_]+)\">[^<]+</span></td><td>([^<]*)</td>\s*<td>([^<]*)</td>",
                       html)
    assert steps == [("eligible", "H11010500001", ""), ("submitted", "clerk", "窗口经办")]
    english = http.get(path + "?lang=en").text
    assert "Not settled in real time because" in english and "submitted" in english
    queue = http.get(CLAIMS + "?status=submitted").text
    assert path.removeprefix(CLAIMS + "/") in queue and "count-submitted\">1<" in queue


def test_the_queue_shows_the_oldest_waiting_claim_first_with_its_age(db, http, his, clock):
    from datetime import timedelta
    psn_no = psn(his)
    older = window_claim(http, psn_no, "INV-A")
    clock.now += timedelta(days=3)
    newer = window_claim(http, psn_no, "INV-B")
    signed_in(http, "auditor")
    html = http.get(CLAIMS + "?status=submitted&lang=en").text
    assert html.index(older) < html.index(newer) and "Oldest first" in html
    ages = re.findall(r'<td class="num">(\d+)</td><td>2026', html)
    assert ages == ["3", "0"]
    assert "Application at the window" not in html  # the auditor applies for nothing
    every = http.get(CLAIMS + "?status=").text
    assert every.index(newer) < every.index(older)  # every status: last changed first


def test_an_application_with_a_wrong_field_is_refused_naming_it(db, http, his):
    psn_no = uploaded_bill(his)
    csrf = signed_in(http, "clerk", CLAIMS)
    cases = [({"invono": ""}, 400, "E-ENV-004", "invono"),
             ({"bank_account": "123"}, 400, "E-ENV-005", "bank_account"),
             ({"psn_no": ""}, 400, "E-ENV-004", "psn_no"),
             ({"account_name": "李四"}, 400, "E-ECT-014", "holder"),
             ({"invono": "INV-404"}, 404, "E-CLM-001", "INV-404")]
    with unchanged(db):
        for fields, status, code, named in cases:
            answer = post(http, CLAIMS, csrf, **application(psn_no, **fields))
            assert answer.status_code == status, (fields, answer.text[:300])
            shown = banner(answer.text)
            assert shown.startswith(code) and named in shown, shown
            assert 'value="' + application(psn_no, **fields)["bank_name"] + '"' in answer.text
        stale = post(http, CLAIMS, "stale", **application(psn_no))
        assert stale.status_code == 403 and banner(stale.text).startswith("E-ADM-010")
    signed_in(http, "reviewer")
    with unchanged(db):
        other_role = post(http, CLAIMS, csrf_of(http.get(CLAIMS).text),
                          **application(psn_no, invono=""))  # the role first
        assert other_role.status_code == 403 and "E-ADM-003" in other_role.text


def test_a_reviewer_starts_the_review_and_an_approver_approves(db, http, his):
    claim_id = window_claim(http, psn(his), "INV-9")
    page = f"{CLAIMS}/{claim_id}"
    csrf = signed_in(http, "clerk", page)
    assert post(http, page + "/review", csrf).status_code == 403  # not the clerk's
    csrf = signed_in(http, "reviewer", page)
    assert 'data-permission="claims.review"' in http.get(page).text
    started = post(http, page + "/review", csrf)
    assert started.headers["location"] == page + "?done=review-started"
    under_review = http.get(page).text
    assert status_of(under_review) == "under_review"
    assert 'id="approved-amount"' not in under_review  # nothing decided yet
    assert post(http, page + "/approve", csrf).status_code == 403  # not the reviewer's
    again = post(http, page + "/review", csrf)
    assert again.status_code == 409 and banner(again.text).startswith("E-CLM-004")

    csrf = signed_in(http, "approver", page)
    approved = post(http, page + "/approve", csrf, note="lists checked")
    assert approved.headers["location"] == page + "?done=approved"
    html = http.get(page + "?done=approved&lang=en").text
    assert status_of(html) == "approved" and "Approved: the payment order is made." in html
    assert re.search(r'id="approved-amount"><span class="money">140.00<', html)
    assert re.search(r'id="fund-total"><span class="money">140.00<', html)
    # each fund's part, named with its code: here one fund pays it all
    assert re.findall(r'\((\d{6})\)</th><td class="num"><span class="money">([\d.,]+)<',
                      html) == [(re.findall(r"\((\d{6})\)</th>", html)[0], "140.00")]
    assert re.search(r"Cash</th><td class=\"num\"><span class=\"money\">1,860.00<", html)
    assert re.search(r">approved</span></td><td>approver</td>\s*<td>approver</td>", html)
    assert "lists checked" in html and 'id="payment"' in html
    assert "data-permission" not in html.split("<main", 1)[1]  # nothing left to change


def test_who_reviewed_a_claim_does_not_approve_it(db, http, his, clock):
    operator_with(db, clock, "both", ["reviewer", "approver"])
    claim_id = window_claim(http, psn(his), "INV-9")
    page = f"{CLAIMS}/{claim_id}"
    csrf = signed_in(http, "both", page)
    assert post(http, page + "/review", csrf).status_code == 303
    with unchanged(db):
        refused = post(http, page + "/approve", csrf)
        assert refused.status_code == 403
        shown = banner(refused.text)
        assert shown.startswith("E-ADM-004") and "both reviewed this claim" in shown
    assert status_of(refused.text) == "under_review"


def test_above_the_limit_a_second_different_approver_approves(db, http, his):
    claim_id = window_claim(http, psn(his), "INV-L", LARGE)
    reviewed(http, claim_id)
    page = f"{CLAIMS}/{claim_id}"
    csrf = signed_in(http, "approver", page)
    assert "金额超过 5,000.00 元需另一位审批人再次审批" in http.get(page).text
    first = post(http, page + "/approve", csrf)
    assert first.headers["location"] == page + "?done=first_approved"
    html = http.get(page).text
    assert status_of(html) == "under_review" and "status-first_approved" in html
    twice = post(http, page + "/approve", csrf)
    assert twice.status_code == 403 and "gave the first approval" in banner(twice.text)
    csrf = signed_in(http, "approver2", page)
    assert post(http, page + "/approve", csrf).headers["location"] == page + "?done=approved"
    html = http.get(page + "?lang=en").text
    assert status_of(html) == "approved" and "5,740.00" in html


def test_an_account_other_than_the_registered_payee_needs_the_approvers_tick(db, http, his):
    from apps import ChannelApp
    app = ChannelApp(http)
    app.register_payee(app.activate())
    claim_id = window_claim(http, psn(his), "INV-W", payee=ELSEWHERE)
    reviewed(http, claim_id)
    page = f"{CLAIMS}/{claim_id}"
    csrf = signed_in(http, "approver", page)
    html = http.get(page).text
    assert 'id="payee-differs"' in html and "****4567" in html and 'id="payee_confirmed"' in html
    with unchanged(db):
        unticked = post(http, page + "/approve", csrf)
        assert unticked.status_code == 409
        assert banner(unticked.text).startswith("E-ADM-007")
    ticked = post(http, page + "/approve", csrf, payee_confirmed="yes")
    assert ticked.headers["location"] == page + "?done=approved"
    assert "****1111 (not the registered one) confirmed" in http.get(page).text


def test_a_rejection_needs_its_reasons(db, http, his):
    claim_id = window_claim(http, psn(his), "INV-R")
    page = f"{CLAIMS}/{claim_id}"
    csrf = signed_in(http, "reviewer", page)
    with unchanged(db):
        blank = post(http, page + "/reject", csrf, reason="  ")
        assert blank.status_code == 400 and banner(blank.text).startswith("E-CLM-006")
        long = post(http, page + "/reject", csrf, reason="x" * 501)
        assert long.status_code == 400 and "E-ENV-005" in banner(long.text)
        assert "reason" in banner(long.text)
        stale = post(http, page + "/reject", "stale", reason="no invoice")
        assert stale.status_code == 403 and banner(stale.text).startswith("E-ADM-010")
    done = post(http, page + "/reject", csrf, reason="no invoice enclosed")
    assert done.headers["location"] == page + "?done=rejected"
    html = http.get(page + "?lang=en").text
    assert status_of(html) == "rejected" and "no invoice enclosed" in html
    assert re.search(r">rejected</span></td><td>reviewer</td>\s*<td>reviewer</td>", html)


def test_an_unknown_claim_is_not_found(db, http):
    signed_in(http, "auditor")
    missing = http.get(f"{CLAIMS}/CLM-none")
    assert missing.status_code == 404 and "E-CLM-001" in missing.text
    assert http.get(f"{CLAIMS}/CLM-none?lang=en").status_code == 404
