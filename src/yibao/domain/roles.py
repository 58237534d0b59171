"""Operators' roles, what each may do, and separation of duties (pure rules).

An operator holds one or more roles; every /admin/v1 route names the permission it needs
(``PERMISSIONS``: permission -> the roles that hold it) and the operator acts under the
first of their roles that holds it. docs/security.md carries the same table.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from yibao.domain.errors import Refused

CLERK = "clerk"  # the window: applications, filings, cards
REVIEWER = "reviewer"  # starts the review of a claim, may reject it
APPROVER = "approver"  # approves (or rejects) a claim under review
FINANCE = "finance"  # bank file, bank results, retries, the monthly clearing
AUDITOR = "auditor"  # reads everything, changes nothing
ADMINISTRATOR = "administrator"  # configuration: flags, fault periods, suspensions, outbox
ROLES = (CLERK, REVIEWER, APPROVER, FINANCE, AUDITOR, ADMINISTRATOR)

_ALL = frozenset(ROLES)
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": _ALL,  # claims, filings, fault periods, the outbox: every operator may look
    "claims.apply": frozenset({CLERK}),
    "claims.review": frozenset({REVIEWER}),
    "claims.reject": frozenset({REVIEWER, APPROVER}),
    "claims.approve": frozenset({APPROVER}),
    "filings.register": frozenset({CLERK}),
    "filings.cancel": frozenset({CLERK}),
    "cards.loss": frozenset({CLERK}),
    "cards.replace": frozenset({CLERK}),
    "family.guardianship": frozenset({CLERK}),  # a minor's binding, documents seen
    "suspensions.change": frozenset({ADMINISTRATOR}),
    "persons.renumber": frozenset({ADMINISTRATOR}),  # identity upkeep: a new psn_no
    "persons.merge": frozenset({ADMINISTRATOR}),  # two records of one person made one
    "contributions.record": frozenset({CLERK}),  # arrears, suspension, payment
    "contributions.defer": frozenset({ADMINISTRATOR}),  # a bureau's deferral decision
    "declared.change": frozenset({ADMINISTRATOR}),  # a declared period
    "faults.change": frozenset({ADMINISTRATOR}),
    "institutions.flags": frozenset({ADMINISTRATOR}),
    "institutions.gateway": frozenset({ADMINISTRATOR}),  # schemes, AK/SK pairs, the token
    # the special diseases an institution settles away from home (the 2022 notice)
    "institutions.diseases": frozenset({ADMINISTRATOR}),
    "outbox.retry": frozenset({ADMINISTRATOR}),
    "payments.export": frozenset({FINANCE}),
    "payments.result": frozenset({FINANCE}),
    "payments.retry": frozenset({FINANCE}),
    "clearing.run": frozenset({FINANCE}),  # the console; the CLI runs as the server's user
    "clearing.close": frozenset({FINANCE}),
    "clearing.advance": frozenset({FINANCE}),  # the advance fund between regions
    "prepayment.propose": frozenset({FINANCE}),  # prepayment by need: the proposal ...
    "prepayment.decide": frozenset({APPROVER}),  # ... approved or rejected by another
    "audit.read": frozenset({AUDITOR, ADMINISTRATOR}),
    # fund supervision (issue 20): screen a month with the rule library; triage its clues
    # into cases (assign, evidence, verification between regions); conclude a case
    # (recovery, fine, suspensions) by another role than the one that investigated
    "supervision.screen": frozenset({REVIEWER, ADMINISTRATOR}),
    "supervision.triage": frozenset({REVIEWER}),
    "supervision.conclude": frozenset({APPROVER}),
}

SECOND_APPROVAL_ABOVE_FEN = 500_000  # 5,000.00 yuan: more needs a second approver
NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,60}")


@dataclass(frozen=True, slots=True)
class Operator:
    """An authenticated operator: name (unique, the operator's id), the moment of the
    request, the roles held and the role this action is taken under."""

    name: str
    now: datetime
    roles: frozenset[str] = frozenset()
    role: str = ""


def token_hash(token: str) -> str:
    """What the store keeps of an operator's bearer token: its SHA-256 (hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def acting_role(roles: Iterable[str], permission: str) -> str:
    """The role under which an operator holding ``roles`` may act for ``permission``."""
    allowed = PERMISSIONS[permission]
    held = sorted(set(roles) & allowed, key=ROLES.index)
    if not held:
        needed = " or ".join(sorted(allowed, key=ROLES.index))
        raise Refused("E-ADM-003", f"{permission} needs the role {needed}")
    return held[0]


def check_roles(roles: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(roles)
    unknown = chosen - _ALL
    if not chosen or unknown:
        raise Refused("E-ENV-005", f"roles are one or more of {', '.join(ROLES)}")
    return chosen


def check_name(name: str) -> str:
    if NAME_PATTERN.fullmatch(name) is None:
        raise Refused("E-ADM-006", f"operator name {name[:60]!r}")
    return name


def check_may_approve(approver: str, *, submitters: Iterable[str], reviewers: Iterable[str],
                      first_approver: str | None) -> None:
    """Whoever submitted or reviewed a claim cannot approve it; a second approval is by
    another approver than the first."""
    if approver in set(submitters):
        raise Refused("E-ADM-004", f"{approver} submitted this claim")
    if approver in set(reviewers):
        raise Refused("E-ADM-004", f"{approver} reviewed this claim")
    if approver == first_approver:
        raise Refused("E-ADM-004", f"{approver} gave the first approval; a second, "
                      "different approver is required")


def needs_second_approval(amount: int, first_approver: str | None, above: int) -> bool:
    """An amount above ``above`` (fen) is approved only by two different approvers."""
    assert amount >= 0 and above >= 0
    return amount > above and first_approver is None


def check_may_export(exporter: str, approved_claims: list[str]) -> None:
    """An operator who approved a claim (first or final approval) does not export its
    payment: the whole export is refused, naming the claims."""
    if approved_claims:
        shown = ", ".join(approved_claims[:3])
        raise Refused("E-ADM-005", f"{exporter} approved claim {shown}"
                      f"{' and more' if len(approved_claims) > 3 else ''}")


def check_may_approve_proposal(approver: str, proposer: str) -> None:
    """Whoever proposed a prepayment by need cannot approve it (E-ADM-004)."""
    if approver == proposer:
        raise Refused("E-ADM-004", f"{approver} proposed this prepayment; another operator "
                      "with the approver role approves it")
