"""The settlement benchmark runs end to end (a short version of `yibao bench settle`): every
phase gets answers without errors, and each party's CPU time per call is measured. The
ledger benchmark fills a database whose ledger verifies, and measures verify."""

from __future__ import annotations

from pathlib import Path

from yibao.bench import flood, ledger, settle
from yibao.bench.server import free_port
from yibao.store.db import Database


def test_bench_settle_runs_every_phase_and_meters_cpu(tmp_path: Path) -> None:
    opts = settle.Options(str(tmp_path / "bench.db"), seconds=1.0, clients=2, processes=1,
                          workers=1, persons=300, port=free_port())
    result = settle.run(opts, report=lambda *_: None)

    phases = result["phases"]
    assert phases["flows"]["flows_per_s"] > 0
    for name in ("flows", "settle_max", "settle_80"):
        assert phases[name]["errors"] == {}, name
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
