"""Real concurrency: two settlements of the same person at the same moment (threads and
processes, two hospitals) never use the deductible twice; a message retried in parallel
settles once. Runs on SQLite and PostgreSQL like every database test."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from concurrency import run_processes, run_threads
from flows import LI_JIANGUO, WANG_FANG, line, ok, person, register, settle_payload, upload
from yibao.store.schema import settlement

DEDUCTIBLE = {WANG_FANG: Decimal(1800), LI_JIANGUO: Decimal(1300)}


def D(value: object) -> Decimal:
    return Decimal(str(value))


def prepared_settlement(his, certno: str, amount: str) -> tuple[dict, bytes]:
    """Register and upload at this hospital; return the 2207 message, not yet sent."""
    psn_no = person(his, certno)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, certno)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", amount)])
    message = his.envelope("2207", settle_payload(psn_no, mdtrt_id, certno, amount))
    return his.headers(), json.dumps(message).encode()


def check_deductible_used_once(his, certno: str, answers: list[dict], amount: str) -> None:
    infos = [ok(a)["setlinfo"] for a in answers]
    assert sum(D(s["act_pay_dedc"]) for s in infos) == DEDUCTIBLE[certno]
    in_scope = D(amount) * len(infos)
    history = {c["cum_type_code"]: D(c["cum"]) for c in ok(his.call("5206", {"data": {
        "psn_no": infos[0]["psn_no"], "cum_ym": "202605"}}))["cuminfo"]}
    assert history["D.emp_otp"] == DEDUCTIBLE[certno]
    assert history["B.emp_otp"] == in_scope
    assert history["F.330100"] == sum(D(s["fund_pay_sumamt"]) for s in infos)
    # the account too: each settlement moved it from the balance the one before left
    balance = D(person(his, certno)["insuinfo"][0]["balc"])
    start = {WANG_FANG: D(3000), LI_JIANGUO: D(5000)}[certno]
    assert balance == start - sum(D(s["acct_pay"]) for s in infos)
    assert min(D(s["balc"]) for s in infos) == balance


@pytest.mark.parametrize("certno", [WANG_FANG, LI_JIANGUO])
def test_same_person_two_hospitals_threads(app, his_factory, certno):
    hospitals = [his_factory("H11010500001"), his_factory("H11010500002"),
                 his_factory("H11010500003")]
    requests = [prepared_settlement(h, certno, "1000.00") for h in hospitals]
    answers = run_threads(app.state.hospital.handle, requests)
    check_deductible_used_once(hospitals[0], certno, answers, "1000.00")


def test_same_person_two_hospitals_processes(db, clock, his_factory):
    hospitals = [his_factory("H11010500001"), his_factory("H11010500002")]
    requests = [prepared_settlement(h, WANG_FANG, "1500.00") for h in hospitals]
    answers = run_processes(db.url, clock.now, requests)
    check_deductible_used_once(hospitals[0], WANG_FANG, answers, "1500.00")


def test_a_message_retried_in_parallel_settles_once(app, db, his):
    _, body = prepared_settlement(his, WANG_FANG, "2000.00")
    requests = [(his.headers(), body) for _ in range(4)]
    answers = run_threads(app.state.hospital.handle, requests)
    setl_ids = {ok(a)["setlinfo"]["setl_id"] for a in answers}
    assert len(setl_ids) == 1
    with db.read() as conn:
        count = conn.execute(select(func.count()).select_from(settlement)).scalar_one()
    assert count == 1
    balance = D(person(his, WANG_FANG)["insuinfo"][0]["balc"])
    assert balance == D(3000) - D(ok(answers[0])["setlinfo"]["acct_pay"])
