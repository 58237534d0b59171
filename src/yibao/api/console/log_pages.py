"""The operators' log in the console (auditor, administrator): the newest actions, of
one operator or one subject, a page at a time (older: the ids before the last shown),
read by the service GET /admin/v1/audit reads."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from yibao.api.console.web import Console, Viewer
from yibao.api.pages import ROW_ID_MAX
from yibao.domain.errors import Refused
from yibao.domain.roles import ROLES
from yibao.domain.text import is_digits
from yibao.services import audit

ROWS = 100
NAME_LENGTH_MAX = 60


def before_of(text: str) -> int | None:
    """The ``before`` of a page: none, or a row id (E-ENV-005 otherwise)."""
    if not text:
        return None
    if is_digits(text) and len(text) <= 10 and 1 <= int(text) <= ROW_ID_MAX:
        return int(text)
    raise Refused("E-ENV-005", "before is a row id of the log")


def routes(console: Console, api: APIRouter) -> None:
    @api.get("/log", response_class=HTMLResponse)
    def log_page(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                 actor: str = "", subject: str = "", before: str = "") -> Response:
        console.needs(viewer, "audit.read")
        chosen: dict[str, Any] = {"actor": actor.strip()[:NAME_LENGTH_MAX],
                                  "subject": subject.strip()[:NAME_LENGTH_MAX]}
        try:
            older = before_of(before)
        except Refused as refusal:
            return console.page(request, viewer, "log.html", status=refusal.http_status,
                                error=refusal, actions=[], rows=ROWS, roles=ROLES, **chosen)
        actions = console.look(lambda conn: audit.actions(
            conn, before=older, limit=ROWS, **chosen))
        return console.page(request, viewer, "log.html", actions=actions, rows=ROWS,
                            roles=ROLES, **chosen)
