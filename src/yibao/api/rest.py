"""What every REST request (/admin/v1, /channel/v1) gets at the edge, whatever its
endpoint: JSON within the limits of every route, text that both databases can store, and
times in China Standard Time.

- ``body_errors``, run by the edge (api/limits.py) in a worker thread once the caller
  is authenticated and before FastAPI parses the body, refuses a JSON body nested deeper
  than JSON_DEPTH_MAX, holding a string longer than STRING_LENGTH_MAX or a string no
  database can store (below): 422 E-REQ-001 with the field named (api/problems.py). The
  limits are the national route's (api/envelope.py); the body size is bounded before it
  is read (BODY_BYTES_MAX).
- ``storable_text``, a dependency of the one router that holds every REST route, refuses
  (422 E-REQ-001 likewise) a path, query or header string holding a NUL character
  (PostgreSQL text cannot hold one) or an unpaired surrogate (not UTF-8: no database
  stores it), walking them in a worker thread. The offending text is never echoed back.
- ``DecimalRoute`` is the route class of every REST router: the body is read by
  ``envelope.loads``, so a JSON number with a fraction reaches the models as an exact
  ``Decimal`` (``cnt``, ``pric``), never through ``float``.
- ``ChinaTime`` is the type of every datetime field of a request model: a time sent with
  an offset (or as unix seconds) becomes naive China Standard Time, the business clock
  of every stored time, so SQLite and PostgreSQL store the same value and aware and
  naive times never meet.
"""

from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime
from itertools import chain
from typing import Annotated, Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AfterValidator
from starlette.concurrency import run_in_threadpool

from yibao.api.envelope import JSON_DEPTH_MAX, STRING_LENGTH_MAX, depth, loads
from yibao.services.context import in_china

Location = tuple[str | int, ...]


def _china_time(moment: datetime) -> datetime:
    try:
        return in_china(moment)
    except OverflowError as exc:
        raise ValueError("the time is outside the years 1..9999 in China Standard Time") from exc


ChinaTime = Annotated[datetime, AfterValidator(_china_time)]


class DecimalRequest(Request):
    """A request whose JSON body is read with exact decimals (``envelope.loads``)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class DecimalRoute(APIRoute):
    """The route class of every REST router: its endpoint reads a DecimalRequest."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def decimal_handler(request: Request) -> Response:
            return await handler(DecimalRequest(request.scope, request.receive))

        return decimal_handler


def unstorable(text: str) -> str:
    """Why ``text`` cannot be stored ("" when it can)."""
    if "\x00" in text:
        return "text must not contain a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text must not contain an unpaired surrogate (\\ud800-\\udfff)"
    return ""


def strings(value: Any, where: Location) -> Iterator[tuple[Location, str]]:
    """Every string in a JSON value (keys included, a key located at its object), with
    its location; iterative, so any nesting depth the JSON parser accepted is walked."""
    pending: list[tuple[Location, Any]] = [(where, value)]
    while pending:
        location, item = pending.pop()
        if isinstance(item, str):
            yield location, item
        elif isinstance(item, dict):
            for key, child in item.items():
                yield location, str(key)
                label = "?" if unstorable(str(key)) else str(key)
                pending.append(((*location, label), child))
        elif isinstance(item, list):
            pending.extend(((*location, i), child) for i, child in enumerate(item))


FieldErrors = list[dict[str, Any]]
FIELD_ERRORS_MAX = 20


def body_errors(body: bytes) -> FieldErrors:
    """Why a REST body is refused at the edge (FastAPI-shaped errors, answered 422
    E-REQ-001), or none (a body that is not JSON at all is FastAPI's to answer)."""
    if not body.strip():
        return []
    try:
        value = loads(body)
    except RecursionError:
        return [_too_deep()]
    except ValueError:
        return []
    if depth(value) > JSON_DEPTH_MAX:
        return [_too_deep()]
    return _text_errors(strings(value, ("body",)))


def _too_deep() -> dict[str, Any]:
    return {"type": "json_too_deep", "loc": ["body"],
            "msg": f"JSON nesting deeper than {JSON_DEPTH_MAX} levels (the limit of every route)"}


def _text_errors(found: Iterator[tuple[Location, str]]) -> FieldErrors:
    errors: FieldErrors = []
    for location, text in found:
        if len(text) > STRING_LENGTH_MAX:
            errors.append({"type": "string_too_long", "loc": list(location), "msg":
                           f"text longer than {STRING_LENGTH_MAX} characters (the limit "
                           "of every route)"})
        elif reason := unstorable(text):
            errors.append({"type": "string_unstorable", "loc": list(location), "msg": reason})
        if len(errors) == FIELD_ERRORS_MAX:
            break
    return errors


def _outside_body(path: dict[str, Any], query: dict[str, list[str]],
                  headers: dict[str, str]) -> FieldErrors:
    return _text_errors(chain(strings(path, ("path",)), strings(query, ("query",)),
                                strings(headers, ("header",))))


async def storable_text(request: Request) -> None:
    """Refuse a path, query or header carrying text no database can store (422, before
    the endpoint runs; the body was checked at the edge)."""
    query = {name: request.query_params.getlist(name) for name in request.query_params}
    errors = await run_in_threadpool(_outside_body, dict(request.path_params), query,
                                     dict(request.headers))
    if errors:
        raise RequestValidationError(errors)
