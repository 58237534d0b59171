"""The URL forms a HIS reaches yibao by (api/service_paths.py, docs/interface.md
"Connecting your HIS"): the single route, the single route with the transaction number
appended, and a per-service path from a replaceable table. Every form is handled as the
single route is (authentication before the body, limits, dispatch on the envelope's
infno); anything else under /fsi/api answers an envelope refusal, never a bare 404."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flows import WANG_FANG, ok, person, refused, register, settle_once
from test_errors import unchanged
from yibao.api import service_paths
from yibao.api.app import create_app
from yibao.api.hospital import ROUTE
from yibao.api.service_paths import SETTING, ServicePathsError
from yibao.client import HisClient
from yibao.store.demo import demo_token

CODE = "H11010500001"
SHIPPED = service_paths.shipped()
# the path the shipped table gives each infno (the first, when it lists two)
PATH_OF = {infno: path for path, infnos in reversed(SHIPPED.paths.items()) for infno in infnos}


def client_at(http: TestClient, path_of: Callable[[str], str]) -> HisClient:
    """A HIS sending each message to ``path_of(its infno)``, signed in through it."""
    def send(headers: dict[str, str], body: bytes) -> bytes:
        reply = http.post(path_of(json.loads(body)["infno"]), content=body, headers=headers)
        assert reply.status_code == 200, reply.text[:300]
        content: bytes = reply.content
        return content

    his = HisClient(send, CODE, demo_token(CODE))
    his.sign_in()
    return his


def answer_at(http: TestClient, path: str, his: HisClient, infno: str,
              payload: dict[str, Any], *, method: str = "POST",
              headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The answer to one envelope sent to ``path``: always HTTP 200 JSON."""
    body = json.dumps(his.envelope(infno, payload), ensure_ascii=False).encode()
    reply = http.request(method, path, content=body,
                         headers=his.headers() if headers is None else headers)
    assert reply.status_code == 200, (reply.status_code, reply.text[:300])
    assert reply.headers["content-type"].startswith("application/json")
    answer: dict[str, Any] = reply.json()
    assert answer["infcode"] in (0, -1) and len(answer["inf_refmsgid"]) == 30
    return answer


def person_payload(certno: str = WANG_FANG) -> dict[str, Any]:
    return {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "card_sn": "",
                     "begntime": "", "psn_cert_type": "01", "certno": certno,
                     "psn_name": ""}}


# ---------------------------------------------------------------- the three forms


def test_an_outpatient_settlement_through_the_appended_form(db, http):
    his = client_at(http, lambda infno: f"{ROUTE}/{infno}")
    setlinfo = settle_once(his, WANG_FANG, "100.00")
    assert setlinfo["medfee_sumamt"] == 100.0 and setlinfo["setl_id"]


def test_an_outpatient_settlement_through_the_service_paths(db, http):
    """9001, 1101, 2201, 2204 and 2207 each at its own path of the shipped table."""
    sent: list[str] = []

    def path_of(infno: str) -> str:
        sent.append(PATH_OF[infno])
        return PATH_OF[infno]

    his = client_at(http, path_of)
    setlinfo = settle_once(his, WANG_FANG, "100.00")
    assert setlinfo["medfee_sumamt"] == 100.0 and setlinfo["setl_id"]
    assert sent == ["/fsi/api/signInSignOutService/signIn",
                    "/fsi/api/fsiPsnInfoService/queryPsnInfo",
                    "/fsi/api/outpatientDocInfoService/outpatientRregistration",
                    "/fsi/api/outpatientDocInfoService/outpatientFeeListUp",
                    "/fsi/api/outpatientSettleService/saveSettletmentV2"]


def test_one_trailing_slash_is_ignored(db, http, his):
    assert ok(answer_at(http, f"{ROUTE}/1101/", his, "1101", person_payload()))
    assert ok(answer_at(http, PATH_OF["1101"] + "/", his, "1101", person_payload()))


def test_a_retry_through_another_form_is_answered_from_the_store(db, http, his):
    """The same msgid and body: the same message, whichever form carried it."""
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    payload = {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "ipt_otp_no": "OP1"}}
    first = answer_at(http, PATH_OF["2202"], his, "2202", payload)
    ok(first)
    message = json.dumps(his.envelope("2202", payload, his.last_msgid)).encode()
    again = http.post(f"{ROUTE}/2202", content=message, headers=his.headers()).json()
    assert again == first


# ---------------------------------------------------------------- the path disagrees


