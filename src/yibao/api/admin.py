"""Bureau operators' REST API (/admin/v1): card loss and replacement, suspensions of
direct settlement, the identity audit trail and the operators' log. Every request carries
``Authorization: Bearer <token>`` of an operator (services/operators.py); every route
names the permission it needs (domain/roles.py); every change names its operator."""


import dataclasses
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection
from starlette.datastructures import Headers

from yibao.api.limits import Family
from yibao.api.pages import ROW_ID_MAX, RowId
from yibao.api.problems import problem
from yibao.api.rest import DecimalRoute
from yibao.domain.errors import Refused
from yibao.domain.policy import Policy
from yibao.domain.roles import Operator, acting_role
from yibao.services import audit, cards, ecert, operators, person_numbers, persons, trust
from yibao.services.context import (
    Actor,
    ActorKind,
    Call,
    Clock,
    Entry,
    Ids,
)
from yibao.store.db import Database

# (no "from __future__ import annotations" here: FastAPI reads the closures' Annotated
# dependencies at definition time)
PREFIX = "/admin/v1"
AUDIT_ROWS_MAX = 500
DENIED: dict[int | str, dict[str, Any]] = {
    401: {"description": "no valid operator bearer token (E-ADM-002)"},
    403: {"description": "the operator's roles do not allow this (E-ADM-003 names the role "
                         "needed), or separation of duties (E-ADM-004, E-ADM-005)"},
}


class OperatorDenied(Exception):
    """A refusal raised while authenticating or authorising (before the route runs)."""

    def __init__(self, refusal: Refused) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def install(app: FastAPI) -> None:
    """Answer an unauthenticated (401) or unauthorised (403) operator request with its
    code, like every other refusal of /admin/v1."""

    @app.exception_handler(OperatorDenied)
    async def denied(request: Request, exc: OperatorDenied) -> Response:
        return denial(exc.refusal, request.url.path)


def denial(refusal: Refused, path: str) -> Response:
    """The problem of an operator's request refused before its route ran; a 401 names
    the scheme (WWW-Authenticate: Bearer)."""
    headers = {"WWW-Authenticate": "Bearer"} if refusal.http_status == 401 else None
    return problem(refusal, path, headers=headers)


def operator_dependency(db: Database, clock: Clock) -> Callable[..., Operator]:
    """The FastAPI dependency: the operator of the Authorization header (401). The
    header is not a parameter of the OpenAPI: the routes declare the bearer scheme
    (api/docs.py)."""

    def authenticated(
        authorization: Annotated[str, Header(include_in_schema=False)] = "",
    ) -> Operator:
        try:
            return operators.authenticate(db, authorization, clock())
        except Refused as refusal:
            raise OperatorDenied(refusal) from None

    return authenticated


def edge(db: Database, clock: Clock) -> Family:
    """The /admin/v1 family of the edge (api/limits.py): a live operator's bearer token,
    checked before a byte of the body is read (401 E-ADM-002 otherwise); each route's
    dependency then authenticates and authorises the same header."""

    def admit(headers: Headers) -> Operator | None:
        try:
            return operators.authenticate(db, headers.get("authorization", ""), clock())
        except Refused:
            return None

    def unauthorized(path: str) -> Response:
        return denial(Refused("E-ADM-002", "the token is unknown, expired or revoked"), path)

    return Family(PREFIX, admit=admit, json_limits=True, unauthorized=unauthorized)


