"""The operator window for manual reimbursement (/admin/v1): applications brought by the
employer or the social security office, review, fault periods and bank payments."""

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from yibao.api.admin import DENIED, Gate, Window, as_role, run_refusable
from yibao.api.claim_models import ApplicationIn, WindowPayeeIn, bill_of, payee_of
from yibao.api.pages import Limit, Offset
from yibao.api.rest import ChinaTime, DecimalRoute
from yibao.domain import paging
from yibao.domain.paging import Page
from yibao.domain.roles import SECOND_APPROVAL_ABOVE_FEN, Operator
from yibao.services import applications, audit, payments
from yibao.services import claims as claim_records
from yibao.services import faults as fault_periods
from yibao.services import review as reviews
from yibao.services.applications import Application
from yibao.services.context import Call

# (no "from __future__ import annotations": FastAPI reads the Annotated dependencies)


class AgencyApplicationIn(ApplicationIn):
    psn_no: str = Field(min_length=1, max_length=30, examples=["11000000000000000001"])
    payee: WindowPayeeIn


class DecisionIn(BaseModel):
    approve: bool
    excluded_lines: dict[str, str] = Field(default={}, examples=[{"2": "not prescribed"}],
                                           description="feedetl_sn → reason (partly approved)")
    reason: str = Field("", max_length=500, examples=["invoice and lists checked"])
    payee_confirmed: bool = Field(False, description="the approver checked with the person "
                                  "that the claim's account, not the registered payee, is "
                                  "to be paid (required then: E-ADM-007)")


class FaultIn(BaseModel):
    begin_at: ChinaTime = Field(examples=["2026-05-11T08:00:00"])
    end_at: ChinaTime = Field(examples=["2026-05-11T12:00:00"])
    reason: str = Field(min_length=1, max_length=300, examples=["link to the platform down"])


FaultStatus = Literal["in_force", "cancelled"]  # fault_periods.STATUSES


class FaultRow(BaseModel):
    fault_id: str = Field(examples=["FLT20260511093000a1b2c3d4e5f6"])
    fixmedins_code: str = Field(examples=["H11010500001"])
    begin_at: str = Field(examples=["2026-05-11T08:00:00"], description="CST")
    end_at: str = Field(examples=["2026-05-11T12:00:00"], description="CST")
    reason: str = Field(examples=["link to the platform down"])
    declared_by: str = Field(examples=["H11010500001"],
                             description="the institution (2902) or the operator")
    declared_at: str = Field(examples=["2026-05-11T08:05:00"])
    status: FaultStatus
    cancelled_at: str | None = Field(examples=[None], description="set once cancelled")
    cancelled_reason: str = Field(examples=["reversed by 2601 H110105000012026051108100001"],
                                  description="the 2601 that reversed the 2902, or the "
                                  "operator and their reason; empty while in force")


class RelyingClaim(BaseModel):
    claim_id: str = Field(examples=["CLM20260511083500a1b2c3d4e5f6"])
    invono: str = Field(examples=["INV-1"])
    psn_no: str = Field(examples=["11000000000000000001"])
    status: str = Field(examples=["eligible"])
    care_begins_at: str = Field(examples=["2026-05-11T08:30:00"])


class Fault(FaultRow):
    claims_total: int = Field(examples=[1], description="claims relying on the period")
    claims: list[RelyingClaim] = Field(
        description="live fault claims at the institution whose care begins in the period "
        "and in no other period in force (they keep it from being cancelled), by invoice, "
        f"at most {fault_periods.SHOWN}")


class FaultCancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200, examples=["declared for the wrong day"])


class BankResultIn(BaseModel):
    paid: bool
    error: str = Field("", max_length=300, examples=["account closed"])


# -- the window's changes, shared with the console (api/console/claim_pages.py and
# payment_pages.py): each runs in the operator's call and writes the operators' log


