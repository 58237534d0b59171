"""The clearing benchmark: a synthetic month (generated straight to Parquet) cleared by
the DuckDB path, against a baseline in the same process: one plain scan of the same
files summing every amount (what reading the month costs at least). With a PostgreSQL
store (``--store``, a scratch database: it is filled), the month is loaded into its
tables and the extract from the store is measured too."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from yibao.analytics.engines import run_duckdb
from yibao.analytics.synthetic import generate_month
from yibao.bench.progress import Report, phase, silent

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


def run(directory: Path, settlements: int, report: Report = silent) -> Result:
    """Generate the month into ``directory`` unless it is there, scan it (the baseline),
    clear it; ``report`` hears of each phase."""
    generated = None
    if not (directory / "settlements.parquet").exists():
        started = time.perf_counter()
        with phase(report, f"generating {settlements:,} settlements in {directory}"):
            generate_month(directory, settlements)
        generated = time.perf_counter() - started
    started = time.perf_counter()
    with phase(report, "baseline: one scan of the month"):
        count = run_duckdb(directory, BASELINE)["scan"][0][0]
    baseline = time.perf_counter() - started
    started = time.perf_counter()
    with phase(report, f"clearing {count:,} settlements with DuckDB"):
        results = run_duckdb(directory)
    clearing = time.perf_counter() - started
    return Result(count, generated, clearing, baseline, len(results["institutions"]))


STORE_COLUMNS = (
    "setl_id, psn_no, mdtrt_id, fixmedins_code, kind, insutype, psn_type, med_type, seq, "
    "setl_time, year, policy_id, clr_type, msgid, pool_prop_selfpay, mdtrt_cert_type, "
    "insuplc_admdvs, mdtrtarea_admvs, medfee_sumamt, fund_pay_sumamt, acct_pay, psn_cash_pay")
STORE_SELECT = """
COPY (SELECT setl_id, 'B0000000000001' AS psn_no, 'B0000000000001' AS mdtrt_id,
             fixmedins_code, kind, insutype, '1101' AS psn_type, '11' AS med_type, 1 AS seq,
             TIMESTAMP '{month}-10 10:00:00' AS setl_time, {year} AS year,
             'bench' AS policy_id, clr_type, 'bench' AS msgid, '0' AS pool_prop_selfpay,
             '02' AS mdtrt_cert_type, insuplc_admdvs, mdtrtarea_admvs, medfee_sumamt,
             fund_pay_sumamt, acct_pay, psn_cash_pay
      FROM read_parquet('{source}/settlements.parquet')) TO '{target}' (HEADER false)
"""
FUNDS_SELECT = """
COPY (SELECT setl_id, 0 AS seq, 'B0000000000001' AS psn_no, fund_pay_type, fund_payamt
      FROM read_parquet('{source}/funds.parquet')) TO '{target}' (HEADER false)
"""


@dataclass(frozen=True, slots=True)
class StoreResult:
    settlements: int
    load_seconds: float
    extract_seconds: float
    clearing_seconds: float


def run_store(url: str, directory: Path, month: str = "2026-05",
              report: Report = silent) -> StoreResult:
    """Load the synthetic month into a scratch PostgreSQL store (COPY, foreign-key
    triggers off for the session), then extract and clear it as ``clearing run`` does;
    ``report`` hears of each phase."""
    import tempfile

    import duckdb
    import psycopg

    from yibao.analytics.extract import extract_month
    from yibao.store.db import Database

    database = Database(url)
    database.migrate()
    with tempfile.TemporaryDirectory() as scratch:
        rows, funds = Path(scratch) / "s.csv", Path(scratch) / "f.csv"
        with phase(report, "writing the month as CSV for COPY"):
            duckdb.sql(STORE_SELECT.format(month=month, year=month[:4], source=directory,
                                           target=rows))
            duckdb.sql(FUNDS_SELECT.format(source=directory, target=funds))
        report("loading the month into the store ...")
        started = time.perf_counter()
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as pg:
            pg.execute("SET session_replication_role = replica")
            for table, columns, path in (
                    ("settlement", STORE_COLUMNS, rows),
                    ("settlement_fund", "setl_id, seq, psn_no, fund_pay_type, fund_payamt",
                     funds)):
                with pg.cursor().copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)"
                                      ) as copy, path.open("rb") as source:
                    while chunk := source.read(1 << 20):
                        copy.write(chunk)
            pg.execute("ANALYZE settlement")
        loaded = time.perf_counter() - started
        with database.read() as conn, phase(report, "extracting the month from the store"):
            started = time.perf_counter()
            count = extract_month(conn, month, Path(scratch) / "month")
            extracted = time.perf_counter() - started
        report("clearing the extract ...")
        started = time.perf_counter()
        run_duckdb(Path(scratch) / "month")
        cleared = time.perf_counter() - started
    database.dispose()
    return StoreResult(count, loaded, extracted, cleared)
