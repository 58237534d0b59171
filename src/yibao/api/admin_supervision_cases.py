"""Fund supervision at the bureau's window (/admin/v1/supervision): from clue to case
(the clues' listing and reading are api/admin_supervision.py's)
(issue 20, docs/supervision.md "From clue to case"). Clues are listed and dismissed,
cases opened from clues, assigned, given evidence, verified between regions and
concluded (recovery, fine, suspensions) by an approver who did not investigate."""

import base64
import binascii
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from yibao.api.admin import DENIED, Gate, Window, run_refusable
from yibao.api.rest import DecimalRoute
from yibao.domain import supervision_case as rules
from yibao.domain.errors import Refused
from yibao.domain.money import MoneyError, fen_to_yuan, yuan_to_fen
from yibao.domain.roles import Operator
from yibao.services import supervision_cases as cases
from yibao.services.context import Call

# (no "from __future__ import annotations": FastAPI reads the Annotated dependencies)
PREFIX = "/admin/v1/supervision"


class OpenIn(BaseModel):
    clue_ids: list[Annotated[str, Field(min_length=1, max_length=30)]] = Field(
        min_length=1, max_length=rules.CLUES_PER_CASE_MAX, examples=[["CL20260511093000ab12"]])


class AssignIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=60, examples=["reviewer"],
                          description="an active operator holding supervision.triage")


class EvidenceIn(BaseModel):
    note: str = Field(min_length=1, max_length=rules.NOTE_LENGTH_MAX,
                      examples=["the ward's bed register shows 3 beds, 5 billed"])
    file_name: str = Field("", max_length=rules.EVIDENCE_FILENAME_MAX,
                           examples=["bed-register.pdf"])
    file_base64: str = Field("", max_length=4 * rules.EVIDENCE_FILE_BYTES_MAX // 3 + 4,
                             description="the file's bytes, base64")


class VerificationIn(BaseModel):
    from_region: str = Field(min_length=6, max_length=6, examples=["130102"],
                             description="the region asking (insured or treatment place)")
    to_region: str = Field(min_length=6, max_length=6, examples=["110000"],
                           description="the region asked to verify")
    question: str = Field(min_length=1, max_length=rules.NOTE_LENGTH_MAX,
                          examples=["was the person at the ward on 2026-04-03?"])


class AnswerIn(BaseModel):
    answer: str = Field(min_length=1, max_length=rules.NOTE_LENGTH_MAX,
                        examples=["no: the ward's register has no such stay"])


class DismissIn(BaseModel):
    reason: str = Field(min_length=1, max_length=rules.REASON_LENGTH_MAX,
                        examples=["same item twice: two doses prescribed, both given"])


class ConcludeIn(BaseModel):
    no_problem: bool = False
    recovery: str = Field("0", max_length=20, examples=["1280.00"],
                          description="yuan recovered from the institution (0: none)")
    recovery_reason: str = Field("", max_length=rules.REASON_LENGTH_MAX,
                                 description="required when more than the amount at risk")
    fine: str = Field("0", max_length=20, examples=["0"], description="yuan, the treasury's")
    suspend_months: int = Field(0, ge=0, le=120, description="the person's direct "
                                "settlement suspended 3..12 months (0: not)")
    suspend_institution: bool = False
    note: str = Field("", max_length=rules.NOTE_LENGTH_MAX)


def parse_yuan(value: str, name: str) -> int:
    """A yuan amount of a conclusion (E-CAS-011 when not one)."""
    try:
        fen = yuan_to_fen(value.strip() or "0", field=name)
    except MoneyError as exc:
        raise Refused("E-CAS-011", str(exc)[:120]) from exc
    return int(fen)


def decision_of(body: ConcludeIn) -> rules.Conclusion:
    return rules.Conclusion(
        no_problem=body.no_problem, recovery=parse_yuan(body.recovery, "recovery"),
        recovery_reason=body.recovery_reason, fine=parse_yuan(body.fine, "fine"),
        suspend_months=body.suspend_months, suspend_institution=body.suspend_institution,
        note=body.note)


