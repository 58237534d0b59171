"""The identity audit log: every identity event with who and where, never with names,
ID numbers, card numbers, tokens or PINs (the person is named by psn_no only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert

from yibao.store.schema import audit_event

_INSERT = insert(audit_event)


def record(
    conn: Connection, *, kind: str, psn_no: str | None, actor: str, at: datetime,
    place: str = "", detail: str = "",
) -> None:
    conn.execute(_INSERT, dict(kind=kind, psn_no=psn_no, actor=actor[:60], at=at,
                               place=place[:60], detail=detail[:300]))