def test_an_appended_number_other_than_the_infno_is_refused(db, http, his):
    with unchanged(db):
        answer = answer_at(http, f"{ROUTE}/2201", his, "1101", person_payload())
    message = refused(answer, "E-ENV-009")
    assert f"{ROUTE}/2201 takes infno 2201" in message
    assert "the envelope's infno is 1101" in message


def test_a_service_path_of_another_infno_is_refused(db, http, his):
    """2207's path carrying a 2208 (a cancellation) is a misrouted message: refused,
    naming the path, what it takes and the envelope's infno."""
    with unchanged(db):
        answer = answer_at(http, PATH_OF["2207"], his, "2208", {"data": {}})
    assert refused(answer, "E-ENV-009") == (
        "E-ENV-009 service path is not for this infno: /fsi/api/outpatientSettleService/"
        "saveSettletmentV2 takes infno 2207, the envelope's infno is 2208")


def test_a_path_two_infnos_share_takes_either(db, http, his):
    """The vendor's table gives 3302 the path of 3202: both pass the path, the
    envelope's infno decides which runs."""
    shared = "/fsi/api/ybSettlementStmtService/stmtDetail"
    assert SHIPPED.paths[shared] == {"3202", "3302"}
    for infno in ("3202", "3302"):
        answer = answer_at(http, shared, his, infno, {"data": {}})
        assert not answer["err_msg"].startswith("E-ENV-009"), answer["err_msg"]
    stmt = {"data": {"setl_optins": "110000", "file_qury_no": "", "stmt_begndate":
                     "2026-05-01", "stmt_enddate": "2026-05-31", "medfee_sumamt": "0",
                     "fund_pay_sumamt": "0", "cash_payamt": "0", "fixmedins_setl_cnt": "0"}}
    through_path = answer_at(http, shared, his, "3202", stmt)
    through_route = his.call("3202", stmt)
    assert through_path["err_msg"][:9] == through_route["err_msg"][:9]
    assert through_path["output"].keys() == through_route["output"].keys()


# ---------------------------------------------------------------- everything else


@pytest.mark.parametrize("path", [
    "/fsi/api/nothingService/nothing", "/fsi/api", "/fsi/api/",
    f"{ROUTE}/1101/again", "/fsi/api/fsiPsnInfoService/queryPsnInfo2",
])
def test_an_unknown_path_under_the_prefix_answers_an_envelope(db, http, his, path):
    with unchanged(db):
        answer = answer_at(http, path, his, "1101", person_payload())
    assert refused(answer, "E-ENV-008") == f"E-ENV-008 unknown service path: {path}"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_any_method_on_an_unknown_path_answers_an_envelope(db, http, his, method):
    answer = answer_at(http, "/fsi/api/x/y", his, "1101", {}, method=method)
    refused(answer, "E-ENV-008")


@pytest.mark.parametrize("path", [ROUTE, f"{ROUTE}/1101", PATH_OF["1101"]])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_another_method_on_a_known_path_answers_an_envelope(db, http, his, path, method):
    with unchanged(db):
        answer = answer_at(http, path, his, "1101", person_payload(), method=method)
    assert refused(answer, "E-ENV-010") == (
        f"E-ENV-010 the interface takes POST only: {method} {path}")


def test_a_path_is_quoted_as_printable_ascii_and_cut_short(db, http, his):
    long = "/fsi/api/" + "病" * 3 + "a" * 200
    message = refused(answer_at(http, long, his, "1101", {}), "E-ENV-008")
    assert "病" not in message and message.endswith("aaa…")
    assert len(message) < 200


def test_other_families_keep_their_own_answers(db, http):
    """Outside /fsi/api nothing changed: an unknown path is the framework's 404, the
    operators' routes still ask for a bearer token, health answers."""
    assert http.post("/fsi/apix/callService").status_code == 404
    assert http.get("/admin/v1/claims").status_code == 401
    assert http.get("/health").json()["status"] == "ok"


# ---------------------------------------------------------------- same handling


@pytest.mark.parametrize("path", [f"{ROUTE}/1101", PATH_OF["1101"], "/fsi/api/unknown"])
def test_authentication_comes_before_the_body_on_every_form(db, http, his, path):
    """A body that is not JSON, unsigned: refused for the headers, not for the body (an
    unknown path for its path)."""
    reply = http.post(path, content=b"{not json", headers={"content-type": "application/json"})
    expected = "E-ENV-008" if path.endswith("unknown") else "E-AUTH-001"
    refused(reply.json(), expected)
    assert reply.headers["connection"] == "close"


def test_an_oversized_body_is_refused_unread_on_a_service_path(db, http, his):
    headers = his.headers() | {"content-length": str(5 * 1024 * 1024)}
    reply = http.post(PATH_OF["1101"], content=b"{}", headers=headers)
    refused(reply.json(), "E-ENV-006")


