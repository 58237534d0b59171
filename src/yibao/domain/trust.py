"""What a channel may assert about a person, and what needs the person (docs/security.md,
"Channels"). Pure rules: plain data in, a decision or a ``Refused`` out.

- A real-person attestation names one of ``METHODS``, the channel's own reference of its
  check and the time of the check, at most ``ATTESTATION_AGE_MAX`` old and not in the
  future. A bare yes/no flag, "none" or an unknown method is refused (E-ECT-012).
- A channel activated while the person is active in another channel is in its first
  period for ``PROBATION`` (E-ECT-013 names its end).
- A family relation must be plausible from the birth dates (E-ECT-016); a child under
  ``ADULT_AGE`` is never bound on the holder's word: an operator confirms the
  guardianship at a service window (at most ``GUARDIANS_MAX`` holders per minor,
  E-ECT-022); everyone else accepts from their own certificate.
- Requests to the same relative are limited (``check_request_rate``, E-ECT-023), so that a
  flood of requests cannot bury the relative's notices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from yibao.domain.errors import Refused
from yibao.domain.text import is_digits

# method -> what the channel checked (the documented list; nothing else is accepted)
METHODS: dict[str, str] = {
    "face_liveness": "face with liveness against the ID photo (人脸活体 + 公安比对)",
    "bank_card_four": "bank-card four-element check: name, ID number, card, phone (四要素)",
    "in_person_window": "in person at a service window or counter, ID card seen (现场核验)",
    "id_card_nfc": "the ID card's chip read over NFC plus a face match (eID)",
}
PURPOSES = ("activation", "unlock", "payee", "family_consent", "face")
ATTESTATION_AGE_MAX = timedelta(minutes=10)
EVIDENCE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")  # 8..64, the channel's id
PROBATION = timedelta(hours=24)
ADULT_AGE = 18
PARENT_GAP_YEARS = 15  # a parent at least this many years older than the child
BINDINGS_MAX = 5  # active or pending family bindings per holder
GUARDIANS_MAX = 2  # holders with an active binding of the same minor child
# requests to one relative, removed ones counted: by one holder in 30 days, by all a day
REQUESTS_BY_HOLDER_MAX, REQUESTS_BY_HOLDER_WINDOW = 3, timedelta(days=30)
REQUESTS_TO_RELATIVE_MAX, REQUESTS_TO_RELATIVE_WINDOW = 5, timedelta(days=1)
RELATIONS = frozenset({"parent", "child", "spouse", "guardian", "other"})


@dataclass(frozen=True, slots=True)
class Attestation:
    """A channel's statement that it checked the real person: how, its reference, when."""

    method: str
    evidence_ref: str
    attested_at: datetime | None


def check_attestation(attestation: Attestation | None, now: datetime) -> Attestation:
    """The attestation if it may be relied on, else E-ECT-012 saying why."""
    if attestation is None:
        raise Refused("E-ECT-012", "a real-person attestation {method, evidence_ref, "
                      "attested_at} is required, not a flag")
    if attestation.method not in METHODS:
        raise Refused("E-ECT-012", f"method {attestation.method[:40]!r} is not accepted; one "
                      f"of {', '.join(METHODS)}")
    if EVIDENCE_REF.fullmatch(attestation.evidence_ref) is None:
        raise Refused("E-ECT-012", "evidence_ref: the channel's reference of its check, "
                      "8-64 letters, digits or . _ : -")
    at = attestation.attested_at
    if at is None:
        raise Refused("E-ECT-012", "attested_at is required")
    if at > now:
        raise Refused("E-ECT-012", f"attested_at {at} is in the future (now {now})")
    if now - at > ATTESTATION_AGE_MAX:
        raise Refused("E-ECT-012", f"attested_at {at} is older than "
                      f"{ATTESTATION_AGE_MAX.seconds // 60} minutes: check the person again")
    return attestation


def probation_end(now: datetime, active_elsewhere: bool) -> datetime | None:
    """When a certificate activated ``now`` leaves its first period (None: it has none)."""
    return now + PROBATION if active_elsewhere else None


def check_settled(probation_until: datetime | None, now: datetime) -> None:
    """A certificate in its first period may show QR codes and read notifications, but not
    see or do anything with claims, payees, filings, family bindings or the face."""
    if probation_until is not None and now < probation_until:
        raise Refused("E-ECT-013", f"this channel was activated while the person was active "
                      f"in another one: not before {probation_until:%Y-%m-%d %H:%M:%S}")