def file_bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refused("E-CAS-007", "file_base64 is not base64") from exc


def when(value: Any) -> str | None:
    return None if value is None else value.isoformat(sep=" ")


def clue_json(row: Mapping[Any, Any], *, evidence: bool = False) -> dict[str, Any]:
    out = {"clue_id": row["clue_id"], "rule_id": row["rule_id"], "month": row["month"],
           "fixmedins_code": row["fixmedins_code"], "psn_no": row["psn_no"],
           "mdtrt_id": row["mdtrt_id"], "amount_at_risk": fen_to_yuan(row["amount_at_risk"]),
           "summary": row["summary"], "status": row["status"], "case_id": row["case_id"],
           "status_by": row["status_by"], "status_at": when(row["status_at"])}
    if evidence:
        out["evidence"] = cases.evidence_rows(row)  # type: ignore[arg-type]
    return out


def case_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {"case_id": row["case_id"], "status": row["status"],
            "fixmedins_code": row["fixmedins_code"], "psn_no": row["psn_no"],
            "amount_at_risk": fen_to_yuan(row["amount_at_risk"]), "clues": row["clues"],
            "assigned_to": row["assigned_to"], "opened_by": row["opened_by"],
            "opened_at": when(row["opened_at"]), "concluded_by": row["concluded_by"],
            "concluded_at": when(row["concluded_at"])}


