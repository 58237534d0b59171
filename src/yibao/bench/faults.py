"""Fault runs: kill -9 the server at random moments under load (and optionally restart
the database), with HIS clients that resend every unanswered message with the same
msgid and body, then check that nothing was lost, half-written or counted twice.

Used by `yibao bench crash` (long) and tests/test_faults.py (short).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text

from yibao.bench.load import Client, Target
from yibao.bench.progress import Report, silent
from yibao.bench.server import ServerProcess
from yibao.domain.states import SettlementKind
from yibao.store.db import Database
from yibao.store.demo import REGION, demo_token
from yibao.store.schema import account, account_entry, insurance, message, person
from yibao.store.schema import settlement as settlement_table

DEMO_HOSPITALS = [
    (code, demo_token(code)) for code in ("H11010500001", "H11010500002", "H11010500003")
]
RETRY_PAUSE_SECONDS = 0.2
RETRY_SECONDS_MAX = 90.0


@dataclass(slots=True)
class Ledger:
    """What the HIS clients saw: every acknowledged settlement, by msgid."""

    acknowledged: dict[str, str] = field(default_factory=dict)  # msgid -> setl_id
    violations: list[str] = field(default_factory=list)
    retries: int = 0  # resent after a lost connection (server killed)
    unavailable: int = 0  # answered E-SYS-001 (database down) and resent
    refusals: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _send_until_answered(
    client: Client, body: bytes, ledger: Ledger, stop_at: float
) -> dict[str, Any]:
    """Send until the platform answers; a lost connection or E-SYS-001 (database
    unavailable) means: send the same message again a little later."""
    while True:
        try:
            answer = client.send(body)[0]
            if not answer["err_msg"].startswith("E-SYS-001"):
                return answer
            with ledger.lock:
                ledger.unavailable += 1
        except (OSError, ValueError):
            with ledger.lock:
                ledger.retries += 1
        if time.time() > stop_at + RETRY_SECONDS_MAX:
            raise TimeoutError("the platform did not come back")
        time.sleep(RETRY_PAUSE_SECONDS)


def _flow(client: Client, person: tuple[str, str, str], ledger: Ledger, stop_at: float) -> None:
    psn_no, certno, insutype = person
    cred = {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno}

    def call(infno: str, payload: dict[str, Any]) -> dict[str, Any]:
        msgid, body = client.message(infno, payload)
        answer = _send_until_answered(client, body, ledger, stop_at)
        if answer["infcode"] != 0:
            with ledger.lock:
                ledger.refusals[answer["err_msg"][:10]] += 1
        return {"msgid": msgid, "body": body, **answer}

    reg = call("2201", {"data": {"psn_no": psn_no, "insutype": insutype,
                                 "begntime": "2026-05-11 08:00:00", "ipt_otp_no": "F", **cred}})
    if reg["infcode"] != 0:
        return
    mdtrt_id = reg["output"]["data"]["mdtrt_id"]
    line = {"feedetl_sn": "1", "mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_list_codg":
            "XA01AAA0001", "medins_list_codg": "F1", "det_item_fee_sumamt": "123.45",
            "cnt": "1", "pric": "123.45"}
    if call("2204", {"feedetail": [line]})["infcode"] != 0:
        return
    settled = call("2207", {"data": {"psn_no": psn_no, "mdtrt_id": mdtrt_id,
                                     "medfee_sumamt": "123.45", "acct_used_flag": "1", **cred}})
    if settled["infcode"] != 0:
        return
    setl_id = settled["output"]["setlinfo"]["setl_id"]
    again = _send_until_answered(client, settled["body"], ledger, stop_at)  # a late retry
    with ledger.lock:
        ledger.acknowledged[settled["msgid"]] = setl_id
        if again.get("output", {}).get("setlinfo", {}).get("setl_id") != setl_id:
            ledger.violations.append(f"retry of {settled['msgid']} answered differently")


def run(
    url: str, *, seconds: float, kills: int, port: int, clients: int = 4,
    persons: list[tuple[str, str, str]], institutions: list[tuple[str, str]],
    outage: Callable[[], None] | None = None, seed: int = 1, report: Report = silent,
) -> Ledger:
    """Drive flows for ``seconds`` while killing the server ``kills`` times at random
    moments; ``outage`` (e.g. restarting the database) runs at mid-time while the server
    keeps running. ``report`` hears of each kill and outage."""
    server = ServerProcess(url, port)
    ledger = Ledger()
    stop_at = time.time() + seconds
    rng = random.Random(seed)

    def client_loop(index: int) -> None:
        client = Client(Target("127.0.0.1", port), *institutions[index % len(institutions)])
        local = random.Random(seed * 100 + index)
        while time.time() < stop_at:
            _flow(client, local.choice(persons), ledger, stop_at)

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    events = [(rng.uniform(0.1, 0.9) * seconds, "kill") for _ in range(kills)]
    if outage is not None:
        events.append((0.5 * seconds, "outage"))
    started = time.time()
    report(f"{clients} clients for {seconds:g} s, {kills} kills at random moments ...")
    try:
        for number, (moment, kind) in enumerate(sorted(events), start=1):
            time.sleep(max(0.0, started + moment - time.time()))
            report(f"{moment:.0f} s: {kind} ({number}/{len(events)}), "
                   f"{len(ledger.acknowledged)} settlements acknowledged so far")
            if kind == "outage":
                assert outage is not None
                outage()
                continue
            server.kill()
            server.start()
        report("waiting for the clients to finish their flows ...")
        for t in threads:
            t.join(timeout=seconds + RETRY_SECONDS_MAX + 30)
    finally:
        server.stop()
    return ledger


def check(db: Database, ledger: Ledger, opening_balances: dict[str, int]) -> list[str]:
    """Every broken promise, in words; empty when all hold."""
    problems = list(ledger.violations)
    with db.read() as conn:
        rows = conn.execute(select(settlement_table.c.setl_id, settlement_table.c.msgid,
                                   settlement_table.c.kind)).all()
        by_msgid = Counter(r.msgid for r in rows if r.kind == SettlementKind.SETTLE)
        ids = {r.setl_id for r in rows}
        half = conn.execute(select(message.c.msgid).where(
            message.c.response == "", message.c.infcode == 0)).all()
        mismatched = conn.execute(text(
            "SELECT a.psn_no, a.cum_key, a.cum, COALESCE(SUM(d.delta), 0) AS total "
            "FROM accumulator a LEFT JOIN accumulator_delta d ON d.psn_no = a.psn_no "
            "AND d.insutype = a.insutype AND d.period = a.period AND d.cum_key = a.cum_key "
            "GROUP BY a.psn_no, a.insutype, a.period, a.cum_key, a.cum "
            "HAVING a.cum <> COALESCE(SUM(d.delta), 0)")).all()
        moved: Counter[str] = Counter()
        for r in conn.execute(select(account_entry.c.psn_no, account_entry.c.amount)):
            moved[r.psn_no] += r.amount
        balances = {r.psn_no: r.balance for r in conn.execute(select(account))}
        unlinked = conn.execute(text(
            f"SELECT s.setl_id FROM settlement s WHERE s.kind = '{SettlementKind.SETTLE}' "
            "AND NOT EXISTS "
            "(SELECT 1 FROM settlement_line l WHERE l.setl_id = s.setl_id)")).all()
    for msgid, setl_id in ledger.acknowledged.items():
        if setl_id not in ids:
            problems.append(f"acknowledged {setl_id} ({msgid}) is missing")
        if by_msgid[msgid] != 1:
            problems.append(f"msgid {msgid} settled {by_msgid[msgid]} times")
    problems += [f"message {m.msgid} reserved but never answered" for m in half]
    problems += [f"accumulator {m.psn_no} {m.cum_key} is {m.cum}, deltas say {m.total}"
                 for m in mismatched]
    problems += [f"settlement {u.setl_id} has no fee lines" for u in unlinked]
    for psn_no, opening in opening_balances.items():
        if balances.get(psn_no, 0) != opening + moved[psn_no]:
            problems.append(f"account {psn_no}: {balances.get(psn_no)} != {opening} + moves")
    return problems


def local_people(db: Database) -> list[tuple[str, str, str]]:
    """(psn_no, certno, insutype) of every person insured in the demo region."""
    with db.read() as conn:
        return [(r.psn_no, r.certno, r.insutype) for r in conn.execute(
            select(person.c.psn_no, person.c.certno, insurance.c.insutype)
            .join(insurance, insurance.c.psn_no == person.c.psn_no)
            .where(person.c.insuplc_admdvs == REGION))]


def opening_balances(db: Database) -> dict[str, int]:
    """Each account's balance less the moves it holds already: what ``check`` adds every
    move to (a database an earlier run used holds that run's moves too)."""
    with db.read() as conn:
        moved: Counter[str] = Counter()
        for r in conn.execute(select(account_entry.c.psn_no, account_entry.c.amount)):
            moved[r.psn_no] += r.amount
        return {r.psn_no: r.balance - moved[r.psn_no] for r in conn.execute(select(account))}
