"""Pharmacy purchases: the days each purchased drug line supplies (``drug_supply``), the
family bindings that let a relative's personal account pay (共济), and the personal-account
entries of a settlement. Each statement is built once, at import."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, bindparam, insert, or_, select, update

from yibao.domain.pharmacy import Previous
from yibao.store.schema import (
    account_entry,
    drug_supply,
    ecert,
    family_binding,
    medins_matching,
)

BINDING_ACTIVE = "active"  # services/ecert.py: accepted by the relative, not removed
CERT_ACTIVE = "active"

_INSERT_SUPPLY = insert(drug_supply)
_PREVIOUS = (
    select(drug_supply.c.setl_id, drug_supply.c.begntime, drug_supply.c.days)
    .where(drug_supply.c.psn_no == bindparam("psn_no"),
           drug_supply.c.med_list_codg == bindparam("code"),
           drug_supply.c.cancelled_by.is_(None),
           drug_supply.c.begntime <= bindparam("now"))
    .order_by(drug_supply.c.begntime.desc(), drug_supply.c.setl_id.desc())
    .limit(1)
)
_CANCEL_SUPPLY = (
    update(drug_supply)
    .where(drug_supply.c.setl_id == bindparam("original"), drug_supply.c.cancelled_by.is_(None))
    .values(cancelled_by=bindparam("by"))
)
_BOUND = (
    select(family_binding.c.binding_id)
    .join(ecert, ecert.c.cert_id == family_binding.c.cert_id)
    .where(family_binding.c.status == BINDING_ACTIVE, ecert.c.status == CERT_ACTIVE,
           or_(and_(ecert.c.psn_no == bindparam("a"),
                    family_binding.c.relative_psn_no == bindparam("b")),
               and_(ecert.c.psn_no == bindparam("b"),
                    family_binding.c.relative_psn_no == bindparam("a"))))
    .limit(1)
)
_FAMILY = (
    select(ecert.c.psn_no, family_binding.c.relative_psn_no)
    .join(ecert, ecert.c.cert_id == family_binding.c.cert_id)
    .where(family_binding.c.status == BINDING_ACTIVE, ecert.c.status == CERT_ACTIVE,
           or_(ecert.c.psn_no == bindparam("psn_no"),
               family_binding.c.relative_psn_no == bindparam("psn_no")))
)
_MATCHED = (
    select(medins_matching.c.medins_list_codg, medins_matching.c.med_list_codg)
    .where(medins_matching.c.fixmedins_code == bindparam("code"),
           medins_matching.c.medins_list_codg.in_(bindparam("own", expanding=True)),
           medins_matching.c.vali_flag == "1",
           medins_matching.c.begndate <= bindparam("day"),
           medins_matching.c.enddate >= bindparam("day"))
)
_ENTRIES = (
    select(account_entry.c.psn_no, account_entry.c.amount)
    .where(account_entry.c.setl_id == bindparam("setl_id"))
    .order_by(account_entry.c.psn_no)
)


def record_supplies(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store the supplied days of a settlement's drug lines (``drug_supply`` columns)."""
    if rows:
        conn.execute(_INSERT_SUPPLY, list(rows))


def previous_supply(conn: Connection, psn_no: str, code: str, now: datetime) -> Previous | None:
    """The person's latest supply of ``code`` not withdrawn (begun by ``now``)."""
    row = conn.execute(_PREVIOUS, {"psn_no": psn_no, "code": code, "now": now}).first()
    return None if row is None else Previous(str(row[0]), row[1], int(row[2]))


def withdraw_supplies(conn: Connection, original: str, by: str) -> int:
    """The supplies of settlement ``original`` no longer count: cancelled by ``by``."""
    return int(conn.execute(_CANCEL_SUPPLY, {"original": original, "by": by}).rowcount)


def supplies_of(conn: Connection, setl_id: str) -> list[RowMapping]:
    query = select(drug_supply).where(drug_supply.c.setl_id == setl_id).order_by(
        drug_supply.c.feedetl_sn)
    return list(conn.execute(query).mappings())


def bound_as_family(conn: Connection, a: str, b: str) -> bool:
    """Whether one of the two shows the other's codes through an active family binding
    (requested by the certificate holder, accepted by the relative), either way round."""
    return conn.execute(_BOUND, {"a": a, "b": b}).first() is not None


def family_of(conn: Connection, psn_no: str) -> list[str]:
    """The persons bound with ``psn_no`` as family (``bound_as_family``), sorted."""
    found = {a if b == psn_no else b for a, b in conn.execute(_FAMILY, {"psn_no": psn_no})}
    return sorted(found - {psn_no})


def account_entries(conn: Connection, setl_id: str) -> list[tuple[str, int]]:
    """The (psn_no, amount) of each personal account a settlement moved."""
    return [(str(r[0]), int(r[1])) for r in conn.execute(_ENTRIES, {"setl_id": setl_id})]


def matched_codes(conn: Connection, code: str, own: set[str], day: date
                  ) -> dict[str, set[str]]:
    """The catalogue codes each of the institution's own item codes in ``own`` is matched
    to by matchings in force on ``day`` (3301); codes without one are absent."""
    out: dict[str, set[str]] = {}
    rows = conn.execute(_MATCHED, {"code": code, "own": sorted(own), "day": day})
    for medins_code, list_code in rows:
        out.setdefault(str(medins_code), set()).add(str(list_code))
    return out
