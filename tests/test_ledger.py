"""The fund ledger: a day of settlements, a cancellation, care away from home and a
paid reimbursement gives the balances an auditor expects, every posting sums to zero,
and ``yibao ledger verify`` finds a corrupted or missing entry. Verify reads in pages:
whatever the page size, a problem is found once, on either side of a page boundary and
past the last key. (Every other database test verifies the ledger at its end too: see
the ``db`` fixture.)"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from conftest import APPROVER, CLERK, FINANCE, REVIEWER
from flows import (
    WANG_FANG,
    ZHAO_LEI,
    fen,
    ok,
    person,
    settle_once,
)
from yibao.cli import app as cli
from yibao.domain import ledger as rules
from yibao.domain.money import fen_to_yuan as yuan
from yibao.services import ledger
from yibao.store.schema import ledger_entry, prepayment, settlement

PAGE_SIZES = range(1, 7)  # a day has five settlements: pages of one to all of them, and more
AT = datetime(2026, 5, 11)


def a_day(http, his_factory) -> dict:
    beijing, hebei = his_factory("H11010500001"), his_factory("H13010200001")
    home = settle_once(beijing, WANG_FANG, "3000.00")
    cancelled = settle_once(beijing, WANG_FANG, "100.00")
    ok(beijing.call("2208", {"data": {"setl_id": cancelled["setl_id"],
                                      "mdtrt_id": cancelled["mdtrt_id"],
                                      "psn_no": cancelled["psn_no"]}}))
    zhao = person(beijing, ZHAO_LEI)["baseinfo"]["psn_no"]
    ok(hebei.call("2501", {"refmedin": {
        "psn_no": zhao, "insutype": "310", "diag_code": "J18.900", "diag_name": "肺炎",
        "reflin_medins_no": "H11010500001", "reflin_medins_name": "北京", "refl_type": "3",
        "mdtrtarea_admdvs": "110000", "refl_date": "2026-05-11", "refl_rea": "病情",
        "refl_opnn": "同意", "enddate": "2026-12-31"}}))
    away = settle_once(beijing, ZHAO_LEI, "2000.00")
    claim = http.post("/admin/v1/claims", headers=CLERK, json={
        "psn_no": home["psn_no"], "reason": "no_credential",
        "payee": {"bank_name": "银行", "bank_account": "6222020200001234567",
                  "account_name": "王芳"},
        "bill": {"fixmedins_code": "H11010500002", "insutype": "310", "med_type": "11",
                 "begntime": "2026-04-20T10:00:00", "invono": "INV-L1",
                 "lines": [{"feedetl_sn": "1", "med_list_codg": "XA01AAA0001", "cnt": "1",
                            "pric": "500.00", "det_item_fee_sumamt": "500.00"}]}}).json()
    http.post(f"/admin/v1/claims/{claim['claim_id']}/review", headers=REVIEWER)
    approved = http.post(f"/admin/v1/claims/{claim['claim_id']}/decision", headers=APPROVER,
                         json={"approve": True}).json()
    order = http.post("/admin/v1/payments/export", headers=FINANCE).text.splitlines()[1]
    http.post(f"/admin/v1/payments/{order.split(',')[1]}/result", headers=FINANCE,
              json={"paid": True})
    return {"home": home, "cancelled": cancelled, "away": away, "claim": approved}


def owed(s: dict) -> int:
    """What the funds and the personal account pay for a settlement (fen)."""
    return fen(s["fund_pay_sumamt"]) + fen(s["acct_pay"])


def test_a_day_gives_the_balances_an_auditor_expects(db, http, his_factory):
    day = a_day(http, his_factory)
    home, away, claim = day["home"], day["away"], day["claim"]
    with db.read() as conn:
        balances = ledger.balances(conn)
        assert ledger.verify(conn) == []
    fund_home = fen(home["fund_pay_sumamt"])
    assert balances["fund:110000:330100"] == fund_home + claim["approved_amount"]
    assert balances["personal:110000"] == fen(home["acct_pay"])
    assert balances["fund:130102:310100"] == fen(away["fund_pay_sumamt"]) > 0
    owed_away = fen(away["fund_pay_sumamt"])
    assert balances["interregional:130102:110000"] == -owed_away
    assert balances["receivable:110000:130102"] == owed_away
    assert balances["payable:H11010500001"] == -(fund_home + fen(home["acct_pay"]) + owed_away)
    assert balances[f"person:{home['psn_no']}"] == 0  # owed, then paid
    assert balances["cash:110000"] == -claim["approved_amount"]
    assert sum(balances.values()) == 0


@pytest.mark.corrupts
def test_verify_finds_a_changed_a_missing_and_a_stray_entry(db, http, his_factory, tmp_path):
    day = a_day(http, his_factory)
    txn = f"setl:{day['home']['setl_id']}"
    with db.write() as conn:
        past_the_sum_trigger(conn)
        conn.execute(update(ledger_entry).where(
            ledger_entry.c.txn == txn, ledger_entry.c.account.startswith("fund:"))
            .values(amount=ledger_entry.c.amount + 1))
    with db.read() as conn:
        problems = ledger.verify(conn)
    assert any(p.startswith(f"posting {txn} sums to 1") for p in problems)
    assert any(p.startswith(f"{txn}: ledger") for p in problems)

    away = f"setl:{day['away']['setl_id']}"
    with db.write() as conn:
        conn.execute(delete(ledger_entry).where(ledger_entry.c.txn == away))
        stray(conn, "setl:S-NOTHING")
    with db.read() as conn:
        problems = ledger.verify(conn)
    assert any(p.startswith(f"{away}: ledger []") for p in problems)
    assert "setl:S-NOTHING: posted, but no such settlement" in problems
    result = CliRunner().invoke(cli, ["ledger", "verify", "--db", db.url])
    assert result.exit_code == 1 and "problems" in result.output


def test_the_cli_verifies_a_consistent_ledger_and_says_what_it_checked(db, http, his_factory):
    day = a_day(http, his_factory)
    result = CliRunner().invoke(cli, ["ledger", "verify", "--db", db.url])
    assert result.exit_code == 0 and "ledger verified" in result.output
    with db.read() as conn:
        entries = list(conn.execute(select(ledger_entry.c.account, ledger_entry.c.amount)))
    debited = sum(amount for _, amount in entries if amount > 0)
    accounts = len({account for account, _ in entries})
    settled = sum(owed(day[name]) for name in ("home", "cancelled", "away"))
    paid = day["claim"]["approved_amount"]
    lines = [line.strip() for line in result.output.splitlines()]
    # three settlements, one cancellation, one reimbursement and its payout
    assert lines[1] == (f"ledger: 6 postings, {len(entries)} entries, {accounts} accounts, "
                        f"{yuan(debited)} yuan debited")
    for line in (f"settlements: 3 ({yuan(settled)} yuan) owed by the funds and personal "
                 "accounts",
                 f"cancellations: 1 ({yuan(-owed(day['cancelled']))} yuan) owed by the funds "
                 "and personal accounts",
                 f"reimbursements: 1 ({yuan(paid)} yuan) owed by the funds and personal "
                 "accounts",
                 "insured places whose personal accounts moved: 1",
                 f"paid payment orders: 1 ({yuan(paid)} yuan)",
                 "closed months: 0; payments to institutions 0 (0.00 yuan), between regions "
                 "0 (0.00 yuan)",
                 "prepayments: 0 (0.00 yuan)"):
        assert line in lines, (line, lines)
    assert lines.index("ledger verified: every posting sums to zero and matches its record"
                       ) == len(lines) - 1
    shown = CliRunner().invoke(cli, ["ledger", "balances", "--db", db.url,
                                     "--prefix", "interregional:"])
    assert "interregional:130102:110000" in shown.output


def setl_txns(db) -> list[str]:
    with db.read() as conn:
        ids = conn.scalars(select(settlement.c.setl_id).order_by(settlement.c.setl_id))
        return [f"setl:{setl_id}" for setl_id in ids]


def stray(conn, txn: str, amount: int = 5) -> None:
    """A balanced posting under ``txn`` that no record gives (of a kind the database
    accepts: only ``verify`` can tell it is not the record's)."""
    conn.execute(ledger_entry.insert(), ledger.posting(
        txn, "settle", [("cash:110000", amount), ("cash:130102", -amount)], AT))


def past_the_sum_trigger(conn) -> None:
    """A corruption PostgreSQL's deferred trigger would refuse (a posting that no longer
    sums to zero) written past it, as a restore of a bad backup or a superuser's
    hand-written statement could: ``verify`` must find it all the same."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")


def verify_in_pages(db) -> list[str]:
    """The problems, the same for every page size."""
    with db.read() as conn:
        found = [ledger.verify(conn, page_size=size) for size in PAGE_SIZES]
    assert all(problems == found[0] for problems in found), found
    return found[0]


@pytest.mark.corrupts
def test_verify_in_pages_finds_a_changed_posting_on_each_side_of_a_page_boundary(
        db, http, his_factory):
    a_day(http, his_factory)
    txns = setl_txns(db)
    assert len(txns) == 5
    changed = txns[1:3]  # the last of the first page of two and the first of the second
    with db.write() as conn:
        for txn in changed:
            stray(conn, txn, 7)
    problems = verify_in_pages(db)
    assert [p.split(": ledger ")[0] for p in problems] == changed
    assert all("('cash:130102', -7)" in p and " but the settlement gives " in p
               for p in problems)


@pytest.mark.corrupts
def test_verify_in_pages_finds_settlements_with_no_posting(db, http, his_factory):
    a_day(http, his_factory)
    txns = setl_txns(db)
    missing = [txns[0], txns[2], txns[-1]]
    with db.write() as conn:
        conn.execute(delete(ledger_entry).where(ledger_entry.c.txn.in_(missing)))
    problems = [p for p in verify_in_pages(db) if p.startswith("setl:")]
    assert [p.split(": ledger [] but the settlement gives ")[0] for p in problems] == missing


@pytest.mark.corrupts
def test_verify_in_pages_finds_postings_with_no_record(db, http, his_factory):
    a_day(http, his_factory)
    txns = setl_txns(db)
    strays = ["setl:A-STRAY", f"{txns[1]}-STRAY", f"{txns[-1]}-STRAY", "setl:Z-STRAY",
              "pay:A-STRAY", "pay:Z-STRAY"]
    with db.write() as conn:
        for txn in strays:
            stray(conn, txn)
    problems = verify_in_pages(db)
    assert problems == [f"{txn}: posted, but no such settlement" for txn in strays[:4]] + [
        f"{txn}: paid None, ledger 5" for txn in strays[4:]]


@pytest.mark.corrupts
def test_verify_finds_clearing_postings_of_months_with_no_clearing(db):
    """Prepayments for April and June, posted; stray postings before, between and after
    them, in any of the three kinds, are each found once."""
    with db.write() as conn:
        for month in ("2026-04", "2026-06"):
            conn.execute(prepayment.insert().values(
                month=month, fixmedins_code="H11010500001", amount=1000, basis="test",
                created_at=AT, actor="tester"))
            ledger.post(conn, f"pre:{month}:H11010500001", "prepay",
                        rules.prepayment_entries("110000", "H11010500001", 1000), AT)
    strays = ["clr:2026-01:H11010500001", "ir:2026-05:130102:110000",
              "pre:2026-04:H11010500002", "pre:2026-06", "clr:2027-01:H11010500001"]
    with db.write() as conn:
        for txn in strays:
            stray(conn, txn)
        assert ledger.verify(conn) == sorted(
            f"{txn}: ledger [('cash:110000', 5), ('cash:130102', -5)], clearing []"
            for txn in strays)
