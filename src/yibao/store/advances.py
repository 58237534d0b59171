"""The advance funds between regions and the prepayment proposals: each query once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, RowMapping, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from yibao.domain.errors import Refused
from yibao.store.db import Failure, classify
from yibao.store.schema import (
    advance_interest,
    advance_pair,
    clearing_month,
    clearing_region,
    ledger_entry,
    prepayment_proposal,
    region_advance,
)

PROPOSALS_SHOWN_MAX = 200


def account(insured: str, treatment: str) -> str:
    """The ledger account of the pair's advance fund (domain/ledger.py)."""
    return f"advance:{insured}:{treatment}"


def lock_pair(conn: Connection, insured: str, treatment: str, now: datetime, *,
              create: bool) -> bool:
    """Take the pair's row (creating it first when ``create``) by writing it: every
    change of the pair's fund (an advance, a draw at close, the month's interest) does,
    so that two closes never draw the same balance twice; a transaction reading one
    snapshot that a concurrent change overtook is refused (E-ADV-005). False: the pair
    has no advance fund."""
    if create and not _exists(conn, insured, treatment):
        try:
            with conn.begin_nested():
                conn.execute(insert(advance_pair).values(
                    insured=insured, treatment=treatment, created_at=now))
        except IntegrityError as exc:  # a concurrent first advance of the pair
            if classify(exc) is not Failure.DUPLICATE:
                raise
    try:
        with conn.begin_nested():
            taken = conn.execute(update(advance_pair).where(
                advance_pair.c.insured == insured, advance_pair.c.treatment == treatment)
                .values(changes=advance_pair.c.changes + 1)).rowcount
    except OperationalError as exc:
        if classify(exc) is not Failure.COLLISION:
            raise
        raise Refused("E-ADV-005", f"the advance fund {insured} → {treatment} changed "
                      "meanwhile") from exc
    return bool(taken)


def _exists(conn: Connection, insured: str, treatment: str) -> bool:
    return conn.execute(select(advance_pair.c.insured).where(
        advance_pair.c.insured == insured,
        advance_pair.c.treatment == treatment)).first() is not None


def pairs(conn: Connection) -> list[tuple[str, str]]:
    return [(r.insured, r.treatment) for r in conn.execute(
        select(advance_pair.c.insured, advance_pair.c.treatment).order_by(
            advance_pair.c.insured, advance_pair.c.treatment))]


def add(conn: Connection, row: Mapping[str, object]) -> None:
    conn.execute(insert(region_advance).values(**row))


def balance(conn: Connection, insured: str, treatment: str,
            before: datetime | None = None) -> int:
    """The fund's balance (fen), by the ledger; ``before``: as of that moment."""
    query = select(func.coalesce(func.sum(ledger_entry.c.amount), 0)).where(
        ledger_entry.c.account == account(insured, treatment))
    if before is not None:
        query = query.where(ledger_entry.c.at < before)
    return int(conn.execute(query).scalar_one())


def moves(conn: Connection, insured: str, treatment: str, begin: datetime,
          end: datetime) -> list[tuple[datetime, int]]:
    """The fund's entries in [begin, end): when and how much."""
    return [(r.at, int(r.amount)) for r in conn.execute(select(
        ledger_entry.c.at, ledger_entry.c.amount).where(
        ledger_entry.c.account == account(insured, treatment), ledger_entry.c.at >= begin,
        ledger_entry.c.at < end))]


def recent_amounts(conn: Connection, insured: str, treatment: str, months: int) -> list[int]:
    """What the insured place owed the treatment place in each of the last ``months``
    closed months (0 for a closed month without care between them)."""
    closed = [m for (m,) in conn.execute(select(clearing_month.c.month).where(
        clearing_month.c.status == "closed").order_by(
        clearing_month.c.month.desc()).limit(months))]
    owed = {r.month: int(r.amount) for r in conn.execute(select(
        clearing_region.c.month, clearing_region.c.amount).where(
        clearing_region.c.insured == insured, clearing_region.c.treatment == treatment,
        clearing_region.c.month.in_(closed)))}
    return [owed.get(m, 0) for m in closed]


def region_rows(conn: Connection, month: str) -> list[RowMapping]:
    return list(conn.execute(select(clearing_region).where(
        clearing_region.c.month == month).order_by(
        clearing_region.c.insured, clearing_region.c.treatment)).mappings())


def set_draw(conn: Connection, month: str, insured: str, treatment: str, before: int,
             drawn: int) -> None:
    conn.execute(update(clearing_region).where(
        clearing_region.c.month == month, clearing_region.c.insured == insured,
        clearing_region.c.treatment == treatment).values(advance_before=before, drawn=drawn))


def add_interest(conn: Connection, row: Mapping[str, object]) -> None:
    conn.execute(insert(advance_interest).values(**row))


def interest_of(conn: Connection, month: str) -> list[RowMapping]:
    return list(conn.execute(select(advance_interest).where(
        advance_interest.c.month == month)).mappings())


def advances(conn: Connection, *, limit: int = PROPOSALS_SHOWN_MAX) -> list[RowMapping]:
    """The advances recorded, newest first."""
    return list(conn.execute(select(region_advance).order_by(
        region_advance.c.created_at.desc(), region_advance.c.advance_id.desc()).limit(
        limit)).mappings())


# ---------------------------------------------------------------- prepayment by need


def propose(conn: Connection, row: Mapping[str, object]) -> int:
    key = conn.execute(insert(prepayment_proposal).values(**row)).inserted_primary_key
    assert key is not None
    return int(key[0])


def proposal(conn: Connection, proposal_id: int, *, lock: bool = False) -> RowMapping | None:
    query = select(prepayment_proposal).where(prepayment_proposal.c.proposal_id == proposal_id)
    return conn.execute(query.with_for_update() if lock else query).mappings().first()


def decide(conn: Connection, proposal_id: int, values: Mapping[str, object]) -> None:
    conn.execute(update(prepayment_proposal).where(
        prepayment_proposal.c.proposal_id == proposal_id).values(**values))


def proposals(conn: Connection, *, limit: int = PROPOSALS_SHOWN_MAX) -> list[RowMapping]:
    """The proposals, open ones first, then newest first."""
    p = prepayment_proposal.c
    return list(conn.execute(select(prepayment_proposal).order_by(
        (p.status != "proposed"), p.proposal_id.desc()).limit(limit)).mappings())


def approved_by_code(conn: Connection, month: str) -> dict[str, int]:
    """What was prepaid by need to each institution, netted off in ``month``."""
    p = prepayment_proposal.c
    return {r.fixmedins_code: int(r.total) for r in conn.execute(select(
        p.fixmedins_code, func.sum(p.amount).label("total")).where(
        p.month == month, p.status == "approved").group_by(p.fixmedins_code))}


def approved_of(conn: Connection, month: str) -> list[RowMapping]:
    return list(conn.execute(select(prepayment_proposal).where(
        prepayment_proposal.c.month == month,
        prepayment_proposal.c.status == "approved")).mappings())


def approved_total(conn: Connection, month: str) -> int:
    return sum(approved_by_code(conn, month).values())