def apply_at_window(call: Call, body: AgencyApplicationIn) -> str:
    """An agency application at the window; the new claim's id."""
    claim_id = applications.apply(call, Application(
        psn_no=body.psn_no, reason=body.reason, payee=payee_of(body.payee),
        bill=bill_of(body.psn_no, body.bill) if body.bill else None,
        code=body.fixmedins_code, invono=body.invono, filing_sn=body.trt_dcla_detl_sn,
        mdtrt_id=body.mdtrt_id))
    audit.action(call, "claim.apply", claim_id, psn_no=body.psn_no)
    return claim_id


def start_review(call: Call, claim_id: str) -> None:
    reviews.start(call, claim_id)
    audit.action(call, "claim.review", claim_id)


def approve(call: Call, claim_id: str, decision: reviews.Decision) -> reviews.Approval:
    """The approval of ``call``'s actor, acting as an approver."""
    done = reviews.approve(call, claim_id, decision)
    audit.action(call, f"claim.{done.status}", claim_id, amount=done.amount,
                 excluded=sorted(decision.excluded))
    return done


def reject(call: Call, claim_id: str, reason: str) -> None:
    reviews.reject(call, claim_id, reason)
    audit.action(call, "claim.reject", claim_id)


def export_payments(call: Call) -> tuple[str, str]:
    """Every pending payment into one bank file: its batch and the CSV."""
    batch, rows = payments.export_batch(call)
    audit.action(call, "payments.export", batch, orders=len(rows),
                 amount=sum(r["amount"] for r in rows))
    return batch, payments.bank_file(batch, rows)


def record_bank_result(call: Call, order_id: str, *, paid: bool, error: str) -> str:
    status = payments.record_bank_result(call, order_id, paid=paid, error=error)
    audit.action(call, "payment.result", order_id, status=status)
    return status


def retry_payment(call: Call, order_id: str) -> None:
    payments.retry(call, order_id)
    audit.action(call, "payment.retry", order_id)


