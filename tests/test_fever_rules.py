"""Population groups (MDTRT_GRP_TYPE) in the pure engine and the policy files: the
group's rule (deductible waived, a ratio, public finance paying the person's share as a
fund line of its own) keeps the national identities to the fen (hypothesis), and the
policy files are checked when loaded (docs/fever.md, docs/policy-format.md)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_engine import DAY, POLICIES, scheme, settlement_inputs, yuan
from yibao.domain.catalogue import Totals
from yibao.domain.codes import PersonGroup
from yibao.domain.engine import SettlementInput, settle
from yibao.domain.policy import (
    Finance,
    FinanceShare,
    GroupRule,
    PolicyError,
    parse_policy,
    select_policy,
)

FINANCE = "999997"
RULES = st.builds(
    GroupRule, st.just("1"), st.booleans(),
    st.one_of(st.none(), st.decimals(min_value=0, max_value=1, places=2)),
    st.one_of(st.none(), st.builds(Finance, st.just(FINANCE), st.sampled_from(FinanceShare))))


def with_group(inp: SettlementInput, rule: GroupRule) -> SettlementInput:
    return dataclasses.replace(inp, scheme=inp.scheme.for_group(rule), finance=rule.finance)


@settings(max_examples=400, deadline=None)
@given(settlement_inputs(), RULES)
def test_a_groups_rule_keeps_the_national_identities_to_the_fen(inp, rule):
    b = settle(with_group(inp, rule))
    t = b.totals
    assert b.psn_part == t.medfee - b.fund_sum
    assert b.psn_part == b.acct_pay + b.cash
    assert b.fund_sum == sum(line.paid for line in b.funds)
    assert sum(b.fund_fields().values()) == b.fund_sum
    assert 0 <= b.fund_sum <= t.medfee
    assert 0 <= b.acct_pay <= inp.account_balance
    insurance = sum(line.paid for line in b.funds if not line.finance)
    assert 0 <= insurance <= t.in_scope  # the insurance funds pay in scope only
    finance = [line for line in b.funds if line.finance]
    if rule.finance is None:
        assert not finance
        return
    assert [line.fund for line in finance] == [FINANCE]
    left = t.medfee if rule.finance.share is FinanceShare.ALL else t.in_scope
    assert finance[0].paid == left - insurance  # public finance pays what was left
    assert dict(b.year_deltas).get(f"F.{FINANCE}", 0) == finance[0].paid
    if rule.finance.share is FinanceShare.ALL:
        assert b.psn_part == 0 and b.acct_pay == 0


@settings(max_examples=200, deadline=None)
@given(settlement_inputs())
def test_a_waived_deductible_never_pays_less_and_applies_none(inp):
    base = settle(inp)
    waived = settle(with_group(inp, GroupRule("1", True, None, None)))
    assert waived.deductible == 0
    assert waived.fund_sum >= base.fund_sum
    assert all(not k.startswith("D.") for k, _ in waived.year_deltas + waived.stay_deltas)


def test_beijing_confirmed_outpatient_by_hand():
    """王芳 (working) at tier 3, group 1: 1 000.00 in scope and 20.00 class 丙. The
    deductible (1 800.00) is waived: 1 000.00 × 70 % = 700.00 from the large-amount aid
    fund; public finance pays the rest of the bill, 320.00; the person pays nothing."""
    policy = select_policy(POLICIES, region="110000", insutype="310", day=DAY)
    assert policy is not None
    rule = policy.groups["1"]
    inp = SettlementInput(scheme("310", "11").for_group(rule), PersonGroup.WORKING, 3,
                          Totals(yuan("1020"), yuan("20"), 0, 0, yuan("1000")), {}, {},
                          yuan("3000"), True, rule.finance)
    b = settle(inp)
    assert [(f.fund, f.paid) for f in b.funds] == [("330100", yuan("700")),
                                                   (FINANCE, yuan("320"))]
    assert (b.deductible, b.psn_part, b.acct_pay, b.cash) == (0, 0, 0, 0)
    assert b.fund_fields()["hifob_pay"] == yuan("700")
    assert b.fund_fields()["oth_pay"] == yuan("320")
    assert b.funds[1].proc_info == "财政补助 320.00×100%=320.00"


def test_shipped_files_give_beijing_codes_1_and_3_a_rule_and_hebei_none():
    for insutype in ("310", "390"):
        policy = select_policy(POLICIES, region="110000", insutype=insutype, day=DAY)
        assert policy is not None and sorted(policy.groups) == ["1", "3"]
        assert all(r.waive_deductible and r.finance == Finance(FINANCE, FinanceShare.ALL)
                   for r in policy.groups.values())
    hebei = select_policy(POLICIES, region="130102", insutype="310", day=DAY)
    assert hebei is not None and dict(hebei.groups) == {}


HEAD = {"policy": {"id": "t", "region": "110000", "insutype": "310",
                   "valid_from": "2024-01-01"}}


@pytest.mark.parametrize(("group", "message"), [
    ({"code": "9", "source": "s"}, "not in table 598"),
    ({"code": "1"}, "source"),
    ({"code": "1", "finance_fund": "123456", "source": "s"}, "unknown finance fund"),
    ({"code": "1", "finance_fund": FINANCE, "finance_share": "most", "source": "s"},
     "in_scope or all"),
    ({"code": "1", "ratio": "1.5", "source": "s"}, "outside 0..1"),
    ({"code": "1", "waive_deductible": "yes", "source": "s"}, "true or false"),
])
def test_a_group_rule_is_checked_when_the_file_is_loaded(group, message):
    with pytest.raises(PolicyError, match=message):
        parse_policy({**HEAD, "group": [group]})


def test_a_group_appears_once():
    rule = {"code": "1", "waive_deductible": True, "source": "s"}
    with pytest.raises(PolicyError, match="appears twice"):
        parse_policy({**HEAD, "group": [rule, rule]})


def test_a_ratio_replaces_every_band():
    rule = GroupRule("3", False, Decimal("1"), None)
    b = settle(SettlementInput(scheme("310", "21").for_group(rule), PersonGroup.WORKING, 3,
                               Totals(yuan("50000"), 0, 0, 0, yuan("50000")), {}, {}, 0,
                               False))
    assert b.deductible == yuan("1300")  # not waived: only the ratio changes
    assert b.fund_sum == yuan("48700")
