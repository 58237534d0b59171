"""The AK/SK gateway scheme of the provincial edition (服务网关调用说明): ``_api_name``,
``_api_version``, ``_api_timestamp`` (13-digit milliseconds, 30 minutes either side),
``_api_access_key`` and ``_api_signature`` = base64(HmacSHA1(SK, the sorted
``key=value&...`` of the other four)), allowed per institution next to x-tif.

The signature is computed here from the standard's description, never by yibao's own
function. Every refusal is HTTP 200 with infcode -1, its catalogue code, and leaves the
database as it was."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from conftest import ADMIN, CLERK
from flows import (
    LIU_YANG,
    WANG_FANG,
    line,
    ok,
    person,
    refused,
    register,
    settle_payload,
    upload,
)
from yibao.api import gateway as gateway_module
from yibao.api.app import create_app
from yibao.api.hospital import ROUTE
from yibao.cli import app as cli
from yibao.client import HisClient, httpx_transport
from yibao.store import nonces
from yibao.store.demo import INSTITUTIONS, demo_token, seed_demo
from yibao.store.schema import gateway_key, gateway_nonce, institution, metadata, operator_action

HOSPITAL = "H11010500001"
OTHER = "H11010500002"
FIXED_UNIX = 1_900_000_000  # 2030-03-17: far from the machine's clock
FIXED_MS = FIXED_UNIX * 1000
WINDOW_MS = 30 * 60 * 1000  # the standard: 30 minutes
SIGNED_KEYS = ("_api_name", "_api_version", "_api_timestamp", "_api_access_key")


def spec_signature(secret_key: str, headers: dict[str, str]) -> str:
    """As the standard describes it: the gateway headers but the signature as key=value,
    keys in natural order, joined by '&', signed with HmacSHA1 under the SK (UTF-8), the
    digest in base64."""
    pairs = sorted((key, value) for key, value in headers.items() if key in SIGNED_KEYS)
    text = "&".join(f"{key}={value}" for key, value in pairs)
    digest = hmac.new(secret_key.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def aksk_headers(access_key: str, secret_key: str, *, name: str, ms: int,
                 version: str = "1.0.0") -> dict[str, str]:
    headers = {"_api_name": name, "_api_version": version, "_api_timestamp": str(ms),
               "_api_access_key": access_key}
    return headers | {"_api_signature": spec_signature(secret_key, headers),
                      "content-type": "application/json"}


class UnixClock:
    """The gateway's clock, stopped at a time the test sets."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Signer:
    """A HIS transport that signs each request with AK/SK as the standard describes, at
    the gateway clock's time plus ``offset_ms`` (each request one millisecond later)."""

    def __init__(self, http: TestClient, unix: UnixClock, access_key: str, secret_key: str,
                 *, name: str = "{infno}") -> None:
        self.http, self.unix = http, unix
        self.access_key, self.secret_key, self.name = access_key, secret_key, name
        self.sent = 0
        self.last: dict[str, str] = {}

    def __call__(self, _xtif_headers: dict[str, str], body: bytes) -> bytes:
        self.sent += 1
        infno = json.loads(body)["infno"]
        self.last = aksk_headers(self.access_key, self.secret_key,
                                 name=self.name.replace("{infno}", infno),
                                 ms=int(self.unix.now * 1000) + self.sent)
        reply = self.http.post(ROUTE, content=body, headers=self.last)
        assert reply.status_code == 200
        content: bytes = reply.content
        return content


def snapshot(db) -> dict[str, list[str]]:
    """Every row of every table but the nonce log and the refusals counter (a refused
    message keeps its nonce and is counted on purpose)."""
    with db.read() as conn:
        return {t.name: sorted(repr(tuple(r)) for r in conn.execute(select(t)))
                for t in metadata.sorted_tables if t.name not in ("gateway_nonce", "refusal_count")}


@pytest.fixture
def unix() -> UnixClock:
    return UnixClock(FIXED_UNIX)


@pytest.fixture
def fixed_http(db, clock, unix) -> Iterator[TestClient]:
    """The application with its gateway clock stopped at FIXED_UNIX (movable)."""
    with TestClient(create_app(db, clock=clock, unix_clock=unix)) as client:
        yield client


