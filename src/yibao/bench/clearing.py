"""The clearing benchmark: a synthetic month (generated straight to Parquet) cleared by
the DuckDB path, against a baseline in the same process: one plain scan of the same
files summing every amount (what reading the month costs at least)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from yibao.analytics.engines import run_duckdb
from yibao.analytics.synthetic import generate_month

BASELINE = {"scan": "SELECT COUNT(*), SUM(medfee_sumamt), SUM(fund_pay_sumamt), "
                    "SUM(acct_pay) FROM settlements"}


@dataclass(frozen=True, slots=True)
class Result:
    settlements: int
    generate_seconds: float | None
    clearing_seconds: float
    baseline_seconds: float
    institutions: int

    @property
    def rows_per_second(self) -> float:
        return self.settlements / self.clearing_seconds


def run(directory: Path, settlements: int) -> Result:
    generated = None
    if not (directory / "settlements.parquet").exists():
        started = time.perf_counter()
        generate_month(directory, settlements)
        generated = time.perf_counter() - started
    started = time.perf_counter()
    count = run_duckdb(directory, BASELINE)["scan"][0][0]
    baseline = time.perf_counter() - started
    started = time.perf_counter()
    results = run_duckdb(directory)
    clearing = time.perf_counter() - started
    return Result(count, generated, clearing, baseline, len(results["institutions"]))
