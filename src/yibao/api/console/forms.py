"""The console's form fields read as typed values: a missing field is refused with
E-ENV-004, a malformed one with E-ENV-005, each naming the field (never FastAPI's 422
JSON on a page). The form parameters default to "" so that these checks see them; a
form that is a REST route's body is checked by the route's model (``checked``)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from yibao.domain.errors import Refused
from yibao.domain.text import china_time

M = TypeVar("M", bound=BaseModel)
ANY_LENGTH = 64 * 1024  # no limit of its own: the form's body is at most this
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # what a date input sends


def text(value: str, name: str, *, max_length: int = ANY_LENGTH,
         required: bool = False) -> str:
    """The field's text without surrounding blanks, at most ``max_length`` characters."""
    value = value.strip()
    if required and not value:
        raise Refused("E-ENV-004", f"{name} is required")
    if len(value) > max_length:
        raise Refused("E-ENV-005", f"{name}: at most {max_length} characters")
    return value


def day(value: str, name: str) -> date | None:
    """A day typed as YYYY-MM-DD (ASCII digits: a date input sends that), None when left
    empty."""
    value = value.strip()
    if not value:
        return None
    if ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass  # a 13th month, a 30th of February: refused below
    raise Refused("E-ENV-005", f"{name}: a date YYYY-MM-DD, not {value[:20]!r}")


def required_day(value: str, name: str) -> date:
    """A day that must be given (E-ENV-004 when empty)."""
    found = day(value, name)
    if found is None:
        raise Refused("E-ENV-004", f"{name} is required")
    return found


def moment(value: str, name: str) -> datetime:
    """A required China time (a datetime-local input sends yyyy-mm-ddThh:mm)."""
    if not value.strip():
        raise Refused("E-ENV-004", name)
    found = china_time(value[:40])
    if found is None:
        raise Refused("E-ENV-005", f"{name}: a time as yyyy-mm-dd hh:mm")
    return found


def whole(value: str, name: str, *, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high``; empty is ``low``."""
    value = value.strip() or str(low)
    if not value.isdecimal() or len(value) > 12 or not low <= int(value) <= high:
        raise Refused("E-ENV-005", f"{name}: a whole number from {low} to {high}")
    return int(value)


def ticked(value: str) -> bool:
    """A checkbox: sent ("on") when ticked, absent when not."""
    return value != ""


def checked(model: type[M], **fields: Any) -> M:
    """``model`` of a form's ``fields``, the REST route's checks; a field missing or
    wrong is refused naming it (E-ENV-004 empty, E-ENV-005 otherwise)."""
    try:
        return model(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][-1])
        empty = first["type"] == "missing" or first.get("input") == ""
        raise Refused("E-ENV-004" if empty else "E-ENV-005",
                      f"{name}: {first['msg']}") from None
