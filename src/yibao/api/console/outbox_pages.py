"""The outbox in the console: counts per status, the newest messages (a status filter),
one message with its payload, and the retry of a failed one (administrator)."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from yibao.api.console.web import PREFIX, Console, Viewer, done
from yibao.domain.errors import Refused
from yibao.services import outbox

ROWS = 100
Status = Literal["", "pending", "delivered", "failed"]


def routes(console: Console, api: APIRouter) -> None:
    def listing(request: Request, viewer: Viewer, status: str,
                error: Refused | None = None) -> Response:
        view: dict[str, Any] = console.look(lambda conn: {
            "counts": outbox.counts(conn),
            "messages": outbox.listing(conn, status=status or None, limit=ROWS)})
        return console.page(request, viewer, "outbox.html", status=error.http_status
                            if error else 200, error=error, chosen=status, **view)

    @api.get("/outbox", response_class=HTMLResponse)
    def outbox_page(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                    status: Status = "") -> Response:
        return listing(request, console.needs(viewer, "read"), status)

    @api.get("/outbox/{key}", response_class=HTMLResponse)
    def message_page(request: Request, key: str,
                     viewer: Annotated[Viewer, Depends(console.viewer)]) -> Response:
        console.needs(viewer, "read")
        try:
            message = console.look(lambda conn: outbox.message(conn, key))
        except Refused as refusal:
            return console.page(request, viewer, "missing.html",
                                status=refusal.http_status, error=refusal)
        return console.page(request, viewer, "outbox_message.html", message=message)

    @api.post("/outbox/{key}/retry")
    def retry(request: Request, key: str, viewer: Annotated[Viewer, Depends(console.viewer)],
              csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
        try:
            console.act(viewer, "outbox.retry", csrf, lambda call: outbox.retry(call, key))
        except Refused as refusal:
            return listing(request, viewer, "", refusal)
        return done(f"{PREFIX}/outbox/{key}", "retried")