def router(window: Window, gate: Gate, *,
           second_approval_above: int = SECOND_APPROVAL_ABOVE_FEN) -> APIRouter:
    """``second_approval_above``: an approved amount above it (fen) needs a second,
    different approver (domain/roles.py)."""
    responses: dict[int | str, dict[str, Any]] = {400: {"description": "the body is not JSON"}}
    responses.update(DENIED.items())
    responses[404] = {"description": "no such claim, payment, institution or fault period "
                                     "(code E-...)"}
    responses[409] = {"description": "refused: the body names the error code (E-CLM-...) "
                                     "and why"}
    api = APIRouter(route_class=DecimalRoute, prefix="/admin/v1",
                    tags=["admin: reimbursement"], responses=responses)

    def run(action: Callable[[Connection], Any], *, read_only: bool = False) -> Any:
        return run_refusable(window.db, action, read_only=read_only)

    @api.post("/claims", status_code=201, summary="An application at the window (paper "
              "lists typed in, or a bill the hospital uploaded)")
    def apply(body: AgencyApplicationIn,
              op: Annotated[Operator, gate.needs("claims.apply")]) -> Any:
        return window.run(op, lambda call: {"claim_id": apply_at_window(call, body)})

    @api.get("/claims", summary="A page of the claims, last changed first (optionally of "
             f"one status; at most {paging.REST_ROWS_MAX} a page)")
    def claims(op: Annotated[Operator, gate.needs("read")], status: str = "",
               limit: Limit = paging.REST_ROWS_DEFAULT, offset: Offset = 0) -> Any:
        with window.db.read() as conn:
            return [dict(r, updated_at=r["updated_at"].isoformat(sep=" "))
                    for r in claim_records.listing(conn, status, Page(limit, offset))]

    @api.get("/claims/{claim_id}", summary="One claim with its lines and every step")
    def claim(claim_id: str, op: Annotated[Operator, gate.needs("read")]) -> Any:
        return run(lambda conn: claim_records.describe(conn, claim_id))

    @api.post("/claims/{claim_id}/review", summary="Start reviewing a submitted claim")
    def review(claim_id: str, op: Annotated[Operator, gate.needs("claims.review")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            start_review(call, claim_id)
            return claim_records.describe(call.conn, claim_id)
        return window.run(op, act)

    @api.post("/claims/{claim_id}/decision",
              summary="Approve (all or some lines: the amount is computed; approver) or reject "
              "(reviewer, approver); above the second-approval amount the first approval "
              "leaves the claim under review for a second, different approver")
    def decide(claim_id: str, body: DecisionIn,
               op: Annotated[Operator, gate.needs("claims.reject")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            if body.approve:
                approving = replace(call, actor=replace(
                    call.actor, role=as_role(op, "claims.approve").role))
                approve(approving, claim_id, reviews.Decision(
                    excluded=body.excluded_lines, note=body.reason,
                    second_approval_above=second_approval_above,
                    payee_confirmed=body.payee_confirmed))
            else:
                reject(call, claim_id, body.reason)
            return claim_records.describe(call.conn, claim_id)
        return window.run(op, act)

    @api.post("/institutions/{code}/faults", status_code=201,
              summary="Declare a fault period for an institution")
    def fault(code: str, body: FaultIn,
              op: Annotated[Operator, gate.needs("faults.change")]) -> Any:
        def act(call: Call) -> dict[str, str]:
            return {"fault_id": fault_periods.declare_by_operator(
                call, code, body.begin_at, body.end_at, body.reason)}
        return window.run(op, act)

    @api.get("/institutions/{code}/faults", response_model=list[FaultRow],
             summary="An institution's fault periods, newest first (optionally of one status)")
    def faults(code: str, op: Annotated[Operator, gate.needs("read")],
               status: FaultStatus | None = None,
               limit: Annotated[int, Query(ge=1, le=fault_periods.SHOWN)]
               = fault_periods.SHOWN) -> Any:
        return run(lambda conn: fault_periods.of_institution(conn, code, status, limit),
                   read_only=True)

    @api.get("/faults/{fault_id}", response_model=Fault,
             summary="One fault period: who declared it, its span, its cancellation, the "
             "claims relying on it")
    def fault_period(fault_id: str, op: Annotated[Operator, gate.needs("read")]) -> Any:
        return run(lambda conn: fault_periods.describe(conn, fault_id), read_only=True)

    @api.post("/faults/{fault_id}/cancel", response_model=Fault,
              summary="Cancel a wrongly declared fault period (refused while bills rely on it)")
    def cancel_fault(fault_id: str, body: FaultCancelIn,
                     op: Annotated[Operator, gate.needs("faults.change")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            fault_periods.cancel_by_operator(call, fault_id, body.reason)
            return fault_periods.describe(call.conn, fault_id)
        return window.run(op, act)

    @api.post("/payments/export", response_class=PlainTextResponse,
              summary="The bank file (CSV) of every pending payment; they become exported "
              "(finance; refused E-ADM-005 when the exporter approved one of them)")
    def export(op: Annotated[Operator, gate.needs("payments.export")]) -> Any:
        return window.run(op, lambda call: export_payments(call)[1])

    @api.post("/payments/{order_id}/result", summary="The bank's answer for one order")
    def bank_result(order_id: str, body: BankResultIn,
                    op: Annotated[Operator, gate.needs("payments.result")]) -> Any:
        def act(call: Call) -> dict[str, str]:
            status = record_bank_result(call, order_id, paid=body.paid, error=body.error)
            return {"order_id": order_id, "status": status}
        return window.run(op, act)

    @api.post("/payments/{order_id}/retry", summary="Send a failed payment again")
    def retry(order_id: str, op: Annotated[Operator, gate.needs("payments.retry")]) -> Any:
        def act(call: Call) -> dict[str, str]:
            retry_payment(call, order_id)
            return {"order_id": order_id, "status": "pending"}
        return window.run(op, act)

    return api
