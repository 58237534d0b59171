"""Gateway authentication of the hospital route: x-tif-* headers, timestamp window, nonce
replay, signature, acting for another institution, and a signed-out sign_no.

Every refused request is answered HTTP 200 with infcode -1 and the catalogue code, and
leaves the database exactly as it was (no visit, no message remembered)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from flows import LIU_YANG, WANG_FANG, ok, person, refused, register
from yibao.api.app import create_app
from yibao.api.gateway import signature
from yibao.api.hospital import ROUTE
from yibao.client import HisClient, httpx_transport
from yibao.store.demo import demo_token
from yibao.store.schema import gateway_nonce, metadata, visit

HOSPITAL = "H11010500001"
OTHER = "H11010500002"


def snapshot(db) -> dict[str, list[str]]:
    """Every row of every table (the nonce log and the refusals counter aside: a refused
    message keeps its nonce and is counted on purpose)."""
    with db.read() as conn:
        return {
            t.name: sorted(repr(tuple(r)) for r in conn.execute(select(t)))
            for t in metadata.sorted_tables if t.name not in ("gateway_nonce", "refusal_count")
        }


def visit_count(db) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(visit)).scalar_one())


def registration(his: HisClient, psn_no: str, certno: str = WANG_FANG) -> dict[str, Any]:
    """A 2201 envelope (not sent)."""
    return his.envelope("2201", {"data": {
        "psn_no": psn_no, "insutype": "310", "begntime": "2026-05-11 09:00:00",
        "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "ipt_otp_no": "OP1",
        "atddr_no": "D001", "dr_name": "医生甲", "dept_code": "K01", "dept_name": "内科",
        "caty": "A03"}})


def post(http, headers: dict[str, str], message: dict[str, Any]):
    body = json.dumps(message, ensure_ascii=False).encode("utf-8")
    return http.post(ROUTE, content=body, headers=headers)


def answer_of(reply) -> dict[str, Any]:
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/json")
    data: dict[str, Any] = reply.json()
    return data


@pytest.fixture
def wang(his) -> str:
    return str(person(his, WANG_FANG)["baseinfo"]["psn_no"])


# ---------------------------------------------------------------- headers


@pytest.mark.parametrize("missing", ["x-tif-paasid", "x-tif-timestamp", "x-tif-nonce",
                                     "x-tif-signature"])
def test_each_missing_header_is_refused(his, http, db, wang, missing):
    before = snapshot(db)
    headers = his.headers()
    del headers[missing]
    refused(answer_of(post(http, headers, registration(his, wang))), "E-AUTH-001")
    assert snapshot(db) == before


def test_empty_header_counts_as_missing(his, http, db, wang):
    before = snapshot(db)
    headers = his.headers() | {"x-tif-signature": ""}
    refused(answer_of(post(http, headers, registration(his, wang))), "E-AUTH-001")
    assert snapshot(db) == before


def test_no_headers_at_all(his, http, db, wang):
    before = snapshot(db)
    reply = post(http, {"content-type": "application/json"}, registration(his, wang))
    refused(answer_of(reply), "E-AUTH-001")
    assert snapshot(db) == before


@pytest.mark.parametrize("header", ["x-tif-paasid", "x-tif-nonce", "x-tif-timestamp"])
def test_a_control_character_in_a_header_is_refused(app, his, db, wang, header):
    """A NUL would reach PostgreSQL (which refuses it in text) as the caller or nonce."""
    headers = his.headers()
    headers[header] += "\x00"
    headers["x-tif-signature"] = signature(
        headers["x-tif-timestamp"], demo_token(HOSPITAL), headers["x-tif-nonce"])
    before = snapshot(db)
    body = json.dumps(registration(his, wang)).encode()
    refused(app.state.hospital.handle(headers, body), "E-AUTH-001")
    assert snapshot(db) == before


# ---------------------------------------------------------------- caller


def test_unknown_paasid_is_refused(http, db, wang):
    stranger = HisClient(httpx_transport(http), "H99999999999", "guessed-token")
    before = snapshot(db)
    refused(stranger.send(registration(stranger, wang)), "E-AUTH-002")
    assert snapshot(db) == before


def test_wrong_token_is_refused_as_a_bad_signature(http, db, his, wang):
    forger = HisClient(httpx_transport(http), HOSPITAL, demo_token(OTHER))
    forger.sign_no = his.sign_no
    before = snapshot(db)
    refused(forger.send(registration(forger, wang)), "E-AUTH-005")
    assert snapshot(db) == before


def test_signature_of_other_values_is_refused(his, db, wang):
    """A signature valid for another nonce does not authenticate this one."""
    headers = his.headers()
    before = snapshot(db)
    answer = his.transport(headers | {"x-tif-nonce": "another-nonce"},
                           json.dumps(registration(his, wang)).encode())
    refused(json.loads(answer), "E-AUTH-005")
    assert snapshot(db) == before


def test_a_signature_in_capitals_is_accepted(his, wang):
    headers = his.headers()
    headers["x-tif-signature"] = headers["x-tif-signature"].upper()
    answer = json.loads(his.transport(headers, json.dumps(registration(his, wang)).encode()))
    assert ok(answer)["data"]["mdtrt_id"]


# ---------------------------------------------------------------- timestamp


@pytest.mark.parametrize("offset", [-301 - 60, -3600, 301 + 60, 86400])
def test_timestamp_outside_the_window_is_refused(his, db, wang, offset):
    before = snapshot(db)
    answer = his.send(registration(his, wang), timestamp=int(time.time()) + offset)
    refused(answer, "E-AUTH-003")
    assert snapshot(db) == before


@pytest.mark.parametrize("offset", [-290, 290])
def test_timestamp_inside_the_window_is_accepted(his, db, wang, offset):
    answer = his.send(registration(his, wang), timestamp=int(time.time()) + offset)
    assert ok(answer)["data"]["mdtrt_id"]
    assert visit_count(db) == 1


FIXED_UNIX = 1_900_000_000  # 2030-03-17: far from the machine's clock


@pytest.fixture
def fixed_his(db, clock):
    """A HIS calling an app whose gateway clock is stopped at FIXED_UNIX."""
    with TestClient(create_app(db, clock=clock, unix_clock=lambda: FIXED_UNIX)) as client:
        yield HisClient(httpx_transport(client), HOSPITAL, demo_token(HOSPITAL))


def sign_in(his: HisClient) -> dict[str, Any]:
    return his.envelope("9001", {"signIn": {"opter_no": "001", "mac": "00-00", "ip": "::1"}})


def test_the_window_is_that_of_the_injected_gateway_clock(fixed_his, db):
    before = snapshot(db)
    refused(fixed_his.send(sign_in(fixed_his), timestamp=int(time.time())), "E-AUTH-003")
    assert snapshot(db) == before
    answer = fixed_his.send(sign_in(fixed_his), timestamp=FIXED_UNIX - 290)
    assert ok(answer)["signinoutb"]["sign_no"]
    with db.read() as conn:
        assert conn.execute(select(gateway_nonce.c.ts)).scalars().all() == [FIXED_UNIX - 290]


@pytest.mark.parametrize("stamp", ["abc", "-5", "1.7e9", " ", "²", "1764000000³"])
def test_timestamp_that_is_not_unix_seconds_is_refused(his, http, db, wang, stamp):
    # as bytes: HTTP header values are Latin-1, where '²' and '³' are digits to isdigit()
    headers = his.headers() | {"x-tif-timestamp": stamp.encode("latin-1")}
    before = snapshot(db)
    answer = answer_of(post(http, headers, registration(his, wang)))
    assert answer["infcode"] == -1
    assert answer["err_msg"].startswith(("E-AUTH-003", "E-AUTH-001")), answer["err_msg"]
    assert snapshot(db) == before


# ---------------------------------------------------------------- nonce


def test_reused_nonce_is_refused_and_creates_no_second_visit(his, db, wang):
    first = ok(his.send(registration(his, wang), nonce="n-0001"))["data"]["mdtrt_id"]
    before = snapshot(db)
    # a different message (new msgid) under the same nonce: a replayed signature
    refused(his.send(registration(his, wang), nonce="n-0001"), "E-AUTH-004")
    assert snapshot(db) == before
    assert visit_count(db) == 1
    visits = ok(his.call("5201", {"data": {"psn_no": wang, "begntime": "2026-01-01 00:00:00",
                                           "endtime": "2026-12-31 23:59:59"}}))["mdtrtinfo"]
    assert [v["mdtrt_id"] for v in visits] == [first]


def test_replaying_the_exact_request_is_refused(his, db, wang):
    message = registration(his, wang)
    ok(his.send(message, nonce="n-0002"))
    before = snapshot(db)
    refused(his.send(message, nonce="n-0002"), "E-AUTH-004")
    assert snapshot(db) == before


def test_nonce_of_a_refused_message_cannot_be_used_again(his, db, wang):
    unknown = registration(his, "NOPE0000000000")
    assert his.send(unknown, nonce="n-0003")["infcode"] == -1
    before = snapshot(db)
    refused(his.send(registration(his, wang), nonce="n-0003"), "E-AUTH-004")
    assert snapshot(db) == before


def test_same_nonce_from_two_institutions_is_independent(his_factory, db):
    first, second = his_factory(HOSPITAL), his_factory(OTHER)
    for his in (first, second):
        psn_no = person(his, LIU_YANG)["baseinfo"]["psn_no"]
        message = registration(his, psn_no, LIU_YANG)
        message["input"]["data"]["insutype"] = "390"
        assert ok(his.send(message, nonce="shared-nonce"))["data"]["mdtrt_id"]
    assert visit_count(db) == 2


def test_overlong_nonce_is_refused(his, db, wang):
    before = snapshot(db)
    refused(his.send(registration(his, wang), nonce="n" * 65), "E-AUTH-004")
    assert snapshot(db) == before
    with db.read() as conn:
        stored = conn.execute(select(gateway_nonce.c.nonce)).scalars().all()
    assert "n" * 65 not in stored


# ---------------------------------------------------------------- acting for another


def test_envelope_for_another_institution_is_refused(his, db, wang):
    message = registration(his, wang)
    message["fixmedins_code"] = OTHER
    before = snapshot(db)
    refused(his.send(message), "E-AUTH-006")
    assert snapshot(db) == before
    assert visit_count(db) == 0


def test_institution_cannot_read_as_another(his, wang):
    message = his.envelope("1101", {"data": {"mdtrt_cert_type": "02",
                                             "mdtrt_cert_no": WANG_FANG}})
    message["fixmedins_code"] = OTHER
    refused(his.send(message), "E-AUTH-006")


# ---------------------------------------------------------------- sign_no


def sign_out(his: HisClient, sign_no: str) -> dict[str, Any]:
    return his.call("9002", {"signOut": {"sign_no": sign_no, "opter_no": "001"}})


def test_signed_out_sign_no_is_refused(his, db, wang):
    old = his.sign_no
    ok(sign_out(his, old))
    before = snapshot(db)
    refused(his.send(registration(his, wang)), "E-AUTH-007")
    assert snapshot(db) == before
    assert visit_count(db) == 0
    his.sign_in()
    assert his.sign_no != old
    assert register(his, wang, WANG_FANG)


def test_signing_out_twice_is_refused(his):
    sign_no = his.sign_no
    ok(sign_out(his, sign_no))
    refused(sign_out(his, sign_no), "E-AUTH-007")


def test_sign_no_of_another_institution_is_refused(his_factory, db):
    mine, theirs = his_factory(HOSPITAL), his_factory(OTHER)
    psn_no = person(mine, WANG_FANG)["baseinfo"]["psn_no"]
    mine.sign_no = theirs.sign_no
    before = snapshot(db)
    refused(mine.send(registration(mine, psn_no)), "E-AUTH-007")
    assert snapshot(db) == before
    refused(sign_out(mine, theirs.sign_no), "E-AUTH-007")
    assert register(theirs, psn_no, WANG_FANG)  # still signed in


def test_invented_sign_no_is_refused(his, db, wang):
    his.sign_no = "SN-INVENTED-0001"
    before = snapshot(db)
    refused(his.send(registration(his, wang)), "E-AUTH-007")
    assert snapshot(db) == before
