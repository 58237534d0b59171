"""The hospital-facing interface: the national envelope, dispatch on infno (the URL forms
that reach it: api/service_paths.py).

For every message: parse -> authenticate -> idempotency by (fixmedins_code, msgid) ->
run the transaction in one database transaction -> record the answer with the change.
A refusal rolls everything back; no request ends in an HTTP 500.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from yibao import log
from yibao.api import envelope as env_mod
from yibao.api.fields import Fields
from yibao.api.gateway import Gateway, Pass, UnixClock
from yibao.api.registry import Answer, FileReply, Transaction
from yibao.api.service_paths import ROUTE as ROUTE  # where it always was, for callers
from yibao.api.service_paths import SINGLE, Target
from yibao.domain.errors import Refused
from yibao.domain.policy import Policy
from yibao.services import person_numbers
from yibao.services.context import Actor, ActorKind, Call, Clock, Entry, Ids, KeptRefusal
from yibao.store import messages, refusals, signins
from yibao.store.db import Database, Failure, classify, committing, constraint_of, pipelined

PLATFORM_REGION = "110000"
ATTEMPTS_MAX = 2  # a message that collides with concurrent changes runs once more
RETRIED = frozenset({Failure.COLLISION, Failure.DUPLICATE})
# a refusal that a retired psn_no in the message may explain (the number unknown, the
# visit, settlement or credential of "another" person): the message runs once more with
# the numbers that replaced them (docs/identity-upkeep.md); never on the normal path
RENUMBERED = frozenset({"E-PSN-011", "E-PSN-005", "E-VIS-004", "E-SETL-002"})
logger = log.get("yibao.hospital")


class HospitalInterface:
    def __init__(
        self, db: Database, policies: tuple[Policy, ...], *, clock: Clock, ids: Ids,
        transactions: Mapping[str, Transaction],
        unix_clock: UnixClock = time.time,
    ) -> None:
        """``transactions``: infno -> transaction (api/transactions.py ``table()``);
        ``clock`` is the business clock (China time); ``unix_clock`` the machine's, which
        the gateway checks timestamps against."""
        self.db = db
        self.transactions = transactions
        self.policies = policies
        self.clock = clock
        self.ids = ids
        self.gateway = Gateway(db, unix_clock)

    def handle(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any] | FileReply:
        """One message: ``admit`` on the headers, then ``serve`` the body."""
        admitted = self.admit(headers)
        return self.serve(admitted, body) if isinstance(admitted, Pass) else admitted

    def admit(self, headers: Mapping[str, str]) -> Pass | dict[str, Any]:
        """Authenticate from the gateway headers alone (the route calls this before it
        reads a byte of the body): the pass, or the refusal's answer."""
        started = time.perf_counter()
        try:
            return self.gateway.authenticate(headers)
        except Exception as exc:
            result = self.refused(exc, self._stamp())
        self._log(None, result, started)
        return result

    def refuse_unread(self, granted: Pass, refusal: Refused) -> dict[str, Any]:
        """Refuse an authenticated message before its body is read (a declared length
        over the limit): its nonce is recorded all the same."""
        started = time.perf_counter()
        stamp = self._stamp()
        result = self.refused(refusal, stamp)
        self._remember_nonce(granted)
        self._count_refusal(granted, "", refusal, stamp[0])
        self._log(None, result, started)
        return result

    def refuse_path(self, refusal: Refused) -> dict[str, Any]:
        """Refuse a request for its path or method (api/service_paths.py), before it is
        authenticated or its body read."""
        started = time.perf_counter()
        result = self.refused(refusal, self._stamp())
        self._log(None, result, started)
        return result

    def serve(
        self, granted: Pass, body: bytes, *, target: Target = SINGLE, content_type: str = "",
    ) -> dict[str, Any] | FileReply:
        """Parse and run an authenticated message that came to a path admitting
        ``target``'s infnos, its body in the charset ``content_type`` declares. Its nonce
        is recorded whatever the outcome (with the change, or on its own when the message
        is refused, fails or is answered from the store), so the same headers never carry
        another body."""
        started = time.perf_counter()
        parsed: list[env_mod.Envelope] = []
        stamp = self._stamp()
        try:
            result = self._serve(granted, body, parsed, stamp, target, content_type)
        except Exception as exc:
            result = self.refused(exc, stamp)
            self._remember_nonce(granted)
            infno = parsed[0].infno if parsed else ""
            self._count_refusal(granted, infno if infno in self.transactions else "", exc,
                                stamp[0])
        self._log(parsed[0] if parsed else None, result, started)
        return result

    def _stamp(self) -> tuple[datetime, str]:
        """The business time of an answer and its refmsgid."""
        now = self.clock()
        return now, f"{PLATFORM_REGION}{now:%Y%m%d%H%M%S}{self.ids.serial(10)}"

    def refused(
        self, exc: Exception, stamp: tuple[datetime, str] | None = None
    ) -> dict[str, Any]:
        """The envelope answering a refusal, or a failure (logged, called where it was
        caught) as E-SYS-001/002."""
        now, refmsgid = stamp or self._stamp()
        if isinstance(exc, Refused):
            return env_mod.answer(infcode=-1, refmsgid=refmsgid, now=now, err_msg=exc.message)
        if isinstance(exc, DBAPIError):
            return _failure(database_failure_code(exc, refmsgid), refmsgid, now)
        logger.exception("internal_error", refmsgid=refmsgid)
        return _failure("E-SYS-002", refmsgid, now)

    def _serve(
        self, granted: Pass, body: bytes, parsed: list[env_mod.Envelope],
        stamp: tuple[datetime, str], target: Target, content_type: str,
    ) -> dict[str, Any] | FileReply:
        envelope = env_mod.read_envelope(env_mod.parse_body(body, content_type))
        parsed.append(envelope)
        now, refmsgid = stamp
        if not target.admits(envelope.infno):
            raise Refused("E-ENV-009", _path_mismatch(target, envelope.infno))
        tx = self.transactions.get(envelope.infno)
        if tx is None:
            raise Refused("E-ENV-003", f"infno {envelope.infno[:6]}")
        if envelope.fixmedins_code != granted.caller.code:
            raise Refused("E-AUTH-006", envelope.fixmedins_code[:30])
        env_mod.check_msgid(envelope.msgid)
        try:
            try:
                return self._attempt(tx, granted, envelope, now, refmsgid)
            except Refused as refusal:
                renumbered = self._renumbered(envelope, refusal)
                if renumbered is None:
                    raise
                return self._attempt(tx, granted, renumbered, now, refmsgid)
        finally:
            self.gateway.prune_if_due()

    def _renumbered(self, envelope: env_mod.Envelope,
                    refusal: Refused) -> env_mod.Envelope | None:
        """The message with its retired psn_no values replaced by their current numbers,
        if ``refusal`` may come of one (and the message named one); None otherwise."""
        if refusal.code not in RENUMBERED or isinstance(refusal, KeptRefusal):
            return None
        named = person_numbers.numbers_in(envelope.input)
        if not named:
            return None
        with self.db.read() as conn:
            current = person_numbers.current_numbers(conn, named)
        if not current:
            return None
        logger.info("psn_no_mapped", msgid=envelope.msgid, count=len(current))
        return dataclasses.replace(
            envelope, input=person_numbers.renumbered(envelope.input, current))

    def _attempt(
        self, tx: Transaction, granted: Pass, envelope: env_mod.Envelope, now: datetime,
        refmsgid: str,
    ) -> dict[str, Any] | FileReply:
        """Run the message; a unique-key conflict means a reused nonce, a msgid already
        answered (or being answered), or a concurrent change: tell which, or run again. A
        serialization failure or deadlock runs it again too. Any other database error
        (a value the database refuses) is not a collision: it is raised, never retried."""
        for attempt in range(ATTEMPTS_MAX):
            try:
                return self._run(tx, granted, envelope, now, refmsgid)
            except DBAPIError as exc:
                failure = classify(exc)
                if failure is Failure.DUPLICATE:
                    stored = self._after_conflict(tx, granted, envelope)
                    if stored is not None:
                        self._remember_nonce(granted)  # the answer's transaction rolled back
                        return stored
                if failure not in RETRIED or attempt + 1 == ATTEMPTS_MAX:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _after_conflict(
        self, tx: Transaction, granted: Pass, envelope: env_mod.Envelope
    ) -> dict[str, Any] | None:
        with self.db.read() as conn:
            if self.gateway.seen(conn, granted):
                raise Refused("E-AUTH-004")
            if not tx.writes:
                return None
            _check_not_reversed(conn, granted.caller.code, envelope.msgid)
            return _stored_answer(conn, granted.caller.code, envelope)

    def _remember_nonce(self, granted: Pass) -> None:
        """Record the nonce of a message whose own transaction did not (refused, failed,
        answered from the store), so its headers cannot be replayed later."""
        try:
            with self.db.write() as conn:
                self.gateway.record(conn, granted)
        except IntegrityError:
            pass  # already recorded: this was the replay
        except DBAPIError as exc:
            logger.warning("nonce_not_recorded", error=type(exc.orig).__name__)

    def _count_refusal(self, granted: Pass, infno: str, exc: Exception, now: datetime) -> None:
        """Count a refusal of the institution's message (the dashboard's error codes), in
        a transaction of its own; a failure to count is logged and changes no answer."""
        if not isinstance(exc, Refused):
            return
        try:
            with self.db.write() as conn:
                refusals.count(conn, day=now.date(), code=granted.caller.code, infno=infno,
                               refused=exc.code)
        except Exception as failure:  # the answer stands whatever happens here
            logger.warning("refusal_not_counted", error=type(failure).__name__)

    def _run(
        self, tx: Transaction, granted: Pass, envelope: env_mod.Envelope, now: datetime,
        refmsgid: str,
    ) -> dict[str, Any] | FileReply:
        try:
            return self._transact(tx, granted, envelope, now, refmsgid)
        except KeptRefusal as refusal:  # what a refused message keeps, on its own
            with self.db.write() as conn:
                for write in refusal.kept:
                    write(conn)
            raise

    def _transact(
        self, tx: Transaction, granted: Pass, envelope: env_mod.Envelope, now: datetime,
        refmsgid: str,
    ) -> dict[str, Any] | FileReply:
        caller = granted.caller
        with self.db.write() as conn:
            with pipelined(conn):  # BEGIN, the nonce and the msgid: one round trip
                self.gateway.record(conn, granted)
                if tx.writes:
                    _reserve(conn, caller.code, envelope, now)
            if tx.signin:
                _check_signin(conn, caller.code, envelope.sign_no)
            call = Call(
                conn=conn, actor=Actor(ActorKind.INSTITUTION, caller.code, staff=envelope.opter),
                entry=Entry.NATIONAL, now=now, ids=self.ids, policies=self.policies,
                site=caller, ref=envelope.msgid, infno=envelope.infno,
                sign_no=envelope.sign_no if tx.signin else "",
            )
            reply = tx.handler(call, Fields(envelope.input, where="input"))
            if isinstance(reply, FileReply):
                return reply
            answered = reply if isinstance(reply, Answer) else Answer(reply)
            result = env_mod.answer(infcode=0, refmsgid=refmsgid, now=now,
                                    output=answered.output)
            if tx.writes:
                effect = None if answered.effect is None else answered.effect.stored()
                rendered = env_mod.Rendered(result)  # stored, and sent, as this text
                with committing(conn):  # the answer and the COMMIT: one round trip
                    messages.answer(conn, caller.code, envelope.msgid,
                                    response=rendered.text, effect=effect)
                return rendered
            return result

    def _log(
        self, envelope: env_mod.Envelope | None, result: dict[str, Any] | FileReply,
        started: float,
    ) -> None:
        if isinstance(result, FileReply):
            result = {"infcode": 0, "err_msg": ""}
        logger.info(
            "message",
            infno=None if envelope is None else envelope.infno,
            msgid=None if envelope is None else envelope.msgid,
            fixmedins_code=None if envelope is None else envelope.fixmedins_code,
            infcode=result["infcode"],
            err=result["err_msg"][:10],
            ms=round((time.perf_counter() - started) * 1000, 2),
        )


