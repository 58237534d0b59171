"""From clue to case (issue 20, docs/supervision.md "From clue to case"): the pure rules
of a supervision case (案件).

A case gathers one or more open clues about one institution or one person. Its status
moves ``open -> investigating -> (verifying <-> investigating) -> concluded``: assigning
it to an operator starts the investigation, a request for verification to another
region makes it wait (verifying) until every request is answered, and an approver who is
not the assignee concludes it. The conclusion is one or more outcomes: no problem, a
recovery from the institution (netted off in its next clearing), a fine (paid to the
treasury, recorded only), a suspension of the person's direct settlement for 3..12
months, a suspension of the institution's networked status.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from yibao.domain.errors import Refused

OPEN = "open"
INVESTIGATING = "investigating"
VERIFYING = "verifying"
CONCLUDED = "concluded"
STATUSES = (OPEN, INVESTIGATING, VERIFYING, CONCLUDED)
# the steps a case records (case_event.kind)
EVENTS = ("opened", "assigned", "evidence", "verification_asked", "verification_answered",
          "concluded")
ASKED, ANSWERED = "asked", "answered"
VERIFICATION_STATUSES = (ASKED, ANSWERED)

CLUES_PER_CASE_MAX = 50
NOTE_LENGTH_MAX = 1000
REASON_LENGTH_MAX = 200
EVIDENCE_FILE_BYTES_MAX = 2 * 1024 * 1024
EVIDENCE_FILENAME_MAX = 120
AMOUNT_FEN_MAX = 9_999_999_999  # 99,999,999.99 yuan
SUSPEND_MONTHS_MIN, SUSPEND_MONTHS_MAX = 3, 12  # the 2020 notice: 3..12 months
REGION = re.compile(r"[0-9]{6}")


@dataclass(frozen=True, slots=True)
class Subject:
    """Whom a case is about: the institution all its clues name ('' when they differ),
    the person all its clues name ('' likewise), and the amount at risk (fen)."""

    fixmedins_code: str
    psn_no: str
    amount_at_risk: int


def subject_of(clues: Sequence[Mapping[Any, Any]]) -> Subject:
    """The subject of a case opened from ``clues`` (each open): they name one institution
    or one person (E-CAS-002 otherwise)."""
    if not clues:
        raise Refused("E-CAS-002", "a case is opened from at least one clue")
    if len(clues) > CLUES_PER_CASE_MAX:
        raise Refused("E-CAS-002", f"at most {CLUES_PER_CASE_MAX} clues in one case")
    codes = {str(c["fixmedins_code"]) for c in clues}
    persons = {str(c["psn_no"]) for c in clues}
    code = codes.pop() if len(codes) == 1 else ""
    psn_no = persons.pop() if len(persons) == 1 else ""
    if not code and not psn_no:
        raise Refused("E-CAS-002", "the clues of one case name one institution or one "
                      "person")
    return Subject(code, psn_no, sum(int(c["amount_at_risk"]) for c in clues))


def check_clue_open(clue_id: str, status: str) -> None:
    """A clue is taken into a case, or dismissed, only while open (E-CAS-003)."""
    if status != "open":
        raise Refused("E-CAS-003", f"clue {clue_id} is {status.replace('_', ' ')}")


def check_not_concluded(case_id: str, status: str) -> None:
    if status == CONCLUDED:
        raise Refused("E-CAS-005", f"case {case_id} is concluded")


def after_assign(status: str) -> str:
    """The status once assigned (or reassigned): an open case starts its investigation."""
    return INVESTIGATING if status == OPEN else status


def after_verification(open_requests: int) -> str:
    """The status given how many verification requests still wait for their answer."""
    assert open_requests >= 0, open_requests
    return VERIFYING if open_requests else INVESTIGATING


def check_assignable(case_id: str, status: str, assignee_roles: frozenset[str] | None,
                     may_triage: bool) -> None:
    """An assignee is an active operator who holds supervision.triage (E-CAS-006)."""
    check_not_concluded(case_id, status)
    if assignee_roles is None:
        raise Refused("E-CAS-006", "no such active operator")
    if not may_triage:
        raise Refused("E-CAS-006", "the assignee must hold supervision.triage (reviewer)")


def check_regions(from_region: str, to_region: str) -> tuple[str, str]:
    """A verification is asked from one region of another: two 6-digit division codes
    (E-CAS-008)."""
    if not REGION.fullmatch(from_region) or not REGION.fullmatch(to_region):
        raise Refused("E-CAS-008", "regions are 6-digit division codes")
    if from_region == to_region:
        raise Refused("E-CAS-008", "a verification is asked of another region")
    return from_region, to_region


def check_text(value: str, name: str, *, length_max: int = NOTE_LENGTH_MAX) -> str:
    """A required free text (a note, a question, an answer, a reason): E-CAS-007."""
    text = value.strip()
    if not text:
        raise Refused("E-CAS-007", f"{name} is required")
    if len(text) > length_max:
        raise Refused("E-CAS-007", f"{name}: at most {length_max} characters")
    return text


def check_file(filename: str, content: bytes) -> str:
    """An evidence file: a plain name and at most EVIDENCE_FILE_BYTES_MAX bytes."""
    name = filename.strip().replace("\\", "/").rsplit("/", 1)[-1]
    if not name or len(name) > EVIDENCE_FILENAME_MAX:
        raise Refused("E-CAS-007", f"a file name of 1..{EVIDENCE_FILENAME_MAX} characters")
    if not content or len(content) > EVIDENCE_FILE_BYTES_MAX:
        raise Refused("E-CAS-007", f"a file of 1..{EVIDENCE_FILE_BYTES_MAX} bytes")
    return name


@dataclass(frozen=True, slots=True)
class Conclusion:
    """What an approver decides: no problem, or any of the other outcomes. Amounts are
    fen (0: none); ``suspend_months`` 0: none; ``recovery_reason`` explains a recovery
    above the case's amount at risk."""

    no_problem: bool = False
    recovery: int = 0
    recovery_reason: str = ""
    fine: int = 0
    suspend_months: int = 0
    suspend_institution: bool = False
    note: str = ""

    @property
    def outcomes(self) -> tuple[str, ...]:
        found = (("no_problem", self.no_problem), ("recovery", self.recovery > 0),
                 ("fine", self.fine > 0), ("suspend_person", self.suspend_months > 0),
                 ("suspend_institution", self.suspend_institution))
        return tuple(name for name, chosen in found if chosen)


