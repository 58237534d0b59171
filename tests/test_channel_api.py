"""The open interface for channels (issue 15): scoped credentials, the sandbox, an
Idempotency-Key on every write, a rate limit per channel at the edge, and the OpenAPI's
security schemes with a worked example that runs. Both databases."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import subprocess
import sys
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update

from apps import WANG, ChannelApp
from conftest import ROOT
from flows import LI_JIANGUO
from yibao.api import channel_docs
from yibao.api.app import create_app
from yibao.api.channel_gate import REPLAYED
from yibao.api.limits import Throttle
from yibao.bench.server import ServerProcess, free_port
from yibao.domain.channels import SCOPES, Bucket, Rate, take
from yibao.store.schema import channel, channel_request, ecert, insurance, person

CERTS = "/channel/v1/certificates"
SANDBOX = "CH-SANDBOX"


def count(db, table, *where) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where))
                   .scalar_one())


def set_scopes(db, channel_id: str, scopes: str) -> None:
    with db.write() as conn:
        conn.execute(update(channel).where(channel.c.channel_id == channel_id)
                     .values(scopes=scopes))


def code_of(reply) -> tuple[int, str]:
    """The status and, of an error, the code of its problem details (docs/errors.md)."""
    if reply.status_code >= 400:
        assert reply.headers["content-type"] == "application/problem+json", reply.text
        assert reply.json()["instance"] == reply.request.url.path, reply.text
    return reply.status_code, reply.json().get("code", "")


# ---------------------------------------------------------------- scopes


def test_every_channel_route_declares_its_scope_and_writes_their_key(http):
    spec = http.get("/openapi.json").json()
    operations = [(path, op) for path, item in spec["paths"].items()
                  if path.startswith("/channel/v1") for op in item.values()]
    assert len(operations) >= 20
    for path, op in operations:
        assert op["x-yb-scope"] in SCOPES, path
        [requirement] = op["security"]
        assert requirement["ChannelSignature"] == [op["x-yb-scope"]], path
        assert {"ChannelId", "ChannelTimestamp", "ChannelNonce"} <= set(requirement)
        assert ("IdempotencyKey" in requirement) == op["x-yb-write"], path
    written = {p for p, op in operations if op["x-yb-write"]}
    assert f"{CERTS}" in written and f"{CERTS}/{{cert_id}}/account" not in written
    schemes = spec["components"]["securitySchemes"]
    assert {name: (s["type"], s["in"], s["name"]) for name, s in schemes.items()
            if name.startswith(("Channel", "Idem"))} == {
        "ChannelId": ("apiKey", "header", "x-yb-channel"),
        "ChannelTimestamp": ("apiKey", "header", "x-yb-timestamp"),
        "ChannelNonce": ("apiKey", "header", "x-yb-nonce"),
        "ChannelSignature": ("apiKey", "header", "x-yb-signature"),
        "IdempotencyKey": ("apiKey", "header", "Idempotency-Key")}
    [tag] = [t for t in spec["tags"] if t["name"] == "channel"]
    assert channel_docs.PYTHON_EXAMPLE in tag["description"]
    assert channel_docs.CURL_EXAMPLE in tag["description"]


def test_a_channel_without_the_scope_is_refused_and_nothing_happens(db, http):
    app = ChannelApp(http)
    cert_id = app.activate()
    set_scopes(db, "CH-BJAPP", "activation")
    for path, body in ((f"{CERTS}/{cert_id}/account", {"pin": "135790"}),
                       (f"{CERTS}/{cert_id}/claims/list", {"pin": "135790"}),
                       (f"{CERTS}/{cert_id}/payee", {"pin": "135790"})):
        reply = app.post(path, body)
        assert code_of(reply) == (403, "E-CHN-001"), path
        assert "activation" in reply.json()["detail"]
    assert app.qr(cert_id).status_code == 200  # its own scope still works

    set_scopes(db, "CH-BJAPP", "own_data,claims")
    reply = app.post(CERTS, dict(WANG, pin="135790", real_person=app.attestation()))
    assert code_of(reply) == (403, "E-CHN-001")
    assert count(db, ecert) == 1
    assert app.post(f"{CERTS}/{cert_id}/account", {"pin": "135790"}).status_code == 200


def test_the_scope_is_checked_before_the_body(db, http):
    set_scopes(db, "CH-BJAPP", "claims")
    reply = ChannelApp(http).post(CERTS, {"not": "an activation"})
    assert code_of(reply) == (403, "E-CHN-001")


# ---------------------------------------------------------------- sandbox


def add_insured(db, certno: str, name: str) -> None:
    """Someone insured in Beijing who is not in the demo dataset."""
    psn_no = f"1100009{certno[-13:]}"
    with db.write() as conn:
        conn.execute(insert(person).values(
            psn_no=psn_no, psn_cert_type="01", certno=certno, name=name, gend="1",
            naty="01", brdy=date(1980, 1, 1), insuplc_admdvs="110000"))
        conn.execute(insert(insurance).values(
            psn_no=psn_no, insutype="310", psn_type="1101", psn_insu_stas="1",
            psn_insu_date=date(2000, 1, 1)))


STRANGER = {"insured_place": "110000", "name": "陈真", "certno": "110105198001010016"}


def test_the_sandbox_acts_on_demo_persons_only(db, http):
    add_insured(db, STRANGER["certno"], STRANGER["name"])
    sandbox = ChannelApp(http, SANDBOX)
    reply = sandbox.post(CERTS, dict(STRANGER, pin="135790", real_person=sandbox.attestation()))
    assert code_of(reply) == (403, "E-CHN-005")
    assert count(db, ecert) == 0
    cert_id = sandbox.activate()  # 王芳, a demo person
    relative = {"name": STRANGER["name"], "certno": STRANGER["certno"], "relation": "other"}
    assert code_of(sandbox.post(f"{CERTS}/{cert_id}/family", relative)) == (403, "E-CHN-005")
    demo_relative = {"name": "李建国", "certno": LI_JIANGUO, "relation": "parent"}
    assert sandbox.post(f"{CERTS}/{cert_id}/family", demo_relative).status_code == 201

    production = ChannelApp(http)  # a certified channel that is no sandbox
    reply = production.post(CERTS, dict(STRANGER, pin="135790",
                                        real_person=production.attestation()))
    assert reply.status_code == 201, reply.text


# ---------------------------------------------------------------- idempotency


def test_a_write_needs_an_idempotency_key_of_printable_ascii(db, http):
    app = ChannelApp(http)
    body = dict(WANG, pin="135790", real_person=app.attestation())
    for key in ("", "k" * 65, "clé".encode("latin-1"), "tab\there"):
        assert code_of(app.post(CERTS, body, key=key)) == (400, "E-CHN-002"), key
    assert count(db, ecert) == 0
    assert app.post(CERTS, body, key="k" * 64).status_code == 201


def test_a_replay_answers_the_same_without_acting_again(db, http):
    app = ChannelApp(http)
    body = dict(WANG, pin="135790", real_person=app.attestation())
    first = app.post(CERTS, body, key="activate-1")
    again = app.post(CERTS, body, key="activate-1")  # a new nonce, the same key and body
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again.headers[REPLAYED] == "true"
    assert REPLAYED not in first.headers
    assert count(db, ecert) == 1

    cert_id = first.json()["cert_id"]
    qr = app.post(f"{CERTS}/{cert_id}/qr", {"pin": "135790"}, key="qr-1")
    assert app.post(f"{CERTS}/{cert_id}/qr", {"pin": "135790"}, key="qr-1").json() == qr.json()
    assert app.post(f"{CERTS}/{cert_id}/qr", {"pin": "135790"}, key="qr-2").json()[
        "qr_code"] != qr.json()["qr_code"]


def test_the_same_key_with_another_body_or_path_is_a_conflict(db, http):
    app = ChannelApp(http)
    body = dict(WANG, pin="135790", real_person=app.attestation())
    cert_id = app.post(CERTS, body, key="K1").json()["cert_id"]
    changed = dict(body, pin="246800")
    assert code_of(app.post(CERTS, changed, key="K1")) == (409, "E-CHN-003")
    assert code_of(app.post(f"{CERTS}/{cert_id}/qr", {"pin": "135790"}, key="K1")) == (
        409, "E-CHN-003")
    assert count(db, ecert) == 1
    # keys are per channel: another channel's K1 is its own
    other = ChannelApp(http, "CH-WECHAT")
    reply = other.post(CERTS, dict(body, real_person=other.attestation()), key="K1")
    assert reply.status_code == 201 and REPLAYED not in reply.headers


def test_a_committed_refusal_is_replayed_and_a_rolled_back_one_is_not_kept(db, http):
    app = ChannelApp(http)
    cert_id = app.activate()
    wrong = app.post(f"{CERTS}/{cert_id}/qr", {"pin": "000000"}, key="wrong-pin")
    assert code_of(wrong) == (403, "E-ECT-005")
    replayed = app.post(f"{CERTS}/{cert_id}/qr", {"pin": "000000"}, key="wrong-pin")
    assert replayed.content == wrong.content and replayed.headers[REPLAYED] == "true"
    with db.read() as conn:  # the wrong PIN was counted once
        assert conn.execute(select(ecert.c.pin_failures)).scalar_one() == 1

    stale = dict(WANG, pin="135790", real_person=True)  # refused: nothing is kept
    for _ in range(2):
        reply = app.post(CERTS, stale, key="refused")
        assert code_of(reply) == (400, "E-ECT-012") and REPLAYED not in reply.headers
    assert count(db, channel_request, channel_request.c.idem_key == "refused") == 0


def test_reads_need_no_key(db, http):
    app = ChannelApp(http)
    cert_id = app.activate()
    reply = app.post(f"{CERTS}/{cert_id}/notifications/list", {"pin": "135790"}, key="")
    assert reply.status_code == 200
    assert count(db, channel_request) == 1  # the activation's only


# ---------------------------------------------------------------- rate limit


class Seconds:
    """A settable clock of the rate limit."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_over_the_rate_limit_a_channel_gets_429_with_retry_after(db, clock):
    seconds = Seconds()
    throttle = Throttle(Rate(per_second=0.5, burst=2), clock=seconds)
    with TestClient(create_app(db, clock=clock, channel_throttle=throttle)) as client:
        client.app.state.clock = clock
        app, other = ChannelApp(client), ChannelApp(client, "CH-WECHAT")
        cert_id = app.activate()
        assert app.qr(cert_id).status_code == 200
        third = app.qr(cert_id)
        assert code_of(third) == (429, "E-CHN-004")
        assert third.headers["retry-after"] == "2" and third.json()["retry_after"] == 2
        assert other.post(f"{CERTS}/X/qr", {"pin": "135790"}).status_code == 404  # its own
        unsigned = client.post(f"{CERTS}/{cert_id}/qr", json={"pin": "135790"})
        assert unsigned.status_code == 401
        seconds.now += 1.0
        assert code_of(app.qr(cert_id)) == (429, "E-CHN-004")
        seconds.now += 1.0
        assert app.qr(cert_id).status_code == 200
        assert code_of(app.qr(cert_id)) == (429, "E-CHN-004")
        forged = app.post(f"{CERTS}/{cert_id}/qr", {"pin": "135790"}, secret="guessed")
        assert forged.status_code == 401  # a forgery spends none of the channel's tokens
        seconds.now += 2.0
        assert app.qr(cert_id).status_code == 200
        seconds.now += 4.0  # the bucket full again: two tokens
        path, pin = f"{CERTS}/{cert_id}/qr", {"pin": "135790"}
        assert app.post(path, pin, nonce="once").status_code == 200
        assert app.post(path, pin, nonce="once").status_code == 401  # a replay: no token
        assert app.qr(cert_id).status_code == 200
        assert code_of(app.qr(cert_id)) == (429, "E-CHN-004")