def database_failure_code(exc: DBAPIError, reference: str) -> str:
    """E-SYS-001 (retry later) only when the database is away or the request collided
    with concurrent changes (on every attempt); E-ENV-005 for a number out of its column's
    range; anything else is E-SYS-002 (a row the database refused that the input checks
    should have caught: report ``reference``)."""
    failure = classify(exc)
    if failure in (Failure.COLLISION, Failure.UNAVAILABLE):
        logger.warning("database_unavailable", failure=failure.value,
                       error=type(exc.orig).__name__)
        return "E-SYS-001"
    if failure is Failure.INPUT:  # a number past its column's range: the input's fault
        logger.warning("database_input_refused", error=type(exc.orig).__name__,
                       reference=reference)
        return "E-ENV-005"
    logger.error("database_refused", failure=failure.value, error=type(exc.orig).__name__,
                 constraint=constraint_of(exc), reference=reference)
    return "E-SYS-002"


def _reserve(conn: Connection, code: str, envelope: env_mod.Envelope, now: datetime) -> None:
    """Reserve the msgid before acting: a duplicate (earlier, concurrent, or blocked by a
    2601 reversal) fails on this row with IntegrityError and is answered from the store."""
    messages.reserve(conn, code, envelope.msgid, infno=envelope.infno,
                   body_hash=envelope.body_hash, at=now)