def his_of(http: TestClient, unix: UnixClock, code: str = HOSPITAL, *,
           access_key: str | None = None, secret_key: str | None = None,
           name: str = "{infno}") -> HisClient:
    """A HIS of ``code`` whose requests are signed with AK/SK by ``Signer`` (the demo
    pair unless given)."""
    signer = Signer(http, unix, code if access_key is None else access_key,
                    demo_token(code) if secret_key is None else secret_key, name=name)
    return HisClient(signer, code, "unused: AK/SK signs")


def sign_in_message(his: HisClient) -> dict[str, Any]:
    return his.envelope("9001", {"signIn": {"opter_no": "001", "mac": "00-00", "ip": "::1"}})


def post(http: TestClient, headers: dict[str, str], message: dict[str, Any]) -> dict[str, Any]:
    reply = http.post(ROUTE, content=json.dumps(message, ensure_ascii=False).encode(),
                      headers=headers)
    assert reply.status_code == 200
    answer: dict[str, Any] = reply.json()
    return answer


def demo_headers(code: str = HOSPITAL, *, name: str = "9001", ms: int = FIXED_MS) -> dict:
    return aksk_headers(code, demo_token(code), name=name, ms=ms)


# ---------------------------------------------------------------- a whole visit


def test_an_outpatient_visit_signed_with_aksk_settles_and_is_cancelled(fixed_http, unix, db):
    his = his_of(fixed_http, unix)
    his.sign_in()
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00")])
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "100.00")
    pre = ok(his.call("2206", payload))["setlinfo"]
    final = ok(his.call("2207", payload))["setlinfo"]
    assert pre["medfee_sumamt"] == final["medfee_sumamt"] == 100
    cancel = ok(his.call("2208", {"data": {"setl_id": final["setl_id"], "mdtrt_id": mdtrt_id,
                                          "psn_no": psn_no}}))["setlinfo"]
    assert cancel["medfee_sumamt"] == -100
    with db.read() as conn:  # one nonce per request, each the signature it carried
        recorded = conn.execute(select(gateway_nonce.c.nonce).where(
            gateway_nonce.c.paasid == HOSPITAL)).scalars().all()
    assert len(recorded) == his.transport.sent == 7  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["1101", "api_1101", "fsiPsnInfoService/queryPsnInfo"])
def test_api_name_is_signed_data_in_any_spelling(fixed_http, unix, name):
    his = his_of(fixed_http, unix, name=name)
    assert person(his, WANG_FANG)["baseinfo"]["psn_name"] == "王芳"
    assert his.transport.last["_api_name"] == name  # type: ignore[attr-defined]


@pytest.mark.parametrize("version", ["1.0.0", "V2", "x"])
def test_api_version_is_signed_data_of_any_value(fixed_http, unix, version):
    headers = aksk_headers(HOSPITAL, demo_token(HOSPITAL), name="9001", ms=FIXED_MS,
                           version=version)
    his = his_of(fixed_http, unix)
    assert ok(post(fixed_http, headers, sign_in_message(his)))["signinoutb"]["sign_no"]


def test_hisclient_signs_with_aksk_when_given_a_pair(http, db):
    """yibao's own client, signing at the machine's time, drives a settlement."""
    his = HisClient(httpx_transport(http), HOSPITAL, demo_token(HOSPITAL),
                    access_key=HOSPITAL, secret_key=demo_token(HOSPITAL),
                    api_name="api_{infno}")
    his.sign_in()
    psn_no = person(his, LIU_YANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, LIU_YANG, "390")
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "10.00")])
    settled = ok(his.call("2207", settle_payload(psn_no, mdtrt_id, LIU_YANG, "10.00",
                                                 account=False, insutype="390")))
    assert settled["setlinfo"]["medfee_sumamt"] == 10
    headers = his.headers(infno="1101")
    assert headers["_api_name"] == "api_1101" and len(headers["_api_timestamp"]) == 13
    assert headers["_api_signature"] == spec_signature(demo_token(HOSPITAL), headers)


# ---------------------------------------------------------------- replay and clock


def test_replaying_the_exact_request_is_refused(fixed_http, unix, db):
    his = his_of(fixed_http, unix)
    headers, message = demo_headers(), sign_in_message(his)
    ok(post(fixed_http, headers, message))
    before = snapshot(db)
    refused(post(fixed_http, headers, message), "E-AUTH-004")
    assert snapshot(db) == before


