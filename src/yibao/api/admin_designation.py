"""The operator window for designated institutions (/admin/v1, docs/designation.md): a
person's designations listed, chosen, changed and cancelled at the window (a designation
is a 备案, 人员定点备案: the filing permissions)."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from yibao.api.admin import DENIED, Gate, Window
from yibao.api.rest import DecimalRoute
from yibao.domain.roles import Operator
from yibao.services import audit, designation
from yibao.services.context import Call

# (no "from __future__ import annotations": FastAPI reads the Annotated dependencies)

PSN_NO = Field(min_length=1, max_length=30, examples=["11000000000000000001"])
CODE = Field(min_length=1, max_length=30, examples=["H11010500002"])


class ChoiceIn(BaseModel):
    psn_no: str = PSN_NO
    fixmedins_code: str = CODE
    begin_date: date | None = Field(None, description="today or later; empty: today")
    end_date: date | None = Field(None, description="the last day; empty: open-ended")
    insutype: str = Field("", max_length=6, description="empty: the person's only one")


class ChangeIn(BaseModel):
    psn_no: str = PSN_NO
    fixmedins_code: str = CODE
    effective_date: date | None = Field(None, description="today or later; empty: today")


class EndIn(BaseModel):
    psn_no: str = PSN_NO
    reason: str = Field(min_length=1, max_length=500, examples=["chosen by mistake"])


def router(window: Window, gate: Gate) -> APIRouter:
    api = APIRouter(route_class=DecimalRoute, prefix="/admin/v1",
                    tags=["admin: designated institutions"], responses={
        400: {"description": "the body is not JSON"}, **DENIED,
        404: {"description": "no such person or designation (E-PSN-001, E-DES-006)"},
        409: {"description": "refused: the body names the error code (E-DES-...) and why"},
    })

    @api.get("/persons/{psn_no}/designations", summary="A person's designated "
             "institutions, current, upcoming and history, newest first")
    def listing(psn_no: str, op: Annotated[Operator, gate.needs("read")]) -> Any:
        with window.db.read() as conn:
            return designation.described(conn, psn_no, op.now.date())

    @api.post("/designations", status_code=201,
              summary="Designate a hospital for a person at the window (clerk)")
    def choose(body: ChoiceIn, op: Annotated[Operator, gate.needs("filings.register")]) -> Any:
        def act(call: Call) -> dict[str, str]:
            serial = designation.choose(call, designation.NewDesignation(
                psn_no=body.psn_no, institution=body.fixmedins_code, insutype=body.insutype,
                begin=body.begin_date, end=body.end_date)).value
            audit.action(call, "designation.register", serial, psn_no=body.psn_no)
            return {"trt_dcla_detl_sn": serial}
        return window.run(op, act)

    @api.post("/designations/{serial}/change", status_code=201,
              summary="Replace a designated hospital from a date (clerk)")
    def change(serial: str, body: ChangeIn,
               op: Annotated[Operator, gate.needs("filings.register")]) -> Any:
        def act(call: Call) -> dict[str, str]:
            new = designation.change(call, body.psn_no, serial, body.fixmedins_code,
                                     body.effective_date).value
            audit.action(call, "designation.change", new, psn_no=body.psn_no, replaces=serial)
            return {"trt_dcla_detl_sn": new, "replaces": serial}
        return window.run(op, act)

    @api.post("/designations/{serial}/cancellation", summary="End a designation today "
              "(clerk)")
    def cancel(serial: str, body: EndIn,
               op: Annotated[Operator, gate.needs("filings.cancel")]) -> Any:
        def act(call: Call) -> dict[str, str]:
            designation.cancel(call, serial, body.psn_no, body.reason, own_only=False)
            audit.action(call, "designation.cancel", serial, psn_no=body.psn_no)
            return {"trt_dcla_detl_sn": serial, "status": "ended"}
        return window.run(op, act)

    return api
