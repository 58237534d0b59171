"""The operator window for manual reimbursement (/admin/v1): applications brought by the
employer or the social security office, review, fault periods and bank payments."""

import csv
import io
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from yibao.api.admin import agency, operator_dependency, run_refusable
from yibao.api.claim_models import ApplicationIn, bill_of, payee_of
from yibao.api.pages import Limit, Offset
from yibao.api.rest import ChinaTime
from yibao.domain import paging
from yibao.domain.money import fen_to_yuan
from yibao.domain.paging import Page
from yibao.domain.policy import Policy
from yibao.services import cards, reimbursement
from yibao.services.context import Clock, Ids
from yibao.store.db import Database

# (no "from __future__ import annotations": FastAPI reads the Annotated dependencies)


class AgencyApplicationIn(ApplicationIn):
    psn_no: str = Field(min_length=1, max_length=30, examples=["11000000000000000001"])


class DecisionIn(BaseModel):
    approve: bool
    excluded_lines: dict[str, str] = Field(default={}, examples=[{"2": "not prescribed"}],
                                           description="feedetl_sn → reason (partly approved)")
    reason: str = Field("", max_length=500, examples=["invoice and lists checked"])


class FaultIn(BaseModel):
    begin_at: ChinaTime = Field(examples=["2026-05-11T08:00:00"])
    end_at: ChinaTime = Field(examples=["2026-05-11T12:00:00"])
    reason: str = Field(min_length=1, max_length=300, examples=["link to the platform down"])


FaultStatus = Literal["in_force", "cancelled"]  # reimbursement.FAULT_STATUSES


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
        f"at most {reimbursement.FAULTS_SHOWN}")


class FaultCancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200, examples=["declared for the wrong day"])


class BankResultIn(BaseModel):
    paid: bool
    error: str = Field("", max_length=300, examples=["account closed"])


