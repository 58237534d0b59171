"""The visit rules SV05–SV10 (domain/supervision_visit.py) and their SQL
(analytics/supervision/SV05.sql..SV10.sql): each rule finds what is planted and not its
legitimate look-alike, in Python and in SQL over the extract, and a property test shows
both find the same (rule, clue, lines, amount) on generated visits."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervision_cases import Planted, by_python, by_sql, case, findings, write_extract
from yibao.domain.supervision_visit import (
    Limits,
    Line,
    age_on,
    check,
    net_of_refunds,
    stay_days,
    sv05,
    sv06,
    sv07,
    sv08,
    sv09,
    sv10,
)

D = Decimal
BED = "001102000010000-110200001"  # a bed-day service
DAY1, DAY2, DAY3 = datetime(2026, 5, 3, 10), datetime(2026, 5, 4, 10), datetime(2026, 5, 5, 10)


def line(id_: int, code: str = "X1", cnt: str = "1", pric: str = "10", *,
         at: datetime | None = DAY1, amount: int | None = None, uplmt: str | None = None,
         ref: str = "", refund_of: str = "") -> Line:
    fen = amount if amount is not None else int(D(cnt) * D(pric) * 100)
    return Line(id_, ref or str(id_), code, "201", D(cnt), D(pric), fen,
                None if uplmt is None else D(uplmt), at, refund_of)


def both(planted_case, tmp_path: Path, rule_id: str):
    """The rule's findings in Python, checked to be what its SQL finds."""
    planted = [Planted(planted_case, "P1")]
    write_extract(tmp_path, planted)
    assert by_sql(tmp_path, [rule_id]) == by_python(planted, [rule_id])
    return findings(check(planted_case, [rule_id]))


# conventions ---------------------------------------------------------------------------

def test_days_of_stay_count_the_admission_day_not_the_discharge_day():
    c = case([], {}, begin=datetime(2026, 5, 3, 23), end=datetime(2026, 5, 8, 1))
    assert stay_days(c.visit, c.now) == 5
    same_day = case([], {}, begin=datetime(2026, 5, 3, 8), end=datetime(2026, 5, 3, 18))
    assert stay_days(same_day.visit, same_day.now) == 1
    still_open = case([], {}, begin=datetime(2026, 5, 30, 8), end=None)
    assert stay_days(still_open.visit, datetime(2026, 6, 1)) == 2


def test_age_is_whole_years_on_the_day():
    born = datetime(2020, 2, 29).date()
    assert age_on(born, datetime(2026, 2, 28).date()) == 5
    assert age_on(born, datetime(2026, 3, 1).date()) == 6
    assert age_on(datetime(2012, 5, 3).date(), datetime(2026, 5, 3).date()) == 14


def test_a_refunded_line_is_gone_and_a_partly_refunded_one_reduced():
    lines = [line(1, cnt="2", ref="A"), line(2, cnt="3", ref="B"),
             line(3, cnt="-2", ref="C", refund_of="A"), line(4, cnt="-1", ref="D", refund_of="B")]
    net = net_of_refunds(lines)
    assert [(x.ref, x.cnt, x.amount) for x in net] == [("B", D(2), 2000)]


# SV05 ----------------------------------------------------------------------------------

def test_sv05_bed_days_above_the_stay(tmp_path):
    # a stay of 5 days (3 May to 8 May) billed 7 bed days at 50 yuan: 2 x 50 at risk
    beds = [line(1, BED, "4", "50", at=DAY1), line(2, BED, "3", "50", at=DAY3)]
    assert both(case(beds, {BED: Limits(per_day=True)}), tmp_path, "SV05") == [
        ("SV05", BED, (1, 2), 10000)]


def test_sv05_look_alike_bed_days_equal_to_the_stay_or_not_per_day(tmp_path):
    beds = [line(1, BED, "5", "50"), line(2, "X1", "9", "5")]
    assert both(case(beds, {BED: Limits(per_day=True)}), tmp_path, "SV05") == []
    # the same day in and out: 1 bed day is right
    one = case([line(1, BED, "1", "50")], {BED: Limits(per_day=True)},
               begin=datetime(2026, 5, 3, 8), end=datetime(2026, 5, 3, 17))
    assert sv05(one) == []


# SV06 ----------------------------------------------------------------------------------

def test_sv06_the_same_item_twice_on_a_day(tmp_path):
    lines = [line(1, "X1", "2", "3.5"), line(2, "X1", "2", "3.5"), line(3, "X1", "2", "3.5")]
    assert both(case(lines, {}), tmp_path, "SV06") == [("SV06", "X1:1", (1, 2, 3), 1400)]


