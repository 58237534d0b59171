"""Institutions in the console: the list with their flags; one institution with its
flags (switched by an administrator), its gateway schemes, AK/SK pairs and x-tif token
(docs/operations.md). A new pair's secret, or a new token, is shown once, on the page
answering the change, and never again (the store keeps it for the gateway only)."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from yibao.api.console import forms
from yibao.api.console.web import PREFIX, Console, Viewer, done
from yibao.domain.errors import Refused
from yibao.services import fever, institutions
from yibao.services.context import Call

PAGE = PREFIX + "/institutions"
Field = Annotated[str, Form()]  # checked by forms (a refusal naming it, never a 422)
GRACE_MINUTES_MAX = 7 * 24 * 60  # domain/gateway_keys: a grace of at most 7 days
CHINA = timezone(timedelta(hours=8))
T = TypeVar("T")


def china_time_of(unix: int | None) -> str:
    """Unix seconds of the gateway clock as China time, to the second."""
    if unix is None:
        return ""
    return datetime.fromtimestamp(unix, CHINA).strftime("%Y-%m-%d %H:%M:%S")


def routes(console: Console, api: APIRouter) -> None:
    def one(request: Request, viewer: Viewer, code: str,
            error: Refused | None = None) -> Response:
        try:
            view = console.look(lambda conn: {
                "institution": institutions.listed(conn, code),
                "gateway": institutions.gateway_of(conn, code),
                "fever": fever.departments(conn, code),
                "diseases": institutions.disease_services_of(conn, code)})
        except Refused as unknown:
            return console.page(request, viewer, "missing.html",
                                status=unknown.http_status, error=unknown)
        return console.page(request, viewer, "institution.html",
                            status=error.http_status if error else 200, error=error,
                            flags=institutions.FLAGS, until=china_time_of,
                            open_kinds=institutions.OPEN_KIND_CHOICES, **view)

    def change(request: Request, viewer: Viewer, code: str, permission: str, csrf: str,
               action: Callable[[Call], T]) -> T | Response:
        """An administrator's change of the institution; its cached copy forgotten
        after the commit, as /admin/v1 does (the refusal: the page again)."""
        try:
            result = console.act(viewer, permission, csrf, action)
        except Refused as refusal:
            return one(request, viewer, code, refusal)
        console.settings.forget_institution(code)
        return result

    @api.get("/institutions", response_class=HTMLResponse)
    def listing(request: Request,
                viewer: Annotated[Viewer, Depends(console.viewer)]) -> Response:
        return console.page(request, console.needs(viewer, "read"), "institutions.html",
                            institutions=console.look(institutions.listing))

    @api.get("/institutions/{code}", response_class=HTMLResponse)
    def institution_page(request: Request, code: str,
                         viewer: Annotated[Viewer, Depends(console.viewer)]) -> Response:
        return one(request, console.needs(viewer, "read"), code)

    @api.post("/institutions/{code}/flags/{flag}", response_class=HTMLResponse)
    def switch(request: Request, code: str, flag: str,
               viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Field = "",
               enabled: Field = "") -> Response:
        def act(call: Call) -> None:
            if flag not in institutions.FLAGS:
                raise Refused("E-ENV-005", f"flag: one of {', '.join(institutions.FLAGS)}")
            institutions.set_flag(call, code, flag, forms.ticked(enabled))
        answer = change(request, viewer, code, "institutions.flags", csrf, act)
        return answer or done(f"{PAGE}/{code}", "flag-switched")

    @api.post("/institutions/{code}/fever", response_class=HTMLResponse)
    def mark_fever(request: Request, code: str,
                   viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Field = "",
                   dept_code: Field = "") -> Response:
        answer = change(request, viewer, code, "institutions.flags", csrf,
                        lambda call: fever.mark(call, code, dept_code.strip()))
        return answer if isinstance(answer, Response) else done(f"{PAGE}/{code}",
                                                                "fever-marked")

    @api.post("/institutions/{code}/fever/unmark", response_class=HTMLResponse)
    def unmark_fever(request: Request, code: str,
                     viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Field = "",
                     dept_code: Field = "") -> Response:
        answer = change(request, viewer, code, "institutions.flags", csrf,
                        lambda call: fever.unmark(call, code, dept_code))
        return answer if isinstance(answer, Response) else done(f"{PAGE}/{code}",
                                                                "fever-unmarked")

    @api.post("/institutions/{code}/open-kind", response_class=HTMLResponse)
    def open_kind(request: Request, code: str,
                  viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Field = "",
                  kind: Field = "") -> Response:
        answer = change(request, viewer, code, "institutions.flags", csrf,
                        lambda call: institutions.set_open_kind(call, code, kind.strip()))
        return answer or done(f"{PAGE}/{code}", "open-kind-set")

    @api.post("/institutions/{code}/diseases", response_class=HTMLResponse)
    def disease_service(request: Request, code: str,
                        viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Field = "",
                        disease: Field = "", opened: Field = "") -> Response:
        """Open (or close) special-disease care away from home for one disease."""
        answer = change(request, viewer, code, "institutions.diseases", csrf, lambda call: (
            institutions.set_disease_service(
                call, code, forms.text(disease, "disease", max_length=30, required=True),
                opened=forms.ticked(opened))))
        return answer or done(f"{PAGE}/{code}", "disease-service-set")

    @api.post("/institutions/{code}/schemes", response_class=HTMLResponse)
    def schemes(request: Request, code: str,
                viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Field = "",
                xtif: Field = "", aksk: Field = "") -> Response:
        answer = change(request, viewer, code, "institutions.gateway", csrf, lambda call: (
            institutions.set_schemes(call, code, xtif=forms.ticked(xtif),
                                     aksk=forms.ticked(aksk))))
        return answer or done(f"{PAGE}/{code}", "schemes-set")

    @api.post("/institutions/{code}/keys", response_class=HTMLResponse)
    def issue_key(request: Request, code: str,
                  viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Field = "",
                  grace_minutes: Field = "") -> Response:
        def act(call: Call) -> institutions.IssuedKey:
            minutes = forms.whole(grace_minutes, "grace_minutes", low=0,
                                  high=GRACE_MINUTES_MAX)
            return institutions.issue_key(call, code, now_unix=console.settings.gateway_now(),
                                          grace_seconds=minutes * 60)
        issued = change(request, viewer, code, "institutions.gateway", csrf, act)
        if isinstance(issued, Response):
            return issued
        return console.page(request, viewer, "institution_secret.html", code=code,
                            access_key=issued.access_key, secret=issued.secret_key,
                            previous=issued.previous,
                            previous_until=china_time_of(issued.previous_until))

    @api.post("/institutions/{code}/token", response_class=HTMLResponse)
    def rotate_token(request: Request, code: str,
                     viewer: Annotated[Viewer, Depends(console.viewer)],
                     csrf: Field = "") -> Response:
        token = change(request, viewer, code, "institutions.gateway", csrf,
                       lambda call: institutions.rotate_token(call, code))
        if isinstance(token, Response):
            return token
        return console.page(request, viewer, "institution_secret.html", code=code,
                            access_key="", secret=token, previous="", previous_until="")