def test_the_same_headers_cannot_carry_another_message(fixed_http, unix, db):
    his = his_of(fixed_http, unix)
    headers = demo_headers(name="1101")
    ok(post(fixed_http, headers, his.envelope("1101", {"data": {
        "mdtrt_cert_type": "02", "mdtrt_cert_no": WANG_FANG, "psn_cert_type": "01",
        "certno": WANG_FANG}})))
    before = snapshot(db)
    refused(post(fixed_http, headers, sign_in_message(his)), "E-AUTH-004")
    assert snapshot(db) == before


def test_headers_of_a_refused_message_cannot_be_used_again(fixed_http, unix, db):
    his = his_of(fixed_http, unix)
    headers = demo_headers()
    bad = his.envelope("9999", {})
    refused(post(fixed_http, headers, bad), "E-ENV-003")
    refused(post(fixed_http, headers, sign_in_message(his)), "E-AUTH-004")


def test_a_replay_late_in_the_window_is_refused_after_the_nonces_are_pruned(
        fixed_http, unix, db):
    """x-tif nonces are pruned 10 minutes after their timestamp; an AK/SK request stays
    acceptable for 30 minutes, and so does its record."""
    his = his_of(fixed_http, unix)
    headers, message = demo_headers(), sign_in_message(his)
    ok(post(fixed_http, headers, message))
    unix.now = FIXED_UNIX + 25 * 60
    with db.write() as conn:  # what every pruner of the table does at that time
        nonces.prune(conn, int(unix.now) - 2 * gateway_module.WINDOW_SECONDS)
    refused(post(fixed_http, headers, message), "E-AUTH-004")


@pytest.mark.parametrize("offset_ms", [-WINDOW_MS - 1, WINDOW_MS + 1, -86_400_000,
                                       3_600_000])
def test_a_timestamp_outside_30_minutes_is_refused(fixed_http, unix, db, offset_ms):
    his = his_of(fixed_http, unix)
    before = snapshot(db)
    message = refused(post(fixed_http, demo_headers(ms=FIXED_MS + offset_ms),
                           sign_in_message(his)), "E-AUTH-003")
    assert "_api_timestamp" in message and "30 minutes" in message
    assert snapshot(db) == before


@pytest.mark.parametrize("offset_ms", [-WINDOW_MS, WINDOW_MS, -1000, 0])
def test_a_timestamp_just_inside_30_minutes_is_accepted(fixed_http, unix, offset_ms):
    his = his_of(fixed_http, unix)
    answer = post(fixed_http, demo_headers(ms=FIXED_MS + offset_ms), sign_in_message(his))
    assert ok(answer)["signinoutb"]["sign_no"]


@pytest.mark.parametrize("stamp", [str(FIXED_UNIX), str(FIXED_MS) + "0", "abc", "-1",
                                   f"{FIXED_MS / 1000:.3f}"])
def test_a_timestamp_that_is_not_milliseconds_is_refused(fixed_http, unix, db, stamp):
    his = his_of(fixed_http, unix)
    headers = demo_headers()
    headers["_api_timestamp"] = stamp  # signed as sent: only the time is wrong
    headers["_api_signature"] = spec_signature(demo_token(HOSPITAL), headers)
    before = snapshot(db)
    refused(post(fixed_http, headers, sign_in_message(his)), "E-AUTH-003")
    assert snapshot(db) == before


# ---------------------------------------------------------------- headers and keys


@pytest.mark.parametrize("missing", ["_api_name", "_api_version", "_api_timestamp",
                                     "_api_access_key", "_api_signature"])
def test_each_missing_header_is_refused_by_name(fixed_http, unix, db, missing):
    his = his_of(fixed_http, unix)
    headers = demo_headers()
    del headers[missing]
    before = snapshot(db)
    message = refused(post(fixed_http, headers, sign_in_message(his)), "E-AUTH-001")
    assert missing in message
    assert snapshot(db) == before


def test_two_missing_headers_are_both_named(fixed_http, unix):
    headers = demo_headers()
    del headers["_api_version"], headers["_api_signature"]
    message = refused(post(fixed_http, headers, sign_in_message(his_of(fixed_http, unix))),
                      "E-AUTH-001")
    assert "_api_version, _api_signature" in message