def test_sv06_look_alikes_two_days_another_count_or_a_refunded_line_billed_again(tmp_path):
    lines = [line(1, "X1", "2", "3.5", at=DAY1), line(2, "X1", "2", "3.5", at=DAY2),
             line(3, "X1", "1", "3.5", at=DAY1)]
    assert both(case(lines, {}), tmp_path, "SV06") == []
    rebilled = net_of_refunds([line(1, "X2", ref="A"), line(2, "X2", "-1", ref="B",
                                                              refund_of="A"),
                               line(3, "X2", ref="C")])
    assert sv06(case(rebilled, {})) == []


# SV07 ----------------------------------------------------------------------------------

def test_sv07_a_womens_item_for_a_man(tmp_path):
    lines = [line(1, "F1", "1", "80"), line(2, "X1")]
    assert both(case(lines, {"F1": Limits(gend="2")}, gend="1"), tmp_path, "SV07") == [
        ("SV07", "F1", (1,), 8000)]
    assert "女性" in sv07(case(lines, {"F1": Limits(gend="2")}, gend="1"))[0].message_zh


def test_sv07_look_alike_the_right_sex_or_sex_not_known(tmp_path):
    lines = [line(1, "F1", "1", "80")]
    assert both(case(lines, {"F1": Limits(gend="2")}, gend="2"), tmp_path, "SV07") == []
    assert sv07(case(lines, {"F1": Limits(gend="2")}, gend="9")) == []


# SV08 ----------------------------------------------------------------------------------

def test_sv08_a_childs_item_for_an_adult_and_on_the_birthday(tmp_path):
    kids = {"C1": Limits(age_max=14)}
    # born 3 May 2012: 13 on 2 May... 14 on 3 May, 14 still on 4 May; limit 0-13 flags 3 & 4 May
    lines = [line(1, "C1", at=datetime(2026, 5, 2, 9)), line(2, "C1", at=DAY1),
             line(3, "C1", at=DAY2)]
    young = {"C1": Limits(age_max=13)}
    assert both(case(lines, young, brdy=datetime(2012, 5, 3), begin=datetime(2026, 5, 1)),
                tmp_path, "SV08") == [("SV08", "C1", (2, 3), 2000)]
    assert sv08(case(lines, kids, brdy=datetime(2012, 5, 3), begin=datetime(2026, 5, 1))) == []


def test_sv08_look_alike_inside_the_ages(tmp_path):
    lines = [line(1, "O1")]
    old = {"O1": Limits(age_min=60)}
    assert both(case(lines, old, brdy=datetime(1966, 5, 3)), tmp_path, "SV08") == []
    assert findings(sv08(case(lines, old, brdy=datetime(1966, 5, 4)))) == [
        ("SV08", "O1", (1,), 1000)]


# SV09 ----------------------------------------------------------------------------------

def test_sv09_daily_quantity_course_and_times(tmp_path):
    limits = {"Q1": Limits(daily_cnt=D("2.5")), "K1": Limits(course_days=2),
              "T1": Limits(visit_times=2)}
    lines = [line(1, "Q1", "2", "4"), line(2, "Q1", "1.5", "6"),  # 3.5 on day 1: 1 x 6 = 6
             line(3, "Q1", "2.5", "4", at=DAY2),  # at the limit
             line(4, "K1", at=DAY1), line(5, "K1", at=DAY2), line(6, "K1", "2", at=DAY3),
             line(7, "T1", at=DAY1), line(8, "T1", at=DAY1), line(9, "T1", "1", "12", at=DAY2)]
    assert both(case(lines, limits), tmp_path, "SV09") == [
        ("SV09", "K1:course", (6,), 2000),
        ("SV09", "Q1:daily:2026-05-03", (1, 2), 600),
        ("SV09", "T1:times", (9,), 1200)]


def test_sv09_look_alike_within_the_limits(tmp_path):
    limits = {"Q1": Limits(daily_cnt=D("2.5"), course_days=3, visit_times=3)}
    lines = [line(1, "Q1", "2.5", at=DAY1), line(2, "Q1", "1", at=DAY2),
             line(3, "Q1", "1", at=DAY3)]
    assert both(case(lines, limits), tmp_path, "SV09") == []
    assert sv09(case(lines, {})) == []


# SV10 ----------------------------------------------------------------------------------

def test_sv10_price_above_the_catalogue_cap_or_the_lines_own(tmp_path):
    lines = [line(1, "P1", "3", "12.5"), line(2, "P2", "2", "30", uplmt="25"),
             line(3, "P3", "1", "30", uplmt="28")]
    limits = {"P1": Limits(price_cap=D("10")), "P3": Limits(price_cap=D("29"))}
    assert both(case(lines, limits), tmp_path, "SV10") == [
        ("SV10", "P1", (1,), 750), ("SV10", "P2", (2,), 1000), ("SV10", "P3", (3,), 200)]


def test_sv10_look_alike_at_the_cap(tmp_path):
    lines = [line(1, "P1", "3", "10"), line(2, "P2", "1", "9.99", uplmt="10")]
    assert both(case(lines, {"P1": Limits(price_cap=D("10"))}), tmp_path, "SV10") == []
    assert sv10(case(lines, {})) == []


