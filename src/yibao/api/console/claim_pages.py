"""Claims in the console: the queue by status (the oldest waiting first, with their age
and amount), the window's application for a bill the hospital uploaded (clerk), and one
claim with its person, bill, the engine's amounts, payee and every step, where the
reviewer starts the review, the approver approves, and either of them may reject
(docs/console.md, Claims)."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from yibao.api import admin_claims
from yibao.api.claim_models import WindowPayeeIn
from yibao.api.console import forms
from yibao.api.console.forms import checked
from yibao.api.console.web import PREFIX, Console, Viewer, done
from yibao.domain.claims import AMOUNT_DECIDED, AWAITING, ClaimStatus
from yibao.domain.errors import Refused
from yibao.services import audit, payments, review
from yibao.services import claims as claim_records
from yibao.services.context import Call

ROWS = 200
STATUSES = tuple(status.value for status in ClaimStatus)
Text = Annotated[str, Form()]


def routes(console: Console, api: APIRouter) -> None:
    def queue(request: Request, viewer: Viewer, status: str,
              error: Refused | None = None, form: dict[str, str] | None = None) -> Response:
        if status and status not in STATUSES:
            status = ""
        view: dict[str, Any] = console.look(lambda conn: {
            "counts": claim_records.counts(conn),
            "claims": claim_records.queue(conn, status, console.clock(), ROWS)})
        return console.page(request, viewer, "claims.html",
                            status=error.http_status if error else 200, error=error,
                            chosen=status, statuses=STATUSES, awaiting=AWAITING,
                            decided=AMOUNT_DECIDED,
                            form=form or {}, **view)

    def claim_page(request: Request, viewer: Viewer, claim_id: str,
                   error: Refused | None = None) -> Response:
        def read(conn: Any) -> dict[str, Any]:
            sheet = claim_records.sheet(conn, claim_id)
            order = payments.of_claim(conn, claim_id)
            subjects = [claim_id] + ([order.order_id] if order else [])
            return {"sheet": sheet, "order": order, "roles": audit.roles_of(conn, subjects)}
        try:
            view = console.look(read)
        except Refused as refusal:
            return console.page(request, viewer, "missing.html",
                                status=refusal.http_status, error=refusal)
        return console.page(request, viewer, "claim.html",
                            status=error.http_status if error else 200, error=error,
                            threshold=console.settings.second_approval_above,
                            decided=AMOUNT_DECIDED, **view)

    @api.get("/claims", response_class=HTMLResponse)
    def claims_page(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                    status: str = ClaimStatus.SUBMITTED.value) -> Response:
        return queue(request, console.needs(viewer, "read"), status)

    @api.post("/claims")
    def apply(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
              csrf: Text = "", psn_no: Text = "",
              fixmedins_code: Text = "", invono: Text = "", trt_dcla_detl_sn: Text = "",
              bank_name: Text = "", bank_account: Text = "",
              account_name: Text = "") -> Response:
        form = {"psn_no": psn_no, "fixmedins_code": fixmedins_code,
                "invono": invono, "trt_dcla_detl_sn": trt_dcla_detl_sn,
                "bank_name": bank_name, "bank_account": bank_account,
                "account_name": account_name}

        def act(call: Call) -> str:
            body = checked(
                admin_claims.AgencyApplicationIn, psn_no=psn_no.strip(),
                fixmedins_code=forms.text(fixmedins_code, "fixmedins_code", required=True),
                invono=forms.text(invono, "invono", required=True),
                trt_dcla_detl_sn=trt_dcla_detl_sn.strip(),
                payee=checked(WindowPayeeIn, bank_name=bank_name.strip(),
                              bank_account=bank_account.strip(),
                              account_name=account_name.strip()))
            return admin_claims.apply_at_window(call, body)

        try:
            claim_id = console.act(viewer, "claims.apply", csrf, act)
        except Refused as refusal:
            return queue(request, viewer, ClaimStatus.SUBMITTED.value, refusal, form)
        return done(f"{PREFIX}/claims/{claim_id}", "applied")

    @api.get("/claims/{claim_id}", response_class=HTMLResponse)
    def claim(request: Request, claim_id: str,
              viewer: Annotated[Viewer, Depends(console.viewer)]) -> Response:
        return claim_page(request, console.needs(viewer, "read"), claim_id)

    def change(request: Request, viewer: Viewer, claim_id: str, permission: str,
               csrf: str, action: Callable[[Call], str]) -> Response:
        """A change of the claim; back to its page saying what was done (``action``'s
        answer), or the page again with the refusal."""
        try:
            what = console.act(viewer, permission, csrf, action)
        except Refused as refusal:
            return claim_page(request, viewer, claim_id, refusal)
        return done(f"{PREFIX}/claims/{claim_id}", what)

    @api.post("/claims/{claim_id}/review")
    def start_review(request: Request, claim_id: str,
                     viewer: Annotated[Viewer, Depends(console.viewer)],
                     csrf: Text = "") -> Response:
        def act(call: Call) -> str:
            admin_claims.start_review(call, claim_id)
            return "review-started"
        return change(request, viewer, claim_id, "claims.review", csrf, act)

    @api.post("/claims/{claim_id}/reject")
    def reject(request: Request, claim_id: str,
               viewer: Annotated[Viewer, Depends(console.viewer)],
               csrf: Text = "", reason: Text = "") -> Response:
        def act(call: Call) -> str:
            admin_claims.reject(call, claim_id, checked(
                admin_claims.DecisionIn, approve=False, reason=reason).reason)
            return "rejected"
        return change(request, viewer, claim_id, "claims.reject", csrf, act)

    @api.post("/claims/{claim_id}/approve")
    def approve(request: Request, claim_id: str,
                viewer: Annotated[Viewer, Depends(console.viewer)],
                csrf: Text = "", note: Text = "", payee_confirmed: Text = "") -> Response:
        def act(call: Call) -> str:
            body = checked(admin_claims.DecisionIn, approve=True, reason=note,
                           payee_confirmed=payee_confirmed == "yes")
            return admin_claims.approve(call, claim_id, review.Decision(
                excluded={}, note=body.reason,
                second_approval_above=console.settings.second_approval_above,
                payee_confirmed=body.payee_confirmed)).status
        return change(request, viewer, claim_id, "claims.approve", csrf, act)
