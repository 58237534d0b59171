"""The bureau console (/console): server-rendered pages for the bureau's operators, in
Chinese or English, each showing what the operator's roles allow (docs/console.md).

An entry point like /admin/v1: it signs the operator in (their name and bearer token,
then a session cookie: services/operator_sessions.py) and calls the same services with
the operator's call (``admin.operator_call``). The page modules are listed here, each
adding its routes (``routes(console, api)``)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from yibao.api.console import (
    away_pages,
    claim_pages,
    clearing_pages,
    contribution_pages,
    dashboard_pages,
    fault_pages,
    filing_pages,
    home,
    institution_pages,
    log_pages,
    order_pages,
    outbox_pages,
    payment_pages,
    person_pages,
    signin,
    supervision_pages,
)
from yibao.api.console.web import (
    PREFIX,
    Console,
    NotAllowed,
    Settings,
    SignInNeeded,
    forbidden,
    signin_redirect,
)
from yibao.api.limits import Family

FORM_BYTES_MAX = 64 * 1024
STATIC = "/static"
PAGES = (signin, home, dashboard_pages, outbox_pages, claim_pages, payment_pages,
         filing_pages, fault_pages, institution_pages, person_pages, order_pages, log_pages,
         clearing_pages, contribution_pages, supervision_pages,
         away_pages)
__all__ = ["Console", "Settings", "edge", "install", "router"]


def edge() -> Family:
    """The console at the edge (api/limits.py): the session cookie authenticates in the
    route; a body no larger than a form."""
    return Family(PREFIX, body_bytes_max=FORM_BYTES_MAX)


def router(console: Console) -> APIRouter:
    api = APIRouter(prefix=PREFIX, include_in_schema=False)
    for module in PAGES:
        module.routes(console, api)
    return api


def install(app: FastAPI, console: Console) -> None:
    """The console's routes, its local assets and its answers to a missing session
    (the sign-in page) and to a page the roles do not allow (403)."""
    from pathlib import Path

    app.include_router(router(console))
    app.mount(PREFIX + STATIC, StaticFiles(directory=Path(__file__).parent / "static"),
              name="console-static")

    @app.exception_handler(SignInNeeded)
    async def sign_in_first(_request: Request, exc: SignInNeeded) -> Response:
        return signin_redirect(exc)

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed) -> Response:
        return forbidden(console, request, exc)