def conclusion_json(row: Mapping[Any, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"outcomes": row["outcomes"].split(","), "fixmedins_code": row["fixmedins_code"],
            "region": row["region"], "recovery": fen_to_yuan(row["recovery"]),
            "recovery_reason": row["recovery_reason"], "fine": fen_to_yuan(row["fine"]),
            "suspend_months": row["suspend_months"], "suspension_id": row["suspension_id"],
            "suspend_institution": row["suspend_institution"], "note": row["note"],
            "concluded_by": row["concluded_by"], "concluded_at": when(row["concluded_at"])}


def whole_case_json(found: cases.Case) -> dict[str, Any]:
    return {**case_json(found.row),
            "clue_list": [clue_json(c, evidence=True) for c in found.clues],
            "events": [{"event_id": e["event_id"], "kind": e["kind"], "actor": e["actor"],
                        "role": e["role"], "at": when(e["at"]), "detail": e["detail"],
                        "clue_id": e["clue_id"], "file_id": e["file_id"]}
                       for e in found.events],
            "files": [{"file_id": f["file_id"], "filename": f["filename"], "size": f["size"],
                       "added_by": f["added_by"], "added_at": when(f["added_at"])}
                      for f in found.files],
            "verifications": [{k: (when(v[k]) if k.endswith("_at") else v[k]) for k in (
                "verification_id", "from_region", "to_region", "question", "status",
                "asked_by", "asked_at", "answer", "answered_by", "answered_at")}
                for v in found.verifications],
            "conclusion": conclusion_json(found.conclusion)}


def router(window: Window, gate: Gate) -> APIRouter:
    api = APIRouter(route_class=DecimalRoute, prefix=PREFIX, tags=["admin: supervision"],
                    responses={
        400: {"description": "clues, text, regions or conclusion not valid "
                             "(E-CAS-002, -006, -007, -008, -011, -012, -013)"}, **DENIED,
        404: {"description": "no such case, clue, request or file (E-CAS-001, -004, -014, "
                             "-016)"},
        409: {"description": "clue not open (E-CAS-003), case concluded (E-CAS-005), not "
                             "ready to conclude (E-CAS-009), answered (E-CAS-015)"},
    })
    db = window.db

    @api.post("/clues/{clue_id}/dismiss", summary="Dismiss an open clue with a reason "
              "(reviewer)")
    def dismiss(clue_id: str, body: DismissIn,
                op: Annotated[Operator, gate.needs("supervision.triage")]) -> Any:
        def act(call: Call) -> Any:
            cases.dismiss_clue(call, clue_id, body.reason)
            return clue_json(cases.clue(call.conn, clue_id))
        return window.run(op, act)

    @api.get("/cases", summary="Cases, those not concluded first (any operator)")
    def case_list(op: Annotated[Operator, gate.needs("read")],
                  status: Annotated[str | None, Query(max_length=14)] = None) -> Any:
        return run_refusable(db, lambda conn: {"cases": [
            case_json(r) for r in cases.listed(conn, status=status)]}, read_only=True)

    @api.post("/cases", status_code=201, summary="Open a case from open clues naming one "
              "institution or one person (reviewer)")
    def open_case(body: OpenIn,
                  op: Annotated[Operator, gate.needs("supervision.triage")]) -> Any:
        return window.run(op, lambda call: whole_case_json(cases.of(
            call.conn, cases.open_case(call, body.clue_ids))))

    @api.get("/cases/{case_id}", summary="A case: its clues, timeline, evidence files, "
             "verifications and conclusion (any operator)")
    def case_one(case_id: str, op: Annotated[Operator, gate.needs("read")]) -> Any:
        return run_refusable(db, lambda conn: whole_case_json(cases.of(conn, case_id)),
                             read_only=True)

    @api.post("/cases/{case_id}/assign", summary="Assign the case to an operator holding "
              "supervision.triage; the investigation starts (reviewer)")
    def assign(case_id: str, body: AssignIn,
               op: Annotated[Operator, gate.needs("supervision.triage")]) -> Any:
        def act(call: Call) -> Any:
            cases.assign(call, case_id, body.assignee)
            return case_json(cases.of(call.conn, case_id).row)
        return window.run(op, act)

    @api.post("/cases/{case_id}/evidence", status_code=201, summary="Add evidence: a note, "
              "optionally a file (reviewer)")
    def evidence(case_id: str, body: EvidenceIn,
                 op: Annotated[Operator, gate.needs("supervision.triage")]) -> Any:
        content = file_bytes(body.file_base64) if body.file_base64 else b""
        return window.run(op, lambda call: {"file_id": cases.add_evidence(
            call, case_id, body.note, filename=body.file_name, content=content)})

    @api.get("/cases/{case_id}/files/{file_id}", summary="An evidence file (any operator)")
    def evidence_file(case_id: str, file_id: str,
                      op: Annotated[Operator, gate.needs("read")]) -> Any:
        found = run_refusable(db, lambda conn: cases.evidence_file(conn, case_id, file_id),
                              read_only=True)
        return Response(found["content"], media_type="application/octet-stream", headers={
            "content-disposition": f"attachment; filename=\"{found['file_id']}\""})

    @api.post("/cases/{case_id}/verifications", status_code=201, summary="Ask another "
              "region to verify: the case waits for the answer (reviewer)")
    def ask(case_id: str, body: VerificationIn,
            op: Annotated[Operator, gate.needs("supervision.triage")]) -> Any:
        return window.run(op, lambda call: {"verification_id": cases.ask_verification(
            call, case_id, body.from_region, body.to_region, body.question)})

    @api.post("/cases/{case_id}/verifications/{verification_id}/answer",
              summary="The other region's answer, once (an operator holding "
                      "supervision.triage)")
    def answer(case_id: str, verification_id: str, body: AnswerIn,
               op: Annotated[Operator, gate.needs("supervision.triage")]) -> Any:
        def act(call: Call) -> Any:
            cases.answer_verification(call, case_id, verification_id, body.answer)
            return case_json(cases.of(call.conn, case_id).row)
        return window.run(op, act)

    @api.post("/cases/{case_id}/conclude", summary="Conclude: no problem, recovery, fine, "
              "suspensions (approver; not the assignee)")
    def conclude(case_id: str, body: ConcludeIn,
                 op: Annotated[Operator, gate.needs("supervision.conclude")]) -> Any:
        decision = decision_of(body)
        return window.run(op, lambda call: conclusion_json(
            cases.conclude(call, case_id, decision)))

    return api