class Gate:
    """Per route: the authenticated operator, acting under a role that holds the route's
    permission (403 naming the role needed otherwise)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.authenticated = operator_dependency(db, clock)

    def needs(self, permission: str) -> Any:
        """The dependency of a route needing ``permission``: ``op: Annotated[Operator,
        gate.needs("...")]``."""
        def authorised(op: Annotated[Operator, Depends(self.authenticated)]) -> Operator:
            try:
                return dataclasses.replace(op, role=acting_role(op.roles, permission))
            except Refused as refusal:
                raise OperatorDenied(refusal) from None

        return Depends(authorised)


def as_role(op: Operator, permission: str) -> Operator:
    """The operator acting under a role for a permission the route decides inside (the
    decision route: reject or approve); refused E-ADM-003 otherwise."""
    return dataclasses.replace(op, role=acting_role(op.roles, permission))


def operator_call(conn: Connection, op: Operator, ids: Ids,
                  policies: tuple[Policy, ...]) -> Call:
    """The call of an authenticated operator at the window (/admin/v1): who, with the
    roles held and the role this action is taken under, at the request's moment."""
    return Call(conn=conn, actor=Actor(ActorKind.OPERATOR, op.name, roles=op.roles,
                                       role=op.role),
                entry=Entry.OPERATOR, now=op.now, ids=ids, policies=policies)


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    """What an /admin/v1 router runs its operators' calls with: the database, the id
    generator and the policies in force."""

    db: Database
    ids: Ids
    policies: tuple[Policy, ...]

    def run(self, op: Operator, action: Callable[[Call], Any], *,
            read_only: bool = False) -> Any:
        """``action`` as the operator's call, in one transaction (``run_refusable``)."""
        return run_refusable(self.db, lambda conn: action(
            operator_call(conn, op, self.ids, self.policies)), read_only=read_only)


def run_refusable(db: Database, action: Callable[[Connection], Any], *,
                  read_only: bool = False) -> Any:
    """Run an operator's change in one write transaction (or a view in one read of one
    snapshot); a refusal rolls it back and goes on to the application's handler, which
    answers it with its code's HTTP status (api/problems.py)."""
    with db.read(snapshot=True) if read_only else db.write() as conn:
        return action(conn)


class Replacement(BaseModel):
    card_sn: str = Field(min_length=1, max_length=50, examples=["SN0000000101"])


class GuardianshipIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200,
                        examples=["household register seen: 王小明 is 王芳's son"])


class SuspensionIn(BaseModel):
    begin_date: date
    end_date: date
    reason: str = Field(min_length=1, max_length=200,
                        examples=["lent the social security card to another person"])


class NumberChangeIn(BaseModel):
    new_psn_no: str = Field(min_length=1, max_length=30, examples=["11000000000099"])
    reason: str = Field(min_length=1, max_length=300,
                        examples=["the insured place reissued the number (notice 2026-12)"])


class MergeIn(BaseModel):
    duplicate_psn_no: str = Field(min_length=1, max_length=30,
                                  description="the record folded into this one, retired")
    reason: str = Field(default="", max_length=300, description="required when the two "
                        "records' ID numbers differ (E-PSN-015)",
                        examples=["registered twice, once with the 15-digit ID number"])


