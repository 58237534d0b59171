"""The pure trust rules (domain/trust.py): attestation freshness, ages, plausibility."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from yibao.domain import trust
from yibao.domain.errors import Refused

NOW = datetime(2026, 5, 11, 9, 30)


def code_of(action) -> str:
    with pytest.raises(Refused) as caught:
        action()
    return caught.value.code


@pytest.mark.parametrize("method, ref, at", [
    ("none", "REF-00000001", NOW), ("FACE_LIVENESS", "REF-00000001", NOW),
    ("face_liveness", "short", NOW), ("face_liveness", "REF 00000001", NOW),
    ("face_liveness", "REF-00000001", None),
    ("face_liveness", "REF-00000001", NOW + timedelta(seconds=1)),
    ("face_liveness", "REF-00000001", NOW - trust.ATTESTATION_AGE_MAX - timedelta(seconds=1)),
])
def test_an_attestation_is_refused_unless_listed_referenced_and_fresh(method, ref, at):
    sent = trust.Attestation(method, ref, at)
    assert code_of(lambda: trust.check_attestation(sent, NOW)) == "E-ECT-012"


def test_an_attestation_at_the_edges_of_its_window_counts():
    for at in (NOW, NOW - trust.ATTESTATION_AGE_MAX):
        sent = trust.Attestation("in_person_window", "WIN:2026-05-11.007", at)
        assert trust.check_attestation(sent, NOW) is sent
    assert code_of(lambda: trust.check_attestation(None, NOW)) == "E-ECT-012"


def test_ages_count_completed_years_even_for_a_leap_day_birth():
    assert trust.age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert trust.age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18
    assert trust.age_on(date(1985, 3, 15), date(2026, 3, 15)) == 41


def test_relations_must_be_plausible_from_birth_dates():
    holder, today = date(1985, 3, 15), date(2026, 5, 11)
    trust.check_relation("parent", holder, date(1970, 3, 15), today)  # exactly 15 older
    for relation, other in (("parent", date(1970, 3, 16)), ("parent", date(1990, 7, 7)),
                            ("child", date(1990, 1, 1)), ("spouse", date(2010, 1, 1)),
                            ("guardian", date(2012, 1, 1))):
        assert code_of(lambda r=relation, o=other: trust.check_relation(
            r, holder, o, today)) == "E-ECT-016", relation
    trust.check_relation("other", holder, date(2020, 1, 1), today)
    assert trust.needs_guardianship("child", date(2010, 1, 1), today)
    assert not trust.needs_guardianship("child", date(2008, 5, 11), today)  # 18 today
    assert not trust.needs_guardianship("other", date(2015, 1, 1), today)


def test_the_first_period_and_the_binding_limit():
    until = trust.probation_end(NOW, active_elsewhere=True)
    assert until == NOW + timedelta(hours=24)
    assert trust.probation_end(NOW, active_elsewhere=False) is None
    assert code_of(lambda: trust.check_settled(until, until - timedelta(seconds=1))) == (
        "E-ECT-013")
    trust.check_settled(until, until)
    trust.check_bindings_room(trust.BINDINGS_MAX - 1)
    assert code_of(lambda: trust.check_bindings_room(trust.BINDINGS_MAX)) == "E-ECT-018"


def test_a_minor_has_at_most_two_guardians_and_requests_are_limited():
    trust.check_guardians_room(trust.GUARDIANS_MAX - 1)
    assert code_of(lambda: trust.check_guardians_room(trust.GUARDIANS_MAX)) == "E-ECT-022"
    trust.check_request_rate(trust.REQUESTS_BY_HOLDER_MAX - 1,
                             trust.REQUESTS_TO_RELATIVE_MAX - 1)
    assert code_of(lambda: trust.check_request_rate(
        trust.REQUESTS_BY_HOLDER_MAX, 0)) == "E-ECT-023"
    assert code_of(lambda: trust.check_request_rate(
        0, trust.REQUESTS_TO_RELATIVE_MAX)) == "E-ECT-023"
