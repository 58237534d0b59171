"""What every console page shares: the session of the signed-in operator (the
``Viewer``), the forms' token, rendering a template in the operator's language, running an
operator's change as one call, and the Post/Redirect/Get answer of a change.

A page is a plain function of a module under ``api/console/`` that receives the
``Console`` (database, clock, ids, policies, templates) and the ``Viewer``; each module's
``routes(console, api)`` adds its routes, and ``api/console/__init__.py`` calls them one by
one (no registry)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from yibao.api.admin import operator_call
from yibao.api.console import i18n
from yibao.domain.errors import CATALOGUE, Refused
from yibao.domain.money import fen_to_yuan
from yibao.domain.policy import Policy
from yibao.domain.roles import PERMISSIONS, Operator, acting_role
from yibao.services import operator_sessions
from yibao.services.context import Call, Clock, Ids
from yibao.store.db import Database

PREFIX = "/console"
COOKIE = "yibao_console"
TEMPLATES = Path(__file__).parent / "templates"
T = TypeVar("T")
# every asset is the console's own (no CDN); the charts are inline SVG with their styles
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in operator of a request: who (roles held now), the session's forms'
    token and the language the pages speak."""

    operator: Operator
    csrf: str
    lang: str

    @property
    def name(self) -> str:
        return self.operator.name

    def may(self, permission: str) -> bool:
        """Whether one of the operator's roles holds ``permission`` (domain/roles.py)."""
        return bool(self.operator.roles & PERMISSIONS[permission])


class SignInNeeded(Exception):
    """No live session: the page answers with the sign-in page (303), coming back to
    ``path`` after."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class NotAllowed(Exception):
    """The operator's roles do not allow this page or change (403, the role needed)."""

    def __init__(self, viewer: Viewer, refusal: Refused) -> None:
        super().__init__(refusal.message)
        self.viewer = viewer
        self.refusal = refusal


@dataclass(frozen=True, slots=True)
class Settings:
    """What some pages need beyond the store: the amount above which a claim needs a
    second approver (fen), how to drop an institution's cached gateway credentials
    after a change, and the gateway's clock (unix seconds) a key's grace period runs on."""

    second_approval_above: int
    forget_institution: Callable[[str], None] = field(default=lambda _code: None)
    gateway_now: Callable[[], int] = field(default=lambda: int(time.time()))


@dataclass(frozen=True, slots=True)
class Console:
    """The console's dependencies, given to every page module."""

    db: Database
    clock: Clock
    ids: Ids
    policies: tuple[Policy, ...]
    settings: Settings
    env: Environment = field(default_factory=lambda: environment())

    # -- sessions -----------------------------------------------------------------
    def viewer(self, request: Request) -> Viewer:
        """The FastAPI dependency of every page but sign-in: the live session's operator
        (SignInNeeded otherwise)."""
        now = self.clock()
        with self.db.read() as conn:
            session = operator_sessions.live(conn, request.cookies.get(COOKIE, ""), now)
        if session is None:
            raise SignInNeeded(_here(request))
        return Viewer(session.operator, session.csrf, language(request))

    def needs(self, viewer: Viewer, permission: str) -> Viewer:
        """The viewer acting under a role that holds ``permission`` (NotAllowed)."""
        try:
            role = acting_role(viewer.operator.roles, permission)
        except Refused as refusal:
            raise NotAllowed(viewer, refusal) from None
        return dataclasses.replace(
            viewer, operator=dataclasses.replace(viewer.operator, role=role))

    # -- changes ------------------------------------------------------------------
    def act(self, viewer: Viewer, permission: str, csrf: str,
            action: Callable[[Call], T], *, snapshot: bool = False) -> T:
        """An operator's change: the form's token checked, then ``action`` as the
        operator's call (under a role holding ``permission``) in one write transaction
        (``snapshot``: that reads one moment of the store, as a month's clearing must);
        a refusal (Refused) changes nothing."""
        if csrf != viewer.csrf:
            raise Refused("E-ADM-010", "reload the page and try again")
        acting = self.needs(viewer, permission).operator
        acting = dataclasses.replace(acting, now=self.clock())
        with self.db.write(snapshot=snapshot) as conn:
            return action(operator_call(conn, acting, self.ids, self.policies))

    def look(self, action: Callable[[Any], T]) -> T:
        """A page's reads, in one read transaction of one snapshot."""
        with self.db.read(snapshot=True) as conn:
            return action(conn)

    # -- answers ------------------------------------------------------------------
    def page(self, request: Request, viewer: Viewer | None, template: str, *,
             status: int = 200, error: Refused | None = None, **context: Any) -> HTMLResponse:
        """``template`` rendered in the viewer's language (the sign-in page: the
        request's)."""
        lang = viewer.lang if viewer else language(request)
        html = self.env.get_template(template).render(
            _=i18n.gettext_of(lang), viewer=viewer, lang=lang,
            languages=i18n.LANGUAGES, path=request.url.path, query=request.url.query,
            done=request.query_params.get("done", ""), error=error,
            error_title=i18n.maybe_of(lang)(CATALOGUE[error.code].title) if error else "",
            nav=navigation(viewer), prefix=PREFIX, **context)
        answer = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
        asked = request.query_params.get("lang")
        if asked in i18n.LANGUAGES:
            answer.set_cookie(i18n.COOKIE, asked, max_age=365 * 86400, samesite="lax",
                              httponly=True)
        return answer

    def refused(self, request: Request, viewer: Viewer, refusal: Refused,
                template: str, **context: Any) -> HTMLResponse:
        """A change refused: the page again with the refusal's code and why, the
        status its code declares."""
        return self.page(request, viewer, template, status=refusal.http_status,
                         error=refusal, **context)


