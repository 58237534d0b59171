"""The ``message`` aggregate: each state-changing message of an institution, its msgid
reserved before it acts and answered with the change (and ``reversal``, the msgids a
2601 blocked). Each statement is built once, at import."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from yibao.store.lean import Lean
from yibao.store.schema import message, reversal

_RESERVE = Lean(insert(message))
_ANSWER = Lean(
    update(message)
    .where(message.c.fixmedins_code == bindparam("code"), message.c.msgid == bindparam("id"))
    .values(response=bindparam("answer"), effect=bindparam("did"))
)
_STORED = select(message.c.body_hash, message.c.response).where(
    message.c.fixmedins_code == bindparam("code"), message.c.msgid == bindparam("id"))
_REVERSED = select(reversal.c.omsgid).where(
    reversal.c.fixmedins_code == bindparam("code"), reversal.c.omsgid == bindparam("id"))


@dataclass(frozen=True, slots=True)
class Stored:
    """A reserved message: the hash of its body and its answer (JSON; empty until the
    answer is stored with the change)."""

    body_hash: str
    response: str


def reserve(
    conn: Connection, code: str, msgid: str, *, infno: str, body_hash: str, at: datetime
) -> None:
    """Reserve the msgid before acting: a duplicate (earlier, concurrent, or blocked by a
    2601 reversal) fails on this row with IntegrityError."""
    _RESERVE.run(conn, {
        "fixmedins_code": code, "msgid": msgid, "infno": infno, "body_hash": body_hash,
        "infcode": 0, "response": "", "created_at": at,
    })


def answer(conn: Connection, code: str, msgid: str, *, response: str,
           effect: str | None) -> None:
    """Store the answer of a reserved message (and what a 2601 would reverse)."""
    _ANSWER.run(conn, {"code": code, "id": msgid, "answer": response, "did": effect})


def stored(conn: Connection, code: str, msgid: str) -> Stored | None:
    row = conn.execute(_STORED, {"code": code, "id": msgid}).first()
    return None if row is None else Stored(row.body_hash, row.response)


def reversed_(conn: Connection, code: str, msgid: str) -> bool:
    """Whether a 2601 reversed (and so blocks) this msgid of the institution."""
    return conn.execute(_REVERSED, {"code": code, "id": msgid}).first() is not None
