"""Retention and ``yibao purge``: what is past its retention goes, what is not stays,
money stays whatever its age; --dry-run only counts; batches with composite keys; a purge
running beside the interface does not stop it."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from flows import WANG_FANG, ok, settle_once
from yibao.api import channel as channel_api
from yibao.api import gateway
from yibao.cli import app as cli
from yibao.services import retention
from yibao.services.context import china_now
from yibao.store.schema import (
    account_entry,
    audit_event,
    channel_request,
    ec_token,
    ecert,
    fee_line,
    gateway_nonce,
    ledger_entry,
    message,
    operator_credential,
    operator_session,
    person,
    qr_code,
    refusal_count,
    settlement,
    stored_file,
)

MONEY = (settlement, fee_line, ledger_entry, account_entry)


def _rows(now: datetime, now_unix: int, psn_no: str,
          credential: int) -> dict[str, tuple[dict, dict]]:
    """Per kind: (a row past its retention, a row just inside it)."""
    day = timedelta(days=1)
    token = dict(psn_no=psn_no, cert_id="EC-R", fixmedins_code="H11010500001",
                 business_type="01101", issued_at=now - 3 * day)
    qr = dict(cert_id="EC-R", psn_no=psn_no)
    face = dict(kind="face_refused", psn_no=psn_no, actor="H11010500001")
    stored = dict(fixmedins_code="H11010500001", filename="a.zip", content=b"PK",
                  created_at=now - 5 * day, kind="upload")
    msg = dict(fixmedins_code="H11010500001", infno="2207", body_hash="0" * 64, infcode=0,
               response="{}")
    answered = dict(channel_id="CH-BJAPP", request_hash="0" * 64, status=201, body="{}")
    session = dict(operator="clerk", credential=credential, csrf="c", created_at=now - 2 * day)
    refused = dict(fixmedins_code="H11010500001", infno="2207", code="E-ENV-004", count=3)
    return {
        "messages": (dict(msg, msgid="OLD", created_at=now - 367 * day),
                     dict(msg, msgid="KEPT", created_at=now - 365 * day)),
        "nonces": (dict(paasid="T", nonce="old", ts=now_unix - 601),
                   dict(paasid="T", nonce="kept", ts=now_unix - 590)),
        "ectokens": (dict(token, token_hash="old", expires_at=now - 2 * day),
                     dict(token, token_hash="kept", expires_at=now - day / 2)),
        "qr_codes": (dict(qr, code_hash="old", expires_at=now - 2 * day),
                     dict(qr, code_hash="kept", expires_at=now + day)),
        "stored_files": (dict(stored, file_qury_no="OLD", dld_endtime=now - 2 * day),
                         dict(stored, file_qury_no="KEPT", dld_endtime=now - day / 2)),
        "face_attempts": (dict(face, at=now - 181 * day), dict(face, at=now - 179 * day)),
        "channel_requests": (dict(answered, idem_key="old", created_at=now - day * 1.01),
                             dict(answered, idem_key="kept", created_at=now - day * 0.99)),
        "console_sessions": (dict(session, id="old", expires_at=now - day * 1.01),
                             dict(session, id="kept", expires_at=now - day * 0.99)),
        "refusal_counts": (dict(refused, day=(now - 401 * day).date()),
                           dict(refused, day=(now - 400 * day).date())),
    }


TABLES = {"messages": message, "nonces": gateway_nonce, "ectokens": ec_token,
          "qr_codes": qr_code, "stored_files": stored_file, "face_attempts": audit_event,
          "channel_requests": channel_request, "console_sessions": operator_session,
          "refusal_counts": refusal_count}


@pytest.fixture
def aged(db):
    """One row of each kind past its retention and one inside it (real clock, as the
    command uses it), an old audit event that is no face attempt, and a settlement."""
    now, now_unix = china_now(), int(time.time())
    with db.write() as conn:
        psn_no = conn.execute(select(person.c.psn_no).where(person.c.certno == WANG_FANG)
                              ).scalar_one()
        conn.execute(insert(ecert).values(
            cert_id="EC-R", psn_no=psn_no, channel_id=_a_channel(conn), status="active",
            pin_hash="x", created_at=now - timedelta(days=400)))
        credential = conn.execute(select(operator_credential.c.id).where(
            operator_credential.c.operator == "clerk")).scalar_one()
        for name, pair in _rows(now, now_unix, psn_no, credential).items():
            conn.execute(insert(TABLES[name]), list(pair))
        conn.execute(insert(audit_event).values(
            kind="ecert_activated", psn_no=psn_no, actor="app", at=now - timedelta(days=900)))
    return db


def _a_channel(conn) -> str:
    from yibao.store.schema import channel

    return str(conn.execute(select(channel.c.channel_id).limit(1)).scalar_one())


def _counts(db) -> dict[str, int]:
    with db.read() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (*TABLES.values(), *MONEY)}


def test_purge_deletes_only_what_is_past_retention_and_never_money(aged, his):
    settle_once(his, WANG_FANG, "100.00")
    before = _counts(aged)
    assert before["settlement"] >= 1 and before["ledger_entry"] >= 2
    runner = CliRunner()
    dry = runner.invoke(cli, ["purge", "--db", aged.url, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    for name in TABLES:
        assert f"{name}: would delete 1" in dry.output
    assert _counts(aged) == before

    done = runner.invoke(cli, ["purge", "--db", aged.url])
    assert done.exit_code == 0, done.output
    for name in TABLES:
        assert f"{name}: deleted 1" in done.output
    after = _counts(aged)
    assert after == {k: v - 1 if k in {t.name for t in TABLES.values()} else v
                     for k, v in before.items()}
    with aged.read() as conn:
        assert conn.execute(select(message.c.msgid).where(message.c.msgid.in_(("OLD", "KEPT")))
                            ).scalars().all() == ["KEPT"]
        assert conn.execute(select(stored_file.c.file_qury_no)).scalars().all() == ["KEPT"]
        kinds = conn.execute(select(audit_event.c.kind)).scalars().all()
        assert kinds.count("ecert_activated") == 1 and kinds.count("face_refused") == 1
    again = runner.invoke(cli, ["purge", "--db", aged.url])
    assert all(f"{name}: deleted 0" in again.output for name in TABLES)


def test_purge_goes_in_batches_over_composite_keys(db):
    now, now_unix = china_now(), int(time.time())
    with db.write() as conn:
        conn.execute(insert(gateway_nonce), [
            dict(paasid=f"P{i % 2}", nonce=f"n{i}", ts=now_unix - 3600) for i in range(7)])
        conn.execute(insert(stored_file), [
            dict(file_qury_no=f"F{i}", fixmedins_code="H11010500001", filename="a.zip",
                 content=b"PK", created_at=now, kind="upload", dld_endtime=now - timedelta(days=3))
            for i in range(5)])
    counts = retention.purge(db, now, now_unix, batch_rows=2)
    assert counts["nonces"] == 7 and counts["stored_files"] == 5
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(gateway_nonce)
                            .where(gateway_nonce.c.paasid.in_(("P0", "P1")))).scalar() == 0


def test_nonces_are_kept_twice_the_gateway_window():
    assert retention.GATEWAY_WINDOW_SECONDS == gateway.WINDOW_SECONDS
    assert retention.GATEWAY_WINDOW_SECONDS == channel_api.WINDOW_SECONDS
    nonces = next(k for k in retention.RETENTION if k.name == "nonces")
    assert nonces.keep == timedelta(seconds=2 * gateway.WINDOW_SECONDS)


def test_purge_runs_beside_the_interface(db, his, clock):
    """Many small batches in a thread while the HIS uploads and downloads: both finish."""
    now, now_unix = china_now(), int(time.time())
    # the interface and the purge on one clock: on the fixture's May clock the catalogue
    # file the first 1301 stores is already past its retention by today's, and a purge
    # that reached stored_files before the tenth 1301 removed it (a new number followed)
    clock.now = now
    with db.write() as conn:
        conn.execute(insert(gateway_nonce), [
            dict(paasid="BULK", nonce=f"n{i}", ts=now_unix - 3600) for i in range(400)])
    result: dict[str, int] = {}
    worker = threading.Thread(target=lambda: result.update(
        retention.purge(db, now, now_unix, batch_rows=5)))
    worker.start()
    answers = [his.call("1301", {"data": {"ver": "0"}}) for _ in range(10)]
    worker.join(timeout=120)
    assert not worker.is_alive()
    assert all(ok(a)["file_qury_no"] == ok(answers[0])["file_qury_no"] for a in answers)
    assert result["nonces"] >= 400
