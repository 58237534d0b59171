"""The insured place's analysis of its funds spent elsewhere (issue 20; docs/supervision.md,
The insured place's analysis): for an insured place and a month, its away settlements per
treatment region, institution and disease, the 12-month trend with the changes against
the previous month and the same month last year, and the outliers.

Read-only: one snapshot of the store (the caller's read transaction), four set-based
queries (store/away_analysis.py), the figures and outliers decided by the pure
domain/away_analysis.py. The peer test's thresholds are the rule library's SV12
parameters (ratio, min_peers, min_visits), so the analysis and the rule agree; the jump
test's are the domain's (JUMP_RATIO times the median of HISTORY_MONTHS months)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection

from yibao.domain import supervision
from yibao.domain.away_analysis import (
    TREND_MONTHS,
    YEAR_MONTHS,
    Analysis,
    Dimension,
    Month,
    Thresholds,
    analyse,
    parse_month,
    parse_region,
)
from yibao.store import away_analysis as store

PEER_RULE = "SV12"  # an institution whose fund use per visit is an outlier among its peers


def thresholds() -> Thresholds:
    """The outlier thresholds: SV12's parameters for the peers, the domain's for jumps."""
    params = supervision.rule(PEER_RULE).params
    return Thresholds(peer_ratio=Decimal(params["ratio"]), min_peers=int(params["min_peers"]),
                      min_visits=int(params["min_visits"]))


def _start(month: Month) -> datetime:
    return datetime(month.year, month.month, 1)


def current_month(today: date) -> Month:
    return Month(today.year, today.month)


def analysis(conn: Connection, region: str, month: str, *, today: date,
             limits: Thresholds | None = None) -> Analysis:
    """The analysis of ``region``'s funds spent elsewhere in ``month`` (YYYY-MM, not after
    ``today``'s month): E-SUP-020 / 021 / 022 for a bad region or month. A month without
    away settlements is an empty analysis, not a refusal."""
    insured = parse_region(region)
    chosen = parse_month(month, current=current_month(today))
    limits = limits or thresholds()
    until = _start(chosen.shifted(1))
    history = _start(chosen.shifted(-limits.history_months))
    since = _start(chosen.shifted(-max(YEAR_MONTHS, TREND_MONTHS - 1)))
    return analyse(
        insured, chosen, limits,
        monthly=store.tallies(conn, insured, since, until, None),
        regions=store.tallies(conn, insured, history, until, Dimension.REGION),
        institutions=store.tallies(conn, insured, history, until, Dimension.INSTITUTION),
        diseases=store.tallies(conn, insured, _start(chosen), until, Dimension.DISEASE))


def insured_places(conn: Connection) -> list[str]:
    """The insured places with care away from home recorded (the console offers them)."""
    return store.insured_places(conn)
