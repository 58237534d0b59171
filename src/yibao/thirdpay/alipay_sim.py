"""An Alipay openapi gateway simulator: an ASGI app run as its own process
(``yibao paysim --style alipay``).

It speaks what python-alipay-sdk sends and expects (docs/online-payment-platform.md,
"Alipay"): ``/gateway.do`` with the common parameters (app_id, method, charset,
sign_type RSA2, timestamp, version, biz_content, notify_url, return_url, sign), each
request's RSA2 signature verified with the app's public key; answers
``{"<method>_response": {...}, "sign": "..."}`` signed with the simulator's "Alipay" key.
``alipay.trade.wap.pay`` opened in a browser is the person's pay page (plain HTML, a Pay
button, then 303 to the signed ``return_url``); ``alipay.trade.query``, ``.close``,
``.refund`` and ``alipay.data.dataservice.bill.downloadurl.query`` (a zip of GBK CSV
files) are server calls. Payments and refunds send asynchronous notifications (a signed
form), retried on Alipay's schedule until the answer's body is ``success``.

The trades live in the shared books (simbooks.py); notifications are kept and retried by
simdeliver.py. ``/_sim/…`` are the same test and demo controls as the WeChat
simulator's. State lives in memory only.
"""

from __future__ import annotations

import base64
import html
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from yibao.domain.money import Fen, MoneyError, fen_to_yuan, yuan_to_fen
from yibao.thirdpay import alipay_bill
from yibao.thirdpay.keys import AlipayKeys, load_private
from yibao.thirdpay.platform import CST
from yibao.thirdpay.simbooks import Books, SimOrder, SimRefund, SimRefusal, fee
from yibao.thirdpay.simdeliver import Controls, Deliveries, Delivery
from yibao.thirdpay.simulator import page, return_url_of
from yibao.thirdpay.wire import sign, verify

# Alipay's notification retries (seconds after each failed attempt): 4m 10m 10m 1h 2h 6h
# 15h, eight attempts in about 25 h
RETRY_SCHEDULE_S = (240, 600, 600, 3600, 7200, 21600, 54000)
TIMESTAMP_SKEW_MAX_S = 300  # a server call's timestamp may be this far from the clock
DOWNLOAD_LIFETIME_S = 300  # a bill_download_url
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
SERVER_METHODS = ("alipay.trade.query", "alipay.trade.close", "alipay.trade.refund",
                  "alipay.data.dataservice.bill.downloadurl.query")
WAP_PAY = "alipay.trade.wap.pay"
_INVALID = ("40002", "Invalid Arguments")  # code and msg of a malformed or unsigned call
_FAILED = ("40004", "Business Failed")  # code and msg of a refused business request


@dataclass(frozen=True, slots=True)
class AlipaySimConfig:
    keys: AlipayKeys
    notify_delay_s: float = 0.0  # before a notification's first attempt
    retry_scale: float = 1.0  # times RETRY_SCHEDULE_S between attempts (tests: 0.001)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(CST))


class Refusal(Exception):
    """An answer with a code other than 10000."""

    def __init__(self, code_msg: tuple[str, str], sub_code: str, sub_msg: str) -> None:
        super().__init__(f"{sub_code} {sub_msg}")
        self.code, self.msg = code_msg
        self.sub_code, self.sub_msg = sub_code, sub_msg


def content(fields: Mapping[str, str], *, leave_out: tuple[str, ...]) -> str:
    """What is signed: the non-empty fields but ``leave_out``, sorted, as k=v joined by &."""
    return "&".join(f"{k}={v}" for k, v in sorted(fields.items())
                    if k not in leave_out and v != "")


