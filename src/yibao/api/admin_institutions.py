"""The operator window for institutions (/admin/v1/institutions): networked for
inter-provincial direct settlement, and prepaid each month (clearing nets it off)."""

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import Connection

from yibao.api.admin import DENIED, Gate, run_refusable
from yibao.api.gateway import INSTITUTION_CACHE_SECONDS
from yibao.api.rest import DecimalRoute
from yibao.domain.roles import Operator
from yibao.services import institutions
from yibao.store.db import Database

# (no "from __future__ import annotations": FastAPI reads the Annotated dependencies)


class Flag(BaseModel):
    enabled: bool


FLAGS = {"networked": "networked", "prepay": "prepay"}  # path segment -> column


def router(db: Database, gate: Gate, *, forget_institution: Callable[[str], None]) -> APIRouter:
    """``forget_institution`` drops this process's cached copy of a changed institution
    (other server processes see the change within the gateway's cache time)."""
    api = APIRouter(route_class=DecimalRoute,
                    prefix="/admin/v1/institutions", tags=["admin: institutions"], responses={
        400: {"description": "the body is not JSON"}, **DENIED,
        404: {"description": "no such institution"},
    })

    Admin = gate.needs("institutions.flags")

    def set_flag(code: str, column: str, enabled: bool, op: Operator) -> Any:
        def act(conn: Connection) -> dict[str, Any]:
            institutions.set_flag(conn, op, code, column, enabled)
            forget_institution(code)
            return {"fixmedins_code": code, column: enabled,
                    "effective_within_seconds": INSTITUTION_CACHE_SECONDS}
        return run_refusable(db, act)

    @api.put("/{code}/networked",
             summary="Networked (or not) for inter-provincial direct settlement (administrator)")
    def networked(code: str, body: Flag, op: Admin) -> Any:
        return set_flag(code, "networked", body.enabled, op)

    @api.put("/{code}/prepay", summary="Prepaid each month (average of recent clearings; "
             "administrator)")
    def prepay(code: str, body: Flag, op: Admin) -> Any:
        return set_flag(code, "prepay", body.enabled, op)

    return api
