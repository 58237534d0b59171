"""The insured place's analysis of its funds spent elsewhere in the console (异地就医基金
使用分析; docs/supervision.md, docs/console.md Funds spent elsewhere): an insured place
and a month chosen, the month's figures per treatment region, institution and disease,
the 12-month trend as a chart, the outliers marked with why, and the report to download
as CSV or HTML (api/away_report.py). Any operator may look (permission ``read``); it
changes nothing."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from yibao.api import away_report
from yibao.api.console.web import Console, Viewer
from yibao.domain.away_analysis import Analysis
from yibao.domain.errors import Refused
from yibao.services import away_analysis

Asked = Annotated[str, Query(max_length=20)]


def routes(console: Console, api: APIRouter) -> None:
    @api.get("/away-analysis", response_class=HTMLResponse)
    def away_page(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                  region: Asked = "", month: Asked = "") -> Response:
        console.needs(viewer, "read")
        today = console.clock().date()
        known = console.look(away_analysis.insured_places)
        region = region.strip() or (known[0] if known else "")
        # the last month by default: the monthly report is of a month that is over
        month = month.strip() or str(away_analysis.current_month(today).shifted(-1))
        error: Refused | None = None
        found: Analysis | None = None
        if region:
            try:
                found = console.look(lambda conn: away_analysis.analysis(
                    conn, region, month, today=today))
            except Refused as refusal:
                error = refusal
        return console.page(request, viewer, "away_analysis.html", region=region,
                            month=month, known=known, error=error,
                            status=error.http_status if error else 200,
                            v=away_report.view(found, viewer.lang) if found else None)

    @api.get("/away-analysis/report")
    def away_download(viewer: Annotated[Viewer, Depends(console.viewer)],
                      region: Asked = "", month: Asked = "", format: Asked = "csv",
                      lang: Asked = "") -> Response:
        console.needs(viewer, "read")
        return download(console, region, month, format, lang or viewer.lang)


def download(console: Console, region: str, month: str, fmt: str, lang: str) -> Response:
    """The report as a file to save (a refusal: the problem, as the REST route's)."""
    fmt, lang = away_report.checked(fmt, lang)
    found = console.look(lambda conn: away_analysis.analysis(
        conn, region, month, today=console.clock().date()))
    return away_report.response(found, fmt, lang)
