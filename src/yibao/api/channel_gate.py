"""What every /channel/v1 route shares: the gate (the channel the edge verified, the
scope the route declares, the Idempotency-Key of a write) and the runner (one write
transaction per request; a write's answer kept under its key and replayed).
docs/channel-api.md.

A write's key is reserved first in its transaction (``channel_request``), so a parallel
twin waits and then finds the answer; the answer (its status and JSON) is stored in the
same transaction as what the write did, so a replay never acts again. A refusal that
rolls the write back keeps nothing: the same key may then be sent again. A committed
refusal (a wrong PIN, counted) is kept and replayed like any answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from yibao.api import problems
from yibao.api.problems import problem
from yibao.domain import channels as rules
from yibao.domain.errors import Refused
from yibao.domain.policy import Policy
from yibao.services import ecert
from yibao.services.context import Actor, ActorKind, Call, Clock, Entry, Ids, KeptRefusal
from yibao.store import channels
from yibao.store.channels import Channel
from yibao.store.db import Database

VERIFIED = "yibao.channel"  # the scope["state"] key of the channel the edge verified
_CALLER = "yibao_channel_caller"  # the request.state attribute the gate sets
REPLAYED = "Idempotent-Replayed"  # the header of an answer given again for its key


@dataclass(frozen=True, slots=True)
class Caller:
    """The channel calling a route at ``path``, the status the route answers on success
    and, for a write, its Idempotency-Key and the hash of what it asks (method, path,
    body)."""

    channel: Channel
    path: str
    status: int = 200
    key: str = ""
    request_hash: str = ""

    @property
    def channel_id(self) -> str:
        return self.channel.channel_id


class Unauthorized(Exception):
    """A channel request whose signature, timestamp or nonce is not valid (HTTP 401)."""


CHALLENGE = {"WWW-Authenticate": 'YB-HMAC-SHA256 realm="channel"'}  # docs/channel-api.md


def unauthorized_reply(path: str) -> Response:
    """401 E-AUTH-005, naming the scheme: the HMAC signature headers of Signing."""
    return problem(Refused("E-AUTH-005", "channel signature, timestamp or nonce not valid"),
                   path, headers=CHALLENGE)


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def _gate(scope: rules.Scope, write: bool) -> Callable[[Request], Any]:
    async def gate(request: Request) -> None:  # async: nothing blocks (the body is read)
        """The verified channel holds ``scope``; a write carries its Idempotency-Key."""
        channel: Channel | None = request.scope.get("state", {}).get(VERIFIED)
        if channel is None:
            raise Unauthorized()
        rules.check_scope(channel.scopes, scope)
        status = getattr(request.scope.get("route"), "status_code", None) or 200
        path = request.scope["path"]
        caller = Caller(channel, path, status)
        if write:
            key = rules.check_idempotency_key(request.headers.get("idempotency-key"))
            caller = Caller(channel, path, status, key, request_hash(
                request.method, path, await request.body()))
        setattr(request.state, _CALLER, caller)

    return gate


async def caller(request: Request) -> Caller:
    """The caller the route's gate let through (every channel route has one: ``post``)."""
    found: Caller | None = getattr(request.state, _CALLER, None)
    assert found is not None, f"{request.url.path}: a channel route without its gate"
    return found


SCHEMES = ("ChannelId", "ChannelTimestamp", "ChannelNonce", "ChannelSignature")
IDEMPOTENCY_SCHEME = "IdempotencyKey"


