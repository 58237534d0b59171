"""The monthly clearing in the console: the months run (open or closed, when, by whom),
one month's statement per institution (prepaid and due) and per pair of regions (with
what it drew from the pair's advance fund), and the finance office's changes: run the
month (DuckDB, again as often as needed while it is open) and close it; the advance
funds between regions (balance, low warning, a new advance or top-up); prepayment by
need (proposed by finance, approved or rejected by an approver) (docs/clearing.md,
docs/console.md Clearing)."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from yibao.api.console import forms
from yibao.api.console.web import PREFIX, Console, Viewer, done
from yibao.domain import advance as advance_rules
from yibao.domain.errors import Refused
from yibao.services import advance, audit, clearing, institutions, statements
from yibao.services.context import Call

ENGINE = "duckdb"
PAGE = PREFIX + "/clearing"
T = TypeVar("T")
Field = Annotated[str, Form()]  # checked by forms (a refusal naming it, never a 422)


def routes(console: Console, api: APIRouter) -> None:
    def listing(request: Request, viewer: Viewer, month: str,
                error: Refused | None = None) -> Response:
        try:
            chosen = clearing.check_month(month or _last_month(console.clock().date()))
        except Refused as refusal:
            error, chosen = refusal, _last_month(console.clock().date())
        today = console.clock().date()
        view: dict[str, Any] = console.look(lambda conn: {
            "months": clearing.months(conn), "statement": statements.of_month(conn, chosen),
            "funds": advance.positions(conn, console.policies, today),
            "proposals": advance.proposals(conn),
            "institutions": institutions.listing(conn)})
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


    def finance(request: Request, viewer: Viewer, month: str, csrf: str, permission: str,
                what: str, step: Callable[[Call], object]) -> Response:
        try:
            console.act(viewer, permission, csrf, step)
        except Refused as refusal:
            return listing(request, viewer, month, refusal)
        return done(PAGE, what, **({"month": month} if month else {}))

    @api.post("/clearing/advances")
    def record_advance(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                       csrf: Field = "", month: Field = "", insured: Field = "",
                       treatment: Field = "", amount: Field = "", note: Field = "") -> Response:
        return finance(request, viewer, month, csrf, "clearing.advance", "advance-recorded",
                       lambda call: advance.record(
                           call, forms.text(insured, "insured", max_length=6, required=True),
                           forms.text(treatment, "treatment", max_length=6, required=True),
                           advance_rules.parse_amount(amount, "amount"),
                           forms.text(note, "note", max_length=200)))

    @api.post("/clearing/prepayments")
    def propose(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                csrf: Field = "", month: Field = "", code: Field = "", amount: Field = "",
                reason: Field = "") -> Response:
        return finance(request, viewer, month, csrf, "prepayment.propose",
                       "prepayment-proposed", lambda call: advance.propose(
                           call, forms.text(code, "code", max_length=30, required=True),
                           advance_rules.parse_amount(amount, "amount"),
                           forms.text(reason, "reason", max_length=200, required=True)))

    @api.post("/clearing/prepayments/{proposal_id}/approve")
    def approve(request: Request, proposal_id: int,
                viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Field = "",
                month: Field = "") -> Response:
        return finance(request, viewer, month, csrf, "prepayment.decide",
                       "prepayment-approved", lambda call: advance.approve(call, proposal_id))

    @api.post("/clearing/prepayments/{proposal_id}/reject")
    def reject(request: Request, proposal_id: int,
               viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Field = "",
               month: Field = "", note: Field = "") -> Response:
        return finance(request, viewer, month, csrf, "prepayment.decide",
                       "prepayment-rejected", lambda call: advance.reject(
                           call, proposal_id, forms.text(note, "note", max_length=200)))


def _logged(call: Call, what: str, month: str, step: Callable[[Call], T]) -> T:
    """The step, then its row of the operators' log in the same transaction."""
    result = step(call)
    audit.action(call, what, month)
    return result


def _last_month(today: date) -> str:
    """The month before ``today``'s: the one a clearing is usually run for."""
    return f"{today.year - 1}-12" if today.month == 1 else f"{today.year}-{today.month - 1:02d}"
