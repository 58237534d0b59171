"""A manual-reimbursement claim's statuses and the moves between them: the pure rules.

A claim begins ``eligible`` (a fault-period bill the HIS uploaded, 2901) or ``submitted``
(an application with the bill's details). Then::

    eligible ──apply──▶ submitted ──review──▶ under_review ──approve──▶ approved
        │                    │                  │   │ └──approve_partly──▶ partly_approved
        └──withdraw──▶ withdrawn                │   └──first_approve──▶ under_review
                             └──────reject──────┴──▶ rejected
    approved | partly_approved ──pay──▶ paid

``withdraw`` is the institution's 2601 of its 2901, while nobody applied for the bill;
``first_approve`` records the first of two approvals (an amount above the second-approval
limit, domain/roles.py): the claim stays under review and the step is ``first_approved``.
Every move writes a step (claim_step) naming who took it, when and why. The values are
those the database's CHECKs allow (domain/states.py: CLAIM, CLAIM_STEP).
"""

from __future__ import annotations

from enum import StrEnum


class ClaimStatus(StrEnum):
    ELIGIBLE = "eligible"  # a fault-period bill the HIS uploaded, nobody applied for yet
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    PARTLY_APPROVED = "partly_approved"  # some lines left out by the reviewer
    REJECTED = "rejected"
    PAID = "paid"
    WITHDRAWN = "withdrawn"  # the institution reversed its upload (2601 of the 2901)


class Action(StrEnum):
    """What moves a claim."""

    APPLY = "apply"  # the person (app) or the window applies for an uploaded bill
    REVIEW = "review"
    REJECT = "reject"
    FIRST_APPROVE = "first_approve"  # the first of two approvals
    APPROVE = "approve"
    APPROVE_PARTLY = "approve_partly"
    PAY = "pay"  # the bank paid the claim's order
    WITHDRAW = "withdraw"


FIRST_APPROVED = "first_approved"  # a step only: the claim stays under review
APPROVALS = (FIRST_APPROVED, ClaimStatus.APPROVED.value,
             ClaimStatus.PARTLY_APPROVED.value)  # steps naming an approver

# the statuses in which a claim awaits the bureau's decision (the queue shows the oldest
# first)
AWAITING = (ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW)

# the statuses in which a claim's approved amount is decided (before: nothing to show)
AMOUNT_DECIDED = (ClaimStatus.APPROVED, ClaimStatus.PARTLY_APPROVED, ClaimStatus.PAID)

# the statuses a decision leaves a claim in: the person is told (services/claims.py)
DECIDED = (ClaimStatus.APPROVED, ClaimStatus.PARTLY_APPROVED, ClaimStatus.REJECTED)

_S = ClaimStatus
# (from, action) → to: every move a claim may make, and no other
TRANSITIONS: dict[tuple[ClaimStatus, Action], ClaimStatus] = {
    (_S.ELIGIBLE, Action.APPLY): _S.SUBMITTED,
    (_S.ELIGIBLE, Action.WITHDRAW): _S.WITHDRAWN,
    (_S.SUBMITTED, Action.REVIEW): _S.UNDER_REVIEW,
    (_S.SUBMITTED, Action.REJECT): _S.REJECTED,
    (_S.UNDER_REVIEW, Action.REJECT): _S.REJECTED,
    (_S.UNDER_REVIEW, Action.FIRST_APPROVE): _S.UNDER_REVIEW,
    (_S.UNDER_REVIEW, Action.APPROVE): _S.APPROVED,
    (_S.UNDER_REVIEW, Action.APPROVE_PARTLY): _S.PARTLY_APPROVED,
    (_S.APPROVED, Action.PAY): _S.PAID,
    (_S.PARTLY_APPROVED, Action.PAY): _S.PAID,
}

# the step an action writes when it is not the claim's new status
_STEPS = {Action.FIRST_APPROVE: FIRST_APPROVED}

REASONS = {  # claim.reason: why the bill was not settled in real time (≤ 20 characters)
    "fault": "the platform or the institution's link was down",
    "no_credential": "no card or certificate at hand",
    "after_discharge": "filed for care away from home after discharge",
    "unfiled": "care away from home not filed before the settlement",
    "not_networked": "the institution is not networked for direct settlement",
    "other": "other",
}


def after(status: str, action: Action) -> ClaimStatus | None:
    """The status a claim in ``status`` moves to by ``action``; None: not allowed."""
    try:
        return TRANSITIONS.get((ClaimStatus(status), action))
    except ValueError:
        return None


def may(status: str, action: Action) -> bool:
    return after(status, action) is not None


def step_of(action: Action, to: ClaimStatus) -> str:
    """The status a move's step records: the claim's new one ``to``, or the step's own
    (``first_approved``: the claim stays under review)."""
    return _STEPS.get(action, to.value)