class AlipaySimulator(Controls):
    def __init__(self, config: AlipaySimConfig) -> None:
        self.config, self.keys = config, config.keys
        self.books = Books(None, config.clock)
        self.down = False
        self.deliveries = Deliveries(self._attempt, RETRY_SCHEDULE_S,
                                     scale=config.retry_scale, delay_s=config.notify_delay_s)
        self._private = load_private(config.keys.private_key)
        app_public = serialization.load_pem_public_key(config.keys.app_public_key.encode())
        assert isinstance(app_public, RSAPublicKey)
        self._app_public = app_public
        self._return_urls: dict[str, str] = {}  # prepay_id: the wap.pay's return_url
        self._downloads: dict[str, tuple[float, bytes]] = {}

    # -- the gateway ------------------------------------------------------------------

    async def gateway(self, request: Request) -> Response:
        params = dict(parse_qsl(request.url.query, keep_blank_values=True))
        if request.method == "POST":
            params |= dict(parse_qsl((await request.body()).decode("utf-8", "replace"),
                                     keep_blank_values=True))
        method = params.get("method", "")
        if method == WAP_PAY:
            return self._wap_pay(request, params)
        if self.down:
            return JSONResponse({"error_response": {
                "code": "20000", "msg": "Service Currently Unavailable",
                "sub_code": "isp.unknow-error", "sub_msg": "系统繁忙"}}, status_code=503)
        try:
            self._check(params, server=True)
            biz = _biz(params)
            answer = self._server(request, method, biz)
        except Refusal as refusal:
            answer = {"code": refusal.code, "msg": refusal.msg, "sub_code": refusal.sub_code,
                      "sub_msg": refusal.sub_msg}
        else:
            answer = {"code": "10000", "msg": "Success"} | answer
        return self._signed_answer(method or "error", answer)

    def _check(self, params: Mapping[str, str], *, server: bool) -> None:
        """The common parameters and the app's RSA2 signature."""
        missing = [name for name in ("app_id", "method", "charset", "sign_type", "sign",
                                     "timestamp", "version") if not params.get(name)]
        if missing:
            raise Refusal(_INVALID, "isv.missing-" + missing[0].replace("_", "-"),
                          f"缺少参数 {missing[0]}")
        if params["app_id"] != self.keys.app_id:
            raise Refusal(_INVALID, "isv.invalid-app-id", "无效的AppID参数")
        if params["sign_type"] != "RSA2":
            raise Refusal(_INVALID, "isv.invalid-signature-type", "无效的签名类型 (RSA2)")
        if params["charset"].lower() != "utf-8" or params["version"] != "1.0":
            raise Refusal(_INVALID, "isv.invalid-charset", "charset utf-8, version 1.0")
        try:
            stamp = datetime.strptime(params["timestamp"], TIME_FORMAT).replace(tzinfo=CST)
        except ValueError as exc:
            raise Refusal(_INVALID, "isv.invalid-timestamp",
                          "timestamp: yyyy-MM-dd HH:mm:ss") from exc
        if server and abs((stamp - self.config.clock()).total_seconds()) > \
                TIMESTAMP_SKEW_MAX_S:
            raise Refusal(_INVALID, "isv.invalid-timestamp",
                          "timestamp not within 5 minutes of Alipay's clock (CST)")
        if not verify(self._app_public, content(params, leave_out=("sign",)),
                      params["sign"]):
            raise Refusal(_INVALID, "isv.invalid-signature", "验签出错")

    def _signed_answer(self, method: str, answer: dict[str, Any]) -> Response:
        inner = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
        key = method.replace(".", "_") + "_response"
        signature = sign(self._private, inner)
        text = f'{{"{key}":{inner},"sign":"{signature}"}}'
        return Response(text.encode(), media_type="application/json;charset=utf-8")

    def _server(self, request: Request, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        if method == "alipay.trade.query":
            return self._trade_json(self._trade(biz))
        if method == "alipay.trade.close":
            order = self._trade(biz)
            if order.state in ("SUCCESS", "REFUND"):
                raise Refusal(_FAILED, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            self.books.close(order)
            return {"trade_no": order.transaction_id, "out_trade_no": order.out_trade_no}
        if method == "alipay.trade.refund":
            return self._refund(self._trade(biz), biz)
        if method == "alipay.data.dataservice.bill.downloadurl.query":
            return self._bill_url(request, biz)
        raise Refusal(_INVALID, "isv.invalid-method", f"不存在的方法名 {method[:60]}")

    def _trade(self, biz: Mapping[str, Any]) -> SimOrder:
        number = biz.get("out_trade_no")
        order = self.books.orders.get(number) if isinstance(number, str) else None
        if order is None:
            by_no = biz.get("trade_no")
            order = next((o for o in self.books.orders.values()
                          if by_no and o.transaction_id == by_no), None)
        if order is None:
            raise Refusal(_FAILED, "ACQ.TRADE_NOT_EXIST", "交易不存在")
        return order

    def _trade_json(self, order: SimOrder, *, amount_fen: Fen | None = None) -> dict[str, Any]:
        total = fen_to_yuan(order.total_fen if amount_fen is None else amount_fen)
        answer: dict[str, Any] = {
            "trade_no": order.transaction_id, "out_trade_no": order.out_trade_no,
            "trade_status": _status(order), "total_amount": total}
        if order.paid_at is not None:
            answer |= {"buyer_logon_id": "159****0000", "buyer_user_id": _buyer(order),
                       "buyer_pay_amount": total, "receipt_amount": total,
                       "invoice_amount": total, "point_amount": "0.00",
                       "send_pay_date": _text(order.paid_at)}
        return answer

    def _refund(self, order: SimOrder, biz: Mapping[str, Any]) -> dict[str, Any]:
        number = biz.get("out_request_no") or order.out_trade_no  # Alipay's default
        amount = _yuan(biz.get("refund_amount"), "refund_amount")
        known = next((r for r in order.refunds if r.out_refund_no == number), None)
        if known is not None and known.refund_fen != amount:
            raise Refusal(_FAILED, "ACQ.DISCORDANT_REPEAT_REQUEST", "请求信息不一致")
        if order.paid_at is None:
            raise Refusal(_FAILED, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法 (未支付)")
        if known is None and amount > order.total_fen - order.refunded_fen:
            raise Refusal(_FAILED, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        refund = self.books.refund_of(order, str(number), amount, None, order.notify_url)
        if known is None and order.notify_url:
            self._notify(order, refund=refund)
        return {"trade_no": order.transaction_id, "out_trade_no": order.out_trade_no,
                "buyer_logon_id": "159****0000", "buyer_user_id": _buyer(order),
                "fund_change": "N" if known else "Y",
                "refund_fee": fen_to_yuan(order.refunded_fen),
                "gmt_refund_pay": _text(refund.created_at)}

    def _bill_url(self, request: Request, biz: Mapping[str, Any]) -> dict[str, Any]:
        if biz.get("bill_type") != "trade":
            raise Refusal(_INVALID, "isv.invalid-parameter", "bill_type: trade")
        try:
            day = date.fromisoformat(str(biz.get("bill_date", "")))
        except ValueError as exc:
            raise Refusal(_INVALID, "isv.invalid-parameter", "bill_date: yyyy-MM-dd") from exc
        events = self.books.events(day)
        if not events:
            raise Refusal(_FAILED, "isp.bill_not_exist", "账单不存在")
        lines = [_line(order, refund) for order, refund in events]
        packed = alipay_bill.render(self.keys.seller_id, day, lines,
                                    exported_at=self._now_naive())
        token = secrets.token_urlsafe(24)
        self._downloads[token] = (self.config.clock().timestamp() + DOWNLOAD_LIFETIME_S,
                                  packed)
        return {"bill_download_url": f"{_base(request)}/downloadBillFile.resource?bizType="
                                     f"trade&fileType=csv.zip&token={token}"}

    async def download(self, request: Request) -> Response:
        until, packed = self._downloads.get(request.query_params.get("token", ""), (0, b""))
        if until < self.config.clock().timestamp():
            return HTMLResponse(page("下载链接已失效 / Link expired", ""), status_code=404)
        return Response(packed, media_type="application/oct-stream")

    # -- the person's pay page ---------------------------------------------------------

    def _wap_pay(self, request: Request, params: Mapping[str, str]) -> Response:
        if self.down:
            return HTMLResponse(page("系统繁忙 / Platform down", ""), status_code=503)
        try:
            self._check(params, server=False)
            biz = _biz(params)
            order = self._open(biz, params.get("notify_url", ""))
        except Refusal as refusal:
            return HTMLResponse(page("支付宝 / Alipay: 错误 / Error", (
                f"<p id=error>{html.escape(refusal.sub_code)}: "
                f"{html.escape(refusal.sub_msg)}</p>")), status_code=400)
        back = return_url_of(params.get("return_url", ""))
        if back:
            self._return_urls[order.prepay_id] = back
        return HTMLResponse(page("支付宝 / Alipay (simulator)", _pay_form(order)))

    def _open(self, biz: Mapping[str, Any], notify_url: str) -> SimOrder:
        number, subject = biz.get("out_trade_no"), biz.get("subject")
        if not isinstance(number, str) or not 1 <= len(number) <= 64 or \
                not isinstance(subject, str) or not subject:
            raise Refusal(_INVALID, "isv.invalid-parameter", "out_trade_no and subject")
        total = _yuan(biz.get("total_amount"), "total_amount")
        if total <= 0:
            raise Refusal(_INVALID, "isv.invalid-parameter", "total_amount > 0")
        expire = biz.get("time_expire")
        try:
            expire_at = datetime.strptime(expire, TIME_FORMAT).replace(tzinfo=CST) \
                if isinstance(expire, str) and expire else None
        except ValueError as exc:
            raise Refusal(_INVALID, "isv.invalid-parameter", "time_expire") from exc
        try:
            return self.books.open(number, total, subject, notify_url, expire_at,
                                   "QUICK_WAP_WAY", prefix="ap")
        except SimRefusal as refusal:
            raise Refusal(_FAILED, "ACQ.TRADE_HAS_CHANGE", refusal.message) from refusal

    async def pay_form(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if self.down:
            return HTMLResponse(page("系统繁忙 / Platform down", ""), status_code=503)
        order = next((o for o in self.books.orders.values()
                      if o.prepay_id == form.get("prepay_id")), None)
        if order is None:
            return HTMLResponse(page("交易不存在 / No such trade", ""), status_code=404)
        try:
            self.pay(order)
        except SimRefusal as refusal:
            return HTMLResponse(page("无法支付 / Cannot pay", html.escape(refusal.message)),
                                status_code=409)
        back = self._return_urls.get(order.prepay_id, "")
        if back:  # as Alipay's page: back to the merchant with signed parameters
            return RedirectResponse(self._return_link(order, back), status_code=303)
        return HTMLResponse(page("支付成功 / Paid", f"<p>{html.escape(order.description)}"
                                 f"</p><p>¥{fen_to_yuan(order.total_fen)}</p>"))

    def _return_link(self, order: SimOrder, back: str) -> str:
        fields = {"charset": "utf-8", "out_trade_no": order.out_trade_no,
                  "method": "alipay.trade.wap.pay.return",
                  "total_amount": fen_to_yuan(order.total_fen),
                  "trade_no": order.transaction_id, "auth_app_id": self.keys.app_id,
                  "version": "1.0", "app_id": self.keys.app_id, "sign_type": "RSA2",
                  "seller_id": self.keys.seller_id, "timestamp": _text(self.config.clock())}
        fields["sign"] = sign(self._private, content(fields, leave_out=("sign", "sign_type")))
        return back + ("&" if "?" in back else "?") + urlencode(fields)

    def pay(self, order: SimOrder) -> None:
        now = self.config.clock()
        self.books.pay(order, f"{now:%Y%m%d}22001{secrets.randbelow(10**15):015d}")
        self._notify(order)

    # -- notifications ----------------------------------------------------------------

    def _notify(self, order: SimOrder, *, refund: SimRefund | None = None,
                amount_fen: Fen | None = None, bad_signature: bool = False) -> Delivery:
        now = self.config.clock()
        trade = self._trade_json(order, amount_fen=amount_fen)
        fields = {
            "notify_time": _text(now), "notify_type": "trade_status_sync",
            "notify_id": f"{now:%Y%m%d%H%M%S}{secrets.token_hex(8)}",
            "app_id": self.keys.app_id, "auth_app_id": self.keys.app_id, "charset": "utf-8",
            "version": "1.0", "sign_type": "RSA2", "seller_id": self.keys.seller_id,
            "subject": order.description, "gmt_create": _text(now),
            "trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"],
            "trade_status": trade["trade_status"], "total_amount": trade["total_amount"],
            "buyer_id": _buyer(order), "fund_bill_list": json.dumps(
                [{"amount": trade["total_amount"], "fundChannel": "ALIPAYACCOUNT"}],
                separators=(",", ":"))}
        if order.paid_at is not None:
            fields |= {"gmt_payment": _text(order.paid_at),
                       "receipt_amount": trade["total_amount"],
                       "buyer_pay_amount": trade["total_amount"]}
        if refund is not None:
            fields |= {"out_biz_no": refund.out_refund_no, "gmt_refund":
                       _text(refund.created_at), "refund_fee": fen_to_yuan(order.refunded_fen)}
        fields = {name: value for name, value in fields.items() if value}  # none sent empty
        key: RSAPrivateKey = rsa.generate_private_key(public_exponent=65537, key_size=2048) \
            if bad_signature else self._private
        fields["sign"] = sign(key, content(fields, leave_out=("sign", "sign_type")))
        tampered = "signature" if bad_signature else "amount" if amount_fen is not None else ""
        event = "refund" if refund is not None else trade["trade_status"]
        return self.deliveries.start(Delivery(fields["notify_id"], event, order.out_trade_no,
                                              order.notify_url, urlencode(fields), tampered))

    async def _attempt(self, client: httpx.AsyncClient, delivery: Delivery) -> int | str:
        try:
            answer = await client.post(delivery.url, content=delivery.body.encode(), headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        except httpx.HTTPError as exc:
            return f"error: {type(exc).__name__}"
        if 200 <= answer.status_code < 300 and answer.text.strip() == "success":
            return answer.status_code
        return f"{answer.status_code} {answer.text.strip()[:40]}"

    # -- /_sim controls ---------------------------------------------------------------

    async def control(self, request: Request) -> Response:
        text = (await request.body()).decode("utf-8", "replace")
        try:
            body = json.loads(text) if text.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            return JSONResponse({"code": "PARAM_ERROR", "message": "body: a JSON object"},
                                status_code=400)
        try:
            return JSONResponse(self._control(request.path_params["action"], request, body))
        except Refusal as refusal:
            return JSONResponse({"code": refusal.sub_code, "message": refusal.sub_msg},
                                status_code=404 if refusal.sub_code.endswith("NOT_EXIST")
                                else 400)
        except SimRefusal as refusal:
            return JSONResponse({"code": refusal.code, "message": refusal.message},
                                status_code=refusal.status)

    def _control(self, action: str, request: Request, body: dict[str, Any]) -> Any:
        number = request.path_params.get("out_trade_no", "")
        if action == "pay":
            order = self._trade({"out_trade_no": number})
            self.pay(order)
            return self._trade_json(order)
        if action == "notify":
            amount = body.get("amount_fen")
            return self._notify(
                self._trade({"out_trade_no": number}),
                amount_fen=amount if type(amount) is int else None,
                bad_signature=bool(body.get("bad_signature"))).view()
        handled, answer = self.shared_control(action, body)
        if handled:
            return answer
        if action == "health":
            return {"ok": True, "orders": len(self.books.orders), "style": "alipay"}
        raise Refusal(_INVALID, "NOT_FOUND", f"no control {action}")

    def _now_naive(self) -> datetime:
        return self.config.clock().astimezone(CST).replace(tzinfo=None)


def create_app(config: AlipaySimConfig) -> Starlette:
    sim = AlipaySimulator(config)
    routes = [
        Route("/gateway.do", sim.gateway, methods=["GET", "POST"]),
        Route("/wap/pay", sim.pay_form, methods=["POST"]),
        Route("/downloadBillFile.resource", sim.download),
        Route("/_sim/orders/{out_trade_no}/{action:str}", sim.control, methods=["POST"]),
        Route("/_sim/{action:str}", sim.control, methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.simulator = sim
    return app


def _biz(params: Mapping[str, str]) -> dict[str, Any]:
    try:
        value = json.loads(params.get("biz_content", ""))
    except ValueError as exc:
        raise Refusal(_INVALID, "isv.invalid-parameter", "biz_content is not JSON") from exc
    if not isinstance(value, dict):
        raise Refusal(_INVALID, "isv.invalid-parameter", "biz_content is not a JSON object")
    return value


def _yuan(value: object, name: str) -> Fen:
    try:
        if not isinstance(value, str):
            raise MoneyError(f"{name} is not yuan text")
        return yuan_to_fen(value, field=name)
    except MoneyError as exc:
        raise Refusal(_INVALID, "isv.invalid-parameter", f"{name}: yuan, two decimals") \
            from exc


def _status(order: SimOrder) -> str:
    """The books' state as Alipay's trade_status."""
    if order.state == "NOTPAY":
        return "WAIT_BUYER_PAY"
    if order.state == "SUCCESS" or (order.state == "REFUND"
                                    and order.refunded_fen < order.total_fen):
        return "TRADE_SUCCESS"
    return "TRADE_CLOSED"  # closed, or refunded in full


def _line(order: SimOrder, refund: SimRefund | None) -> alipay_bill.Line:
    assert order.paid_at is not None
    paid = _naive(order.paid_at)
    if refund is None:
        return alipay_bill.Line(order.transaction_id, order.out_trade_no, order.description,
                                paid, paid, order.total_fen, order.total_fen,
                                -fee(order.total_fen), buyer="159****0000")
    return alipay_bill.Line(order.transaction_id, order.out_trade_no, order.description,
                            paid, _naive(refund.created_at), order.total_fen,
                            -refund.refund_fen, fee(refund.refund_fen),
                            out_request_no=refund.out_refund_no, buyer="159****0000")


def _buyer(order: SimOrder) -> str:
    digest = base64.b32encode(order.out_trade_no.encode()).decode()
    return "2088" + "".join(str(ord(c) % 10) for c in digest)[:12].ljust(12, "0")


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(CST).replace(tzinfo=None)


def _text(moment: datetime) -> str:
    return f"{_naive(moment):{TIME_FORMAT}}"


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def _pay_form(order: SimOrder) -> str:
    head = (f"<p>{html.escape(order.description)}</p>"
            f"<p class=amount id=amount>¥{fen_to_yuan(order.total_fen)}</p>")
    if order.state != "NOTPAY":
        return f"{head}<p>{_status(order)}</p>"
    return (f"{head}<form method=post action=/wap/pay><input type=hidden name=prepay_id "
            f"value=\"{html.escape(order.prepay_id)}\"><button type=submit id=pay>"
            "确认付款 / Pay</button></form>")
