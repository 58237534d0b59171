"""The advance fund between regions and prepayment by need (pure rules).

The 2022 notice (医保发〔2022〕22号): inter-provincial care is paid first from an advance
fund (预付金) the insured place places with the treatment place, and cleared afterwards
(先预付后清算); the interest the fund earns belongs to the treatment place (就医地).
The 2020 epidemic measures (医保办发〔2020〕9号): designated hospitals may be
prepaid "according to actual needs" (按需预付), on a proposal that a second operator
approves.

No I/O here: the services fetch balances and history, these rules decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from yibao.domain.errors import Refused
from yibao.domain.money import (
    Fen,
    MoneyError,
    floor_average,
    interest_half_up,
    round_fen,
    yuan_to_fen,
)

REGION_PATTERN_LENGTH = 6
REASON_LENGTH_MAX = 200
AMOUNT_FEN_MAX = 9_999_999_999  # 99,999,999.99 yuan: one advance or prepayment at most


@dataclass(frozen=True, slots=True)
class Terms:
    """An insured place's terms for its advance funds (policy ``[advance]``): the
    annual interest rate the treatment place earns, the days of the interest year, the
    months of history the low warning averages and how many such months the fund
    should still cover."""

    interest_rate: Decimal
    day_count: int
    average_months: int
    low_months: Decimal


NO_TERMS = Terms(Decimal(0), 360, 3, Decimal(0))  # no [advance]: no interest, low at 0


def check_pair(insured: str, treatment: str) -> None:
    """Two different places, each a 6-digit division code (E-ADV-001)."""
    for place in (insured, treatment):
        if len(place) != REGION_PATTERN_LENGTH or not place.isdigit():
            raise Refused("E-ADV-001", f"a place is a 6-digit division code, not {place[:20]!r}")
    if insured == treatment:
        raise Refused("E-ADV-001", f"the insured place and the treatment place are both "
                      f"{insured}: an advance fund is between two places")


def check_amount(amount: Fen, what: str) -> Fen:
    """A positive amount within the maximum (E-ADV-002)."""
    if not 0 < amount <= AMOUNT_FEN_MAX:
        raise Refused("E-ADV-002", f"{what} must be more than 0.00 and at most "
                      "99999999.99 yuan")
    return amount


def parse_amount(yuan: str, what: str) -> Fen:
    """An amount typed in yuan (``"1000000.00"``): positive, two decimals at most."""
    try:
        fen = yuan_to_fen(yuan.strip(), field=what)
    except MoneyError as exc:
        raise Refused("E-ADV-002", str(exc)[:120]) from exc
    return check_amount(fen, what)


def drawn(owed: Fen, balance: Fen) -> Fen:
    """What a month's amount between regions takes from the advance fund: all of it if
    the fund holds enough, else what the fund holds; nothing when nothing is owed."""
    return max(0, min(owed, balance))


def balance_days(opening: Fen, moves: Iterable[tuple[int, Fen]], days: int) -> int:
    """The sum of each day's closing balance over a month of ``days`` days: ``opening``
    is the balance before its first day, ``moves`` the entries as (day of month 1..days,
    signed fen)."""
    assert days > 0
    by_day = [0] * (days + 1)
    for day, amount in moves:
        assert 1 <= day <= days, day
        by_day[day] += amount
    total, balance = 0, opening
    for day in range(1, days + 1):
        balance += by_day[day]
        total += balance
    return total


def interest(days_of_balance: int, terms: Terms) -> Fen:
    """A month's interest on the advance fund, earned by the treatment place."""
    return interest_half_up(days_of_balance, terms.interest_rate, terms.day_count)


def low_threshold(recent: Sequence[Fen], terms: Terms) -> Fen:
    """The balance below which the fund runs low: ``low_months`` times the average of
    the recent closed months' amounts (those owed: a negative month counts as 0)."""
    if not recent:
        return 0
    average = floor_average(sum(max(0, a) for a in recent), len(recent))
    return round_fen(Decimal(average) * terms.low_months)


def is_low(balance: Fen, threshold: Fen) -> bool:
    """Low: below the threshold, or nothing left at all."""
    return balance <= 0 or balance < threshold


# ---------------------------------------------------------------- prepayment by need

PROPOSED = "proposed"
APPROVED = "approved"
REJECTED = "rejected"
PROPOSAL_STATES = (PROPOSED, APPROVED, REJECTED)


def check_reason(reason: str) -> str:
    text = reason.strip()
    if not 1 <= len(text) <= REASON_LENGTH_MAX:
        raise Refused("E-ADV-002", f"a reason of 1..{REASON_LENGTH_MAX} characters is needed")
    return text


def check_decidable(proposal_id: str, status: str, decided_by: str | None) -> None:
    """A proposal is approved or rejected once (E-ADV-004)."""
    if status != PROPOSED:
        raise Refused("E-ADV-004", f"{proposal_id} was already {status} by {decided_by}")
