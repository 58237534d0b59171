"""The claim's statuses and the moves between them (domain/claims.py): pure, no database,
no HTTP."""

from __future__ import annotations

import pytest

from yibao.domain import claims, states
from yibao.domain.claims import FIRST_APPROVED, TRANSITIONS, Action, ClaimStatus

S = ClaimStatus


def test_the_statuses_are_the_values_the_database_allows():
    assert [s.value for s in ClaimStatus] == list(states.CLAIM)
    assert set(states.CLAIM_STEP) == {*states.CLAIM, FIRST_APPROVED}
    assert set(claims.APPROVALS) <= set(states.CLAIM_STEP)


@pytest.mark.parametrize(("status", "action", "to"), [
    (S.ELIGIBLE, Action.APPLY, S.SUBMITTED),
    (S.ELIGIBLE, Action.WITHDRAW, S.WITHDRAWN),
    (S.SUBMITTED, Action.REVIEW, S.UNDER_REVIEW),
    (S.SUBMITTED, Action.REJECT, S.REJECTED),
    (S.UNDER_REVIEW, Action.REJECT, S.REJECTED),
    (S.UNDER_REVIEW, Action.FIRST_APPROVE, S.UNDER_REVIEW),
    (S.UNDER_REVIEW, Action.APPROVE, S.APPROVED),
    (S.UNDER_REVIEW, Action.APPROVE_PARTLY, S.PARTLY_APPROVED),
    (S.APPROVED, Action.PAY, S.PAID),
    (S.PARTLY_APPROVED, Action.PAY, S.PAID),
])
def test_each_allowed_move(status, action, to):
    assert claims.after(status, action) is to
    assert claims.after(status.value, action) is to  # as the row holds it
    assert claims.may(status, action)


def test_every_other_move_is_refused():
    allowed = set(TRANSITIONS)
    for status in ClaimStatus:
        for action in Action:
            assert claims.may(status, action) == ((status, action) in allowed)
    assert len(allowed) == 10


@pytest.mark.parametrize("status", [S.REJECTED, S.PAID, S.WITHDRAWN])
def test_a_closed_claim_moves_no_more(status):
    assert not any(claims.may(status, action) for action in Action)


def test_a_submitted_claim_is_reviewed_before_it_is_approved_and_paid_after():
    assert not claims.may(S.SUBMITTED, Action.APPROVE)
    assert not claims.may(S.SUBMITTED, Action.PAY)
    assert not claims.may(S.UNDER_REVIEW, Action.PAY)
    assert not claims.may(S.ELIGIBLE, Action.REVIEW)  # applied for first


def test_an_applied_claim_is_no_longer_withdrawn_by_the_institution():
    for status in ClaimStatus:
        if status is not S.ELIGIBLE:
            assert not claims.may(status, Action.WITHDRAW)


def test_an_unknown_status_allows_nothing():
    assert claims.after("cancelled", Action.REVIEW) is None


def test_the_step_of_a_move():
    assert claims.step_of(Action.FIRST_APPROVE, S.UNDER_REVIEW) == FIRST_APPROVED
    assert claims.step_of(Action.APPROVE, S.APPROVED) == "approved"
    assert claims.step_of(Action.APPLY, S.SUBMITTED) == "submitted"


def test_the_reasons_fit_their_column():
    assert all(len(code) <= 20 for code in claims.REASONS)
