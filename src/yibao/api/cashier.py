"""The cashier page (cashier mode of the mobile-payment centre): 6201's ``cashierUrl``,
opened by the person's app with the payAuthNo of their authorisation appended.

- ``GET /cashier/{payOrdId}?payAuthNo=…``: the order held for this browser (the
  payAuthNo spent, a ``yb_cashier`` session cookie set) and shown with its split and a
  confirm button; with the cookie, the held order again without a payAuthNo.
- ``POST /cashier/{payOrdId}/confirm`` (the cookie and the form's token): the payment of
  the person's own part asked of the platform and the browser sent there (303), or,
  nothing to pay, the order settled now.
- ``GET /cashier/{payOrdId}/result``: the order's state, where the platform's page
  sends the person back.

A refusal is a page with the message and its code, with the code's HTTP status, and
nothing changed. No header authentication (api/limits.py): the payAuthNo or the cookie
authenticates. See docs/cashier.md.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import TypeVar
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from yibao.api import cashier_pages as pages
from yibao.api.limits import Family
from yibao.api.tx_online import Online
from yibao.domain.errors import Refused
from yibao.domain.orders import OrderStatus
from yibao.domain.policy import Policy
from yibao.services import cashier
from yibao.services.context import Call, Clock, Ids
from yibao.services.online import Order
from yibao.store.db import Database

PREFIX = "/cashier"
COOKIE = "yb_cashier"
COOKIE_SECONDS = 2 * 3600  # longer than an order lives (30 minutes), shorter than a day
PAY_ORD_ID_MAX = 40
PAY_AUTH_NO_MAX = 60
FORM_BYTES_MAX = 1024  # the confirmation form: one token
HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; style-src 'self'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}
T = TypeVar("T")


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=HEADERS)


def _refused(refusal: Refused) -> HTMLResponse:
    return _html(pages.refusal_page(refusal), refusal.http_status)


def _checked_id(pay_ord_id: str) -> str:
    """A payOrdId as yibao issues them (letters and digits), else E-ORD-001 unread."""
    if not (0 < len(pay_ord_id) <= PAY_ORD_ID_MAX and pay_ord_id.isascii()
            and pay_ord_id.isalnum()):
        raise Refused("E-ORD-001", "payOrdId")
    return pay_ord_id


def _checked_auth(pay_auth_no: str) -> str:
    if len(pay_auth_no) > PAY_AUTH_NO_MAX or not pay_auth_no.isascii():
        raise Refused("E-PAU-001", "payAuthNo")
    return pay_auth_no


def _form_token(body: bytes) -> str:
    """The confirmation form's token ("" when missing or malformed)."""
    if len(body) > FORM_BYTES_MAX:
        return ""
    fields = parse_qs(body.decode("ascii", errors="replace"), max_num_fields=4)
    return fields.get(pages.FORM_FIELD, [""])[0]


def stylesheet() -> bytes:
    return resources.files("yibao.api").joinpath("static/cashier.css").read_bytes()


def edge() -> Family:
    """The cashier at the edge (api/limits.py): no header authentication (the payAuthNo
    or the session cookie authenticates, in the route), and a body no larger than the
    confirmation form (a larger one: the problem E-REQ-005, 413)."""
    return Family(PREFIX, body_bytes_max=FORM_BYTES_MAX)


def router(db: Database, clock: Clock, ids: Ids, policies: tuple[Policy, ...],
           setup: Online) -> APIRouter:
    api = APIRouter(prefix=PREFIX, include_in_schema=False)
    css = stylesheet()

    def run(pay_ord_id: str, action: Callable[[Call], T]) -> T:
        """``action`` in one write transaction with the cashier's call at the order's
        institution; a refusal rolls everything back."""
        with db.write() as conn:
            now = clock()
            site = cashier.site(conn, _checked_id(pay_ord_id))
            return action(cashier.cashier_call(conn, site, now=now, ids=ids,
                                               policies=policies, pay_ord_id=pay_ord_id))

    @api.get("/static/cashier.css")
    def style() -> Response:
        return Response(css, media_type="text/css", headers={"cache-control": "max-age=3600"})

    @api.get("/{pay_ord_id}")
    def show(pay_ord_id: str, request: Request,
             pay_auth_no: str = Query("", alias="payAuthNo")) -> Response:
        session = request.cookies.get(COOKIE, "")

        def act(call: Call) -> tuple[cashier.Opened, str]:
            opened = cashier.open_order(
                call, pay_ord_id, session, _checked_auth(pay_auth_no),
                setup.platform.thd_pay_type if setup.platform else "WECHAT")
            return opened, call.institution.name

        try:
            opened, institution = run(pay_ord_id, act)
        except Refused as refusal:
            return _refused(refusal)
        token = cashier.form_token(opened.session, pay_ord_id)
        reply = _html(pages.order_page(opened.order, institution, token, clock()))
        if opened.fresh:
            reply.set_cookie(COOKIE, opened.session, max_age=COOKIE_SECONDS,
                             path=f"{PREFIX}/{pay_ord_id}", httponly=True, samesite="strict",
                             secure=request.url.scheme == "https")
        return reply

    @api.post("/{pay_ord_id}/confirm")
    async def confirm(pay_ord_id: str, request: Request) -> Response:
        sent = _form_token(await request.body())
        session = request.cookies.get(COOKIE, "")
        return await run_in_threadpool(confirmed, pay_ord_id, session, sent)

    def confirmed(pay_ord_id: str, session: str, sent: str) -> Response:
        def act(call: Call) -> tuple[Order, str]:
            return cashier.confirm(call, pay_ord_id, session, sent, setup.platform,
                                   setup.notify_url), call.institution.name

        try:
            order, institution = run(pay_ord_id, act)
        except Refused as refusal:
            return _refused(refusal)
        return _after_confirm(order, institution, session, clock, setup)

    @api.get("/{pay_ord_id}/result")
    def result(pay_ord_id: str, request: Request) -> Response:
        session = request.cookies.get(COOKIE, "")

        def act(call: Call) -> tuple[Order, str | None]:
            order = cashier.returned(call, pay_ord_id, setup.platform)
            mine = cashier.of_session(call.conn, pay_ord_id, session) is not None
            return order, call.institution.name if mine else None

        try:
            order, institution = run(pay_ord_id, act)
        except Refused as refusal:
            return _refused(refusal)
        return _html(pages.result_page(order, institution, clock(),
                                       pay_link(order, setup)))

    return api


def pay_link(order: Order, setup: Online) -> str:
    """Where the person pays the held order's own part: the platform's page, told to
    send them back to the order's result page ("" when there is none)."""
    if setup.platform is None or not order["pay_url"]:
        return ""
    back = f"{setup.cashier_base}{PREFIX}/{order['pay_ord_id']}/result"
    return setup.platform.return_to(order["pay_url"], back)


def _after_confirm(order: Order, institution: str, session: str, clock: Clock,
                   setup: Online) -> Response:
    """Paid at the platform: there (303). Nothing to pay: settled. The platform down: the
    order again, to try once more (503)."""
    status = OrderStatus(order["status"])
    if status is OrderStatus.HELD and order["pay_url"]:
        return RedirectResponse(pay_link(order, setup), status_code=303, headers=HEADERS)
    if status is OrderStatus.SETTLED:
        return _html(pages.result_page(order, institution, clock(), ""))
    token = cashier.form_token(session, order["pay_ord_id"])
    note = "支付平台暂不可用，请稍后重试 / The payment platform is not answering; try again"
    return _html(pages.order_page(order, institution, token, clock(), note), 503)
