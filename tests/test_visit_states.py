"""The visit's statuses and the transition table (domain/visit_states.py): pure, no
database."""

from __future__ import annotations

import pytest

from yibao.domain import states
from yibao.domain.errors import Refused
from yibao.domain.visit_states import (
    START,
    TRANSITIONS,
    VisitAction,
    VisitStatus,
    after,
    require,
)

S, A = VisitStatus, VisitAction


def test_statuses_are_the_values_the_database_allows() -> None:
    assert tuple(s.value for s in VisitStatus) == states.VISIT
    assert START is S.OPEN


@pytest.mark.parametrize(("action", "before", "expected"), [
    (A.CANCEL, S.OPEN, S.CANCELLED),
    (A.DISCHARGE, S.OPEN, S.DISCHARGED),
    (A.UNDO_DISCHARGE, S.DISCHARGED, S.OPEN),
    (A.CLOSE_SELFPAID, S.OPEN, S.SELFPAID),
    (A.WITHDRAW_BILL, S.SELFPAID, S.CANCELLED),
    # online manual reimbursement: an outpatient visit (open) or a discharged stay
    (A.CLAIM_UPLOADED, S.OPEN, S.SELFPAID),
    (A.CLAIM_UPLOADED, S.DISCHARGED, S.SELFPAID),
])
def test_each_allowed_move(action: VisitAction, before: VisitStatus,
                           expected: VisitStatus) -> None:
    assert after(action, before, "M1") is expected
    assert after(action, before.value, "M1") is expected  # as read from a row


def test_the_table_holds_exactly_these_moves() -> None:
    moves = {(a, s) for a, by_status in TRANSITIONS.items() for s in by_status}
    assert moves == {(A.CANCEL, S.OPEN), (A.DISCHARGE, S.OPEN),
                     (A.CLAIM_UPLOADED, S.OPEN), (A.CLAIM_UPLOADED, S.DISCHARGED),
                     (A.UNDO_DISCHARGE, S.DISCHARGED), (A.CLOSE_SELFPAID, S.OPEN),
                     (A.WITHDRAW_BILL, S.SELFPAID)}
    assert set(TRANSITIONS) == set(VisitAction)


def test_every_move_not_in_the_table_is_refused_as_the_wrong_state() -> None:
    for action in VisitAction:
        for status in VisitStatus:
            if status in TRANSITIONS[action]:
                continue
            with pytest.raises(Refused) as refused:
                after(action, status, "M9")
            assert refused.value.code == "E-VIS-002"
            assert refused.value.detail == f"visit M9 is {status}"


def test_nothing_moves_a_cancelled_visit() -> None:
    assert all(S.CANCELLED not in by_status for by_status in TRANSITIONS.values())


def test_require() -> None:
    require("open", "M1", S.OPEN, S.DISCHARGED)
    with pytest.raises(Refused) as refused:
        require("selfpaid", "M2", S.OPEN)
    assert (refused.value.code, refused.value.detail) == ("E-VIS-002", "visit M2 is selfpaid")


def test_settlement_kinds_are_the_values_the_database_allows() -> None:
    assert tuple(k.value for k in states.SettlementKind) == states.SETTLEMENT_KINDS
    assert states.SETTLEMENT_CANCEL == states.SettlementKind.CANCEL
    assert set(states.CLEARED_KINDS) == {"settle", "cancel"}
