"""The settlement benchmark runs end to end (a short version of `yibao bench settle`): every
phase gets answers without errors, and each party's CPU time per call is measured."""

from __future__ import annotations

from pathlib import Path

from yibao.bench import settle
from yibao.bench.server import free_port


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