def test_the_bucket_refills_at_its_rate_up_to_the_burst():
    rate = Rate(per_second=2.0, burst=3)
    bucket, waits = None, []
    for _ in range(4):
        bucket, wait = take(rate, bucket, 10.0)
        waits.append(wait)
    assert waits == [0, 0, 0, 1]
    assert take(rate, bucket, 10.5) == (Bucket(0.0, 10.5), 0)
    assert take(rate, Bucket(0.0, 10.0), 100.0) == (Bucket(2.0, 100.0), 0)  # at most burst
    assert take(rate, Bucket(0.5, 10.0), 5.0) == (Bucket(0.5, 10.0), 1)  # clock went back


# ---------------------------------------------------------------- the worked example


def test_the_known_answer_of_the_docs_is_the_signature():
    k = channel_docs.KNOWN_ANSWER
    message = "\n".join([k["method"], k["path"], k["timestamp"], k["nonce"],
                         hashlib.sha256(k["body"].encode()).hexdigest()])
    assert hmac.new(channel_docs.SANDBOX_SECRET.encode(), message.encode(),
                    hashlib.sha256).hexdigest() == k["signature"]
    assert k["signature"] in (ROOT / "docs" / "channel-api.md").read_text(encoding="utf-8")


def _fenced(language: str) -> list[str]:
    text = (ROOT / "docs" / "channel-api.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_the_docs_carry_the_snippets_of_the_openapi():
    assert channel_docs.PYTHON_EXAMPLE in _fenced("python")
    assert channel_docs.CURL_EXAMPLE in _fenced("sh")


def test_the_python_example_of_the_docs_works_against_the_server(db, tmp_path):
    [snippet] = [s for s in _fenced("python") if "signed_post" in s]
    port = free_port()
    script = tmp_path / "example.py"
    script.write_text(snippet.replace("http://127.0.0.1:8080", f"http://127.0.0.1:{port}"),
                      encoding="utf-8")
    server = ServerProcess(db.url, port)
    try:
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=60, env=dict(os.environ))
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "balance 3000.00"
        cert_id = _activated_cert(db)
        curl = subprocess.run(
            ["bash", "-c", channel_docs.CURL_EXAMPLE.replace(
                "http://127.0.0.1:8080", f"http://127.0.0.1:{port}")],
            capture_output=True, text=True, timeout=60, env=dict(os.environ, CERT_ID=cert_id))
        assert curl.returncode == 0, curl.stderr
        assert '"balance":"3000.00"' in curl.stdout, curl.stdout
    finally:
        server.stop()
    assert count(db, ecert) == 1 and count(db, channel_request) == 1


