"""The capacity model's arithmetic (src/yibao/bench/capacity.py) on examples computed by
hand, and the reading of a `bench scale` and a `bench settle` result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yibao.bench import capacity
from yibao.bench.capacity import Assumptions, Costs, Measured, Region
from yibao.cli import app


def test_a_city_at_ten_settlements_a_second_on_average() -> None:
    # 864 000 a day = 10/s on average, 60/s at a 6x peak; per settlement the API spends
    # 4 ms + 2 extra messages x 0.5 ms = 5 ms, the pooler 1 ms, the database 2 ms (the
    # extra messages cost them nothing here)
    measured = Measured(Costs(4.0, 1.0, 2.0), Costs(0.5, 0.0, 0.0), None, "hand")
    assume = Assumptions(peak_factor=6.0, utilisation=0.5, extra_messages=2.0,
                         pooler_cores=1, database_cores=8)
    need = capacity.need(Region("R", 864_000, "stated"), measured, assume)
    assert need.peak_per_s == pytest.approx(60.0)
    assert need.per_settlement == Costs(5.0, 1.0, 2.0)
    # cores = 60/s x ms / 1000 / 0.5
    assert need.cores.api == pytest.approx(0.6)
    assert need.cores.pooler == pytest.approx(0.12)
    assert need.cores.database == pytest.approx(0.24)
    assert (need.poolers, need.database_servers) == (1, 1)
    # one pgbouncer: 1 core x 0.5 x 1000 / 1 ms = 500/s; one database server:
    # 8 x 0.5 x 1000 / 2 ms = 2 000/s: the pooler is full first
    assert (need.first, need.first_at_per_s) == ("pooler", pytest.approx(500.0))


def test_the_national_platform_uses_the_measured_flow() -> None:
    # 28 M a day: 324.07/s on average, 1 944.44/s at 6x; the flow (not the 2207 alone)
    # per settlement: API 20 + 2 x 0.5 = 21 ms, pooler 2 + 2 x 0.5 = 3 ms, database
    # 9 + 2 x 0.5 = 10 ms
    measured = Measured(Costs(4.0, 1.0, 2.0), Costs(0.5, 0.5, 0.5), Costs(20.0, 2.0, 9.0),
                        "hand")
    assume = Assumptions(peak_factor=6.0, utilisation=0.6, extra_messages=2.0,
                         database_cores=16)
    national = capacity.REGIONS[2]
    need = capacity.need(national, measured, assume)
    assert national.settlements_per_day / 86_400 == pytest.approx(324.07, abs=0.01)
    assert need.peak_per_s == pytest.approx(1944.44, abs=0.01)
    assert need.per_settlement == Costs(21.0, 3.0, 10.0)
    assert need.cores.api == pytest.approx(1944.444 * 21 / 600, rel=1e-5)  # 68.06
    assert need.cores.pooler == pytest.approx(9.722, abs=0.001)  # 10 pgbouncer processes
    assert need.cores.database == pytest.approx(32.407, abs=0.001)  # 3 servers of 16 cores
    assert (need.poolers, need.database_servers) == (10, 3)
    # one pgbouncer carries 600 / 3 = 200/s; one database server 16 x 600 / 10 = 960/s
    assert (need.first, need.first_at_per_s) == ("pooler", pytest.approx(200.0))


def test_without_a_pooler_the_database_saturates_first() -> None:
    measured = Measured(Costs(5.0, 0.0, 2.0), Costs(1.0, 0.0, 0.0), None, "settle")
    need = capacity.need(Region("R", 86_400, "1/s"), measured, Assumptions())
    assert need.cores.pooler == 0 and need.poolers == 1
    # 64 cores x 0.6 x 1000 / 2 ms
    assert (need.first, need.first_at_per_s) == ("database", pytest.approx(19_200.0))
    assert need.cores.api == pytest.approx(6.0 * 7.0 / 600)  # 6/s x (5 + 2 x 1) ms / 600


def test_cores_and_ceiling_are_inverse() -> None:
    assert capacity.cores(1000.0, 3.0, 0.75) == pytest.approx(4.0)
    assert capacity.ceiling(4, 3.0, 0.75) == pytest.approx(1000.0)
    assert capacity.ceiling(4, 0.0, 0.75) == float("inf")


def flows_phase() -> dict:
    # 5 calls per completed flow (10 flows/s, 50 calls/s)
    return {"flows_per_s": 10.0,
            "calls_per_s": {infno: 10.0 for infno in ("1101", "2201", "2204", "2206", "2207")},
            "cpu_ms_per_call": {"server": 3.0, "database": 2.0, "pooler": 0.5,
                                "clients": 0.1}}


def test_a_scale_result_gives_the_pooled_rows_mean_and_the_flow(tmp_path: Path) -> None:
    result = {
        "rows": [
            {"setup": "direct", "cpu_ms_per_2207": {"server": 100.0, "database": 100.0}},
            {"setup": "pgbouncer", "cpu_ms_per_2207": {"server": 4.0, "pooler": 1.0,
                                                       "database": 2.0, "clients": 9.0}},
            {"setup": "pgbouncer", "cpu_ms_per_2207": {"server": 6.0, "pooler": 1.0,
                                                       "database": 4.0, "clients": 9.0}}],
        "floor": {"cpu_ms_per_call": {"server": 0.8, "database": 0.1}},
        "flows": flows_phase()}
    path = tmp_path / "scale.json"
    path.write_text(json.dumps(result))
    measured = capacity.load(path)
    assert measured.settle == Costs(5.0, 1.0, 3.0)
    assert measured.message == Costs(0.8, 0.0, 0.1)
    assert measured.flow == Costs(15.0, 2.5, 10.0)
    assert "2 pooled rows" in measured.source
    table = capacity.markdown(measured, Assumptions(), capacity.model(measured,
                                                                      Assumptions()))
    assert "| national platform | 28,000,000 | 1,944 |" in table

    # the command: the same table, its assumptions changed on the command line (a 3x
    # peak: 972/s nationally)
    out = CliRunner().invoke(app, ["bench", "capacity", "--from", str(path),
                                   "--peak-factor", "3"])
    assert out.exit_code == 0, out.output
    assert "| national platform | 28,000,000 | 972 |" in out.output
    assert "peak 3× the day's average" in out.output


def test_a_settle_result_has_no_pooler() -> None:
    result = {"phases": {
        "floor": {"cpu_ms_per_call": {"server": 0.3}},
        "flows": flows_phase(),
        "settle_max": {"cpu_ms_per_call": {"server": 2.5, "database": 1.2, "clients": 0.1}}}}
    measured = capacity.measured_from(result, "settle.json")
    assert measured.settle == Costs(2.5, 0.0, 1.2)
    assert measured.message == Costs(0.3, 0.0, 0.0)
    assert measured.flow == Costs(15.0, 2.5, 10.0)  # the flows phase: 5 calls per flow
    assert "no pooler" in measured.source
