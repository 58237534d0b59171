"""The settlement engine: the worked examples of POLICY-BEIJING.md, and properties
(the national identities to the fen, caps, monotonicity) over generated cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.domain.catalogue import Totals
from yibao.domain.codes import PersonGroup
from yibao.domain.engine import SettlementInput, settle
from yibao.domain.policy import select_policy
from yibao.store.policy_files import load_policies

POLICIES = load_policies()
DAY = date(2026, 5, 11)


def scheme(insutype: str, med_type: str):
    policy = select_policy(POLICIES, region="110000", insutype=insutype, day=DAY)
    assert policy is not None
    found = policy.scheme_for(med_type)
    assert found is not None
    return found


def run(insutype, med_type, group, level, in_scope, *, year=None, stay=None, balance=0,
        account=False, extra_self=0):
    totals = Totals(in_scope + extra_self, extra_self, 0, 0, in_scope)
    return settle(SettlementInput(
        scheme(insutype, med_type), group, level, totals, year or {}, stay or {}, balance,
        account))


def yuan(value: str) -> int:
    return int(Decimal(value) * 100)


@pytest.mark.parametrize(
    ("insutype", "med_type", "group", "level", "in_scope", "year", "fund", "person"),
    [
        # first tier-3 stay, working, 50 000 in scope (the example)
        ("310", "21", PersonGroup.WORKING, 3, "50000", {}, "42895.00", "7105.00"),
        # second tier-3 stay of the year: deductible 650
        ("310", "21", PersonGroup.WORKING, 3, "10000", {"S.emp_ipt": 1}, "7947.50", "2052.50"),
        # retired under 70, first tier-2 stay: ratios 92.2 % / 95.2 %
        ("310", "21", PersonGroup.RETIRED_UNDER_70, 2, "35000", {}, "31221.40", "3778.60"),
        # resident, first outpatient visit at tier 2: deductible 550, 50 %
        ("390", "11", PersonGroup.RESIDENT_ADULT, 2, "1000", {}, "225.00", "775.00"),
    ],
)
def test_worked_examples(insutype, med_type, group, level, in_scope, year, fund, person):
    result = run(insutype, med_type, group, level, yuan(in_scope), year=year)
    assert result.fund_sum == yuan(fund)
    assert result.psn_part == yuan(person)


def test_outpatient_deductible_is_annual_and_bands_follow_the_year():
    first = run("310", "11", PersonGroup.WORKING, 3, yuan("1000"))
    assert (first.deductible, first.fund_sum) == (yuan("1000"), 0)
    year = dict(first.year_deltas)
    second = run("310", "11", PersonGroup.WORKING, 3, yuan("2000"), year=year)
    # 800 deductible left, then 1200 x 70 %
    assert second.deductible == yuan("800")
    assert second.fund_sum == yuan("840")


def test_outpatient_band_above_20000_ytd():
    year = {"D.emp_otp": yuan("1800"), "B.emp_otp": yuan("19000")}
    result = run("310", "11", PersonGroup.WORKING, 2, yuan("2000"), year=year)
    assert result.fund_sum == yuan("1000") * 70 // 100 + yuan("1000") * 60 // 100


def test_resident_outpatient_cap_3000():
    year = {"D.res_otp": yuan("550"), "P.res_otp": yuan("2900")}
    result = run("390", "11", PersonGroup.RESIDENT_ADULT, 2, yuan("1000"), year=year)
    assert result.fund_sum == yuan("100")
    assert result.funds[0].cap_room == yuan("100")


def test_above_the_pooled_cap_the_large_amount_aid_pays_85_percent():
    year = {"P.emp_ipt": yuan("499000"), "S.emp_ipt": 1}
    result = run("310", "21", PersonGroup.WORKING, 3, yuan("10650"), year=year)
    pooled, aid = result.funds
    # deductible 650; 10 000 in band 1 at 85 % would be 8 500 but only 1 000 of room
    assert pooled.fund == "310100" and pooled.paid == yuan("1000")
    covered = yuan("1000") * 100 // 85  # 1176.47 of the segment fits the room
    assert aid.fund == "330100" and aid.paid == round((yuan("10000") - covered) * 0.85)


def test_account_pays_up_to_its_balance():
    result = run("310", "11", PersonGroup.WORKING, 3, yuan("500"), balance=yuan("300"),
                 account=True)
    assert result.acct_pay == yuan("300")
    assert result.cash == yuan("200")
    assert result.balance_after == 0


def test_resident_critical_illness_pays_above_its_deductible():
    year = {"D.res_ci": yuan("30404"), "B.res_ci": yuan("30404")}
    result = run("390", "21", PersonGroup.RESIDENT_ADULT, 3, yuan("10000"), year=year)
    basic, critical = result.funds
    assert basic.paid == round((yuan("10000") - yuan("1300")) * 0.75)
    personal = yuan("10000") - basic.paid
    assert critical.fund == "390200" and critical.in_scope == personal
    assert critical.paid == round(personal * 0.6)


# ---------------------------------------------------------------- properties

GROUPS = st.sampled_from(list(PersonGroup))
CASES = st.tuples(
    st.sampled_from([("310", "11"), ("310", "21"), ("390", "11"), ("390", "21"),
                     ("310", "41")]),
    st.integers(min_value=0, max_value=3),
)
AMOUNT = st.integers(min_value=0, max_value=yuan("900000"))
ACCUM = st.integers(min_value=0, max_value=yuan("600000"))


def groups_for(insutype: str):
    if insutype == "390":
        return st.sampled_from([PersonGroup.RESIDENT_ADULT, PersonGroup.RESIDENT_CHILD])
    return st.sampled_from(
        [PersonGroup.WORKING, PersonGroup.RETIRED_UNDER_70, PersonGroup.RETIRED_70_PLUS])


@st.composite
def settlement_inputs(draw):
    (insutype, med_type), level = draw(CASES)
    if level == 0 and med_type != "41":
        level = 1
    chosen = scheme(insutype, med_type)
    parts = [draw(AMOUNT) for _ in range(4)]
    totals = Totals(sum(parts), *parts)
    year, stay = {}, {}
    for stage in chosen.stages:
        year[f"D.{stage.key}"] = draw(ACCUM)
        year[f"B.{stage.key}"] = draw(ACCUM)
        year[f"P.{stage.key}"] = draw(ACCUM)
        year[f"S.{stage.key}"] = draw(st.integers(0, 3))
        stay[f"B.{stage.key}"] = draw(ACCUM)
        stay[f"D.{stage.key}"] = draw(st.integers(0, yuan("1300")))
        stay[f"N.{stage.key}"] = draw(st.integers(0, 2))
    return SettlementInput(
        chosen, draw(groups_for(insutype)), level, totals, year, stay,
        draw(st.integers(0, yuan("10000"))), draw(st.booleans()))


@settings(max_examples=400, deadline=None)
@given(settlement_inputs())
def test_national_identities_hold_to_the_fen(inp):
    b = settle(inp)
    t = b.totals
    assert t.medfee == t.fulamt_ownpay + t.overlmt_selfpay + t.preselfpay + t.in_scope
    assert b.psn_part == t.medfee - b.fund_sum
    assert b.psn_part == b.acct_pay + b.cash
    assert b.fund_sum == sum(line.paid for line in b.funds)
    assert sum(b.fund_fields().values()) == b.fund_sum
    assert 0 <= b.fund_sum <= t.in_scope
    assert 0 <= b.acct_pay <= inp.account_balance
    assert b.balance_after == inp.account_balance - b.acct_pay
    assert all(isinstance(v, int) for _, v in b.year_deltas + b.stay_deltas)


@settings(max_examples=300, deadline=None)
@given(settlement_inputs())
def test_a_fund_never_pays_beyond_its_annual_cap(inp):
    b = settle(inp)
    paid = dict(b.year_deltas)
    for stage in inp.scheme.stages:
        if stage.annual_cap is not None:
            before = inp.year_accums.get(f"P.{stage.key}", 0)
            assert paid.get(f"P.{stage.key}", 0) <= max(0, stage.annual_cap - before)


@settings(max_examples=300, deadline=None)
@given(settlement_inputs(), st.integers(min_value=1, max_value=yuan("5000")))
def test_more_in_scope_never_means_less_from_the_fund(inp, more):
    t = inp.totals
    bigger = Totals(t.medfee + more, t.fulamt_ownpay, t.overlmt_selfpay, t.preselfpay,
                    t.in_scope + more)
    base = settle(inp)
    grown = settle(SettlementInput(inp.scheme, inp.group, inp.level, bigger, inp.year_accums,
                                   inp.stay_accums, inp.account_balance, inp.use_account))
    assert grown.fund_sum >= base.fund_sum


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=-10**12, max_value=10**12),
       st.decimals(min_value=0, max_value=1, places=4))
def test_apply_ratio_is_decimal_half_up(amount, ratio):
    from decimal import ROUND_HALF_UP

    from yibao.domain.money import apply_ratio

    expected = int((Decimal(amount) * ratio).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert apply_ratio(amount, ratio) == expected


@pytest.mark.parametrize("text", ["1e30", "-1e400", "123456789012.5", "9" * 40])
def test_huge_amounts_are_refused_as_out_of_range(text):
    from yibao.domain.money import MoneyError, yuan_to_fen

    with pytest.raises(MoneyError, match="out of range"):
        yuan_to_fen(text, field="medfee_sumamt", allow_negative=True)


@settings(max_examples=300, deadline=None)
@given(settlement_inputs(), st.decimals(min_value=0, max_value=1, places=2))
def test_an_away_ratio_cut_keeps_the_identities_and_never_pays_more(inp, cut):
    base = settle(inp)
    cut_inp = SettlementInput(inp.scheme.reduced(cut), inp.group, inp.level, inp.totals,
                              inp.year_accums, inp.stay_accums, inp.account_balance,
                              inp.use_account)
    b = settle(cut_inp)
    t = b.totals
    assert b.psn_part == t.medfee - b.fund_sum == b.acct_pay + b.cash
    assert sum(b.fund_fields().values()) == b.fund_sum
    assert 0 <= b.fund_sum <= base.fund_sum
    assert b.deductible == base.deductible  # the cut moves ratios, never the deductible
