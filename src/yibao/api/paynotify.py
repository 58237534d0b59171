"""The payment platform's notifications of the person's payment, one route per platform
style; only the configured platform's answers (the other: 404).

- WeChat Pay v3: ``POST /thirdpay/wechat/notify``, signed headers, an AEAD-encrypted
  resource. Answers 200 with no body when taken (a replay too), 4xx with
  ``{"code": "FAIL", "message": ...}`` otherwise.
- Alipay: ``POST /thirdpay/alipay/notify``, the asynchronous notification (a form,
  RSA2-signed). Answers the plain body ``success`` when taken (a replay, a refund's or a
  close's notification too: nothing changes), else ``fail`` with a 4xx status.

The platform's client (``Online.platform.notification``) verifies (and decrypts); the
order is then settled (or a late payment given back) in one transaction. The platform
retries what was not taken, and its retries end; the daily reconciliation lists what was
never taken."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from yibao import log
from yibao.api.tx_online import Online
from yibao.domain.errors import Refused
from yibao.domain.policy import Policy
from yibao.services import online_payment
from yibao.services.context import Ids
from yibao.store.db import Database
from yibao.thirdpay.platform import NotificationInvalid, Platform, TradeState

PATH = "/thirdpay/wechat/notify"
ALIPAY_PATH = "/thirdpay/alipay/notify"
PATHS = {"WECHAT": PATH, "ALIPAY": ALIPAY_PATH}  # by thdPayType: where each platform notifies


def path_for(platform: Platform | None) -> str:
    """The notification route of the configured platform (WeChat's when none is)."""
    return PATHS.get(platform.thd_pay_type, PATH) if platform is not None else PATH
logger = log.get("yibao.online")


def router(db: Database, setup: Online, clock: Callable[[], datetime], ids: Ids,
           policies: tuple[Policy, ...]) -> APIRouter:
    api = APIRouter(tags=["payment platform"])

    @api.post(PATH, summary="The payment platform's payment notification (signed, encrypted)",
              include_in_schema=True, responses=_ANSWERS)
    async def notified(request: Request) -> Response:
        body = await request.body()
        if setup.platform is None or setup.platform.thd_pay_type != "WECHAT":
            return _fail(404, "no payment platform is configured, or not WeChat Pay")
        try:
            trade = setup.platform.notification(dict(request.headers), body)
        except NotificationInvalid as exc:
            logger.warning("online_notification_refused", reason=str(exc)[:100])
            return _fail(401, "E-PAY-002 payment notification not valid")
        if trade.state is not TradeState.PAID:  # a payment notification says it was paid
            return _fail(400, f"E-PAY-003 payment does not match the order: state "
                              f"{trade.state.value}")
        try:
            with db.write() as conn:
                call = online_payment.system_call(conn, clock(), ids, policies)
                outcome = online_payment.on_trade(call, trade, setup.platform)
        except Refused as refusal:
            logger.warning("online_notification_not_taken", code=refusal.code,
                           pay_ord_id=trade.out_trade_no[:40])
            return _fail(400 if refusal.http_status < 500 else 503, refusal.message)
        logger.info("online_notification", pay_ord_id=trade.out_trade_no, did=outcome.did)
        return Response(status_code=200)

    @api.post(ALIPAY_PATH, summary="Alipay's asynchronous notification (a form, RSA2-signed)",
              include_in_schema=True, response_class=PlainTextResponse,
              responses=_ALIPAY_ANSWERS)
    async def alipay_notified(request: Request) -> Response:
        body = await request.body()
        platform = setup.platform
        if platform is None or platform.thd_pay_type != "ALIPAY":
            return _plain(404, "fail")
        try:
            trade = platform.notification(dict(request.headers), body)
        except NotificationInvalid as exc:
            logger.warning("online_notification_refused", reason=str(exc)[:100])
            return _plain(401, "fail")
        try:  # a trade not paid (a refund's, a close's notification) changes nothing
            with db.write() as conn:
                call = online_payment.system_call(conn, clock(), ids, policies)
                outcome = online_payment.on_trade(call, trade, platform)
        except Refused as refusal:
            logger.warning("online_notification_not_taken", code=refusal.code,
                           pay_ord_id=trade.out_trade_no[:40])
            return _plain(400 if refusal.http_status < 500 else 503, "fail")
        logger.info("online_notification", pay_ord_id=trade.out_trade_no, did=outcome.did,
                    state=trade.state.value)
        return _plain(200, "success")

    return api


_FAIL = {"content": {"application/json": {"schema": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}}
_ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {"description": "not this order's payment (E-PAY-003) or refused", **_FAIL},
    401: {"description": "signature or encryption not valid (E-PAY-002)", **_FAIL},
    404: {"description": "no payment platform is configured", **_FAIL},
    503: {"description": "the database could not take it now; the platform retries", **_FAIL},
}


_PLAIN = {"content": {"text/plain": {"schema": {"type": "string", "enum": ["fail"]}}}}
_ALIPAY_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "taken (``success``): paid and settled, or already, or a "
                         "refund's or close's notification", "content": {"text/plain": {
                             "schema": {"type": "string", "enum": ["success"]}}}},
    400: {"description": "``fail``: not this order's payment (E-PAY-003) or refused",
          **_PLAIN},
    401: {"description": "``fail``: the signature, app_id or seller_id is not valid "
                         "(E-PAY-002)", **_PLAIN},
    404: {"description": "``fail``: Alipay is not the configured payment platform",
          **_PLAIN},
    503: {"description": "``fail``: the database could not take it now; Alipay retries",
          **_PLAIN},
}


def _plain(status: int, text: str) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=status)


def _fail(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": "FAIL", "message": message}, status_code=status)