def test_no_gateway_header_names_both_schemes(fixed_http, unix):
    message = refused(post(fixed_http, {"content-type": "application/json"},
                           sign_in_message(his_of(fixed_http, unix))), "E-AUTH-001")
    assert "x-tif-paasid" in message and "_api_access_key" in message


def test_an_unknown_access_key_is_refused(fixed_http, unix, db):
    headers = aksk_headers("AK-NOBODY", demo_token(HOSPITAL), name="9001", ms=FIXED_MS)
    before = snapshot(db)
    message = refused(post(fixed_http, headers, sign_in_message(his_of(fixed_http, unix))),
                      "E-AUTH-002")
    assert "_api_access_key" in message
    assert snapshot(db) == before


def test_a_wrong_secret_key_is_refused(fixed_http, unix, db):
    headers = aksk_headers(HOSPITAL, demo_token(OTHER), name="9001", ms=FIXED_MS)
    before = snapshot(db)
    refused(post(fixed_http, headers, sign_in_message(his_of(fixed_http, unix))),
            "E-AUTH-005")
    assert snapshot(db) == before


def test_a_signature_over_other_values_is_refused(fixed_http, unix):
    headers = demo_headers(name="1101")
    headers["_api_name"] = "9001"  # the signature was made for 1101
    refused(post(fixed_http, headers, sign_in_message(his_of(fixed_http, unix))),
            "E-AUTH-005")


def test_another_institutions_pair_cannot_act_for_this_one(fixed_http, unix, db):
    his = his_of(fixed_http, unix)  # the envelope says HOSPITAL
    before = snapshot(db)
    refused(post(fixed_http, demo_headers(OTHER), sign_in_message(his)), "E-AUTH-006")
    assert snapshot(db) == before


def test_an_overlong_header_is_refused(fixed_http, unix):
    headers = aksk_headers(HOSPITAL, demo_token(HOSPITAL), name="n" * 101, ms=FIXED_MS)
    message = refused(post(fixed_http, headers, sign_in_message(his_of(fixed_http, unix))),
                      "E-AUTH-001")
    assert "_api_name" in message


def test_with_both_header_sets_the_aksk_headers_decide(fixed_http, unix):
    his = his_of(fixed_http, unix)
    xtif = HisClient(httpx_transport(fixed_http), HOSPITAL,
                     demo_token(HOSPITAL)).headers(timestamp=FIXED_UNIX)
    good_aksk = demo_headers()
    # a valid x-tif signature does not rescue a bad AK/SK one ...
    refused(post(fixed_http, xtif | demo_headers(OTHER) | {"_api_access_key": HOSPITAL},
                 sign_in_message(his)), "E-AUTH-005")
    # ... and a bad x-tif signature does not spoil a good AK/SK one
    assert ok(post(fixed_http, xtif | {"x-tif-signature": "0" * 64} | good_aksk,
                   sign_in_message(his)))["signinoutb"]["sign_no"]


def test_the_gateway_knows_a_cached_access_key(fixed_http, unix):
    gateway = fixed_http.app.state.hospital.gateway  # type: ignore[attr-defined]
    headers = demo_headers()
    assert not gateway.knows(headers)  # not yet read: the route reads it in a thread
    ok(post(fixed_http, headers, sign_in_message(his_of(fixed_http, unix))))
    assert gateway.knows(demo_headers(ms=FIXED_MS + 1))
    assert not gateway.knows(demo_headers(OTHER))


# ---------------------------------------------------------------- schemes per institution


def put_schemes(http: TestClient, code: str, *, xtif: bool, aksk: bool, who=ADMIN):
    return http.put(f"/admin/v1/institutions/{code}/gateway/schemes",
                    json={"xtif": xtif, "aksk": aksk}, headers=who)


def xtif_sign_in(http: TestClient, code: str = HOSPITAL, token: str | None = None):
    his = HisClient(httpx_transport(http), code, token or demo_token(code))
    return his.send(sign_in_message(his), timestamp=FIXED_UNIX)


