"""Payments in the console: the payment orders of approved claims by status, the bank
file of every pending order (a download, finance), the bank's answer for an exported
order (paid, or failed with the bank's error) and sending a failed one again
(docs/console.md, Payments)."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from yibao.api import admin_claims
from yibao.api.console.forms import checked
from yibao.api.console.web import PREFIX, SECURITY_HEADERS, Console, Viewer, done
from yibao.domain.errors import Refused
from yibao.services import payments
from yibao.services.context import Call

ROWS = 200
Text = Annotated[str, Form()]
OUTCOMES = ("paid", "failed")


def routes(console: Console, api: APIRouter) -> None:
    def listing(request: Request, viewer: Viewer, status: str,
                error: Refused | None = None) -> Response:
        if status not in payments.STATUSES:
            status = ""
        view: dict[str, Any] = console.look(lambda conn: {
            "counts": payments.counts(conn),
            "orders": payments.orders(conn, status, ROWS)})
        return console.page(request, viewer, "payments.html",
                            status=error.http_status if error else 200, error=error,
                            chosen=status, statuses=payments.STATUSES,
                            attempts_max=payments.ATTEMPTS_MAX, **view)

    @api.get("/payments", response_class=HTMLResponse)
    def payments_page(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                      status: str = "") -> Response:
        return listing(request, console.needs(viewer, "read"), status)

    @api.post("/payments/export")
    def export(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
               csrf: Text = "") -> Response:
        """The bank file, downloaded (the same CSV as POST /admin/v1/payments/export),
        named by its batch."""
        try:
            batch, text = console.act(viewer, "payments.export", csrf,
                                      admin_claims.export_payments)
        except Refused as refusal:
            return listing(request, viewer, "", refusal)
        return Response(text, media_type="text/csv; charset=utf-8", headers={
            **SECURITY_HEADERS, "X-Batch": batch,
            "Content-Disposition": f'attachment; filename="bank-file-{batch}.csv"'})

    @api.post("/payments/{order_id}/result")
    def result(request: Request, order_id: str,
               viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Text = "",
               outcome: Text = "", error: Text = "") -> Response:
        def act(call: Call) -> str:
            if outcome not in OUTCOMES:
                raise Refused("E-ENV-005", f"outcome: one of {', '.join(OUTCOMES)}")
            body = checked(admin_claims.BankResultIn, paid=outcome == "paid",
                           error=error.strip())
            if not body.paid and not body.error:
                raise Refused("E-ENV-004", "error: the bank's error is required when it "
                              "failed the payment")
            return admin_claims.record_bank_result(call, order_id, paid=body.paid,
                                                   error=body.error)
        try:
            status = console.act(viewer, "payments.result", csrf, act)
        except Refused as refusal:
            return listing(request, viewer, "", refusal)
        return done(f"{PREFIX}/payments", f"payment-{status}")

    @api.post("/payments/{order_id}/retry")
    def retry(request: Request, order_id: str,
              viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Text = "") -> Response:
        try:
            console.act(viewer, "payments.retry", csrf,
                        lambda call: admin_claims.retry_payment(call, order_id))
        except Refused as refusal:
            return listing(request, viewer, "", refusal)
        return done(f"{PREFIX}/payments", "payment-retried")
