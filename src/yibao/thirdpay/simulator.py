"""A WeChat Pay API v3 simulator: an ASGI app run as its own process (``yibao paysim``).

It speaks what the wechatpayv3 library sends and expects (docs/online-payment-platform.md):
H5 and Native orders, query, close, refunds, the daily trade bill and its download, each
request's signature verified (401 SIGN_ERROR otherwise), each answer signed with the
platform key; a cashier page at the order's h5_url where a person clicks 确认支付 / Pay;
payment (and refund) notifications signed and encrypted with the APIv3 key, retried on
anything but 2xx on WeChat's schedule, shortened by ``retry_scale``.

``/_sim/…`` are test and demo controls, not part of WeChat's protocol: pay without the
browser, take the platform down (503), replay the last notification, send a tampered
one, list the notifications sent. State lives in memory only.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from yibao.domain.money import fen_to_yuan
from yibao.thirdpay import bill
from yibao.thirdpay.keys import PlatformKeys
from yibao.thirdpay.platform import CST
from yibao.thirdpay.simbooks import TRADE_STATE_DESC, Books, SimOrder, SimRefund, SimRefusal, iso
from yibao.thirdpay.simdeliver import Controls, Deliveries, Delivery
from yibao.thirdpay.wire import encrypt_resource, nonce_str, request_problem, signed_headers

# WeChat's notification retry schedule (seconds after each failed attempt): 15s 15s 30s
# 3m 10m 20m 30m 30m 30m 60m 3h 3h 3h 6h 6h, about 24 h in all
RETRY_SCHEDULE_S = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800,
                    10800, 21600, 21600)
DOWNLOAD_LIFETIME_S = 300  # a bill's download_url
Handler = Callable[[Request, dict[str, Any]], tuple[int, dict[str, Any] | None] | Response]


@dataclass(frozen=True, slots=True)
class SimConfig:
    keys: PlatformKeys
    notify_delay_s: float = 0.0  # before a notification's first attempt
    retry_scale: float = 1.0  # times RETRY_SCHEDULE_S between attempts (tests: 0.001)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(CST))


class Simulator(Controls):
    def __init__(self, config: SimConfig) -> None:
        self.config, self.keys = config, config.keys
        self.books = Books(config.keys, config.clock)
        self.down = False
        self.deliveries = Deliveries(self._attempt, RETRY_SCHEDULE_S,
                                     scale=config.retry_scale, delay_s=config.notify_delay_s)
        self._downloads: dict[str, tuple[float, bytes]] = {}

    # -- merchant API (signed both ways) ---------------------------------------------

    def merchant(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if self.down:
                return JSONResponse({"code": "SYSTEM_ERROR", "message": "系统繁忙,请稍后重试"},
                                    status_code=503)
            text = (await request.body()).decode("utf-8", "replace")
            problem = request_problem(
                self.keys, method=request.method, target=_target(request), body=text,
                header=request.headers.get("authorization", ""), now_unix=self._unix())
            if problem:
                return self._answer(401, {"code": "SIGN_ERROR", "message": problem})
            try:
                result = handler(request, _json_object(text))
            except SimRefusal as refusal:
                result = refusal.status, {"code": refusal.code, "message": refusal.message}
            return result if isinstance(result, Response) else self._answer(*result)

        return endpoint

    def _answer(self, status: int, payload: dict[str, Any] | None) -> Response:
        text = "" if payload is None else json.dumps(payload, ensure_ascii=False,
                                                     separators=(",", ":"))
        headers = signed_headers(self.keys, text, timestamp=self._unix())
        headers["Request-ID"] = nonce_str(24)
        if payload is None:
            return Response(status_code=status, headers=headers)
        return Response(text.encode(), status_code=status, headers=headers,
                        media_type="application/json; charset=utf-8")

    def _unix(self) -> int:
        return int(self.config.clock().timestamp())

    def create_h5(self, request: Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not isinstance(body.get("scene_info"), dict):
            raise SimRefusal(400, "PARAM_ERROR", "scene_info is required for H5")
        order = self.books.create(body, "MWEB")
        return 200, {"h5_url": f"{_base(request)}/pay/h5?prepay_id={order.prepay_id}"}

    def create_native(self, request: Request,
                      body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        order = self.books.create(body, "NATIVE")
        return 200, {"code_url": f"{_base(request)}/pay/h5?prepay_id={order.prepay_id}"}

    def query(self, request: Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self._check_mchid(request)
        params = request.path_params
        order = (self.books.get(params["out_trade_no"]) if "out_trade_no" in params
                 else self.books.by_transaction(params["transaction_id"]))
        return 200, self.books.trade_json(order)

    def close(self, request: Request, body: dict[str, Any]) -> tuple[int, None]:
        if body.get("mchid") != self.keys.mchid:
            raise SimRefusal(400, "PARAM_ERROR", "mchid")
        self.books.close(self.books.get(request.path_params["out_trade_no"]))
        return 204, None

    def refund(self, request: Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        fresh = not any(r.out_refund_no == body.get("out_refund_no")
                        for o in self.books.orders.values() for r in o.refunds)
        order, refund = self.books.refund(body)
        if fresh and refund.notify_url:
            self._notify_refund(order, refund)
        return 200, self.books.refund_json(order, refund)

    def query_refund(self, request: Request,
                     body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        number = request.path_params["out_refund_no"]
        for order in self.books.orders.values():
            for refund in order.refunds:
                if refund.out_refund_no == number:
                    return 200, self.books.refund_json(order, refund)
        raise SimRefusal(404, "RESOURCE_NOT_EXISTS", "退款单不存在")

    def trade_bill(self, request: Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            day = date.fromisoformat(request.query_params.get("bill_date", ""))
        except ValueError as exc:
            raise SimRefusal(400, "PARAM_ERROR", "bill_date: yyyy-MM-DD") from exc
        details = self.books.bill_details(day)
        if not details:
            raise SimRefusal(400, "NO_STATEMENT_EXIST", "账单文件不存在")
        text = bill.render(details).encode()
        token = secrets.token_urlsafe(24)
        stored = gzip.compress(text) if request.query_params.get("tar_type") == "GZIP" \
            else text
        self._downloads[token] = (self._unix() + DOWNLOAD_LIFETIME_S, stored)
        return 200, {"hash_type": "SHA1", "hash_value": hashlib.sha1(text).hexdigest(),
                     "download_url": f"{_base(request)}/v3/billdownload/file?token={token}"}

    def download(self, request: Request, body: dict[str, Any]) -> Response:
        until, stored = self._downloads.get(request.query_params.get("token", ""), (0, b""))
        if until < self._unix():
            raise SimRefusal(400, "INVALID_REQUEST", "下载地址已过期或不存在")
        return Response(stored, media_type="application/octet-stream")

    def _check_mchid(self, request: Request) -> None:
        if request.query_params.get("mchid") != self.keys.mchid:
            raise SimRefusal(400, "PARAM_ERROR", "mchid")

    # -- the person's cashier --------------------------------------------------------

    async def cashier(self, request: Request) -> Response:
        if request.method == "POST":
            form = parse_qs((await request.body()).decode("utf-8", "replace"))
            return self._cashier_pay(form.get("prepay_id", [""])[0],
                                     form.get("redirect_url", [""])[0])
        try:
            order = self.books.by_prepay(request.query_params.get("prepay_id", ""))
        except SimRefusal:
            return HTMLResponse(page("订单不存在 / No such order", ""), status_code=404)
        back = return_url_of(request.query_params.get("redirect_url", ""))
        return HTMLResponse(page("微信支付 / WeChat Pay (simulator)", _pay_form(order, back)))

    def _cashier_pay(self, prepay_id: str, redirect_url: str) -> Response:
        if self.down:
            return HTMLResponse(page("系统繁忙 / Platform down", ""), status_code=503)
        try:
            order = self.books.by_prepay(prepay_id)
            self.pay(order)
        except SimRefusal as refusal:
            return HTMLResponse(page("无法支付 / Cannot pay", html.escape(refusal.message)),
                                status_code=409)
        back = return_url_of(redirect_url)
        if back:  # as WeChat Pay's H5 page: back to the merchant's page once paid
            return RedirectResponse(back, status_code=303)
        return HTMLResponse(page("支付成功 / Paid", f"<p>{html.escape(order.description)}"
                                 f"</p><p>¥{fen_to_yuan(order.total_fen)}</p>"))

    def pay(self, order: SimOrder) -> None:
        self.books.pay(order)
        self.notify_trade(order)

    # -- notifications ----------------------------------------------------------------

    def notify_trade(self, order: SimOrder, *, amount_fen: int | None = None,
                     bad_signature: bool = False) -> Delivery:
        resource = json.dumps(self.books.trade_json(order, amount_fen=amount_fen),
                              ensure_ascii=False, separators=(",", ":"))
        tampered = "signature" if bad_signature else "amount" if amount_fen is not None else ""
        return self._send(order.notify_url, order.out_trade_no, "TRANSACTION.SUCCESS",
                          "支付成功", resource, "transaction", tampered)

    def _notify_refund(self, order: SimOrder, refund: SimRefund) -> None:
        resource = json.dumps({
            "mchid": self.keys.mchid, "out_trade_no": order.out_trade_no,
            "transaction_id": order.transaction_id, "out_refund_no": refund.out_refund_no,
            "refund_id": refund.refund_id, "refund_status": "SUCCESS",
            "success_time": iso(refund.created_at), "user_received_account": "支付用户零钱",
            "amount": {"total": order.total_fen, "refund": refund.refund_fen,
                       "payer_total": order.total_fen, "payer_refund": refund.refund_fen}},
            ensure_ascii=False, separators=(",", ":"))
        self._send(refund.notify_url, order.out_trade_no, "REFUND.SUCCESS", "退款成功",
                   resource, "refund", "")

    def _send(self, url: str, out_trade_no: str, event: str, summary: str, resource: str,
              original_type: str, tampered: str) -> Delivery:
        body = json.dumps({
            "id": f"EV-{self.config.clock():%Y%m%d%H%M%S}{secrets.randbelow(10**6):06d}",
            "create_time": iso(self.config.clock()), "resource_type": "encrypt-resource",
            "event_type": event, "summary": summary,
            "resource": encrypt_resource(self.keys.apiv3_key, resource,
                                         original_type=original_type,
                                         associated_data=original_type)},
            ensure_ascii=False, separators=(",", ":"))
        return self.deliveries.start(
            Delivery(json.loads(body)["id"], event, out_trade_no, url, body, tampered))

    async def _attempt(self, client: httpx.AsyncClient, delivery: Delivery) -> int | str:
        wrong_key = rsa.generate_private_key(public_exponent=65537, key_size=2048) \
            if delivery.tampered == "signature" else None
        headers = signed_headers(self.keys, delivery.body, timestamp=self._unix(),
                                 signing_key=wrong_key)
        headers["Content-Type"] = "application/json"
        try:
            answer = await client.post(delivery.url, content=delivery.body.encode(),
                                       headers=headers)
        except httpx.HTTPError as exc:
            return f"error: {type(exc).__name__}"
        return answer.status_code

    # -- /_sim controls ---------------------------------------------------------------

    async def control(self, request: Request) -> Response:
        text = (await request.body()).decode("utf-8", "replace")
        try:
            return JSONResponse(self._control(request.path_params["action"], request,
                                              _json_object(text)))
        except SimRefusal as refusal:
            return JSONResponse({"code": refusal.code, "message": refusal.message},
                                status_code=refusal.status)

    def _control(self, action: str, request: Request, body: dict[str, Any]) -> Any:
        number = request.path_params.get("out_trade_no", "")
        if action == "pay":
            order = self.books.get(number)
            self.pay(order)
            return self.books.trade_json(order)
        if action == "notify":
            amount = body.get("amount_fen")
            return self.notify_trade(
                self.books.get(number), amount_fen=amount if type(amount) is int else None,
                bad_signature=bool(body.get("bad_signature"))).view()
        handled, answer = self.shared_control(action, body)
        if handled:
            return answer
        if action == "health":
            return {"ok": True, "orders": len(self.books.orders)}
        raise SimRefusal(404, "NOT_FOUND", f"no control {action}")


def create_app(config: SimConfig) -> Starlette:
    sim = Simulator(config)
    m = sim.merchant
    routes = [
        Route("/v3/pay/transactions/h5", m(sim.create_h5), methods=["POST"]),
        Route("/v3/pay/transactions/native", m(sim.create_native), methods=["POST"]),
        Route("/v3/pay/transactions/out-trade-no/{out_trade_no}", m(sim.query)),
        Route("/v3/pay/transactions/id/{transaction_id}", m(sim.query)),
        Route("/v3/pay/transactions/out-trade-no/{out_trade_no}/close", m(sim.close),
              methods=["POST"]),
        Route("/v3/refund/domestic/refunds", m(sim.refund), methods=["POST"]),
        Route("/v3/refund/domestic/refunds/{out_refund_no}", m(sim.query_refund)),
        Route("/v3/bill/tradebill", m(sim.trade_bill)),
        Route("/v3/billdownload/file", m(sim.download)),
        Route("/pay/h5", sim.cashier, methods=["GET", "POST"]),
        Route("/_sim/orders/{out_trade_no}/{action:str}", sim.control, methods=["POST"]),
        Route("/_sim/{action:str}", sim.control, methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.simulator = sim
    return app


def _target(request: Request) -> str:
    """The path and query exactly as sent: what the merchant signed."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    return raw.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")