def age_on(birth: date, day: date) -> int:
    """Completed years of age on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def check_relation(relation: str, holder_birth: date, relative_birth: date,
                   today: date) -> None:
    """Is the relative plausibly the holder's ``relation``? (E-ECT-016)"""
    assert relation in RELATIONS, relation
    if relation == "parent" and age_on(relative_birth, holder_birth) < PARENT_GAP_YEARS:
        raise Refused("E-ECT-016", f"a parent is at least {PARENT_GAP_YEARS} years older "
                      "than the holder")
    if relation == "child" and age_on(holder_birth, relative_birth) < PARENT_GAP_YEARS:
        raise Refused("E-ECT-016", f"a child is at least {PARENT_GAP_YEARS} years younger "
                      "than the holder")
    adults = {"spouse": (holder_birth, relative_birth), "guardian": (relative_birth,)}
    if any(age_on(birth, today) < ADULT_AGE for birth in adults.get(relation, ())):
        raise Refused("E-ECT-016", f"a {relation} is an adult ({ADULT_AGE} or older)")


def needs_guardianship(relation: str, relative_birth: date, today: date) -> bool:
    """A minor child cannot accept for themselves, and the holder's word (their own
    attestation, plausible birth dates) does not prove the guardianship: an operator
    confirms it after seeing the household register or birth certificate. Everyone else
    accepts from their own certificate."""
    return relation == "child" and age_on(relative_birth, today) < ADULT_AGE


def check_guardians_room(guardians: int) -> None:
    """At most ``GUARDIANS_MAX`` holders show a minor child's codes."""
    if guardians >= GUARDIANS_MAX:
        raise Refused("E-ECT-022", f"{guardians} holders show this child's codes already; "
                      f"at most {GUARDIANS_MAX}")


def check_request_rate(by_holder: int, to_relative: int) -> None:
    """``by_holder``: this holder's requests to this relative within
    ``REQUESTS_BY_HOLDER_WINDOW``; ``to_relative``: everyone's requests to them within
    ``REQUESTS_TO_RELATIVE_WINDOW`` (removed and declined ones counted)."""
    if by_holder >= REQUESTS_BY_HOLDER_MAX:
        raise Refused("E-ECT-023", f"{by_holder} requests to this relative in "
                      f"{REQUESTS_BY_HOLDER_WINDOW.days} days; at most "
                      f"{REQUESTS_BY_HOLDER_MAX}")
    if to_relative >= REQUESTS_TO_RELATIVE_MAX:
        raise Refused("E-ECT-023", f"{to_relative} requests to this relative today; at most "
                      f"{REQUESTS_TO_RELATIVE_MAX} a day")


def check_bindings_room(live: int) -> None:
    if live >= BINDINGS_MAX:
        raise Refused("E-ECT-018", f"{live} family bindings active or pending; at most "
                      f"{BINDINGS_MAX}")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a formula


def check_bank_account(bank_name: str, bank_account: str) -> None:
    """A bank's name and an account number of 8-30 ASCII digits (spaces allowed); a bank
    name that a spreadsheet would run as a formula is refused, not stored."""
    digits = bank_account.replace(" ", "")
    if not (8 <= len(digits) <= 30 and is_digits(digits) and bank_name.strip()):
        raise Refused("E-CLM-006", "a bank name and an account number (8-30 digits) are needed")
    if bank_name.lstrip(" ").startswith(FORMULA_STARTS):
        raise Refused("E-CLM-006", "a bank name does not start with =, +, -, @ or a control "
                      "character")


def payee_differs(bank_name: str, bank_account: str, registered_name: str,
                  registered_account: str) -> bool:
    """Whether an account is another than the registered one (spaces ignored)."""
    return (bank_account.replace(" ", "") != registered_account.replace(" ", "")
            or bank_name.strip() != registered_name.strip())


def masked(bank_account: str) -> str:
    return f"****{bank_account[-4:]}" if bank_account else ""


def check_payee_name(account_name: str, person_name: str) -> None:
    """A payee account is in the person's own name (as the bank will check it)."""
    if account_name.strip() != person_name:
        raise Refused("E-ECT-014", "the account holder's name is not the person's name")
