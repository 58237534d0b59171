"""The ``account`` aggregate: the personal account's balance and its movements (each
with an ``account_entry``). Each statement is built once, at import."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from yibao.domain.money import Fen
from yibao.store.lean import Lean
from yibao.store.schema import account, account_entry

_BALANCE = Lean(select(account.c.balance).where(account.c.psn_no == bindparam("psn_no")))
_MOVE = Lean(
    update(account)
    .where(account.c.psn_no == bindparam("owner"))
    .values(balance=account.c.balance + bindparam("amount"))
)
_INSERT_ENTRY = Lean(insert(account_entry))


def balance(conn: Connection, psn_no: str) -> Fen:
    """The personal account's balance (0 without an account)."""
    found = _BALANCE.first(conn, {"psn_no": psn_no})
    return int(found["balance"] or 0) if found is not None else 0


def move(conn: Connection, psn_no: str, *, setl_id: str, amount: Fen, balance_after: Fen,
         at: datetime) -> None:
    """Move the account by ``amount`` and record the entry of the settlement (or
    cancellation) ``setl_id`` with the balance it leaves. Nothing read: pipelinable."""
    _MOVE.run(conn, {"owner": psn_no, "amount": amount})
    _INSERT_ENTRY.run(conn, dict(setl_id=setl_id, psn_no=psn_no, amount=amount,
                                     balance_after=balance_after, created_at=at))
