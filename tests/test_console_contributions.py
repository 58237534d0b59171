"""The console's contributions: a person's contribution history on their page, the
deferral decisions and declared periods page, an administrator deciding a deferral and
declaring a period, a refusal shown on the page; both languages."""

from __future__ import annotations

import re
from datetime import datetime

from conftest import CLERK
from test_console import csrf_of, sign_in

PAGE = "/console/contributions"
WANG = "11000000000000000001"  # 王芳, a Beijing employee of E110000000001


def _row(html: str, prefix: str) -> str:
    found = re.search(rf'<tr id="{prefix}[^"]*">(.*?)</tr>', html, re.S)
    assert found, f"no {prefix} row"
    return found.group(1)


def test_the_person_page_shows_the_contribution_history(db, http, clock):
    clock.now = datetime(2026, 5, 20, 9, 0)  # the payment's day has come
    made = http.post(f"/admin/v1/persons/{WANG}/contributions", headers=CLERK, json={
        "insutype": "310", "status": "arrears", "since": "2026-03-01", "owed": "1000.00"})
    assert made.status_code == 201, made.text
    paid = http.post(f"/admin/v1/persons/{WANG}/contributions/payments", headers=CLERK,
                     json={"insutype": "310", "paid_on": "2026-05-20", "owed": "1000.00"})
    assert paid.status_code == 201
    sign_in(http, "auditor")
    page = http.get(f"/console/persons/{WANG}").text
    assert "缴费记录" in page
    history = re.search(r'<table id="contribution-history">(.*?)</table>', page, re.S)
    assert history is not None
    rows = re.findall(r'<tr id="contribution-[^"]+">(.*?)</tr>', history.group(1), re.S)
    assert len(rows) == 2
    assert "正常缴费" in rows[0] and "40.00" in rows[0] and "缴费" in rows[0]
    assert "欠缴" in rows[1] and "2026-03-01" in rows[1] and "2026-05-20" in rows[1]
    assert "是，无中断" in rows[1] and "clerk" in rows[1]
    english = http.get(f"/console/persons/{WANG}?lang=en").text
    assert "in arrears" in english and "yes, no gap" in english


def test_an_administrator_decides_a_deferral_and_declares_a_period(db, http):
    sign_in(http, "admin")
    form = http.get(PAGE).text
    assert 'id="defer-button"' in form and 'id="declare-button"' in form
    decided = http.post(f"{PAGE}/deferrals", data={
        "csrf": csrf_of(form), "emp_no": "E110000000001", "insutype": "310",
        "begin_date": "2026-02-01", "until_date": "2026-06-30", "reason": "疫情期间缓缴"},
        follow_redirects=False)
    assert decided.status_code == 303, decided.text[:400]
    shown = http.get(decided.headers["location"]).text
    assert "缓缴决定已登记。" in shown
    row = _row(shown, "deferral-")
    assert "E110000000001" in row and "2026-06-30" in row and "疫情期间缓缴" in row
    assert "<td>3</td>" in row  # the employer's three persons
    declared = http.post(f"{PAGE}/declared", data={
        "csrf": csrf_of(shown), "area": "110000", "title": "疫情防控",
        "begin_date": "2026-06-01", "until_date": "2026-07-31"}, follow_redirects=False)
    assert declared.status_code == 303
    listed = http.get(declared.headers["location"] + "&lang=en").text
    assert "The period is declared." in listed
    assert "疫情防控" in _row(listed, "declared-") and "2026-07-31" in _row(listed, "declared-")
    person = http.get(f"/console/persons/{WANG}").text
    assert "deferred (through 2026-06-30)" in _row(person, "contribution-")  # kept English


def test_a_refused_decision_is_shown_and_a_clerk_sees_no_form(db, http):
    sign_in(http, "admin")
    form = http.get(PAGE).text
    backwards = http.post(f"{PAGE}/declared", data={
        "csrf": csrf_of(form), "area": "110000", "title": "t",
        "begin_date": "2026-07-31", "until_date": "2026-06-01"})
    assert backwards.status_code == 400 and "E-CON-001" in backwards.text
    assert 'value="t"' in backwards.text  # what was typed stays
    sign_in(http, "clerk")
    page = http.get(PAGE).text
    assert 'id="defer-button"' not in page and 'id="declare-button"' not in page
