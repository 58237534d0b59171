"""The operator window for institutions (/admin/v1/institutions): networked for
inter-provincial direct settlement, and prepaid each month (clearing nets it off)."""

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import Connection, update

from yibao.api.admin import operator_dependency, run_refusable
from yibao.api.gateway import INSTITUTION_CACHE_SECONDS
from yibao.domain.errors import Refused
from yibao.services import audit, cards
from yibao.services.context import Clock
from yibao.store.db import Database
from yibao.store.schema import institution

# (no "from __future__ import annotations": FastAPI reads the Annotated dependencies)


class Flag(BaseModel):
    enabled: bool


FLAGS = {"networked": "networked", "prepay": "prepay"}  # path segment -> column


def router(db: Database, clock: Clock, tokens: Mapping[str, str], *,
           forget_institution: Callable[[str], None]) -> APIRouter:
    """``forget_institution`` drops this process's cached copy of a changed institution
    (other server processes see the change within the gateway's cache time)."""
    api = APIRouter(prefix="/admin/v1/institutions", tags=["admin: institutions"], responses={
        400: {"description": "the body is not JSON"},
        401: {"description": "no valid operator bearer token"},
        404: {"description": "no such institution"},
    })
    Op = Annotated[cards.Operator, Depends(operator_dependency(clock, tokens))]

    def set_flag(code: str, column: str, enabled: bool, op: cards.Operator) -> Any:
        def act(conn: Connection) -> dict[str, Any]:
            changed = conn.execute(update(institution).where(
                institution.c.fixmedins_code == code).values({column: enabled}))
            if changed.rowcount != 1:
                raise Refused("E-ADM-001", f"no such institution {code}")
            forget_institution(code)
            audit.record(conn, kind=column, psn_no=None, actor=op.name, at=op.now,
                         place=code, detail=str(enabled))
            return {"fixmedins_code": code, column: enabled,
                    "effective_within_seconds": INSTITUTION_CACHE_SECONDS}
        return run_refusable(db, act)

    @api.put("/{code}/networked",
             summary="Networked (or not) for inter-provincial direct settlement")
    def networked(code: str, body: Flag, op: Op) -> Any:
        return set_flag(code, "networked", body.enabled, op)

    @api.put("/{code}/prepay", summary="Prepaid each month (average of recent clearings)")
    def prepay(code: str, body: Flag, op: Op) -> Any:
        return set_flag(code, "prepay", body.enabled, op)

    return api
