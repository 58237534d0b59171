"""The HTTP status of a REST refusal comes from the error catalogue (each code declares
it), not from the wording of its detail: an unknown filing and an unknown claim both
answer 404, through the operators' routes and the channel routes, with the catalogue code,
and change nothing."""

from __future__ import annotations

import re
from pathlib import Path

from apps import PAYEE, ChannelApp
from conftest import APPROVER, CLERK, REVIEWER
from flows import WANG_FANG, person
from test_errors import unchanged
from yibao.domain.errors import CATALOGUE, HTTP_STATUSES, Refused

PIN = "135790"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "errors.md"


def _refused(reply, code: str) -> None:
    assert reply.status_code == CATALOGUE[code].http == 404, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    body = reply.json()
    assert body["code"] == code and body["detail"].startswith(code), body
    assert body["type"] == f"/errors/{code}" and body["status"] == 404, body
    assert body["title"] == CATALOGUE[code].title, body
    assert body["instance"] == reply.request.url.path, body


def test_an_unknown_claim_and_an_unknown_filing_answer_404_to_an_operator(db, http, his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    with unchanged(db):
        _refused(http.get("/admin/v1/claims/R-NO-SUCH", headers=CLERK), "E-CLM-001")
        _refused(http.post("/admin/v1/claims/R-NO-SUCH/review", headers=REVIEWER),
                 "E-CLM-001")
        _refused(http.post("/admin/v1/claims/R-NO-SUCH/decision", headers=APPROVER,
                           json={"approve": False, "reason": "no invoice"}), "E-CLM-001")
        _refused(http.post("/admin/v1/filings/F-NO-SUCH/cancellation", headers=CLERK,
                           json={"psn_no": psn_no, "reason": "filed by mistake"}),
                 "E-FIL-005")


def test_an_unknown_claim_and_an_unknown_filing_answer_404_to_a_channel(db, http):
    app = ChannelApp(http)
    cert_id = app.activate(PIN)
    app.register_payee(cert_id, PIN)
    base = f"/channel/v1/certificates/{cert_id}"
    with unchanged(db):
        _refused(app.post(f"{base}/filings/F-NO-SUCH/cancellation",
                          {"pin": PIN, "reason": "trip cancelled"}), "E-FIL-005")
        _refused(app.post(f"{base}/claims", {
            "pin": PIN, "reason": "fault", "payee": PAYEE, "fixmedins_code": "H11010500001",
            "invono": "INV-NO-SUCH"}), "E-CLM-001")


def test_every_code_declares_an_allowed_status_and_the_docs_show_it():
    documented = dict(re.findall(r"^\| (E-[A-Z]+-\d{3}) \|.*\| (\d{3}) \|$",
                                 DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE))
    assert documented == {code: str(e.http) for code, e in CATALOGUE.items()}
    assert all(e.http in HTTP_STATUSES for e in CATALOGUE.values())


def test_a_refusal_a_route_lets_through_answers_its_catalogue_status(db, http, monkeypatch):
    """The claims listing runs outside ``run_refusable``: were it to refuse, the refusal
    still answers its code's status and body (an application-wide handler), not a 500."""
    from yibao.services import claims

    def refuse(*_args, **_kwargs):
        raise Refused("E-CLM-001", "no such claim R-NO-SUCH")

    monkeypatch.setattr(claims, "listing", refuse)
    _refused(http.get("/admin/v1/claims", headers=CLERK), "E-CLM-001")


def test_a_database_error_under_a_rest_route_is_told_by_its_kind(db, http, monkeypatch):
    """A collision or a lost database is E-SYS-001 (503: retry); a row the database
    refuses is E-SYS-002 (500), never called a collision."""
    import sqlite3

    from sqlalchemy.exc import IntegrityError, OperationalError

    from yibao.services import claims

    def busy() -> Exception:
        orig = sqlite3.OperationalError("database is locked")
        orig.sqlite_errorname = "SQLITE_BUSY"
        return OperationalError("SELECT", {}, orig)

    def not_null() -> Exception:
        orig = sqlite3.IntegrityError("NOT NULL constraint failed: claim.status")
        orig.sqlite_errorname = "SQLITE_CONSTRAINT_NOTNULL"
        return IntegrityError("INSERT", {}, orig)

    for error, code, status in ((busy, "E-SYS-001", 503), (not_null, "E-SYS-002", 500)):
        def fail(*_args, error=error, **_kwargs):
            raise error()

        monkeypatch.setattr(claims, "listing", fail)
        reply = http.get("/admin/v1/claims", headers=CLERK)
        assert (reply.status_code, reply.json()["code"]) == (status, code), reply.text