def test_an_institution_allowed_xtif_only_is_refused_aksk(fixed_http, unix, db):
    reply = put_schemes(fixed_http, HOSPITAL, xtif=True, aksk=False)
    assert reply.status_code == 200 and reply.json()["aksk_allowed"] is False
    before = snapshot(db)
    message = refused(post(fixed_http, demo_headers(), sign_in_message(
        his_of(fixed_http, unix))), "E-AUTH-008")
    assert "AK/SK" in message
    assert snapshot(db) == before
    assert ok(xtif_sign_in(fixed_http))["signinoutb"]["sign_no"]


def test_an_institution_allowed_aksk_only_is_refused_xtif(fixed_http, unix, db):
    assert put_schemes(fixed_http, HOSPITAL, xtif=False, aksk=True).status_code == 200
    refused(xtif_sign_in(fixed_http), "E-AUTH-008")
    assert ok(post(fixed_http, demo_headers(), sign_in_message(
        his_of(fixed_http, unix))))["signinoutb"]["sign_no"]
    assert ok(xtif_sign_in(fixed_http, OTHER))["signinoutb"]["sign_no"]  # others unchanged


def test_both_schemes_serve_one_institution_during_a_migration(fixed_http, unix):
    assert put_schemes(fixed_http, HOSPITAL, xtif=True, aksk=True).status_code == 200
    assert ok(xtif_sign_in(fixed_http))["signinoutb"]["sign_no"]
    assert ok(post(fixed_http, demo_headers(), sign_in_message(
        his_of(fixed_http, unix))))["signinoutb"]["sign_no"]


def test_the_scheme_refusal_is_told_only_to_a_verified_caller(fixed_http, unix):
    put_schemes(fixed_http, HOSPITAL, xtif=True, aksk=False)
    wrong = aksk_headers(HOSPITAL, "not-the-secret-key", name="9001", ms=FIXED_MS)
    refused(post(fixed_http, wrong, sign_in_message(his_of(fixed_http, unix))), "E-AUTH-005")


def test_no_scheme_at_all_is_refused_and_changes_nothing(fixed_http, db):
    before = snapshot(db)
    reply = put_schemes(fixed_http, HOSPITAL, xtif=False, aksk=False)
    assert reply.status_code == 400 and reply.json()["code"] == "E-ADM-008"
    assert snapshot(db) == before


def test_only_an_administrator_sets_schemes(fixed_http):
    assert put_schemes(fixed_http, HOSPITAL, xtif=True, aksk=False, who=CLERK).status_code == 403
    assert put_schemes(fixed_http, "H99999999999", xtif=True, aksk=True).status_code == 404


# ---------------------------------------------------------------- rotation


def issue(http: TestClient, code: str = HOSPITAL, **body: Any):
    return http.post(f"/admin/v1/institutions/{code}/gateway/keys", json=body, headers=ADMIN)


def test_rotation_through_the_operator_route(fixed_http, unix, db):
    reply = issue(fixed_http)
    assert reply.status_code == 200
    issued = reply.json()
    new_ak, new_sk = issued["access_key"], issued["secret_key"]
    assert new_ak != HOSPITAL and len(new_sk) >= 32 and issued["previous_access_key"] is None
    assert issued["effective_within_seconds"] == 60
    his = his_of(fixed_http, unix)
    refused(post(fixed_http, demo_headers(), sign_in_message(his)), "E-AUTH-002")
    fresh = aksk_headers(new_ak, new_sk, name="9001", ms=FIXED_MS + 5)
    assert ok(post(fixed_http, fresh, sign_in_message(his)))["signinoutb"]["sign_no"]
    shown = fixed_http.get(f"/admin/v1/institutions/{HOSPITAL}/gateway", headers=CLERK)
    assert shown.status_code == 200
    assert shown.json() == {"fixmedins_code": HOSPITAL, "xtif_allowed": True,
                            "aksk_allowed": True, "access_key": new_ak, "retiring": []}
    with db.read() as conn:
        logged = conn.execute(select(operator_action).where(
            operator_action.c.action == "institution.gateway_key")).mappings().all()
    assert [(row["actor"], row["subject"]) for row in logged] == [("admin", HOSPITAL)]
    assert new_ak in logged[0]["detail"] and new_sk not in logged[0]["detail"]


