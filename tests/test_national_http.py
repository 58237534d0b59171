"""The lean path of the national interface (api/national_http.py) answers exactly as the
routed one: the same exchanges, sent to an application of each kind over the same demo
dataset (reset between the two) with the same clock and the same identifiers, give the
same status, the same headers and the same body, byte for byte, and the same log lines.
What the lean path does not take (another method, a path that is no form of the
interface, another family) reaches FastAPI unchanged, and answers alike too."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ADMIN_TOKEN, reset
from flows import WANG_FANG, line, settle_payload
from yibao import log
from yibao.api import envelope, national_http, service_paths
from yibao.api.app import create_app
from yibao.api.envelope import BODY_BYTES_MAX, loads
from yibao.api.hospital import ROUTE
from yibao.api.service_paths import ServicePaths
from yibao.client import HisClient
from yibao.domain.text import china_time
from yibao.services.context import Ids
from yibao.store.demo import demo_token

CODE = "H11010500001"
OUTSIDE = "/hisapi/settle"  # a table path outside the interface prefix
PATHS = ServicePaths({**service_paths.shipped().paths, OUTSIDE: frozenset({"2207"})},
                     "test")
PATH_OF = {infno: path for path, infnos in reversed(PATHS.paths.items()) for infno in infnos
           if path.startswith("/fsi/api/")}
# what an exchange keeps of an answer: its status, every header, its body
Exchange = tuple[int, list[tuple[str, str]], bytes]
LOGGED_VOLATILE = ("timestamp", "ms")  # a log line's fields that differ from run to run


def counting_ids(clock: Callable[[], Any]) -> Ids:
    """Identifiers of a run that repeat in the next run: a counter, not randomness."""
    counter = itertools.count(1)
    return Ids(clock, random_hex=lambda n: f"{next(counter):0{2 * n}x}")


class Scenario:
    """The exchanges both paths are put through; ``send`` takes (method, path, headers,
    body) and returns the exchange."""

    def __init__(self, http: TestClient) -> None:
        self.http = http
        self.msgids = itertools.count(1)
        self.his = HisClient(self._transport, CODE, demo_token(CODE))
        self.exchanges: dict[str, Exchange] = {}

    def _transport(self, headers: dict[str, str], body: bytes) -> bytes:
        return self.send("transport", "POST", ROUTE, headers, body)[2]

    def send(self, name: str, method: str, path: str, headers: dict[str, str],
             body: Any = b"") -> Exchange:
        reply = self.http.request(method, path, content=body, headers=headers,
                                  follow_redirects=False)
        exchange = (reply.status_code, list(reply.headers.multi_items()), reply.content)
        self.exchanges[name if name != "transport" else f"t{len(self.exchanges)}"] = exchange
        return exchange

    def msgid(self) -> str:
        return f"{CODE}20260511093000{next(self.msgids):04d}"

    def message(self, infno: str, payload: dict[str, Any]) -> bytes:
        return json.dumps(self.his.envelope(infno, payload, self.msgid()),
                          ensure_ascii=False).encode()

    def answer(self, infno: str, payload: dict[str, Any], *, path: str = ROUTE,
               name: str = "") -> dict[str, Any]:
        status, _, body = self.send(name or infno, "POST", path, self.his.headers(),
                                    self.message(infno, payload))
        assert status == 200
        answer: dict[str, Any] = loads(body)
        return answer

    def run(self) -> dict[str, Exchange]:
        his = self.his
        signed_in = self.answer("9001", {"signIn": {"opter_no": "001", "mac": "00-00",
                                                    "ip": "::1"}})
        his.sign_no = signed_in["output"]["signinoutb"]["sign_no"]
        cred = {"mdtrt_cert_type": "02", "mdtrt_cert_no": WANG_FANG}
        found = self.answer("1101", {"data": {**cred, "certno": WANG_FANG}})
        psn_no = found["output"]["baseinfo"]["psn_no"]
        visit = self.answer("2201", {"data": {
            "psn_no": psn_no, "insutype": "310", "begntime": "2026-05-11 09:00:00",
            "ipt_otp_no": "OP1", **cred}})
        mdtrt_id = visit["output"]["data"]["mdtrt_id"]
        self.answer("2204", {"feedetail": [dict(line("1", "XA01AAA0001", "12.34"),
                                                mdtrt_id=mdtrt_id, psn_no=psn_no)]},
                    path=PATH_OF["2204"])
        self.answer("2206", settle_payload(psn_no, mdtrt_id, WANG_FANG, "12.34"))
        settled = self.answer("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "12.34"),
                              path=OUTSIDE)
        assert settled["infcode"] == 0, settled["err_msg"]
        # the answer's money is the exact decimal the settlement computed
        assert settled["output"]["setlinfo"]["medfee_sumamt"] == Decimal("12.34")
        assert self.answer("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "12.34"),
                           path=f"{ROUTE}/2207", name="2207-again")["infcode"] == -1
        self.answer("1101", {"data": cred}, path=PATH_OF["2207"], name="path-mismatch")
        signed = his.headers()
        self.send("malformed", "POST", ROUTE, signed, b'{"infno": "1101", "msgid": ')
        self.send("not-an-object", "POST", ROUTE, his.headers(), b"[1, 2]")
        self.send("declared-too-large", "POST", ROUTE, his.headers(),
                  b"{" + b" " * BODY_BYTES_MAX + b"}")
        self.send("streamed-too-large", "POST", ROUTE, his.headers(),
                  (b" " * 65536 for _ in range(BODY_BYTES_MAX // 65536 + 2)))
        self.send("replayed-nonce", "POST", ROUTE, signed, self.message("1101",
                                                                         {"data": cred}))
        self.send("bad-signature", "POST", ROUTE, dict(his.headers(), **{
            "x-tif-signature": "0" * 64}), self.message("1101", {"data": cred}))
        unknown = HisClient(self._transport, "H99999999999", "nobody")
        self.send("unknown-institution", "POST", ROUTE, unknown.headers(),
                  self.message("1101", {"data": cred}))
        self.send("no-credentials", "POST", ROUTE, {"content-type": "application/json"},
                  self.message("1101", {"data": cred}))
        self.send("charset-refused", "POST", ROUTE, dict(his.headers(), **{
            "content-type": "text/plain; charset=latin-1"}), self.message("1101",
                                                                          {"data": cred}))
        self.send("gbk-declared", "POST", ROUTE, dict(his.headers(), **{
            "content-type": "application/json; charset=gbk"}),
            json.dumps(his.envelope("1101", {"data": cred}, self.msgid()),
                       ensure_ascii=False).encode("gbk"))
        self.send("get-on-the-route", "GET", ROUTE, his.headers())
        self.send("put-on-a-service-path", "PUT", PATH_OF["1101"], his.headers(),
                  self.message("1101", {"data": cred}))
        self.send("unknown-path-under-the-prefix", "POST", "/fsi/api/nothing/here",
                  his.headers(), self.message("1101", {"data": cred}))
        self.send("outside-path-with-a-slash", "POST", OUTSIDE + "/", his.headers(),
                  self.message("2207", {}))
        self.send("health", "GET", "/health", {})
        self.send("admin", "GET", "/admin/v1/outbox", {"authorization": f"Bearer {ADMIN_TOKEN}"})
        self.send("admin-unauthenticated", "POST", "/admin/v1/cards/C1/loss", {}, b"{}")
        self.send("nowhere", "POST", "/nowhere", {}, b"{}")
        return self.exchanges


@pytest.fixture
def logged(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON log lines written since the last call (the first call configures the
    logs: in the test's own phase, where pytest's capture of stderr is the test's), their
    volatile fields dropped."""

    def lines() -> list[dict[str, Any]]:
        text = capsys.readouterr().err
        rows = [json.loads(row) for row in text.splitlines() if row.startswith("{")]
        return [{k: v for k, v in row.items() if k not in LOGGED_VOLATILE} for row in rows]

    try:
        yield lines
    finally:
        logging.getLogger().handlers.clear()