def _stored_answer(
    conn: Connection, code: str, envelope: env_mod.Envelope
) -> dict[str, Any] | None:
    row = messages.stored(conn, code, envelope.msgid)
    if row is None:
        return None
    if row.body_hash != envelope.body_hash:
        raise Refused("E-MSG-002", envelope.msgid)
    answer: dict[str, Any] = env_mod.loads(row.response)
    return answer


def _check_not_reversed(conn: Connection, code: str, msgid: str) -> None:
    if messages.reversed_(conn, code, msgid):
        raise Refused("E-MSG-003", msgid)


def _check_signin(conn: Connection, code: str, sign_no: str) -> None:
    """A sent sign_no must be a live sign-in of the caller. Many HIS send "null" outside
    settlement; the gateway signature already authenticates the institution."""
    if not sign_no:
        return
    found = signins.find(conn, sign_no)
    if found is None or not found.live_for(code):
        raise Refused("E-AUTH-007", f"sign_no {sign_no[:30]}")


def _path_mismatch(target: Target, infno: str) -> str:
    accepted = "/".join(sorted(target.infnos or ()))
    return f"{target.path} takes infno {accepted}, the envelope's infno is {infno[:6]}"


def _failure(code: str, refmsgid: str, now: datetime) -> dict[str, Any]:
    return env_mod.answer(
        infcode=-1, refmsgid=refmsgid, now=now, err_msg=Refused(code, refmsgid).message
    )
