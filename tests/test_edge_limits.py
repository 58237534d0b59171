"""Before authentication: limits on every route (docs/security.md). Each attack goes
through the application (the TestClient, or the ASGI app called with a receive channel
the test controls, to see how much of a body was read) and must be refused with its
specific answer, changing nothing."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from apps import FACE_OK, WANG, ChannelApp
from conftest import ADMIN_TOKEN
from flows import WANG_FANG, ok, person, refused
from test_errors import reg_payload, snapshot, unchanged
from yibao.api.channel import signature as channel_signature
from yibao.api.envelope import BODY_BYTES_MAX, JSON_DEPTH_MAX, STRING_LENGTH_MAX
from yibao.api.hospital import ROUTE
from yibao.store.demo import demo_token
from yibao.store.schema import ecert, gateway_nonce

ACTIVATE = "/channel/v1/certificates"
SUSPEND = "/admin/v1/persons/11000000000000000001/suspensions"
AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}", "content-type": "application/json"}
OVER = BODY_BYTES_MAX + 1
CHUNK = 1024 * 1024
FLOOD_CHUNKS = 64  # a 64 MiB body: the application must stop asking long before its end


@pytest.fixture
def wang(his) -> str:
    return str(person(his, WANG_FANG)["baseinfo"]["psn_no"])


def nonces(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(gateway_nonce)).scalar_one()


def certificates(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(ecert)).scalar_one()


def channel_headers(body: bytes, *, path: str = ACTIVATE, nonce: str = "",
                    ts: str = "", secret: str = "") -> dict[str, str]:
    ts = ts or str(int(time.time()))
    nonce = nonce or f"edge-{time.perf_counter_ns()}"
    return {"x-yb-channel": "CH-BJAPP", "x-yb-timestamp": ts, "x-yb-nonce": nonce,
            "content-type": "application/json", "idempotency-key": f"key-{nonce}",
            "x-yb-signature": channel_signature(secret or demo_token("CH-BJAPP"), "POST",
                                                path, ts, nonce, body)}


def activation(**changes: Any) -> bytes:
    return json.dumps({**WANG, "pin": "135790", "real_person": FACE_OK, **changes}).encode()


def chunks(size: int):
    """A body without Content-Length (sent chunked), ``size`` bytes of 'x'."""
    def generate():
        left = size
        while left > 0:
            yield b"x" * min(CHUNK, left)
            left -= CHUNK
    return generate()


# ---------------------------------------------------------------- ASGI, receive watched


class Watched:
    """A client whose body the test hands over one chunk at a time, counting how many
    the application asked for: the proof of how much of a body was read."""

    def __init__(self, chunk: bytes, count: int) -> None:
        self.chunk, self.count, self.taken = chunk, count, 0

    async def receive(self) -> dict[str, Any]:
        if self.taken >= self.count:
            return {"type": "http.disconnect"}
        self.taken += 1
        more = self.taken < self.count
        return {"type": "http.request", "body": self.chunk, "more_body": more}


def call_asgi(app, path: str, headers: dict[str, str], client: Watched, *,
              method: str = "POST") -> tuple[int, bytes]:
    """One request straight into the ASGI application; its status and body."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": b"", "server": ("testserver", 80),
             "client": ("127.0.0.1", 1234),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(app(scope, client.receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent
                                      if m["type"] == "http.response.body")


# ---------------------------------------------------------------- oversized bodies


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_channel_body_is_refused_413(http, db, chunked):
    before = snapshot(db), nonces(db)
    body = activation(pad="x" * OVER)
    content = chunks(OVER) if chunked else body
    reply = http.post(ACTIVATE, content=content, headers=channel_headers(body))
    assert reply.status_code == 413, reply.text
    assert reply.json()["code"] == "E-REQ-005" and str(BODY_BYTES_MAX) in reply.json()["detail"]
    assert (snapshot(db), nonces(db)) == before


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_admin_body_is_refused_413(http, db, chunked):
    body = json.dumps({"begin_date": "2026-05-01", "end_date": "2026-06-01",
                       "reason": "x" * OVER}).encode()
    with unchanged(db):
        reply = http.post(SUSPEND, content=chunks(OVER) if chunked else body, headers=AUTH)
    assert reply.status_code == 413, reply.text


def test_an_oversized_body_is_refused_before_it_is_read(app, db):
    """Content-Length over the limit: 413 without asking for one byte of the body, on
    every family, authenticated or not (the connection is closed after the answer)."""
    for path, headers in ((ACTIVATE, channel_headers(b"")), (SUSPEND, AUTH),
                          (SUSPEND, {}), ("/health", {})):
        client = Watched(b"x" * CHUNK, FLOOD_CHUNKS)
        status, _ = call_asgi(app, path, dict(headers, **{"content-length": "62914560"}),
                              client)
        assert (status, client.taken) == (413, 0), path


def test_a_chunked_body_is_cut_off_while_it_streams(app, db):
    """No Content-Length: the body is counted chunk by chunk and refused the moment it
    passes the limit; the rest of an endless body is never asked for."""
    for path, headers in ((ACTIVATE, channel_headers(b"")), (SUSPEND, AUTH)):
        client = Watched(b"x" * CHUNK, FLOOD_CHUNKS)
        with unchanged(db):
            status, _ = call_asgi(app, path, headers, client)
        assert status == 413 and client.taken == BODY_BYTES_MAX // CHUNK + 1, path


def test_an_oversized_national_body_is_e_env_006(http, his, db, wang):
    message = his.envelope("2201", reg_payload(wang))
    message["fixmedins_name"] = "x" * OVER
    body = json.dumps(message).encode()
    with unchanged(db):
        for content in (body, chunks(len(body))):
            reply = http.post(ROUTE, content=content, headers=his.headers())
            assert reply.status_code == 200
            refused(reply.json(), "E-ENV-006")


def test_an_oversized_national_body_is_refused_before_it_is_read(app, his):
    client = Watched(b"x" * CHUNK, FLOOD_CHUNKS)
    status, answer = call_asgi(app, ROUTE, dict(his.headers(), **{"content-length": "9" * 40}),
                               client)
    assert (status, client.taken) == (200, 0)
    refused(json.loads(answer), "E-ENV-006")


# ---------------------------------------------------------------- authentication first


@pytest.mark.parametrize("family", ["channel", "admin"])
def test_unauthenticated_requests_are_refused_before_the_body_is_read(app, db, family):
    """A large body (here 64 MiB without Content-Length) is never
    asked for when the headers do not authenticate."""
    path, headers = ((ACTIVATE, channel_headers(b"", secret="guessed")) if family == "channel"
                     else (SUSPEND, {"authorization": "Bearer guessed"}))
    if family == "channel":
        headers["x-yb-channel"] = "CH-NOSUCH"
    client = Watched(b"[" * CHUNK, FLOOD_CHUNKS)
    with unchanged(db):
        status, _ = call_asgi(app, path, headers, client)
    assert (status, client.taken) == (401, 0)


def test_a_bad_channel_signature_over_a_read_body_is_401(http, db):
    before = snapshot(db), nonces(db)
    body = activation()
    reply = http.post(ACTIVATE, content=body, headers=channel_headers(body, secret="guessed"))
    assert reply.status_code == 401 and reply.json()["code"] == "E-AUTH-005"
    assert (snapshot(db), nonces(db)) == before


@pytest.mark.parametrize("body", [b"not json at all " * 100_000,
                                  json.dumps({"name": "\x00" * 1000}).encode(),
                                  b"[" * 1_000_000], ids=["not-json", "unstorable", "deep"])
def test_unauthenticated_bodies_get_401_not_their_validation_error(http, db, body):
    """What is refused with 422 for a caller is refused with 401 for a stranger: the body
    is not parsed before authentication."""
    with unchanged(db):
        reply = http.post(ACTIVATE, content=body, headers=dict(
            channel_headers(body), **{"x-yb-channel": "CH-NOSUCH"}))
        assert reply.status_code == 401 and reply.json()["code"] == "E-AUTH-005"
        reply = http.post(SUSPEND, content=body, headers={"content-type": "application/json"})
        assert reply.status_code == 401, reply.text
        assert reply.json()["code"] == "E-ADM-002", reply.text


# ---------------------------------------------------------------- JSON limits on REST


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("deep", [JSON_DEPTH_MAX + 1, 100_000], ids=["17", "100000"])
def test_rest_json_nested_deeper_than_the_limit_is_refused(http, db, deep):
    body = (json.dumps({"begin_date": "2026-05-01", "end_date": "2026-06-01",
                        "reason": nested(deep)}).encode() if deep < 1000
            else b'{"reason": ' + b"[" * deep + b"]" * deep + b"}")
    app = ChannelApp(http)
    with unchanged(db):
        for reply in (http.post(SUSPEND, content=body, headers=AUTH),
                      http.post(ACTIVATE, content=body, headers=channel_headers(body))):
            assert reply.status_code == 422, reply.text
            assert reply.json()["code"] == "E-REQ-001", reply.text
            [error] = reply.json()["errors"]
            assert error["field"] == "body" and f"deeper than {JSON_DEPTH_MAX}" in error["message"]
    assert app.post(ACTIVATE, json.loads(activation())).status_code == 201  # at the limit: ok


def test_rest_json_depth_at_the_limit_is_served(http, db):
    body = {"begin_date": "2026-05-01", "end_date": "2026-06-01",
            "reason": "lent the card", "extra": nested(JSON_DEPTH_MAX - 1)}
    reply = http.post(SUSPEND, content=json.dumps(body).encode(), headers=AUTH)
    assert reply.status_code == 201, reply.text


def test_rest_strings_longer_than_the_limit_are_refused(http, db):
    long = "x" * (STRING_LENGTH_MAX + 1)
    body = activation(name=long)
    with unchanged(db):
        reply = http.post(ACTIVATE, content=body, headers=channel_headers(body))
        assert reply.status_code == 422, reply.text
        [error] = reply.json()["errors"]
        assert error == {"field": "body.name", "message": f"text longer than "
                         f"{STRING_LENGTH_MAX} characters (the limit of every route)"}
        reply = http.post(SUSPEND, content=json.dumps({long: 1}).encode(), headers=AUTH)
        assert reply.status_code == 422 and reply.json()["errors"][0]["field"] == "body"


# ---------------------------------------------------------------- header values


HUGE = "1" * 5000


def test_a_huge_national_timestamp_is_e_auth_003(http, his, db, wang):
    for value in (HUGE, "9" * 13, "12e3", " 1700000000"):
        headers = dict(his.headers(), **{"x-tif-timestamp": value})
        with unchanged(db):
            reply = http.post(ROUTE, content=json.dumps(his.envelope(
                "2201", reg_payload(wang))).encode(), headers=headers)
        assert reply.status_code == 200
        refused(reply.json(), "E-AUTH-003")


def test_a_huge_channel_timestamp_is_401(http, db):
    body = activation()
    for value in (HUGE, "9" * 13, "-1"):
        with unchanged(db):
            reply = http.post(ACTIVATE, content=body, headers=channel_headers(body, ts=value))
        assert reply.status_code == 401 and reply.json()["code"] == "E-AUTH-005", value


def test_non_ascii_credentials_are_refused_not_an_error(http, his, db, wang):
    """hmac.compare_digest raises on non-ASCII text: a signature or token of Latin-1
    letters gets the ordinary refusal, never an HTTP 500."""
    body = activation()
    headers = dict(channel_headers(body), **{"x-yb-signature": "é" * 64})
    reply = http.post(ACTIVATE, content=body, headers={k: v.encode("latin-1")
                                                        for k, v in headers.items()})
    assert reply.status_code == 401
    reply = http.post(SUSPEND, content=b"{}", headers={"authorization": "Bearer é".encode(
        "latin-1")})
    assert reply.status_code == 401
    national = {k: v.encode("latin-1") for k, v in
                dict(his.headers(), **{"x-tif-signature": "é" * 64}).items()}
    reply = http.post(ROUTE, content=json.dumps(his.envelope(
        "2201", reg_payload(wang))).encode(), headers=national)
    refused(reply.json(), "E-AUTH-005")


# ---------------------------------------------------------------- nonces


BAD_BODIES = {
    "not-json": lambda his, wang: b"{not json",
    "not-an-object": lambda his, wang: b"[]",
    "unknown-infno": lambda his, wang: json.dumps(his.envelope("0000", {})).encode(),
    "bad-msgid": lambda his, wang: json.dumps(his.envelope("2201", reg_payload(wang),
                                                           msgid="bad-id!")).encode(),
    "other-institution": lambda his, wang: json.dumps(dict(his.envelope(
        "2201", reg_payload(wang)), fixmedins_code="H11010500002")).encode(),
    "refused-field": lambda his, wang: json.dumps(his.envelope(
        "2201", reg_payload(wang, insutype="999"))).encode(),
}


@pytest.mark.parametrize("bad", sorted(BAD_BODIES))
def test_a_failed_national_message_consumes_its_nonce(http, his, db, wang, bad):
    """Signed headers whose message failed cannot carry another (valid) body."""
    headers = his.headers()
    first = http.post(ROUTE, content=BAD_BODIES[bad](his, wang), headers=headers).json()
    assert first["infcode"] == -1 and not first["err_msg"].startswith("E-SYS"), first
    good = json.dumps(his.envelope("2201", reg_payload(wang))).encode()
    with unchanged(db):
        refused(http.post(ROUTE, content=good, headers=headers).json(), "E-AUTH-004")
    ok(his.send(json.loads(good)))  # the same body under fresh headers is served


def test_a_stored_answer_consumes_its_nonce(http, his, db, wang):
    """A retried msgid answered from the store records the retry's nonce too."""
    message = his.envelope("2201", reg_payload(wang))
    ok(his.send(message))
    headers = his.headers()
    retry = http.post(ROUTE, content=json.dumps(message).encode(), headers=headers).json()
    ok(retry)
    other = json.dumps(his.envelope("1101", {"data": {"psn_no": wang}})).encode()
    with unchanged(db):
        refused(http.post(ROUTE, content=other, headers=headers).json(), "E-AUTH-004")


def test_a_refused_channel_request_consumes_its_nonce(http, db):
    """A signed body that is refused (a bare real-person flag: E-ECT-012) has had its
    nonce recorded: the same request cannot be sent again, and nothing was stored."""
    body = activation(real_person="no")
    headers = channel_headers(body)
    first = http.post(ACTIVATE, content=body, headers=headers)
    assert (first.status_code, first.json()["code"]) == (400, "E-ECT-012"), first.text
    before = certificates(db)
    reply = http.post(ACTIVATE, content=body, headers=headers)
    assert reply.status_code == 401 and certificates(db) == before == 0


def test_unknown_callers_do_not_grow_the_institution_cache(http, app, monkeypatch):
    """Every distinct x-tif-paasid a stranger invents is looked up once and cached as
    unknown: the cache is bounded, so a stream of invented codes cannot grow memory."""
    monkeypatch.setattr("yibao.api.gateway.INSTITUTION_CACHE_MAX", 8)
    for n in range(40):
        headers = {"x-tif-paasid": f"X{n:011d}", "x-tif-timestamp": str(int(time.time())),
                   "x-tif-nonce": f"n{n}", "x-tif-signature": "0" * 64}
        refused(http.post(ROUTE, content=b"{}", headers=headers).json(), "E-AUTH-002")
    assert len(app.state.hospital.gateway._cache) <= 8


def test_a_method_no_endpoint_takes_is_405_with_the_body_unread(app, db):
    """The router answers a path no route has (404) or a method the path does not take
    (405) itself, without the body; only requests some endpoint serves are
    authenticated first."""
    for method, path, status in (("TRACE", SUSPEND, 405), ("GET", ACTIVATE, 405),
                                 ("POST", "/admin/v1/nothing-here", 404)):
        client = Watched(b"x" * CHUNK, FLOOD_CHUNKS)
        with unchanged(db):
            got, _ = call_asgi(app, path, {}, client, method=method)
        assert (got, client.taken) == (status, 0), (method, path)


@pytest.mark.parametrize("header", ["x-yb-channel", "x-yb-nonce"])
def test_a_nul_in_a_channel_header_is_401(app, db, header):
    """A NUL would reach PostgreSQL (which refuses it in text) as the channel or nonce."""
    body = activation()
    headers = channel_headers(body)
    headers[header] += "\x00"
    headers["x-yb-signature"] = channel_signature(
        demo_token("CH-BJAPP"), "POST", ACTIVATE, headers["x-yb-timestamp"],
        headers["x-yb-nonce"], body)
    before = snapshot(db), nonces(db)
    status, answer = call_asgi(app, ACTIVATE, headers, Watched(body, 1))
    assert status == 401 and json.loads(answer)["code"] == "E-AUTH-005"
    assert (snapshot(db), nonces(db)) == before


def test_a_national_string_longer_than_the_limit_is_e_env_006(http, his, db, wang):
    """The same string limit as the REST families, in a field no transaction reads."""
    message = his.envelope("2201", reg_payload(wang))
    message["fixmedins_name"] = "x" * (STRING_LENGTH_MAX + 1)
    with unchanged(db):
        reply = http.post(ROUTE, content=json.dumps(message).encode(), headers=his.headers())
    assert str(STRING_LENGTH_MAX) in refused(reply.json(), "E-ENV-006")
    message["fixmedins_name"] = "x" * STRING_LENGTH_MAX
    ok(his.send(message))


@pytest.mark.parametrize("declared", [str(BODY_BYTES_MAX + 10), "9" * 40])
def test_an_oversized_declared_national_body_spends_its_nonce(app, http, his, db, wang,
                                                              declared):
    """Observed: signed headers + a declared 4 MiB + 10 were refused E-ENV-006 and the
    same headers then carried a valid 9001. The route refuses the oversized body after
    authenticating the headers, unread, and records the nonce."""
    headers = his.headers()
    client = Watched(b"x" * CHUNK, FLOOD_CHUNKS)
    before = nonces(db)
    status, answer = call_asgi(app, ROUTE, dict(headers, **{"content-length": declared}),
                               client)
    assert (status, client.taken) == (200, 0)
    refused(json.loads(answer), "E-ENV-006")
    assert nonces(db) == before + 1
    good = json.dumps(his.envelope("2201", reg_payload(wang))).encode()
    with unchanged(db):
        refused(http.post(ROUTE, content=good, headers=headers).json(), "E-AUTH-004")


def test_an_oversized_streamed_national_body_spends_its_nonce(http, his, db, wang):
    headers = his.headers()
    refused(http.post(ROUTE, content=chunks(OVER), headers=headers).json(), "E-ENV-006")
    good = json.dumps(his.envelope("2201", reg_payload(wang))).encode()
    with unchanged(db):
        refused(http.post(ROUTE, content=good, headers=headers).json(), "E-AUTH-004")
    ok(his.send(json.loads(good)))  # the same body under fresh headers is served
