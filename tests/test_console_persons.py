"""The console's person pages over HTTP: the search, every section of a person's page
(the audit trail for auditors and administrators only), the card and suspension changes
with their refusals, and both languages."""

from __future__ import annotations

import re
from html import unescape

import pytest

from apps import ChannelApp
from cashier_flow import uploaded_order
from conftest import CLERK
from flows import LI_JIANGUO, SIGNED, WANG_FANG, person, settle_once
from online import fee_line
from test_console import csrf_of, sign_in
from test_reimbursement import bill, window_apply
from yibao.services import audit

WANG_CARD = "BJ0000000001"
LI_CARD = "BJ0000000002"


def text_of(html: str, ident: str) -> str:
    """The text of the element ``id=ident`` (tags dropped)."""
    found = re.search(rf'id="{re.escape(ident)}"[^>]*>(.*?)</(?:td|dd|div)>',
                      html, re.S)
    assert found is not None, f"no #{ident} on the page"
    return unescape(re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def table_rows(html: str, ident: str) -> list[list[str]]:
    """The body rows of the table ``id=ident``: each cell's text."""
    table = re.search(rf'<table id="{re.escape(ident)}">(.*?)</table>', html, re.S)
    assert table is not None, f"no table #{ident}"
    body = table.group(1).split("<tbody>")[-1]
    return [[unescape(re.sub(r"<[^>]+>", " ", cell)).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def section(html: str, ident: str) -> str:
    found = re.search(rf'<section id="{ident}">(.*?)</section>', html, re.S)
    assert found is not None, f"no section #{ident}"
    return unescape(found.group(1))


@pytest.fixture
def wang(his) -> str:
    return str(person(his, WANG_FANG)["baseinfo"]["psn_no"])


def page_of(http, psn_no: str, lang: str = "") -> str:
    answer = http.get(f"/console/persons/{psn_no}" + (f"?lang={lang}" if lang else ""))
    assert answer.status_code == 200, answer.text
    return answer.text


# ---------------------------------------------------------------- the search


def test_a_person_is_found_by_id_number_card_number_or_psn_no(http, wang):
    sign_in(http, "clerk")
    for query in (WANG_FANG, WANG_CARD, wang, f"  {wang} "):
        found = http.post("/console/persons", data={"q": query}).text
        rows = re.findall(r'id="person-(\d+)"', found)
        assert rows == [wang], query
        assert "王芳" in found and "110105********0027" in found
        assert WANG_FANG not in found  # the ID number is shown masked only
    lower = http.post("/console/persons", data={"q": LI_JIANGUO.lower()}).text
    assert "李建国" in lower and "110102********003X" in lower
    nobody = http.post("/console/persons?lang=en", data={"q": "110105198503150028"})
    assert nobody.status_code == 200
    assert "No person has this psn_no, ID number or card number." in nobody.text
    assert 'id="person-' not in nobody.text
    assert "110105198503150028" not in nobody.text
    assert "没有参保人" in http.post("/console/persons?lang=zh", data={"q": "nobody"}).text
    assert 'id="q"' in http.get("/console/persons").text


def test_an_unknown_person_is_a_missing_page(http):
    sign_in(http, "clerk")
    answer = http.get("/console/persons/99999999999999999999")
    assert answer.status_code == 404 and "E-PSN-001" in answer.text


# ---------------------------------------------------------------- the sections


@pytest.fixture
def busy(http, his, wang) -> dict[str, str]:
    """Wang Fang with something in every section: a settlement, an away filing, a
    claim, an electronic certificate and an online order."""
    setlinfo = settle_once(his, WANG_FANG, "120.00")
    filed = http.post("/admin/v1/filings", headers=CLERK, json={
        "psn_no": wang, "filing_type": "temporary", **SIGNED, "area": "130102",
        "end_date": "2026-06-30"})
    assert filed.status_code == 201, filed.text
    claim = window_apply(http, wang, bill=bill("INV-CONSOLE", ("1", "XA01AAA0001", "80.00")))
    assert claim["status"] == 201, claim
    app = ChannelApp(http)
    _psn_no, order = uploaded_order(his, app, [fee_line("1", "XA01AAA0001", "30.00")],
                                    order="MO-CONSOLE")
    return {"setl_id": setlinfo["setl_id"], "filing": filed.json()["trt_dcla_detl_sn"],
            "claim": claim["claim_id"], "order": order["payOrdId"]}


def test_the_person_page_shows_every_section_but_the_audit_trail_to_a_clerk(http, wang, busy):
    sign_in(http, "clerk")
    html = page_of(http, wang)
    assert text_of(html, "name-shown") == "王芳"
    assert text_of(html, "certno") == "110105********0027" and WANG_FANG not in html
    assert "310" in section(html, "insurance") and "正常参保" in section(html, "insurance")
    assert text_of(html, f"card-status-{WANG_CARD}") == "有效"
    credentials = section(html, "credentials")
    assert "已激活" in credentials and "ecert_activated" in credentials
    assert busy["filing"] in section(html, "filings")
    year = section(html, "year")
    assert "2026" in year and re.search(r'class="num">\d[\d,]*\.\d\d<', year)
    settlements = section(html, "settlements")
    assert busy["setl_id"] in settlements and "医疗费用总额 120.00 元" in settlements
    assert busy["claim"] in section(html, "claims") and "80.00" in section(html, "claims")
    assert busy["order"] in section(html, "orders")
    assert 'id="audit"' not in html and 'id="trail"' not in html  # not for a clerk
    english = page_of(http, wang, "en")
    assert "<h2>Identity</h2>" in english and "valid" in english
    assert "Audit trail" not in english


@pytest.mark.parametrize("name", ["auditor", "admin"])
def test_auditors_and_administrators_see_the_audit_trail(http, wang, busy, name):
    sign_in(http, name)
    html = page_of(http, wang)
    trail = section(html, "audit")
    assert "ecert_activated" in trail and "CH-BJAPP" in trail  # the identity events
    assert "activation" in trail  # the activation's real-person attestation
    assert "Audit trail" in page_of(http, wang, "en")


# ---------------------------------------------------------------- cards


def post(http, path: str, page: str, **fields: str):
    return http.post(path, data={"csrf": csrf_of(page), **fields}, follow_redirects=False)


def test_a_clerk_reports_a_card_lost_then_replaces_it(http, db, wang):
    sign_in(http, "clerk")
    html = page_of(http, wang)
    assert f'id="loss-{WANG_CARD}"' in html and "hx-confirm" in html
    lost = post(http, f"/console/persons/{wang}/cards/{WANG_CARD}/loss", html)
    assert lost.status_code == 303
    assert lost.headers["location"] == f"/console/persons/{wang}?done=card-lost"
    html = http.get(lost.headers["location"]).text
    assert text_of(html, "done") == "社保卡已挂失。"
    assert text_of(html, f"card-status-{WANG_CARD}") == "已挂失"
    assert "card_lost" in section(html, "credentials")
    assert f'id="loss-{WANG_CARD}"' not in html  # lost already: not offered again
    again = post(http, f"/console/persons/{wang}/cards/{WANG_CARD}/loss", html)
    assert again.status_code == 409 and "E-PSN-004" in text_of(again.text, "error")
    no_serial = post(http, f"/console/persons/{wang}/cards/{WANG_CARD}/replacement", html,
                     card_sn="  ")
    assert no_serial.status_code == 400 and "card_sn" in text_of(no_serial.text, "error")
    assert "E-ENV-004" in no_serial.text
    replaced = post(http, f"/console/persons/{wang}/cards/{WANG_CARD}/replacement", html,
                    card_sn="SN0000000101")
    assert replaced.headers["location"] == f"/console/persons/{wang}?done=card-replaced"
    html = http.get(replaced.headers["location"] + "&lang=en").text
    assert text_of(html, "done") == "The card is replaced."
    assert text_of(html, f"card-status-{WANG_CARD}") == "valid"
    assert "SN0000000001, replaced 2026-05-11" in section(html, "credentials")
    with db.read() as conn:
        logged = [a["action"] for a in audit.actions(conn, actor="clerk")]
    assert logged[:2] == ["card.replace", "card.loss"]


def test_an_unknown_card_or_another_persons_card_is_refused(http, db, wang):
    sign_in(http, "clerk")
    html = page_of(http, wang)
    for card_no in ("NOPE", LI_CARD):
        answer = post(http, f"/console/persons/{wang}/cards/{card_no}/loss", html)
        assert answer.status_code == 404 and "E-PSN-007" in text_of(answer.text, "error")
    with db.read() as conn:
        assert audit.actions(conn, actor="clerk", subject=wang) == []
    assert text_of(page_of(http, wang), f"card-status-{WANG_CARD}") == "有效"


def test_a_form_without_the_sessions_token_changes_nothing(http, wang):
    sign_in(http, "clerk")
    forged = http.post(f"/console/persons/{wang}/cards/{WANG_CARD}/loss",
                       data={"csrf": "forged"})
    assert forged.status_code == 403 and "E-ADM-010" in forged.text
    assert text_of(page_of(http, wang), f"card-status-{WANG_CARD}") == "有效"


# ---------------------------------------------------------------- suspensions


def suspend(http, psn_no: str, page: str, begin: str, end: str, reason: str = "lent the card"):
    return post(http, f"/console/persons/{psn_no}/suspensions", page, begin_date=begin,
                end_date=end, reason=reason)


def test_an_administrator_suspends_direct_settlement_and_lifts_it(http, db, wang):
    sign_in(http, "admin")
    html = page_of(http, wang)
    made = suspend(http, wang, html, "2026-05-01", "2026-08-31")
    assert made.headers["location"] == f"/console/persons/{wang}?done=suspended"
    html = http.get(made.headers["location"]).text
    assert text_of(html, "done") == "已暂停直接结算。"
    ident = re.search(r'id="suspension-state-(\d+)"', html)
    assert ident is not None
    number = ident.group(1)
    assert text_of(html, f"suspension-state-{number}") == "生效中"
    assert "lent the card" in section(html, "suspensions")
    lifted = post(http, f"/console/persons/{wang}/suspensions/{number}/lift", html)
    assert lifted.headers["location"] == f"/console/persons/{wang}?done=lifted"
    html = http.get(lifted.headers["location"]).text
    assert text_of(html, f"suspension-state-{number}").startswith("已解除")
    assert f'id="lift-{number}"' not in html
    again = post(http, f"/console/persons/{wang}/suspensions/{number}/lift", html)
    assert again.status_code == 409 and "E-PSN-009" in again.text
    with db.read() as conn:
        logged = [a["action"] for a in audit.actions(conn, actor="admin", subject=wang)]
    assert logged == ["suspension.lift", "suspension.create"]


@pytest.mark.parametrize("begin,end,reason,code,field", [
    ("2026-06-01", "2026-05-31", "lent the card", "E-ENV-005", "ends after it begins"),
    ("2026-02-30", "2026-05-31", "lent the card", "E-ENV-005", "begin_date"),
    ("2026-05-01", "31/05/2026", "lent the card", "E-ENV-005", "end_date"),
    ("", "2026-05-31", "lent the card", "E-ENV-004", "begin_date"),
    ("2026-05-01", "2026-05-31", "   ", "E-ENV-004", "reason"),
    ("2026-07-01", "2026-09-30", "again", "E-PSN-010", "2026-05-01..2026-08-31"),
])
def test_an_invalid_or_overlapping_suspension_is_refused_with_the_typed_values_kept(
        http, db, wang, begin, end, reason, code, field):
    sign_in(http, "admin")
    html = page_of(http, wang)
    assert suspend(http, wang, html, "2026-05-01", "2026-08-31").status_code == 303
    refused = suspend(http, wang, html, begin, end, reason)
    error = text_of(refused.text, "error")
    assert code in error and field in error
    assert refused.status_code == (409 if code == "E-PSN-010" else 400)
    assert f'value="{end}"' in refused.text  # typed again on the form
    with db.read() as conn:
        assert len(audit.actions(conn, actor="admin", subject=wang)) == 1


def test_a_suspension_of_another_person_or_unknown_is_not_lifted_here(http, wang, his):
    sign_in(http, "admin")
    html = page_of(http, wang)
    li = str(person(his, LI_JIANGUO)["baseinfo"]["psn_no"])
    assert suspend(http, li, html, "2026-05-01", "2026-05-31").status_code == 303
    theirs = re.search(r'id="suspension-state-(\d+)"', page_of(http, li))
    assert theirs is not None
    for number in (theirs.group(1), "999999", "x"):
        answer = post(http, f"/console/persons/{wang}/suspensions/{number}/lift", html)
        assert answer.status_code == 404 and "E-PSN-008" in answer.text
    assert text_of(page_of(http, li), f"suspension-state-{theirs.group(1)}") == "生效中"


def test_a_clerk_is_not_offered_suspensions_and_is_refused_one(http, wang):
    sign_in(http, "clerk")
    html = page_of(http, wang)
    assert 'id="suspend"' not in html
    tried = suspend(http, wang, html, "2026-05-01", "2026-05-31")
    assert tried.status_code == 403 and "E-ADM-003" in tried.text
    assert "administrator" in tried.text
    assert "无。" in section(page_of(http, wang), "suspensions")  # none made
