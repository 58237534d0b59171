"""Operators' view of the outbox (/admin/v1/outbox): counts per status, the newest
messages, one message with its payload (any operator), and the retry of a failed one
(administrator). Same bearer operator tokens as the rest of /admin/v1 (see admin.py,
docs/outbox.md)."""


from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from yibao.api.admin import DENIED, Gate, Window
from yibao.api.rest import DecimalRoute
from yibao.domain.roles import Operator
from yibao.services import outbox
from yibao.services.context import Call

# (no "from __future__ import annotations" here: FastAPI reads the closures' Annotated
# dependencies at definition time)
ROWS_DEFAULT = 100

Status = Literal["pending", "delivered", "failed"]


class MessageRow(BaseModel):
    id: str = Field(examples=["S20260511093000a1b2c3d4e5f6"],
                    description="the Idempotency-Key the receiver gets")
    kind: str = Field(examples=["away-cost"])
    psn_no: str = Field(examples=["11000000000000000001"])
    status: Status
    attempts: int = Field(examples=[3], description="attempts so far, a successful one "
                          "included; 0 again after an operator's retry")
    last_error: str = Field(examples=["HTTP 503"], description="empty when delivered")
    next_attempt_at: str = Field(examples=["2026-05-11T09:30:20"], description="CST")
    lease_until: str | None = Field(examples=[None],
                                    description="set while a deliverer is posting it")
    created_at: str = Field(examples=["2026-05-11T09:30:00"])
    delivered_at: str | None = Field(examples=["2026-05-11T09:30:21"])


class Message(MessageRow):
    payload: dict[str, Any] = Field(examples=[{"setl_id": "S20260511093000a1b2c3d4e5f6"}])


class Listing(BaseModel):
    counts: dict[str, int] = Field(examples=[{"pending": 2, "delivered": 140, "failed": 1}],
                                   description="every message, per status")
    messages: list[MessageRow] = Field(description="newest first, at most `limit`")


def router(window: Window, gate: Gate) -> APIRouter:
    api = APIRouter(route_class=DecimalRoute, prefix="/admin/v1/outbox", tags=["admin"], responses={
        **DENIED,
        404: {"description": "no such outbox message (E-OUT-001)"},
    })

    @api.get("", response_model=Listing,
             summary="Messages to the national platform: counts per status, newest first")
    def list_messages(
        op: Annotated[Operator, gate.needs("read")], status: Status | None = None,
        limit: Annotated[int, Query(ge=1, le=outbox.ROWS_MAX)] = ROWS_DEFAULT,
    ) -> Any:
        with window.db.read() as conn:
            return {"counts": outbox.counts(conn),
                    "messages": outbox.listing(conn, status=status, limit=limit)}

    @api.get("/{key}", response_model=Message, summary="One message with its payload")
    def one_message(key: str, op: Annotated[Operator, gate.needs("read")]) -> Any:
        with window.db.read() as conn:
            return outbox.message(conn, key)

    @api.post("/{key}/retry", response_model=Message,
              responses={409: {"description": "the message is not failed (E-OUT-002)"}},
              summary="Send a failed message again: pending, due now, a fresh set of attempts")
    def retry(key: str, op: Annotated[Operator, gate.needs("outbox.retry")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            return outbox.retry(call, key)
        return window.run(op, act)

    return api