def post(api: APIRouter, path: str, scope: rules.Scope, *, write: bool = True,
         **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``api.post`` of a channel route needing ``scope``; ``write``: it changes something,
    so it needs an Idempotency-Key (the lists and views that carry the PIN in their
    body are POSTs that change nothing but a wrong PIN's count: no key)."""
    security = {name: [scope.value] if name == "ChannelSignature" else [] for name in SCHEMES}
    if write:
        security[IDEMPOTENCY_SCHEME] = []
    return api.post(path, dependencies=[Depends(_gate(scope, write))], openapi_extra={
        "security": [security], "x-yb-scope": scope.value, "x-yb-write": write}, **options)


def channel_call(conn: Connection, channel_id: str, now: Any, ids: Ids,
                 policies: tuple[Policy, ...]) -> Call:
    """The call of a certified channel (an app) the edge verified (/channel/v1)."""
    return Call(conn=conn, actor=Actor(ActorKind.CHANNEL, channel_id), entry=Entry.CHANNEL,
                now=now, ids=ids, policies=policies)


# what a route's action gives: the answer's JSON, or a Refused it returns rather than
# raises (a committed refusal: what the action did is kept, a wrong PIN's count)
Action = Callable[[Call], Any]


class Runner:
    """Runs a route's action in one write transaction as the calling channel."""

    def __init__(self, db: Database, clock: Clock, ids: Ids,
                 policies: tuple[Policy, ...]) -> None:
        self.db, self.clock, self.ids, self.policies = db, clock, ids, policies

    def run(self, action: Action, caller: Caller) -> Response:
        """The answer: ``action``'s JSON with the route's status, a refusal's, or (a
        write whose key was answered already) the stored answer again."""
        try:
            return self._attempt(action, caller)
        except IntegrityError:
            # a parallel twin took the key first and committed: its answer is ours
            if not caller.key:
                raise
            with self.db.read() as conn:
                found = channels.answered(conn, caller.channel_id, caller.key)
            if found is None:
                raise
            return _replay(found, caller)
        except KeptRefusal as refusal:  # what the refused action keeps, on its own
            with self.db.write() as conn:
                for write in refusal.kept:
                    write(conn)
            return problem(refusal, caller.path)
        except Refused as refusal:
            return problem(refusal, caller.path)

    def _attempt(self, action: Action, caller: Caller) -> Response:
        with self.db.write() as conn:
            call = channel_call(conn, caller.channel_id, self.clock(), self.ids,
                                self.policies)
            if caller.key:
                found = channels.answered(conn, caller.channel_id, caller.key)
                if found is not None:
                    return _replay(found, caller)
                channels.reserve(conn, caller.channel_id, caller.key, caller.request_hash,
                                 call.now)
            response = _response(action(call), caller)
            if caller.key:
                channels.answer(conn, caller.channel_id, caller.key, response.status_code,
                                bytes(response.body).decode("utf-8"))
            return response

    def as_holder(self, caller: Caller, cert_id: str, pin: str,
                  action: Callable[[Call, str], Any], *, settled: bool = True) -> Response:
        """Run ``action`` for the certificate holder once the PIN matched (a wrong PIN is
        counted and committed, then refused); ``settled``: not in the certificate's first
        period (E-ECT-013)."""
        def act(call: Call) -> Any:
            psn_no = ecert.holder_by_pin(call, cert_id, pin, settled=settled)
            if isinstance(psn_no, Refused):
                return psn_no  # the committed refusal: wrong PIN, attempts left
            return action(call, psn_no)
        return self.run(act, caller)


def _response(result: Any, caller: Caller) -> JSONResponse:
    """An action's answer: its JSON with the route's status, or the refusal it returned."""
    if isinstance(result, Refused):
        return problem(result, caller.path)
    assert not isinstance(result, Response), type(result)
    return JSONResponse(jsonable_encoder(result), status_code=caller.status)


def _replay(found: channels.Answered, caller: Caller) -> Response:
    """The stored answer of the key, if it was asked the same (E-CHN-003 otherwise)."""
    if found.request_hash != caller.request_hash:
        raise Refused("E-CHN-003", "this Idempotency-Key was used for another path or body")
    assert found.status != 0, "an unanswered key was committed"
    media_type = problems.MEDIA_TYPE if found.status >= 400 else "application/json"
    return Response(found.body, status_code=found.status, media_type=media_type,
                    headers={REPLAYED: "true"})


def install(app: FastAPI) -> None:
    """Answer an unauthorized channel request 401 (E-AUTH-005)."""

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, _exc: Unauthorized) -> Response:
        return unauthorized_reply(request.url.path)
