"""The 2001 entitlement decision as a pure function (services/entitlement.decide): the
scheme's funds, or the insurance type's pooling fund (domain/codes.pool_fund)."""

from __future__ import annotations

import dataclasses
from datetime import date

from yibao.domain.codes import EMPLOYEE_POOL_FUND, RESIDENT_POOL_FUND, pool_fund
from yibao.domain.errors import Refused
from yibao.domain.policy import Scheme, select_policy
from yibao.services.entitlement import IN_FORCE, Entitlement, decide
from yibao.store.policy_files import load_policies


def scheme(insutype: str, med_type: str) -> Scheme:
    policy = select_policy(load_policies(), region="110000", insutype=insutype,
                           day=date(2026, 5, 11))
    assert policy is not None
    found = policy.scheme_for(med_type)
    assert found is not None
    return found


def test_insured_and_covered_lists_the_scheme_funds():
    outpatient = scheme("310", "21")
    found = decide(None, outpatient, insutype="310", med_type="21")
    assert found == Entitlement(True, IN_FORCE, tuple(s.fund for s in outpatient.stages))
    assert found.funds and found.funds[0] == EMPLOYEE_POOL_FUND


def test_not_insured_keeps_the_refusal_as_reason():
    refusal = Refused("E-PSN-003", "insurance suspended")
    found = decide(refusal, scheme("310", "21"), insutype="310", med_type="21")
    assert not found.active and found.reason == refusal.message


def test_no_scheme_is_not_covered_with_the_pooling_fund():
    found = decide(None, None, insutype="390", med_type="99")
    assert found == Entitlement(False, "med_type 99 not covered for insutype 390",
                                (RESIDENT_POOL_FUND,))


def test_no_scheme_and_not_insured_keeps_the_insurance_reason():
    refusal = Refused("E-PSN-003", "not insured")
    found = decide(refusal, None, insutype="310", med_type="99")
    assert found == Entitlement(False, refusal.message, (EMPLOYEE_POOL_FUND,))


def test_a_scheme_without_stages_answers_the_pooling_fund():
    empty = dataclasses.replace(scheme("310", "21"), stages=())
    assert decide(None, empty, insutype="310", med_type="21").funds == (EMPLOYEE_POOL_FUND,)


def test_pool_fund_of_each_insurance_type():
    assert pool_fund("310") == "310100"
    assert {pool_fund(t) for t in ("390", "320", "510")} == {"390100"}
