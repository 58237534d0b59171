"""Fault periods in the console: an institution's periods (chosen from a list) with their
status; declaring one and cancelling one (administrator), through the same services as
/admin/v1 (api/admin_claims.py), refused with E-REV-004 while bills rely on it."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from yibao.api.console import forms
from yibao.api.console.web import PREFIX, Console, Viewer, done
from yibao.domain.errors import Refused
from yibao.services import faults, institutions
from yibao.services.context import Call

PAGE = PREFIX + "/faults"
Field = Annotated[str, Form()]  # checked by forms (a refusal naming it, never a 422)


def routes(console: Console, api: APIRouter) -> None:
    def listing(request: Request, viewer: Viewer, code: str, *,
                error: Refused | None = None, typed: dict[str, str] | None = None) -> Response:
        def read(conn: Any) -> dict[str, Any]:
            known = institutions.listing(conn)
            chosen = code or (known[0].code if known else "")
            try:
                periods = faults.of_institution(conn, chosen, None) if chosen else []
            except Refused as unknown:  # an institution code typed into the address
                return {"institutions": known, "chosen": chosen, "periods": [],
                        "unknown": unknown}
            return {"institutions": known, "chosen": chosen, "periods": periods,
                    "unknown": None}

        view = console.look(read)
        unknown = view.pop("unknown")
        error = error or unknown
        return console.page(request, viewer, "faults.html",
                            status=error.http_status if error else 200, error=error,
                            typed=typed or {}, **view)

    @api.get("/faults", response_class=HTMLResponse)
    def faults_page(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                    code: str = "") -> Response:
        return listing(request, console.needs(viewer, "read"), code.strip()[:30])

    @api.post("/faults", response_class=HTMLResponse)
    def declare(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                csrf: Field = "", code: Field = "", begin_at: Field = "", end_at: Field = "",
                reason: Field = "") -> Response:
        def act(call: Call) -> str:
            return faults.declare_by_operator(
                call, forms.text(code, "code", max_length=30, required=True),
                forms.moment(begin_at, "begin_at"), forms.moment(end_at, "end_at"),
                forms.text(reason, "reason", max_length=300, required=True))
        try:
            fault_id = console.act(viewer, "faults.change", csrf, act)
        except Refused as refusal:
            typed = {"begin_at": begin_at, "end_at": end_at, "reason": reason}
            return listing(request, viewer, code.strip()[:30], error=refusal, typed=typed)
        return done(PAGE, "fault-declared", code=code.strip(), fault=fault_id)

    @api.post("/faults/{fault_id}/cancel", response_class=HTMLResponse)
    def cancel(request: Request, fault_id: str,
               viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Field = "",
               code: Field = "", reason: Field = "") -> Response:
        def act(call: Call) -> None:
            faults.cancel_by_operator(call, fault_id, forms.text(
                reason, "reason", max_length=200, required=True))
        try:
            console.act(viewer, "faults.change", csrf, act)
        except Refused as refusal:
            return listing(request, viewer, code.strip()[:30], error=refusal)
        return done(PAGE, "fault-cancelled", code=code.strip(), fault=fault_id)
