"""One error format for every REST route: RFC 9457 problem details (docs/errors.md),
whoever answers — the router (404, 405), FastAPI's validation (422), the edge (401, 413,
422), an operator's authentication (401 with WWW-Authenticate), a route's refusal — and
each problem's ``type`` is a page the application serves. The national interface keeps
its envelope."""

from __future__ import annotations

import json

from apps import WANG, ChannelApp
from conftest import ADMIN_TOKEN, CLERK, bearer
from yibao.api.hospital import ROUTE
from yibao.domain.errors import CATALOGUE

PROBLEM = "application/problem+json"
MEMBERS = {"type", "title", "status", "detail", "instance", "code"}


def problem_of(reply, status: int, code: str) -> dict:
    """The reply's problem, checked member by member against the catalogue."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == PROBLEM, reply.headers
    body = reply.json()
    entry = CATALOGUE[code]
    assert body.keys() >= MEMBERS, body
    assert (body["type"], body["title"], body["status"], body["code"]) == (
        f"/errors/{code}", entry.title, entry.http, code), body
    assert body["detail"].startswith(f"{code} {entry.title}"), body
    assert body["instance"] == reply.request.url.path, body
    return body


def test_an_unknown_path_and_a_wrong_method_are_problems(http):
    body = problem_of(http.get("/admin/v1/no-such-route", headers=bearer(ADMIN_TOKEN)), 404,
                      "E-REQ-003")
    assert "GET /admin/v1/no-such-route" in body["detail"]
    problem_of(http.get("/nothing/here"), 404, "E-REQ-003")
    wrong = http.delete("/channel/v1/certificates")
    problem_of(wrong, 405, "E-REQ-004")
    assert wrong.headers["allow"] == "POST"


def test_an_operator_without_a_token_gets_401_naming_the_scheme(http):
    for reply in (http.get("/admin/v1/audit"),  # refused at the edge
                  http.get("/admin/v1/audit", headers=bearer("demo-nobody"))):
        problem_of(reply, 401, "E-ADM-002")
        assert reply.headers["www-authenticate"] == "Bearer"


def test_an_operator_without_the_role_gets_403(http, db):
    body = problem_of(http.get("/admin/v1/audit", headers=CLERK), 403, "E-ADM-003")
    assert "auditor" in body["detail"] or "administrator" in body["detail"]


def test_invalid_input_lists_each_field_and_echoes_no_value(http, db):
    """FastAPI's validation as a problem: E-REQ-001, one entry per field, the first in
    the detail; the values sent are not in the answer (they may be personal data)."""
    certno = "110105198503150027"
    reply = http.post("/admin/v1/persons/11000000000000000001/suspensions",
                      headers=bearer(ADMIN_TOKEN),
                      json={"begin_date": certno, "end_date": "2026-06-01"})
    body = problem_of(reply, 422, "E-REQ-001")
    fields = [e["field"] for e in body["errors"]]
    assert fields == ["body.begin_date", "body.reason"], body
    assert all(e["message"] for e in body["errors"]), body
    assert body["detail"] == (f"E-REQ-001 request not valid: body.begin_date: "
                              f"{body['errors'][0]['message']} (and 1 more)")
    assert certno not in reply.text


def test_a_body_that_is_not_json_is_a_problem(http):
    reply = http.post("/admin/v1/persons/11000000000000000001/suspensions",
                      headers=bearer(ADMIN_TOKEN) | {"content-type": "application/json"},
                      content=b'{"begin_date": ')
    body = problem_of(reply, 422, "E-REQ-001")
    [error] = body["errors"]
    assert error["field"] == "body.15" and error["message"].startswith("JSON decode error: ")
    latin = http.post("/admin/v1/persons/11000000000000000001/suspensions",
                      headers=bearer(ADMIN_TOKEN) | {"content-type": "application/json"},
                      content='{"reason": "é"}'.encode("latin-1"))
    problem_of(latin, 400, "E-REQ-002")


def test_a_channel_refusal_is_a_problem_and_its_replay_too(http, db):
    app = ChannelApp(http)
    cert_id = app.activate("135790")
    again = app.post("/channel/v1/certificates",  # already active here: 409, rolled back
                     dict(WANG, pin="135790", real_person=app.attestation()))
    problem_of(again, 409, "E-ECT-002")
    forged = app.post(f"/channel/v1/certificates/{cert_id}/qr", {"pin": "135790"},
                      secret="not-the-secret")
    problem_of(forged, 401, "E-AUTH-005")
    assert forged.headers["www-authenticate"] == 'YB-HMAC-SHA256 realm="channel"'

    wrong = app.post(f"/channel/v1/certificates/{cert_id}/qr", {"pin": "000000"},
                     key="K-WRONG-PIN")
    first = problem_of(wrong, 403, "E-ECT-005")
    replayed = app.post(f"/channel/v1/certificates/{cert_id}/qr", {"pin": "000000"},
                        key="K-WRONG-PIN")
    assert replayed.headers["idempotent-replayed"] == "true"
    assert problem_of(replayed, 403, "E-ECT-005") == first


def test_the_type_of_a_problem_is_served(http):
    entry = CATALOGUE["E-CHN-004"]
    as_json = http.get("/errors/E-CHN-004")
    assert as_json.json() == {"code": "E-CHN-004", "title": entry.title, "hint": entry.hint,
                              "status": 429}
    page = http.get("/errors/E-CHN-004", headers={"accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    assert entry.title in page.text and entry.hint.split(";")[0] in page.text
    problem_of(http.get("/errors/E-NO-001"), 404, "E-REQ-003")


def test_the_national_interface_keeps_its_envelope(http):
    reply = http.post(ROUTE, content=b"{}")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith(
        "application/json")
    assert json.loads(reply.text)["infcode"] == -1
    assert http.get(ROUTE).json()["err_msg"].startswith("E-ENV-010")


def test_every_rest_error_answer_is_declared_a_problem(http):
    spec = http.get("/openapi.json").json()
    assert spec["components"]["schemas"]["Problem"]["required"] == [
        "type", "title", "status", "detail", "instance", "code"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    declared = 0
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if path.startswith(("/admin/", "/channel/")) and status >= "400":
                    assert list(response["content"]) == [PROBLEM], (path, status)
                    declared += 1
    assert declared > 100
