"""Supervision cases (issue 20): cases, their events, evidence files, verification
requests and conclusions; each query once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select, update

from yibao.store.schema import (
    case_conclusion,
    case_event,
    case_file,
    case_verification,
    clearing_institution,
    clue,
    supervision_case,
)

CASES_SHOWN_MAX = 500
EVENTS_SHOWN_MAX = 1000


def add(conn: Connection, row: Mapping[str, object]) -> None:
    conn.execute(insert(supervision_case).values(**row))


def get(conn: Connection, case_id: str, *, lock: bool = False) -> RowMapping | None:
    query = select(supervision_case).where(supervision_case.c.case_id == case_id)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def listed(conn: Connection, *, status: str | None = None,
           limit: int = CASES_SHOWN_MAX) -> list[RowMapping]:
    """Cases, the newest first (those not concluded before the concluded)."""
    c = supervision_case.c
    query = select(supervision_case)
    if status is not None:
        query = query.where(c.status == status)
    query = query.order_by((c.status == "concluded"), c.opened_at.desc(), c.case_id.desc())
    return list(conn.execute(query.limit(limit)).mappings())


def move(conn: Connection, case_id: str, *, expected: tuple[str, ...],
         values: Mapping[str, object]) -> bool:
    """Change the case if its status is one of ``expected``; False when it was not (a
    concurrent step changed it first)."""
    done = conn.execute(update(supervision_case).where(
        supervision_case.c.case_id == case_id,
        supervision_case.c.status.in_(list(expected))).values(**values))
    return done.rowcount == 1


def clues_of(conn: Connection, case_id: str) -> list[RowMapping]:
    return list(conn.execute(select(clue).where(clue.c.case_id == case_id).order_by(
        clue.c.amount_at_risk.desc(), clue.c.clue_id)).mappings())


def add_event(conn: Connection, row: Mapping[str, object]) -> None:
    conn.execute(insert(case_event).values(**row))


def events(conn: Connection, case_id: str, *, limit: int = EVENTS_SHOWN_MAX
           ) -> list[RowMapping]:
    """The case's steps in the order they happened."""
    return list(conn.execute(select(case_event).where(case_event.c.case_id == case_id)
                             .order_by(case_event.c.event_id).limit(limit)).mappings())


def add_file(conn: Connection, row: Mapping[str, object]) -> None:
    conn.execute(insert(case_file).values(**row))


def file(conn: Connection, case_id: str, file_id: str) -> RowMapping | None:
    return conn.execute(select(case_file).where(
        case_file.c.case_id == case_id, case_file.c.file_id == file_id)).mappings().first()


def files(conn: Connection, case_id: str) -> list[RowMapping]:
    """The case's evidence files (without their content)."""
    f = case_file.c
    return list(conn.execute(select(f.file_id, f.filename, f.size, f.added_by, f.added_at)
                             .where(f.case_id == case_id).order_by(f.added_at, f.file_id))
                .mappings())


def add_verification(conn: Connection, row: Mapping[str, object]) -> None:
    conn.execute(insert(case_verification).values(**row))


def verification(conn: Connection, case_id: str, verification_id: str, *,
                 lock: bool = False) -> RowMapping | None:
    v = case_verification.c
    query = select(case_verification).where(v.case_id == case_id,
                                            v.verification_id == verification_id)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def answer(conn: Connection, verification_id: str, values: Mapping[str, object]) -> bool:
    """Answer a request still asked; False when it was answered meanwhile."""
    v = case_verification.c
    done = conn.execute(update(case_verification).where(
        v.verification_id == verification_id, v.status == "asked").values(**values))
    return done.rowcount == 1


def verifications(conn: Connection, case_id: str) -> list[RowMapping]:
    v = case_verification.c
    return list(conn.execute(select(case_verification).where(v.case_id == case_id)
                             .order_by(v.asked_at, v.verification_id)).mappings())


def waiting(conn: Connection, case_id: str) -> int:
    """How many of the case's requests wait for their answer."""
    v = case_verification.c
    return int(conn.execute(select(func.count()).where(
        v.case_id == case_id, v.status == "asked")).scalar_one())


def add_conclusion(conn: Connection, row: Mapping[str, object]) -> None:
    conn.execute(insert(case_conclusion).values(**row))


def conclusion(conn: Connection, case_id: str) -> RowMapping | None:
    return conn.execute(select(case_conclusion).where(
        case_conclusion.c.case_id == case_id)).mappings().first()


def outstanding_recoveries(conn: Connection, month: str) -> dict[str, int]:
    """Per institution: what cases recovered from it, less what the clearings of every
    other month than ``month`` deducted (what ``month``'s clearing may deduct)."""
    recovered: dict[str, int] = {
        code: int(total) for code, total in conn.execute(select(
            case_conclusion.c.fixmedins_code, func.sum(case_conclusion.c.recovery)).where(
            case_conclusion.c.recovery > 0).group_by(case_conclusion.c.fixmedins_code))}
    if not recovered:
        return {}
    ci = clearing_institution.c
    for code, total in conn.execute(select(ci.fixmedins_code, func.sum(ci.recovered)).where(
            ci.month != month, ci.recovered > 0,
            ci.fixmedins_code.in_(sorted(recovered))).group_by(ci.fixmedins_code)):
        recovered[code] -= int(total)
    return {code: amount for code, amount in recovered.items() if amount > 0}


def recoveries_of(conn: Connection, code: str) -> list[dict[str, Any]]:
    """An institution's recoveries and the months that deducted them (newest first)."""
    ci = clearing_institution.c
    return [dict(r) for r in conn.execute(select(ci.month, ci.recovered).where(
        ci.fixmedins_code == code, ci.recovered > 0).order_by(ci.month.desc())).mappings()]
