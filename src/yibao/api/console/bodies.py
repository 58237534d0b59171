"""A console form's fields checked as the REST route checks the same body: a field
missing or wrong is a refusal naming it (never FastAPI's 422 JSON on a page)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from yibao.domain.errors import Refused

M = TypeVar("M", bound=BaseModel)


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


def required(name: str, value: str) -> str:
    """``value`` without surrounding blanks; refused (E-ENV-004) when empty."""
    if not value.strip():
        raise Refused("E-ENV-004", f"{name} is required")
    return value.strip()
