"""Bureau operators and their credentials (docs/security.md, Operators).

A credential is a random bearer token shown once, when it is created or rotated; the
store keeps its SHA-256 only (the token has 256 bits of entropy, so a plain hash is
enough and fast). A token expires, is revoked, or is replaced by a rotation (the old one
is revoked at once). ``authenticate`` reads the store on every request: no cache, so a
revocation is effective on the next request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from yibao.domain.errors import Refused
from yibao.domain.roles import ADMINISTRATOR, Operator, check_name, check_roles, token_hash
from yibao.services import audit
from yibao.services.context import Actor, ActorKind, Call
from yibao.store.db import Database
from yibao.store.schema import operator, operator_credential

ACTIVE = "active"
DAYS_DEFAULT = 90
DAYS_MAX = 366
TOKEN_PREFIX = "yb_"
TOKEN_LENGTH_MAX = 200
# who administers operators from the command line on the server (``yibao operators``),
# as the operators' log names it
COMMAND_LINE = Actor(ActorKind.OPERATOR, "cli", role=ADMINISTRATOR)
SCHEME = "bearer"


@dataclass(frozen=True, slots=True)
class Issued:
    """A credential just made: the token (shown this once) and when it expires."""

    name: str
    token: str
    expires_at: datetime


def bearer_token(authorization: str) -> str:
    """The token of ``Authorization: Bearer <token>``; anything else is refused."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != SCHEME or not token or len(token) > TOKEN_LENGTH_MAX:
        raise Refused("E-ADM-002", "Authorization: Bearer <token> is required")
    return token


_LIVE = (
    select(operator.c.name, operator.c.roles)
    .join(operator_credential, operator_credential.c.operator == operator.c.name)
    .where(operator.c.status == ACTIVE, operator_credential.c.revoked_at.is_(None))
)


def authenticate(db: Database | Connection, authorization: str, now: datetime) -> Operator:
    """The operator a request's Authorization header names (a live credential of an
    active operator), or E-ADM-002 (401). Plain of FastAPI: a middleware may call it."""
    digest = token_hash(bearer_token(authorization))
    query = _LIVE.where(operator_credential.c.token_hash == digest,
                        operator_credential.c.expires_at > now)
    if isinstance(db, Connection):
        row = db.execute(query).first()
    else:
        with db.read() as conn:
            row = conn.execute(query).first()
    if row is None:
        raise Refused("E-ADM-002", "the token is unknown, expired or revoked")
    return Operator(row.name, now, frozenset(row.roles.split(",")))


def create(call: Call, name: str, roles: list[str], *, days: int = DAYS_DEFAULT,
           token: str | None = None) -> Issued:
    """A new operator with ``roles`` and a first credential valid ``days`` days.
    ``token`` is for the demo's documented tokens only; otherwise a random one."""
    conn, now = call.conn, call.now
    check_name(name)
    chosen = check_roles(roles)
    if _operator(conn, name) is not None:
        raise Refused("E-ADM-006", f"operator {name} exists")
    conn.execute(insert(operator).values(name=name, roles=",".join(sorted(chosen)),
                                         status=ACTIVE, created_at=now))
    issued = _issue(conn, name, now, days, token=token, rotated_from=None)
    audit.action(call, "operator.create", name, roles=sorted(chosen), days=days)
    return issued


def rotate(call: Call, name: str, *, days: int = DAYS_DEFAULT) -> Issued:
    """A new credential; every live one of the operator is revoked at once."""
    conn, now = call.conn, call.now
    _known(conn, name)
    newest = conn.execute(select(operator_credential.c.id).where(
        operator_credential.c.operator == name, operator_credential.c.revoked_at.is_(None))
        .order_by(operator_credential.c.id.desc()).limit(1)).scalar_one_or_none()
    revoked = _revoke_all(conn, name, now)
    issued = _issue(conn, name, now, days, token=None, rotated_from=newest)
    audit.action(call, "operator.rotate", name, revoked=revoked, days=days)
    return issued


def revoke(call: Call, name: str) -> int:
    """Revoke every live credential of the operator; the number revoked."""
    _known(call.conn, name)
    revoked = _revoke_all(call.conn, name, call.now)
    audit.action(call, "operator.revoke", name, revoked=revoked)
    return revoked


def listing(conn: Connection, now: datetime) -> list[dict[str, Any]]:
    """Every operator with roles, status and the live credentials' latest expiry."""
    expiry = select(func.max(operator_credential.c.expires_at)).where(
        operator_credential.c.operator == operator.c.name,
        operator_credential.c.revoked_at.is_(None),
        operator_credential.c.expires_at > now).scalar_subquery()
    rows = conn.execute(select(operator, expiry.label("expires_at"))
                        .order_by(operator.c.name)).mappings()
    return [{"name": r["name"], "roles": r["roles"], "status": r["status"],
             "expires_at": None if r["expires_at"] is None
             else r["expires_at"].isoformat(sep=" ")} for r in rows]


def _issue(conn: Connection, name: str, now: datetime, days: int, *, token: str | None,
           rotated_from: int | None) -> Issued:
    if not 1 <= days <= DAYS_MAX:
        raise Refused("E-ENV-005", f"a credential lasts 1..{DAYS_MAX} days")
    token = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + timedelta(days=days)
    conn.execute(insert(operator_credential).values(
        operator=name, token_hash=token_hash(token), created_at=now, expires_at=expires_at,
        rotated_from=rotated_from))
    return Issued(name, token, expires_at)


def _revoke_all(conn: Connection, name: str, now: datetime) -> int:
    return int(conn.execute(update(operator_credential).where(
        operator_credential.c.operator == name, operator_credential.c.revoked_at.is_(None))
        .values(revoked_at=now)).rowcount)


def _operator(conn: Connection, name: str) -> Any:
    return conn.execute(select(operator.c.name).where(operator.c.name == name)).first()


def _known(conn: Connection, name: str) -> None:
    if _operator(conn, name) is None:
        raise Refused("E-ADM-006", f"no operator {name[:60]}")



def active_roles(conn: Connection, name: str) -> frozenset[str] | None:
    """The roles of the active operator ``name``; None when there is no such operator or
    it is disabled."""
    row = conn.execute(select(operator.c.roles).where(
        operator.c.name == name, operator.c.status == ACTIVE)).first()
    return None if row is None else frozenset(row.roles.split(","))
