"""Contributions in the console: the bureau's deferral decisions and declared periods,
deciding a deferral (administrator) and declaring a period (administrator), through the
same services as /admin/v1 (api/admin_contribution.py). A person's contribution history
is a section of the person's page (person_pages.py)."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from yibao.api.console import forms
from yibao.api.console.web import PREFIX, Console, Viewer, done
from yibao.domain.errors import Refused
from yibao.services import contribution
from yibao.services.context import Call

PAGE = PREFIX + "/contributions"
Field = Annotated[str, Form()]  # checked by forms (a refusal naming it, never a 422)
REASON_LENGTH_MAX = 200


def routes(console: Console, api: APIRouter) -> None:
    def listing(request: Request, viewer: Viewer, *, error: Refused | None = None,
                typed: dict[str, str] | None = None) -> Response:
        view = console.look(lambda conn: {"deferrals": contribution.deferrals(conn),
                                          "declared": contribution.declared(conn)})
        return console.page(request, viewer, "contributions.html",
                            status=error.http_status if error else 200, error=error,
                            typed=typed or {}, **view)

    def change(request: Request, viewer: Viewer, permission: str, csrf: str,
               action: Callable[[Call], str], what: str, typed: dict[str, str]) -> Response:
        try:
            made = console.act(viewer, permission, csrf, action)
        except Refused as refusal:
            return listing(request, viewer, error=refusal, typed=typed)
        return done(PAGE, what, id=made)

    @api.get("/contributions", response_class=HTMLResponse)
    def contributions_page(request: Request,
                           viewer: Annotated[Viewer, Depends(console.viewer)]) -> Response:
        return listing(request, console.needs(viewer, "read"))

    @api.post("/contributions/deferrals", response_class=HTMLResponse)
    def defer(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
              csrf: Field = "", emp_no: Field = "", insutype: Field = "",
              begin_date: Field = "", until_date: Field = "", reason: Field = "") -> Response:
        def act(call: Call) -> str:
            return contribution.decide_deferral(
                call, emp_no=forms.text(emp_no, "emp_no", max_length=30),
                insutype=forms.text(insutype, "insutype", max_length=6, required=True),
                begin=forms.required_day(begin_date, "begin_date"),
                until=forms.required_day(until_date, "until_date"),
                reason=forms.text(reason, "reason", max_length=REASON_LENGTH_MAX,
                                  required=True))[0]
        typed = {"emp_no": emp_no[:30], "insutype": insutype[:6], "begin_date": begin_date[:10],
                 "until_date": until_date[:10], "reason": reason[:REASON_LENGTH_MAX]}
        return change(request, viewer, "contributions.defer", csrf, act, "deferral-decided",
                      typed)

    @api.post("/contributions/declared", response_class=HTMLResponse)
    def declare(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                csrf: Field = "", area: Field = "", title: Field = "", begin_date: Field = "",
                until_date: Field = "") -> Response:
        def act(call: Call) -> str:
            return contribution.declare(
                call, area=forms.text(area, "area", max_length=6, required=True),
                title=forms.text(title, "title", max_length=200, required=True),
                begin=forms.required_day(begin_date, "begin_date"),
                until=forms.required_day(until_date, "until_date"))
        typed: dict[str, Any] = {"area": area[:6], "title": title[:200],
                                 "declared_begin": begin_date[:10],
                                 "declared_until": until_date[:10]}
        return change(request, viewer, "declared.change", csrf, act, "period-declared", typed)
