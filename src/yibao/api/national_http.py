"""The national interface over HTTP: one request's handling, from its headers to its
answer, shared by the two ways a request reaches it.

- **routed**: FastAPI's route (app.py ``call_service`` and ``other_form``), behind the
  application's middleware (the edge limits, the exception handlers) and its router;
- **lean** (the default, ``create_app(lean=True)``): the application (``YibaoApp``)
  takes the interface's POSTs at the ASGI level, before FastAPI's middleware and router,
  and runs the same ``NationalHttp.respond`` inside Starlette's ``ServerErrorMiddleware``
  with the application's own handler of an unexpected exception (E-SYS-002, 500), as the
  routed path would. Every other request (another method, another path, a path under
  the prefix that is no form of the interface) goes to FastAPI unchanged.

The edge's limits lose nothing on the lean path: the national family leaves the body
unread and its size to the route (api/limits.py), and ``respond`` is that route's
handling: the gateway headers authenticated before a byte of the body is read, a declared
or streamed body over BODY_BYTES_MAX refused (E-ENV-006) with the message's nonce spent,
an answer given before the body was read to its end closing the connection.

The blocking calls (the institution's look-up, the message's transaction) run on a
thread pool of this process (``threads`` of them, YIBAO_HTTP_THREADS, default 40), or
with ``threads`` 0 on anyio's (``run_in_threadpool``, 40 threads by default too).
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, Protocol, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from yibao.api.envelope import BODY_BYTES_MAX, to_json
from yibao.api.gateway import Pass
from yibao.api.hospital import HospitalInterface
from yibao.api.limits import declared_length
from yibao.api.registry import FileReply
from yibao.api.service_paths import PREFIX, ServicePaths, Target, shown
from yibao.domain.errors import Refused

P = ParamSpec("P")
T = TypeVar("T")
THREADS_SETTING = "YIBAO_HTTP_THREADS"
THREADS_DEFAULT = 40
PATH_SETTING = "YIBAO_HTTP_PATH"  # lean (default) or routed
PATHS = ("lean", "routed")
JSON_TYPE = "application/json; charset=utf-8"
LEAN_TARGET = "yibao.national"  # the scope's key: the Target of a request the lean path took


class Runner(Protocol):
    """How a blocking call runs off the event loop."""

    def __call__(self, func: Callable[P, T], *args: P.args,
                 **kwargs: P.kwargs) -> Awaitable[T]: ...


def threads_from_env() -> int:
    """YIBAO_HTTP_THREADS: the threads of the national route's pool (0: anyio's)."""
    text = os.environ.get(THREADS_SETTING, "").strip()
    if not text:
        return THREADS_DEFAULT
    if not text.isdigit() or int(text) > 1000:
        raise RuntimeError(f"{THREADS_SETTING}={text[:20]!r}: a whole number 0..1000 "
                           "(0: anyio's thread pool)")
    return int(text)


def lean_from_env() -> bool:
    """YIBAO_HTTP_PATH: ``lean`` (default) or ``routed``."""
    text = os.environ.get(PATH_SETTING, "").strip().lower() or "lean"
    if text not in PATHS:
        raise RuntimeError(f"{PATH_SETTING}={text[:20]!r}: lean or routed")
    return text == "lean"


def problem() -> str | None:
    """What is wrong with YIBAO_HTTP_PATH or YIBAO_HTTP_THREADS, or None (``yibao serve``
    checks this before it starts)."""
    try:
        lean_from_env()
        threads_from_env()
    except RuntimeError as exc:
        return str(exc)
    return None


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def runner(threads: int) -> Runner:
    """``threads`` 0: anyio's thread pool (Starlette's ``run_in_threadpool``); else a
    pool of that many threads, one per process and size (every application of a process
    shares it: a worker process serves one application, a test run many)."""
    if not threads:
        return run_in_threadpool
    with _POOLS_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            pool = _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="national")

    def run(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Awaitable[T]:
        call = functools.partial(func, *args, **kwargs) if args or kwargs else func
        return asyncio.get_running_loop().run_in_executor(pool, call)

    return run


def headers_of(scope: Scope) -> dict[str, str]:
    """The request's headers, names in lower case (a repeated header: its last value)."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


