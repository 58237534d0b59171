"""The mobile-payment centre's routes (6201-6401) in the envelope deployed centres use:
one path per transaction under /org/local/api/hos, the body an SM2-signed, SM4-encrypted
envelope (api/mpc_envelope.py; docs/online-payment-transport.md).

For every request: parse the body (the national limits) -> the app of its appId
(E-MPC-001) -> its timestamp (E-MPC-004) -> decrypt (E-MPC-003) -> verify the signature
over the plaintext (E-MPC-002) -> in one write transaction, record the SHA-256 of the
signData as a nonce (a replay: E-MPC-005) and run the national transaction table's
handler for the path's infno with a ``Call`` of entry ``mobile_pay`` (actor and site:
the app's institution). The answer is the envelope sealed by the centre (encrypted with
the app's key, signed with the centre's private key) with ``code`` 0 and ``message``
"success", or ``code`` -1 and the refusal's catalogue message; a request with no known
appId (or no JSON at all) gets the same fields unsealed. Always HTTP 200, never a bare
framework error.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.concurrency import run_in_threadpool

from yibao import log
from yibao.api import envelope as env_mod
from yibao.api import mpc_envelope as mpc
from yibao.api.fields import Fields
from yibao.api.gateway import UnixClock
from yibao.api.hospital import database_failure_code
from yibao.api.limits import Family
from yibao.api.registry import Answer, Transaction
from yibao.domain.errors import Refused
from yibao.domain.mpc import App
from yibao.domain.policy import Policy
from yibao.services import outbox
from yibao.services.context import Actor, ActorKind, Call, Clock, Entry, Ids
from yibao.store import institutions, mpc_apps, nonces
from yibao.store.db import Database, Failure, classify

PREFIX = "/org/local/api/hos"
# path -> infno, as the deployed centres name them (shared/reference/mobile-payment-transport.md)
PATHS: dict[str, str] = {
    "uldFeeInfo": "6201",
    "pay_order": "6202",
    "refund_Order": "6203",
    "query_order_info": "6301",
    "revoke_order": "6401",
}
TITLES = {"6201": "费用明细上传", "6202": "支付下单", "6203": "医保退费",
          "6301": "医保订单结算结果查询", "6401": "费用明细上传撤销"}
PRIVATE_KEY_ENV = "YIBAO_MPC_PRIVATE_KEY"
# The centre's DEMO key pair (base64): published in docs/online-payment-transport.md, so
# a server refuses it unless in demo mode (as the face template's development key). The
# private key is 1 + SHA-256("yibao-demo-mpc-centre") mod (n - 2).
DEMO_PRIVATE_KEY = "Bv61sD1hD/XdPsC8V+R9ArEZQElmlLVpxLB0OE3O7hg="
DEMO_PUBLIC_KEY = ("BKmvUOEhKF36nNMfUEDs5zeDgmnNe2412F/g/p+tPoRcz0v7BabxFvLtj29P07YyYf5f"
                   "DsvmaqZRWaPeERXjM3s=")
NONCE_SENDER = "mpc:"  # + the institution's code: the gateway_nonce sender of a request
SENDER_LENGTH_MAX = 30  # the gateway_nonce column
REF_PREFIX = "MPC"  # the Call's ref: a new id per request
ATTEMPTS_MAX = 2  # a request colliding with concurrent changes runs once more
PRUNE_EVERY = 1000  # requests between two prunings of the old nonces
logger = log.get("yibao.mpc")


def private_key() -> str:
    """The centre's SM2 private key (base64 of 32 bytes): YIBAO_MPC_PRIVATE_KEY, or the
    demo key."""
    return os.environ.get(PRIVATE_KEY_ENV, DEMO_PRIVATE_KEY)


def key_problem(*, demo: bool) -> str:
    """Why a server must not start with the configured key ("" when it may): a key that
    is not an SM2 private key always; the published demo key unless ``demo``."""
    try:
        pair = mpc.key_pair(private_key())
    except ValueError:
        return f"{PRIVATE_KEY_ENV} is not an SM2 private key: base64 of 32 bytes"
    if pair.public_key == DEMO_PUBLIC_KEY and not demo:
        return (f"refusing to serve with the published demo key of the mobile-payment "
                f"centre: set {PRIVATE_KEY_ENV} (an SM2 private key, base64 of 32 bytes; "
                "give its public key to the institutions), or run in demo mode "
                "(yibao serve --demo, or YIBAO_DEMO=1)")
    return ""


def sender_of(app: App) -> str:
    """The gateway_nonce sender of the app's requests."""
    return f"{NONCE_SENDER}{app.fixmedins_code}"[:SENDER_LENGTH_MAX]


