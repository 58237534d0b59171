"""Short fault runs (the long ones: `yibao bench crash`): the server is killed with
SIGKILL at random moments under load; clients resend unanswered messages with the same
msgid and body. Afterwards every acknowledged settlement exists exactly once, nothing is
half-written, retries got the original answer, and accumulators and accounts add up."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest
from sqlalchemy import select

from yibao.bench import faults
from yibao.store.demo import demo_token
from yibao.store.schema import insurance, person

HOSPITALS = [(code, demo_token(code)) for code in ("H11010500001", "H11010500002")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_people(db) -> list[tuple[str, str, str]]:
    with db.read() as conn:
        return [tuple(r) for r in conn.execute(
            select(person.c.psn_no, person.c.certno, insurance.c.insutype)
            .join(insurance, insurance.c.psn_no == person.c.psn_no)
            .where(person.c.insuplc_admdvs == "110000"))]


def test_kill_minus_nine_under_load_loses_nothing(db):
    opening = faults.opening_balances(db)
    ledger = faults.run(db.url, seconds=12, kills=3, port=free_port(), clients=4,
                        persons=demo_people(db), institutions=HOSPITALS)
    print(f"acknowledged {len(ledger.acknowledged)}, resent {ledger.retries}")
    assert len(ledger.acknowledged) > 5, ledger
    assert faults.check(db, ledger, opening) == []


def restart_postgresql() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, capture_output=True, timeout=120)


@pytest.mark.skipif(shutil.which("pg_ctlcluster") is None or os.geteuid() != 0,
                    reason="needs the machine's PostgreSQL cluster and root to restart it")
def test_database_restart_under_load_recovers_by_itself(db):
    if db.is_sqlite:
        pytest.skip("an embedded SQLite database has no server to restart")
    opening = faults.opening_balances(db)
    ledger = faults.run(db.url, seconds=12, kills=0, port=free_port(), clients=4,
                        persons=demo_people(db), institutions=HOSPITALS,
                        outage=restart_postgresql)
    print(f"acknowledged {len(ledger.acknowledged)}, E-SYS-001 answers {ledger.unavailable}")
    db.dispose()  # the test's own pool holds connections from before the restart
    assert len(ledger.acknowledged) > 5
    assert faults.check(db, ledger, opening) == []