def test_a_rotated_pair_works_through_its_grace_period(fixed_http, unix):
    issued = issue(fixed_http, grace_seconds=600).json()
    assert issued["previous_access_key"] == HOSPITAL
    assert issued["previous_until_unix"] == FIXED_UNIX + 600
    his = his_of(fixed_http, unix)
    assert ok(post(fixed_http, demo_headers(), sign_in_message(his)))
    shown = fixed_http.get(f"/admin/v1/institutions/{HOSPITAL}/gateway", headers=ADMIN).json()
    assert shown["retiring"] == [{"access_key": HOSPITAL, "until_unix": FIXED_UNIX + 600}]
    unix.now = FIXED_UNIX + 600
    refused(post(fixed_http, demo_headers(ms=FIXED_MS + 600_000), sign_in_message(his)),
            "E-AUTH-002")
    new = aksk_headers(issued["access_key"], issued["secret_key"], name="9001",
                       ms=FIXED_MS + 600_000)
    assert ok(post(fixed_http, new, sign_in_message(his)))


def test_an_existing_pair_can_be_issued_and_access_keys_stay_unique(fixed_http, unix, db):
    reply = issue(fixed_http, access_key="HIS-AK-0001", secret_key="s" * 32)
    assert reply.status_code == 200 and reply.json()["access_key"] == "HIS-AK-0001"
    headers = aksk_headers("HIS-AK-0001", "s" * 32, name="9001", ms=FIXED_MS)
    assert ok(post(fixed_http, headers, sign_in_message(his_of(fixed_http, unix))))
    before = snapshot(db)
    taken = issue(fixed_http, OTHER, access_key="HIS-AK-0001")
    assert taken.status_code == 409 and taken.json()["code"] == "E-ADM-009"
    for body, named in (({"access_key": "a&b=c"}, "access_key"),
                        ({"secret_key": "short"}, "secret_key"),
                        ({"grace_seconds": 8 * 86400}, "grace")):
        bad = issue(fixed_http, **body)
        assert bad.status_code == 400 and bad.json()["code"] == "E-ADM-008"
        assert named in bad.json()["detail"]
    assert fixed_http.post(f"/admin/v1/institutions/{HOSPITAL}/gateway/keys", json={},
                           headers=CLERK).status_code == 403
    assert snapshot(db) == before


def test_the_xtif_token_rotates_through_the_operator_route(fixed_http, db):
    reply = fixed_http.post(f"/admin/v1/institutions/{HOSPITAL}/gateway/token", json={},
                            headers=ADMIN)
    assert reply.status_code == 200
    token = reply.json()["token"]
    assert token != demo_token(HOSPITAL)
    refused(xtif_sign_in(fixed_http), "E-AUTH-005")
    assert ok(xtif_sign_in(fixed_http, token=token))["signinoutb"]["sign_no"]
    with db.read() as conn:
        logged = conn.execute(select(operator_action.c.detail).where(
            operator_action.c.action == "institution.gateway_token")).scalars().all()
    assert len(logged) == 1 and token not in logged[0]


