"""Operators' sessions of the bureau console (docs/console.md, Signing in).

An operator signs in with their name and bearer token (``yibao operators``); the console
then carries a random session cookie, of which the store keeps the SHA-256 only. A session
lasts a working day at most, never beyond its credential, and ends at once when the
operator signs out, is disabled, or the credential is revoked or rotated: every request
reads the store (no cache), as ``operators.authenticate`` does for the bearer token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from yibao.domain.errors import Refused
from yibao.domain.roles import ROLES, Operator, token_hash
from yibao.services import audit, operators
from yibao.services.context import Call
from yibao.store.schema import operator, operator_credential, operator_session

SESSION_HOURS = 8  # a working day
COOKIE_LENGTH_MAX = 100
WRONG = "the name or the token is wrong, or the token expired"


@dataclass(frozen=True, slots=True)
class Opened:
    """A session just opened: the cookie's value (never stored), its forms' token and
    when it ends."""

    cookie: str
    csrf: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Session:
    """A live session: the operator (roles as held now) and the forms' token."""

    operator: Operator
    csrf: str


_CREDENTIAL = (
    select(operator_credential.c.id, operator_credential.c.expires_at, operator.c.roles)
    .join(operator, operator.c.name == operator_credential.c.operator)
    .where(operator.c.status == operators.ACTIVE, operator_credential.c.revoked_at.is_(None))
)

_LIVE = (
    select(operator.c.name, operator.c.roles, operator_session.c.csrf)
    .join(operator, operator.c.name == operator_session.c.operator)
    .join(operator_credential, operator_credential.c.id == operator_session.c.credential)
    .where(operator.c.status == operators.ACTIVE, operator_credential.c.revoked_at.is_(None),
           operator_session.c.closed_at.is_(None))
)


@dataclass(frozen=True, slots=True)
class Credential:
    """The credential an operator signs in with: the operator (acting under the first
    role held, for the operators' log), the credential's id and expiry."""

    operator: Operator
    id: int
    expires_at: datetime


def check_credential(conn: Connection, name: str, token: str, now: datetime) -> Credential:
    """The live credential ``token`` of the active operator ``name``, or E-ADM-002
    (which of the two was wrong is not said)."""
    name, token = name.strip(), token.strip()
    if not token or len(token) > operators.TOKEN_LENGTH_MAX:
        raise Refused("E-ADM-002", WRONG)
    row = conn.execute(_CREDENTIAL.where(
        operator_credential.c.token_hash == token_hash(token),
        operator_credential.c.operator == name,
        operator_credential.c.expires_at > now)).first()
    if row is None:
        raise Refused("E-ADM-002", WRONG)
    held = frozenset(row.roles.split(","))
    first = sorted(held & set(ROLES), key=ROLES.index)[0]
    return Credential(Operator(name, now, held, first), row.id, row.expires_at)


def open_session(call: Call, credential: Credential) -> Opened:
    """A session for the call's operator, signed in with ``credential``; in the
    operators' log."""
    cookie = secrets.token_urlsafe(32)
    opened = Opened(cookie, secrets.token_urlsafe(24),
                    min(call.now + timedelta(hours=SESSION_HOURS), credential.expires_at))
    call.conn.execute(insert(operator_session).values(
        id=token_hash(cookie), operator=call.actor.name, credential=credential.id,
        csrf=opened.csrf, created_at=call.now, expires_at=opened.expires_at))
    audit.action(call, "console.signin", call.actor.name)
    return opened


def live(conn: Connection, cookie: str, now: datetime) -> Session | None:
    """The live session of a cookie, or None (unknown, expired, signed out, its
    credential revoked, its operator disabled)."""
    if not cookie or len(cookie) > COOKIE_LENGTH_MAX:
        return None
    row = conn.execute(_LIVE.where(operator_session.c.id == token_hash(cookie),
                                   operator_session.c.expires_at > now,
                                   operator_credential.c.expires_at > now)).first()
    if row is None:
        return None
    return Session(Operator(row.name, now, frozenset(row.roles.split(","))), row.csrf)


def close(call: Call, cookie: str) -> bool:
    """Sign the call's operator out of the session of ``cookie`` (whether it was live)."""
    closed = call.conn.execute(update(operator_session).where(
        operator_session.c.id == token_hash(cookie), operator_session.c.closed_at.is_(None),
        operator_session.c.operator == call.actor.name).values(closed_at=call.now)).rowcount
    if closed:
        audit.action(call, "console.signout", call.actor.name)
    return bool(closed)
