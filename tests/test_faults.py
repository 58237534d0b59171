"""Short fault runs (the long ones: `yibao bench crash`): the server is killed with
SIGKILL at random moments under load; clients resend unanswered messages with the same
msgid and body. Afterwards every acknowledged settlement exists exactly once, nothing is
half-written, retries got the original answer, and accumulators and accounts add up."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from yibao.bench import faults
from yibao.bench.server import free_port


def test_kill_minus_nine_under_load_loses_nothing(db):
    opening = faults.opening_balances(db)
    ledger = faults.run(db.url, seconds=12, kills=3, port=free_port(), clients=4,
                        persons=faults.local_people(db), institutions=faults.DEMO_HOSPITALS)
    print(f"acknowledged {len(ledger.acknowledged)}, resent {ledger.retries}")
    assert len(ledger.acknowledged) > 5, ledger
    assert faults.check(db, ledger, opening) == []


def restart_postgresql() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, capture_output=True, timeout=120)


@pytest.mark.alone  # the restart cuts every other test's connections: dev.py runs it last
@pytest.mark.skipif(shutil.which("pg_ctlcluster") is None or os.geteuid() != 0,
                    reason="needs the machine's PostgreSQL cluster and root to restart it")
def test_database_restart_under_load_recovers_by_itself(db):
    if db.is_sqlite:
        pytest.skip("an embedded SQLite database has no server to restart")
    opening = faults.opening_balances(db)
    ledger = faults.run(db.url, seconds=12, kills=0, port=free_port(), clients=4,
                        persons=faults.local_people(db), institutions=faults.DEMO_HOSPITALS,
                        outage=restart_postgresql)
    print(f"acknowledged {len(ledger.acknowledged)}, E-SYS-001 answers {ledger.unavailable}")
    db.dispose()  # the test's own pool holds connections from before the restart
    assert len(ledger.acknowledged) > 5
    assert faults.check(db, ledger, opening) == []


def test_the_checker_finds_what_is_broken(db, his):
    from sqlalchemy import delete, update

    from flows import WANG_FANG, line, ok, person, register, settle_payload, upload
    from yibao.store.schema import account, accumulator, settlement_line

    opening = faults.opening_balances(db)
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "10.00")])
    answer = his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "10.00"))
    setl_id = ok(answer)["setlinfo"]["setl_id"]
    ledger = faults.Ledger(acknowledged={his.last_msgid: setl_id})
    assert faults.check(db, ledger, opening) == []
    with db.write() as conn:
        conn.execute(update(accumulator).values(cum=accumulator.c.cum + 1))
        conn.execute(delete(settlement_line).where(settlement_line.c.setl_id == setl_id))
    problems = faults.check(db, ledger, opening)
    assert any("accumulator" in p for p in problems)
    assert any("no fee lines" in p for p in problems)
    ledger.acknowledged["H11010500001000000000000000099"] = "S-never-written"
    assert any("missing" in p for p in faults.check(db, ledger, opening))
    with db.write() as conn:
        conn.execute(update(account).where(account.c.psn_no == psn_no)
                     .values(balance=account.c.balance + 1))
    assert any(p.startswith(f"account {psn_no}") for p in faults.check(db, ledger, opening))
