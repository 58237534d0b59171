"""SV12's amount at risk is money computed in SQL: over generated months of settlements
it is, to the fen, what the institution was paid above its peers' median (per visit or
per person, the larger excess), never negative and never more than it was paid; only an
institution at least ``ratio`` times its peers' median is a finding, and only peers of
the same kind, level and area count (no database: the rule's SQL over Parquet)."""

from __future__ import annotations

import math
import statistics
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from supervision_plant import with_params
from yibao.analytics import screening

PARAMS = {"ratio": 2, "min_peers": 2, "min_visits": 1}
LEVELS = (2, 3)

VISITS = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2_000_000), st.booleans()),
                  min_size=1, max_size=4)  # (person, fund fen, cancelled)
WORLD = st.lists(st.tuples(st.sampled_from(LEVELS), VISITS), min_size=3, max_size=7)


def write(directory: Path, world: list) -> None:
    settlements, institutions = [], []
    for i, (level, visits) in enumerate(world):
        code = f"H{i:03d}"
        institutions.append((code, "hospital", level, "110105", "110000"))
        for v, (person, paid, cancelled) in enumerate(visits):
            setl_id, when = f"S{i}-{v}", datetime(2026, 5, 1 + v, 9, 0)
            settlements.append((setl_id, "settle", code, f"M{i}-{v}", f"P{person}", when,
                                paid, ""))
            if cancelled:
                settlements.append((f"C{i}-{v}", "cancel", code, f"M{i}-{v}", f"P{person}",
                                    when, -paid, setl_id))
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE s (setl_id VARCHAR, kind VARCHAR, fixmedins_code VARCHAR, "
                    "mdtrt_id VARCHAR, psn_no VARCHAR, setl_time TIMESTAMP, "
                    "fund_pay_sumamt BIGINT, reverses VARCHAR)")
        con.executemany("INSERT INTO s VALUES (?, ?, ?, ?, ?, ?, ?, ?)", settlements)
        con.execute("CREATE TABLE i (fixmedins_code VARCHAR, kind VARCHAR, level INTEGER, "
                    "admdvs VARCHAR, pool_area VARCHAR)")
        con.executemany("INSERT INTO i VALUES (?, ?, ?, ?, ?)", institutions)
        con.execute(f"COPY s TO '{directory / 'settlements.parquet'}' (FORMAT parquet)")
        con.execute(f"COPY i TO '{directory / 'institutions.parquet'}' (FORMAT parquet)")
    finally:
        con.close()


def expected(world: list) -> dict[str, tuple[Fraction, int]]:
    """Institution -> (the exact excess, its fund), for those that are findings."""
    months = {}
    for i, (level, visits) in enumerate(world):
        fund = sum(0 if cancelled else paid for _, paid, cancelled in visits)
        months[f"H{i:03d}"] = (level, fund, len(visits), len({p for p, _, _ in visits}))
    out = {}
    for code, (level, fund, visits, persons) in months.items():
        peers = [m for c, m in months.items() if c != code and m[0] == level]
        if len(peers) < PARAMS["min_peers"]:
            continue
        excess = []
        for at, count in ((2, visits), (3, persons)):  # per visit, per person
            mine = fund / count
            median = statistics.median([p[1] / p[at] for p in peers])
            # the SQL compares doubles: a tie within rounding is no example
            assume(mine == PARAMS["ratio"] * median
                   or not math.isclose(mine, PARAMS["ratio"] * median))
            if mine >= PARAMS["ratio"] * median:
                exact = statistics.median([Fraction(p[1], p[at]) for p in peers])
                excess.append(fund - exact * count)
        if excess:
            out[code] = (max([*excess, Fraction(0)]), fund)
    return out


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=WORLD)
def test_sv12_amount_at_risk_is_the_excess_over_the_peers_median(tmp_path_factory, world):
    directory = tmp_path_factory.mktemp("sv12")
    write(directory, world)
    clues = screening.run_duckdb(directory, [with_params("SV12", **PARAMS)], "2026-05")
    wanted = expected(world)
    assert {c.fixmedins_code for c in clues} == set(wanted)
    event(f"findings: {min(len(wanted), 2)}+")
    for clue in clues:
        excess, fund = wanted[clue.fixmedins_code]
        assert abs(clue.amount_at_risk - math.floor(excess)) <= 1, (clue, excess)
        assert 0 <= clue.amount_at_risk <= max(fund, 0)
        [row] = clue.evidence
        assert row["fund"] == fund