def exchanges_of(db, clock, lean: bool) -> dict[str, Exchange]:
    app = create_app(db, clock=clock, ids=counting_ids(clock), paths=PATHS, lean=lean)
    assert (app.national is not None) == lean
    with TestClient(app) as http:
        return Scenario(http).run()


def test_the_lean_and_the_routed_path_answer_alike(db, clock, logged):
    log.configure("INFO")
    logged()
    lean = exchanges_of(db, clock, lean=True)
    lean_log = logged()
    reset(db)
    routed = exchanges_of(db, clock, lean=False)
    routed_log = logged()
    assert list(lean) == list(routed)
    for name in lean:
        assert lean[name] == routed[name], name
    assert lean_log == routed_log and len(lean_log) >= len(lean) - 6
    # and the exchanges are what the interface answers: a few of them, spelled out
    status, headers, body = lean["declared-too-large"]
    assert (status, dict(headers)["connection"]) == (200, "close")
    assert loads(body)["err_msg"].startswith("E-ENV-006")
    assert loads(lean["streamed-too-large"][2])["err_msg"].startswith("E-ENV-006")
    assert dict(lean["streamed-too-large"][1])["connection"] == "close"
    for name, code in (("malformed", "E-ENV-001"), ("not-an-object", "E-ENV-001"),
                       ("replayed-nonce", "E-AUTH-004"), ("bad-signature", "E-AUTH-005"),
                       ("unknown-institution", "E-AUTH-002"),
                       ("no-credentials", "E-AUTH-001"), ("charset-refused", "E-ENV-001"),
                       ("get-on-the-route", "E-ENV-010"), ("put-on-a-service-path",
                                                           "E-ENV-010"),
                       ("unknown-path-under-the-prefix", "E-ENV-008"),
                       ("path-mismatch", "E-ENV-009"), ("2207-again", "E-FEE-004")):
        assert lean[name][0] == 200, name
        assert loads(lean[name][2])["err_msg"].startswith(code), (name, lean[name][2][:200])
    assert loads(lean["gbk-declared"][2])["infcode"] == 0
    assert dict(lean["2207"][1])["content-type"] == "application/json; charset=utf-8"
    assert lean["health"][0] == 200 and lean["admin"][0] == 200
    assert lean["admin-unauthenticated"][0] == 401 and lean["nowhere"][0] == 404
    assert lean["outside-path-with-a-slash"][0] == 307  # the router's redirect, as routed


