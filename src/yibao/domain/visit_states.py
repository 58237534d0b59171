"""A visit's statuses and the moves between them: which action may move a visit from
which status to which (``TRANSITIONS``). A move not in the table is refused with
E-VIS-002, the visit's wrong state."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from yibao.domain.errors import Refused


class VisitStatus(StrEnum):
    """visit.status (the database's CHECK allows exactly these values)."""

    OPEN = "open"  # registered (2201/2401), or a bill's visit while its lines are stored
    DISCHARGED = "discharged"  # an inpatient stay ended (2402)
    CANCELLED = "cancelled"  # the registration cancelled (2202/2404), a bill withdrawn
    SELFPAID = "selfpaid"  # paid in full, to be reimbursed manually


START = VisitStatus.OPEN  # the status a new visit is stored with


class VisitAction(StrEnum):
    """What changes a visit's status."""

    CANCEL = "cancel"  # 2202 / 2404: the registration is cancelled
    DISCHARGE = "discharge"  # 2402: the stay ends
    UNDO_DISCHARGE = "undo_discharge"  # 2405: the stay is reopened
    CLOSE_SELFPAID = "close_selfpaid"  # a bill paid in full: its lines are stored
    WITHDRAW_BILL = "withdraw_bill"  # 2601 of the 2901 that uploaded the bill
    # the person applies for manual reimbursement of an uploaded visit the institution
    # could not settle (the 2022 notice's online manual reimbursement, 线上手工报销)
    CLAIM_UPLOADED = "claim_uploaded"


_S = VisitStatus
TRANSITIONS: Mapping[VisitAction, Mapping[VisitStatus, VisitStatus]] = MappingProxyType({
    VisitAction.CANCEL: {_S.OPEN: _S.CANCELLED},
    VisitAction.DISCHARGE: {_S.OPEN: _S.DISCHARGED},
    VisitAction.UNDO_DISCHARGE: {_S.DISCHARGED: _S.OPEN},
    VisitAction.CLOSE_SELFPAID: {_S.OPEN: _S.SELFPAID},
    VisitAction.WITHDRAW_BILL: {_S.SELFPAID: _S.CANCELLED},
    # an outpatient visit is over once registered and its details uploaded; a stay once
    # discharged (an open stay: E-CLM-013, checked before)
    VisitAction.CLAIM_UPLOADED: {_S.OPEN: _S.SELFPAID, _S.DISCHARGED: _S.SELFPAID},
})


def after(action: VisitAction, status: str, mdtrt_id: str) -> VisitStatus:
    """The status ``action`` moves visit ``mdtrt_id`` to from ``status``; E-VIS-002 when
    the table has no such move."""
    target = TRANSITIONS[action].get(VisitStatus(status))
    if target is None:
        raise Refused("E-VIS-002", f"visit {mdtrt_id} is {status}")
    return target


def require(status: str, mdtrt_id: str, *allowed: VisitStatus) -> None:
    """A visit in ``status`` may take part in what needs one of ``allowed`` (a fee
    upload, a settlement); E-VIS-002 otherwise."""
    if status not in allowed:
        raise Refused("E-VIS-002", f"visit {mdtrt_id} is {status}")