def test_a_table_path_outside_the_prefix_is_served(db, http, his):
    """3212's path in the vendor's table is under /api/fsiextend, not /fsi/api: it is
    routed, and authenticated before its body, like the others."""
    path = "/api/fsiextend/medinsmonsettlement/qMedinsDaySetlResult"
    assert path in SHIPPED.outside_prefix()
    refused(http.post(path, content=b"x").json(), "E-AUTH-001")
    answer = answer_at(http, path, his, "3211", {"data": {}})
    assert refused(answer, "E-ENV-009").endswith("takes infno 3212, the envelope's infno is 3211")


def test_the_added_routes_stay_out_of_the_openapi_schema(http):
    documented = http.get("/openapi.json").json()["paths"]
    assert ROUTE in documented
    assert not [p for p in documented if p.startswith("/fsi/api/") and p != ROUTE]
    assert not [p for p in documented if p.startswith("/api/fsiextend")]


# ---------------------------------------------------------------- the table


def test_every_row_of_the_reference_table_is_shipped():
    """The vendor's table (shared/reference/service-paths.md, 79 rows) is the shipped
    file, row for row, its shared paths listing both infnos."""
    rows = [(infno, path) for path, infnos in SHIPPED.paths.items() for infno in infnos]
    assert len(rows) == 79 and len(SHIPPED.paths) == 77
    assert SHIPPED.paths["/fsi/api/hsecfc/localQrCodeQuery"] == {"1162", "9999"}
    assert SHIPPED.paths["/fsi/api/fsiIntegratedQueryService/queryFixmedinsPracPsnSum"] == {
        "5206"}
    assert PATH_OF["2207A"] == "/fsi/api/outpatientSettleService/saveSettletment"


def own_table(tmp_path, monkeypatch, table: dict[str, Any]) -> None:
    path = tmp_path / "paths.json"
    path.write_text(json.dumps(table), encoding="utf-8")
    monkeypatch.setenv(SETTING, str(path))


def test_an_operators_table_replaces_the_shipped_one(db, clock, tmp_path, monkeypatch):
    own_table(tmp_path, monkeypatch, {"paths": {"/fsi/api/psn/info": ["1101"]}})
    with TestClient(create_app(db, clock=clock)) as http:
        his = HisClient(lambda _h, _b: b"", CODE, demo_token(CODE))
        ok(answer_at(http, "/fsi/api/psn/info", his, "1101", person_payload()))
        refused(answer_at(http, PATH_OF["1101"], his, "1101", person_payload()), "E-ENV-008")
        ok(answer_at(http, f"{ROUTE}/1101", his, "1101", person_payload()))


def test_an_operators_table_may_extend_the_shipped_one(db, clock, tmp_path, monkeypatch):
    own_table(tmp_path, monkeypatch, {"include_shipped": True, "paths": {
        "/fsi/api/psn/info": ["1101"], PATH_OF["1101"]: ["2001"]}})
    with TestClient(create_app(db, clock=clock)) as http:
        his = HisClient(lambda _h, _b: b"", CODE, demo_token(CODE))
        ok(answer_at(http, "/fsi/api/psn/info", his, "1101", person_payload()))
        ok(answer_at(http, PATH_OF["1101"], his, "1101", person_payload()))
        answer = answer_at(http, PATH_OF["1101"], his, "2001", {"data": {}})
        assert not answer["err_msg"].startswith("E-ENV-009"), answer["err_msg"]


@pytest.mark.parametrize(("table", "named"), [
    ("{\"paths\": ", "not JSON"),
    ([], "must be a JSON object"),
    ({"paths": {"/fsi/api/a": ["1101"]}, "path": {}}, "unknown key 'path'"),
    ({"paths": {"/fsi/api/a": "1101"}}, "/fsi/api/a: must list the infnos"),
    ({"paths": {"/fsi/api/a": ["11O1"]}}, "'11O1' is not an infno"),
    ({"paths": {"/fsi/api/a": ["1101", "1101"]}}, "listed twice"),
    ({"paths": {"fsi/api/a": ["1101"]}}, "'fsi/api/a' is not a path"),
    ({"paths": {"/fsi/api/a b": ["1101"]}}, "'/fsi/api/a b' is not a path"),
    ({"paths": {ROUTE + "/1101": ["1101"]}}, "always served"),
    ({"paths": {"/admin/v1/psn": ["1101"]}}, "/admin/v1/psn is a path of yibao's own"),
    ({"paths": {"/health": ["1101"]}}, "/health is a path of yibao's own"),
])
def test_a_bad_table_stops_the_start_naming_the_entry(db, tmp_path, monkeypatch, table,
                                                      named):
    path = tmp_path / "paths.json"
    path.write_text(table if isinstance(table, str) else json.dumps(table), encoding="utf-8")
    monkeypatch.setenv(SETTING, str(path))
    with pytest.raises(RuntimeError) as failure:
        create_app(db)
    assert str(failure.value).startswith(f"service-path table refused: {path}")
    assert named in str(failure.value)