async def read_limited(receive: Receive) -> tuple[bytes, bool]:
    """The body, cut off one byte past the limit (the envelope parser then refuses it),
    and whether it was cut off (the rest was never read). The client going away raises
    ClientDisconnect, as Starlette's ``Request.stream`` does."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.disconnect":
            raise ClientDisconnect()
        if kind != "http.request":
            continue
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > BODY_BYTES_MAX:
            return b"".join(chunks)[: BODY_BYTES_MAX + 1], True
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks), False


def envelope_reply(answer: dict[str, Any], *, close: bool = False) -> Response:
    """An envelope answer; ``close``: the connection closes after it (the body was not
    read to its end)."""
    return Response(to_json(answer), media_type=JSON_TYPE,
                    headers={"connection": "close"} if close else None)


class NationalHttp:
    """The interface's HTTP handling: ``respond`` to a request for a path of the
    interface, ``refuse`` one for another path or method; ``run`` runs blocking calls."""

    def __init__(self, hospital: HospitalInterface, paths: ServicePaths,
                 run: Runner = run_in_threadpool) -> None:
        self.hospital, self.paths, self.run = hospital, paths, run
        # the paths the routes serve: the prefix, under it, and the table's outside it
        self._outside = frozenset((PREFIX, *paths.outside_prefix()))

    async def respond(self, scope: Scope, receive: Receive, target: Target) -> Response:
        """A message to a path admitting ``target``'s infnos (api/service_paths.py)."""
        hospital = self.hospital
        headers = headers_of(scope)
        # authenticated before a byte of the body is read; in a worker thread only when
        # the institution must be read from the database (the hot path: no thread hop)
        admitted = (hospital.admit(headers) if hospital.gateway.knows(headers)
                    else await self.run(hospital.admit, headers))
        if not isinstance(admitted, Pass):
            return envelope_reply(admitted, close=True)
        if declared_length(headers) > BODY_BYTES_MAX:  # refused unread, nonce spent
            answer = await self.run(hospital.refuse_unread, admitted, Refused(
                "E-ENV-006", f"body larger than {BODY_BYTES_MAX} bytes"))
            return envelope_reply(answer, close=True)
        body, cut = await read_limited(receive)
        result = await self.run(hospital.serve, admitted, body, target=target,
                                content_type=headers.get("content-type", ""))
        if isinstance(result, FileReply):
            return Response(result.content, media_type="application/zip",
                            headers={"content-disposition": result.disposition})
        return envelope_reply(result, close=cut)

    def refuse(self, method: str, path: str) -> Response:
        """A request under the interface's prefix (or to a table path outside it) whose
        path is no form of the interface (E-ENV-008) or whose method is not POST
        (E-ENV-010): an envelope refusal, the body unread."""
        if self.paths.target(path) is None:
            refusal = Refused("E-ENV-008", shown(path))
        else:
            refusal = Refused("E-ENV-010", f"{method} {shown(path)}"[:100])
        return envelope_reply(self.hospital.refuse_path(refusal), close=True)

    def lean_target(self, scope: Scope) -> Target | None:
        """The target of a request the lean path takes: a POST to a path the interface's
        routes serve (under the prefix, or exactly a table path outside it) that is a
        form of the interface; None for every other request."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        path: str = scope["path"]
        if not (path.startswith(PREFIX + "/") or path in self._outside):
            return None
        return self.paths.target(path)


class Lean:
    """The lean path: a request ``NationalHttp.lean_target`` takes, answered by
    ``respond`` inside ServerErrorMiddleware with ``error_handler`` (the application's
    handler of an unexpected exception)."""

    def __init__(self, national: NationalHttp, error_handler: Any, debug: bool) -> None:
        from starlette.middleware.errors import ServerErrorMiddleware

        self.national = national
        self._app: ASGIApp = ServerErrorMiddleware(self._answer, handler=error_handler,
                                                   debug=debug)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = scope[LEAN_TARGET]
        response = await self.national.respond(scope, receive, target)
        await response(scope, receive, send)
