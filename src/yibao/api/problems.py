"""The one error format of the REST routes: RFC 9457 problem details.

Every route but the national interface (/fsi/api…: the envelope, infcode -1) and the
mobile-payment centre (/org/local/api/hos/*: its own envelope) and the payment platforms'
notifications (their own answers: api/paynotify.py) answers an error as
``application/problem+json``::

    {"type": "/errors/E-CHN-004", "title": "too many requests from this channel",
     "status": 429, "detail": "E-CHN-004 too many requests from this channel: retry
     after 2 s", "instance": "/channel/v1/certificates", "code": "E-CHN-004"}

``type`` is the catalogue entry's page, served by this application (``GET
/errors/{code}``: JSON, or HTML to a browser); ``title`` the catalogue's title of the
code, ``status`` its HTTP status, ``detail`` the refusal's message (the same text the
national envelope's ``err_msg`` carries: the code, the title, then this case), and
``instance`` the request's path. An invalid request (E-REQ-001) adds ``errors``, one
``{"field", "message"}`` per field (``field`` the location joined by dots:
``body.amount``, ``query.limit``, ``header.x-yb-nonce``). docs/errors.md.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from yibao.domain.errors import CATALOGUE, ErrorCode, Refused

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "/errors/"  # + the code: the page of its catalogue entry (``router``)
INVALID = "E-REQ-001"
ERRORS_SHOWN_MAX = 20  # the field errors one answer lists


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE


def problem(refusal: Refused, instance: str, *, headers: Mapping[str, str] | None = None,
            **extensions: Any) -> ProblemResponse:
    """The answer to ``refusal`` of a request to ``instance`` (its path), with the
    code's HTTP status; ``extensions``: further members (``retry_after``, ``errors``)."""
    entry = CATALOGUE[refusal.code]
    return ProblemResponse({
        "type": TYPE_PREFIX + entry.code, "title": entry.title, "status": entry.http,
        "detail": refusal.message, "instance": instance, "code": entry.code, **extensions,
    }, status_code=entry.http, headers=headers)


def field_of(location: Iterable[str | int]) -> str:
    """A validation error's location as one name: ``("body", "items", 0)`` → body.items.0."""
    return ".".join(str(part) for part in location)


def _message(error: Mapping[str, Any]) -> str:
    text = str(error.get("msg", ""))
    cause = (error.get("ctx") or {}).get("error")
    if error.get("type") == "json_invalid" and isinstance(cause, str):
        text += f": {cause}"  # the parser's reason (pydantic's own messages carry theirs)
    return text


def invalid(errors: Sequence[Mapping[str, Any]], instance: str) -> ProblemResponse:
    """The answer to a request whose input is not valid (E-REQ-001, 422): pydantic's (or
    the edge's: api/rest.py) errors as ``{field, message}``, the first named in detail.
    The values sent are not echoed back."""
    listed = [{"field": field_of(e.get("loc", ())), "message": _message(e)}
              for e in errors[:ERRORS_SHOWN_MAX]]
    summary = f"{listed[0]['field']}: {listed[0]['message']}" if listed else ""
    if len(errors) > 1:
        summary += f" (and {len(errors) - 1} more)"
    return problem(Refused(INVALID, summary), instance, errors=listed)


SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; docs/errors.md",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance", "code"],
    "properties": {
        "type": {"type": "string", "description": "the code's catalogue page",
                 "examples": ["/errors/E-ECT-005"]},
        "title": {"type": "string", "description": "the catalogue's title of the code"},
        "status": {"type": "integer", "description": "the HTTP status"},
        "detail": {"type": "string", "description": "this case: the code, the title, then "
                   "what happened", "examples": ["E-ECT-005 PIN wrong or malformed: wrong PIN"]},
        "instance": {"type": "string", "description": "the request's path"},
        "code": {"type": "string", "description": "the catalogue code",
                 "examples": ["E-ECT-005"]},
        "errors": {"type": "array", "description": "E-REQ-001: each field not valid",
                   "items": {"type": "object", "required": ["field", "message"],
                             "properties": {"field": {"type": "string",
                                                      "examples": ["body.amount"]},
                                            "message": {"type": "string"}}}},
        "retry_after": {"type": "integer", "description": "E-CHN-004: seconds to wait"},
    },
}


class Entry(BaseModel):
    """A code of the catalogue: its title, what to do, the HTTP status it answers."""

    code: str = Field(examples=["E-CHN-004"])
    title: str
    hint: str
    status: int


def _entry(code: str) -> ErrorCode:
    entry = CATALOGUE.get(code)
    if entry is None:
        raise Refused("E-REQ-003", f"no error code {code[:20]} in the catalogue")
    return entry


def _page(entry: ErrorCode) -> str:
    code, title, hint = (html.escape(text) for text in (entry.code, entry.title, entry.hint))
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{code}'
            f"</title></head><body><h1>{code} {title}</h1><p>HTTP {entry.http}</p>"
            f"<p>What to do: {hint}</p><p>Every code: docs/errors.md, "
            "<code>yibao errors</code>.</p></body></html>")


def router() -> APIRouter:
    """``GET /errors/{code}``: the catalogue entry a problem's ``type`` names, as JSON,
    or as a page when a browser asks for HTML."""
    api = APIRouter(tags=["errors"])

    @api.get(TYPE_PREFIX + "{code}", summary="An error code's catalogue entry (a problem's "
             "type)", response_model=Entry, responses={
                 200: {"content": {"text/html": {"schema": {"type": "string"}}}},
                 404: {"description": "no such code in the catalogue (E-REQ-003)"}})
    def error_code(code: str, request: Request) -> Response:
        entry = _entry(code)
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(_page(entry))
        return JSONResponse({"code": entry.code, "title": entry.title, "hint": entry.hint,
                             "status": entry.http})

    return api


# the HTTP errors FastAPI and Starlette raise themselves, as catalogue codes
HTTP_CODES = {400: "E-REQ-002", 404: "E-REQ-003", 405: "E-REQ-004", 413: "E-REQ-005"}


def install(app: FastAPI, allowed: Callable[[str], str]) -> None:
    """Answer as problems what reaches the application: a refusal a route let through,
    an invalid request, FastAPI's and Starlette's own HTTP errors (a 405 with ``Allow``:
    ``allowed(path)``), and an unexpected exception (E-SYS-002, 500; still raised, so the
    server logs it)."""

    @app.exception_handler(Refused)
    async def refused(request: Request, refusal: Refused) -> Response:
        return problem(refusal, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def not_valid(request: Request, exc: RequestValidationError) -> Response:
        return invalid(exc.errors(), request.url.path)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        path = request.url.path
        code = HTTP_CODES.get(exc.status_code, "E-SYS-002")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed(path)
        return problem(Refused(code, f"{request.method} {path}"[:100]), path, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, _exc: Exception) -> Response:
        return problem(Refused("E-SYS-002", f"{request.method} {request.url.path}"[:100]),
                       request.url.path)
