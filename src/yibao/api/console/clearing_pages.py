"""The monthly clearing in the console: the months run (open or closed, when, by whom),
one month's statement per institution (prepaid and due) and per pair of regions, and the
finance office's changes: run the month (DuckDB, again as often as needed while it is
open) and close it (docs/clearing.md, docs/console.md Clearing)."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from yibao.api.console.web import PREFIX, Console, Viewer, done
from yibao.domain.errors import Refused
from yibao.services import audit, clearing, statements
from yibao.services.context import Call

ENGINE = "duckdb"
T = TypeVar("T")


def routes(console: Console, api: APIRouter) -> None:
    def listing(request: Request, viewer: Viewer, month: str,
                error: Refused | None = None) -> Response:
        try:
            chosen = clearing.check_month(month or _last_month(console.clock().date()))
        except Refused as refusal:
            error, chosen = refusal, _last_month(console.clock().date())
        view: dict[str, Any] = console.look(lambda conn: {
            "months": clearing.months(conn), "statement": statements.of_month(conn, chosen)})
        return console.page(request, viewer, "clearing.html", status=error.http_status
                            if error else 200, error=error, month=chosen,
                            fund_name=statements.fund_name, **view)

    @api.get("/clearing", response_class=HTMLResponse)
    def clearing_page(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                      month: str = "") -> Response:
        return listing(request, console.needs(viewer, "read"), month)

    def change(request: Request, viewer: Viewer, month: str, csrf: str, what: str,
               step: Callable[[Call], object]) -> Response:
        try:
            console.act(viewer, what, csrf, lambda call: _logged(
                call, what, clearing.check_month(month), step), snapshot=True)
        except Refused as refusal:
            return listing(request, viewer, month, refusal)
        return done(f"{PREFIX}/clearing", what.replace(".", "-"), month=month)

    @api.post("/clearing/{month}/run")
    def run(request: Request, month: str, viewer: Annotated[Viewer, Depends(console.viewer)],
            csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
        return change(request, viewer, month, csrf, "clearing.run",
                      lambda call: clearing.run(call, month, engine=ENGINE))

    @api.post("/clearing/{month}/close")
    def close(request: Request, month: str, viewer: Annotated[Viewer, Depends(console.viewer)],
              csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
        return change(request, viewer, month, csrf, "clearing.close",
                      lambda call: clearing.close(call, month))


def _logged(call: Call, what: str, month: str, step: Callable[[Call], T]) -> T:
    """The step, then its row of the operators' log in the same transaction."""
    result = step(call)
    audit.action(call, what, month)
    return result


def _last_month(today: date) -> str:
    """The month before ``today``'s: the one a clearing is usually run for."""
    return f"{today.year - 1}-12" if today.month == 1 else f"{today.year}-{today.month - 1:02d}"
