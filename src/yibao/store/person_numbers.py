"""The ``psn_no_change`` aggregate and the moves of identity upkeep: a retired number's
change record, the look-ups of a retired number (or a merged record's ID number), and
the statements that move every row keyed by a psn_no from one record to another.

Which tables hold a psn_no is read from the schema (every column named ``psn_no`` or
``relative_psn_no``), so a table added later follows a changed number without being
listed here; the few where two records' rows may collide are handled first
(``_COLLIDING``), the logs stay as written (``KEPT``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from yibao.domain.orders import OrderStatus
from yibao.domain.person_numbers import ALIAS_HOPS_MAX
from yibao.store.schema import (
    account,
    account_entry,
    accumulator,
    audit_event,
    ecert,
    face_template,
    family_binding,
    insurance,
    ledger_entry,
    metadata,
    online_order,
    payee_account,
    person,
    psn_no_change,
)

# logs keep the number they were written with (the change record links old and new)
KEPT = frozenset({audit_event.name, psn_no_change.name, person.name})
# tables where both records may hold a row of the same key: merged by rule, not moved
_COLLIDING = frozenset({insurance.name, account.name, accumulator.name, face_template.name})
PSN_COLUMNS = ("psn_no", "relative_psn_no")


def _keyed_columns() -> list[Column[Any]]:
    found = [table.c[name] for table in metadata.sorted_tables for name in PSN_COLUMNS
             if name in table.c and table.name not in KEPT | _COLLIDING]
    assert found, "the schema has tables keyed by psn_no"
    return found


MOVED_COLUMNS = _keyed_columns()  # moved by a plain UPDATE, after the collisions
_NEW_OF = select(psn_no_change.c.new_psn_no).where(
    psn_no_change.c.old_psn_no == bindparam("psn_no"))
_NEW_OF_CERTNO = (select(psn_no_change.c.new_psn_no)
                  .where(psn_no_change.c.old_certno == bindparam("certno"))
                  .order_by(psn_no_change.c.at.desc()).limit(1))
_PERSON_EXISTS = select(person.c.psn_no).where(person.c.psn_no == bindparam("psn_no"))
_HOLDING = select(func.count()).select_from(online_order).where(
    online_order.c.psn_no == bindparam("psn_no"), online_order.c.status == OrderStatus.HELD)
_INSERT = insert(psn_no_change)


def current(conn: Connection, psn_no: str) -> str | None:
    """The number a retired ``psn_no`` stands for now (following later changes), or None
    when it never was retired. Asked only after a miss: no person holds ``psn_no``."""
    found = None
    for _ in range(ALIAS_HOPS_MAX):
        new = conn.execute(_NEW_OF, {"psn_no": found or psn_no}).scalar_one_or_none()
        if new is None:
            return found
        found = new
    return found


def current_by_certno(conn: Connection, certno: str) -> str | None:
    """The number a merged duplicate's ID number stands for now, or None."""
    new = conn.execute(_NEW_OF_CERTNO, {"certno": certno}).scalar_one_or_none()
    return None if new is None else current(conn, new) or new


def taken(conn: Connection, psn_no: str) -> bool:
    """A person holds ``psn_no``, or held it once (a retired number is never reused)."""
    return (conn.execute(_PERSON_EXISTS, {"psn_no": psn_no}).first() is not None
            or conn.execute(_NEW_OF, {"psn_no": psn_no}).first() is not None)


def holding_orders(conn: Connection, psn_no: str) -> int:
    return int(conn.execute(_HOLDING, {"psn_no": psn_no}).scalar_one())


def record(conn: Connection, **row: Any) -> None:
    conn.execute(_INSERT, dict(row, moved=json.dumps(row["moved"], sort_keys=True)))


def history(conn: Connection, psn_no: str) -> list[dict[str, Any]]:
    """The numbers retired into ``psn_no``, newest first (what the person's page shows)."""
    rows = conn.execute(select(psn_no_change).where(psn_no_change.c.new_psn_no == psn_no)
                        .order_by(psn_no_change.c.at.desc(), psn_no_change.c.old_psn_no))
    return [dict(r, moved=json.loads(r["moved"])) for r in rows.mappings()]


def copy_person(conn: Connection, old: str, new: str) -> None:
    """A renumbering's new record: the old one's identity under ``new``. The old row
    gives up its ID number first (unique), inside this transaction only: it is deleted
    once everything moved."""
    row = dict(conn.execute(select(person).where(person.c.psn_no == old)).mappings().one())
    conn.execute(update(person).where(person.c.psn_no == old)
                 .values(certno=f"retired:{old}"))
    conn.execute(insert(person).values(dict(row, psn_no=new)))


def drop_person(conn: Connection, psn_no: str) -> None:
    conn.execute(delete(person).where(person.c.psn_no == psn_no))


# ---------------------------------------------------------------- moves


def move_all(conn: Connection, old: str, new: str, at: datetime) -> tuple[dict[str, int], int]:
    """Move every row of ``old`` to ``new``: the rows per table and the account balance
    added to ``new``'s account. Both records are locked by the caller."""
    counts: dict[str, int] = {}
    counts["insurance"] = _merge_insurance(conn, old, new)
    balance = _merge_account(conn, old, new)
    counts["accumulator"] = _merge_accumulators(conn, old, new)
    counts["face_template"] = _merge_face(conn, old, new)
    counts["account_entry"] = _merge_entries(conn, old, new)
    _retire_payee(conn, old, new, at)
    for column in MOVED_COLUMNS:
        moved = conn.execute(update(column.table).where(column == old)
                             .values({column.name: new})).rowcount
        counts[column.table.name] = counts.get(column.table.name, 0) + moved
    counts["family_binding_self"] = _end_self_bindings(conn, new, at)
    counts["ledger_entry"] = _rename_ledger(conn, old, new)
    return {table: n for table, n in counts.items() if n}, balance


