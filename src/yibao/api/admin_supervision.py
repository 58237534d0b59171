"""Fund supervision's screening at the operators' window (/admin/v1, issue 20): screen a
month with the rule library, list the runs and the clues, read a clue with its evidence,
read the library (docs/supervision.md)."""

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from yibao.api.admin import DENIED, Gate, Window
from yibao.api.rest import DecimalRoute
from yibao.domain import supervision as library
from yibao.domain.money import fen_to_yuan
from yibao.domain.roles import Operator
from yibao.services import supervision
from yibao.services.context import Call

# (no "from __future__ import annotations": FastAPI reads the Annotated dependencies)


class RunIn(BaseModel):
    month: str = Field(min_length=1, max_length=7, examples=["2026-05"], description="YYYY-MM")
    engine: str = Field("duckdb", max_length=10, examples=["duckdb"],
                        description="duckdb, or spark (the extra yibao[spark])")
    rules: list[Annotated[str, Field(max_length=10)]] | None = Field(
        None, max_length=supervision.RULES_ASKED_MAX, examples=[["SV01", "SV04"]],
        description="the rule ids to run; none: every rule of the library with its SQL")


def summary_json(done: supervision.RunSummary) -> dict[str, Any]:
    return {"run_id": done.run_id, "month": done.month, "engine": done.engine,
            "rules": list(done.rules), "lines": done.lines, "settlements": done.settlements,
            "found": dict(done.found), "new_clues": done.new,
            "new_amount_at_risk": fen_to_yuan(done.new_amount_at_risk),
            "started_at": done.started_at, "finished_at": done.finished_at}


def run_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {"run_id": row["run_id"], "month": row["month"], "engine": row["engine"],
            "rules": row["rules"].split(","), "lines": row["lines"],
            "new_clues": row["clues"], "operator": row["operator"],
            "started_at": row["started_at"], "finished_at": row["finished_at"]}


def clue_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A clue as the REST answer shows it (amount at risk in yuan); its evidence only
    when read by itself."""
    shown = {name: row[name] for name in (
        "clue_id", "rule_id", "clue_key", "month", "fixmedins_code", "psn_no", "mdtrt_id",
        "summary", "status", "case_id", "run_id", "created_at", "status_by", "status_at")}
    shown["amount_at_risk"] = fen_to_yuan(row["amount_at_risk"])
    if "evidence" in row and isinstance(row["evidence"], list):
        shown["evidence"] = row["evidence"]
    return shown


def rule_json(rule: library.Rule) -> dict[str, Any]:
    return {"id": rule.id, "title_zh": rule.title_zh, "title_en": rule.title_en,
            "basis": rule.basis, "severity": rule.severity, "behaviour": rule.behaviour,
            "scope": rule.scope.value,
            "params": {k: v if isinstance(v, int) else str(v) for k, v in rule.params.items()}}


def router(window: Window, gate: Gate) -> APIRouter:
    api = APIRouter(route_class=DecimalRoute, prefix="/admin/v1",
                    tags=["admin: supervision"], responses={
        400: {"description": "month not valid (E-SUP-001), no such engine (E-SUP-002) or "
                             "rule (E-SUP-003)"}, **DENIED,
        404: {"description": "no such clue (E-SUP-006)"},
        503: {"description": "the engine is not installed here (E-SUP-005)"},
    })

    @api.post("/supervision/runs", status_code=201, summary="Screen a month with the rule "
              "library (reviewer, administrator): new clues are recorded once")
    def screen(body: RunIn, op: Annotated[Operator, gate.needs("supervision.screen")]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            return summary_json(supervision.screen(call, body.month, body.engine,
                                                   body.rules))
        return window.run(op, act)

    @api.get("/supervision/runs", summary="The screenings, newest first (any operator)")
    def runs(op: Annotated[Operator, gate.needs("read")],
             month: Annotated[str | None, Query(max_length=7)] = None) -> Any:
        return window.run(op, lambda call: {"runs": [
            run_json(r) for r in supervision.runs(call.conn, month=month)]}, read_only=True)

    @api.get("/supervision/clues", summary="Clues, the largest amount at risk first "
             "(any operator)")
    def clues(op: Annotated[Operator, gate.needs("read")],
              status: Annotated[str | None, Query(max_length=10)] = None,
              rule_id: Annotated[str | None, Query(max_length=10)] = None,
              fixmedins_code: Annotated[str | None, Query(max_length=30)] = None,
              month: Annotated[str | None, Query(max_length=7)] = None) -> Any:
        return window.run(op, lambda call: {"clues": [clue_json(r) for r in supervision.listed(
            call.conn, status=status, rule_id=rule_id, fixmedins_code=fixmedins_code,
            month=month)]}, read_only=True)

    @api.get("/supervision/clues/{clue_id}", summary="A clue with its evidence rows "
             "(any operator)")
    def clue(clue_id: str, op: Annotated[Operator, gate.needs("read")]) -> Any:
        return window.run(op, lambda call: clue_json(supervision.clue(call.conn, clue_id)),
                          read_only=True)

    @api.get("/supervision/rules", summary="The rule library: ids, titles, basis, "
             "severity, scope, parameters (any operator)")
    def rules(op: Annotated[Operator, gate.needs("read")]) -> Any:
        return {"rules": [rule_json(r) for r in library.library()]}

    return api