def check_conclusion(c: Conclusion, subject: Subject) -> Conclusion:
    """A conclusion the case allows (E-CAS-011 otherwise): at least one outcome; "no
    problem" alone; a recovery (0.01 yuan or more) at most the amount at risk unless a
    reason says why more; a recovery, a fine or a suspension of the institution needs
    the case to name an institution, a suspension of the person a person, for 3..12
    months."""
    outcomes = c.outcomes
    if not outcomes:
        raise Refused("E-CAS-011", "choose at least one outcome")
    if c.no_problem and len(outcomes) > 1:
        raise Refused("E-CAS-011", "no problem excludes every other outcome")
    for amount, name in ((c.recovery, "recovery"), (c.fine, "fine")):
        if not 0 <= amount <= AMOUNT_FEN_MAX:
            raise Refused("E-CAS-011", f"{name}: 0.01..99999999.99 yuan")
    reason = c.recovery_reason.strip()[:REASON_LENGTH_MAX]
    if c.recovery > subject.amount_at_risk and not reason:
        raise Refused("E-CAS-012", f"a recovery above the amount at risk "
                      f"({subject.amount_at_risk} fen) needs a reason")
    if (c.recovery or c.fine or c.suspend_institution) and not subject.fixmedins_code:
        raise Refused("E-CAS-011", "a recovery, a fine or a suspension of the institution "
                      "needs a case about one institution")
    if c.suspend_months:
        if not subject.psn_no:
            raise Refused("E-CAS-011", "a suspension of the person needs a case about "
                          "one person")
        if not SUSPEND_MONTHS_MIN <= c.suspend_months <= SUSPEND_MONTHS_MAX:
            raise Refused("E-CAS-013", f"a suspension of {SUSPEND_MONTHS_MIN}.."
                          f"{SUSPEND_MONTHS_MAX} months, not {c.suspend_months}")
    return Conclusion(c.no_problem, c.recovery, reason, c.fine, c.suspend_months,
                      c.suspend_institution, c.note.strip()[:NOTE_LENGTH_MAX])


def check_may_conclude(case_id: str, status: str, concluder: str, assignee: str | None,
                       open_requests: int) -> None:
    """Concluded once, from the investigation (assigned, no verification waiting), by
    another operator than the assignee (separation of duties, E-CAS-010)."""
    check_not_concluded(case_id, status)
    if status == OPEN or assignee is None:
        raise Refused("E-CAS-009", f"case {case_id} is not assigned yet")
    if status == VERIFYING or open_requests:
        raise Refused("E-CAS-009", f"case {case_id} waits for {open_requests} "
                      "verification answer(s)")
    if concluder == assignee:
        raise Refused("E-CAS-010", f"{concluder} investigated case {case_id}; another "
                      "operator with the approver role concludes it")


def suspension_end(begin: date, months: int) -> date:
    """The last day of a suspension of ``months`` months from ``begin`` (inclusive):
    the day before the same day ``months`` later (the month's last day if shorter)."""
    assert SUSPEND_MONTHS_MIN <= months <= SUSPEND_MONTHS_MAX, months
    year, month = divmod(begin.month - 1 + months, 12)
    year += begin.year
    month += 1
    day = begin.day
    while True:
        try:
            after = date(year, month, day)
            break
        except ValueError:
            day -= 1
    return date.fromordinal(after.toordinal() - 1)


def recovered_this_month(outstanding: int, owed: int, prepaid: int) -> int:
    """What a month's clearing deducts of an institution's ``outstanding`` recoveries:
    at most what it would otherwise pay (``owed - prepaid``); the rest carries to the
    following month (never a negative payment because of a recovery)."""
    assert outstanding >= 0, outstanding
    return max(0, min(outstanding, owed - prepaid))
