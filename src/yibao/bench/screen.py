"""`yibao bench screen`: the rule library over a large synthetic month.

A month shaped like a large city (analytics/synthetic_screening.py: ~50 million fee
lines for the real run) is written straight to Parquet in the supervision extract's
tables, unless the directory holds it already. Then, in a fresh process (so that its
peak memory is the screening's alone): the baseline, one plain scan of the fee lines
(``SELECT COUNT(*), SUM(amount) FROM fee_lines``: what reading the month costs at least),
and every library rule whose SQL exists, each timed on its own through
``screening.run_duckdb`` (clues fetched and grouped as the service does), and the total.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass, field
from pathlib import Path

from yibao.analytics import screening
from yibao.analytics.synthetic_screening import Shape, generate
from yibao.bench.progress import Report, phase, silent
from yibao.domain.supervision import Rule, library

BASELINE = "SELECT COUNT(*), SUM(amount) FROM read_parquet('{dir}/fee_lines.parquet')"


@dataclass(frozen=True, slots=True)
class RuleTime:
    rule_id: str
    seconds: float
    clues: int
    cpu_seconds: float  # the screening process's (DuckDB's threads included)


@dataclass(frozen=True, slots=True)
class Result:
    lines: int
    generate_seconds: float | None
    baseline_seconds: float
    baseline_cpu_seconds: float
    rules: tuple[RuleTime, ...]
    missing: tuple[str, ...]  # library rules without SQL (not run)
    rss_peak_mib: float  # the screening process's peak resident memory
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(r.seconds for r in self.rules)

    @property
    def total_cpu_seconds(self) -> float:
        return sum(r.cpu_seconds for r in self.rules)

    @property
    def rows_per_second(self) -> float:
        return self.lines / self.total_seconds if self.rules else 0.0


def has_sql(rule: Rule) -> bool:
    from importlib import resources

    return (resources.files("yibao") / "analytics" / "supervision" / f"{rule.id}.sql"
            ).is_file()


def run(directory: Path, lines: int, month: str = "2026-05", *,
        settings: dict[str, str] | None = None, report: Report = silent) -> Result:
    """Generate the month into ``directory`` unless it is there, then screen it."""
    settings = dict(settings or {})
    generated = None
    if not (directory / "fee_lines.parquet").exists():
        shape = Shape.of(lines)
        started = time.perf_counter()
        with phase(report, f"generating {shape.lines:,} fee lines, {shape.visits:,} visits, "
                   f"{shape.persons:,} persons, {shape.institutions:,} institutions in "
                   f"{directory}"):
            generate(directory, lines, month, memory_limit=settings.get("memory_limit", ""))
        generated = time.perf_counter() - started
    rules = tuple(r for r in library() if has_sql(r))
    missing = tuple(r.id for r in library() if not has_sql(r))
    if missing:
        report(f"no SQL yet for {', '.join(missing)}: not run")
    with phase(report, "screening in a fresh process: the baseline scan, then each rule"
               ), multiprocessing.get_context("spawn").Pool(1) as pool:
        count, baseline, times, peak = pool.apply(
            _screen, (directory, [r.id for r in rules], month, settings, report))
    return Result(count, generated, baseline.seconds, baseline.cpu_seconds, tuple(times),
                  missing, peak, settings)


def _screen(directory: Path, rule_ids: list[str], month: str, settings: dict[str, str],
            report: Report) -> tuple[int, RuleTime, list[RuleTime], float]:
    """The baseline and each rule, timed; ``report`` (a module-level function: it
    crosses to the fresh process by name) hears of each as it ends."""
    import duckdb

    from yibao.domain.supervision import rule

    settings = {"enable_progress_bar": "false"} | settings  # a log, not a terminal
    con = duckdb.connect()
    for name, value in settings.items():
        con.execute(f"SET {name} = '{value}'")
    started, cpu = time.perf_counter(), time.process_time()
    [(count, _)] = con.execute(BASELINE.format(dir=directory)).fetchall()
    baseline = RuleTime("baseline", time.perf_counter() - started, 0,
                        time.process_time() - cpu)
    con.close()
    report(f"baseline scan of {count:,} fee lines: {baseline.seconds:.2f} s "
           f"({baseline.cpu_seconds:.2f} s CPU)")
    times = []
    for rule_id in rule_ids:
        started, cpu = time.perf_counter(), time.process_time()
        found = screening.run_duckdb(directory, [rule(rule_id)], month, settings=settings)
        times.append(RuleTime(rule_id, time.perf_counter() - started, len(found),
                              time.process_time() - cpu))
        report(f"{rule_id}: {times[-1].seconds:.2f} s ({times[-1].cpu_seconds:.2f} s CPU), "
               f"{len(found):,} clues")
    return int(count), baseline, times, _rss_peak_mib()


def _rss_peak_mib() -> float:
    """This process's peak resident memory (VmHWM: ``ru_maxrss`` would carry the
    parent's over through fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def markdown(result: Result) -> str:
    """The per-rule table and the totals, as printed and as docs/supervision.md shows."""
    rows = ["| rule | seconds | CPU seconds | clues | fee lines/s |",
            "|---|---:|---:|---:|---:|"]
    for r in result.rules:
        rows.append(f"| {r.rule_id} | {r.seconds:.2f} | {r.cpu_seconds:.2f} | {r.clues:,} | "
                    f"{result.lines / r.seconds:,.0f} |")
    rows.append(f"| all {len(result.rules)} rules | {result.total_seconds:.2f} | "
                f"{result.total_cpu_seconds:.2f} | {sum(r.clues for r in result.rules):,} | "
                f"{result.rows_per_second:,.0f} |")
    rows.append(f"| baseline scan | {result.baseline_seconds:.2f} | "
                f"{result.baseline_cpu_seconds:.2f} | | "
                f"{result.lines / result.baseline_seconds:,.0f} |")
    lines = ["\n".join(rows), ""]
    ratio = (result.total_seconds / result.baseline_seconds if result.baseline_seconds
             else 0.0)
    lines.append(f"{result.lines:,} fee lines; all rules {result.total_seconds:.2f} s = "
                 f"{ratio:,.1f} x the baseline scan ({result.baseline_seconds:.2f} s); "
                 f"peak memory of the screening process {result.rss_peak_mib:,.0f} MiB")
    if result.generate_seconds is not None:
        lines.append(f"generated in {result.generate_seconds:.1f} s")
    if result.settings:
        lines.append("DuckDB settings: " + ", ".join(f"{k} = {v}"
                                                     for k, v in result.settings.items()))
    if result.missing:
        lines.append(f"not run (no SQL): {', '.join(result.missing)}")
    return "\n".join(lines)
