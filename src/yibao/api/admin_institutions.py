"""The operator window for institutions (/admin/v1/institutions): networked for
inter-provincial direct settlement, and prepaid each month (clearing nets it off)."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel

from yibao.api.admin import DENIED, Gate, Window
from yibao.api.gateway import INSTITUTION_CACHE_SECONDS
from yibao.api.rest import DecimalRoute
from yibao.domain.roles import Operator
from yibao.services import institutions
from yibao.services.context import Call

# (no "from __future__ import annotations": FastAPI reads the Annotated dependencies)


class Flag(BaseModel):
    enabled: bool


FLAGS = {"networked": "networked", "prepay": "prepay"}  # path segment -> column


def router(window: Window, gate: Gate, *,
           forget_institution: Callable[[str], None]) -> APIRouter:
    """``forget_institution`` drops this process's cached copy of a changed institution
    (other server processes see the change within the gateway's cache time)."""
    api = APIRouter(route_class=DecimalRoute,
                    prefix="/admin/v1/institutions", tags=["admin: institutions"], responses={
        400: {"description": "the body is not JSON"}, **DENIED,
        404: {"description": "no such institution"},
    })

    admin = gate.needs("institutions.flags")

    def set_flag(code: str, column: str, enabled: bool, op: Operator) -> Any:
        def act(call: Call) -> dict[str, Any]:
            institutions.set_flag(call, code, column, enabled)
            forget_institution(code)
            return {"fixmedins_code": code, column: enabled,
                    "effective_within_seconds": INSTITUTION_CACHE_SECONDS}
        return window.run(op, act)

    @api.put("/{code}/networked",
             summary="Networked (or not) for inter-provincial direct settlement (administrator)")
    def networked(code: str, body: Flag, op: Annotated[Operator, admin]) -> Any:
        return set_flag(code, "networked", body.enabled, op)

    @api.put("/{code}/prepay", summary="Prepaid each month (average of recent clearings; "
             "administrator)")
    def prepay(code: str, body: Flag, op: Annotated[Operator, admin]) -> Any:
        return set_flag(code, "prepay", body.enabled, op)

    return api
