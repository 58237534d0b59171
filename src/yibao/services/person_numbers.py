"""Identity upkeep (人员编号变更, the 2022 notice, docs/identity-upkeep.md): a person's
number changed, two records of one person merged, and the old numbers that keep
answering.

Both run in the caller's one transaction, under the locks of both records taken in
sorted order (like a settlement with mutual aid), so a settlement of either record runs
wholly before or wholly after: its rows move with the others, or it finds the old
number retired and is run again under the new one (api/hospital.py). Every row keyed
by the old number moves (store/person_numbers.py); what two records both hold is
merged by rule: accumulators of the same year and key add up, the two account
balances become one, an insurance type both hold keeps the survivor's. The change is
recorded (psn_no_change), in the identity log and in the operators' log."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from yibao.domain import person_numbers as rules
from yibao.domain.money import fen_to_yuan
from yibao.services import audit
from yibao.services.context import Call
from yibao.services.persons import lock_person
from yibao.store import person_numbers as store
from yibao.store.lean import Row


@dataclass(frozen=True, slots=True)
class Changed:
    """What a renumbering or merge did: the numbers, the rows moved per table and the
    account balance added to the surviving record (fen)."""

    kind: rules.ChangeKind
    old_psn_no: str
    new_psn_no: str
    moved: dict[str, int]
    acct_moved: int

    def answer(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "old_psn_no": self.old_psn_no,
                "new_psn_no": self.new_psn_no, "moved": self.moved,
                "acct_moved": fen_to_yuan(self.acct_moved)}


def renumber(call: Call, psn_no: str, new_psn_no: str, reason: str) -> Changed:
    """Give the person ``psn_no`` the number ``new_psn_no`` (never used before)."""
    new_psn_no = rules.check_number(new_psn_no)
    row = lock_person(call.conn, psn_no)
    why = rules.check_renumber(_record(call.conn, row), new_psn_no,
                               taken=store.taken(call.conn, new_psn_no), reason=reason)
    store.copy_person(call.conn, psn_no, new_psn_no)
    return _finish(call, rules.ChangeKind.RENUMBER, row, new_psn_no, why)


def merge(call: Call, duplicate: str, survivor: str, reason: str) -> Changed:
    """Fold the record ``duplicate`` into ``survivor``: everything of the duplicate
    follows the surviving number, and the duplicate's number and ID number keep
    answering for it."""
    rows = {p: lock_person(call.conn, p) for p in sorted({duplicate, survivor})}
    why = rules.check_merge(_record(call.conn, rows[duplicate]),
                            _record(call.conn, rows[survivor]), reason=reason)
    return _finish(call, rules.ChangeKind.MERGE, rows[duplicate], survivor, why)


def _record(conn: Connection, row: Row) -> rules.Record:
    return rules.Record(row["psn_no"], row["certno"], row["insuplc_admdvs"],
                        store.holding_orders(conn, row["psn_no"]))


def _finish(call: Call, kind: rules.ChangeKind, old: Row, new: str,
            why: str) -> Changed:
    old_no = old["psn_no"]
    moved, balance = store.move_all(call.conn, old_no, new, call.now)
    store.drop_person(call.conn, old_no)
    merged_certno = old["certno"] if kind is rules.ChangeKind.MERGE else ""
    store.record(call.conn, old_psn_no=old_no, new_psn_no=new, kind=kind.value,
                 old_certno=merged_certno, reason=why, actor=call.actor.name, at=call.now,
                 acct_moved=balance, moved=moved)
    changed = Changed(kind, old_no, new, moved, balance)
    detail = f"{kind.value} {old_no} -> {new}; rows {sum(moved.values())}"
    audit.record(call.conn, kind=f"psn_no_{kind.value}", psn_no=new, actor=call.actor.name,
                 at=call.now, detail=detail)
    if call.actor.role:
        audit.action(call, f"persons.{kind.value}", new, old_psn_no=old_no, reason=why,
                     moved=moved, acct_moved=balance)
    return changed


def current_numbers(conn: Connection, numbers: Iterable[str]) -> dict[str, str]:
    """Of ``numbers`` (read from a refused message), the retired ones and the number
    each stands for now. Called only after a refusal: never on the normal path."""
    found = {n: store.current(conn, n) for n in sorted(set(numbers)) if n}
    return {old: new for old, new in found.items() if new is not None}


def history(conn: Connection, psn_no: str) -> list[dict[str, Any]]:
    """The numbers retired into the person's, newest first."""
    return store.history(conn, psn_no)


def renumbered(value: Any, numbers: Mapping[str, str]) -> Any:
    """A national message's input with every ``psn_no`` (and ``relative_psn_no``) that
    ``numbers`` retired replaced by its current number (nothing else changes)."""
    if isinstance(value, dict):
        return {key: numbers.get(item, item) if key in store.PSN_COLUMNS
                and isinstance(item, str) else renumbered(item, numbers)
                for key, item in value.items()}
    if isinstance(value, list):
        return [renumbered(item, numbers) for item in value]
    return value


def numbers_in(value: Any) -> set[str]:
    """Every psn_no a national message's input names."""
    if isinstance(value, dict):
        return {item for key, item in value.items() if key in store.PSN_COLUMNS
                and isinstance(item, str)} | {n for item in value.values()
                                              for n in numbers_in(item)}
    if isinstance(value, list):
        return {n for item in value for n in numbers_in(item)}
    return set()