def test_check_refuses_a_rule_that_is_not_in_the_library():
    with pytest.raises(KeyError):
        check(case([], {}), ["SV99"])


# the SQL and the Python find the same ---------------------------------------------------

CODES = ("A", "B", "C", "D")
counts = st.sampled_from(["1", "2", "0.5", "1.5", "3", "4"]).map(D)
prices = st.sampled_from(["1", "2.5", "10", "33.333333", "0.01", "120"]).map(D)
limits_of = st.builds(
    Limits,
    price_cap=st.none() | prices,
    gend=st.sampled_from(["", "", "1", "2"]),
    age_min=st.none() | st.integers(0, 70),
    age_max=st.none() | st.integers(0, 90),
    daily_cnt=st.none() | counts,
    course_days=st.none() | st.integers(1, 4),
    visit_times=st.none() | st.integers(1, 3),
    per_day=st.booleans(),
).filter(lambda lim: lim.age_min is None or lim.age_max is None
         or lim.age_min <= lim.age_max)


@st.composite
def visits(draw):
    limits = {code: draw(limits_of) for code in draw(st.sets(st.sampled_from(CODES)))}
    planted, next_id = [], 1
    for n in range(draw(st.integers(1, 3))):
        begin = datetime(2026, 5, 1) + timedelta(hours=draw(st.integers(0, 24 * 25)))
        end = draw(st.none() | st.integers(0, 24 * 6).map(lambda h, b=begin: b + timedelta(
            hours=h)))
        lines = []
        for _ in range(draw(st.integers(0, 7))):
            cnt, pric = draw(counts), draw(prices)
            at = draw(st.none() | st.integers(0, 5).map(lambda d, b=begin: b + timedelta(days=d)))
            amount = int((cnt * pric * 100).to_integral_value()) or 1
            lines.append(Line(next_id, str(next_id), draw(st.sampled_from(CODES)), "201", cnt,
                              pric, amount, draw(st.none() | prices), at))
            next_id += 1
        brdy = datetime(2026, 5, 1) - timedelta(days=draw(st.integers(0, 365 * 80)))
        planted.append(Planted(case(lines, limits, gend=draw(st.sampled_from("129")),
                                    brdy=brdy, begin=begin, end=end, mdtrt_id=f"M{n}",
                                    visit_class="inpatient"), f"P{n}"))
    return planted


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(visits())
def test_the_sql_finds_what_the_python_finds(planted):
    with tempfile.TemporaryDirectory() as directory:
        write_extract(Path(directory), planted)
        assert by_sql(Path(directory)) == by_python(planted)


def test_the_same_sql_finds_the_same_on_spark(tmp_path):
    """The rules' text runs unchanged on Spark SQL: one extract with a finding of every
    rule, the same clues, lines, shares and amounts as DuckDB (and as the Python)."""
    pytest.importorskip("pyspark", reason="the optional extra yibao[spark] is not installed")
    from yibao.analytics import screening
    from yibao.domain import supervision

    lim = {BED: Limits(per_day=True), "F1": Limits(gend="2"), "C1": Limits(age_max=13),
           "Q1": Limits(daily_cnt=D("2.5"), course_days=2, visit_times=2),
           "P1": Limits(price_cap=D("10"))}
    lines = [line(1, BED, "4", "50", at=DAY1), line(2, BED, "3", "50", at=DAY3),
             line(3, "X1", "2", "3.5"), line(4, "X1", "2", "3.5"), line(5, "F1", "1", "80"),
             line(6, "C1"), line(7, "Q1", "2", "4"), line(8, "Q1", "1.5", "6"),
             line(9, "Q1", "1", "4", at=DAY3), line(10, "P1", "3", "12.5"),
             line(11, "P2", "2", "30", uplmt="25")]
    planted = [Planted(case(lines, lim, brdy=datetime(2000, 1, 1)), "P1"),
               Planted(case([line(12, "C1")], lim, brdy=datetime(2014, 5, 4),
                            mdtrt_id="M2"), "P2")]
    write_extract(tmp_path, planted)
    rules = [supervision.rule(r) for r in ("SV05", "SV06", "SV07", "SV08", "SV09", "SV10")]

    def seen(found):
        return {(f.rule_id, f.clue_key, f.amount_at_risk,
                 tuple(sorted((int(r["line_id"]), int(r["amount_at_risk"]))
                              for r in f.evidence))) for f in found}

    on_spark = seen(screening.run_spark(tmp_path, rules, "2026-05"))
    assert on_spark == seen(screening.run_duckdb(tmp_path, rules, "2026-05"))
    assert {(r, k, a) for r, k, a, _ in on_spark} == {
        (r, k, a) for r, k, _, a in by_python(planted)}
    assert {r for r, *_ in on_spark} == {"SV05", "SV06", "SV07", "SV08", "SV09", "SV10"}
