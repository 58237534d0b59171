"""Paying approved manual-reimbursement claims: an approval's payment order, the bank
file of every pending order (by a finance operator who approved none of their claims),
the bank's answer for each order (paid: the claim is paid and the payout posted to the
ledger; failed: the error kept) and the retry of a failed order, a bounded number of
times."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, RowMapping, func, insert, select, update

from yibao.domain import ledger as ledger_rules
from yibao.domain import roles
from yibao.domain import trust as trust_rules
from yibao.domain.claims import APPROVALS, Action
from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_yuan
from yibao.domain.text import neutralised_cell
from yibao.services import claims, ledger
from yibao.services.context import Call
from yibao.services.persons import get_person
from yibao.store.schema import claim_step, payment_order

ATTEMPTS_MAX = 3
BANK_FILE_HEAD = ("batch", "order_id", "claim_id", "bank_name", "bank_account", "amount_yuan")


def order(call: Call, claim_row: RowMapping, amount: int) -> None:
    """The payment order of an approved claim's ``amount`` (fen), to its account."""
    call.conn.execute(insert(payment_order).values(
        order_id=call.ids.new("PAY"), claim_id=claim_row["claim_id"],
        psn_no=claim_row["psn_no"], amount=amount, bank_name=claim_row["bank_name"],
        bank_account=claim_row["bank_account"], status="pending", created_at=call.now,
        updated_at=call.now))


def export_batch(call: Call) -> tuple[str, list[RowMapping]]:
    """Every pending payment order goes into one bank file batch (status exported, the
    exporter recorded), unless the exporter approved one of their claims: then nothing
    is exported (E-ADM-005 names the claims; another finance operator exports)."""
    conn, exporter = call.conn, call.actor.name
    rows = list(conn.execute(select(payment_order).where(payment_order.c.status == "pending")
                             .order_by(payment_order.c.order_id).with_for_update()).mappings())
    approved = conn.execute(select(claim_step.c.claim_id).where(
        claim_step.c.claim_id.in_([r["claim_id"] for r in rows]),
        claim_step.c.actor == exporter, claim_step.c.status.in_(APPROVALS))
        .distinct().order_by(claim_step.c.claim_id)).scalars()
    roles.check_may_export(exporter, list(approved))
    batch = call.ids.new("BAT")
    if rows:
        conn.execute(update(payment_order).where(
            payment_order.c.order_id.in_([r["order_id"] for r in rows])).values(
            status="exported", batch=batch, attempts=payment_order.c.attempts + 1,
            exported_by=exporter, updated_at=call.now))
    return batch, rows


def bank_file_rows(batch: str, rows: list[RowMapping]) -> list[list[str]]:
    """The bank file's cells, head first; every cell neutralised for spreadsheets (a
    bank name typed as ``=HYPERLINK(...)`` is text, not a formula)."""
    cells = [list(BANK_FILE_HEAD)] + [
        [batch, r["order_id"], r["claim_id"], r["bank_name"], r["bank_account"],
         fen_to_yuan(r["amount"])] for r in rows]
    return [[neutralised_cell(cell) for cell in line] for line in cells]


def bank_file(batch: str, rows: list[RowMapping]) -> str:
    """The bank file as the bank reads it: CSV, one line a row (``bank_file_rows``)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(bank_file_rows(batch, rows))
    return out.getvalue()


def record_bank_result(call: Call, order_id: str, *, paid: bool, error: str = "") -> str:
    """The bank's answer for an exported order: paid (the claim is paid) or failed."""
    conn = call.conn
    row = _locked(call, order_id)
    if row["status"] != "exported":
        raise Refused("E-CLM-004", f"payment {order_id} is {row['status']}, not exported")
    status = "paid" if paid else "failed"
    conn.execute(update(payment_order).where(payment_order.c.order_id == order_id).values(
        status=status, last_error="" if paid else error[:300], result_by=call.actor.name,
        updated_at=call.now))
    if paid:
        claim_row = claims.locked(conn, row["claim_id"])
        region = get_person(conn, claim_row["psn_no"])["insuplc_admdvs"]
        ledger.post(conn, ledger_rules.txn(ledger_rules.TXN_PAYOUT, order_id), "payout",
                    ledger_rules.payout_entries(region, f"person:{claim_row['psn_no']}",
                                                row["amount"]), call.now)
        claims.move(call, claim_row, Action.PAY, f"paid by bank batch {row['batch']}")
    return status


def retry(call: Call, order_id: str) -> None:
    """Send a failed payment again (pending), at most ``ATTEMPTS_MAX`` attempts in all."""
    row = _locked(call, order_id)
    if row["status"] != "failed" or row["attempts"] >= ATTEMPTS_MAX:
        raise Refused("E-CLM-004", f"payment {order_id} is {row['status']} after "
                      f"{row['attempts']} of {ATTEMPTS_MAX} attempts")
    call.conn.execute(update(payment_order).where(payment_order.c.order_id == order_id)
                      .values(status="pending", updated_at=call.now))


def _locked(call: Call, order_id: str) -> RowMapping:
    row = call.conn.execute(select(payment_order).where(payment_order.c.order_id == order_id)
                            .with_for_update()).mappings().first()
    if row is None:
        raise Refused("E-CLM-001", f"no such payment {order_id}")
    return row


# ---------------------------------------------------------------- reading

STATUSES = ("pending", "exported", "paid", "failed")  # payment_order.status


@dataclass(frozen=True, slots=True)
class Order:
    """A payment order as the operators read it: the amount in fen, the account masked,
    the bank file batch it was last in, the bank's error, who exported it and who
    recorded the bank's answer; ``retryable``: failed with attempts left."""

    order_id: str
    claim_id: str
    amount: int
    bank_name: str
    bank_account: str
    status: str
    attempts: int
    batch: str
    last_error: str
    updated_at: datetime
    exported_by: str | None
    result_by: str | None

    @property
    def retryable(self) -> bool:
        return self.status == "failed" and self.attempts < ATTEMPTS_MAX


def orders(conn: Connection, status: str, limit: int, *, claim_id: str = "") -> list[Order]:
    """The payment orders of ``status`` (every status: ""), oldest first; of one claim
    with ``claim_id``."""
    query = select(payment_order.c.order_id, payment_order.c.claim_id, payment_order.c.amount,
                   payment_order.c.bank_name, payment_order.c.bank_account,
                   payment_order.c.status, payment_order.c.attempts, payment_order.c.batch,
                   payment_order.c.last_error, payment_order.c.updated_at,
                   payment_order.c.exported_by, payment_order.c.result_by)
    if status:
        query = query.where(payment_order.c.status == status)
    if claim_id:
        query = query.where(payment_order.c.claim_id == claim_id)
    rows = conn.execute(query.order_by(payment_order.c.created_at, payment_order.c.order_id)
                        .limit(limit)).mappings()
    return [Order(**dict(row, bank_account=trust_rules.masked(row["bank_account"])))
            for row in rows]


def counts(conn: Connection) -> dict[str, int]:
    """How many payment orders are in each status."""
    return {str(status): int(n) for status, n in conn.execute(
        select(payment_order.c.status, func.count()).group_by(payment_order.c.status))}


def of_claim(conn: Connection, claim_id: str) -> Order | None:
    """The payment order of a claim (None before its approval)."""
    found = orders(conn, "", 1, claim_id=claim_id)
    return found[0] if found else None
