"""The settlement benchmark runs end to end (a short version of `yibao bench settle`): every
phase gets answers without errors, and each party's CPU time per call is measured. The
ledger benchmark fills a database whose ledger verifies, and measures verify. The online
benchmark (a short `yibao bench online`, with the simulator and a server as processes)
counts only orders that are settled in the database. The scaling benchmark runs at a tiny
size behind a real pgbouncer (PostgreSQL only)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from yibao.bench import flood, ledger, online, pooler, scale, settle
from yibao.bench.server import free_port
from yibao.services import ledger as fund_ledger
from yibao.store.db import Database
from yibao.store.schema import online_order
from yibao.store.schema import settlement as settlement_table


def test_bench_settle_runs_every_phase_and_meters_cpu(tmp_path: Path) -> None:
    opts = settle.Options(str(tmp_path / "bench.db"), seconds=1.0, clients=2, processes=1,
                          workers=1, persons=300, port=free_port())
    result = settle.run(opts, report=lambda *_: None)

    phases = result["phases"]
    assert phases["flows"]["flows_per_s"] > 0
    for name in ("flows", "settle_max", "settle_80"):
        assert phases[name]["errors"] == {}, (name, phases[name]["first_error"])
    assert phases["settle_max"]["calls_per_s"]["2207"] > 0
    assert result["baseline_tx_per_s"] > 0
    cpu = phases["settle_max"]["cpu_ms_per_call"]
    assert cpu["server"] > 0 and cpu["clients"] > 0
    assert cpu["database"] == 0  # SQLite works inside the server's processes
    table = settle.markdown(result)
    assert "| settle_max |" in table and "2207 settlements/s (max)" in table


def test_bench_ledger_fills_a_ledger_that_verifies_and_measures_verify(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "ledger.db"))
    assert ledger.fill(db, 300) == 300
    assert ledger.fill(db, 300) == 0  # filled already
    measured = ledger.measure(db.url)
    assert (measured.settlements, measured.problems) == (300, 0)
    assert measured.entries > 2 * measured.settlements
    assert measured.rss_peak_mib >= measured.rss_before_mib > 0


def test_bench_flood_measures_5206_alone_and_under_a_flood(tmp_path: Path) -> None:
    opts = flood.Options(str(tmp_path / "flood.db"), seconds=1.0, clients=1, flooders=1,
                         flood_bytes=8 * 1024 * 1024, port=free_port())
    result = flood.run(opts, report=lambda *_: None)
    for phase in ("alone", "flooded"):
        assert result[phase]["latency_ms"]["n"] > 1 and result[phase]["errors"] == {}, phase
    answers = result["flooded"]["flood_answers"]
    assert answers.get("413", 0) > 0 and set(answers) == {"413"}, answers
    assert result["ratio_p50"] is not None
    assert "| 5206 p99 ms |" in flood.markdown(result)


def test_bench_online_counts_only_orders_settled_in_the_database(db: Database) -> None:
    opts = online.Options(db.url, seconds=2.0, clients=1, persons=5, workers=1,
                          port=free_port())
    result = online.run(opts, report=lambda *_: None)

    orders, window = result["online"], result["window"]
    assert orders["count"] > 0 and window["count"] > 0
    assert (orders["errors"], window["errors"]) == ({}, {}), (
        orders["first_error"], window["first_error"])  # the first refusal of each step
    for step in online.STEPS:  # every counted order went through every step
        assert orders["latency_ms"][step]["n"] >= orders["count"], step
    assert orders["latency_ms"]["order"]["n"] == orders["count"]
    assert window["latency_ms"]["flow"]["n"] == window["count"]
    assert result["ratio"] == round(orders["per_s"] / window["per_s"], 3)
    with db.read() as conn:
        rows = conn.execute(select(
            online_order.c.status, online_order.c.setl_id, online_order.c.cash_pay,
            online_order.c.cash_paid).where(online_order.c.pay_ord_id.in_(orders["done"]))
        ).all()
        settled = {r.setl_id for r in rows}
        written = set(conn.execute(select(settlement_table.c.setl_id).where(
            settlement_table.c.setl_id.in_(settled | set(window["done"])))).scalars())
        problems = list(fund_ledger.problems(conn))
    assert len(rows) == orders["count"] == len(set(orders["done"]))
    assert {r.status for r in rows} == {"settled"}
    assert all(r.cash_pay > 0 and r.cash_paid == r.cash_pay for r in rows)  # a cash part, paid
    assert written == settled | set(window["done"]) and None not in settled
    assert problems == []
    table = online.markdown(result)
    assert "| online orders/s end to end (settled) |" in table and "| settled |" in table


def test_bench_scale_measures_each_number_of_api_processes_behind_pgbouncer(
        db: Database) -> None:
    """A tiny `yibao bench scale` (two numbers of API processes behind a real pgbouncer,
    and one straight, with and without prepared statements): a row each, settlements in
    each, no errors, every party metered."""
    if db.is_sqlite:
        pytest.skip("bench scale runs PostgreSQL behind pgbouncer")
    if pooler.installed() is None:
        if os.environ.get("YIBAO_REQUIRE_PGBOUNCER") == "1":
            pytest.fail("pgbouncer is not installed and YIBAO_REQUIRE_PGBOUNCER=1")
        pytest.skip("pgbouncer is not installed")
    opts = scale.Options(db.url, processes=(1, 2), seconds=1.0, persons=200, clients=2,
                         client_processes=1)
    result = scale.run(opts, report=lambda *_: None)

    rows = result["rows"]
    assert [(r["setup"], r["processes"]) for r in rows] == [
        ("direct", 1), ("direct, unprepared", 1), ("pgbouncer", 1), ("pgbouncer", 2)]
    for row in rows:
        assert row["settlements"] > 0 and row["settle_per_s"] > 0, row
        assert row["errors"] == {}, row["first_error"]
        cpu = row["cpu_ms_per_2207"]
        assert cpu["server"] > 0 and cpu["database"] > 0 and cpu["clients"] > 0, cpu
        assert ("pooler" in cpu) is (row["setup"] == "pgbouncer"), cpu
    assert rows[2]["ratio_to_1"] == 1.0
    assert result["floor"]["cpu_ms_per_call"]["server"] > 0
    assert result["flows"]["flows_per_s"] > 0 and result["flows"]["errors"] == {}
    table = scale.markdown(result)
    assert "| pgbouncer | 2 |" in table and "| direct | 1 |" in table