class MobilePayCentre:
    """The routes' work: ``handle(infno, body)`` answers one request. ``clock`` is the
    business clock (China time) of the calls and answers, ``unix_clock`` the machine's,
    which the requests' timestamps are checked against; ``transactions`` the national
    table (api/transactions.py) whose handlers serve 6201-6401."""

    def __init__(
        self, db: Database, policies: tuple[Policy, ...], *, clock: Clock, ids: Ids,
        transactions: Mapping[str, Transaction], unix_clock: UnixClock,
        private_key: str,
    ) -> None:
        mpc.key_pair(private_key)  # ValueError now rather than at the first answer
        self.db = db
        self.policies = policies
        self.clock = clock
        self.ids = ids
        self.transactions = transactions
        self.unix_clock = unix_clock
        self.private_key = private_key
        self._served = 0

    def handle(self, infno: str, body: bytes) -> dict[str, Any]:
        """The answer to one request (never an exception)."""
        started = time.perf_counter()
        found: list[App] = []
        try:
            result = self._serve(infno, body, found)
        except Exception as exc:
            result = self._refused(self._refusal(exc, infno), found[0] if found else None)
        self._log(infno, found[0] if found else None, result, started)
        return result

    def _serve(self, infno: str, body: bytes, found: list[App]) -> dict[str, Any]:
        parsed = env_mod.parse_body(body)
        app = self._app(mpc.app_id_of(parsed))
        found.append(app)
        data = mpc.open_request(parsed, app, now_unix=self.unix_clock())
        sent_at = mpc.sent_at(parsed["timestamp"])
        assert sent_at is not None  # open_request checked it
        nonce = mpc.nonce_of(parsed["signData"])
        try:
            output = self._attempt(infno, app, data, nonce, sent_at)
        except Refused:
            self._remember(app, nonce, sent_at)  # a refused request is not sent again
            raise
        finally:
            self._prune_if_due()
        return mpc.seal(output, app, self.private_key, self.clock(),
                        result=(mpc.SUCCESS_CODE, mpc.SUCCESS_MESSAGE))

    def _app(self, app_id: str) -> App:
        with self.db.read() as conn:
            app = mpc_apps.find(conn, app_id)
        if app is None:
            raise Refused("E-MPC-001", app_id[:mpc.APP_ID_TEXT_MAX])
        return app

    def _attempt(self, infno: str, app: App, data: dict[str, Any], nonce: str,
                 sent_at: int) -> Any:
        """Run the request; a serialization failure or deadlock runs it once more."""
        for attempt in range(ATTEMPTS_MAX):
            try:
                return self._transact(infno, app, data, nonce, sent_at)
            except DBAPIError as exc:
                if classify(exc) is not Failure.COLLISION or attempt + 1 == ATTEMPTS_MAX:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _transact(self, infno: str, app: App, data: dict[str, Any], nonce: str,
                  sent_at: int) -> Any:
        with self.db.write() as conn:
            try:
                nonces.record(conn, sender_of(app), nonce, sent_at)
            except IntegrityError as exc:
                raise Refused("E-MPC-005") from exc
            tx = self.transactions.get(infno)
            if tx is None:
                raise Refused("E-ENV-003", f"infno {infno} ({TITLES.get(infno, '')})")
            site = institutions.find(conn, app.fixmedins_code)
            assert site is not None, "mpc_app.fixmedins_code is a foreign key"
            call = Call(
                conn=conn, actor=Actor(ActorKind.INSTITUTION, site.code),
                entry=Entry.MOBILE_PAY, now=self.clock(), ids=self.ids,
                policies=self.policies, site=site, ref=self.ids.new(REF_PREFIX), infno=infno,
            )
            reply = tx.handler(call, Fields({"data": data}, where="input"))
            output = reply.output if isinstance(reply, Answer) else reply
            assert isinstance(output, dict), f"{infno} answers an envelope, not a file"
            return output.get("data", {})

    def _remember(self, app: App, nonce: str, sent_at: int) -> None:
        """Record the nonce of a request whose own transaction did not (refused)."""
        try:
            with self.db.write() as conn:
                nonces.record(conn, sender_of(app), nonce, sent_at)
        except IntegrityError:
            pass  # already recorded: this was the replay
        except DBAPIError as exc:
            logger.warning("nonce_not_recorded", error=type(exc.orig).__name__)

    def _prune_if_due(self) -> None:
        self._served += 1
        if self._served % PRUNE_EVERY:
            return
        try:
            with self.db.write() as conn:
                nonces.prune(conn, int(self.unix_clock()) - 2 * mpc.WINDOW_SECONDS)
        except DBAPIError as exc:  # the next pruning takes them
            logger.warning("nonces_not_pruned", error=type(exc.orig).__name__)

    def _refusal(self, exc: Exception, infno: str) -> Refused:
        """A refusal as it is, a database error or a failure as E-SYS-001/002."""
        if isinstance(exc, Refused):
            return exc
        if isinstance(exc, DBAPIError):
            return Refused(database_failure_code(exc, f"mpc {infno}"))
        logger.exception("internal_error", infno=infno)
        return Refused("E-SYS-002", f"mpc {infno}")

    def _refused(self, refusal: Refused, app: App | None) -> dict[str, Any]:
        """The answer to a refusal: sealed for a known app, else unsealed."""
        if app is None:
            return mpc.unsealed(refusal)
        try:
            return mpc.seal({}, app, self.private_key, self.clock(),
                            result=(mpc.REFUSED_CODE, refusal.message))
        except Exception:  # never an HTTP 500: the refusal unsealed
            logger.exception("seal_failed")
            return mpc.unsealed(refusal, app.app_id)

    def _log(self, infno: str, app: App | None, result: Mapping[str, Any],
             started: float) -> None:
        logger.info(
            "mpc_request", infno=infno,
            fixmedins_code=None if app is None else app.fixmedins_code,
            code=result["code"], err=str(result["message"])[:10] if result["code"] else "",
            ms=round((time.perf_counter() - started) * 1000, 2),
        )


