"""Persons and their insurance: 1101 person info, 2001 entitlement, credential checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from yibao.domain.codes import age_on
from yibao.domain.errors import Refused
from yibao.services import cards, ecert
from yibao.store import accounts
from yibao.store import person_numbers as retired
from yibao.store.lean import Lean, Row
from yibao.store.schema import insurance, person

# Statements built once: executing a prebuilt statement skips construction and cache-key
# generation (about half the cost of a simple query through SQLAlchemy Core).
_PERSON_QUERY = select(person).where(person.c.psn_no == bindparam("psn_no"))
# on every credential's, visit's and settlement's path: lean statements (store/lean.py)
_PERSON = Lean(_PERSON_QUERY)
_LOCK_PERSON = Lean(_PERSON_QUERY.with_for_update())
_PERSON_BY_CERTNO = Lean(select(person).where(person.c.certno == bindparam("certno")))
_INSURANCE = Lean(select(insurance).where(
    insurance.c.psn_no == bindparam("psn_no"), insurance.c.insutype == bindparam("insutype")
))

CERT_ECERT = "01"
CERT_ID = "02"
CERT_CARD = "03"
CERT_TYPES = frozenset({CERT_ECERT, CERT_ID, CERT_CARD})
INSURED = "1"


@dataclass(frozen=True, slots=True)
class Credential:
    """What the HIS presented. An ecToken (type 01) is only valid for the institution,
    transaction and moment it is presented in, so those travel with it; its ``cert_no`` is
    the token's SHA-256 (``presented`` hashes it), which is all a visit stores."""

    cert_type: str
    cert_no: str
    card_sn: str = ""
    institution: str = ""
    infno: str = ""
    at: datetime | None = None

    @classmethod
    def presented(
        cls, cert_type: str, cert_no: str, card_sn: str, *, institution: str, infno: str,
        at: datetime,
    ) -> Credential:
        """A credential as the HIS sent it: a raw ecToken is replaced by its SHA-256."""
        if cert_type == CERT_ECERT:
            cert_no = ecert.digest(cert_no)
        return cls(cert_type, cert_no, card_sn, institution, infno, at)


def find_by_credential(conn: Connection, cred: Credential, day: date) -> Row:
    """The person a credential names, refusing unknown, lost or replaced cards and persons
    whose direct settlement is suspended on ``day``."""
    row = _resolve(conn, cred)
    cards.check_not_suspended(conn, row["psn_no"], day)
    return row


def _resolve(conn: Connection, cred: Credential) -> Row:
    if cred.cert_type == CERT_ID:
        row = _PERSON_BY_CERTNO.first(conn, {"certno": cred.cert_no})
        if row is None:
            return _merged_by_certno(conn, cred.cert_no)
        return row
    if cred.cert_type == CERT_CARD:
        return _find_by_card(conn, cred)
    assert cred.cert_type == CERT_ECERT and cred.at is not None, cred.cert_type
    psn_no = ecert.token_holder(conn, cred.cert_no, institution=cred.institution,
                                infno=cred.infno, now=cred.at)
    return get_person(conn, psn_no)


def _merged_by_certno(conn: Connection, certno: str) -> Row:
    """After a miss: the person a merged duplicate's ID number stands for now."""
    psn_no = retired.current_by_certno(conn, certno)
    if psn_no is None:
        raise Refused("E-PSN-001", "no insured person has this ID number")
    return get_person(conn, psn_no)


def unknown(conn: Connection, psn_no: str) -> Refused:
    """The refusal of a number no person holds: E-PSN-011 naming the number that
    replaced it (renumbered or merged: docs/identity-upkeep.md), else E-PSN-001. Asked
    only after a miss."""
    new = retired.current(conn, psn_no)
    if new is None:
        return Refused("E-PSN-001", "psn_no unknown")
    return Refused("E-PSN-011", f"psn_no {psn_no} is now {new}")


def _find_by_card(conn: Connection, cred: Credential) -> Row:
    if not cred.card_sn:
        raise Refused("E-ENV-004", "card_sn is required with mdtrt_cert_type 03")
    row = cards.check_card(conn, cred.cert_no, cred.card_sn)
    return get_person(conn, row["psn_no"])


def holds(conn: Connection, cred: Credential, person_row: Row) -> bool:
    """Whether the credential is the person's (an ID number is compared without a query)."""
    if cred.cert_type == CERT_ID:  # a merged duplicate's ID number: looked up on a miss
        return bool(cred.cert_no == person_row["certno"] or retired.current_by_certno(
            conn, cred.cert_no) == person_row["psn_no"])
    return bool(_resolve(conn, cred)["psn_no"] == person_row["psn_no"])


def get_person(conn: Connection, psn_no: str) -> Row:
    row = _PERSON.first(conn, {"psn_no": psn_no})
    if row is None:
        raise unknown(conn, psn_no)
    return row


SEARCH_ROWS_MAX = 20


def search(conn: Connection, text: str) -> list[Row]:
    """The persons an operator's search names: by psn_no, ID number (an x may be lower
    case) or social security card number, exactly; at most SEARCH_ROWS_MAX."""
    wanted = text.strip()
    if not wanted:
        return []
    psn_nos = {wanted} | ({holder} if (holder := cards.holder_of(conn, wanted)) else set())
    query = select(person).where(
        person.c.psn_no.in_(sorted(psn_nos)) | (person.c.certno == wanted.upper())
    ).order_by(person.c.psn_no).limit(SEARCH_ROWS_MAX)
    return list(conn.execute(query).mappings())


def lock_person(conn: Connection, psn_no: str) -> Row:
    """Lock the person's row for the rest of the transaction (serializes settlements)."""
    row = _LOCK_PERSON.first(conn, {"psn_no": psn_no})
    if row is None:
        raise unknown(conn, psn_no)
    return row


def insurances(conn: Connection, psn_no: str) -> list[Row]:
    query = select(insurance).where(insurance.c.psn_no == psn_no).order_by(insurance.c.insutype)
    return list(conn.execute(query).mappings())


def active_insurance(conn: Connection, psn_no: str, insutype: str, day: date) -> Row:
    """The person's insurance of a type, refused unless it is in force on that day."""
    row = _INSURANCE.first(conn, {"psn_no": psn_no, "insutype": insutype})
    return require_insured(row, insutype, day)


def require_insured(row: Row | None, insutype: str, day: date) -> Row:
    """``row`` (with the insurance columns, None or NULL when there is none) if it is in
    force on ``day``; refused otherwise."""
    if row is None or row["psn_insu_stas"] is None:
        raise Refused("E-PSN-003", f"insutype {insutype}")
    if row["psn_insu_stas"] != INSURED:
        since = row["paus_insu_date"] or ""
        raise Refused("E-PSN-002", f"insutype {insutype} status {row['psn_insu_stas']} {since}")
    if row["psn_insu_date"] > day:
        raise Refused("E-PSN-002", f"insured only from {row['psn_insu_date']}")
    return row


def person_info(conn: Connection, cred: Credential, today: date) -> dict[str, Any]:
    """1101: the person, their insurances and account balance."""
    row = find_by_credential(conn, cred, today)
    balance = accounts.balance(conn, row["psn_no"])
    return {
        "person": row,
        "age": age_on(row["brdy"], today),
        "insurances": insurances(conn, row["psn_no"]),
        "balance": balance,
    }
