"""The advance fund between regions (the 2022 notice) and prepayment by need (2020
epidemic measures), on both databases: advances and top-ups posted and balanced; April's
close draws what Hebei owes Beijing from Hebei's fund first (all it holds, the rest bank
to bank); the month's interest goes to the treatment place, computed by hand to the fen,
and never to the insured place; the low warning in REST, the CLI and at its boundary;
a prepayment by need proposed by finance, approved by another operator (once, even when
two approve at the same moment), rejected, refused to its own proposer, and netted off
in the month's clearing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from concurrency import race
from conftest import APPROVER, APPROVER2, AUDITOR, FINANCE
from flows import WANG_FANG, ZHAO_LEI, fen, ok, person, settle_once
from yibao.api.admin import operator_call
from yibao.cli import app as cli
from yibao.domain import advance as rules
from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_yuan as yuan
from yibao.domain.money import interest_half_up
from yibao.domain.roles import Operator
from yibao.services import advance, ledger
from yibao.services.context import Ids
from yibao.store.schema import (
    advance_interest,
    clearing_institution,
    clearing_region,
    ledger_entry,
    region_advance,
)

HEBEI, BEIJING = "130102", "110000"


def owed(s: dict) -> int:
    return fen(s["fund_pay_sumamt"]) + fen(s["acct_pay"])


def cli_run(db, *args: str) -> str:
    result = CliRunner().invoke(cli, ["clearing", *args, "--db", db.url])
    assert result.exit_code == 0, result.output
    return result.output


def advance_of(http, insured: str, treatment: str, amount: str, headers=FINANCE):
    return http.post("/admin/v1/advances", headers=headers, json={
        "insured": insured, "treatment": treatment, "amount": amount, "note": "test"})


def posting(db, txn: str) -> dict[str, int]:
    with db.read() as conn:
        return {r.account: r.amount for r in conn.execute(select(
            ledger_entry.c.account, ledger_entry.c.amount).where(ledger_entry.c.txn == txn))}


def funds(http) -> dict[tuple[str, str], dict]:
    answer = http.get("/admin/v1/advances", headers=AUDITOR)
    assert answer.status_code == 200, answer.text
    return {(f["insured"], f["treatment"]): f for f in answer.json()["funds"]}


# ---------------------------------------------------------------- pure rules


def test_interest_is_balance_days_times_rate_over_the_year_rounded_half_up_once():
    # 2,600,000,000 fen·days x 0.0035 / 360 = 25,277.78 -> 25,278 fen
    assert interest_half_up(2_600_000_000, Decimal("0.0035"), 360) == 25_278
    # 21,000 fen·days -> 0.204 fen -> 0; exactly half a fen rounds up
    assert interest_half_up(21_000, Decimal("0.0035"), 360) == 0
    assert interest_half_up(18_000, Decimal("0.01"), 360) == 1  # 0.5 fen
    assert interest_half_up(17_999, Decimal("0.01"), 360) == 0
    assert interest_half_up(-5, Decimal("0.01"), 360) == 0


def test_balance_days_the_draw_and_the_low_threshold():
    # 100 fen held from day 1, 50 more from day 21 of a 30-day month
    assert rules.balance_days(100, [(21, 50)], 30) == 100 * 30 + 50 * 10
    assert rules.drawn(300, 1000) == 300 and rules.drawn(3000, 1000) == 1000
    assert rules.drawn(-40, 1000) == 0 and rules.drawn(300, 0) == 0
    terms = rules.Terms(Decimal("0.0035"), 360, 3, Decimal("1.5"))
    assert rules.low_threshold([300, -100, 600], terms) == 450  # (300 + 0 + 600) / 3 x 1.5
    assert rules.low_threshold([], terms) == 0
    assert rules.is_low(449, 450) and not rules.is_low(450, 450) and rules.is_low(0, 0)
    with pytest.raises(Refused, match="E-ADV-001"):
        rules.check_pair(HEBEI, HEBEI)
    with pytest.raises(Refused, match="E-ADV-002"):
        rules.parse_amount("0.001", "amount")


def test_the_advance_terms_come_from_the_insured_places_policy_file():
    from datetime import date

    from yibao.domain.policy import PolicyError, _advance, advance_terms
    from yibao.store.policy_files import load_policies

    policies = load_policies()
    for region in (HEBEI, BEIJING):
        assert advance_terms(policies, region=region, day=date(2026, 4, 30)) == rules.Terms(
            Decimal("0.0035"), 360, 3, Decimal("1"))
    assert advance_terms(policies, region="310000", day=date(2026, 4, 30)) is None
    with pytest.raises(PolicyError, match="source"):
        _advance({"interest_rate": "0.0035", "day_count": 360, "average_months": 3,
                  "low_months": "1"})
    with pytest.raises(PolicyError, match="day_count"):
        _advance({"interest_rate": "0.0035", "day_count": 300, "average_months": 3,
                  "low_months": "1", "source": "s"})


# ---------------------------------------------------------------- the advance fund


def _zhao_in_april(his_factory, clock) -> int:
    """Zhao Lei, insured in Hebei, treated in Beijing in April: what Hebei owes Beijing."""
    first, hebei = his_factory("H11010500001"), his_factory("H13010200001")
    clock.now = datetime(2026, 4, 15, 10, 0)
    zhao = person(first, ZHAO_LEI)["baseinfo"]["psn_no"]
    ok(hebei.call("2501", {"refmedin": {
        "psn_no": zhao, "insutype": "310", "diag_code": "J18.900", "diag_name": "肺炎",
        "reflin_medins_no": "H11010500001", "reflin_medins_name": "北京", "refl_type": "3",
        "mdtrtarea_admdvs": BEIJING, "refl_date": "2026-04-15", "refl_rea": "病情",
        "refl_opnn": "同意", "enddate": "2026-12-31"}}))
    return owed(settle_once(first, ZHAO_LEI, "2000.00"))


def test_april_draws_on_the_advance_and_the_interest_goes_to_the_treatment_place(
        db, http, his_factory, clock):
    # Hebei places 10.00 yuan with Beijing on 10 April: less than April will owe
    clock.now = datetime(2026, 4, 10, 10, 0)
    placed = advance_of(http, HEBEI, BEIJING, "10.00")
    assert placed.status_code == 200, placed.text
    assert placed.json()["balance"] == "10.00"
    txn = f"adv:{placed.json()['advance_id']}"
    assert posting(db, txn) == {f"advance:{HEBEI}:{BEIJING}": 1000, f"cash:{HEBEI}": -1000,
                                f"cash:{BEIJING}": 1000, f"advanced:{BEIJING}:{HEBEI}": -1000}
    # Beijing places 1,000,000.00 with Hebei on 10 April and tops it up by 500,000.00 on
    # 21 April (no care between them: only interest)
    assert advance_of(http, BEIJING, HEBEI, "1000000.00").status_code == 200
    clock.now = datetime(2026, 4, 21, 16, 0)
    assert advance_of(http, BEIJING, HEBEI, "500000.00").json()["balance"] == "1500000.00"
    owes = _zhao_in_april(his_factory, clock)
    assert owes > 1000

    clock.now = datetime(2026, 5, 3, 9, 0)
    cli_run(db, "run", "--month", "2026-04")
    with db.read() as conn:  # the run shows the draw the close would make
        [region] = conn.execute(select(clearing_region)).mappings()
    assert (region["advance_before"], region["drawn"]) == (1000, 1000)
    closed = cli_run(db, "close", "--month", "2026-04")
    assert f"advance fund {HEBEI} → {BEIJING} runs low: 0.00 yuan left" in closed

    # the draw: 10.00 from the fund, the rest bank to bank
    assert posting(db, f"ir:2026-04:{HEBEI}:{BEIJING}") == {
        f"interregional:{HEBEI}:{BEIJING}": owes, f"advance:{HEBEI}:{BEIJING}": -1000,
        f"cash:{HEBEI}": -(owes - 1000), f"cash:{BEIJING}": owes - 1000,
        f"advanced:{BEIJING}:{HEBEI}": 1000, f"receivable:{BEIJING}:{HEBEI}": -owes}
    # interest on Beijing's fund, earned by Hebei (the treatment place), by hand:
    # 100,000,000 fen x 21 days (10..30 April) + 50,000,000 fen x 10 days (21..30 April)
    # = 2,600,000,000 fen·days; x 0.0035 / 360 = 25,277.78 -> 25,278 fen (252.78 yuan)
    assert posting(db, f"int:2026-04:{BEIJING}:{HEBEI}") == {
        f"cash:{HEBEI}": 25_278, f"interest:{HEBEI}:{BEIJING}": -25_278}
    # Hebei's 10.00 yuan for 21 days: 21,000 fen·days -> 0.20 fen -> nothing to post
    assert posting(db, f"int:2026-04:{HEBEI}:{BEIJING}") == {}
    with db.read() as conn:
        earned = {(r.insured, r.treatment): (r.balance_days, r.amount) for r in
                  conn.execute(select(advance_interest))}
        balances = ledger.balances(conn)
    assert earned == {(BEIJING, HEBEI): (2_600_000_000, 25_278), (HEBEI, BEIJING): (21_000, 0)}
    # never to the insured place: Beijing's fund and cash are what it placed, no interest
    assert balances[f"advance:{BEIJING}:{HEBEI}"] == 150_000_000
    assert not [a for a in balances if a.startswith(f"interest:{BEIJING}")]
    assert balances[f"interest:{HEBEI}:{BEIJING}"] == -25_278
    assert balances[f"advance:{HEBEI}:{BEIJING}"] == 0

    # the low warning: Hebei's fund is empty, below April's amount (the only closed month)
    shown = funds(http)
    assert shown[(HEBEI, BEIJING)] == {"insured": HEBEI, "treatment": BEIJING,
                                       "balance": "0.00", "threshold": yuan(owes),
                                       "recent_months": [yuan(owes)], "low": True}
    assert shown[(BEIJING, HEBEI)]["low"] is False
    clock.now = datetime(2026, 5, 4, 9, 0)
    assert advance_of(http, HEBEI, BEIJING, yuan(owes - 1)).json()["balance"] == yuan(owes - 1)
    assert funds(http)[(HEBEI, BEIJING)]["low"] is True  # one fen short
    assert advance_of(http, HEBEI, BEIJING, "0.01").status_code == 200
    assert funds(http)[(HEBEI, BEIJING)]["low"] is False  # covers an average month
    listed = cli_run(db, "advances")
    assert f"{HEBEI}\t{BEIJING}\t{yuan(owes)}\t{yuan(owes)}\tok" in listed
    assert f"{BEIJING}\t{HEBEI}\t1500000.00\t0.00\tok" in listed


def test_an_advance_is_refused_between_one_place_or_without_the_finance_role(db, http):
    same = advance_of(http, HEBEI, HEBEI, "10.00")
    assert same.status_code == 400 and same.json()["code"] == "E-ADV-001"
    bad = advance_of(http, HEBEI, BEIJING, "-1.00")
    assert bad.status_code == 400 and bad.json()["code"] == "E-ADV-002"
    clerk = advance_of(http, HEBEI, BEIJING, "10.00", headers=APPROVER)
    assert clerk.status_code == 403 and clerk.json()["code"] == "E-ADM-003"
    with db.read() as conn:
        assert ledger.balances(conn, "advance:") == {}


# ---------------------------------------------------------------- prepayment by need


def _propose(http, amount: str = "5000.00", code: str = "H11010500001"):
    return http.post("/admin/v1/prepayments", headers=FINANCE, json={
        "fixmedins_code": code, "amount": amount, "reason": "fever clinic expanded"})


def test_prepayment_by_need_proposed_approved_once_rejected_and_netted_off(
        db, http, his_factory, clock, every_role):
    proposed = _propose(http)
    assert proposed.status_code == 200, proposed.text
    pid = proposed.json()["proposal_id"]
    # finance cannot approve; the proposer cannot approve its own, whatever its roles
    own = http.post(f"/admin/v1/prepayments/{pid}/approve", headers=FINANCE, json={})
    assert own.status_code == 403 and own.json()["code"] == "E-ADM-003"
    mine = http.post("/admin/v1/prepayments", headers=every_role, json={
        "fixmedins_code": "H11010500002", "amount": "1.00", "reason": "r"}).json()
    selfish = http.post(f"/admin/v1/prepayments/{mine['proposal_id']}/approve",
                        headers=every_role, json={})
    assert selfish.status_code == 403 and selfish.json()["code"] == "E-ADM-004"

    approved = http.post(f"/admin/v1/prepayments/{pid}/approve", headers=APPROVER,
                         json={"note": "plan seen"})
    assert approved.status_code == 200, approved.text
    assert {k: approved.json()[k] for k in ("status", "month", "amount", "decided_by")} == {
        "status": "approved", "month": "2026-05", "amount": "5000.00",
        "decided_by": "approver"}
    txn = f"pre:2026-05:H11010500001:E{pid}"
    assert posting(db, txn) == {"prepaid:H11010500001": 500_000, "cash:110000": -500_000}
    again = http.post(f"/admin/v1/prepayments/{pid}/approve", headers=APPROVER2, json={})
    assert again.status_code == 409 and again.json()["code"] == "E-ADV-004"
    assert posting(db, txn) == {"prepaid:H11010500001": 500_000, "cash:110000": -500_000}

    rejected = http.post(f"/admin/v1/prepayments/{mine['proposal_id']}/reject",
                         headers=APPROVER, json={"note": "not needed"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    late = http.post(f"/admin/v1/prepayments/{mine['proposal_id']}/approve",
                     headers=APPROVER2, json={})
    assert late.status_code == 409 and late.json()["code"] == "E-ADV-004"
    missing = http.post("/admin/v1/prepayments/99999/approve", headers=APPROVER, json={})
    assert missing.status_code == 404 and missing.json()["code"] == "E-ADV-003"
    listed = http.get("/admin/v1/prepayments", headers=AUDITOR).json()["proposals"]
    assert [(p["proposal_id"], p["status"]) for p in listed] == [
        (mine["proposal_id"], "rejected"), (pid, "approved")]

    # May's clearing nets it off, like any prepayment
    clock.now = datetime(2026, 5, 12, 10, 0)
    may = owed(settle_once(his_factory("H11010500001"), WANG_FANG, "3000.00"))
    clock.now = datetime(2026, 6, 2, 9, 0)
    cli_run(db, "run", "--month", "2026-05")
    with db.read() as conn:
        row = conn.execute(select(clearing_institution).where(
            clearing_institution.c.fixmedins_code == "H11010500001")).mappings().one()
    assert (row["fund"] + row["acct"], row["prepaid"], row["due"]) == (
        may, 500_000, may - 500_000)
    cli_run(db, "close", "--month", "2026-05")
    with db.read() as conn:
        assert ledger.balance(conn, "prepaid:H11010500001") == 0


def test_two_approvers_at_the_same_moment_post_once(db, clock):
    with db.write() as conn:
        call = operator_call(conn, Operator("finance", clock(), frozenset({"finance"}),
                                            "finance"), Ids(clock), ())
        pid = advance.propose(call, "H11010500001", 120_000, "surge of patients")

    def approve_as(name: str) -> str:
        try:
            with db.write() as conn:
                advance.approve(operator_call(conn, Operator(
                    name, clock(), frozenset({"approver"}), "approver"), Ids(clock), ()), pid)
            return "approved"
        except Refused as refusal:
            return refusal.code

    answers = race(lambda: approve_as("approver"), lambda: approve_as("approver2"))
    assert sorted(answers) == ["E-ADV-004", "approved"]
    with db.read() as conn:
        entries = conn.execute(select(ledger_entry.c.txn, ledger_entry.c.amount).where(
            ledger_entry.c.txn.startswith("pre:"))).all()
    assert sorted(entries) == [(f"pre:2026-05:H11010500001:E{pid}", -120_000),
                               (f"pre:2026-05:H11010500001:E{pid}", 120_000)]


def test_two_advances_of_one_pair_at_the_same_moment_both_land(db, clock):
    """The pair's row orders them: each sees the other's, none is lost."""
    def place() -> int:
        with db.write() as conn:
            return advance.record(operator_call(conn, Operator(
                "finance", clock(), frozenset({"finance"}), "finance"), Ids(clock), ()),
                HEBEI, BEIJING, 10_000).balance

    balances = race(place, place)
    assert sorted(balances) == [10_000, 20_000]
    with db.read() as conn:
        assert ledger.balance(conn, f"advance:{HEBEI}:{BEIJING}") == 20_000


@pytest.mark.corrupts
def test_verify_finds_an_advance_posted_without_its_record(db, clock):
    with db.write() as conn:
        done = advance.record(operator_call(conn, Operator(
            "finance", clock(), frozenset({"finance"}), "finance"), Ids(clock), ()),
            HEBEI, BEIJING, 10_000)
    with db.read() as conn:
        assert ledger.verify(conn) == []
    with db.write() as conn:
        conn.execute(region_advance.delete())
    with db.read() as conn:
        assert ledger.verify(conn) == [
            f"adv:{done.advance_id}: ledger {sorted(posting(db, 'adv:' + done.advance_id).items())}"
            ", advance []"]
