"""The pure rules of designated institutions (domain/designation.py), no database: the
limit on the busiest day, how a change or cancellation ends a designation, who needs one."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from yibao.domain.designation import (
    Designation,
    OpenKind,
    Rule,
    Status,
    check_room,
    ending_before,
    is_emergency,
    needs_designation,
)
from yibao.domain.errors import Refused

RULE = Rule(4, frozenset({OpenKind.A_CLASS, OpenKind.COMMUNITY}))
MAY = date(2026, 5, 11)


def held(code: str, order: int, begin: date, end: date | None = None,
         status: Status = Status.ACTIVE) -> Designation:
    return Designation(f"D{code}", "P", "310", order, code, begin, end, status, "04", "app",
                       "channel", "", datetime(2026, 1, 1), None, "", "")


def test_a_change_from_a_later_day_never_counts_twice():
    kept = [held("A", 1, date(2024, 1, 1), date(2026, 5, 31)), held("B", 1, date(2026, 6, 1)),
            held("C", 2, MAY), held("D", 3, MAY)]
    assert check_room(RULE, kept, code="E", order=None, begin=MAY) == 4
    with pytest.raises(Refused) as full:
        check_room(RULE, [*kept, held("E", 4, MAY)], code="F", order=None, begin=MAY)
    assert full.value.code == "E-DES-002"


def test_duplicates_and_order_numbers():
    kept = [held("A", 1, MAY)]
    for code, order, expected in (("A", None, "E-DES-005"), ("B", 1, "E-DES-005"),
                                  ("B", 5, "E-DES-004")):
        with pytest.raises(Refused) as refusal:
            check_room(RULE, kept, code=code, order=order, begin=MAY)
        assert refusal.value.code == expected
    cancelled = [held("A", 1, MAY, status=Status.CANCELLED)]
    assert check_room(RULE, cancelled, code="A", order=None, begin=MAY) == 1


def test_ending_keeps_history_or_cancels_what_had_not_begun():
    old = held("A", 1, date(2024, 1, 1))
    assert ending_before(old, date(2026, 6, 1)).end == date(2026, 5, 31)
    today = held("B", 2, MAY)
    assert ending_before(today, MAY).status is Status.CANCELLED


def test_who_needs_a_designation():
    assert needs_designation(RULE, kind="hospital", open_kind="", at_home=True)
    assert needs_designation(RULE, kind="hospital", open_kind="tcm", at_home=True)  # not open here
    assert not needs_designation(RULE, kind="hospital", open_kind="a_class", at_home=True)
    assert not needs_designation(RULE, kind="pharmacy", open_kind="", at_home=True)
    assert not needs_designation(RULE, kind="hospital", open_kind="", at_home=False)
    assert not needs_designation(None, kind="hospital", open_kind="", at_home=True)
    assert is_emergency("13", False) and is_emergency("1301", False)
    assert is_emergency("11", True) and not is_emergency("11", False)
