"""The advance funds and prepayment by need on the console's clearing page, on both
databases: finance records an advance (it shows with its balance, low while no month
has been closed against it only if empty) and proposes a prepayment; an approver sees
the proposal with its buttons and approves it; the proposer cannot; a closed month's
region pair shows the fund before, drawn and after; the dashboard warns of a low fund;
both languages."""

from __future__ import annotations

from datetime import datetime

from console_tables import by_first_cell
from test_advance import BEIJING, HEBEI, _zhao_in_april, cli_run
from test_console import csrf_of, sign_in
from yibao.api.console.web import yuan

PAGE = "/console/clearing"


def _post(http, path: str, page: str, **fields: str):
    return http.post(path, data={"csrf": csrf_of(page), **fields}, follow_redirects=False)


def test_finance_records_an_advance_and_proposes_an_approver_approves(http, db, clock):
    sign_in(http, "finance")
    page = http.get(PAGE).text
    assert "尚未拨付预付金。" in page and 'id="record-advance"' in page
    assert 'id="propose-prepayment"' in page
    recorded = _post(http, f"{PAGE}/advances", page, insured=HEBEI, treatment=BEIJING,
                     amount="20000.00", note="2026")
    assert recorded.headers["location"] == f"{PAGE}?done=advance-recorded"
    page = http.get(recorded.headers["location"]).text
    assert "预付金已登记。" in page
    assert by_first_cell(page, "funds")[HEBEI] == [BEIJING, yuan(2_000_000), yuan(0), "正常"]

    refused = _post(http, f"{PAGE}/advances", page, insured=HEBEI, treatment=HEBEI,
                    amount="1.00")
    assert refused.status_code == 400 and "E-ADV-001" in refused.text

    proposed = _post(http, f"{PAGE}/prepayments", page, code="H11010500002",
                     amount="8000.00", reason="发热门诊扩容")
    assert proposed.headers["location"] == f"{PAGE}?done=prepayment-proposed"
    page = http.get(proposed.headers["location"]).text
    [(pid, row)] = by_first_cell(page, "proposals").items()
    assert row[:4] == ["H11010500002", yuan(800_000), "发热门诊扩容", "待审批"]
    assert f'id="approve-{pid}"' not in page  # finance proposes, does not approve
    tried = _post(http, f"{PAGE}/prepayments/{pid}/approve", page)
    assert tried.status_code == 403 and "E-ADM-003" in tried.text

    sign_in(http, "approver")
    page = http.get(PAGE).text
    assert f'id="approve-{pid}"' in page and f'id="reject-{pid}"' in page
    assert 'id="record-advance"' not in page and 'id="propose-prepayment"' not in page
    approved = _post(http, f"{PAGE}/prepayments/{pid}/approve", page)
    assert approved.headers["location"] == f"{PAGE}?done=prepayment-approved"
    page = http.get(approved.headers["location"]).text
    assert "预付已批准并记账。" in page
    row = by_first_cell(page, "proposals")[pid]
    assert row[3:7] == ["已批准", "2026-05", "finance", "approver"]
    english = http.get(PAGE + "?lang=en").text
    assert "Advance funds between regions" in english and "Prepayment by need" in english
    assert by_first_cell(english, "proposals")[pid][3] == "approved"


def test_a_closed_month_shows_the_draw_and_the_low_fund(http, db, his_factory, clock):
    clock.now = datetime(2026, 4, 10, 10, 0)
    sign_in(http, "finance")
    page = http.get(PAGE).text
    _post(http, f"{PAGE}/advances", page, insured=HEBEI, treatment=BEIJING, amount="10.00")
    owes = _zhao_in_april(his_factory, clock)
    clock.now = datetime(2026, 5, 3, 9, 0)
    cli_run(db, "run", "--month", "2026-04")
    cli_run(db, "close", "--month", "2026-04")
    sign_in(http, "auditor")  # any operator sees it (a new session: weeks went by)
    page = http.get(f"{PAGE}?month=2026-04").text
    assert by_first_cell(page, "regions")[HEBEI] == [
        BEIJING, yuan(owes), "1", "0", yuan(1000), yuan(1000), yuan(0), yuan(owes - 1000)]
    assert by_first_cell(page, "funds")[HEBEI] == [BEIJING, yuan(0), yuan(owes), "余额不足"]
    dashboard = http.get("/console/dashboard").text
    assert 'id="low-advances"' in dashboard and f"{HEBEI} → {BEIJING}" in dashboard
