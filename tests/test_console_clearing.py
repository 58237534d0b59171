"""The monthly clearing in the console over HTTP, on both databases: the finance office
runs a month (what each institution is due equals the settlements the test made) and
closes it; a closed month is not run or closed again (E-CLR-001); a month not run cannot
be closed and a malformed month is refused (E-CLR-002); other roles neither see nor may
make these changes; both languages; every change is in the operators' log."""

from __future__ import annotations

from datetime import datetime

from console_tables import by_first_cell
from flows import LI_JIANGUO, WANG_FANG, fen, settle_once
from test_console import csrf_of, sign_in
from yibao.api.console.web import yuan
from yibao.services import audit

APRIL = "/console/clearing?month=2026-04"


def owed(s: dict) -> int:
    return fen(s["fund_pay_sumamt"]) + fen(s["acct_pay"])


def _april(his_factory, clock) -> dict[str, int]:
    """Settlements in April at two hospitals: what each is due."""
    first, second = his_factory("H11010500001"), his_factory("H11010500002")
    clock.now = datetime(2026, 4, 15, 10, 0)
    made = [settle_once(first, WANG_FANG, "300.00"), settle_once(first, LI_JIANGUO, "80.00"),
            settle_once(second, WANG_FANG, "120.00")]
    clock.now = datetime(2026, 5, 11, 9, 30)
    return {"H11010500001": owed(made[0]) + owed(made[1]), "H11010500002": owed(made[2])}


def _post(http, path: str, page: str):
    return http.post(path, data={"csrf": csrf_of(page)}, follow_redirects=False)


def test_finance_runs_and_closes_a_month_which_then_stays_closed(http, db, his_factory, clock):
    due = _april(his_factory, clock)
    sign_in(http, "finance")
    page = http.get("/console/clearing").text  # last month by default
    assert 'id="month-status">尚未运行' in page
    assert 'id="run"' in page and 'id="close"' not in page

    ran = _post(http, "/console/clearing/2026-04/run", page)
    assert ran.status_code == 303
    assert ran.headers["location"] == "/console/clearing?done=clearing-run&month=2026-04"
    page = http.get(ran.headers["location"]).text
    assert "清算已运行。" in page and 'id="month-status">未关账' in page
    institutions = by_first_cell(page, "institutions")
    assert institutions.pop("合计")[-1] == yuan(sum(due.values()))
    assert {code: row[-1] for code, row in institutions.items()} == {
        code: yuan(amount) for code, amount in due.items()}
    assert institutions["H11010500001"][1:3] == ["2", "0"]  # settlements, cancellations
    assert by_first_cell(page, "months")["2026-04"][:4] == ["未关账", "1", "3",
                                                           "2026-05-11 09:30:00"]
    assert 'id="run"' in page and 'id="close"' in page and "hx-confirm" in page

    closed = _post(http, "/console/clearing/2026-04/close", page)
    assert closed.headers["location"] == "/console/clearing?done=clearing-close&month=2026-04"
    page = http.get(APRIL).text
    assert 'id="month-status">已关账' in page
    assert 'id="run"' not in page and 'id="close"' not in page
    assert by_first_cell(page, "months")["2026-04"][-1] == "finance"  # closed by

    for step in ("run", "close"):
        again = _post(http, f"/console/clearing/2026-04/{step}", page)
        assert again.status_code == 409 and "E-CLR-001" in again.text
        assert 'id="month-status">已关账' in again.text
    english = http.get(APRIL + "&lang=en").text
    assert 'id="month-status">closed' in english and "Clearing of 2026-04" in english
    with db.read() as conn:
        logged = [(a["action"], a["role"], a["subject"])
                  for a in audit.actions(conn, actor="finance")]
    assert logged[:2] == [("clearing.close", "finance", "2026-04"),
                          ("clearing.run", "finance", "2026-04")]


def test_only_the_finance_office_runs_or_closes_a_month(http, db, his_factory, clock):
    _april(his_factory, clock)
    sign_in(http, "auditor")
    page = http.get(APRIL).text
    assert 'id="run"' not in page and 'data-permission' not in page
    tried = _post(http, "/console/clearing/2026-04/run", page)
    assert tried.status_code == 403 and "E-ADM-003" in tried.text and "finance" in tried.text
    assert 'id="month-status">尚未运行' in http.get(APRIL).text
    with db.read() as conn:
        assert audit.actions(conn, actor="auditor", subject="2026-04") == []


def test_a_month_not_run_is_not_closed_and_a_malformed_month_is_refused(http):
    sign_in(http, "finance")
    page = http.get("/console/clearing?lang=en").text
    assert "No month has been run." in page
    not_run = _post(http, "/console/clearing/2026-03/close", page)
    assert not_run.status_code == 400
    assert "E-CLR-002" in not_run.text and "2026-03 has not been run" in not_run.text
    for bad in ("2026-13", "26-04", "2026-4"):
        shown = http.get(f"/console/clearing?month={bad}")
        assert shown.status_code == 400 and "E-CLR-002" in shown.text
        assert 'id="month-status">not run yet' in shown.text  # last month instead
        ran = _post(http, f"/console/clearing/{bad}/run", page)
        assert ran.status_code == 400 and "E-CLR-002" in ran.text
    assert "No month has been run." in http.get("/console/clearing").text
