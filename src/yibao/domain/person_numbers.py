"""Identity upkeep (人员编号变更, the 2022 notice): the rules of a personal number's change
and of the merge of two records of one person, over plain records; no I/O.

- A *renumbering* gives a person a new psn_no that no person holds and that never was
  a number of anyone (an old number keeps answering for its person: docs/identity-upkeep.md).
- A *merge* moves everything of a duplicate record into the surviving one. The two must
  be insured in the same place. They are the same person when their ID numbers are the
  same once written alike (``same_id_number``: upper-case X, a 15-digit number of the
  1980s and 1990s written as its 18-digit form); otherwise an operator states why they
  are one person anyway (a reason of at least ``REASON_LENGTH_MIN`` characters).
- Neither may happen while an online order of either holds money (fund, account or
  room held until the platform's payment): the order is settled, cancelled or expires
  within its lifetime, then the change is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from yibao.domain.errors import Refused

REASON_LENGTH_MIN = 4  # a stated reason is more than a character or two
REASON_LENGTH_MAX = 300
PSN_NO_LENGTH_MAX = 30
ALIAS_HOPS_MAX = 16  # a number renumbered again and again: followed at most this far
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


class ChangeKind(StrEnum):
    RENUMBER = "renumber"  # one record, a new number
    MERGE = "merge"  # a duplicate record folded into the surviving one


@dataclass(frozen=True, slots=True)
class Record:
    """What the rules read of a person's record."""

    psn_no: str
    certno: str
    insuplc_admdvs: str
    holding_orders: int  # online orders of the person holding money now


def id_number_18(certno: str) -> str:
    """An ID number written as its 18-digit form, upper case; a 15-digit number (born
    19xx) gets its century and check digit; anything else is only upper-cased."""
    text = certno.strip().upper()
    if len(text) != 15 or not text.isdigit():
        return text
    body = f"{text[:6]}19{text[6:]}"
    total = sum(int(digit) * weight for digit, weight in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK[total % 11]


def same_id_number(a: str, b: str) -> bool:
    return id_number_18(a) == id_number_18(b)


def check_number(psn_no: str) -> str:
    """A psn_no as typed: 1..30 letters, digits, '-' or '_' (E-PSN-017)."""
    text = psn_no.strip()
    if not 1 <= len(text) <= PSN_NO_LENGTH_MAX or not all(
            c.isascii() and (c.isalnum() or c in "-_") for c in text):
        raise Refused("E-PSN-017", f"psn_no {text[:PSN_NO_LENGTH_MAX]!r}")
    return text


def check_reason(reason: str, *, required: bool) -> str:
    text = " ".join(reason.split())
    if len(text) > REASON_LENGTH_MAX:
        raise Refused("E-PSN-015", f"the reason is longer than {REASON_LENGTH_MAX} characters")
    if required and len(text) < REASON_LENGTH_MIN:
        raise Refused("E-PSN-015", "the ID numbers differ: state why the two records are "
                      f"one person (at least {REASON_LENGTH_MIN} characters)")
    return text


def check_renumber(record: Record, new_psn_no: str, *, taken: bool, reason: str) -> str:
    """May ``record`` be given ``new_psn_no``? The reason to keep (required)."""
    if new_psn_no == record.psn_no:
        raise Refused("E-PSN-012", f"psn_no {new_psn_no} is already the person's number")
    if taken:
        raise Refused("E-PSN-013", f"psn_no {new_psn_no} is or was a person's number")
    _check_not_holding(record)
    return check_reason(reason, required=True)


def check_merge(duplicate: Record, survivor: Record, *, reason: str) -> str:
    """May ``duplicate`` be merged into ``survivor``? The reason to keep (required when
    their ID numbers differ)."""
    if duplicate.psn_no == survivor.psn_no:
        raise Refused("E-PSN-012", f"psn_no {survivor.psn_no} cannot be merged into itself")
    if duplicate.insuplc_admdvs != survivor.insuplc_admdvs:
        raise Refused("E-PSN-014", f"{duplicate.psn_no} is insured in "
                      f"{duplicate.insuplc_admdvs}, {survivor.psn_no} in "
                      f"{survivor.insuplc_admdvs}")
    _check_not_holding(duplicate)
    _check_not_holding(survivor)
    return check_reason(reason, required=not same_id_number(duplicate.certno,
                                                            survivor.certno))


def _check_not_holding(record: Record) -> None:
    if record.holding_orders:
        raise Refused("E-PSN-016", f"psn_no {record.psn_no} has {record.holding_orders} "
                      "online order(s) holding money: wait until paid, cancelled or expired")
