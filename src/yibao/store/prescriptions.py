"""The electronic-prescription centre's tables (domain/prescriptions.py): practitioners,
signing keys, prescriptions, pharmacies' authorisations, the person's codes, events.
Every query of them lives here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from yibao.store.schema import (
    institution,
    practitioner,
    prescription,
    rx_auth,
    rx_code,
    rx_event,
    rx_signing_key,
)

PAGE_MAX = 100


def practitioner_of(conn: Connection, code: str, prac_code: str) -> RowMapping | None:
    return conn.execute(select(practitioner).where(
        practitioner.c.fixmedins_code == code, practitioner.c.prac_code == prac_code)
    ).mappings().first()


def signing_key(conn: Connection, code: str) -> RowMapping | None:
    return conn.execute(select(rx_signing_key).where(rx_signing_key.c.fixmedins_code == code)
                        ).mappings().first()


def add_signing_key(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(insert(rx_signing_key).values(**values))


def is_online_pharmacy(conn: Connection, code: str) -> bool:
    row = conn.execute(select(institution.c.kind, institution.c.online).where(
        institution.c.fixmedins_code == code)).first()
    return row is not None and row.kind == "pharmacy" and bool(row.online)


def institution_name(conn: Connection, code: str) -> str:
    name = conn.execute(select(institution.c.name).where(
        institution.c.fixmedins_code == code)).scalar_one_or_none()
    return str(name or "")


def add(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(insert(prescription).values(**values))


def get(conn: Connection, hi_rxno: str, *, lock: bool = False) -> RowMapping | None:
    query = select(prescription).where(prescription.c.hi_rxno == hi_rxno)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def by_hosp_rxno(conn: Connection, code: str, hosp_rxno: str) -> RowMapping | None:
    return conn.execute(select(prescription).where(
        prescription.c.fixmedins_code == code, prescription.c.hosp_rxno == hosp_rxno)
    ).mappings().first()


def of_person(conn: Connection, psn_no: str, statuses: tuple[str, ...] = ()) -> list[RowMapping]:
    """The person's prescriptions, newest first (at most PAGE_MAX)."""
    query = select(prescription).where(prescription.c.psn_no == psn_no)
    if statuses:
        query = query.where(prescription.c.status.in_(statuses))
    return list(conn.execute(query.order_by(prescription.c.prsc_time.desc(),
                                            prescription.c.hi_rxno).limit(PAGE_MAX)).mappings())


def change(conn: Connection, hi_rxno: str, values: Mapping[str, Any]) -> None:
    conn.execute(update(prescription).where(prescription.c.hi_rxno == hi_rxno)
                 .values(**values))


def record(conn: Connection, hi_rxno: str, *, at: datetime, infno: str, actor: str,
           status: str, detail: str = "") -> None:
    conn.execute(insert(rx_event).values(hi_rxno=hi_rxno, at=at, infno=infno,
                                         actor=actor[:40], status=status,
                                         detail=detail[:400]))


def events(conn: Connection, hi_rxno: str) -> list[RowMapping]:
    return list(conn.execute(select(rx_event).where(rx_event.c.hi_rxno == hi_rxno)
                             .order_by(rx_event.c.id)).mappings())


def add_auth(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(insert(rx_auth).values(**values))


def auth(conn: Connection, auth_rxno: str) -> RowMapping | None:
    return conn.execute(select(rx_auth).where(rx_auth.c.auth_rxno == auth_rxno)
                        ).mappings().first()


def auth_by_token(conn: Connection, token_hash: str) -> RowMapping | None:
    return conn.execute(select(rx_auth).where(rx_auth.c.epc_token_hash == token_hash)
                        ).mappings().first()


def end_auths(conn: Connection, *, at: datetime, hi_rxno: str = "", batch: str = "",
              keep: str = "") -> None:
    """End the live authorisations of a prescription (or of a 7201 batch), but ``keep``."""
    query = update(rx_auth).where(rx_auth.c.ended_at.is_(None), rx_auth.c.auth_rxno != keep)
    if hi_rxno:
        query = query.where(rx_auth.c.hi_rxno == hi_rxno)
    if batch:
        query = query.where(rx_auth.c.batch == batch)
    conn.execute(query.values(ended_at=at))


def add_code(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(insert(rx_code).values(**values))


def code(conn: Connection, code_hash: str, kind: str) -> RowMapping | None:
    return conn.execute(select(rx_code).where(rx_code.c.code_hash == code_hash,
                                              rx_code.c.kind == kind).with_for_update()
                        ).mappings().first()


def use_code(conn: Connection, code_hash: str, at: datetime) -> bool:
    done = conn.execute(update(rx_code).where(rx_code.c.code_hash == code_hash,
                                              rx_code.c.used_at.is_(None)).values(used_at=at))
    return done.rowcount == 1
