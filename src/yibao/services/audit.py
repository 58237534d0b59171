"""Two audit logs, never with names, ID numbers, card numbers, accounts, tokens or PINs:
the identity log (every identity event with who and where; the person is named by
psn_no only) and the operators' log (every money-moving or configuration action: who,
under which role, what, on which subject, when), each written in the transaction of the
change it records."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from yibao.services.context import Call
from yibao.store.schema import audit_event, operator_action

_INSERT = insert(audit_event)
_INSERT_ACTION = insert(operator_action)
ACTIONS_MAX = 500  # rows in one page of the operators' log
# the identity events of the person's credentials: cards and electronic certificates
CREDENTIAL_EVENTS = frozenset({"card_lost", "card_replaced", "ecert_activated",
                               "ecert_deactivated", "pin_locked", "pin_reset",
                               "tokens_revoked"})


def record(
    conn: Connection, *, kind: str, psn_no: str | None, actor: str, at: datetime,
    place: str = "", detail: str = "",
) -> None:
    conn.execute(_INSERT, dict(kind=kind, psn_no=psn_no, actor=actor[:60], at=at,
                               place=place[:60], detail=detail[:300]))


def action(call: Call, what: str, subject: str, **detail: Any) -> None:
    """One row of the operators' log: the call's actor, under the role it acts in;
    ``detail`` holds codes, ids and amounts only."""
    actor = call.actor
    assert actor.role, "an operator acts under a role"
    call.conn.execute(_INSERT_ACTION, dict(
        at=call.now, actor=actor.name[:60], role=actor.role[:20], action=what[:40],
        subject=subject[:60], detail=json.dumps(detail, ensure_ascii=False, default=str)))


def events_of(conn: Connection, psn_no: str, *, limit: int,
              kinds: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """The person's identity events, newest first, at most ``limit`` (only those of
    ``kinds`` when given)."""
    query = select(audit_event).where(audit_event.c.psn_no == psn_no)
    if kinds is not None:
        query = query.where(audit_event.c.kind.in_(sorted(kinds)))
    rows = conn.execute(query.order_by(audit_event.c.id.desc()).limit(limit)).mappings()
    return [dict(r, at=r["at"].isoformat()) for r in rows]


def actions(conn: Connection, *, before: int | None = None, limit: int = ACTIONS_MAX,
            actor: str = "", subject: str = "") -> list[dict[str, Any]]:
    """The operators' log, newest first, one page (``before``: the last id of the page
    before), optionally of one actor or one subject."""
    assert 1 <= limit <= ACTIONS_MAX
    query = select(operator_action)
    if before is not None:
        query = query.where(operator_action.c.id < before)
    if actor:
        query = query.where(operator_action.c.actor == actor)
    if subject:
        query = query.where(operator_action.c.subject == subject)
    rows = conn.execute(query.order_by(operator_action.c.id.desc()).limit(limit)).mappings()
    return [dict(r, at=r["at"].isoformat(sep=" "), detail=json.loads(r["detail"]))
            for r in rows]


def roles_of(conn: Connection, subjects: list[str]) -> dict[tuple[str, str], str]:
    """The role each operator acted in on ``subjects``: (actor, moment as
    ``YYYY-MM-DD HH:MM:SS``) → role (a claim's steps name who and when, not the role)."""
    rows = conn.execute(select(operator_action.c.actor, operator_action.c.at,
                               operator_action.c.role).where(
        operator_action.c.subject.in_(subjects)))
    return {(actor, at.isoformat(sep=" ")): role for actor, at, role in rows}