def test_the_own_prefixes_are_those_of_the_other_families():
    from yibao.api import admin, cashier, channel, mpc, paynotify

    assert {admin.PREFIX, channel.PREFIX, mpc.PREFIX, cashier.PREFIX} <= set(
        service_paths.OWN_PREFIXES)
    for notify in (paynotify.PATH, paynotify.ALIPAY_PATH):  # both platforms' routes
        assert any(notify.startswith(own + "/") for own in service_paths.OWN_PREFIXES)


def test_serve_refuses_a_bad_table(db, tmp_path, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from yibao import cli
    from yibao.services import face

    monkeypatch.delenv(face.DEMO_SWITCH, raising=False)  # --demo sets it: restored after
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    url = str(tmp_path / "serve.db")
    monkeypatch.setenv("YIBAO_DATABASE_URL", url)  # serve sets it: restored after the test
    own_table(tmp_path, monkeypatch, {"paths": {"/cashier/x": ["1101"]}})
    refused_run = CliRunner().invoke(cli.app, ["serve", "--db", url, "--demo"])
    assert refused_run.exit_code == 2, refused_run.output
    assert "/cashier/x is a path of yibao's own" in refused_run.output
    own_table(tmp_path, monkeypatch, {"paths": {"/fsi/api/psn/info": ["1101"]}})
    assert CliRunner().invoke(cli.app, ["serve", "--db", url, "--demo"]).exit_code == 0
    assert len(started) == 1


def test_a_table_given_in_code_is_checked_against_the_routes_too(db):
    """create_app(paths=...) skips the file's checks; the routes' still refuse a path
    another route serves."""
    table = service_paths.ServicePaths({"/health": frozenset({"1101"})}, source="given")
    with pytest.raises(RuntimeError, match="given: /health is a path of yibao's own"):
        create_app(db, paths=table)


def test_a_missing_table_file_is_named(tmp_path):
    missing = tmp_path / "nowhere.json"
    problem = service_paths.problem({SETTING: str(missing)})
    assert problem is not None and f"{SETTING}={missing}: cannot be read" in problem
    assert service_paths.problem({}) is None


def test_the_shipped_table_cannot_include_itself():
    with pytest.raises(ServicePathsError, match="include_shipped"):
        service_paths.parse('{"include_shipped": true, "paths": {}}', source="x")


def test_routes_serving_a_path_are_found_as_starlette_matches_them(db, app):
    """The table's check reads the routes' path patterns (included routers unbuilt): for
    every path some route serves, and paths next to them, it answers as matching each
    route does (api/app.py serves_path); and an included router's paths are refused
    in code too (/admin/v1/... is admitted by the file's checks only)."""
    import re

    from starlette.routing import Match

    from yibao.api.app import serves_path

    def nobody() -> None:
        pass

    def matched(path: str) -> bool:
        scope = {"type": "http", "path": path, "method": "POST", "root_path": ""}
        return any(route.matches(scope)[0] is not Match.NONE for route in app.routes)

    probes = {"/", "/nowhere", "/healthz", "/health/", "/docs/x", "/static/", "/console"}
    assert not serves_path(app.routes, "/nowhere", nobody)
    served = [route.path for route in app.routes if hasattr(route, "path")] + [
        context.path_format for route in app.routes
        for context in getattr(route, "effective_route_contexts", list)()]
    for template in served:
        path = re.sub(r"\{[^}]*:path\}", "a/b", re.sub(r"\{[^}:]*\}", "X1", template))
        probes |= {path, path + "/x", path.rsplit("/", 1)[0] or "/"}
    assert len(probes) > 300
    fresh = create_app(db)  # its included routers not built yet
    for path in sorted(probes):
        assert serves_path(fresh.routes, path, nobody) is matched(path), path
    table = service_paths.ServicePaths({"/admin/v1/claims": frozenset({"1101"})},
                                       source="given")
    with pytest.raises(RuntimeError, match="given: /admin/v1/claims is a path of yibao's"):
        create_app(db, paths=table)
