"""Monthly clearing from the store, on both databases: April with care away from home,
closed; May prepaid to a large institution, with a late cancellation of an April
settlement; statements; re-running a closed month refused; after both months are
closed every institution, prepayment and region account is square. And the Spark path
gives the same clearing as DuckDB."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from calls import command_call
from concurrency import run_threads
from conftest import ADMIN
from flows import (
    LI_JIANGUO,
    WANG_FANG,
    ZHAO_LEI,
    fen,
    ok,
    person,
    settle_once,
)
from yibao.analytics.engines import run_duckdb, run_spark
from yibao.analytics.synthetic import generate_month
from yibao.cli import app as cli
from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_yuan as yuan
from yibao.services import clearing as clearing_service
from yibao.services import ledger
from yibao.store.schema import (
    clearing_institution,
    clearing_line,
    clearing_month,
    clearing_region,
    operator_action,
)


def owed(s: dict) -> int:
    return fen(s["fund_pay_sumamt"]) + fen(s["acct_pay"])


def clearing(db, *args: str) -> str:
    result = CliRunner().invoke(cli, ["clearing", *args, "--db", db.url])
    assert result.exit_code == 0, result.output
    return result.output


def statement_counts(path: Path) -> dict[str, tuple[int, int]]:
    """Settlements and cancellations by institution, as the bureau's summary shows them."""
    with path.open(encoding="utf-8") as summary:
        rows = list(csv.reader(summary))
    head = rows[1]
    code, settled, cancelled = (head.index(n) for n in ("fixmedins_code", "settlements",
                                                        "cancellations"))
    institutions = rows[2:rows.index(["insured", "treatment", "amount", "settlements",
                                       "cancellations", "advance_before", "drawn",
                                       "advance_after", "paid"])]
    return {r[code]: (int(r[settled]), int(r[cancelled])) for r in institutions}


def due(db, month: str) -> dict[str, tuple[int, int, int]]:
    with db.read() as conn:
        return {r.fixmedins_code: (r.fund + r.acct, r.prepaid, r.due) for r in conn.execute(
            select(clearing_institution).where(clearing_institution.c.month == month))}


def test_two_months_with_prepayment_late_cancellation_and_care_away(
    db, http, his_factory, clock, tmp_path: Path
):
    first, second, hebei = (his_factory(c) for c in ("H11010500001", "H11010500002",
                                                     "H13010200001"))
    clock.now = datetime(2026, 4, 15, 10, 0)
    home = settle_once(first, WANG_FANG, "3000.00")
    zhao = person(first, ZHAO_LEI)["baseinfo"]["psn_no"]
    ok(hebei.call("2501", {"refmedin": {
        "psn_no": zhao, "insutype": "310", "diag_code": "J18.900", "diag_name": "肺炎",
        "reflin_medins_no": "H11010500001", "reflin_medins_name": "北京", "refl_type": "3",
        "mdtrtarea_admdvs": "110000", "refl_date": "2026-04-15", "refl_rea": "病情",
        "refl_opnn": "同意", "enddate": "2026-12-31"}}))
    away = settle_once(first, ZHAO_LEI, "2000.00")
    late = settle_once(second, LI_JIANGUO, "1500.00")

    assert "2026-04: settlements 3, cancellations 0, institutions 2, region pairs 1, due " \
        f"{yuan(owed(home) + owed(away) + owed(late))} yuan" in clearing(
            db, "run", "--month", "2026-04")
    april = due(db, "2026-04")
    assert april["H11010500001"] == (owed(home) + owed(away), 0, owed(home) + owed(away))
    assert april["H11010500002"] == (owed(late), 0, owed(late))
    with db.read() as conn:
        [region] = conn.execute(select(clearing_region)).mappings()
    assert (region["insured"], region["treatment"], region["amount"]) == (
        "130102", "110000", owed(away))
    clearing(db, "close", "--month", "2026-04")

    flagged = http.put("/admin/v1/institutions/H11010500001/prepay", json={"enabled": True},
                       headers=ADMIN)
    assert flagged.status_code == 200 and flagged.json()["prepay"] is True
    assert "1 prepayments" in clearing(db, "prepay", "--month", "2026-05")
    with db.read() as conn:  # the flag and every clearing step are in the operators' log
        logged = conn.execute(select(operator_action.c.action, operator_action.c.role,
                                     operator_action.c.subject)
                              .order_by(operator_action.c.id)).all()
    assert [tuple(row) for row in logged][-3:] == [
        ("clearing.close", "cli", "2026-04"),
        ("institution.prepay", "administrator", "H11010500001"),
        ("clearing.prepay", "cli", "2026-05")]
    clock.now = datetime(2026, 5, 11, 9, 30)
    ok(second.call("2208", {"data": {"setl_id": late["setl_id"], "mdtrt_id": late["mdtrt_id"],
                                     "psn_no": late["psn_no"]}}))
    may_home = settle_once(first, WANG_FANG, "1000.00")
    summary = clearing(db, "run", "--month", "2026-05", "--out", str(tmp_path))
    may = due(db, "2026-05")
    prepaid = owed(home) + owed(away)  # April's, the only closed month
    # a settlement and a cancellation, counted apart as the statements count them; the
    # total due is net of the prepayment
    assert "2026-05: settlements 1, cancellations 1, institutions 2, region pairs 0, due " \
        f"{yuan(owed(may_home) - prepaid - owed(late))} yuan" in summary
    assert statement_counts(tmp_path / "summary-2026-05.csv") == {
        "H11010500001": (1, 0), "H11010500002": (0, 1)}
    assert may["H11010500001"] == (owed(may_home), prepaid, owed(may_home) - prepaid)
    assert may["H11010500002"] == (-owed(late), 0, -owed(late))  # the late cancellation
    assert due(db, "2026-04") == april  # a closed month is never rewritten

    refused = CliRunner().invoke(cli, ["clearing", "run", "--month", "2026-04", "--db", db.url])
    assert refused.exit_code == 1 and "E-CLR-001" in refused.output
    statement = (tmp_path / "statement-2026-05-H11010500001.csv").read_text(encoding="utf-8")
    assert f"{(owed(may_home) - prepaid) / 100:.2f}" in statement
    assert (tmp_path / "summary-2026-05.html").read_text(encoding="utf-8").count("<tr>") >= 3

    clearing(db, "close", "--month", "2026-05")
    with db.read() as conn:
        balances = ledger.balances(conn)
    for account in ("payable:H11010500001", "payable:H11010500002", "prepaid:H11010500001",
                    "interregional:130102:110000", "receivable:110000:130102"):
        assert balances[account] == 0, account
    assert balances["cash:130102"] == -owed(away)  # Hebei paid Beijing in full


