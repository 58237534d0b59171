"""Online orders in the console (read only): the newest orders of the mobile-payment
centre, by status and institution, and one order: its amounts, the statuses it went
through, the payment platform's trade number, the settlement it wrote and its refunds."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from yibao.api.console.web import Console, Viewer
from yibao.domain.errors import Refused
from yibao.domain.orders import OrderStatus
from yibao.services import online_payment

ROWS = 100
STATUSES = tuple(status.value for status in OrderStatus)
CODE_LENGTH_MAX = 30


def routes(console: Console, api: APIRouter) -> None:
    @api.get("/orders", response_class=HTMLResponse)
    def orders_page(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                    status: str = "", institution: str = "") -> Response:
        console.needs(viewer, "read")
        chosen: dict[str, Any] = {"chosen": status[:20], "statuses": STATUSES,
                                  "institution": institution.strip()[:CODE_LENGTH_MAX]}
        if status and status not in STATUSES:
            refusal = Refused("E-ENV-005", f"status is one of {', '.join(STATUSES)}")
            return console.page(request, viewer, "orders.html", status=refusal.http_status,
                                error=refusal, orders=[], names={}, **chosen)
        view = console.look(lambda conn: online_payment.newest_orders(
            conn, status, chosen["institution"], limit=ROWS))
        return console.page(request, viewer, "orders.html", **chosen, **view)

    @api.get("/orders/{pay_ord_id}", response_class=HTMLResponse)
    def order_page(request: Request, pay_ord_id: str,
                   viewer: Annotated[Viewer, Depends(console.viewer)]) -> Response:
        console.needs(viewer, "read")
        try:
            view = console.look(lambda conn: online_payment.order_sheet(conn, pay_ord_id))
        except Refused as refusal:
            return console.page(request, viewer, "missing.html",
                                status=refusal.http_status, error=refusal)
        return console.page(request, viewer, "order.html", **view)