def test_rotation_through_the_command_line(fixed_http, unix, db, monkeypatch):
    """The command changes the database; a running server reads it again when its cache
    entry expires (60 s; none here)."""
    monkeypatch.setattr(gateway_module, "INSTITUTION_CACHE_SECONDS", 0.0)
    runner = CliRunner()
    his = his_of(fixed_http, unix)
    assert ok(post(fixed_http, demo_headers(), sign_in_message(his)))
    done = runner.invoke(cli, ["institutions", "issue-key", HOSPITAL, "--db", db.url])
    assert done.exit_code == 0, done.output
    access_key = done.output.split(f"access key of {HOSPITAL}: ")[1].split()[0]
    secret_key = done.output.split("store it now): ")[1].split()[0]
    refused(post(fixed_http, demo_headers(ms=FIXED_MS + 1), sign_in_message(his)),
            "E-AUTH-002")
    new = aksk_headers(access_key, secret_key, name="9001", ms=FIXED_MS + 2)
    assert ok(post(fixed_http, new, sign_in_message(his)))

    given = runner.invoke(cli, ["institutions", "issue-key", HOSPITAL, "--access-key",
                                "VENDOR-AK", "--secret-stdin", "--db", db.url],
                          input="vendor-secret-0123456789\n")
    assert given.exit_code == 0 and "vendor-secret" not in given.output
    vendor = aksk_headers("VENDOR-AK", "vendor-secret-0123456789", name="9001",
                          ms=FIXED_MS + 3)
    assert ok(post(fixed_http, vendor, sign_in_message(his)))

    off = runner.invoke(cli, ["institutions", "schemes", HOSPITAL, "--xtif", "--no-aksk",
                              "--db", db.url])
    assert off.exit_code == 0, off.output
    refused(post(fixed_http, aksk_headers("VENDOR-AK", "vendor-secret-0123456789",
                                          name="9001", ms=FIXED_MS + 4),
                 sign_in_message(his)), "E-AUTH-008")
    shown = runner.invoke(cli, ["institutions", "gateway", HOSPITAL, "--db", db.url])
    assert "AK/SK refused" in shown.output and "VENDOR-AK" in shown.output

    token = runner.invoke(cli, ["institutions", "rotate-token", HOSPITAL, "--db", db.url])
    new_token = token.output.split("store it now): ")[1].split()[0]
    refused(xtif_sign_in(fixed_http), "E-AUTH-005")
    assert ok(xtif_sign_in(fixed_http, token=new_token))
    none = runner.invoke(cli, ["institutions", "schemes", HOSPITAL, "--no-xtif", "--no-aksk",
                               "--db", db.url])
    assert none.exit_code == 1 and "E-ADM-008" in none.output
    with db.read() as conn:
        actions = conn.execute(select(operator_action.c.action).where(
            operator_action.c.actor == "cli")).scalars().all()
    assert sorted(actions) == ["institution.gateway_key", "institution.gateway_key",
                               "institution.gateway_schemes", "institution.gateway_token"]


# ---------------------------------------------------------------- the demo


def test_every_demo_institution_signs_with_its_code_and_demo_token(fixed_http, unix):
    for code, *_ in INSTITUTIONS:
        his = HisClient(httpx_transport(fixed_http), code, demo_token(code))
        headers = aksk_headers(code, demo_token(code), name="9001", ms=FIXED_MS)
        assert ok(post(fixed_http, headers, sign_in_message(his)))["signinoutb"]["sign_no"]
        assert ok(xtif_sign_in(fixed_http, code))["signinoutb"]["sign_no"]


def test_seeding_a_database_from_before_aksk_adds_the_demo_pairs(db):
    with db.write() as conn:
        conn.execute(delete(gateway_key))
        conn.execute(update(institution).values(aksk_allowed=False))
    with db.write() as conn:
        assert seed_demo(conn) == len(INSTITUTIONS)
        assert seed_demo(conn) == 0
    with db.read() as conn:
        pairs = conn.execute(select(gateway_key.c.access_key, gateway_key.c.secret_key,
                                    gateway_key.c.fixmedins_code)).all()
        allowed = conn.execute(select(institution.c.aksk_allowed)).scalars().all()
    assert sorted(pairs) == sorted((code, demo_token(code), code)
                                   for code, *_ in INSTITUTIONS)
    assert all(allowed)


def test_invented_access_keys_do_not_grow_the_cache(fixed_http, unix, monkeypatch):
    monkeypatch.setattr(gateway_module, "INSTITUTION_CACHE_MAX", 8)
    his = his_of(fixed_http, unix)
    for n in range(40):
        headers = aksk_headers(f"AK-INVENTED-{n}", "guess", name="9001", ms=FIXED_MS)
        refused(post(fixed_http, headers, sign_in_message(his)), "E-AUTH-002")
    assert len(fixed_http.app.state.hospital.gateway._keys) <= 8  # type: ignore[attr-defined]


@pytest.mark.parametrize("missing", ["x-tif-timestamp", "x-tif-nonce", "x-tif-signature"])
def test_a_missing_xtif_header_is_named_too(fixed_http, missing):
    his = HisClient(httpx_transport(fixed_http), HOSPITAL, demo_token(HOSPITAL))
    headers = his.headers(timestamp=FIXED_UNIX)
    del headers[missing]
    message = refused(post(fixed_http, headers, sign_in_message(his)), "E-AUTH-001")
    assert missing in message and "x-tif-paasid" not in message