def test_a_month_must_be_valid_and_run_before_it_closes(db):
    for args, code in ((["run", "--month", "2026-13"], "E-CLR-002"),
                       (["close", "--month", "2026-06"], "E-CLR-002")):
        result = CliRunner().invoke(cli, ["clearing", *args, "--db", db.url])
        assert result.exit_code == 1 and code in result.output


def test_spark_clears_a_month_exactly_as_duckdb(tmp_path: Path):
    pytest.importorskip("pyspark", reason="the optional extra yibao[spark] is not installed")
    generate_month(tmp_path, 5_000)
    duck = run_duckdb(tmp_path)
    spark = run_spark(tmp_path)
    assert spark == duck
    assert len(duck["institutions"]) == 2_000 and duck["regions"]


def test_two_runs_of_a_month_at_once_leave_one_consistent_result(db, his, clock):
    clock.now = datetime(2026, 4, 15, 10, 0)
    settle_once(his, WANG_FANG, "3000.00")
    settle_once(his, LI_JIANGUO, "800.00")

    def run_once() -> str:
        try:
            with db.write(snapshot=True) as conn:
                clearing_service.run(command_call(conn, clock, "op"), "2026-04")
            return "ran"
        except Refused as refusal:  # PostgreSQL: the other run came first
            return refusal.code

    outcomes = run_threads(run_once, [()] * 2)
    assert "ran" in outcomes and set(outcomes) <= {"ran", "E-CLR-004"}
    with db.read() as conn:
        runs = conn.execute(select(clearing_month.c.runs)).scalar_one()
        lines = conn.execute(select(func.sum(clearing_line.c.net))).scalar_one()
        due = conn.execute(select(func.sum(clearing_institution.c.due))).scalar_one()
    assert runs == outcomes.count("ran") and lines == due > 0


def test_a_month_prepaid_after_its_last_run_must_be_run_again_before_closing(db, http, his,
                                                                           clock):
    clock.now = datetime(2026, 4, 15, 10, 0)
    settle_once(his, WANG_FANG, "3000.00")
    clearing(db, "run", "--month", "2026-04")
    clearing(db, "close", "--month", "2026-04")
    http.put("/admin/v1/institutions/H11010500001/prepay", json={"enabled": True},
             headers=ADMIN)
    clearing(db, "run", "--month", "2026-05")
    clearing(db, "prepay", "--month", "2026-05")
    stale = CliRunner().invoke(cli, ["clearing", "close", "--month", "2026-05", "--db", db.url])
    assert stale.exit_code == 1 and "run it again" in stale.output
    clearing(db, "run", "--month", "2026-05")
    clearing(db, "close", "--month", "2026-05")
    with db.read() as conn:
        assert ledger.balances(conn)["prepaid:H11010500001"] == 0
