"""The holder's designated institutions through a certified channel (scope claims, as
filings; docs/designation.md): the list (current and history), a new choice, a change
with effect from a date and a cancellation. 2020 epidemic measures, item 3: designated
institutions changed online."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from yibao.api.channel_gate import Caller, Runner, caller, post
from yibao.domain.channels import Scope
from yibao.services import designation
from yibao.services.context import Call

Holder = Annotated[Caller, Depends(caller)]
PIN = Field(min_length=1, max_length=20, examples=["135790"])
CODE = Field(min_length=1, max_length=30, examples=["H11010500002"],
             description="fixmedins_code of a hospital of the insured place that is not "
                         "open to all")


class PinOnly(BaseModel):
    pin: str = PIN


class Choice(BaseModel):
    pin: str = PIN
    fixmedins_code: str = CODE
    begin_date: date | None = Field(None, description="the first day it counts (today or "
                                    "later; empty: today)")
    end_date: date | None = Field(None, description="the last day it counts (empty: until "
                                  "changed or cancelled)")
    insutype: str = Field("", max_length=6, description="empty: the holder's only one")


class Change(BaseModel):
    pin: str = PIN
    fixmedins_code: str = CODE
    effective_date: date | None = Field(None, description="the new institution counts "
                                        "from this day (today or later; empty: today), the "
                                        "replaced one until the day before")


class Cancellation(BaseModel):
    pin: str = PIN
    reason: str = Field(min_length=1, max_length=500, examples=["moved house"])


def routes(api: APIRouter, runner: Runner) -> None:
    as_holder, scope = runner.as_holder, Scope.CLAIMS
    base = "/certificates/{cert_id}/designations"

    @post(api, base + "/list", scope, write=False,
          summary="The holder's designated institutions: current, upcoming and history")
    def listing(cert_id: str, body: PinOnly, who: Holder) -> Any:
        return as_holder(who, cert_id, body.pin, lambda call, psn_no:
                         designation.described(call.conn, psn_no, call.now.date()))

    @post(api, base, scope, status_code=201,
          summary="Designate a hospital (at most the insured place's number, e.g. 4)")
    def choose(cert_id: str, body: Choice, who: Holder) -> Any:
        def act(call: Call, psn_no: str) -> dict[str, Any]:
            done = designation.choose(call, designation.NewDesignation(
                psn_no=psn_no, institution=body.fixmedins_code, insutype=body.insutype,
                begin=body.begin_date, end=body.end_date))
            return {"trt_dcla_detl_sn": done.value}
        return as_holder(who, cert_id, body.pin, act)

    @post(api, base + "/{serial}/change", scope, status_code=201,
          summary="Replace a designated hospital from a date (the replaced one ends the "
                  "day before)")
    def change(cert_id: str, serial: str, body: Change, who: Holder) -> Any:
        def act(call: Call, psn_no: str) -> dict[str, Any]:
            done = designation.change(call, psn_no, serial, body.fixmedins_code,
                                      body.effective_date)
            return {"trt_dcla_detl_sn": done.value, "replaces": serial}
        return as_holder(who, cert_id, body.pin, act)

    @post(api, base + "/{serial}/cancellation", scope,
          summary="Cancel a designation (it no longer counts from today)")
    def cancel(cert_id: str, serial: str, body: Cancellation, who: Holder) -> Any:
        def act(call: Call, psn_no: str) -> dict[str, str]:
            designation.cancel(call, serial, psn_no, body.reason, own_only=False)
            return {"trt_dcla_detl_sn": serial, "status": "ended"}
        return as_holder(who, cert_id, body.pin, act)