def _merge_insurance(conn: Connection, old: str, new: str) -> int:
    """An insurance type only ``old`` has moves; where both have it, the surviving
    record's relationship stands and the duplicate's is dropped."""
    theirs = select(insurance.c.insutype).where(insurance.c.psn_no == new)
    moved = conn.execute(update(insurance).where(
        insurance.c.psn_no == old, insurance.c.insutype.not_in(theirs)).values(
        psn_no=new)).rowcount
    conn.execute(delete(insurance).where(insurance.c.psn_no == old))
    return int(moved)


def _merge_account(conn: Connection, old: str, new: str) -> int:
    """The duplicate's account balance, added to the survivor's (one account)."""
    balance = conn.execute(select(account.c.balance).where(
        account.c.psn_no == old)).scalar_one_or_none()
    if balance is None:
        return 0
    has = conn.execute(select(account.c.psn_no).where(account.c.psn_no == new)).first()
    if has is None:
        conn.execute(update(account).where(account.c.psn_no == old).values(psn_no=new))
        return int(balance)
    conn.execute(update(account).where(account.c.psn_no == new)
                 .values(balance=account.c.balance + balance))
    conn.execute(delete(account).where(account.c.psn_no == old))
    return int(balance)


def _upsert(insert_for: Any) -> Any:
    statement = insert_for(accumulator)
    return statement.on_conflict_do_update(
        index_elements=[c.name for c in accumulator.primary_key.columns],
        set_={"cum": accumulator.c.cum + statement.excluded.cum})


_ADD_ACCUMULATOR = {"sqlite": _upsert(sqlite_insert), "postgresql": _upsert(postgresql_insert)}


def _merge_accumulators(conn: Connection, old: str, new: str) -> int:
    """Accumulators of the same insurance type, period and key add up (their deltas
    move with the settlements, so each still equals the sum of its live deltas)."""
    rows = [dict(r, psn_no=new) for r in conn.execute(
        select(accumulator).where(accumulator.c.psn_no == old)).mappings()]
    if rows:
        conn.execute(_ADD_ACCUMULATOR[conn.dialect.name], rows)
        conn.execute(delete(accumulator).where(accumulator.c.psn_no == old))
    return len(rows)


def _merge_face(conn: Connection, old: str, new: str) -> int:
    """One face template per person: the survivor's stays; the duplicate's moves only
    when the survivor has none."""
    has = conn.execute(select(face_template.c.psn_no).where(
        face_template.c.psn_no == new)).first()
    if has is not None:
        conn.execute(delete(face_template).where(face_template.c.psn_no == old))
        return 0
    return int(conn.execute(update(face_template).where(face_template.c.psn_no == old)
                            .values(psn_no=new)).rowcount)


def _merge_entries(conn: Connection, old: str, new: str) -> int:
    """A settlement that moved both records' accounts (the duplicate paid for the
    survivor by mutual aid): its two entries become one, their amounts added."""
    theirs = account_entry.alias("theirs")
    both = list(conn.execute(select(account_entry.c.setl_id, account_entry.c.amount).where(
        account_entry.c.psn_no == old, exists().where(
            theirs.c.setl_id == account_entry.c.setl_id, theirs.c.psn_no == new))))
    for setl_id, amount in both:
        conn.execute(update(account_entry).where(
            account_entry.c.setl_id == setl_id, account_entry.c.psn_no == new).values(
            amount=account_entry.c.amount + amount))
        conn.execute(delete(account_entry).where(
            account_entry.c.setl_id == setl_id, account_entry.c.psn_no == old))
    return len(both)


def _retire_payee(conn: Connection, old: str, new: str, at: datetime) -> None:
    """One current payee account per person: the survivor's stays current."""
    current = and_(payee_account.c.replaced_at.is_(None))
    has = conn.execute(select(payee_account.c.id).where(
        payee_account.c.psn_no == new, current)).first()
    if has is not None:
        conn.execute(update(payee_account).where(payee_account.c.psn_no == old, current)
                     .values(replaced_at=at))


def _end_self_bindings(conn: Connection, psn_no: str, at: datetime) -> int:
    """A family binding of one record's certificate to the other record binds the
    person to themself now: removed."""
    holder = select(ecert.c.psn_no).where(ecert.c.cert_id == family_binding.c.cert_id)
    return int(conn.execute(update(family_binding).where(
        family_binding.c.relative_psn_no == psn_no,
        family_binding.c.status != "removed",
        holder.scalar_subquery() == psn_no).values(status="removed", removed_at=at)).rowcount)


def _rename_ledger(conn: Connection, old: str, new: str) -> int:
    """The ledger's account of what is owed to the person (``person:<psn_no>``) follows
    the number: its entries are renamed, every posting still sums to zero."""
    return int(conn.execute(update(ledger_entry).where(
        ledger_entry.c.account == literal(f"person:{old}")).values(
        account=f"person:{new}")).rowcount)


def keyed_tables() -> Iterator[str]:
    """Every table holding a psn_no, moved or merged (what the tests check is complete)."""
    yield from sorted({c.table.name for c in MOVED_COLUMNS} | _COLLIDING)