def router(db: Database, clock: Clock, ids: Ids, policies: tuple[Policy, ...],
           tokens: Mapping[str, str]) -> APIRouter:
    api = APIRouter(prefix="/admin/v1", tags=["admin: reimbursement"], responses={
        400: {"description": "the body is not JSON"},
        401: {"description": "no valid operator bearer token"},
        404: {"description": "no such claim, payment, institution or fault period "
                             "(code E-...)"},
        409: {"description": "refused: the body names the error code (E-CLM-...) and why"},
    })
    Op = Annotated[cards.Operator, Depends(operator_dependency(clock, tokens))]

    def run(action: Callable[[Connection], Any], *, read_only: bool = False) -> Any:
        return run_refusable(db, action, read_only=read_only)

    @api.post("/claims", status_code=201, summary="An application at the window (paper "
              "lists typed in, or a bill the hospital uploaded)")
    def apply(body: AgencyApplicationIn, op: Op) -> Any:
        def act(conn: Connection) -> dict[str, str]:
            claim_id = reimbursement.apply(
                conn, agency(op), ids, policies, body.psn_no,
                bill=bill_of(body.psn_no, body.bill) if body.bill else None,
                code=body.fixmedins_code, invono=body.invono, reason=body.reason,
                payee=payee_of(body.payee), filing_sn=body.trt_dcla_detl_sn)
            return {"claim_id": claim_id}
        return run(act)

    @api.get("/claims", summary="A page of the claims, last changed first (optionally of "
             f"one status; at most {paging.REST_ROWS_MAX} a page)")
    def claims(op: Op, status: str = "", limit: Limit = paging.REST_ROWS_DEFAULT,
               offset: Offset = 0) -> Any:
        with db.read() as conn:
            return [dict(r, updated_at=r["updated_at"].isoformat(sep=" "))
                    for r in reimbursement.listing(conn, status, Page(limit, offset))]

    @api.get("/claims/{claim_id}", summary="One claim with its lines and every step")
    def claim(claim_id: str, op: Op) -> Any:
        return run(lambda conn: reimbursement.describe(conn, claim_id))

    @api.post("/claims/{claim_id}/review", summary="Start reviewing a submitted claim")
    def review(claim_id: str, op: Op) -> Any:
        def act(conn: Connection) -> dict[str, Any]:
            reimbursement.start_review(conn, agency(op), claim_id)
            return reimbursement.describe(conn, claim_id)
        return run(act)

    @api.post("/claims/{claim_id}/decision",
              summary="Approve (all or some lines: the amount is computed) or reject")
    def decide(claim_id: str, body: DecisionIn, op: Op) -> Any:
        def act(conn: Connection) -> dict[str, Any]:
            if body.approve:
                reimbursement.approve(conn, agency(op), ids, policies, claim_id,
                                      excluded=body.excluded_lines, note=body.reason)
            else:
                reimbursement.reject(conn, agency(op), claim_id, body.reason)
            return reimbursement.describe(conn, claim_id)
        return run(act)

    @api.post("/institutions/{code}/faults", status_code=201,
              summary="Declare a fault period for an institution")
    def fault(code: str, body: FaultIn, op: Op) -> Any:
        return run(lambda conn: {"fault_id": reimbursement.declare_fault(
            conn, agency(op), ids, code, body.begin_at, body.end_at, body.reason)})

    @api.get("/institutions/{code}/faults", response_model=list[FaultRow],
             summary="An institution's fault periods, newest first (optionally of one status)")
    def faults(code: str, op: Op, status: FaultStatus | None = None,
               limit: Annotated[int, Query(ge=1, le=reimbursement.FAULTS_SHOWN)]
               = reimbursement.FAULTS_SHOWN) -> Any:
        return run(lambda conn: reimbursement.faults_of(conn, code, status, limit),
                   read_only=True)

    @api.get("/faults/{fault_id}", response_model=Fault,
             summary="One fault period: who declared it, its span, its cancellation, the "
             "claims relying on it")
    def fault_period(fault_id: str, op: Op) -> Any:
        return run(lambda conn: reimbursement.describe_fault(conn, fault_id), read_only=True)

    @api.post("/faults/{fault_id}/cancel", response_model=Fault,
              summary="Cancel a wrongly declared fault period (refused while bills rely on it)")
    def cancel_fault(fault_id: str, body: FaultCancelIn, op: Op) -> Any:
        def act(conn: Connection) -> dict[str, Any]:
            reimbursement.cancel_fault(conn, agency(op), fault_id,
                                       f"cancelled by {op.name}: {body.reason}")
            return reimbursement.describe_fault(conn, fault_id)
        return run(act)

    @api.post("/payments/export", response_class=PlainTextResponse,
              summary="The bank file (CSV) of every pending payment; they become exported")
    def export(op: Op) -> Any:
        def act(conn: Connection) -> str:
            batch, rows = reimbursement.export_batch(conn, agency(op), ids)
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["batch", "order_id", "claim_id", "bank_name", "bank_account",
                             "amount_yuan"])
            writer.writerows([batch, r["order_id"], r["claim_id"], r["bank_name"],
                              r["bank_account"], fen_to_yuan(r["amount"])] for r in rows)
            return out.getvalue()
        return run(act)

    @api.post("/payments/{order_id}/result", summary="The bank's answer for one order")
    def bank_result(order_id: str, body: BankResultIn, op: Op) -> Any:
        return run(lambda conn: {"order_id": order_id, "status":
                                 reimbursement.record_bank_result(
                                     conn, agency(op), order_id, paid=body.paid,
                                     error=body.error)})

    @api.post("/payments/{order_id}/retry", summary="Send a failed payment again")
    def retry(order_id: str, op: Op) -> Any:
        def act(conn: Connection) -> dict[str, str]:
            reimbursement.retry_payment(conn, agency(op), order_id)
            return {"order_id": order_id, "status": "pending"}
        return run(act)

    return api
