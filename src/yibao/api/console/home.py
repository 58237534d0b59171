"""The console's home: who is signed in, under which roles, and the pages they may use."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from yibao.api.console.web import Console, Viewer
from yibao.domain.roles import ROLES


def routes(console: Console, api: APIRouter) -> None:
    @api.get("", response_class=HTMLResponse)
    def home(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)]) -> Response:
        held = [role for role in ROLES if role in viewer.operator.roles]
        return console.page(request, viewer, "home.html", roles=held)
