"""The values a status or kind column may hold: the database checks them (CHECK ...
IN, see store/schema.py) and the services write only these (tests/test_db_invariants.py
ties each service's constants to these tuples)."""

from __future__ import annotations

from enum import StrEnum

from yibao.domain import advance, channels, contribution, filing, roles, trust
from yibao.domain.codes import VisitClass
from yibao.domain.orders import OrderStatus
from yibao.domain.person_numbers import ChangeKind
from yibao.domain.prescriptions import RxStatus
from yibao.domain.visit_states import VisitStatus


class SettlementKind(StrEnum):
    """settlement.kind: a real-time settlement, the cancellation that reverses one (its
    amounts negated), or a manual-reimbursement claim's settlement (computed by the same
    path, paid to the person, not cleared with the institution, not shown to its
    queries)."""

    SETTLE = "settle"
    CANCEL = "cancel"
    CLAIM = "claim"


# the kinds cleared with the institution (and reconciled, extracted for clearing); a
# claim's settlement is paid to the person
CLEARED_KINDS = (SettlementKind.SETTLE, SettlementKind.CANCEL)

INSTITUTION_KINDS = ("hospital", "pharmacy")
INSURANCE = ("1", "2", "4")  # psn_insu_stas: normal, suspended, ended
CONTRIBUTION = tuple(s.value for s in contribution.Status)  # insurance.contrib_stas
CONTRIBUTION_DECISIONS = tuple(d.value for d in contribution.Decision)
CARD = ("valid", "lost")
ECERT = ("active", "deactivated")
FAMILY_BINDING = ("active", "pending", "removed")  # pending: the relative has not accepted
VISIT = tuple(s.value for s in VisitStatus)
VISIT_CLASSES = tuple(c.value for c in VisitClass)
FEE_LINE = ("active", "cancelled", "excluded")  # excluded: not accepted in a claim's review
SETTLEMENT_KINDS = tuple(k.value for k in SettlementKind)
SETTLEMENT_CANCEL = SettlementKind.CANCEL.value  # the kind whose amounts are negated
FILING = tuple(s.value for s in filing.Status)
FILING_KINDS = tuple(k.value for k in filing.Kind)
OUTBOX = ("pending", "delivered", "failed")
CLAIM = ("eligible", "submitted", "under_review", "approved", "partly_approved", "rejected",
         "paid", "withdrawn")
CLAIM_STEP = (*CLAIM, "first_approved")  # above the limit, the first of two approvals
PAYMENT_ORDER = ("pending", "exported", "paid", "failed")
# ledger_entry.kind: a settlement's kind, or the movement a posting records
LEDGER_KINDS = (*SETTLEMENT_KINDS, "payout", "prepay", "clearing", "interregional", "advance",
                "interest", "recovery")
# prepayment by need (domain/advance.py)
PREPAYMENT_PROPOSAL = advance.PROPOSAL_STATES
CLEARING_MONTH = ("open", "closed")
# issue 20: supervision (domain/supervision.py)
SUPERVISION_ENGINES = ("duckdb", "spark")
CLUE = ("open", "in_case", "dismissed")
CLEARING_APPLICATION = ("applied", "cancelled")
# issue 13 review (fixops): the code sets of the channels' trust, operators and files
ATTESTATION_PURPOSES = trust.PURPOSES
ATTESTATION_METHODS = tuple(trust.METHODS)
OPERATOR = ("active", "disabled")
OPERATOR_ROLES = roles.ROLES  # operator.roles: one or more of these, comma-separated
EC_TOKEN_BUSINESS_TYPES = ("01101", "01102", "01201", "01202", "02101")  # 1162 businessType
STORED_FILE_KINDS = ("upload", "result", "catalogue")
CLAIM_SOURCES = ("01", "02", "04")  # dcla_souc: institution, agency (window), app
# issue 15: online orders of the mobile-payment centre (domain/orders.py) and their refunds
ONLINE_ORDER = tuple(s.value for s in OrderStatus)
ONLINE_REFUND_TYPES = ("ALL", "HI", "CASH", "LATE")  # LATE: a payment after the order closed
ONLINE_REFUND = ("SUCC", "FAIL", "EXP")  # 6203 refStatus (EXP: the cash part still pending)
PSN_NO_CHANGE_KINDS = tuple(k.value for k in ChangeKind)  # issue 19: identity upkeep
# issue 15: the scopes a channel's credential carries (domain/channels.py)
CHANNEL_SCOPES = channels.SCOPES  # channel.scopes: one or more of these, comma-separated
# issue 17: electronic prescriptions (domain/prescriptions.py)
PRESCRIPTION = tuple(s.value for s in RxStatus)
PRACTITIONER_ROLES = ("doctor", "pharmacist")
RX_AUTH_VIA = ("7201", "7202", "7203")
RX_CODE_KINDS = ("qr", "online")
