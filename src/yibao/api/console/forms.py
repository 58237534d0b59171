"""The console's form fields read as typed values: a missing field is refused with
E-ENV-004, a malformed one with E-ENV-005, each naming the field (never FastAPI's 422
JSON on a page). The form parameters default to "" so that these checks see them."""

from __future__ import annotations

from datetime import date, datetime

from yibao.domain.errors import Refused
from yibao.domain.text import china_time


def text(value: str, name: str, *, max_length: int, required: bool = False) -> str:
    """The field's text without surrounding blanks, at most ``max_length`` characters."""
    value = value.strip()
    if required and not value:
        raise Refused("E-ENV-004", name)
    if len(value) > max_length:
        raise Refused("E-ENV-005", f"{name}: at most {max_length} characters")
    return value


def day(value: str, name: str) -> date | None:
    """A day typed as yyyy-mm-dd (a date input sends that), None when left empty."""
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Refused("E-ENV-005", f"{name}: a day as yyyy-mm-dd") from None


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
