"""The year-to-date history always equals the sum over the person's live settlements,
whatever sequence of settlements and cancellations happened; the year is China's."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from conftest import reset
from flows import WANG_FANG, line, ok, person, register, settle_payload, upload
from yibao.store.schema import account, accumulator, accumulator_delta, settlement

HOSPITALS = ["H11010500001", "H11010500002", "H11010500003"]
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("settle"), st.sampled_from(HOSPITALS),
                  st.integers(min_value=1, max_value=400_000)),
        st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=20), st.just(0)),
    ),
    min_size=1, max_size=8,
)


def check_history(db) -> None:
    with db.read() as conn:
        cancelled = {r.reverses for r in conn.execute(
            select(settlement.c.reverses).where(settlement.c.reverses.is_not(None)))}
        live = [r for r in conn.execute(select(settlement).where(settlement.c.kind == "settle"))
                if r.setl_id not in cancelled]
        expected: Counter = Counter()
        for row in conn.execute(select(accumulator_delta)):
            expected[(row.psn_no, row.insutype, row.period, row.cum_key)] += row.delta
        stored = {(r.psn_no, r.insutype, r.period, r.cum_key): r.cum
                  for r in conn.execute(select(accumulator))}
        balance = conn.execute(select(account.c.balance).where(
            account.c.psn_no == "11000000000000000001")).scalar_one()
    assert {k: v for k, v in stored.items() if v} == {k: v for k, v in expected.items() if v}
    live_fund = sum(r.fund_pay_sumamt for r in live)
    year_fund = sum(v for (_, _, period, key), v in stored.items()
                    if key.startswith("F.") and period == "2026")
    assert year_fund == live_fund
    assert balance == 300000 - sum(r.acct_pay for r in live)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_history_equals_live_settlements(db, his_factory, operations):
    reset(db)
    clients = {code: his_factory(code) for code in HOSPITALS}
    psn_no = person(clients[HOSPITALS[0]], WANG_FANG)["baseinfo"]["psn_no"]
    done: list[tuple[str, str, str]] = []  # (hospital, setl_id, mdtrt_id)
    for kind, arg, fen in operations:
        if kind == "settle":
            his = clients[arg]
            amount = f"{Decimal(fen) / 100:.2f}"
            mdtrt_id = register(his, psn_no, WANG_FANG)
            upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", amount)])
            s = ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, amount)))
            done.append((arg, s["setlinfo"]["setl_id"], mdtrt_id))
        elif done:
            hospital, setl_id, mdtrt_id = done.pop(arg % len(done))
            ok(clients[hospital].call("2208", {"data": {
                "setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}}))
        check_history(db)


def test_the_year_is_decided_in_china_standard_time(db, clock, his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    deductibles = []
    for moment in (datetime(2026, 12, 31, 23, 59, 59), datetime(2027, 1, 1, 0, 0, 1)):
        clock.now = moment
        mdtrt_id = register(his, psn_no, WANG_FANG)
        upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "1000.00")])
        s = ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "1000.00")))
        deductibles.append(Decimal(str(s["setlinfo"]["act_pay_dedc"])))
    # the new year starts a new annual deductible: both visits pay 1000 towards it
    assert deductibles == [Decimal(1000), Decimal(1000)]
    for ym, expected in (("202612", "1000"), ("202701", "1000")):
        cum = ok(his.call("5206", {"data": {"psn_no": psn_no, "cum_ym": ym}}))["cuminfo"]
        assert {c["cum_type_code"]: Decimal(str(c["cum"])) for c in cum}["D.emp_otp"] == \
            Decimal(expected)
