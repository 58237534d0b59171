"""The edge: limits every request meets before a route runs (a pure ASGI middleware).

FastAPI reads and parses a route's JSON body before the route's dependencies run, so
authentication in a dependency comes too late: an unauthenticated 60 MB body would be
read, parsed and walked first. This middleware runs in front of the application, with one
``Family`` per route family (the national route, /channel/v1, /admin/v1, everything
else). For every request, in this order:

1. a declared ``Content-Length`` over the family's limit is refused at once (413, or the
   national envelope's E-ENV-006), before a byte of the body is read;
2. ``admit``, the family's authentication from the headers alone, runs (in a worker
   thread: it may read the database); a request it does not admit is answered 401
   before a byte of the body is read;
3. the body is read, counted chunk by chunk (a chunked body has no Content-Length) and
   cut off with 413 the moment it passes the limit;
4. ``verify`` (the channel's HMAC over the body, recording the nonce, then its rate
   limit) and the JSON limits of REST bodies (nesting depth, string length, text a
   database can store: rest.py) run in a worker thread, never on the event loop;
5. only then does the application see the request, with the body already read.

A request no endpoint serves (a path no route has: 404; a method the path does not
take: 405) is left to the router, which answers without reading the body.

The national route authenticates its gateway headers itself before it reads the body
(app.py, hospital.py), so its family leaves the body unread and its size to the route:
an authenticated message declaring or streaming an oversized body is refused there
(E-ENV-006) and its nonce recorded, so the same headers never carry another body.
An answer given before the body was read closes the connection, so the server does not
go on receiving the rest of it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yibao.api.envelope import BODY_BYTES_MAX
from yibao.api.problems import invalid, problem
from yibao.api.rest import body_errors
from yibao.domain.channels import Bucket, Rate, take
from yibao.domain.errors import Refused

CONTENT_LENGTH_DIGITS_MAX = 12  # more digits than any body under a terabyte
# what the family's admit returns for an admitted request; None: not authenticated
Ticket = Any


@dataclass(frozen=True, slots=True)
class Family:
    """The limits and the authentication of one route family.

    ``prefix``: the path or path prefix it serves ("" serves every path no other family
    does); ``admit``: authentication from the headers alone (sync, run in a worker
    thread), a ticket or None (answered ``unauthorized(path)``, required with ``admit``);
    ``verify``: once the body is read, whether the ticket holds for it (sync, worker
    thread; may note the caller in ``scope["state"]``): True, False (answered
    ``unauthorized(path)``) or the answer to give instead (a rate limit's 429);
    ``json_limits``: check the body against the JSON limits of every route
    (rest.body_errors); ``read_body``: False when the route reads the body itself and
    checks its length (after authenticating); ``too_large(path)``: the answer to a body
    over ``body_bytes_max`` (default: the problem E-REQ-005 naming the limit)."""

    prefix: str
    unauthorized: Callable[[str], Response] | None = None
    too_large: Callable[[str], Response] | None = None
    admit: Callable[[Headers], Ticket | None] | None = None
    verify: Callable[[Scope, Ticket, bytes], bool | Response] | None = None
    json_limits: bool = False
    read_body: bool = True
    body_bytes_max: int = BODY_BYTES_MAX

    def __post_init__(self) -> None:
        assert (self.admit is None) == (self.unauthorized is None), self.prefix

    def serves(self, path: str) -> bool:
        return not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")

    def refuse_unauthorized(self, path: str) -> Response:
        assert self.unauthorized is not None, self.prefix
        return self.unauthorized(path)

    def refuse_size(self, path: str) -> Response:
        if self.too_large is not None:
            return self.too_large(path)
        return problem(Refused("E-REQ-005", f"the body is larger than {self.body_bytes_max} "
                               "bytes, the limit of this route (docs/security.md)"), path)


class EdgeLimits:
    """The ASGI middleware: ``families`` in order, the first that serves a path wins."""

    def __init__(self, app: ASGIApp, families: Sequence[Family],
                 routed: Callable[[Scope], bool] = lambda _scope: True) -> None:
        assert families and not families[-1].prefix, "the last family serves every path"
        self.app = app
        self.families = tuple(families)
        self.routed = routed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        family = next(f for f in self.families if f.serves(path))
        headers = Headers(scope=scope)
        # a family whose route reads the body checks the declared length itself, once it
        # authenticated the headers (so the refusal spends the national nonce)
        if family.read_body and declared_length(headers) > family.body_bytes_max:
            await _early(family.refuse_size(path), scope, receive, send)
            return
        if not self.routed(scope):  # 404 / 405: the router answers, the body unread
            await self.app(scope, receive, send)
            return
        ticket = None
        if family.admit is not None:
            ticket = await run_in_threadpool(family.admit, headers)
            if ticket is None:
                await _early(family.refuse_unauthorized(path), scope, receive, send)
                return
        if not family.read_body:
            await self.app(scope, receive, send)
            return
        body = await read_bounded(receive, family.body_bytes_max)
        if body is None:
            await _early(family.refuse_size(path), scope, receive, send)
            return
        if family.verify is not None or family.json_limits:
            refusal = await run_in_threadpool(_checked, family, scope, ticket, body)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, _replaying(body, receive), send)


def declared_length(headers: Mapping[str, str]) -> int:
    """The declared Content-Length (0 when none; past the limit when it is not a short
    string of ASCII digits, so it is refused without ``int`` of a huge text)."""
    text = headers.get("content-length", "")
    if not text:
        return 0
    if len(text) > CONTENT_LENGTH_DIGITS_MAX or not (text.isascii() and text.isdigit()):
        return BODY_BYTES_MAX * 1024
    return int(text)


async def read_bounded(receive: Receive, limit: int) -> bytes | None:
    """The body, or None the moment it passes ``limit`` bytes (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away: what arrived is the body
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _checked(family: Family, scope: Scope, ticket: Ticket, body: bytes) -> Response | None:
    """The family's check of the body and the JSON limits (in a worker thread)."""
    if family.verify is not None:
        verdict = family.verify(scope, ticket, body)
        if verdict is not True:
            return family.refuse_unauthorized(scope["path"]) if verdict is False else verdict
    if family.json_limits:
        errors = body_errors(body)
        if errors:
            return invalid(errors, scope["path"])
    return None


async def _early(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer before the body was read, and close the connection after the answer."""
    response.headers["connection"] = "close"
    await response(scope, receive, send)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The body already read, as the application's first message; then the client's
    own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class Throttle:
    """Rate limits per caller (a channel id): one token bucket each, in this process
    (several worker processes each keep their own: the limit is per process), refilled
    by ``clock`` (seconds; injected, so a test moves time without sleeping). Callers are
    authenticated before they are counted, so the buckets are as many as the channels."""

    def __init__(self, rate: Rate, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.clock = rate, clock
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def wait(self, caller: str) -> int:
        """0: admitted (a token taken); else the whole seconds until the next token."""
        with self._lock:
            bucket, seconds = take(self.rate, self._buckets.get(caller), self.clock())
            self._buckets[caller] = bucket
        return seconds
