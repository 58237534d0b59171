"""Bureau operators' REST API (/admin/v1): card loss and replacement, suspensions of
direct settlement, the identity audit trail. Authenticated by a bearer token per
operator (YIBAO_ADMIN_TOKENS="token:name,..."); every change names its operator."""


import hmac
from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Connection, select
from starlette.datastructures import Headers

from yibao.api.limits import Family
from yibao.domain.errors import Refused
from yibao.services import cards
from yibao.services.context import SOURCE_AGENCY, Caller, Clock
from yibao.store.db import Database
from yibao.store.schema import audit_event, person

# (no "from __future__ import annotations" here: FastAPI reads the closures' Annotated
# dependencies at definition time)
PREFIX = "/admin/v1"
AUDIT_ROWS_MAX = 500


class Replacement(BaseModel):
    card_sn: str = Field(min_length=1, max_length=50, examples=["SN0000000101"])


class SuspensionIn(BaseModel):
    begin_date: date
    end_date: date
    reason: str = Field(min_length=1, max_length=200,
                        examples=["lent the social security card to another person"])


def parse_tokens(text: str) -> dict[str, str]:
    """'token:operator name,token2:name2' -> {token: name}."""
    pairs = (item.split(":", 1) for item in text.split(",") if ":" in item)
    return {token.strip(): name.strip() for token, name in pairs if token.strip()}


UNAUTHENTICATED = "a valid operator bearer token is required"


def authenticate(
    tokens: Mapping[str, str], authorization: str, clock: Clock
) -> cards.Operator | None:
    """The operator an ``Authorization`` header value names (None: not a known operator's
    bearer token). The one place operators are authenticated: the edge's check before a
    byte of the body is read (api/limits.py) and every route's dependency call it."""
    sent = authorization.removeprefix("Bearer ").strip()
    for token, name in tokens.items():
        if sent and hmac.compare_digest(sent.encode(), token.encode()):
            return cards.Operator(name, clock())
    return None


def edge(tokens: Mapping[str, str], clock: Clock) -> Family:
    """The /admin/v1 family of the edge (api/limits.py): a known operator's bearer token
    before a byte of the body is read."""

    def admit(headers: Headers) -> cards.Operator | None:
        return authenticate(tokens, headers.get("authorization", ""), clock)

    return Family(PREFIX, admit=admit, json_limits=True, unauthorized=lambda: JSONResponse(
        {"detail": UNAUTHENTICATED}, status_code=401))


def operator_dependency(
    clock: Clock, tokens: Mapping[str, str]
) -> Callable[..., cards.Operator]:
    """The FastAPI dependency that turns a bearer token into the named operator (401)."""

    def operator(authorization: Annotated[str, Header()] = "") -> cards.Operator:
        found = authenticate(tokens, authorization, clock)
        if found is None:
            raise HTTPException(401, UNAUTHENTICATED)
        return found

    return operator


def agency(op: cards.Operator) -> Caller:
    """An operator acting at the window, as the services' Caller (dcla_souc 02)."""
    return Caller(SOURCE_AGENCY, op.name, op.now)


def run_refusable(db: Database, action: Callable[[Connection], Any], *,
                  read_only: bool = False) -> Any:
    """Run an operator's change in one write transaction (or a view in one read of one
    snapshot); a refusal changes nothing and answers its code's HTTP status (the error
    catalogue declares it) with the code and message."""
    try:
        with db.read(snapshot=True) if read_only else db.write() as conn:
            return action(conn)
    except Refused as refusal:
        return JSONResponse({"code": refusal.code, "message": refusal.message},
                            status_code=refusal.http_status)


def router(db: Database, clock: Clock, tokens: Mapping[str, str]) -> APIRouter:
    api = APIRouter(prefix=PREFIX, tags=["admin"], responses={
        400: {"description": "the body is not JSON"},
        401: {"description": "no valid operator bearer token"},
        404: {"description": "no such card, person or suspension (code E-...)"},
        409: {"description": "refused: the body names the error code and why"},
    })

    Op = Annotated[cards.Operator, Depends(operator_dependency(clock, tokens))]

    def run(action: Callable[[Connection], Any]) -> Any:
        return run_refusable(db, action)

    @api.post("/cards/{card_no}/loss", summary="Report a social security card lost")
    def report_lost(card_no: str, op: Op) -> Any:
        def act(conn: Connection) -> dict[str, str]:
            cards.report_lost(conn, op, card_no)
            return {"card_no": card_no, "status": "lost"}
        return run(act)

    @api.post("/cards/{card_no}/replacement", summary="Replace a card (new card_sn)")
    def replace(card_no: str, body: Replacement, op: Op) -> Any:
        def act(conn: Connection) -> dict[str, str]:
            cards.replace(conn, op, card_no, body.card_sn)
            return {"card_no": card_no, "status": "valid"}
        return run(act)

    @api.post("/persons/{psn_no}/suspensions", status_code=201,
              summary="Suspend a person's direct settlement for a period")
    def suspend(psn_no: str, body: SuspensionIn, op: Op) -> Any:
        def act(conn: Connection) -> dict[str, Any]:
            _known_person(conn, psn_no)
            new_id = cards.suspend(conn, op, psn_no, body.begin_date, body.end_date,
                                   body.reason)
            return {"id": new_id, "psn_no": psn_no, "begin_date": str(body.begin_date),
                    "end_date": str(body.end_date)}
        return run(act)

    @api.delete("/suspensions/{suspension_id}", summary="Lift a suspension")
    def lift(suspension_id: int, op: Op) -> Any:
        def act(conn: Connection) -> dict[str, Any]:
            cards.lift(conn, op, suspension_id)
            return {"id": suspension_id, "lifted": True}
        return run(act)

    @api.get("/persons/{psn_no}/audit", summary="The person's identity events, newest first")
    def audit_trail(psn_no: str, op: Op) -> Any:
        with db.read() as conn:
            rows = conn.execute(select(audit_event).where(audit_event.c.psn_no == psn_no)
                                .order_by(audit_event.c.id.desc()).limit(AUDIT_ROWS_MAX))
            return [dict(r, at=r["at"].isoformat()) for r in rows.mappings()]

    return api


def _known_person(conn: Connection, psn_no: str) -> None:
    if conn.execute(select(person.c.psn_no).where(person.c.psn_no == psn_no)).first() is None:
        raise Refused("E-PSN-001", "no such person")

