"""Social security cards and suspensions, as the bureau manages them.

A card is reported lost (refused at once) or replaced (same card number, a new card_sn;
the old card_sn is remembered so that it is refused with a clear reason). A suspension
stops a person's direct settlement for a period, whatever the credential; manual
reimbursement is not affected.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Exists, RowMapping, bindparam, exists, insert, select, update

from yibao.domain.errors import Refused
from yibao.services import audit, revocation
from yibao.services.context import Call
from yibao.store.lean import Lean
from yibao.store.schema import card, card_history, person, suspension

VALID = "valid"
LOST = "lost"
REASON_LENGTH_MAX = 200
SUSPENSION_DAYS_MAX = 366 * 3


def _card(conn: Connection, card_no: str) -> RowMapping:
    row = conn.execute(select(card).where(card.c.card_no == card_no).with_for_update())
    found = row.mappings().first()
    if found is None:
        raise Refused("E-PSN-007", f"no such card {card_no}")
    return found


def report_lost(call: Call, card_no: str) -> None:
    conn, actor = call.conn, call.actor
    row = _card(conn, card_no)
    if row["status"] == LOST:
        raise Refused("E-PSN-004", f"card already reported lost{_on(row['status_at'])}")
    conn.execute(update(card).where(card.c.card_no == card_no)
                 .values(status=LOST, status_at=call.now))
    audit.record(conn, kind="card_lost", psn_no=row["psn_no"], actor=actor.name, at=call.now)
    revocation.revoke_tokens(conn, row["psn_no"], reason=revocation.CARD_LOST, actor=actor.name,
                             at=call.now)
    audit.action(call, "card.loss", row["psn_no"])


def replace(call: Call, card_no: str, new_card_sn: str) -> None:
    """Issue a new card under the same number: the new card_sn works, the old is refused."""
    conn, actor = call.conn, call.actor
    row = _card(conn, card_no)
    if not new_card_sn or new_card_sn == row["card_sn"]:
        raise Refused("E-ENV-005", "the replacement needs a new card_sn")
    conn.execute(insert(card_history).values(card_no=card_no, card_sn=row["card_sn"],
                                             replaced_at=call.now))
    conn.execute(update(card).where(card.c.card_no == card_no)
                 .values(card_sn=new_card_sn, status=VALID, status_at=call.now))
    audit.record(conn, kind="card_replaced", psn_no=row["psn_no"], actor=actor.name, at=call.now)
    audit.action(call, "card.replace", row["psn_no"])


def _on(moment: datetime | None) -> str:
    return "" if moment is None else f" on {moment:%Y-%m-%d}"


def check_card(conn: Connection, card_no: str, card_sn: str) -> RowMapping:
    """The valid card with this number and serial, or a refusal that says what is wrong."""
    row = conn.execute(select(card).where(card.c.card_no == card_no)).mappings().first()
    if row is not None and row["card_sn"] == card_sn:
        if row["status"] == LOST:
            raise Refused("E-PSN-004", f"card reported lost{_on(row['status_at'])}")
        return row
    if row is not None:
        old = conn.execute(select(card_history.c.replaced_at).where(
            card_history.c.card_no == card_no, card_history.c.card_sn == card_sn)).first()
        if old is not None:
            raise Refused("E-PSN-004", f"card replaced on {old.replaced_at:%Y-%m-%d}; "
                          "use the new card")
    raise Refused("E-PSN-004", "card number and card_sn do not match a card")


def suspend(call: Call, psn_no: str, begin: date, end: date, reason: str) -> int:
    """A new suspension of the person's direct settlement from ``begin`` to ``end``; it
    may not overlap one that is not lifted (E-PSN-010)."""
    conn, actor = call.conn, call.actor
    if end < begin or (end - begin).days > SUSPENSION_DAYS_MAX:
        raise Refused("E-ENV-005", "a suspension ends after it begins, within three years")
    if not reason.strip() or len(reason) > REASON_LENGTH_MAX:
        raise Refused("E-ENV-005", f"a reason of 1..{REASON_LENGTH_MAX} characters is needed")
    _check_no_overlap(conn, psn_no, begin, end)
    result = conn.execute(insert(suspension).values(
        psn_no=psn_no, begin_date=begin, end_date=end, reason=reason.strip(),
        operator=actor.name, created_at=call.now))
    audit.record(conn, kind="suspended", psn_no=psn_no, actor=actor.name, at=call.now,
                 detail=f"{begin}..{end}")
    if begin <= call.now.date() <= end:  # in force: tokens issued before it are revoked
        revocation.revoke_tokens(conn, psn_no, reason=revocation.SUSPENDED, actor=actor.name,
                                 at=call.now)
    key = result.inserted_primary_key
    assert key is not None
    suspension_id = int(key[0])
    audit.action(call, "suspension.create", psn_no, suspension=suspension_id,
                 begin=begin, end=end)
    return suspension_id


def _check_no_overlap(conn: Connection, psn_no: str, begin: date, end: date) -> None:
    row = conn.execute(select(suspension.c.id, suspension.c.begin_date, suspension.c.end_date)
                       .where(suspension.c.psn_no == psn_no, suspension.c.lifted_at.is_(None),
                              suspension.c.begin_date <= end, suspension.c.end_date >= begin)
                       .order_by(suspension.c.begin_date).limit(1)).first()
    if row is not None:
        raise Refused("E-PSN-010", f"suspension {row.id} ({row.begin_date}..{row.end_date}) "
                      "covers some of these days")


def lift(call: Call, suspension_id: int) -> None:
    conn, actor = call.conn, call.actor
    row = conn.execute(select(suspension).where(suspension.c.id == suspension_id)).first()
    if row is None:
        raise Refused("E-PSN-008", f"no suspension {suspension_id}")
    if row.lifted_at is not None:
        raise Refused("E-PSN-009", f"suspension {suspension_id} was lifted already")
    conn.execute(update(suspension).where(suspension.c.id == suspension_id)
                 .values(lifted_at=call.now))
    audit.record(conn, kind="suspension_lifted", psn_no=row.psn_no, actor=actor.name, at=call.now)
    audit.action(call, "suspension.lift", row.psn_no, suspension=suspension_id)


def _in_force(day: Any) -> tuple[Any, ...]:
    return (suspension.c.lifted_at.is_(None), suspension.c.begin_date <= day,
            suspension.c.end_date >= day)


def suspended_on(day: Any) -> Exists:
    """EXISTS(a suspension of the outer query's person in force on ``day``), for folding
    the check into another statement."""
    return exists().where(suspension.c.psn_no == person.c.psn_no, *_in_force(day))


_SUSPENDED = Lean(select(suspension.c.end_date, suspension.c.reason).where(
    suspension.c.psn_no == bindparam("psn_no"), *_in_force(bindparam("day")),
).order_by(suspension.c.end_date.desc()).limit(1))  # on every credential's path: lean


def check_not_suspended(conn: Connection, psn_no: str, day: date) -> None:
    row = _SUSPENDED.first(conn, {"psn_no": psn_no, "day": day})
    if row is not None:
        raise Refused("E-PSN-006", f"until {row['end_date']}: {row['reason']}; "
                      "manual reimbursement remains possible")


# ---------------------------------------------------------------- reading


def holder_of(conn: Connection, card_no: str) -> str | None:
    """The psn_no of the card with this number, whatever its status (None: no such card)."""
    found = conn.execute(select(card.c.psn_no).where(card.c.card_no == card_no)).scalar()
    return None if found is None else str(found)


def of_person(conn: Connection, psn_no: str) -> list[dict[str, Any]]:
    """The person's social security cards: number, current card_sn, status (valid or
    lost) and since when, and the card_sn values each had before a replacement (newest
    first)."""
    rows = conn.execute(select(card).where(card.c.psn_no == psn_no)
                        .order_by(card.c.card_no)).mappings().all()
    earlier: dict[str, list[dict[str, Any]]] = {}
    if rows:
        for old in conn.execute(select(card_history).where(
                card_history.c.card_no.in_([r["card_no"] for r in rows]))
                .order_by(card_history.c.replaced_at.desc())).mappings():
            earlier.setdefault(old["card_no"], []).append(dict(old))
    return [dict(r, replaced=earlier.get(r["card_no"], [])) for r in rows]


def suspensions_of(conn: Connection, psn_no: str, day: date) -> list[dict[str, Any]]:
    """The person's suspensions, newest first, each with its state on ``day``: lifted,
    in_force, planned (begins later) or ended."""
    rows = conn.execute(select(suspension).where(suspension.c.psn_no == psn_no)
                        .order_by(suspension.c.begin_date.desc(), suspension.c.id.desc())
                        ).mappings()
    return [dict(r, state=_state(r, day)) for r in rows]


def _state(row: RowMapping, day: date) -> str:
    if row["lifted_at"] is not None:
        return "lifted"
    if day < row["begin_date"]:
        return "planned"
    return "in_force" if day <= row["end_date"] else "ended"
