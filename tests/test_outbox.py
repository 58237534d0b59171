"""The outbox delivers each committed message at least once to a real HTTP receiver,
which applies it once (its Idempotency-Key), retries with backoff, gives up after
ATTEMPTS_MAX attempts until an operator retries, and shows all of it on /admin/v1."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import ADMIN, AUDITOR
from receiver import Receiver
from yibao.api.app import create_app
from yibao.api.mpc_envelope import new_key_pair
from yibao.bench.server import free_port
from yibao.cli import app as cli
from yibao.services import outbox
from yibao.services.context import china_now
from yibao.store.db import Database

PSN_NO = "11000000000000000001"
WAIT_SECONDS_MAX = 60.0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


def enqueue(db, clock, key: str, **payload) -> None:
    with db.write() as conn:
        outbox.enqueue(conn, key=key, kind="away-cost", psn_no=PSN_NO,
                       payload=payload or {"setl_id": key, "medfee_sumamt": "100.00"},
                       now=clock())


def deliver(db, clock, receiver, **options) -> outbox.DeliveryReport:
    return outbox.deliver_due(db, url=receiver.url, clock=clock, **options)


def shown(http, key: str) -> dict:
    answer = http.get(f"/admin/v1/outbox/{key}", headers=AUDITOR)
    assert answer.status_code == 200, answer.text
    return answer.json()


def counts(http) -> dict[str, int]:
    return http.get("/admin/v1/outbox", headers=AUDITOR).json()["counts"]


def wait_until(condition) -> None:
    deadline = time.monotonic() + WAIT_SECONDS_MAX
    while not condition():
        assert time.monotonic() < deadline, "not done in time"
        time.sleep(0.05)


def test_each_message_reaches_the_receiver_once_with_its_key_and_payload(
        db, clock, receiver, http):
    enqueue(db, clock, "S3")
    clock.now += timedelta(seconds=1)
    enqueue(db, clock, "S1", setl_id="S1", fixmedins_name="北京协和医院", medfee_sumamt="88.20")
    clock.now += timedelta(seconds=1)
    enqueue(db, clock, "S2")
    assert deliver(db, clock, receiver) == outbox.DeliveryReport(delivered=3)
    assert deliver(db, clock, receiver).handled == 0
    assert receiver.requests == 3
    assert set(receiver.messages) == {"S1", "S2", "S3"}
    assert receiver.messages["S1"] == {
        "id": "S1", "kind": "away-cost", "created_at": "2026-05-11T09:30:01",
        "payload": {"setl_id": "S1", "fixmedins_name": "北京协和医院", "medfee_sumamt": "88.20"}}
    listing = http.get("/admin/v1/outbox", headers=AUDITOR).json()
    assert listing["counts"] == {"pending": 0, "delivered": 3, "failed": 0}
    assert [m["id"] for m in listing["messages"]] == ["S2", "S1", "S3"]  # newest first
    assert [m["status"] for m in listing["messages"]] == ["delivered"] * 3
    assert http.get("/admin/v1/outbox?status=lost", headers=AUDITOR).status_code == 422
    one = shown(http, "S1")
    assert one["attempts"] == 1 and one["delivered_at"] == "2026-05-11T09:30:02"
    assert one["payload"]["fixmedins_name"] == "北京协和医院"


def test_a_failing_receiver_gets_the_message_again_after_the_backoff(
        db, clock, receiver, http):
    enqueue(db, clock, "S1")
    receiver.fail_next(2)
    assert deliver(db, clock, receiver) == outbox.DeliveryReport(retried=1)
    waiting = shown(http, "S1")
    assert (waiting["status"], waiting["attempts"], waiting["last_error"]) == (
        "pending", 1, "HTTP 503")
    assert waiting["next_attempt_at"] == "2026-05-11T09:30:05"
    assert deliver(db, clock, receiver).handled == 0  # not due yet
    clock.now += timedelta(seconds=5)
    assert deliver(db, clock, receiver) == outbox.DeliveryReport(retried=1)
    clock.now += timedelta(seconds=5)
    assert deliver(db, clock, receiver).handled == 0  # the second wait is 10 s
    clock.now += timedelta(seconds=5)
    assert deliver(db, clock, receiver) == outbox.DeliveryReport(delivered=1)
    assert receiver.requests == 3 and set(receiver.messages) == {"S1"}
    done = shown(http, "S1")
    assert (done["status"], done["attempts"], done["last_error"]) == ("delivered", 3, "")


def test_the_backoff_doubles_from_5_seconds_up_to_an_hour():
    waits = [outbox.backoff(n).total_seconds() for n in range(1, 13)]
    assert waits == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
    assert outbox.backoff(outbox.ATTEMPTS_MAX).total_seconds() == outbox.BACKOFF_SECONDS_MAX


def test_a_receiver_that_is_down_fails_the_message_until_an_operator_retries(
        db, clock, receiver, http):
    enqueue(db, clock, "S1")
    receiver.stop()
    for _ in range(outbox.ATTEMPTS_MAX - 1):
        assert deliver(db, clock, receiver) == outbox.DeliveryReport(retried=1)
        clock.now += timedelta(seconds=outbox.BACKOFF_SECONDS_MAX)
    assert deliver(db, clock, receiver) == outbox.DeliveryReport(failed=1)
    clock.now += timedelta(days=1)
    assert deliver(db, clock, receiver).handled == 0  # failed waits for an operator
    listing = http.get("/admin/v1/outbox?status=failed", headers=AUDITOR).json()
    assert listing["counts"] == {"pending": 0, "delivered": 0, "failed": 1}
    [failed] = listing["messages"]
    assert (failed["id"], failed["attempts"]) == ("S1", outbox.ATTEMPTS_MAX)
    assert failed["last_error"].startswith("ConnectError")
    receiver.start()
    retried = http.post("/admin/v1/outbox/S1/retry", headers=ADMIN)
    assert retried.status_code == 200
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    assert deliver(db, clock, receiver) == outbox.DeliveryReport(delivered=1)
    assert set(receiver.messages) == {"S1"}
    assert shown(http, "S1")["status"] == "delivered"


def test_only_a_failed_message_can_be_retried(db, clock, receiver, http):
    enqueue(db, clock, "S1")
    pending = http.post("/admin/v1/outbox/S1/retry", headers=ADMIN)
    assert pending.status_code == 409 and pending.json()["code"] == "E-OUT-002"
    assert "it is pending" in pending.json()["detail"]
    unknown = http.post("/admin/v1/outbox/NOPE/retry", headers=ADMIN)
    assert unknown.status_code == 404 and unknown.json()["code"] == "E-OUT-001"
    assert http.get("/admin/v1/outbox/NOPE", headers=AUDITOR).json()["code"] == "E-OUT-001"


def test_a_message_of_a_rolled_back_transaction_is_never_sent(db, clock, receiver, http):
    with pytest.raises(RuntimeError), db.write() as conn:
        outbox.enqueue(conn, key="S1", kind="away-cost", psn_no=PSN_NO, payload={}, now=clock())
        raise RuntimeError("the settlement failed after the enqueue")
    assert deliver(db, clock, receiver).handled == 0
    assert receiver.requests == 0
    assert counts(http) == {"pending": 0, "delivered": 0, "failed": 0}


def test_two_deliverers_racing_deliver_each_message_once(db, clock, receiver, http):
    keys = [f"S{n:03d}" for n in range(40)]
    for key in keys:
        enqueue(db, clock, key)
    other = Database(db.url, pool_size=2)  # as another process would
    start = threading.Barrier(2)
    reports: list[outbox.DeliveryReport] = []

    def work(database: Database) -> None:
        start.wait()
        while (report := deliver(database, clock, receiver, limit=5)).handled:
            reports.append(report)

    threads = [threading.Thread(target=work, args=(d,)) for d in (db, other)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.dispose()
    assert sorted(receiver.messages) == keys
    assert (receiver.requests, receiver.duplicates) == (40, 0)
    assert sum(r.delivered for r in reports) == 40
    assert counts(http) == {"pending": 0, "delivered": 40, "failed": 0}


def test_a_lease_left_by_a_deliverer_that_died_expires(db, clock, receiver, http):
    enqueue(db, clock, "S1")
    assert outbox.lease_one(db, "S1", clock()) is not None  # then it died mid-flight
    assert shown(http, "S1")["lease_until"] == "2026-05-11T09:31:00"
    assert deliver(db, clock, receiver).handled == 0  # the lease is live
    clock.now += timedelta(seconds=outbox.LEASE_SECONDS + 1)
    assert deliver(db, clock, receiver) == outbox.DeliveryReport(delivered=1)
    assert set(receiver.messages) == {"S1"}
    assert shown(http, "S1")["lease_until"] is None


def test_a_late_failure_of_a_deliverer_whose_lease_expired_changes_nothing(
        db, clock, receiver, http):
    enqueue(db, clock, "S1")

    def slow_then_unavailable(url: str, key: str, body: bytes) -> int:
        clock.now += timedelta(seconds=outbox.LEASE_SECONDS + 1)
        assert deliver(db, clock, receiver).delivered == 1  # another deliverer took over
        return 503

    deliver(db, clock, receiver, post=slow_then_unavailable)
    assert set(receiver.messages) == {"S1"}
    shows = shown(http, "S1")
    assert (shows["status"], shows["attempts"], shows["last_error"]) == ("delivered", 1, "")


def test_a_message_whose_answer_was_lost_is_sent_again_and_applied_once(
        db, clock, receiver, http):
    enqueue(db, clock, "S1")

    def answer_lost(url: str, key: str, body: bytes) -> int:
        outbox.post_json(url, key, body)
        raise httpx.ReadTimeout("timed out")

    assert deliver(db, clock, receiver, post=answer_lost) == outbox.DeliveryReport(retried=1)
    clock.now += outbox.backoff(1)
    assert deliver(db, clock, receiver) == outbox.DeliveryReport(delivered=1)
    assert (receiver.requests, receiver.duplicates) == (2, 1)
    assert list(receiver.messages) == ["S1"] and len(receiver.bodies["S1"]) == 1
    assert shown(http, "S1")["attempts"] == 2


def test_a_timeout_is_a_failed_attempt(db, clock, http):
    enqueue(db, clock, "S1")

    def hangs(url: str, key: str, body: bytes) -> int:
        raise httpx.ReadTimeout("timed out")

    report = outbox.deliver_due(db, url="http://unused", clock=clock, post=hangs)
    assert report == outbox.DeliveryReport(retried=1)
    assert shown(http, "S1")["last_error"] == "ReadTimeout: timed out"


def test_the_application_runs_the_deliverer_while_it_runs(db, clock, receiver):
    deliverer = outbox.Deliverer(db, url=receiver.url, clock=clock, interval=0.05)
    app = create_app(db, clock=clock, deliverer=deliverer)
    with TestClient(app) as http:
        enqueue(db, clock, "S1")
        enqueue(db, clock, "S2")
        wait_until(lambda: len(receiver.messages) == 2)
        assert counts(http)["delivered"] == 2
    enqueue(db, clock, "S3")  # the application has stopped, and its deliverer with it
    assert outbox.deliver_due(db, url=receiver.url, clock=clock).delivered == 1


def test_admin_outbox_needs_an_operator_token(http):
    wrong = {"authorization": "Bearer not-a-token"}
    for headers in ({}, wrong):
        assert http.get("/admin/v1/outbox", headers=headers).status_code == 401
        assert http.get("/admin/v1/outbox/S1", headers=headers).status_code == 401
        assert http.post("/admin/v1/outbox/S1/retry", headers=headers).status_code == 401


def test_cli_delivers_once_and_lists(db, clock, receiver):
    enqueue(db, clock, "S1")
    enqueue(db, clock, "S2")
    runner = CliRunner()
    sent = runner.invoke(cli, ["outbox", "deliver", "--once", "--db", db.url,
                               "--url", receiver.url])
    assert sent.exit_code == 0, sent.output
    assert "delivered 2, to retry later 0, failed 0" in sent.output
    assert set(receiver.messages) == {"S1", "S2"}
    listed = runner.invoke(cli, ["outbox", "list", "--db", db.url, "--status", "delivered"])
    assert listed.exit_code == 0, listed.output
    assert "pending 0  delivered 2  failed 0" in listed.output and "S2" in listed.output
    wrong = runner.invoke(cli, ["outbox", "list", "--db", db.url, "--status", "lost"])
    assert wrong.exit_code != 0


def test_serve_runs_the_deliverer_when_an_outbox_url_is_set_and_stops_it(
        db, receiver, tmp_path):
    enqueue(db, lambda: china_now() - timedelta(seconds=1), "S1")
    env = dict(os.environ, YIBAO_OUTBOX_URL=receiver.url, YIBAO_OUTBOX_INTERVAL="0.1",
               YIBAO_LOG_LEVEL="INFO",  # and a template key of its own, as in production
               YIBAO_TEMPLATE_KEY=base64.b64encode(os.urandom(32)).decode(),
               YIBAO_MPC_PRIVATE_KEY=new_key_pair().private_key)
    logs = tmp_path / "serve.log"
    with logs.open("wb") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "yibao.cli", "serve", "--db", db.url, "--port",
             str(free_port())], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            wait_until(lambda: "S1" in receiver.messages)
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=WAIT_SECONDS_MAX)
        finally:
            if server.poll() is None:
                server.kill()
    text = logs.read_text(encoding="utf-8")
    assert "outbox_deliverer_stopped" in text and "Traceback" not in text
    assert PSN_NO not in text
