"""Pharmacy purchases (2101/2102), the pure rules: the personal-account use of a
purchase (own account, or a bound family member's 共济 account), the longest supply of a
drug line and the early-refill rule. No I/O: services/pharmacy.py fetches the facts.

The supply rules read the policy's ``Supply`` (domain/policy.py): the longest supply of
an item, by catalogue item, by the registered disease of a special-disease purchase, or
the default; and the share of a previous supply that may still be left when the same
item is bought again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum

from yibao.domain.errors import Refused
from yibao.domain.money import Fen
from yibao.domain.policy import Supply

SUPPLY_DAYS_MAX = 366  # prd_days is a 4,2 number; a year is the most anything supplies


class AccountUse(StrEnum):
    """acct_used_flag: 0 no account, 1 the person's own, 2 also a family member's
    (使用共济人个账, added to the standard in V1.1.22)."""

    NONE = "0"
    OWN = "1"
    MUTUAL_AID = "2"


def mutual_aid_amount(cash: Fen, family_balance: Fen) -> Fen:
    """What a family member's account pays of the ``cash`` left after the person's own
    account: all of it, or the family member's balance when that is less."""
    assert cash >= 0 and family_balance >= 0, (cash, family_balance)
    return min(cash, family_balance)


@dataclass(frozen=True, slots=True)
class MutualAid:
    """A settlement's split once a family member's account paid ``paid`` of its cash:
    acct_pay includes ``paid`` (the standard: 个人账户支出中包含账户共济支付金额)."""

    acct_pay: Fen
    cash: Fen
    paid: Fen


def with_mutual_aid(acct_pay: Fen, cash: Fen, family_balance: Fen) -> MutualAid:
    paid = mutual_aid_amount(cash, family_balance)
    out = MutualAid(acct_pay + paid, cash - paid, paid)
    assert out.acct_pay + out.cash == acct_pay + cash, out  # psn_part_amt is unchanged
    return out


def check_mutual_aid(*, allowed: bool, policy_id: str, bound: bool, same_place: bool,
                     payer: str) -> None:
    """May ``payer``'s account pay for the buyer: the insured place's policy allows 共济
    (``[pharmacy] mutual_aid``), the two are bound as family (an active binding both
    accepted) and insured in the same place."""
    if not allowed:
        raise Refused("E-PHA-004", f"policy {policy_id} has no mutual-aid account payment")
    if not bound:
        raise Refused("E-PHA-005", f"{payer} is not a bound family member of the buyer")
    if not same_place:
        raise Refused("E-PHA-005", f"{payer} is insured in another place")


# ---------------------------------------------------------------- long prescriptions


@dataclass(frozen=True, slots=True)
class DrugLine:
    """What the supply rules read of a purchase's line."""

    feedetl_sn: str
    code: str  # med_list_codg
    days: int | None  # prd_days, rounded up to whole days; None: not stated


def supply_days(prd_days: Decimal | None) -> int | None:
    """prd_days (周期天数, 4,2) as whole days, rounded up; None when not stated."""
    if prd_days is None:
        return None
    if prd_days <= 0 or prd_days > SUPPLY_DAYS_MAX:
        raise Refused("E-ENV-005", f"prd_days {prd_days} must be within 0..{SUPPLY_DAYS_MAX}")
    return int(prd_days.to_integral_value(rounding=ROUND_CEILING))


def longest_supply(supply: Supply, code: str, disease: str) -> int:
    """The longest supply of ``code`` in days: the item's own limit, else the registered
    disease's (a special-disease purchase names the disease it was filed for, ``""``
    otherwise), else the chronic limit for any registered disease, else the default."""
    if code in supply.items:
        return supply.items[code]
    if disease:
        return supply.diseases.get(disease, supply.chronic_days)
    return supply.default_days


def check_longest(supply: Supply, line: DrugLine, disease: str) -> None:
    if line.days is None:
        return
    longest = longest_supply(supply, line.code, disease)
    if line.days > longest:
        raise Refused("E-PHA-010", f"feedetl_sn {line.feedetl_sn}: {line.code} for "
                      f"{line.days} days, at most {longest}")


@dataclass(frozen=True, slots=True)
class Previous:
    """An earlier supply of the same item to the same person, still in force."""

    setl_id: str
    begin: datetime
    days: int


def days_left(previous: Previous, now: datetime) -> Decimal:
    end = previous.begin + timedelta(days=previous.days)
    left = Decimal((end - now).total_seconds()) / Decimal(86400)
    return max(Decimal(0), left)


def check_refill(supply: Supply, line: DrugLine, previous: Previous | None,
                 now: datetime) -> None:
    """An early refill is refused: a new purchase of an item while an earlier supply of
    it still covers more than ``refill_left`` of its days (e.g. a third)."""
    if previous is None:
        return
    left = days_left(previous, now)
    if left > supply.refill_left * previous.days:
        raise Refused("E-PHA-011", f"feedetl_sn {line.feedetl_sn}: {line.code} supplied by "
                      f"{previous.setl_id} for {previous.days} days from "
                      f"{previous.begin:%Y-%m-%d}, {left:.1f} days left (refill from "
                      f"{supply.refill_left:.0%} left)")
