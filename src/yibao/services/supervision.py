"""Fund supervision's screening (issue 20): a month's extract run through the rule
library's SQL, the findings recorded as clues (docs/supervision.md).

``screen`` extracts the month (with its look-back) into a scratch directory, runs the
chosen rules on DuckDB or Spark, and records the run and the clues that are new: the same
finding found again (a month screened twice, two screenings at once) is one clue. The
case workflow that follows a clue is another module's.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, RowMapping

from yibao.analytics import screening
from yibao.analytics.engines import unavailable
from yibao.analytics.extract import month_bounds
from yibao.analytics.supervision_extract import LOOKBACK_DAYS, extract_for_screening
from yibao.domain import supervision as library
from yibao.domain.errors import Refused
from yibao.domain.states import SUPERVISION_ENGINES
from yibao.services import audit
from yibao.services.context import Call
from yibao.store import clues
from yibao.store.clues import Found

WINDOW_PARAMS = ("days", "within_days")  # parameters that reach back before the month
RULES_ASKED_MAX = 50


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One screening: its id, month and engine, the rules run, the fee lines and
    settlement rows screened (the month and its look-back), the clues found per rule
    (new or known), how many of them were new, the amount at risk of the new ones (fen),
    when it started and finished."""

    run_id: str
    month: str
    engine: str
    rules: tuple[str, ...]
    lines: int
    settlements: int
    found: Mapping[str, int]
    new: int
    new_amount_at_risk: int
    started_at: datetime
    finished_at: datetime


def check_month(month: str) -> str:
    """A month as YYYY-MM (E-SUP-001 otherwise)."""
    try:
        month_bounds(month)
    except Refused as refusal:
        raise Refused("E-SUP-001", refusal.detail) from None
    return month


def check_engine(engine: str) -> str:
    """A screening engine that runs here (E-SUP-002 unknown, E-SUP-005 not installed)."""
    if engine not in SUPERVISION_ENGINES:
        raise Refused("E-SUP-002", f"engine {engine[:20]!r}: one of "
                      f"{', '.join(SUPERVISION_ENGINES)}")
    lacking = unavailable(engine)
    if lacking is not None:
        raise Refused("E-SUP-005", lacking)
    return engine


def runnable(asked: Sequence[str] | None = None) -> tuple[library.Rule, ...]:
    """The rules a run runs: those asked for (E-SUP-003 for an id the library lacks;
    E-SUP-004 for one without SQL), else every month rule (each must have its SQL) and
    every visit rule whose SQL exists."""
    if asked is not None:
        if not asked or len(asked) > RULES_ASKED_MAX:
            raise Refused("E-SUP-003", f"name 1..{RULES_ASKED_MAX} rules, or none for all")
        chosen = []
        for rule_id in dict.fromkeys(asked):
            try:
                chosen.append(library.rule(rule_id))
            except KeyError:
                raise Refused("E-SUP-003", f"rule {rule_id[:12]!r}") from None
    else:
        chosen = [r for r in library.library()
                  if r.scope is library.Scope.MONTH or screening.has_sql(r)]
    missing = [r.id for r in chosen if not screening.has_sql(r)]
    if missing:
        raise Refused("E-SUP-004", f"no analytics/supervision/{missing[0]}.sql"
                      + (f" (nor for {', '.join(missing[1:])})" if missing[1:] else ""))
    for rule in chosen:
        _check_window(rule)
    return tuple(sorted(chosen, key=lambda r: r.id))


def _check_window(rule: library.Rule) -> None:
    """A rule may not look back further than the extract does: a library error."""
    for name in WINDOW_PARAMS:
        value = rule.params.get(name)
        if value is not None and not 0 < value <= LOOKBACK_DAYS:
            raise library.LibraryError(f"rule {rule.id}: {name} must be 1..{LOOKBACK_DAYS}")


def screen(call: Call, month: str, engine: str = "duckdb",
           rules: Sequence[str] | None = None) -> RunSummary:
    """Screen ``month`` with ``rules`` (all by default) on ``engine``; record the run and
    its new clues. A bad month, engine or rule is refused before anything is read."""
    check_month(month)
    check_engine(engine)
    chosen = runnable(rules)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="yibao-screen-") as scratch:
        directory = Path(scratch)
        extracted = extract_for_screening(call.conn, month, directory)
        runner = screening.run_spark if engine == "spark" else screening.run_duckdb
        found = runner(directory, chosen, month)
    finished_at = call.now + timedelta(seconds=round(time.monotonic() - started, 3))
    return _record(call, month, engine, chosen, extracted.fee_lines, extracted.settlements,
                   found, finished_at)


def _record(call: Call, month: str, engine: str, chosen: Sequence[library.Rule], lines: int,
            settlements: int, found: list[Found], finished_at: datetime) -> RunSummary:
    run_id = call.ids.new("SR")
    ids = [r.id for r in chosen]
    new = clues.record_run(
        call.conn, run_id=run_id, month=month, engine=engine, rules=ids, lines=lines,
        operator=call.actor.name, started_at=call.now, finished_at=finished_at,
        found=found, new_id=lambda: call.ids.new("CL"))
    counted = Counter(f.rule_id for f in found)
    audit.action(call, "supervision.screen", month, run_id=run_id, engine=engine,
                 rules=",".join(ids), clues=new)
    return RunSummary(
        run_id=run_id, month=month, engine=engine, rules=tuple(ids), lines=lines,
        settlements=settlements, found={rule_id: counted.get(rule_id, 0) for rule_id in ids},
        new=new, new_amount_at_risk=clues.amount_of_run(call.conn, run_id),
        started_at=call.now, finished_at=finished_at)


# ---------------------------------------------------------------- reading


def runs(conn: Connection, *, month: str | None = None) -> list[RowMapping]:
    if month is not None:
        check_month(month)
    return clues.runs(conn, month=month)


def listed(conn: Connection, *, status: str | None = None, rule_id: str | None = None,
           fixmedins_code: str | None = None, month: str | None = None) -> list[RowMapping]:
    """Clues, the largest amount at risk first (at most ``clues.CLUES_SHOWN_MAX``)."""
    if month is not None:
        check_month(month)
    return clues.listed(conn, status=status, rule_id=rule_id, fixmedins_code=fixmedins_code,
                        month=month)


def clue(conn: Connection, clue_id: str) -> dict[str, Any]:
    """A clue with its evidence rows (E-SUP-006 when there is none)."""
    row = clues.get(conn, clue_id)
    if row is None:
        raise Refused("E-SUP-006", f"clue_id {clue_id[:30]}")
    return {**row, "evidence": clues.evidence(row)}
