"""The pure filing rules: validity periods and which visits a filing covers."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.domain.errors import Refused
from yibao.domain.filing import (
    Window,
    covers,
    end_of_validity,
    filed_after_discharge,
    kind_of,
    years_after,
)
from yibao.domain.policy import PolicyError, parse_policy

NOW = datetime(2026, 5, 11, 9, 30)


def test_validity_runs_through_the_chosen_day():
    assert end_of_validity("temporary", date(2026, 5, 11), NOW) == datetime(2026, 5, 12)
    assert end_of_validity("resident", None, NOW) is None  # long-term: until ended
    assert end_of_validity("trauma", None, NOW) is None


@pytest.mark.parametrize("filing_type, end, says", [
    ("temporary", None, "needs an end date"),
    ("referral", date(2026, 5, 10), "before today"),
    ("resident", date(2036, 5, 12), "longer than 10 years"),
])
def test_invalid_validity_is_refused_with_the_reason(filing_type, end, says):
    with pytest.raises(Refused) as caught:
        end_of_validity(filing_type, end, NOW)
    assert caught.value.code == "E-FIL-008" and says in caught.value.message


def test_a_filing_registered_on_29_february_may_run_ten_years_to_28_february():
    leap_day = datetime(2028, 2, 29, 9, 30)
    assert end_of_validity("resident", date(2038, 2, 28), leap_day) == datetime(2038, 3, 1)
    with pytest.raises(Refused) as caught:
        end_of_validity("resident", date(2038, 3, 1), leap_day)
    assert caught.value.code == "E-FIL-008" and "longer than 10 years" in caught.value.message


@given(st.dates(max_value=date(9989, 12, 31)), st.integers(0, 10))
def test_the_longest_validity_is_the_same_day_ten_years_on_or_the_day_before(day, years):
    later = years_after(day, years)
    assert later.year == day.year + years
    assert (later.month, later.day) in ((day.month, day.day), (2, 28))
    registered = datetime.combine(day, datetime.min.time())
    longest = years_after(day, 10)
    assert end_of_validity("resident", longest, registered) == datetime.combine(
        longest + timedelta(days=1), datetime.min.time())
    with pytest.raises(Refused) as caught:
        end_of_validity("resident", longest + timedelta(days=1), registered)
    assert caught.value.code == "E-FIL-008"


def test_an_unknown_filing_type_is_refused_with_the_list():
    with pytest.raises(Refused) as caught:
        kind_of("vacation")
    assert caught.value.code == "E-FIL-008" and "resettled" in caught.value.message


WINDOW = Window(NOW, datetime(2026, 5, 21), None)


def test_a_filing_covers_visits_it_overlaps_once_registered():
    second = timedelta(seconds=1)
    assert covers(WINDOW, visit_begin=NOW - timedelta(days=1), at=NOW)
    assert not covers(WINDOW, visit_begin=NOW, at=NOW - second)
    assert not covers(WINDOW, visit_begin=datetime(2026, 5, 21),
                      at=datetime(2026, 5, 21))
    assert covers(WINDOW, visit_begin=datetime(2026, 5, 21) - second,
                  at=datetime(2026, 5, 21))
    ended = Window(NOW, None, NOW + timedelta(hours=1))
    assert not covers(ended, visit_begin=NOW + timedelta(hours=1),
                      at=NOW + timedelta(hours=2))


def test_a_filing_after_discharge_covers_the_stay_settled_after_it():
    """The 2022 notice: registered after discharge, before the settlement, it counts; a
    claim judges the care at its end and looks for filings registered after it too."""
    discharged = NOW - timedelta(seconds=1)
    assert covers(WINDOW, visit_begin=NOW - timedelta(days=3), at=NOW + timedelta(days=1))
    assert not covers(WINDOW, visit_begin=NOW - timedelta(days=3), at=discharged)
    assert filed_after_discharge(WINDOW, visit_end=discharged)
    assert not filed_after_discharge(WINDOW, visit_end=NOW)
    assert not filed_after_discharge(WINDOW, visit_end=None)


@given(st.integers(0, 100 * 86400), st.integers(0, 100 * 86400), st.integers(0, 100 * 86400))
def test_coverage_never_starts_before_registration(begin_s, at_s, end_s):
    visit_begin = NOW + timedelta(seconds=begin_s - 50 * 86400)
    at = visit_begin + timedelta(seconds=at_s)
    end = visit_begin + timedelta(seconds=end_s)
    del end  # the discharge no longer bounds coverage (the 2022 notice)
    if covers(WINDOW, visit_begin=visit_begin, at=at):
        assert WINDOW.begin_at <= at
        assert visit_begin < WINDOW.end_at


def _policy(away: dict) -> dict:
    return {"policy": {"id": "x", "region": "130102", "insutype": "310",
                       "valid_from": "2024-01-01"}, "away": away}


def test_policy_away_section_is_checked():
    full = {"long_term": "0", "referral": "0.1", "emergency": "0.1", "temporary": "0.2",
            "source": "test"}
    assert "unfiled" not in parse_policy(_policy(full)).away
    with pytest.raises(PolicyError, match="missing"):
        parse_policy(_policy({"long_term": "0", "source": "test"}))
    with pytest.raises(PolicyError, match="unknown"):
        parse_policy(_policy({**full, "weekend": "0.5"}))
    with pytest.raises(PolicyError, match="source"):
        parse_policy(_policy({k: v for k, v in full.items() if k != "source"}))
