"""The insured place's analysis of its funds spent elsewhere for operators (/admin/v1;
docs/supervision.md, The insured place's analysis): one insured place's month per
treatment region, institution and disease, the 12-month trend, the changes and the
outliers, as JSON or as the monthly report to save (CSV or HTML). Any operator (read)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from yibao.api import away_report
from yibao.api.admin import DENIED, Gate, Window
from yibao.api.rest import DecimalRoute
from yibao.domain.roles import Operator
from yibao.services import away_analysis
from yibao.services.context import Call

# (no "from __future__ import annotations": FastAPI reads the Annotated dependencies)

Yuan = Field(examples=["1234.50"], description="yuan, two decimals")


class FiguresOut(BaseModel):
    settlements: int = Field(description="settlements and reimbursements not cancelled")
    visits: int = Field(description="distinct visits (mdtrt_id)")
    persons: int = Field(description="distinct persons (psn_no)")
    medfee: str = Yuan
    fund: str = Field(examples=["1000.00"], description="paid by the funds (yuan)")
    fund_per_visit: str | None = Field(description="fund / visits, rounded down to the "
                                       "fen; null without visits")
    fund_per_person: str | None = Field(description="fund / persons, rounded down")


class MonthOut(FiguresOut):
    month: str = Field(examples=["2026-04"])


class ChangeOut(BaseModel):
    mom: str | None = Field(examples=["12.5"], description="percent against the previous "
                            "month, one decimal, half-up; null when that month is 0")
    yoy: str | None = Field(examples=["-3.0"], description="percent against the same month "
                            "last year; null when that month is 0")


class Changes(BaseModel):
    fund: ChangeOut
    visits: ChangeOut
    fund_per_visit: ChangeOut


class Grouped(FiguresOut):
    fund_change_mom: str | None = Field(description="the group's fund paid against the "
                                        "previous month, percent")
    outlier: bool


class RegionOut(Grouped):
    mdtrtarea_admvs: str = Field(examples=["110000"], description="treatment region")


class InstitutionOut(Grouped):
    fixmedins_code: str = Field(examples=["H11010500001"])
    name: str
    mdtrtarea_admvs: str
    level: int | None = Field(description="1..3; null: not registered here")


class DiseaseOut(Grouped):
    diag_code: str = Field(description="the visit's main diagnosis; empty: none recorded")
    diag_name: str


class OutlierOut(BaseModel):
    dimension: str = Field(examples=["institution"], description="region or institution")
    key: str = Field(examples=["H11010500001"])
    name: str
    check: str = Field(examples=["peers"], description="peers: fund per visit against the "
                       "peers' median; jump: fund paid against its previous months' median")
    figure: str = Yuan
    reference: str = Yuan
    ratio: str = Field(examples=["3.00"], description="figure / reference, rounded down")
    threshold: str = Field(examples=["2"])
    peers: int = Field(description="how many peers (or months) the median is of")
    why: str


class ThresholdsOut(BaseModel):
    peer_ratio: str
    min_peers: int
    min_visits: int
    jump_ratio: str
    history_months: int


class AnalysisOut(BaseModel):
    region: str = Field(examples=["130102"], description="the insured place (insuplc_admdvs)")
    month: str = Field(examples=["2026-04"])
    thresholds: ThresholdsOut
    total: FiguresOut
    changes: Changes
    trend: list[MonthOut] = Field(description="twelve months, the month last")
    regions: list[RegionOut]
    institutions: list[InstitutionOut]
    diseases: list[DiseaseOut]
    outliers: list[OutlierOut]


def router(window: Window, gate: Gate) -> APIRouter:
    api = APIRouter(route_class=DecimalRoute, prefix="/admin/v1",
                    tags=["admin: supervision"], responses=DENIED)

    @api.get("/supervision/away-analysis", response_model=AnalysisOut,
             responses={200: {"content": {"text/csv": {}, "text/html": {}},
                              "description": "JSON; with format=csv or html the monthly "
                              "report as a file to save"},
                        400: {"description": "region (E-SUP-020) or month (E-SUP-021, "
                              "E-SUP-022) invalid; format or lang unknown (E-SUP-023)"}},
             summary="The insured place's funds spent elsewhere in a month: per treatment "
             "region, institution and disease, the 12-month trend and the outliers "
             "(any operator)")
    def analysis(op: Annotated[Operator, gate.needs("read")],
                 region: Annotated[str, Query(max_length=20, examples=["130102"])],
                 month: Annotated[str, Query(max_length=20, examples=["2026-04"])],
                 format: Annotated[str, Query(max_length=10)] = "json",
                 lang: Annotated[str, Query(max_length=10)] = "zh") -> Any:
        fmt, language = away_report.checked(format, lang)

        def look(call: Call) -> Any:
            found = away_analysis.analysis(call.conn, region, month, today=call.now.date())
            return away_report.as_json(found) if fmt == "json" else away_report.response(
                found, fmt, language)

        return window.run(op, look, read_only=True)

    return api
