"""The bureau's finance window (/admin/v1): the advance funds between regions (the 2022
notice: 先预付后清算) and prepayment by need to designated institutions (2020 epidemic
measures, item 1): proposed by finance, approved or rejected by another operator, an
approver (docs/clearing.md)."""

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from yibao.api.admin import DENIED, Gate, Window
from yibao.api.rest import DecimalRoute
from yibao.domain import advance as rules
from yibao.domain.money import fen_to_yuan
from yibao.domain.roles import Operator
from yibao.services import advance
from yibao.services.context import Call

# (no "from __future__ import annotations": FastAPI reads the Annotated dependencies)


class AdvanceIn(BaseModel):
    insured: str = Field(min_length=6, max_length=6, examples=["130102"],
                         description="the insured place that places the fund")
    treatment: str = Field(min_length=6, max_length=6, examples=["110000"],
                           description="the treatment place that holds it")
    amount: str = Field(min_length=1, max_length=20, examples=["1000000.00"],
                        description="yuan, two decimals at most")
    note: str = Field("", max_length=200, examples=["2026 advance, notice of 2026-01-05"])


class ProposalIn(BaseModel):
    fixmedins_code: str = Field(min_length=1, max_length=30, examples=["H11010500001"])
    amount: str = Field(min_length=1, max_length=20, examples=["500000.00"],
                        description="yuan, two decimals at most")
    reason: str = Field(min_length=1, max_length=200,
                        examples=["fever clinic expanded: advance for two months of care"])


class DecisionIn(BaseModel):
    note: str = Field("", max_length=200, examples=["checked with the hospital's plan"])


def position_json(p: advance.Position) -> dict[str, Any]:
    """A fund as the REST answer shows it: ``low`` is a plain field, not a problem."""
    return {"insured": p.insured, "treatment": p.treatment,
            "balance": fen_to_yuan(p.balance), "threshold": fen_to_yuan(p.threshold),
            "recent_months": [fen_to_yuan(a) for a in p.recent], "low": p.low}


def proposal_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {"proposal_id": row["proposal_id"], "fixmedins_code": row["fixmedins_code"],
            "amount": fen_to_yuan(row["amount"]), "reason": row["reason"],
            "status": row["status"], "month": row["month"],
            "proposed_by": row["proposed_by"], "proposed_at": row["proposed_at"],
            "decided_by": row["decided_by"], "decided_at": row["decided_at"],
            "decision_note": row["decision_note"]}


def router(window: Window, gate: Gate) -> APIRouter:
    api = APIRouter(route_class=DecimalRoute, prefix="/admin/v1", tags=["admin: finance"],
                    responses={
        400: {"description": "not a pair of regions (E-ADV-001), amount or reason not "
                             "valid (E-ADV-002)"}, **DENIED,
        404: {"description": "no such proposal (E-ADV-003) or institution (E-ADM-001)"},
        409: {"description": "already decided (E-ADV-004), the month closed (E-CLR-001), "
                             "the fund changed meanwhile (E-ADV-005)"},
    })

    @api.post("/advances", summary="Record an advance (or top-up) an insured place places "
              "with a treatment place (finance)")
    def record(body: AdvanceIn, op: Annotated[Operator, gate.needs("clearing.advance")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            done = advance.record(call, body.insured, body.treatment,
                                  rules.parse_amount(body.amount, "amount"), body.note)
            return {"advance_id": done.advance_id, "insured": done.insured,
                    "treatment": done.treatment, "amount": fen_to_yuan(done.amount),
                    "balance": fen_to_yuan(done.balance)}
        return window.run(op, act)

    @api.get("/advances", summary="Every advance fund: balance, threshold and whether it "
             "runs low (any operator)")
    def funds(op: Annotated[Operator, gate.needs("read")]) -> Any:
        return window.run(op, lambda call: {"funds": [position_json(p) for p in
                                                      advance.positions(call.conn,
                                                                        call.policies,
                                                                        call.now.date())]},
                          read_only=True)

    @api.post("/prepayments", summary="Propose a prepayment by need to an institution "
              "(finance)")
    def propose(body: ProposalIn,
                op: Annotated[Operator, gate.needs("prepayment.propose")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            proposal_id = advance.propose(call, body.fixmedins_code,
                                          rules.parse_amount(body.amount, "amount"),
                                          body.reason)
            return {"proposal_id": proposal_id, "status": rules.PROPOSED}
        return window.run(op, act)

    @api.get("/prepayments", summary="The proposals of prepayment by need, open ones first "
             "(any operator)")
    def proposals(op: Annotated[Operator, gate.needs("read")]) -> Any:
        return window.run(op, lambda call: {"proposals": [
            proposal_json(r) for r in advance.proposals(call.conn)]}, read_only=True)

    @api.post("/prepayments/{proposal_id}/approve", summary="Approve: posted at once, "
              "netted off in this month's clearing (approver; not the proposer)")
    def approve(proposal_id: int, body: DecisionIn,
                op: Annotated[Operator, gate.needs("prepayment.decide")]) -> Any:
        return window.run(op, lambda call: proposal_json(
            advance.approve(call, proposal_id, body.note)))

    @api.post("/prepayments/{proposal_id}/reject", summary="Reject: nothing is paid "
              "(approver)")
    def reject(proposal_id: int, body: DecisionIn,
               op: Annotated[Operator, gate.needs("prepayment.decide")]) -> Any:
        return window.run(op, lambda call: proposal_json(
            advance.reject(call, proposal_id, body.note)))

    return api
