"""The HTTP application (FastAPI): the hospital route, health, and OpenAPI at /docs."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute, compile_path
from starlette.types import Receive, Scope, Send

from yibao import __version__
from yibao.api import (
    admin,
    admin_away_analysis,
    admin_claims,
    admin_contribution,
    admin_designation,
    admin_fever,
    admin_filing,
    admin_finance,
    admin_institutions,
    admin_outbox,
    admin_supervision,
    admin_supervision_cases,
    cashier,
    channel,
    console,
    docs,
    mpc,
    national_http,
    paynotify,
    problems,
    service_paths,
    transactions,
    tx_online,
)
from yibao.api.envelope import BODY_BYTES_MAX, JSON_DEPTH_MAX, STRING_LENGTH_MAX
from yibao.api.gateway import UnixClock
from yibao.api.hospital import ROUTE, HospitalInterface, database_failure_code
from yibao.api.limits import EdgeLimits, Family, Throttle
from yibao.api.national_http import LEAN_TARGET, Lean, NationalHttp, runner
from yibao.api.rest import storable_text
from yibao.api.schemas import EnvelopeOut, request_body
from yibao.api.service_paths import PREFIX, SINGLE, ServicePaths, ServicePathsError
from yibao.domain import roles
from yibao.domain.errors import Refused
from yibao.domain.money import yuan_to_fen
from yibao.domain.policy import Policy
from yibao.services import online_payment, outbox
from yibao.services.context import Clock, Ids, china_now
from yibao.store.db import Database
from yibao.store.policy_files import load_policies
from yibao.thirdpay.platform import Platform


class YibaoApp(FastAPI):
    """The application. With ``national`` set (``create_app(lean=True)``), a POST of the
    national interface takes the lean path (api/national_http.py): answered by the same
    handling as the routed one, without FastAPI's middleware, router and endpoint."""

    national: NationalHttp | None = None
    _lean: Lean | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        national = self.national
        if national is not None:
            target = national.lean_target(scope)
            if target is not None:
                lean = self._lean or self._lean_path(national)
                scope["app"] = self
                scope[LEAN_TARGET] = target
                await lean(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def _lean_path(self, national: NationalHttp) -> Lean:
        """Built on the first request, when every exception handler is registered: the
        handler of an unexpected exception chosen as Starlette's middleware stack
        chooses it."""
        handler = None
        for key, value in self.exception_handlers.items():
            if key in (500, Exception):
                handler = value
        self._lean = Lean(national, handler, self.debug)
        return self._lean


def create_app(
    db: Database, *, policies: tuple[Policy, ...] | None = None, clock: Clock = china_now,
    ids: Ids | None = None, deliverer: outbox.Deliverer | None = None,
    second_approval_above: int | None = None, unix_clock: UnixClock = time.time,
    online: tx_online.Online = transactions.NO_PLATFORM,
    mpc_private_key: str | None = None, sweep: bool = False,
    channel_throttle: Throttle | None = None, paths: ServicePaths | None = None,
    lean: bool | None = None, threads: int | None = None,
) -> YibaoApp:
    """The application; ``deliverer`` (the outbox's) runs while the application does.
    Operators authenticate with their bearer tokens (``yibao operators``); a claim
    approved above ``second_approval_above`` fen (default YIBAO_SECOND_APPROVAL_ABOVE
    yuan, else 5,000.00) needs a second approver. ``clock`` is the business clock (China
    time), ``unix_clock`` the machine's the signed headers' timestamps are checked
    against; ``mpc_private_key`` the mobile-payment centre's SM2 key (default
    YIBAO_MPC_PRIVATE_KEY, else the demo key: api/mpc.py); ``online`` how the centre
    reaches the payment platform, whose orders a sweeper resolves while the application
    runs when ``sweep`` (docs/online-payment.md); ``channel_throttle`` the channels'
    rate limit (default: channel.throttle_of, from YIBAO_CHANNEL_RATE and
    YIBAO_CHANNEL_BURST); ``paths`` the table of per-service paths (default: the file
    YIBAO_SERVICE_PATHS names, else the shipped one: api/service_paths.py; a bad table
    raises RuntimeError naming the file and the entry); ``lean``: the national
    interface's POSTs taken at the ASGI level, before FastAPI's middleware and router
    (default: YIBAO_HTTP_PATH, lean unless it says routed), else through FastAPI's route
    (api/national_http.py); ``threads``: the pool its blocking calls run on (default
    YIBAO_HTTP_THREADS, else 40; 0: anyio's)."""
    ids = ids or Ids(clock)
    lean = national_http.lean_from_env() if lean is None else lean
    threads = national_http.threads_from_env() if threads is None else threads
    if paths is None:
        try:
            paths = service_paths.from_env()
        except ServicePathsError as exc:
            raise RuntimeError(f"service-path table refused: {exc}") from exc
    hospital = HospitalInterface(
        db, policies if policies is not None else load_policies(), clock=clock, ids=ids,
        unix_clock=unix_clock,
        transactions=transactions.table(online),
    )
    app = YibaoApp(
        title="yibao",
        version=__version__,
        description="Medical-insurance real-time settlement platform. The hospital interface "
        f"is the national envelope at POST {ROUTE} (see docs/interface.md). Every route: "
        f"body at most {BODY_BYTES_MAX} bytes (413, refused before it is read), JSON nested "
        f"at most {JSON_DEPTH_MAX} levels and strings at most {STRING_LENGTH_MAX} characters "
        "(422); credentials are checked from the headers before the body is read (401).",
        lifespan=_running(deliverer, _sweeper(sweep, db, online, clock, ids, hospital.policies)),
        docs_url=None, redoc_url=None,  # served offline: api/docs.py
    )
    app.state.hospital = hospital
    national = NationalHttp(hospital, paths, runner(threads))
    app.national = national if lean else None
    # the hospital route first: it carries nearly all traffic and is matched in order
    @app.post(
        ROUTE,
        summary="National interface: every transaction, dispatched on infno",
        response_model=EnvelopeOut,
        openapi_extra=request_body(),
        responses={200: {"content": {"application/zip": {}}, "description":
                         "the envelope, or for a successful 9102 the file"}},
    )
    async def call_service(request: Request) -> Response:
        return await national.respond(request.scope, request.receive, SINGLE)

    async def other_form(request: Request) -> Response:
        """Every other path under the interface prefix, any method, and the table's
        paths outside it: the route's handling when the path is one of the interface's
        URL forms and the method POST, else an envelope refusal (the body unread)."""
        path = request.url.path
        target = table.target(path)
        if target is None or request.method != "POST":
            return national.refuse(request.method, path)
        return await national.respond(request.scope, request.receive, target)

    table = paths  # bound for other_form: mypy narrows it to ServicePaths
    for path in (PREFIX, PREFIX + "/{rest:path}", *table.outside_prefix()):
        app.add_api_route(path, other_form, methods=list(HTTP_METHODS),
                          include_in_schema=False)

    centre = mpc.MobilePayCentre(
        db, hospital.policies, clock=clock, ids=ids, transactions=hospital.transactions,
        unix_clock=unix_clock, private_key=mpc_private_key or mpc.private_key())
    outbox.register_signer(mpc.CALLBACK_KIND_PREFIX,
                           mpc.callback_signer(centre.private_key, clock))
    gate = admin.Gate(db, clock)
    # the edge: limits and authentication before a byte of a body is read (api/limits.py)
    app.add_middleware(EdgeLimits, routed=lambda scope: routed(app, scope), families=(
        *_national_families(table), channel.edge(db, unix_clock, channel_throttle),
        admin.edge(db, clock), mpc.edge(), cashier.edge(), console.edge(), Family(""),
    ))
    rest = APIRouter(dependencies=[Depends(storable_text)])  # every REST route
    window = admin.Window(db, ids, hospital.policies)
    rest.include_router(admin.router(window, gate))
    rest.include_router(admin_claims.router(
        window, gate, second_approval_above=_second_approval_above(second_approval_above)))
    rest.include_router(admin_filing.router(window, gate))
    rest.include_router(admin_designation.router(window, gate))
    rest.include_router(admin_finance.router(window, gate))
    rest.include_router(admin_supervision.router(window, gate))
    rest.include_router(admin_contribution.router(window, gate))
    rest.include_router(admin_institutions.router(
        window, gate, forget_institution=hospital.gateway.forget,
        gateway_now=hospital.gateway.now))
    rest.include_router(admin_outbox.router(window, gate))
    rest.include_router(admin_fever.router(window, gate))
    rest.include_router(admin_supervision_cases.router(window, gate))
    rest.include_router(admin_away_analysis.router(window, gate))
    rest.include_router(channel.router(db, clock, ids, hospital.policies))
    app.include_router(rest)
    app.include_router(paynotify.router(db, online, clock, ids, hospital.policies))
    app.include_router(mpc.router(centre))
    app.include_router(problems.router())
    channel.install(app)
    admin.install(app)
    docs.install(app)
    # the person's cashier page (6201's cashierUrl): HTML, the payAuthNo or cookie
    app.include_router(cashier.router(db, clock, ids, hospital.policies, online))
    # the bureau's operators in a browser (docs/console.md)
    console.install(app, console.Console(db, clock, ids, hospital.policies, console.Settings(
        _second_approval_above(second_approval_above), hospital.gateway.forget,
        hospital.gateway.now)))

    problems.install(app, allowed=lambda path: allowed_methods(app, path))

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> Response:
        """A database error under a REST route: E-SYS-001 (503, retry) for a collision or
        a lost database, E-SYS-002 (500) for a row the database refused."""
        path = request.url.path
        reference = f"{request.method} {path}"[:100]
        return problems.problem(Refused(database_failure_code(exc, reference)), path)

    @app.get(
        "/health", summary="Liveness: 200 when the database answers, 503 when it does not",
        responses={503: {"description": "the database is unavailable (E-SYS-001)"}},
    )
    def health() -> Response:
        if not db.answers():
            return problems.problem(Refused("E-SYS-001", "the database does not answer"),
                                    "/health")
        return JSONResponse({"status": "ok", "version": __version__})

    _check_paths_free(app, table, other_form)
    return app


def _check_paths_free(app: FastAPI, table: ServicePaths, ours: Callable[..., Any]) -> None:
    """Refuse (RuntimeError) a table path outside the interface prefix that another
    route serves (the prefixes of the other families are refused when the table is
    read: service_paths.OWN_PREFIXES)."""
    for path in table.outside_prefix():
        if serves_path(app.routes, path, ours):
            raise RuntimeError(f"service-path table refused: {table.source}: {path} is a "
                               "path of yibao's own (list paths of the national interface)")


def serves_path(routes: Sequence[BaseRoute], path: str, ours: Callable[..., Any],
                prefix: str = "") -> bool:
    """Whether a route other than ``ours`` matches ``path`` (any method), as Starlette's
    ``route.matches`` would say, from the routes' path patterns alone: a router that
    FastAPI includes lazily (each route's state is built when a request first reaches
    the router, ~1 ms a route) is walked at its prefix without building that state."""
    for route in routes:
        inner, context = (getattr(route, "original_router", None),
                          getattr(route, "include_context", None))
        if inner is not None and context is not None:  # an included router, not built
            if serves_path(inner.routes, path, ours, prefix + context.prefix):
                return True
            continue
        if isinstance(route, WebSocketRoute) or getattr(route, "endpoint", None) is ours:
            continue
        if isinstance(route, Mount):
            pattern = (compile_path(prefix + route.path.rstrip("/") + "/{path:path}")[0]
                       if prefix else route.path_regex)
        elif isinstance(route, Route):
            pattern = compile_path(prefix + route.path)[0] if prefix else route.path_regex
        else:  # another kind (a Host): ask it
            scope: Scope = {"type": "http", "path": path, "method": "POST", "root_path": "",
                            "headers": []}
            if route.matches(scope)[0] is not Match.NONE:
                return True
            continue
        if pattern.match(path):
            return True
    return False


def _second_approval_above(fen: int | None) -> int:
    """The amount (fen) above which a claim needs two approvers: the argument, else
    YIBAO_SECOND_APPROVAL_ABOVE (yuan), else the default (domain/roles.py)."""
    if fen is not None:
        return fen
    yuan = os.environ.get("YIBAO_SECOND_APPROVAL_ABOVE", "")
    if not yuan:
        return roles.SECOND_APPROVAL_ABOVE_FEN
    return yuan_to_fen(yuan, field="YIBAO_SECOND_APPROVAL_ABOVE")


HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def routed(app: FastAPI, scope: Scope) -> bool:
    """Whether some endpoint serves this request's path and method."""
    return any(route.matches(scope)[0] is Match.FULL for route in app.routes)


def allowed_methods(app: FastAPI, path: str) -> str:
    """Every method some route serves at ``path`` (Starlette's own 405 names only the
    first route that matched the path, e.g. POST where GET and POST share it)."""
    def served(method: str) -> bool:
        return routed(app, {"type": "http", "path": path, "method": method, "root_path": ""})

    return ", ".join(m for m in HTTP_METHODS if served(m))


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (several worker processes): the database URL
    comes from YIBAO_DATABASE_URL, the outbox endpoint from YIBAO_OUTBOX_URL. Refuses to
    build the app (RuntimeError: uvicorn exits) with an invalid face template key, or
    with the development key unless YIBAO_DEMO=1 (``yibao serve --demo`` sets it), and
    likewise with an invalid mobile-payment centre key or its published demo key, or with
    both payment platforms configured (YIBAO_WECHATPAY_URL and YIBAO_ALIPAY_URL)."""
    import os

    from yibao import log
    from yibao.services import face
    from yibao.store.db import DEFAULT_URL

    demo = face.demo_switched_on()
    problem = face.key_problem(demo=demo) or mpc.key_problem(demo=demo)
    if problem:
        raise RuntimeError(problem)

    try:  # the payment platform's settings (one platform, its keys readable)
        online = online_from_env()
    except (ValueError, OSError) as exc:
        raise RuntimeError(f"payment platform: {exc}") from exc

    log.configure(os.environ.get("YIBAO_LOG_LEVEL", "INFO"))
    database = Database(os.environ.get("YIBAO_DATABASE_URL", DEFAULT_URL))
    return create_app(database, deliverer=_deliverer_from_env(database), online=online,
                      sweep=True)


def online_from_env(env: Mapping[str, str] | None = None) -> tx_online.Online:
    """The centre's payment platform, one per deployment: WeChat Pay from
    YIBAO_WECHATPAY_* or Alipay from YIBAO_ALIPAY_* (selected by YIBAO_WECHATPAY_URL or
    YIBAO_ALIPAY_URL; neither: none, a cash part cannot be paid, E-PAY-001; both: refused,
    ValueError), and yibao's own address as the person and the platform reach it
    (YIBAO_PUBLIC_URL, default http://127.0.0.1:8080): docs/online-payment-platform.md."""
    from yibao.thirdpay.alipay import AlipayConfig, AlipayPlatform
    from yibao.thirdpay.wechat import WeChatConfig, WeChatPayPlatform

    env = os.environ if env is None else env
    public = env.get("YIBAO_PUBLIC_URL", "http://127.0.0.1:8080").rstrip("/")
    wechat, alipay = env.get("YIBAO_WECHATPAY_URL"), env.get("YIBAO_ALIPAY_URL")
    if wechat and alipay:
        raise ValueError("both YIBAO_WECHATPAY_URL and YIBAO_ALIPAY_URL are set: yibao "
                         "uses one payment platform per deployment; unset one of them")
    platform: Platform | None = None
    if wechat:
        platform = WeChatPayPlatform(WeChatConfig.from_env(env))
    elif alipay:
        platform = AlipayPlatform(AlipayConfig.from_env(env))
    return tx_online.Online(platform=platform, notify_url=public + paynotify.path_for(platform),
                            cashier_base=public)


def _deliverer_from_env(db: Database) -> outbox.Deliverer:
    """The outbox's deliverer (docs/outbox.md): to the national platform at
    YIBAO_OUTBOX_URL (unset: those messages wait), and the messages with their own URL
    (the mobile-payment centre's callbacks, channels' webhooks) always."""
    url = os.environ.get("YIBAO_OUTBOX_URL", "")
    interval = float(os.environ.get("YIBAO_OUTBOX_INTERVAL", outbox.INTERVAL_SECONDS))
    return outbox.Deliverer(db, url=url, interval=interval)


def _sweeper(sweep: bool, db: Database, online: tx_online.Online, clock: Clock, ids: Ids,
             policies: tuple[Policy, ...]) -> online_payment.Sweeper | None:
    if not sweep or online.platform is None:
        return None
    return online_payment.Sweeper(db, online.platform, clock=clock, ids=ids, policies=policies)


def _running(
    deliverer: outbox.Deliverer | None, sweeper: online_payment.Sweeper | None = None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The lifespan: start the outbox's deliverer and the online orders' sweeper with the
    application, stop them before exit."""
    workers: list[outbox.Deliverer | online_payment.Sweeper] = [
        w for w in (deliverer, sweeper) if w is not None]

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for worker in workers:
            worker.start()
        try:
            yield
        finally:
            for worker in workers:
                await run_in_threadpool(worker.stop)

    return lifespan


def _national_families(table: ServicePaths) -> tuple[Family, ...]:
    """The national interface at the edge: its prefix and the table's paths outside it.
    The route authenticates the gateway headers itself, then refuses an oversized body
    (E-ENV-006, declared or streamed) spending the message's nonce."""
    return tuple(Family(p, read_body=False) for p in (PREFIX, *table.outside_prefix()))
