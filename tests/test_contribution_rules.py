"""The pure contribution rules (domain/contribution.py), no database: benefits end, the
late fee (hypothesis: integer fen, never negative, zero when deferred), continuity, the
history's coverage and the declared period's extension."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.domain.contribution import (
    PAID,
    Declared,
    Period,
    Standing,
    Status,
    Terms,
    benefits_end,
    check_covered,
    covered_on,
    days_late,
    extended_end,
    late_fee,
    restores_continuity,
)
from yibao.domain.errors import Refused

BEIJING = Terms(grace_days=90, late_fee_rate=Decimal("0.0005"), extension_days=90)
MARCH = date(2026, 3, 1)


def test_benefits_end_by_status():
    assert benefits_end(PAID, BEIJING) is None
    assert benefits_end(Standing(Status.DEFERRED, MARCH), BEIJING) is None
    assert benefits_end(Standing(Status.DEFERRED, MARCH, date(2026, 3, 31)),
                        BEIJING) == date(2026, 6, 30)
    assert benefits_end(Standing(Status.ARREARS, MARCH), BEIJING) == date(2026, 5, 30)
    assert benefits_end(Standing(Status.SUSPENDED, MARCH), BEIJING) == MARCH


def test_check_covered_names_the_code():
    check_covered(Standing(Status.ARREARS, MARCH), BEIJING, date(2026, 5, 29), "310")
    with pytest.raises(Refused) as arrears:
        check_covered(Standing(Status.ARREARS, MARCH), BEIJING, date(2026, 5, 30), "310")
    assert arrears.value.code == "E-PSN-018"
    with pytest.raises(Refused) as suspended:
        check_covered(Standing(Status.SUSPENDED, MARCH), BEIJING, MARCH, "310")
    assert suspended.value.code == "E-PSN-019"


def test_the_late_fee_of_social_insurance_law_article_86():
    standing = Standing(Status.ARREARS, MARCH)
    assert days_late(standing, date(2026, 5, 20)) == 80
    assert late_fee(100_000, 80, BEIJING.late_fee_rate) == 4_000  # 1000.00 → 40.00
    assert late_fee(1, 1, BEIJING.late_fee_rate) == 0  # 0.0005 fen rounds half-up to 0
    assert late_fee(1_000, 1, BEIJING.late_fee_rate) == 1  # 0.5 fen rounds up


@given(owed=st.integers(0, 10**12), start=st.dates(date(2000, 1, 1), date(2040, 1, 1)),
       length=st.integers(0, 400), paid=st.integers(0, 3000),
       rate=st.decimals(Decimal(0), Decimal("0.01"), places=6))
def test_the_late_fee_is_whole_fen_never_negative_and_zero_while_deferred(
        owed, start, length, paid, rate):
    until = start + timedelta(days=length)
    paid_on = start + timedelta(days=paid)
    for standing in (Standing(Status.ARREARS, start), Standing(Status.DEFERRED, start, until)):
        fee = late_fee(owed, days_late(standing, paid_on), rate)
        assert isinstance(fee, int) and 0 <= fee <= owed
        if standing.status is Status.DEFERRED and paid_on <= until:
            assert fee == 0
    assert late_fee(owed, days_late(PAID, paid_on), rate) == 0


def test_a_payment_within_the_grace_restores_continuity():
    arrears = Standing(Status.ARREARS, MARCH)
    assert restores_continuity(arrears, BEIJING, date(2026, 5, 29))
    assert not restores_continuity(arrears, BEIJING, date(2026, 5, 30))


def test_the_history_covers_the_arrears_window_closed_within_the_grace():
    day = date(2026, 6, 5)  # beyond the grace
    open_arrears = [Period(Status.ARREARS, MARCH, None)]
    assert not covered_on(open_arrears, BEIJING, day)
    closed = [Period(Status.ARREARS, MARCH, date(2026, 6, 10), continuous=True),
              Period(Status.PAID, date(2026, 6, 10), None)]
    assert covered_on(closed, BEIJING, day)
    gap = [Period(Status.ARREARS, MARCH, date(2026, 6, 10)),
           Period(Status.PAID, date(2026, 6, 10), None)]
    assert not covered_on(gap, BEIJING, day) and covered_on(gap, BEIJING, date(2026, 6, 10))
    assert covered_on([], BEIJING, day)  # before the history: paid
    assert not covered_on([Period(Status.SUSPENDED, MARCH, None)], BEIJING, MARCH)


def test_a_registration_ending_inside_a_declared_period_is_extended():
    declared = [Declared("110000", date(2026, 6, 1), date(2026, 7, 31))]
    end = datetime(2026, 7, 1)  # valid through 30 June
    assert extended_end(end, declared, "110000", BEIJING) == datetime(2026, 10, 30)
    assert extended_end(end, declared, "130102", BEIJING) == end
    assert extended_end(datetime(2026, 6, 1), declared, "110000", BEIJING) == datetime(2026, 6, 1)
    assert extended_end(None, declared, "110000", BEIJING) is None


def test_the_policy_files_carry_their_contribution_terms():
    from yibao.domain.policy import PolicyError, _contribution
    from yibao.store.policy_files import load_policies

    terms = {p.policy_id: p.contribution for p in load_policies()}
    assert terms["110000-310-2024"] == BEIJING
    assert terms["130102-310-2024"].grace_days == 60
    with pytest.raises(PolicyError):
        _contribution({"grace_days": 90, "late_fee_daily_rate": "0.0005"})  # no source
    with pytest.raises(PolicyError):
        _contribution({"grace_days": -1, "late_fee_daily_rate": "0.0005", "source": "s"})