class MpcEnvelopeIn(BaseModel):
    """A request (OpenAPI only: the route reads the body itself)."""

    appId: str = Field(max_length=40, examples=["48AB16616BEE66DB81688B7BEA48BF41"])
    encType: str = Field("SM4", examples=["SM4"])
    signType: str = Field("SM2", examples=["SM2"])
    version: str = Field("2.0.1", examples=["2.0.1"])
    timestamp: str | int = Field(examples=["20260511093000"], description=(
        "China time yyyyMMddHHmmss, or epoch milliseconds; within 300 s"))
    encData: str = Field(description="SM4-ECB/PKCS#7 of the cleaned data, upper-case hex")
    signData: str = Field(max_length=200, description="SM3withSM2 r||s, base64")


class MpcAnswerOut(BaseModel):
    """An answer: sealed (encData, signData by the centre) unless the app is unknown or
    the body was not an envelope."""

    appId: str
    encType: str
    signType: str
    version: str
    timestamp: str | None = None
    code: int = Field(description="0 success, -1 refused")
    message: str = Field(description="success, or a refusal starting with its code")
    encData: str | None = None
    signData: str | None = None


def router(centre: MobilePayCentre) -> APIRouter:
    """One POST route per transaction, and one answering any other name under the prefix
    (E-ENV-003), so no request there meets a bare framework 404."""
    routes = APIRouter(tags=["mobile-payment centre (SM2/SM4 envelope)"])

    def endpoint(infno: str) -> Any:
        async def serve(request: Request) -> Response:
            return await _answer(centre, infno, request)

        return serve

    for name, infno in PATHS.items():
        routes.add_api_route(
            f"{PREFIX}/{name}", endpoint(infno), methods=["POST"], name=f"mpc_{infno}",
            response_model=MpcAnswerOut, openapi_extra={"requestBody": {
                "required": True, "content": {"application/json": {
                    "schema": MpcEnvelopeIn.model_json_schema()}}}},
            summary=f"{infno} {TITLES[infno]}: the centre's SM2/SM4 envelope "
                    "(docs/online-payment-transport.md)")

    @routes.post(f"{PREFIX}/{{name}}", include_in_schema=False)
    async def unknown(name: str, request: Request) -> Response:
        return await _answer(centre, f"?{name[:20]}", request)

    return routes


async def _answer(centre: MobilePayCentre, infno: str, request: Request) -> Response:
    body = await request.body()  # the edge has read it, within the limit
    return reply(await run_in_threadpool(centre.handle, infno, body))


def reply(answer: Mapping[str, Any]) -> Response:
    return Response(env_mod.dumps(answer), media_type="application/json; charset=utf-8")


def edge() -> Family:
    """The prefix at the edge (api/limits.py): the body's size limit (an envelope-shaped
    E-ENV-006 over it); no header authentication, the body authenticates itself."""
    return Family(PREFIX, too_large=lambda _path: JSONResponse(
        mpc.unsealed(Refused("E-ENV-006", f"body larger than {env_mod.BODY_BYTES_MAX} "
                             "bytes")), status_code=200))



CALLBACK_KIND_PREFIX = "mpc_"  # 6204 / 6302 to the institution (services/online_payment.py)


def callback_signer(private_key: str, clock: Clock) -> outbox.Signer:
    """Dress a callback of the centre (an outbox row of kind ``mpc_*``, payload
    ``{"fixmedins_code", "data"}``) as the centre's envelope for the institution's app,
    sealed when it is sent (a redelivery carries the same data, freshly signed)."""

    def sign(conn: Connection, row: Any) -> tuple[bytes, dict[str, str]]:  # an outbox row
        payload = json.loads(row["payload"], parse_float=Decimal)
        apps = [a for a in mpc_apps.of_institution(conn, payload["fixmedins_code"])
                if a.callback_url]
        assert apps, payload["fixmedins_code"]  # enqueued only with a callback URL
        sealed = mpc.seal(payload["data"], apps[0], private_key, clock())
        body = json.dumps(sealed, ensure_ascii=False, separators=(",", ":")).encode()
        return body, {"content-type": "application/json; charset=utf-8"}

    return sign