def test_the_lean_path_takes_only_the_interfaces_posts(db):
    national = create_app(db, paths=PATHS, lean=True).national
    assert national is not None

    def taken(method: str, path: str) -> bool:
        return national.lean_target({"type": "http", "method": method, "path": path}) is not None

    assert taken("POST", ROUTE) and taken("POST", ROUTE + "/") and taken("POST", ROUTE + "/1101")
    assert taken("POST", PATH_OF["1101"]) and taken("POST", OUTSIDE)
    assert not taken("GET", ROUTE) and not taken("HEAD", ROUTE) and not taken("PUT", OUTSIDE)
    assert not taken("POST", "/fsi/api/nothing/here") and not taken("POST", OUTSIDE + "/")
    assert not taken("POST", "/health") and not taken("POST", "/channel/v1/certificates")
    assert national.lean_target({"type": "websocket", "path": ROUTE}) is None


def test_an_unexpected_failure_is_the_same_500_on_both_paths(db, clock, monkeypatch):
    """Something the handling did not expect: the application's own E-SYS-002 problem,
    on the lean path as on the routed one (the exception still raised to the server)."""
    replies = []
    for lean in (True, False):
        app = create_app(db, clock=clock, lean=lean)
        monkeypatch.setattr(app.state.hospital, "serve", _broken)
        his = HisClient(lambda h, b: b"", CODE, demo_token(CODE))
        with TestClient(app, raise_server_exceptions=False) as http:
            reply = http.post(ROUTE, content=json.dumps(his.envelope("1101", {})).encode(),
                              headers=his.headers())
        replies.append((reply.status_code, list(reply.headers.multi_items()), reply.content))
    assert replies[0] == replies[1]
    assert replies[0][0] == 500 and b"E-SYS-002" in replies[0][2]


def _broken(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("not expected")


@pytest.mark.parametrize(("text", "threads"), [("", 40), ("0", 0), ("8", 8)])
def test_the_thread_pool_setting(monkeypatch, text, threads):
    monkeypatch.setenv(national_http.THREADS_SETTING, text)
    assert national_http.threads_from_env() == threads


@pytest.mark.parametrize("text", ["-1", "forty", "100000"])
def test_a_bad_thread_pool_setting_stops_the_start(monkeypatch, text):
    monkeypatch.setenv(national_http.THREADS_SETTING, text)
    with pytest.raises(RuntimeError, match=national_http.THREADS_SETTING):
        national_http.threads_from_env()
    assert national_http.THREADS_SETTING in (national_http.problem() or "")


@pytest.mark.parametrize(("text", "lean"), [("", True), ("lean", True), ("routed", False),
                                            ("ROUTED", False)])
def test_the_path_setting(monkeypatch, text, lean):
    monkeypatch.setenv(national_http.PATH_SETTING, text)
    assert national_http.lean_from_env() is lean
    monkeypatch.setenv(national_http.PATH_SETTING, "fast")
    with pytest.raises(RuntimeError, match=national_http.PATH_SETTING):
        national_http.lean_from_env()


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner,
                                                         max_size=4)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    _containers, max_leaves=40)


def longest_string(value: Any) -> int:
    """The length of the longest string (key or value) in a JSON value, plainly."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return max((max(len(k), longest_string(v)) for k, v in value.items()), default=0)
    if isinstance(value, list):
        return max((longest_string(v) for v in value), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_one_walk_measures_depth_and_the_longest_string(value):
    """envelope.measure (the envelope parser's one walk) says what depth and a plain
    longest_string say, up to one level past the limit."""
    deepest, longest = envelope.measure(value)
    if envelope.depth(value) > envelope.JSON_DEPTH_MAX:
        assert deepest > envelope.JSON_DEPTH_MAX
    else:
        assert (deepest, longest) == (envelope.depth(value), longest_string(value))


@pytest.mark.parametrize("text", ["2026-05-11 09:00:00", "2026-02-29 09:00:00",
                                  "2024-02-29 23:59:59", "2026-05-11 24:00:00",
                                  "2026-05-11 09:00:60", "0000-05-11 09:00:00",
                                  "2026-13-01 00:00:00", "2026-05-11 09:60:00"])
def test_the_standard_time_form_reads_as_strptime_read_it(text):
    try:
        expected = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        expected = None
    assert china_time(text) == expected
