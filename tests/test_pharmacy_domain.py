"""The pure pharmacy rules (domain/pharmacy.py) and the policy sections they read: the
mutual-aid split keeps the standard's identities to the fen for any amounts; the longest
supply and the early refill; malformed [pharmacy] and [supply] sections are refused."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.domain.errors import Refused
from yibao.domain.pharmacy import (
    DrugLine,
    Previous,
    check_longest,
    check_refill,
    supply_days,
    with_mutual_aid,
)
from yibao.domain.policy import PolicyError, Supply, parse_policy

FEN = st.integers(min_value=0, max_value=10**10)
POLICIES = Path(__file__).parents[1] / "src" / "yibao" / "policies"


@settings(max_examples=400, deadline=None)
@given(own=FEN, cash=FEN, family=FEN)
def test_mutual_aid_keeps_the_persons_part_and_pays_at_most_the_balance(own, cash, family):
    split = with_mutual_aid(own, cash, family)
    assert split.acct_pay + split.cash == own + cash  # psn_part_amt unchanged
    assert split.acct_pay == own + split.paid  # acct_pay includes acct_mulaid_pay
    assert 0 <= split.paid <= min(cash, family) and split.cash >= 0
    assert split.paid == cash or split.paid == family  # pays all it can


SUPPLY = Supply(default_days=30, chronic_days=84, refill_left=Decimal("0.33"),
                items={"ACUTE": 7}, diseases={"E11.900": 60})


@pytest.mark.parametrize(("code", "disease", "days", "allowed"), [
    ("X", "", 30, True), ("X", "", 31, False), ("X", "I10.x00", 84, True),
    ("X", "I10.x00", 85, False), ("X", "E11.900", 61, False), ("ACUTE", "I10.x00", 8, False),
    ("ACUTE", "", 7, True),
])
def test_the_longest_supply(code, disease, days, allowed):
    line = DrugLine("1", code, days)
    if allowed:
        check_longest(SUPPLY, line, disease)
    else:
        with pytest.raises(Refused) as refused:
            check_longest(SUPPLY, line, disease)
        assert refused.value.code == "E-PHA-010"


def test_days_of_supply_round_up_and_stay_in_range():
    assert supply_days(None) is None
    assert supply_days(Decimal("6.5")) == 7
    for wrong in (Decimal(0), Decimal(-1), Decimal(367)):
        with pytest.raises(Refused):
            supply_days(wrong)


@pytest.mark.parametrize(("after_days", "refused"), [(0, True), (20, True), (20.2, False),
                                                     (40, False)])
def test_an_early_refill(after_days, refused):
    begin = datetime(2026, 5, 1, 9, 0)
    previous = Previous("S1", begin, 30)  # a third of 30 days is 9.9 days
    now = begin + timedelta(days=after_days)
    line = DrugLine("1", "X", 30)
    if refused:
        with pytest.raises(Refused) as caught:
            check_refill(SUPPLY, line, previous, now)
        assert caught.value.code == "E-PHA-011" and "S1" in caught.value.detail
    else:
        check_refill(SUPPLY, line, previous, now)


def shipped() -> dict:
    return tomllib.loads((POLICIES / "beijing-310-2024.toml").read_text(encoding="utf-8"))


def test_the_shipped_files_carry_the_sections():
    policy = parse_policy(shipped())
    assert policy.mutual_aid is True and policy.supply is not None
    assert policy.supply.chronic_days == 84 and policy.supply.items["XC03CCC0003"] == 7


@pytest.mark.parametrize(("section", "change", "says"), [
    ("supply", {"default_days": 0}, "days must be"),
    ("supply", {"chronic_days": 7}, "shorter than default_days"),
    ("supply", {"refill_left": "1.5"}, "outside 0..1"),
    ("supply", {"source": ""}, "source"),
    ("pharmacy", {"mutual_aid": "yes"}, "true or false"),
    ("pharmacy", {"source": ""}, "source"),
])
def test_malformed_sections_are_refused(section, change, says):
    raw = shipped()
    raw[section] = {**raw[section], **change}
    with pytest.raises(PolicyError, match=says):
        parse_policy(raw)


def test_an_item_listed_twice_is_refused():
    raw = shipped()
    raw["supply"]["item"] = raw["supply"]["item"] * 2
    with pytest.raises(PolicyError, match="appears twice"):
        parse_policy(raw)
