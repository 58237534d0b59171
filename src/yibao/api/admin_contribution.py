"""The operators' REST for contributions (/admin/v1): a person's contribution history,
arrears and suspensions recorded, payments, the bureau's deferral decisions and declared
periods (docs/contribution.md)."""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from yibao.api.admin import DENIED, Gate, Window
from yibao.api.rest import DecimalRoute
from yibao.domain.contribution import Status
from yibao.domain.errors import Refused
from yibao.domain.money import Fen, MoneyError, fen_to_yuan, yuan_to_fen
from yibao.domain.roles import Operator
from yibao.services import contribution
from yibao.services.context import Call

# (no "from __future__ import annotations": FastAPI reads the Annotated dependencies)

INSUTYPE = Field("310", min_length=3, max_length=6, examples=["310"])
OWED = Field("0.00", max_length=20, examples=["1234.56"],
             description="the contributions owed, yuan with at most two decimals")


class EntryIn(BaseModel):
    insutype: str = INSUTYPE
    status: Literal["arrears", "suspended"]
    since: date = Field(description="the first day of the arrears or the suspension")
    owed: str = OWED
    note: str = Field("", max_length=200)


class PaymentIn(BaseModel):
    insutype: str = INSUTYPE
    paid_on: date = Field(description="the day the money was received (a late "
                          "registration names that day)")
    owed: str = OWED
    note: str = Field("", max_length=200)


class DeferralIn(BaseModel):
    emp_no: str = Field("", max_length=30, examples=["E110105000001"],
                        description="the employer; empty: every insured person of the type")
    insutype: str = INSUTYPE
    begin_date: date
    until_date: date = Field(description="the last day deferred")
    reason: str = Field(min_length=1, max_length=200,
                        examples=["2020 epidemic measures: contributions deferred"])


class DeclaredIn(BaseModel):
    area: str = Field(min_length=6, max_length=6, examples=["110000"])
    title: str = Field(min_length=1, max_length=200, examples=["新冠肺炎疫情防控"])
    begin_date: date
    until_date: date


def _fen(text: str) -> Fen:
    try:
        return yuan_to_fen(text, field="owed")
    except MoneyError as exc:
        raise Refused("E-CON-001", str(exc)) from exc


def router(window: Window, gate: Gate) -> APIRouter:
    api = APIRouter(route_class=DecimalRoute, prefix="/admin/v1",
                    tags=["admin: contributions"], responses={
        400: {"description": "the body is not JSON, or not valid (E-CON-001)"}, **DENIED,
        404: {"description": "no such person (E-PSN-001)"},
        409: {"description": "refused: the body names the error code (E-CON-..., E-PSN-003)"},
    })

    @api.get("/persons/{psn_no}/contributions",
             summary="A person's contribution history, by insurance type, newest first")
    def listing(psn_no: str, op: Annotated[Operator, gate.needs("read")]) -> Any:
        with window.db.read() as conn:
            return contribution.history(conn, psn_no)

    @api.post("/persons/{psn_no}/contributions", status_code=201,
              summary="Record arrears or a suspension of contributions (clerk)")
    def record(psn_no: str, body: EntryIn,
               op: Annotated[Operator, gate.needs("contributions.record")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            period_id = contribution.record(call, contribution.Entry(
                psn_no, body.insutype, Status(body.status), body.since, _fen(body.owed),
                body.note))
            return {"period_id": period_id, "status": body.status, "since": str(body.since)}
        return window.run(op, act)

    @api.post("/persons/{psn_no}/contributions/payments", status_code=201,
              summary="Record a payment of contributions in arrears or deferred (clerk)")
    def pay(psn_no: str, body: PaymentIn,
            op: Annotated[Operator, gate.needs("contributions.record")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            paid = contribution.pay(call, contribution.Payment(
                psn_no, body.insutype, body.paid_on, _fen(body.owed), body.note))
            return {"period_id": paid.period_id, "days_late": paid.days_late,
                    "late_fee": fen_to_yuan(paid.late_fee),
                    "continuous": paid.continuous}
        return window.run(op, act)

    @api.get("/deferrals", summary="The bureau's deferral decisions, newest first")
    def deferrals(op: Annotated[Operator, gate.needs("read")]) -> Any:
        with window.db.read() as conn:
            return contribution.deferrals(conn)

    @api.post("/deferrals", status_code=201,
              summary="Decide a deferral of contributions for an employer or everyone "
                      "(administrator)")
    def defer(body: DeferralIn,
              op: Annotated[Operator, gate.needs("contributions.defer")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            deferral_id, persons = contribution.decide_deferral(
                call, emp_no=body.emp_no, insutype=body.insutype, begin=body.begin_date,
                until=body.until_date, reason=body.reason)
            return {"deferral_id": deferral_id, "persons": persons}
        return window.run(op, act)

    @api.get("/declared-periods", summary="The declared periods, newest first")
    def declared(op: Annotated[Operator, gate.needs("read")]) -> Any:
        with window.db.read() as conn:
            return contribution.declared(conn)

    @api.post("/declared-periods", status_code=201,
              summary="Declare a period of a public-health emergency for an area "
                      "(administrator)")
    def declare(body: DeclaredIn,
                op: Annotated[Operator, gate.needs("declared.change")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            return {"declared_id": contribution.declare(
                call, area=body.area, title=body.title, begin=body.begin_date,
                until=body.until_date)}
        return window.run(op, act)

    return api
