"""The payment platform's notifications of the person's payment (WeChat Pay v3 style:
``POST /thirdpay/wechat/notify``, signed headers, an AEAD-encrypted resource). The
platform's client (``Online.platform.notification``) verifies and decrypts; the order is
then settled (or a late payment given back) in one transaction.

Answers as the platform expects: 200 with no body when taken (a replay too), 4xx with
``{"code": "FAIL", "message": ...}`` otherwise (the platform retries a 5xx, and its
retries end; the daily reconciliation lists what was never taken)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from yibao import log
from yibao.api.tx_online import Online
from yibao.domain.errors import Refused
from yibao.domain.policy import Policy
from yibao.services import online_payment
from yibao.services.context import Ids
from yibao.store.db import Database
from yibao.thirdpay.platform import NotificationInvalid, TradeState

PATH = "/thirdpay/wechat/notify"
logger = log.get("yibao.online")


def router(db: Database, setup: Online, clock: Callable[[], datetime], ids: Ids,
           policies: tuple[Policy, ...]) -> APIRouter:
    api = APIRouter(tags=["payment platform"])

    @api.post(PATH, summary="The payment platform's payment notification (signed, encrypted)",
              include_in_schema=True, responses=_ANSWERS)
    async def notified(request: Request) -> Response:
        body = await request.body()
        if setup.platform is None:
            return _fail(404, "no payment platform is configured")
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


def _fail(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": "FAIL", "message": message}, status_code=status)
