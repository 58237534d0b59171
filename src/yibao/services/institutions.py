"""Institutions as the operators change them: the networked and prepay flags, each change
audited in its own transaction (docs/security.md, Operators)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from yibao.domain.errors import Refused
from yibao.services import audit
from yibao.services.context import Call
from yibao.store import institutions


def set_flag(call: Call, code: str, flag: str, enabled: bool) -> None:
    """Set ``flag`` (networked, prepay) of the institution ``code``, with its audit rows."""
    if not institutions.set_flag(call.conn, code, flag, enabled):
        raise Refused("E-ADM-001", f"no such institution {code}")
    audit.record(call.conn, kind=flag, psn_no=None, actor=call.actor.name, at=call.now,
                 place=code, detail=str(enabled))
    audit.action(call, f"institution.{flag}", code, enabled=enabled)


def names(conn: Connection, codes: Iterable[str]) -> dict[str, str]:
    """Institution code -> name, for the codes that exist."""
    return institutions.names(conn, codes)
