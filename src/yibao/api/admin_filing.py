"""The operator window for filing (/admin/v1): register, list and cancel a person's
filings."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from yibao.api.admin import DENIED, Gate, Window
from yibao.api.filing_fields import CommitmentFields
from yibao.api.pages import Limit, Offset
from yibao.api.rest import DecimalRoute
from yibao.domain import filing as filing_rules
from yibao.domain import paging
from yibao.domain.paging import Page
from yibao.domain.roles import Operator
from yibao.services import filing
from yibao.services.context import Call

# (no "from __future__ import annotations": FastAPI reads the Annotated dependencies)


class FilingIn(CommitmentFields):
    psn_no: str = Field(min_length=1, max_length=30, examples=["13010200000000000005"])
    filing_type: str = Field(examples=["resident"], description=(
        "resettled, resident, stationed (long-term); referral, emergency, temporary; "
        "disease (with institution and disease_code); trauma (no liable third party)"))
    insutype: str = Field("", max_length=6, examples=["310"],
                          description="empty: the person's only insurance type")
    area: str = Field("", max_length=6, examples=["130102"],
                      description="co-ordination area of treatment (not for disease)")
    end_date: date | None = Field(None, description="valid through this day; long-term "
                                  "filings may leave it open")
    institution: str = Field("", max_length=30, examples=["H11010500001"])
    disease_code: str = Field("", max_length=30, examples=["M03900"])
    disease_name: str = Field("", max_length=300, examples=["高血压"])
    reason: str = Field("", max_length=500, examples=["moved to live with a child"])


class CancellationIn(BaseModel):
    psn_no: str = Field(min_length=1, max_length=30)
    reason: str = Field(min_length=1, max_length=500, examples=["filed by mistake"])


def new_filing(body: FilingIn) -> filing.NewFiling:
    return filing.NewFiling(
        psn_no=body.psn_no, filing_type=body.filing_type, insutype=body.insutype, area=body.area,
        end_date=body.end_date, institution=body.institution,
        disease_code=body.disease_code, disease_name=body.disease_name, reason=body.reason,
        commitment=body.commitment(),
    )


def router(window: Window, gate: Gate) -> APIRouter:
    api = APIRouter(route_class=DecimalRoute,
                    prefix="/admin/v1", tags=["admin: filing"], responses={
        400: {"description": "the body is not JSON"}, **DENIED,
        404: {"description": "no such person (code E-...)"},
        409: {"description": "refused: the body names the error code (E-FIL-...) and why"},
    })

    @api.post("/filings", status_code=201,
              summary="Register a filing at the operator window (clerk)")
    def register(body: FilingIn,
                 op: Annotated[Operator, gate.needs("filings.register")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            return {"trt_dcla_detl_sn": filing.register_at_window(call, new_filing(body))}
        return window.run(op, act)

    @api.get("/persons/{psn_no}/filings", summary="A page of a person's filings, newest "
             f"first (at most {paging.REST_ROWS_MAX} a page)")
    def listing(psn_no: str, op: Annotated[Operator, gate.needs("read")],
                limit: Limit = paging.REST_ROWS_DEFAULT, offset: Offset = 0) -> Any:
        with window.db.read() as conn:
            return [filing.describe(r, op.now)
                    for r in filing.of_person(conn, psn_no, Page(limit, offset))]

    @api.post("/filings/{serial}/cancellation", summary="Cancel a filing (clerk)")
    def cancel(serial: str, body: CancellationIn,
               op: Annotated[Operator, gate.needs("filings.cancel")]) -> Any:
        def act(call: Call) -> dict[str, str]:
            filing.cancel_at_window(call, serial, body.psn_no, body.reason)
            return {"trt_dcla_detl_sn": serial, "status": filing_rules.CANCELLED}
        return window.run(op, act)

    return api
