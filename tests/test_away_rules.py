"""The away-from-home rules (domain/away.py) on typed records: no database, no HTTP.
tests/test_away.py drives the same rules through the hospital interface."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.domain import away
from yibao.domain.away import Away, Claimed, Site, VisitFacts
from yibao.domain.errors import Refused
from yibao.domain.filing import (
    TYPES,
    Category,
    Filing,
    FilingType,
    Relationship,
    Status,
    window_of,
)
from yibao.domain.policy import Policy, parse_policy

HOME, THERE, ELSEWHERE = "110105", "130102", "310101"
NOW = datetime(2026, 5, 11, 9, 30)
DAY = timedelta(days=1)
REL = Relationship("310", HOME, "ACME")
DISEASE = "M03900"  # the special disease of the filings here, opened at SITE
SITE = Site("H130001", THERE, networked=True, diseases=frozenset({DISEASE}))
CUTS = {"long_term": "0", "referral": "0.10", "emergency": "0.10", "temporary": "0.20"}


def policy(**more: str) -> Policy:
    return parse_policy({
        "policy": {"id": "x", "region": HOME, "insutype": "310", "valid_from": "2024-01-01"},
        "away": {**CUTS, **more, "source": "test"}})


POLICY = policy()


def filing(serial: str, filing_type: FilingType = FilingType.RESIDENT, *, area: str = THERE,
           begin: datetime = NOW - 30 * DAY, end: datetime | None = None,
           status: Status = Status.ACTIVE, ended: datetime | None = None,
           relationship: Relationship = REL, institution: str = "",
           injury: datetime | None = None, disease: str = DISEASE) -> Filing:
    return Filing(
        serial=serial, psn_no="P1", kind=TYPES[filing_type][0], filing_type=filing_type,
        relationship=relationship, area=area, institution=institution,
        disease_code=disease if filing_type is FilingType.DISEASE else "",
        disease_name="", reason="", injury_time=injury, injury_site="", begin_at=begin,
        end_at=end, status=status, ended_at=ended, ended_reason="", source="04",
        actor="app", msgid="")


def visit(med_type: str = "11", *, begin: datetime = NOW, end: datetime | None = None,
          emergency: bool = False, injury: bool = False, third_party: bool = False,
          area: str = THERE, institution: str = SITE.code) -> VisitFacts:
    return VisitFacts(mdtrt_id="M1", med_type=med_type, emergency=emergency, injury=injury,
                      third_party=third_party, begin=begin, end=end, institution=institution,
                      area=area, insured_area=HOME)


def basis(filings: list[Filing], care: VisitFacts, *, at: datetime = NOW,
          relationship: Relationship = REL, rules: Policy = POLICY) -> Away:
    return away.direct_basis(filings, care, site=SITE, relationship=relationship,
                             policy=rules, at=at)


def refused(code: str, call: object, *args: object, **kwargs: object) -> str:
    assert callable(call)
    with pytest.raises(Refused) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value
    return caught.value.detail


# ---------------------------------------------------------------- where and whether


def test_care_at_home_is_not_away_and_away_needs_a_networked_institution():
    assert not away.settles_away(REL, Site("H110001", HOME, networked=False))
    assert away.settles_away(REL, SITE)
    says = refused("E-FIL-001", away.settles_away, REL, Site("H130009", THERE, False))
    assert says == "H130009 (130102)"


# ---------------------------------------------------------------- basis by category


@pytest.mark.parametrize("filing_type, category, cut", [
    (FilingType.RESETTLED, Category.LONG_TERM, "0"),
    (FilingType.RESIDENT, Category.LONG_TERM, "0"),
    (FilingType.STATIONED, Category.LONG_TERM, "0"),
    (FilingType.REFERRAL, Category.REFERRAL, "0.10"),
    (FilingType.EMERGENCY, Category.EMERGENCY, "0.10"),
    (FilingType.TEMPORARY, Category.TEMPORARY, "0.20"),
])
def test_an_area_filing_gives_its_category_and_the_insured_places_cut(
        filing_type, category, cut):
    found = basis([filing("F1", filing_type)], visit())
    assert found == Away(category, "F1", Decimal(cut), None)


def test_special_disease_care_rests_on_a_filing_with_the_institution_only():
    with_it = filing("F1", FilingType.DISEASE, institution=SITE.code)
    with_another = filing("F2", FilingType.DISEASE, institution="H130002")
    care = visit(away.SPECIAL_DISEASE_MED_TYPE)
    assert basis([with_another, with_it], care) == Away(Category.LONG_TERM, "F1",
                                                         Decimal(0), None)
    says = refused("E-FIL-011", basis, [with_another, filing("F3")], care)
    assert says == "H130001: no special-disease filing in force here"


def test_special_disease_care_away_settles_only_where_the_institution_opened_the_disease():
    """The 2022 notice: the institution opened the service for that disease."""
    care = visit(away.SPECIAL_DISEASE_MED_TYPE)
    closed = filing("F1", FilingType.DISEASE, institution=SITE.code, disease="M01600")
    says = refused("E-FIL-015", basis, [closed], care)
    assert says == ("H130001 has not opened special-disease care away from home for "
                    "M01600 (F1)")
    opened = filing("F2", FilingType.DISEASE, institution=SITE.code, begin=NOW - 40 * DAY)
    assert basis([closed, opened], care).filing == "F2"  # the newest opened one
    nothing_opened = replace(SITE, diseases=frozenset())
    refused("E-FIL-015", away.direct_basis, [opened], care, site=nothing_opened,
            relationship=REL, policy=POLICY, at=NOW)
    # a claim (care paid in full) does not need the service
    over = replace(care, end=NOW)
    assert away.claim_basis([], closed, over, site=nothing_opened,
                            relationship=REL).filing == "F1"


def test_without_a_filing_care_is_unfiled_only_where_the_insured_place_settles_it():
    other_area = filing("F1", area=ELSEWHERE)
    says = refused("E-FIL-002", basis, [other_area], visit())
    assert "file with this area" in says and HOME in says
    assert basis([other_area], visit(), rules=policy(unfiled="0.30")) == Away(
        Category.UNFILED, None, Decimal("0.30"), None)


def test_a_category_the_insured_place_does_not_settle_directly_is_refused():
    rules = replace(POLICY, away={k: v for k, v in POLICY.away.items() if k != "referral"})
    says = refused("E-FIL-002", basis, [filing("F1", FilingType.REFERRAL)], visit(),
                   rules=rules)
    assert says == f"insured place {HOME} settles no referral care away from home directly"


def test_the_newest_covering_filing_counts_and_a_cancelled_one_never():
    older = filing("F1", FilingType.TEMPORARY, begin=NOW - 20 * DAY, end=NOW + DAY)
    newer = filing("F2", FilingType.REFERRAL, begin=NOW - 10 * DAY, end=NOW + DAY)
    assert basis([newer, older], visit()).filing == "F2"
    withdrawn = replace(newer, status=Status.CANCELLED, ended_at=NOW - DAY)
    assert basis([withdrawn, older], visit()).filing == "F1"


def test_a_superseded_filing_still_covers_what_its_validity_overlapped():
    superseded = filing("F1", status=Status.SUPERSEDED, ended=NOW + timedelta(hours=1))
    assert basis([superseded], visit()).filing == "F1"
    assert refused("E-FIL-002", basis, [superseded],
                   visit(begin=NOW + 2 * DAY), at=NOW + 2 * DAY)


def test_a_filing_registered_after_discharge_but_before_the_settlement_counts():
    """The 2022 notice: filed before the settlement, the stay settles directly."""
    late = filing("F1", FilingType.TEMPORARY, begin=NOW + DAY, end=NOW + 5 * DAY)
    care = visit(begin=NOW - 3 * DAY, end=NOW)
    assert basis([late], care, at=NOW + 2 * DAY) == Away(
        Category.TEMPORARY, "F1", Decimal("0.20"), None)
    assert refused("E-FIL-002", basis, [late], care, at=NOW + DAY - timedelta(seconds=1))
    assert away.serves(late, care, NOW + 2 * DAY)  # it keeps the unsettled stay
    late_disease = filing("F2", FilingType.DISEASE, institution=SITE.code, begin=NOW + DAY)
    special = visit(away.SPECIAL_DISEASE_MED_TYPE, begin=NOW - DAY, end=NOW)
    assert basis([late_disease], special, at=NOW + 2 * DAY).filing == "F2"
    late_declaration = declaration("D1", begin=NOW + DAY, injury=NOW - 2 * DAY)
    injured = visit("22", begin=NOW - DAY, end=NOW)
    assert basis([filing("F3"), late_declaration], injured,
                 at=NOW + 2 * DAY).declaration == "D1"


# ---------------------------------------------------------------- windows


def test_a_windows_end_is_exclusive():
    ends = datetime(2026, 5, 21)  # valid through 20 May
    temporary = filing("F1", FilingType.TEMPORARY, end=ends)
    last_moment = ends - timedelta(microseconds=1)
    assert basis([temporary], visit(begin=last_moment), at=last_moment).filing == "F1"
    assert refused("E-FIL-002", basis, [temporary], visit(begin=ends), at=ends)
    assert away.summary(temporary) == "F1 (temporary 130102, 2026-04-11..2026-05-20)"


def test_a_summary_names_the_place_and_the_ending():
    disease = filing("F1", FilingType.DISEASE, institution="H130001", status=Status.CANCELLED,
                     ended=NOW)
    assert away.summary(disease) == "F1 (disease H130001, 2026-04-11..2026-05-11, cancelled)"
    assert away.summary(filing("F2")) == "F2 (resident 130102, 2026-04-11..open)"


# ---------------------------------------------------------------- emergencies


@pytest.mark.parametrize("care", [
    visit("13"), visit("24"), visit("11", emergency=True), visit("21", emergency=True)])
def test_emergency_care_rests_on_the_emergency_without_a_filing(care):
    assert basis([], care) == Away(Category.EMERGENCY, None, Decimal("0.10"), None)


def test_emergency_care_rests_on_whichever_basis_the_insured_place_cuts_less():
    care = visit("13")
    assert basis([filing("F1")], care).category is Category.LONG_TERM  # 0 < 0.10
    assert basis([filing("F1", FilingType.TEMPORARY, end=NOW + DAY)], care) == Away(
        Category.EMERGENCY, None, Decimal("0.10"), None)  # 0.10 < 0.20
    # equal cuts: the filing (first)
    assert basis([filing("F1", FilingType.REFERRAL, end=NOW + DAY)], care).filing == "F1"


def test_emergency_care_under_a_filing_of_another_relationship_rests_on_the_emergency():
    then = Relationship("310", HOME, "OLD EMPLOYER")
    assert basis([filing("F1", relationship=then)], visit("13")).category is (
        Category.EMERGENCY)


# ---------------------------------------------------------------- relationship changes


@pytest.mark.parametrize("then, says", [
    (Relationship("310", HOME, "OLD"), "employer OLD (now ACME)"),
    (Relationship("390", HOME, "ACME"), "insutype 390 (now 310)"),
    (Relationship("310", "110108", "ACME"), "insured place 110108 (now 110105)"),
])
def test_a_filing_made_under_another_insured_relationship_needs_a_new_filing(then, says):
    message = refused("E-FIL-006", basis, [filing("F1", relationship=then)], visit())
    assert message == f"F1 was filed under {says}"


def test_the_newest_filing_made_under_the_current_relationship_counts():
    current = filing("F1", begin=NOW - 20 * DAY)
    stale = filing("F2", begin=NOW - 10 * DAY, relationship=Relationship("310", HOME, "OLD"))
    assert basis([stale, current], visit()).filing == "F1"


def test_a_disease_filing_of_another_relationship_is_refused_by_name():
    then = Relationship("390", HOME, "ACME")
    filed = filing("F1", FilingType.DISEASE, institution=SITE.code, relationship=then)
    message = refused("E-FIL-006", basis, [filed], visit(away.SPECIAL_DISEASE_MED_TYPE))
    assert message == "F1 was filed under insutype 390 (now 310)"


# ---------------------------------------------------------------- injury declarations


def declaration(serial: str, *, area: str = THERE, injury: datetime | None = NOW - DAY,
                **more: object) -> Filing:
    return filing(serial, FilingType.TRAUMA, area=area, injury=injury, **more)


@pytest.mark.parametrize("care", [visit("19"), visit("22"), visit("11", injury=True)])
def test_injury_care_rests_on_a_declaration_for_the_area(care):
    found = basis([filing("F1"), declaration("D1")], care)
    assert found == Away(Category.LONG_TERM, "F1", Decimal(0), "D1")
    says = refused("E-FIL-010", basis, [filing("F1")], care)
    assert says == "no declaration for care in 130102 on 2026-05-11 (mdtrt_id M1)"


def test_injury_care_with_a_liable_third_party_is_refused_first():
    care = visit("19", third_party=True)
    assert refused("E-FIL-007", basis, [declaration("D1")], care) == (
        "mdtrt_id M1 (REL_TTP_FLAG 1)")


def test_a_declaration_for_another_area_or_a_later_injury_does_not_count():
    care = visit("19")
    says = refused("E-FIL-012", basis, [declaration("D1", area=ELSEWHERE)], care)
    assert says == "D1 is for 310101, the care is in 130102"
    says = refused("E-FIL-010", basis, [declaration("D2", injury=NOW + DAY)], care,
                   at=NOW + 2 * DAY)
    assert says == "D2 declares an injury on 2026-05-12, after the care began (2026-05-11)"


def test_a_declaration_without_an_injury_time_declares_any_injury_and_the_newest_counts():
    care = visit("19")
    older, newer = declaration("D1", injury=None), declaration("D2", begin=NOW - DAY)
    assert basis([filing("F1"), newer, older], care).declaration == "D2"
    other = replace(newer, relationship=Relationship("390", HOME, "ACME"))
    assert basis([filing("F1"), other, older], care).declaration == "D1"
    assert refused("E-FIL-006", basis, [filing("F1"), other], care) == (
        "D2 was filed under insutype 390 (now 310)")


def test_a_cancelled_declaration_never_counts():
    withdrawn = declaration("D1", status=Status.CANCELLED, ended=NOW - DAY)
    refused("E-FIL-010", basis, [withdrawn], visit("19"))


# ---------------------------------------------------------------- what a filing serves


def test_a_filing_serves_the_care_it_would_be_the_basis_or_declaration_of():
    assert away.serves(filing("F1"), visit(), NOW)
    assert not away.serves(filing("F1", area=ELSEWHERE), visit(), NOW)
    assert not away.serves(filing("F1"), visit(area=HOME), NOW)  # at home none counts
    assert not away.serves(declaration("D1"), visit(), NOW)  # not injury care
    assert away.serves(declaration("D1"), visit("19"), NOW)
    disease = filing("F2", FilingType.DISEASE, institution=SITE.code)
    assert away.serves(disease, visit(away.SPECIAL_DISEASE_MED_TYPE), NOW)
    assert not away.serves(disease, visit(), NOW)


def test_a_claim_needs_a_declaration_covering_the_care_or_registered_after_it():
    over = visit("19", begin=NOW - 5 * DAY, end=NOW - 3 * DAY)
    assert away.claim_needs(declaration("D1", begin=NOW, injury=NOW - 6 * DAY), over)
    assert not away.claim_needs(declaration("D1", area=ELSEWHERE), over)
    assert not away.claim_needs(declaration("D1"), visit(begin=NOW - 5 * DAY))  # no injury
    assert not away.claim_needs(declaration("D1"), visit("19", area=HOME))


# ---------------------------------------------------------------- manual reimbursement


def claim_basis(named: Filing | None, care: VisitFacts,
                declarations: list[Filing] | None = None) -> Claimed:
    return away.claim_basis(declarations or [], named, care, site=SITE, relationship=REL)


OVER = visit(begin=NOW - 5 * DAY, end=NOW - 3 * DAY)


def test_a_claim_without_a_filing_is_unfiled_and_emergency_care_may_rest_on_the_emergency():
    assert claim_basis(None, OVER) == Claimed(Category.UNFILED, None, None, False)
    assert claim_basis(None, replace(OVER, med_type="13")).emergency
    special = replace(OVER, med_type=away.SPECIAL_DISEASE_MED_TYPE, emergency=True)
    assert not claim_basis(None, special).emergency


def test_a_claim_rests_on_a_named_filing_covering_the_care_or_registered_after_it():
    covering = filing("F1", FilingType.REFERRAL, begin=NOW - 10 * DAY, end=NOW)
    assert claim_basis(covering, OVER) == Claimed(Category.REFERRAL, "F1", None, False)
    after = filing("F2", FilingType.TEMPORARY, begin=NOW, end=NOW + DAY)
    assert claim_basis(after, OVER).filing == "F2"
    # a special-disease filing registered after the care counts too, as it would for a
    # settlement made after it (the 2022 notice)
    late_disease = filing("F3", FilingType.DISEASE, institution=SITE.code, begin=NOW)
    special = replace(OVER, med_type=away.SPECIAL_DISEASE_MED_TYPE)
    assert claim_basis(late_disease, special) == Claimed(Category.LONG_TERM, "F3", None,
                                                         False)


def test_a_named_filing_that_would_not_have_served_the_care_is_refused_with_its_summary():
    says = refused("E-FIL-002", claim_basis, filing("F1", area=ELSEWHERE), OVER)
    assert says == ("F1 (resident 310101, 2026-04-11..open): not for care at H130001 "
                    "(130102) on 2026-05-06")
    withdrawn = filing("F2", status=Status.CANCELLED, ended=NOW - DAY)
    says = refused("E-FIL-002", claim_basis, withdrawn, OVER)
    assert says.startswith("F2 (resident 130102, 2026-04-11..2026-05-10, cancelled)")
    elsewhere = filing("F3", FilingType.DISEASE, institution="H130002", begin=NOW)
    refused("E-FIL-011", claim_basis, elsewhere,
            replace(OVER, med_type=away.SPECIAL_DISEASE_MED_TYPE))
    then = Relationship("310", HOME, "OLD")
    assert refused("E-FIL-006", claim_basis, filing("F4", relationship=then), OVER) == (
        "F4 was filed under employer OLD (now ACME)")


def test_an_injury_claim_may_rest_on_a_declaration_registered_after_the_care():
    injured = replace(OVER, med_type="19")
    late = declaration("D1", begin=NOW, injury=NOW - 6 * DAY)
    assert claim_basis(None, injured, [late]).declaration == "D1"
    refused("E-FIL-010", claim_basis, None, injured, [])


def test_a_claims_cut_is_the_lesser_of_its_filing_and_an_emergency():
    assert away.claimed(POLICY, None) is None
    unfiled = Claimed(Category.UNFILED, None, "D1", emergency=False)
    assert away.claimed(POLICY, unfiled) == Away(Category.UNFILED, None, Decimal("0.20"), "D1")
    assert away.claimed(policy(unfiled="0.30"), unfiled).cut == Decimal("0.30")
    emergency = Claimed(Category.TEMPORARY, "F1", None, emergency=True)
    assert away.claimed(POLICY, emergency) == Away(Category.EMERGENCY, None,
                                                   Decimal("0.10"), None)
    long_term = Claimed(Category.LONG_TERM, "F1", None, emergency=True)
    assert away.claimed(POLICY, long_term) == Away(Category.LONG_TERM, "F1", Decimal(0), None)


# ---------------------------------------------------------------- properties over time spans

_HOURS = st.integers(-40 * 24, 40 * 24)


@st.composite
def area_filings(draw: st.DrawFn) -> list[Filing]:
    made = []
    for n in range(draw(st.integers(0, 6))):
        begin = NOW + timedelta(hours=draw(_HOURS))
        length = draw(st.none() | st.integers(1, 60 * 24))
        made.append(filing(
            f"F{n}", draw(st.sampled_from([FilingType.RESIDENT, FilingType.REFERRAL,
                                           FilingType.TEMPORARY])),
            begin=begin, end=None if length is None else begin + timedelta(hours=length),
            status=draw(st.sampled_from(list(Status))),
            area=draw(st.sampled_from([THERE, ELSEWHERE]))))
    return made


def _outcome(filings: list[Filing], care: VisitFacts, at: datetime) -> Away | str:
    try:
        return basis(filings, care, at=at, rules=policy(unfiled="0.30"))
    except Refused as refusal:
        return refusal.code


@given(area_filings(), _HOURS, st.none() | st.integers(0, 30 * 24), st.integers(0, 40 * 24),
       st.randoms())
def test_the_basis_is_the_newest_standing_filing_covering_the_care_in_any_order(
        filings, begin_h, stay_h, later_h, rnd: random.Random):
    begin = NOW + timedelta(hours=begin_h)
    end = None if stay_h is None else begin + timedelta(hours=stay_h)
    at = (end or begin) + timedelta(hours=later_h)
    care = visit(begin=begin, end=end)
    found = _outcome(filings, care, at)
    shuffled = list(filings)
    rnd.shuffle(shuffled)
    assert _outcome(shuffled, care, at) == found
    span = away.Span(begin, end, at)
    covering = [f for f in filings if f.status is not Status.CANCELLED and f.area == THERE
                and span.covered_by(f)]
    if covering:
        newest = max(covering, key=lambda f: (f.begin_at, f.serial))
        assert isinstance(found, Away) and found.filing == newest.serial
        assert away.serves(newest, care, at)
        # registered by the moment of settlement (even after discharge: the 2022
        # notice); valid after the care began (the end is exclusive)
        assert newest.begin_at <= at
        until = window_of(newest).until
        assert until is None or until > begin
    else:
        assert found == Away(Category.UNFILED, None, Decimal("0.30"), None)


@given(st.integers(1, 60 * 24), st.integers(-60 * 24, 60 * 24))
def test_a_filing_covers_a_visit_beginning_before_its_end_and_none_from_its_end(
        length_h, offset_h):
    begin = NOW - 90 * DAY
    ends = begin + timedelta(hours=length_h)
    temporary = filing("F1", FilingType.TEMPORARY, begin=begin, end=ends)
    starts = ends + timedelta(hours=offset_h)
    if starts < begin:
        return
    covered = away.serves(temporary, visit(begin=starts), starts)
    assert covered == (starts < ends)
