"""Signing in and out of the console: the operator's name and bearer token open a
session (a random cookie, HttpOnly, SameSite=Strict, for /console only)."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yibao.api.admin import operator_call
from yibao.api.console.web import COOKIE, PREFIX, Console, Viewer, done
from yibao.domain.errors import Refused
from yibao.services import operator_sessions


def safe_next(path: str) -> str:
    """Where to go after signing in: a console page, never another site."""
    if path.startswith(PREFIX) and not path.startswith("//") and "\\" not in path:
        return path
    return PREFIX


def routes(console: Console, api: APIRouter) -> None:
    @api.get("/signin", response_class=HTMLResponse)
    def signin_page(request: Request, next: str = PREFIX) -> Response:
        return console.page(request, None, "signin.html", next=safe_next(next))

    @api.post("/signin", response_class=HTMLResponse)
    def sign_in(request: Request, name: Annotated[str, Form()] = "",
                token: Annotated[str, Form()] = "",
                next: Annotated[str, Form()] = PREFIX) -> Response:
        target = safe_next(next)
        now = console.clock()
        try:
            with console.db.write() as conn:
                credential = operator_sessions.check_credential(conn, name, token, now)
                opened = operator_sessions.open_session(
                    operator_call(conn, credential.operator, console.ids, console.policies),
                    credential)
        except Refused as refusal:
            return console.page(request, None, "signin.html", status=refusal.http_status,
                                error=refusal, next=target, name=name[:60])
        answer = RedirectResponse(target, status_code=303)
        answer.set_cookie(COOKIE, opened.cookie, httponly=True, samesite="strict",
                          secure=request.url.scheme == "https", path=PREFIX,
                          max_age=int((opened.expires_at - now).total_seconds()))
        return answer

    @api.post("/signout")
    def sign_out(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                 csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
        cookie = request.cookies.get(COOKIE, "")
        console.act(dataclasses.replace(viewer), "read", csrf,
                    lambda call: operator_sessions.close(call, cookie))
        answer = done(PREFIX + "/signin", "signed-out")
        answer.delete_cookie(COOKIE, path=PREFIX)
        return answer