def router(window: Window, gate: Gate) -> APIRouter:
    api = APIRouter(route_class=DecimalRoute, prefix=PREFIX, tags=["admin"], responses={
        400: {"description": "the body is not JSON"}, **DENIED,
        404: {"description": "no such card, person or suspension (code E-...)"},
        409: {"description": "refused: the body names the error code and why"},
    })

    db = window.db

    @api.post("/cards/{card_no}/loss", summary="Report a social security card lost (clerk)")
    def report_lost(card_no: str,
                    op: Annotated[Operator, gate.needs("cards.loss")]) -> Any:
        def act(call: Call) -> dict[str, str]:
            cards.report_lost(call, card_no)
            return {"card_no": card_no, "status": "lost"}
        return window.run(op, act)

    @api.post("/cards/{card_no}/replacement", summary="Replace a card (new card_sn; clerk)")
    def replace_card(card_no: str, body: Replacement,
                     op: Annotated[Operator, gate.needs("cards.replace")]) -> Any:
        def act(call: Call) -> dict[str, str]:
            cards.replace(call, card_no, body.card_sn)
            return {"card_no": card_no, "status": "valid"}
        return window.run(op, act)

    @api.post("/family-bindings/{binding_id}/guardianship",
              summary="Confirm the guardianship of a minor child's pending family binding "
                      "after seeing the household register or birth certificate (clerk)")
    def guardianship(binding_id: str, body: GuardianshipIn,
                     op: Annotated[Operator, gate.needs("family.guardianship")]) -> Any:
        def act(call: Call) -> dict[str, str]:
            ecert.confirm_guardianship(call, binding_id, body.reason)
            return {"binding_id": binding_id, "status": ecert.ACTIVE}
        return window.run(op, act)

    @api.post("/persons/{psn_no}/suspensions", status_code=201,
              summary="Suspend a person's direct settlement for a period (administrator)")
    def suspend(psn_no: str, body: SuspensionIn,
                op: Annotated[Operator, gate.needs("suspensions.change")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            persons.get_person(call.conn, psn_no)
            new_id = cards.suspend(call, psn_no, body.begin_date, body.end_date, body.reason)
            return {"id": new_id, "psn_no": psn_no, "begin_date": str(body.begin_date),
                    "end_date": str(body.end_date)}
        return window.run(op, act)

    @api.post("/persons/{psn_no}/number-change",
              summary="Give a person a new personal number; the old one keeps answering "
                      "(administrator; docs/identity-upkeep.md)")
    def number_change(psn_no: str, body: NumberChangeIn,
                      op: Annotated[Operator, gate.needs("persons.renumber")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            return person_numbers.renumber(call, psn_no, body.new_psn_no,
                                           body.reason).answer()
        return window.run(op, act)

    @api.post("/persons/{psn_no}/merge",
              summary="Merge a duplicate record of the person into this one: its "
                      "settlements, accumulators, account and credentials follow this "
                      "number (administrator; docs/identity-upkeep.md)")
    def merge(psn_no: str, body: MergeIn,
              op: Annotated[Operator, gate.needs("persons.merge")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            return person_numbers.merge(call, body.duplicate_psn_no, psn_no,
                                        body.reason).answer()
        return window.run(op, act)

    @api.get("/persons/{psn_no}/number-changes",
             summary="The numbers retired into this person's, newest first")
    def number_changes(psn_no: str, op: Annotated[Operator, gate.needs("read")]) -> Any:
        def act(conn: Connection) -> list[dict[str, Any]]:
            persons.get_person(conn, psn_no)
            return [dict(r, at=r["at"].isoformat(sep=" ")) for r in
                    person_numbers.history(conn, psn_no)]
        return run_refusable(db, act, read_only=True)

    @api.delete("/suspensions/{suspension_id}", summary="Lift a suspension (administrator)")
    def lift(suspension_id: RowId,
             op: Annotated[Operator, gate.needs("suspensions.change")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            cards.lift(call, suspension_id)
            return {"id": suspension_id, "lifted": True}
        return window.run(op, act)

    @api.get("/persons/{psn_no}/audit",
             summary="The person's identity events, newest first (auditor, administrator)")
    def audit_trail(psn_no: str, op: Annotated[Operator, gate.needs("audit.read")]) -> Any:
        def act(conn: Connection) -> list[dict[str, Any]]:
            persons.get_person(conn, psn_no)
            return audit.events_of(conn, psn_no, limit=AUDIT_ROWS_MAX)
        return run_refusable(db, act, read_only=True)

    @api.get("/persons/{psn_no}/attestations",
             summary="The real-person attestations channels made for the person, newest "
                     "first (method, the channel's evidence reference, purpose, times)")
    def attestations(psn_no: str, op: Annotated[Operator, gate.needs("audit.read")]) -> Any:
        def act(conn: Connection) -> list[dict[str, Any]]:
            persons.get_person(conn, psn_no)
            return trust.attestations_of(conn, psn_no)
        return run_refusable(db, act, read_only=True)

    @api.get("/audit", summary="The operators' log, newest first, one page (auditor, "
             "administrator): next page with before = the last id shown")
    def operator_log(
        op: Annotated[Operator, gate.needs("audit.read")],
        before: Annotated[int | None, Query(ge=1, le=ROW_ID_MAX)] = None,
        limit: Annotated[int, Query(ge=1, le=audit.ACTIONS_MAX)] = 100,
        actor: Annotated[str, Query(max_length=60)] = "",
        subject: Annotated[str, Query(max_length=60)] = "",
    ) -> Any:
        with db.read() as conn:
            return audit.actions(conn, before=before, limit=limit, actor=actor,
                                 subject=subject)

    return api

