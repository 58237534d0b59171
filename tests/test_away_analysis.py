"""The insured place's analysis of its funds spent elsewhere (services/away_analysis.py,
docs/supervision.md), on both databases: the figures per treatment region, institution,
disease and month equal a brute-force computation over the planted settlements (to the
fen; hypothesis), the per-region totals add up to the month's, the trend and changes,
the outliers with their reasons, an empty month, and bad regions and months refused."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from away_plant import INSURED, MONTH, OTHER, Planted, add_institution, plant, plant_month
from yibao.domain.away_analysis import (
    Check,
    Dimension,
    Figures,
    Group,
    Month,
    Thresholds,
    jump_outliers,
    median,
    parse_month,
    parse_region,
    peer_outliers,
    percent_change,
)
from yibao.domain.errors import Refused
from yibao.services import away_analysis

TREATMENTS = ("110000", "310000", "440100")
TODAY = date(2026, 5, 11)
LOOSE = Thresholds(peer_ratio=Decimal(2), min_peers=3, min_visits=1)


# -- the pure rules --------------------------------------------------------------

@pytest.mark.parametrize(("current", "base", "expected"), [
    (150, 100, "50.0"), (100, 150, "-33.3"), (1, 3, "-66.7"), (2, 3, "-33.3"),
    (1001, 1000, "0.1"), (10005, 10000, "0.1"), (10004, 10000, "0.0"),
    (99995, 100000, "-0.0"[1:]), (99994, 100000, "-0.0"[1:]), (9995, 10000, "-0.1"),
    (100, 100, "0.0"), (0, 100, "-100.0"), (5, 0, None), (None, 100, None), (5, None, None),
])
def test_a_change_is_exact_with_one_decimal_half_up_and_none_without_a_base(
        current, base, expected):
    assert percent_change(current, base) == expected


def test_a_bad_region_or_month_is_refused_with_its_own_code():
    for bad in ("", "13010", "1301020", "13010a", "１３０１０２"):
        with pytest.raises(Refused) as caught:
            parse_region(bad)
        assert caught.value.code == "E-SUP-020"
    for bad in ("2026-13", "2026-00", "2026-4", "26-04", "2026/04", "1999-12", "x"):
        with pytest.raises(Refused) as caught:
            parse_month(bad, current=Month(2026, 5))
        assert caught.value.code == "E-SUP-021", bad
    with pytest.raises(Refused) as caught:
        parse_month("2026-06", current=Month(2026, 5))
    assert caught.value.code == "E-SUP-022" and "2026-06" in caught.value.detail
    assert parse_month("2026-05", current=Month(2026, 5)) == Month(2026, 5)
    assert Month(2026, 1).shifted(-1) == Month(2025, 12)
    assert Month(2026, 12).shifted(1) == Month(2027, 1)
    assert Month(2026, 5).shifted(-24) == Month(2024, 5)


def _group(key: str, fund: int, visits: int, *, treatment: str = "110000",
           level: int = 3) -> Group:
    return Group(key, key, Figures(visits, visits, visits, fund, fund), treatment, level)


def test_a_peer_outlier_is_above_k_times_the_median_of_the_others():
    peers = [_group("A", 10000, 10), _group("B", 12000, 10), _group("C", 14000, 10)]
    # per visit: 1000, 1200, 1400; median of the others 1200 (for D): 2 x 1200 = 2400
    just = _group("D", 24000, 10)
    above = _group("D", 24010, 10)
    assert peer_outliers(Dimension.INSTITUTION, [*peers, just], LOOSE) == []
    found = peer_outliers(Dimension.INSTITUTION, [*peers, above], LOOSE)
    assert [(o.key, o.check, o.figure, o.reference, o.ratio, o.peers) for o in found] == [
        ("D", Check.PEERS, 2401, 1200, "2.00", 3)]
    # another level or region is no peer: too few peers, no judgement
    other = [*peers[:2], _group("C", 14000, 10, level=2), above]
    assert peer_outliers(Dimension.INSTITUTION, other, LOOSE,
                         {g.key: (g.treatment, g.level) for g in other}) == []
    # too few visits: neither judged nor a peer
    strict = Thresholds(peer_ratio=Decimal(2), min_peers=3, min_visits=11)
    assert peer_outliers(Dimension.INSTITUTION, [*peers, above], strict) == []


def test_a_jump_is_above_k_times_the_median_of_its_previous_months():
    g = _group("A", 20001, 5)
    assert median([0, 0, 0, 10000, 10000, 10000]) == 5000
    assert [(o.check, o.figure, o.reference, o.ratio, o.peers) for o in jump_outliers(
        Dimension.INSTITUTION, [g], {"A": [10000] * 6}, LOOSE)] == [
        (Check.JUMP, 20001, 10000, "2.00", 6)]
    assert jump_outliers(Dimension.INSTITUTION, [_group("A", 20000, 5)],
                         {"A": [10000] * 6}, LOOSE) == []
    # no history (a median of 0): nothing to compare with
    assert jump_outliers(Dimension.INSTITUTION, [g], {"A": [0, 0, 0, 0, 9000, 9000]},
                         LOOSE) == []
    assert jump_outliers(Dimension.INSTITUTION, [g], {}, LOOSE) == []


# -- against a brute-force computation ---------------------------------------------

def _brute(rows: list[Planted], region: str, month: Month, key) -> dict[str, tuple]:
    """Per key: (settlements, visits, persons, medfee, fund, fund per visit, per person)."""
    found: dict[str, list] = defaultdict(lambda: [0, set(), set(), 0, 0])
    for p in rows:
        if (p.insured != region or p.treatment == region or p.cancelled
                or Month(p.at.year, p.at.month) != month):
            continue
        f = found[key(p)]
        f[0] += 1
        f[1].add(p.mdtrt_id)
        f[2].add(p.psn_no)
        f[3] += p.medfee
        f[4] += p.fund
    return {k: (n, len(v), len(ps), m, fund, fund // len(v), fund // len(ps))
            for k, (n, v, ps, m, fund) in found.items()}


def _seen(groups) -> dict[str, tuple]:
    return {g.key: (g.figures.settlements, g.figures.visits, g.figures.persons,
                    g.figures.medfee, g.figures.fund, g.figures.fund_per_visit,
                    g.figures.fund_per_person) for g in groups}


def _institution(treatment: str, n: int) -> str:
    return f"H{treatment}{n:05d}"


DISEASES = ("J18.900", "I10.x00", "")


@st.composite
def planted(draw) -> list[Planted]:
    count = draw(st.integers(0, 30))
    rows = []
    for i in range(count):
        insured = draw(st.sampled_from((INSURED, INSURED, INSURED, OTHER)))
        treatment = draw(st.sampled_from((*TREATMENTS, INSURED)))
        code = _institution(treatment, draw(st.integers(1, 3)))
        psn = f"P{draw(st.integers(1, 6))}{insured}"
        visit_no = draw(st.integers(1, 3))
        mdtrt = f"V{psn}{code}{visit_no}"
        disease = DISEASES[hash(mdtrt) % len(DISEASES)]
        month = MONTH.shifted(-draw(st.integers(0, 13)))
        at = datetime(month.year, month.month, draw(st.integers(1, 28)),
                      draw(st.integers(0, 23)), draw(st.integers(0, 59)))
        medfee = draw(st.integers(0, 5_000_000))
        fund = draw(st.integers(0, medfee))
        rows.append(Planted(f"S{i:04d}", psn, mdtrt, code, insured, treatment, at, medfee,
                            fund, disease, draw(st.sampled_from(("settle", "claim"))),
                            draw(st.booleans())))
    return rows


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=planted())
def test_the_figures_equal_a_brute_force_computation_to_the_fen(db, rows):
    with db.engine.connect() as conn:
        trans = conn.begin()
        try:
            for t in (*TREATMENTS, INSURED):
                for n in (1, 2, 3):
                    add_institution(conn, _institution(t, n), t, 3)
            plant(conn, rows)
            found = away_analysis.analysis(conn, INSURED, str(MONTH), today=TODAY,
                                           limits=LOOSE)
        finally:
            trans.rollback()
    assert _seen(found.regions) == _brute(rows, INSURED, MONTH, lambda p: p.treatment)
    assert _seen(found.institutions) == _brute(rows, INSURED, MONTH, lambda p: p.code)
    assert _seen(found.diseases) == _brute(rows, INSURED, MONTH, lambda p: p.disease)
    total = _brute(rows, INSURED, MONTH, lambda p: "")
    assert _seen([Group("", "", found.total)]) == (total or {"": (0, 0, 0, 0, 0, None, None)})
    # the regions' money adds up to the month's, to the fen (visits and persons too:
    # a visit is at one institution, a person may go to two regions)
    assert sum(g.figures.fund for g in found.regions) == found.total.fund
    assert sum(g.figures.medfee for g in found.regions) == found.total.medfee
    assert sum(g.figures.fund for g in found.institutions) == found.total.fund
    assert sum(g.figures.fund for g in found.diseases) == found.total.fund
    assert sum(g.figures.visits for g in found.regions) == found.total.visits
    # the trend: twelve months, the month last, each the brute force of its month
    assert [m for m, _f in found.trend] == [MONTH.shifted(-n) for n in range(11, -1, -1)]
    for month, figures in found.trend:
        brute = _brute(rows, INSURED, month, lambda p: "").get("")
        assert (figures.settlements, figures.fund) == ((brute[0], brute[4]) if brute
                                                       else (0, 0))
    year_ago = _brute(rows, INSURED, MONTH.shifted(-12), lambda p: "").get("")
    assert found.fund_change.yoy == percent_change(found.total.fund,
                                                   year_ago[4] if year_ago else 0)


# -- a planted month ---------------------------------------------------------------

@pytest.fixture
def planted_month(db):
    plant_month(db)
    return db


def test_a_month_with_its_tables_trend_and_outliers(planted_month):
    with planted_month.read() as conn:
        found = away_analysis.analysis(conn, INSURED, "2026-04", today=TODAY)
    assert found.thresholds.peer_ratio == 2 and found.thresholds.min_visits == 20
    beijing = 20 * (100000 + 110000 + 120000 + 330000) + 88800
    shanghai = 4 * 200000
    assert [(g.key, g.figures.fund, g.outlier) for g in found.regions] == [
        ("110000", beijing, False), ("310000", shanghai, True)]
    assert found.total.fund == beijing + shanghai
    assert found.total.settlements == 81 + 4 and found.total.visits == 85
    h4 = next(g for g in found.institutions if g.key == "H1100000004")
    assert h4.outlier and h4.figures.fund_per_visit == 330000 and h4.level == 3
    assert h4.treatment == "110000" and h4.name == "测试医院 H1100000004"
    assert [(o.dimension, o.key, o.check, o.figure, o.reference, o.ratio, o.peers)
            for o in found.outliers] == [
        (Dimension.REGION, "310000", Check.JUMP, shanghai, 200000, "4.00", 6),
        (Dimension.INSTITUTION, "H1100000004", Check.PEERS, 330000, 110000, "3.00", 3),
        (Dimension.INSTITUTION, "H3100000001", Check.JUMP, shanghai, 200000, "4.00", 6)]
    assert {g.key: g.figures.fund for g in found.diseases} == {
        "J18.900": beijing - 88800 - 20 * 330000 + shanghai, "I10.x00": 20 * 330000,
        "": 88800}
    march = 1_000_000 + 200000
    assert found.fund_change.mom == percent_change(found.total.fund, march)
    assert found.fund_change.yoy == percent_change(found.total.fund, 2_000_000)
    assert found.trend[-1] == (MONTH, found.total)
    assert found.trend[-2][1].fund == march
    shanghai_row = next(g for g in found.regions if g.key == "310000")
    assert shanghai_row.fund_mom == "300.0"  # 800000 against March's 200000


def test_an_empty_month_is_an_empty_analysis(db):
    with db.read() as conn:
        found = away_analysis.analysis(conn, INSURED, "2026-05", today=TODAY)
    assert found.total == Figures() and found.regions == found.institutions == ()
    assert found.diseases == () and found.outliers == ()
    assert len(found.trend) == 12 and all(f == Figures() for _m, f in found.trend)
    assert found.fund_change.mom is None and found.fund_change.yoy is None


def test_a_bad_region_or_month_changes_nothing_and_says_why(db):
    with db.read() as conn:
        for region, month, code in (("13010", "2026-04", "E-SUP-020"),
                                    ("130102", "2026-4", "E-SUP-021"),
                                    ("130102", "2026-06", "E-SUP-022")):
            with pytest.raises(Refused) as caught:
                away_analysis.analysis(conn, region, month, today=TODAY)
            assert caught.value.code == code


# -- real settlements and a reimbursement --------------------------------------------

def test_real_settlements_a_cancellation_and_a_reimbursement_are_counted(
        db, http, his_factory, clock):
    """赵磊 (insured in Hebei, 130102) is stationed in Beijing: a window claim for care on
    20 April, approved; two settlements at a Beijing hospital on 11 May, one cancelled."""
    from flows import ZHAO_LEI, ok, settle_once
    from test_reimbursement import bill, psn, review_and_decide, window_apply
    from test_reimbursement_filing import file

    beijing = his_factory("H11010500001")
    psn_no = psn(beijing, ZHAO_LEI)
    stationed = file(http, clock, datetime(2026, 4, 1, 9, 0), psn_no,
                     filing_type="stationed", area="110000")
    applied = window_apply(http, psn_no, reason="other", trt_dcla_detl_sn=stationed,
                           bill=bill("INV-AWAY", ("1", "XA01AAA0001", "1800.00")))
    assert applied["status"] == 201, applied
    approved = review_and_decide(http, applied["claim_id"])
    kept, cancelled = (settle_once(beijing, ZHAO_LEI, amount) for amount in ("300.00", "120.00"))
    ok(beijing.call("2208", {"data": {"setl_id": cancelled["setl_id"],
                                      "mdtrt_id": cancelled["mdtrt_id"], "psn_no": psn_no}}))
    with db.read() as conn:
        april = away_analysis.analysis(conn, INSURED, "2026-04", today=TODAY)
        may = away_analysis.analysis(conn, INSURED, "2026-05", today=TODAY)
        beijing_own = away_analysis.analysis(conn, "110000", "2026-05", today=TODAY)
    # the reimbursement in the month of its care, at the care's institution
    assert approved["approved_amount"] > 0
    assert [(g.key, g.figures.settlements, g.figures.fund) for g in april.regions] == [
        ("110000", 1, approved["approved_amount"])]
    assert [(g.key, g.level, g.name) for g in april.institutions] == [
        ("H11010500001", 3, "北京示范第一医院 (三级)")]
    assert [g.key for g in april.diseases] == ["J18.900"]
    # the cancelled settlement is netted out; the kept one counts
    fund = round(Decimal(str(kept["fund_pay_sumamt"])) * 100)
    assert fund > 0
    assert (may.total.settlements, may.total.visits, may.total.persons, may.total.fund,
            may.total.medfee) == (1, 1, 1, fund, 30000)
    assert may.fund_change.mom == percent_change(fund, approved["approved_amount"])
    assert beijing_own.total == Figures()  # Beijing's insured had no care away
