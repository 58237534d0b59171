"""`yibao bench ledger`: how long ``ledger verify`` takes and how much memory it needs.

The database is filled (if it holds no settlement) with the clearing benchmark's
synthetic month (analytics/synthetic.py: 2 % cancellations, 2.5 % care away from home,
one fund line per settlement), each settlement with its fund line, its personal-account
entry and the posting ``services/ledger`` writes for it, so that verify finds nothing.
Verify then runs in a fresh process, whose peak resident memory is reported next to
the same process's memory before verify; the baseline is one aggregate scan of the
three tables verify reads (what reading them costs the database at least).
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from yibao.analytics.synthetic import generate_month
from yibao.bench.progress import Report, phase, silent
from yibao.bench.world import write_batch
from yibao.domain.states import SettlementKind
from yibao.domain.visit_states import VisitStatus
from yibao.services import ledger
from yibao.store.db import Database
from yibao.store.schema import (
    account_entry,
    ledger_entry,
    person,
    settlement,
    settlement_fund,
    visit,
)

BATCH_SETTLEMENTS = 20_000
REGIONS = ("110000", "130102")  # the synthetic month's insured places
SETTLED_AT = datetime(2026, 5, 10, 10, 0)
MONTH_ROWS = """
SELECT s.setl_id, s.kind, s.fixmedins_code, s.insutype, s.clr_type, s.insuplc_admdvs,
       s.mdtrtarea_admvs, s.medfee_sumamt, s.fund_pay_sumamt, s.acct_pay, s.psn_cash_pay,
       f.fund_pay_type, f.fund_payamt
FROM read_parquet('{directory}/settlements.parquet') s
LEFT JOIN read_parquet('{directory}/funds.parquet') f USING (setl_id)
ORDER BY s.setl_id
"""
COLUMNS = ("setl_id", "kind", "fixmedins_code", "insutype", "clr_type", "insuplc_admdvs",
           "mdtrtarea_admvs", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay")


@dataclass(frozen=True, slots=True)
class Measured:
    settlements: int
    entries: int
    problems: int
    verify_seconds: float
    verify_cpu_seconds: float  # this process's: on SQLite the database's work too
    baseline_seconds: float
    rss_before_mib: float
    rss_peak_mib: float


def fill(db: Database, settlements: int, report: Report = silent) -> int:
    """The synthetic month's settlements with their postings, unless the database holds
    settlements already; returns how many were written. ``report`` hears of each batch."""
    db.migrate()
    with db.read() as conn:
        if conn.execute(select(func.count()).select_from(settlement)).scalar_one():
            return 0
    _holders(db)
    import duckdb

    written = 0
    with tempfile.TemporaryDirectory() as scratch:
        with phase(report, f"generating {settlements:,} settlements"):
            generate_month(Path(scratch), settlements)
        cursor = duckdb.connect().execute(MONTH_ROWS.format(directory=scratch))
        while batch := cursor.fetchmany(BATCH_SETTLEMENTS):
            for table, rows in zip((settlement, settlement_fund, account_entry, ledger_entry),
                                   _tables(batch), strict=True):
                if rows:
                    write_batch(db, table, rows)
            written += len(batch)
            report(f"written {written:,} settlements with their postings")
    return written


def measure(url: str) -> Measured:
    """Verify in a fresh process (so that its peak memory is verify's alone)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_measure_here, (url,))


def _holders(db: Database) -> None:
    """A person and a visit per insured place, for the settlements' foreign keys."""
    with db.write() as conn:
        for region in REGIONS:
            conn.execute(person.insert().values(
                psn_no=_holder(region), psn_cert_type="01", certno=_holder(region),
                name="合成", gend="1", naty="01", brdy=date(1980, 1, 1),
                insuplc_admdvs=region))
            conn.execute(visit.insert().values(
                mdtrt_id=_holder(region), psn_no=_holder(region), fixmedins_code="B",
                insutype="310", med_type="11", visit_class="outpatient", status=VisitStatus.OPEN,
                begntime=SETTLED_AT, ipt_otp_no="B", mdtrt_cert_type="02",
                insuplc_admdvs=region, mdtrtarea_admvs=REGIONS[0], msgid="bench"))


def _holder(region: str) -> str:
    return f"B{region}"


def _tables(batch: list[tuple[Any, ...]]) -> tuple[list[dict[str, Any]], ...]:
    """The batch's settlement, fund, personal-account and ledger rows."""
    rows, funds, accounts, postings = [], [], [], []
    for values in batch:
        row = _settlement(values[:len(COLUMNS)])
        fund_pay_type, fund_payamt = values[len(COLUMNS):]
        fund = ([dict(setl_id=row["setl_id"], seq=0, psn_no=row["psn_no"],
                      fund_pay_type=fund_pay_type, fund_payamt=fund_payamt)]
                if fund_pay_type is not None else [])
        rows.append(row)
        funds += fund
        if row["acct_pay"]:
            accounts.append(dict(setl_id=row["setl_id"], psn_no=row["psn_no"],
                                 amount=-row["acct_pay"], balance_after=0,
                                 created_at=SETTLED_AT))
        postings += ledger.settlement_posting(row, fund)
    return rows, funds, accounts, postings


def _settlement(values: tuple[Any, ...]) -> dict[str, Any]:
    row = dict(zip(COLUMNS, values, strict=True))
    holder = _holder(row["insuplc_admdvs"])
    cancels = row["kind"] == SettlementKind.CANCEL
    # what the database checks (schema.CHECKS): the parts add up (the fund's part in one
    # fund field), and a cancellation names the row it reverses (of an earlier month,
    # not generated)
    return row | dict(psn_no=holder, mdtrt_id=holder, psn_type="1101", med_type="11", seq=1,
                      setl_time=SETTLED_AT, year=SETTLED_AT.year, policy_id="bench",
                      msgid="bench", pool_prop_selfpay="0", mdtrt_cert_type="02",
                      hifp_pay=row["fund_pay_sumamt"],
                      psn_part_amt=row["acct_pay"] + row["psn_cash_pay"],
                      reverses=f"E{row['setl_id']}" if cancels else None)


def _measure_here(url: str) -> Measured:
    db = Database(url)
    with db.read() as conn:
        started = time.perf_counter()
        counts = [conn.execute(select(func.count(), func.sum(amount))).one()[0]
                  for amount in (settlement.c.acct_pay, settlement_fund.c.fund_payamt,
                                 ledger_entry.c.amount)]
        baseline = time.perf_counter() - started
    before = _rss_mib()
    with db.read() as conn:
        started, cpu = time.perf_counter(), time.process_time()
        problems = ledger.verify(conn)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    db.dispose()
    return Measured(counts[0], counts[2], len(problems), seconds, cpu, baseline, before,
                    _rss_mib())


def _rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ``ru_maxrss``, which Linux
    carries over from the parent through fork and exec, it starts anew with the process's
    own image)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/self/status")
