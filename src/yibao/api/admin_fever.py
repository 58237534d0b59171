"""Fever clinics for operators (/admin/v1; docs/fever.md, the 2020 epidemic measures):
the departments of an institution marked as fever clinics (an administrator marks and
unmarks them, any operator lists them), and the report of fever-clinic settlements per
institution and day (any operator)."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from yibao.api.admin import DENIED, Gate, Window
from yibao.api.rest import DecimalRoute
from yibao.domain.money import fen_to_yuan
from yibao.domain.roles import Operator
from yibao.services import dashboard, fever
from yibao.services.context import Call

# (no "from __future__ import annotations": FastAPI reads the Annotated dependencies)


class Department(BaseModel):
    dept_code: str = Field(examples=["FR01"], description="as the HIS sends it in 2201 "
                           "dept_code (2401 adm_dept_codg)")
    marked_by: str = Field(examples=["admin"])
    marked_at: str = Field(examples=["2026-05-11T09:00:00"], description="CST")


class Marked(BaseModel):
    fixmedins_code: str = Field(examples=["H11010500001"])
    dept_code: str = Field(examples=["FR01"])
    fever_clinic: bool = Field(description="whether the department is now a fever clinic")
    changed: bool = Field(description="false: it already was (or was not) one")


class FeverDay(BaseModel):
    day: date
    fixmedins_code: str = Field(examples=["H11010500001"])
    settlements: int = Field(examples=[12])
    cancellations: int = Field(examples=[1])
    medfee: str = Field(examples=["1234.50"], description="medical fees, net (yuan)")
    fund: str = Field(examples=["1000.00"], description="paid by the funds (public "
                      "finance's line included), net (yuan)")
    person: str = Field(examples=["234.50"], description="the person's part (account and "
                        "cash), net (yuan)")


def router(window: Window, gate: Gate) -> APIRouter:
    api = APIRouter(route_class=DecimalRoute, prefix="/admin/v1", tags=["admin: fever clinics"],
                    responses={**DENIED, 404: {"description": "no such institution (E-ADM-001)"}})
    admin = gate.needs("institutions.flags")
    path = "/institutions/{code}/fever-departments"

    @api.get(path, response_model=list[Department],
             summary="The institution's departments marked as fever clinics (any operator)")
    def listed(code: str, op: Annotated[Operator, gate.needs("read")]) -> Any:
        return window.run(op, lambda call: [
            {"dept_code": d.dept_code, "marked_by": d.marked_by,
             "marked_at": d.marked_at.isoformat()}
            for d in fever.departments(call.conn, code)], read_only=True)

    def change(op: Operator, code: str, dept_code: str, marked: bool) -> Any:
        def act(call: Call) -> dict[str, Any]:
            changed = (fever.mark if marked else fever.unmark)(call, code, dept_code)
            return {"fixmedins_code": code, "dept_code": dept_code, "fever_clinic": marked,
                    "changed": changed}
        return window.run(op, act)

    @api.put(path + "/{dept_code}", response_model=Marked,
             responses={400: {"description": "dept_code invalid (E-ADM-011)"}},
             summary="Mark a department as a fever clinic: visits registered in it from "
             "now on are fever-clinic visits (administrator)")
    def mark(code: str, dept_code: str, op: Annotated[Operator, admin]) -> Any:
        return change(op, code, dept_code, True)

    @api.delete(path + "/{dept_code}", response_model=Marked,
                summary="The department is no fever clinic any more (visits registered "
                "already keep their flag; administrator)")
    def unmark(code: str, dept_code: str, op: Annotated[Operator, admin]) -> Any:
        return change(op, code, dept_code, False)

    @api.get("/reports/fever", response_model=list[FeverDay],
             responses={400: {"description": "the period is invalid (E-ENV-005)"}},
             summary="Fever-clinic settlements per institution and day, net of "
             "cancellations (any operator; the last 30 days by default)")
    def report(op: Annotated[Operator, gate.needs("read")],
               first: Annotated[date | None, Query(alias="from")] = None,
               last: Annotated[date | None, Query(alias="to")] = None,
               code: Annotated[str, Query(max_length=30)] = "") -> Any:
        def look(call: Call) -> list[dict[str, Any]]:
            chosen = dashboard.period(first, last, call.now.date())
            return [{"day": d.day, "fixmedins_code": d.fixmedins_code,
                     "settlements": d.settlements, "cancellations": d.cancellations,
                     "medfee": fen_to_yuan(d.medfee), "fund": fen_to_yuan(d.fund),
                     "person": fen_to_yuan(d.person)}
                    for d in fever.report(call.conn, chosen, code)]
        return window.run(op, look, read_only=True)

    return api
