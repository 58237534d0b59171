"""The console's payments page over HTTP: the payment orders by status, the bank file
downloaded (the same CSV as /admin/v1), the bank's answers and a failed order sent
again, with the roles' refusals and separation of duties (E-ADM-005), in both
languages."""

from __future__ import annotations

import re

from conftest import APPROVER, FINANCE
from test_console import csrf_of
from test_console_claims import banner, operator_with, post, reviewed, signed_in, window_claim
from test_errors import unchanged
from test_reimbursement import psn

PAYMENTS = "/console/payments"


def approved_claim(http, his, invono: str = "INV-9") -> str:
    claim_id = window_claim(http, psn(his), invono)
    reviewed(http, claim_id)
    decided = http.post(f"/admin/v1/claims/{claim_id}/decision", headers=APPROVER,
                        json={"approve": True})
    assert decided.status_code == 200, decided.text
    return claim_id


def order_status(html: str, order_id: str) -> str:
    found = re.search(rf'id="order-{order_id}">.*?class="order-status"><span class="status '
                      r'status-([a-z]+)"', html, re.S)
    assert found, f"order {order_id} not shown"
    return found.group(1)


def test_finance_downloads_the_bank_file_and_records_the_banks_answers(db, http, his):
    claim_id = approved_claim(http, his)
    csrf = signed_in(http, "finance", PAYMENTS)
    listed = http.get(PAYMENTS).text
    assert "count-pending\">1<" in listed and 'id="export"' in listed
    assert "6222020200001234567" not in listed and "****4567" in listed

    export = post(http, PAYMENTS + "/export", csrf)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    batch = export.headers["x-batch"]
    assert export.headers["content-disposition"] == (
        f'attachment; filename="bank-file-{batch}.csv"')
    head, row = export.text.splitlines()
    assert head == "batch,order_id,claim_id,bank_name,bank_account,amount_yuan"
    assert row.startswith(batch + ",") and row.endswith(
        f",{claim_id},中国工商银行北京分行,6222020200001234567,140.00")
    order_id = row.split(",")[1]
    html = http.get(PAYMENTS + "?lang=en").text
    assert order_status(html, order_id) == "exported" and batch in html
    assert 'id="export"' not in html  # nothing pending

    with unchanged(db):
        cases = [({"outcome": "maybe"}, 400, "E-ENV-005", "outcome"),
                 ({"outcome": "failed", "error": " "}, 400, "E-ENV-004", "error"),
                 ({"outcome": "failed", "error": "x" * 301}, 400, "E-ENV-005", "error")]
        for fields, status, code, named in cases:
            refused = post(http, f"{PAYMENTS}/{order_id}/result", csrf, **fields)
            assert refused.status_code == status, fields
            assert banner(refused.text).startswith(code) and named in banner(refused.text)
        stale = post(http, f"{PAYMENTS}/{order_id}/result", "stale", outcome="paid")
        assert stale.status_code == 403 and banner(stale.text).startswith("E-ADM-010")

    failed = post(http, f"{PAYMENTS}/{order_id}/result", csrf, outcome="failed",
                  error="account frozen")
    assert failed.headers["location"] == PAYMENTS + "?done=payment-failed"
    html = http.get(PAYMENTS + "?status=failed").text
    assert order_status(html, order_id) == "failed" and "account frozen" in html
    assert f'id="retry-{order_id}"' in html and "1 / 3" in html
    retried = post(http, f"{PAYMENTS}/{order_id}/retry", csrf)
    assert retried.headers["location"] == PAYMENTS + "?done=payment-retried"
    again = post(http, f"{PAYMENTS}/{order_id}/retry", csrf)
    assert again.status_code == 409 and banner(again.text).startswith("E-CLM-004")

    second = post(http, PAYMENTS + "/export", csrf)
    assert second.headers["x-batch"] != batch and order_id in second.text
    paid = post(http, f"{PAYMENTS}/{order_id}/result", csrf, outcome="paid")
    assert paid.headers["location"] == PAYMENTS + "?done=payment-paid"
    assert "Recorded: paid." in http.get(paid.headers["location"]).text  # English kept
    claim = http.get(f"/console/claims/{claim_id}?lang=zh").text
    assert 'id="claim-status"><span class="status status-paid"' in claim
    assert re.search(r">已支付</span></td><td>finance</td>\s*<td>财务</td>", claim)
    twice = post(http, f"{PAYMENTS}/{order_id}/result", csrf, outcome="paid")
    assert twice.status_code == 409 and banner(twice.text).startswith("E-CLM-004")


def test_only_finance_exports_and_never_who_approved_a_claim_in_the_file(
        db, http, his, clock):
    operator_with(db, clock, "both", ["approver", "finance"])
    claim_id = window_claim(http, psn(his), "INV-9")
    reviewed(http, claim_id)
    csrf = signed_in(http, "both", f"/console/claims/{claim_id}")
    assert post(http, f"/console/claims/{claim_id}/approve", csrf).status_code == 303
    with unchanged(db):
        refused = post(http, PAYMENTS + "/export", csrf)
        assert refused.status_code == 403
        assert banner(refused.text).startswith("E-ADM-005") and claim_id in refused.text
        assert "count-pending\">1<" in refused.text
    signed_in(http, "approver")
    csrf = csrf_of(http.get(PAYMENTS).text)
    assert 'id="export"' not in http.get(PAYMENTS).text
    assert post(http, PAYMENTS + "/export", csrf).status_code == 403
    # the REST route answers the same file for another finance operator
    assert http.post("/admin/v1/payments/export", headers=FINANCE).text.count("\n") == 2


def test_an_unknown_order_and_an_unknown_status(db, http):
    csrf = signed_in(http, "finance", PAYMENTS)
    missing = post(http, f"{PAYMENTS}/PAY-none/result", csrf, outcome="paid")
    assert missing.status_code == 404 and banner(missing.text).startswith("E-CLM-001")
    html = http.get(PAYMENTS + "?status=lost&lang=en").text
    assert "No payment orders." in html and '<option value="" selected' not in html
