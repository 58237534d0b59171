"""Fund supervision in the console (issue 20, docs/console.md Supervision): the clues
(open first, with their rule and amount at risk), one clue with its evidence rows as a
table (dismiss it, or open a case from it), the cases, and one case with its clues, its
timeline and the forms of each step the operator's roles allow: assign, evidence (a
note, optionally a file), a verification asked of another region and its answer, the
conclusion (docs/supervision.md "From clue to case")."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from yibao.api.admin_supervision_cases import parse_yuan
from yibao.api.console import forms
from yibao.api.console.web import PREFIX, Console, Viewer, done
from yibao.domain import supervision_case as rules
from yibao.domain.errors import Refused
from yibao.domain.states import CLUE
from yibao.services import supervision_cases as cases
from yibao.services.context import Call

PAGE = PREFIX + "/supervision"
Text = Annotated[str, Form()]
Many = Annotated[list[str] | None, Form()]


def routes(console: Console, api: APIRouter) -> None:
    def clue_list(request: Request, viewer: Viewer, status: str,
                  error: Refused | None = None) -> Response:
        chosen = status if status in CLUE else ""
        found = console.look(lambda conn: cases.clue_listing(conn, status=chosen or None))
        return console.page(request, viewer, "supervision_clues.html",
                            status=error.http_status if error else 200, error=error,
                            clues=found, chosen=chosen, statuses=CLUE)

    def clue_page(request: Request, viewer: Viewer, clue_id: str,
                  error: Refused | None = None) -> Response:
        try:
            row = console.look(lambda conn: cases.clue(conn, clue_id))
        except Refused as refusal:
            return console.page(request, viewer, "missing.html",
                                status=refusal.http_status, error=refusal)
        evidence = cases.evidence_rows(row)
        columns = list(dict.fromkeys(k for r in evidence for k in r))
        return console.page(request, viewer, "supervision_clue.html",
                            status=error.http_status if error else 200, error=error,
                            clue=row, evidence=evidence, columns=columns)

    def case_list(request: Request, viewer: Viewer, status: str) -> Response:
        chosen = status if status in rules.STATUSES else ""
        found = console.look(lambda conn: cases.listed(conn, status=chosen or None))
        return console.page(request, viewer, "supervision_cases.html", cases=found,
                            chosen=chosen, statuses=rules.STATUSES)

    def case_page(request: Request, viewer: Viewer, case_id: str,
                  error: Refused | None = None) -> Response:
        try:
            found = console.look(lambda conn: cases.of(conn, case_id))
        except Refused as refusal:
            return console.page(request, viewer, "missing.html",
                                status=refusal.http_status, error=refusal)
        return console.page(request, viewer, "supervision_case.html",
                            status=error.http_status if error else 200, error=error,
                            case=found.row, clues=found.clues, events=found.events,
                            files=found.files, verifications=found.verifications,
                            conclusion=found.conclusion,
                            outcomes=found.conclusion["outcomes"].split(",")
                            if found.conclusion else [])

    @api.get("/supervision", response_class=HTMLResponse)
    def clues_view(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                   status: str = "open") -> Response:
        return clue_list(request, console.needs(viewer, "read"), status)

    @api.get("/supervision/clues/{clue_id}", response_class=HTMLResponse)
    def clue_view(request: Request, clue_id: str,
                  viewer: Annotated[Viewer, Depends(console.viewer)]) -> Response:
        return clue_page(request, console.needs(viewer, "read"), clue_id)

    @api.post("/supervision/clues/{clue_id}/dismiss")
    def dismiss(request: Request, clue_id: str,
                viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Text = "",
                reason: Text = "") -> Response:
        try:
            console.act(viewer, "supervision.triage", csrf,
                        lambda call: cases.dismiss_clue(call, clue_id, reason))
        except Refused as refusal:
            return clue_page(request, viewer, clue_id, refusal)
        return done(f"{PAGE}/clues/{clue_id}", "clue-dismissed")

    @api.get("/supervision/cases", response_class=HTMLResponse)
    def cases_view(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                   status: str = "") -> Response:
        return case_list(request, console.needs(viewer, "read"), status)

    @api.post("/supervision/cases")
    def open_case(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                  csrf: Text = "", clue_id: Many = None) -> Response:
        chosen = [c[:30] for c in (clue_id or [])][:rules.CLUES_PER_CASE_MAX + 1]
        try:
            case_id = console.act(viewer, "supervision.triage", csrf,
                                  lambda call: cases.open_case(call, chosen))
        except Refused as refusal:
            if len(chosen) == 1:
                return clue_page(request, viewer, chosen[0], refusal)
            return clue_list(request, viewer, "open", refusal)
        return done(f"{PAGE}/cases/{case_id}", "case-opened")

    @api.get("/supervision/cases/{case_id}", response_class=HTMLResponse)
    def case_view(request: Request, case_id: str,
                  viewer: Annotated[Viewer, Depends(console.viewer)]) -> Response:
        return case_page(request, console.needs(viewer, "read"), case_id)

    @api.get("/supervision/cases/{case_id}/files/{file_id}")
    def file_view(case_id: str, file_id: str,
                  viewer: Annotated[Viewer, Depends(console.viewer)]) -> Response:
        console.needs(viewer, "read")
        found = console.look(lambda conn: cases.evidence_file(conn, case_id, file_id))
        return Response(found["content"], media_type="application/octet-stream", headers={
            "content-disposition": f"attachment; filename=\"{found['file_id']}\""})

    def step(request: Request, viewer: Viewer, case_id: str, csrf: str, permission: str,
             what: str, action: Callable[[Call], object]) -> Response:
        try:
            console.act(viewer, permission, csrf, action)
        except Refused as refusal:
            return case_page(request, viewer, case_id, refusal)
        return done(f"{PAGE}/cases/{case_id}", what)

    @api.post("/supervision/cases/{case_id}/assign")
    def assign(request: Request, case_id: str,
               viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Text = "",
               assignee: Text = "") -> Response:
        return step(request, viewer, case_id, csrf, "supervision.triage", "case-assigned",
                    lambda call: cases.assign(call, case_id, forms.text(
                        assignee, "assignee", max_length=60, required=True)))

    @api.post("/supervision/cases/{case_id}/evidence")
    async def evidence(request: Request, case_id: str,
                       viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Text = "",
                       note: Text = "",
                       file: Annotated[UploadFile | None, File()] = None) -> Response:
        content = await file.read(rules.EVIDENCE_FILE_BYTES_MAX + 1) if file else b""
        name = (file.filename or "") if file and content else ""
        return step(request, viewer, case_id, csrf, "supervision.triage", "evidence-added",
                    lambda call: cases.add_evidence(call, case_id, note, filename=name,
                                                    content=content))

    @api.post("/supervision/cases/{case_id}/verifications")
    def ask(request: Request, case_id: str, viewer: Annotated[Viewer, Depends(console.viewer)],
            csrf: Text = "", from_region: Text = "", to_region: Text = "",
            question: Text = "") -> Response:
        return step(request, viewer, case_id, csrf, "supervision.triage",
                    "verification-asked", lambda call: cases.ask_verification(
                        call, case_id, from_region[:6], to_region[:6], question))

    @api.post("/supervision/cases/{case_id}/verifications/{verification_id}/answer")
    def answer(request: Request, case_id: str, verification_id: str,
               viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Text = "",
               answer: Text = "") -> Response:
        return step(request, viewer, case_id, csrf, "supervision.triage",
                    "verification-answered", lambda call: cases.answer_verification(
                        call, case_id, verification_id, answer))

    @api.post("/supervision/cases/{case_id}/conclude")
    def conclude(request: Request, case_id: str,
                 viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Text = "",
                 no_problem: Text = "", recovery: Text = "", recovery_reason: Text = "",
                 fine: Text = "", suspend_months: Text = "", suspend_institution: Text = "",
                 note: Text = "") -> Response:
        def act(call: Call) -> object:
            decision = rules.Conclusion(
                no_problem=forms.ticked(no_problem),
                recovery=parse_yuan(recovery[:20], "recovery"),
                recovery_reason=forms.text(recovery_reason, "recovery_reason",
                                           max_length=rules.REASON_LENGTH_MAX),
                fine=parse_yuan(fine[:20], "fine"),
                suspend_months=forms.whole(suspend_months, "suspend_months", low=0,
                                           high=120),
                suspend_institution=forms.ticked(suspend_institution),
                note=forms.text(note, "note", max_length=rules.NOTE_LENGTH_MAX))
            return cases.conclude(call, case_id, decision)
        return step(request, viewer, case_id, csrf, "supervision.conclude", "case-concluded",
                    act)