def _base(request: Request) -> str:
    """The scheme and host the caller used: URLs handed back point at the same place."""
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def _json_object(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise SimRefusal(400, "PARAM_ERROR", "body is not JSON") from exc
    if not isinstance(value, dict):
        raise SimRefusal(400, "PARAM_ERROR", "body is not a JSON object")
    return value


def return_url_of(url: str) -> str:
    """The merchant's page to send the person back to: an http(s) URL, else none."""
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else ""


def _pay_form(order: SimOrder, back: str) -> str:
    head = (f"<p>{html.escape(order.description)}</p>"
            f"<p class=amount id=amount>¥{fen_to_yuan(order.total_fen)}</p>")
    if order.state != "NOTPAY":
        return f"{head}<p>{html.escape(TRADE_STATE_DESC[order.state])} ({order.state})</p>"
    hidden = f"<input type=hidden name=redirect_url value=\"{html.escape(back)}\">" if back else ""
    return (f"{head}<form method=post action=/pay/h5><input type=hidden name=prepay_id "
            f"value=\"{html.escape(order.prepay_id)}\">{hidden}<button type=submit id=pay>"
            "确认支付 / Pay</button></form>")


def page(title: str, content: str) -> str:
    return (f"<!doctype html><html lang=zh><head><meta charset=utf-8><meta name=viewport "
            f"content=\"width=device-width\"><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1>{content}</body></html>")