def done(path: str, what: str, **params: str) -> RedirectResponse:
    """After a change: back to ``path`` (303, Post/Redirect/Get), saying ``what`` was done."""
    return RedirectResponse(f"{path}?{urlencode({'done': what, **params})}", status_code=303)


def language(request: Request) -> str:
    return i18n.choose(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE),
                       request.headers.get("accept-language", ""))


def _here(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


@dataclass(frozen=True, slots=True)
class Item:
    """An entry of the navigation: the page, its label (a message id) and the permission
    that shows it."""

    path: str
    label: str
    permission: str


NAVIGATION: tuple[Item, ...] = (
    Item("", "Home", "read"),
    Item("/dashboard", "Dashboard", "read"),
    Item("/persons", "Persons", "read"),
    Item("/claims", "Claims", "read"),
    Item("/payments", "Payments", "read"),
    Item("/filings", "Filings", "read"),
    Item("/faults", "Fault periods", "read"),
    Item("/contributions", "Contributions", "read"),
    Item("/clearing", "Clearing", "read"),
    Item("/supervision", "Supervision", "read"),
    Item("/away-analysis", "Funds spent elsewhere", "read"),
    Item("/orders", "Online orders", "read"),
    Item("/institutions", "Institutions", "read"),
    Item("/outbox", "Outbox", "read"),
    Item("/log", "Operators' log", "audit.read"),
)


def navigation(viewer: Viewer | None) -> list[Item]:
    """The pages the viewer may open, in the navigation's order."""
    if viewer is None:
        return []
    return [item for item in NAVIGATION if viewer.may(item.permission)]


def yuan(fen: object) -> str:
    """Fen as yuan with thousands separators (``1,234.56``); empty for None."""
    if fen is None:
        return ""
    assert isinstance(fen, int), fen
    text = fen_to_yuan(fen)
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, cents = digits.split(".")
    return f"{sign}{int(whole):,}.{cents}"


def when(moment: object) -> str:
    """A moment to the second (China time, as stored)."""
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return "" if moment is None else str(moment)


def masked(id_number: object) -> str:
    """An ID number with its middle hidden (the first 6 and last 4 shown)."""
    text = "" if id_number is None else str(id_number)
    return text if len(text) < 11 else f"{text[:6]}{'*' * (len(text) - 10)}{text[-4:]}"


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(
        default=True), trim_blocks=True, lstrip_blocks=True)
    env.filters.update(yuan=yuan, when=when, masked=masked, q=quote)
    return env


def signin_redirect(exc: SignInNeeded) -> Response:
    return RedirectResponse(f"{PREFIX}/signin?{urlencode({'next': exc.path})}",
                            status_code=303)


def forbidden(console: Console, request: Request, exc: NotAllowed) -> Response:
    return console.page(request, exc.viewer, "forbidden.html", status=403,
                        error=exc.refusal)
