"""What every REST request (/admin/v1, /channel/v1) gets at the edge, whatever its
endpoint: text that both databases can store, and times in China Standard Time.

- ``storable_text``, a dependency of the one router that holds every REST route, refuses
  (HTTP 422, FastAPI's validation shape, the location named) a path, query, header or
  JSON-body string holding a NUL character (PostgreSQL text cannot hold one) or an
  unpaired surrogate (not UTF-8: no database stores it). The offending text is never
  echoed back.
- ``ChinaTime`` is the type of every datetime field of a request model: a time sent with
  an offset (or as unix seconds) becomes naive China Standard Time, the business clock
  of every stored time, so SQLite and PostgreSQL store the same value and aware and
  naive times never meet.
"""

from collections.abc import Iterator
from contextlib import suppress
from datetime import datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator

from yibao.services.context import in_china

Location = tuple[str | int, ...]


def _china_time(moment: datetime) -> datetime:
    try:
        return in_china(moment)
    except OverflowError as exc:
        raise ValueError("the time is outside the years 1..9999 in China Standard Time") from exc


ChinaTime = Annotated[datetime, AfterValidator(_china_time)]


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


async def _request_strings(request: Request) -> Iterator[tuple[Location, str]]:
    found: list[Iterator[tuple[Location, str]]] = [
        strings(dict(request.path_params), ("path",)),
        strings({name: request.query_params.getlist(name) for name in request.query_params},
                ("query",)),
        strings(dict(request.headers), ("header",)),
    ]
    if await request.body():
        with suppress(ValueError, RecursionError):  # not JSON: FastAPI answers that itself
            found.append(strings(await request.json(), ("body",)))
    return (pair for source in found for pair in source)


async def storable_text(request: Request) -> None:
    """Refuse a request carrying text no database can store (422, before anything runs)."""
    errors = [{"type": "string_unstorable", "loc": location, "msg": reason}
              for location, text in await _request_strings(request)
              if (reason := unstorable(text))]
    if errors:
        raise RequestValidationError(errors[:20])