def _activated_cert(db) -> str:
    with db.read() as conn:
        return str(conn.execute(select(ecert.c.cert_id).where(
            ecert.c.channel_id == SANDBOX)).scalar_one())


@pytest.mark.parametrize("url", ["ftp://app.example/hook", "https://", "not a url",
                                 "https://app.example/" + "x" * 400])
def test_a_webhook_url_must_be_http_with_a_host(url):
    from yibao.domain.errors import Refused
    from yibao.services import webhooks

    with pytest.raises(Refused) as refused:
        webhooks.check_url(url)
    assert refused.value.code == "E-CHN-006"


def test_twins_sent_at_once_with_one_key_act_once_and_get_one_answer(db, http):
    from concurrency import run_threads

    app = ChannelApp(http)
    body = dict(WANG, pin="135790", real_person=app.attestation())

    def send(key: str) -> dict:
        reply = app.post(CERTS, body, key=key)
        return {"status": reply.status_code, "body": reply.json(),
                "replayed": reply.headers.get(REPLAYED, "")}

    answers = run_threads(send, [("twin",)] * 4)
    assert {a["status"] for a in answers} == {201}
    assert len({a["body"]["cert_id"] for a in answers}) == 1
    assert sorted(a["replayed"] for a in answers) == ["", "true", "true", "true"]
    assert count(db, ecert) == 1
