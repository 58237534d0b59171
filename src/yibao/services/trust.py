"""What a channel asserted and what the person was told: real-person attestations (each
recorded with its channel, purpose and time, relied on once), the person's notices
(readable through every channel where the person is active) and the registered payee an
app's claims pay to. The rules are in domain/trust.py; docs/security.md, "Channels"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update
from sqlalchemy.exc import IntegrityError

from yibao.domain import trust as rules
from yibao.domain.errors import Refused
from yibao.domain.paging import Page
from yibao.services import audit
from yibao.services.context import ActorKind, Call
from yibao.store.lean import Lean
from yibao.store.schema import attestation as attestation_table
from yibao.store.schema import payee_account, person, person_notice

ATTESTATIONS_SHOWN = 500


def channel_of(call: Call) -> str:
    """Where what the call tells the person comes from: the calling channel, or the window
    of the operator acting."""
    if call.actor.kind is ActorKind.OPERATOR:
        return f"window:{call.actor.name}"[:30]
    return call.actor.name


def attest(call: Call, psn_no: str, purpose: str, sent: rules.Attestation | None,
           subject: str = "") -> int:
    """Record the calling channel's real-person attestation of the person ``psn_no`` for
    ``purpose`` (refused unless it may be relied on; a reference the channel already used
    is refused too). Its id."""
    assert purpose in rules.PURPOSES, purpose
    checked = rules.check_attestation(sent, call.now)
    assert checked.attested_at is not None
    try:
        with call.conn.begin_nested():
            result = call.conn.execute(insert(attestation_table).values(
                psn_no=psn_no, channel_id=channel_of(call), purpose=purpose,
                subject=subject[:30], method=checked.method, evidence_ref=checked.evidence_ref,
                attested_at=checked.attested_at, recorded_at=call.now))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])
    except IntegrityError as exc:
        raise Refused("E-ECT-012", "this evidence_ref was relied on already: a fresh check "
                      "has a reference of its own") from exc


def attestations_of(conn: Connection, psn_no: str) -> list[dict[str, Any]]:
    """The person's attestations, newest first (for an auditor)."""
    rows = conn.execute(select(attestation_table).where(attestation_table.c.psn_no == psn_no)
                        .order_by(attestation_table.c.id.desc()).limit(ATTESTATIONS_SHOWN))
    return [dict(r, attested_at=r["attested_at"].isoformat(),
                 recorded_at=r["recorded_at"].isoformat()) for r in rows.mappings()]


_NOTICE = Lean(insert(person_notice))  # no id read back: no nextval of its own


def notify(call: Call, psn_no: str, kind: str, detail: str = "") -> None:
    """Tell the person ``psn_no`` what happened (through every channel where they are
    active), naming where it came from."""
    _NOTICE.run(call.conn, dict(psn_no=psn_no, at=call.now, kind=kind,
                                channel_id=channel_of(call), detail=detail[:300]))


def notices_of(conn: Connection, psn_no: str, page: Page) -> list[dict[str, Any]]:
    """A page of the person's notices, newest first (every one can be reached)."""
    rows = conn.execute(select(person_notice.c.at, person_notice.c.kind,
                               person_notice.c.channel_id, person_notice.c.detail)
                        .where(person_notice.c.psn_no == psn_no)
                        .order_by(person_notice.c.id.desc())
                        .limit(page.limit).offset(page.offset))
    return [dict(r, at=r["at"].isoformat(sep=" ")) for r in rows.mappings()]


def enrol_face(call: Call, psn_no: str, cert_id: str, sent: rules.Attestation | None,
               enroll: Callable[[], str]) -> str:
    """Enrol or replace the person's face (``enroll``: the template is sealed, audited, and
    ``face_enrolled`` or ``face_replaced`` returned) on a fresh real-person attestation,
    recorded; the person is told in every channel. The caller checked the PIN."""
    attest(call, psn_no, "face", sent, cert_id)
    kind = enroll()
    notify(call, psn_no, kind, cert_id)
    return kind


# ---------------------------------------------------------------- the registered payee


def register_payee(call: Call, psn_no: str, *, bank_name: str, bank_account: str,
                   account_name: str, sent: rules.Attestation | None) -> dict[str, Any]:
    """Register (or change) the account the person's app claims pay to: in the person's
    own name, with a fresh real-person attestation; audited and notified."""
    conn, channel_id = call.conn, channel_of(call)
    rules.check_bank_account(bank_name, bank_account)
    name = conn.execute(select(person.c.name).where(person.c.psn_no == psn_no)
                        .with_for_update()).scalar_one()  # one change at a time
    rules.check_payee_name(account_name, name)
    attestation_id = attest(call, psn_no, "payee", sent)
    before = current_payee(conn, psn_no)
    if before is not None:
        conn.execute(update(payee_account).where(payee_account.c.id == before["id"])
                     .values(replaced_at=call.now))
    key = conn.execute(insert(payee_account).values(
        psn_no=psn_no, bank_name=bank_name, bank_account=bank_account,
        channel_id=channel_id, attestation_id=attestation_id, set_at=call.now)
    ).inserted_primary_key
    assert key is not None
    payee_id = int(key[0])
    kind = "payee_set" if before is None else "payee_changed"
    detail = f"{bank_name[:60]} {rules.masked(bank_account)}"
    audit.record(conn, kind=kind, psn_no=psn_no, actor=channel_id, at=call.now,
                 detail=f"payee {payee_id}: {detail}")
    notify(call, psn_no, kind, detail)
    return describe_payee(conn, payee_id)


def current_payee(conn: Connection, psn_no: str) -> RowMapping | None:
    return conn.execute(select(payee_account).where(
        payee_account.c.psn_no == psn_no, payee_account.c.replaced_at.is_(None))
        .order_by(payee_account.c.id.desc()).limit(1)).mappings().first()


def payee_for_claim(conn: Connection, psn_no: str, bank_name: str | None,
                    bank_account: str | None) -> RowMapping:
    """The registered payee an app's claim pays to; a payee the claim names must be it."""
    row = current_payee(conn, psn_no)
    if row is None:
        raise Refused("E-ECT-015", "no payee registered: register the account in the "
                      "holder's name first (real-person check)")
    if bank_account is not None and rules.payee_differs(
            bank_name or "", bank_account, row["bank_name"], row["bank_account"]):
        raise Refused("E-ECT-015", f"a claim from an app pays only to the registered payee "
                      f"{rules.masked(row['bank_account'])}")
    return row


def window_payee(conn: Connection, psn_no: str, *, bank_name: str, bank_account: str,
                 account_name: str) -> int | None:
    """An account the window's operator enters for a claim: in the person's own name
    (E-ECT-014); the id of the registered payee when there is one and this account is
    another (the claim records it, its view flags it and its approver confirms it)."""
    name = conn.execute(select(person.c.name).where(person.c.psn_no == psn_no)).scalar()
    if name is None:
        raise Refused("E-PSN-001", "no such person")
    rules.check_payee_name(account_name, name)
    row = current_payee(conn, psn_no)
    if row is None or not rules.payee_differs(bank_name, bank_account, row["bank_name"],
                                              row["bank_account"]):
        return None
    return int(row["id"])


def describe_payee(conn: Connection, payee_id: int) -> dict[str, Any]:
    """A payee as the holder and the operators see it: the account masked, when it was
    set, by which channel, and whether it replaced an earlier one."""
    row = conn.execute(select(payee_account).where(payee_account.c.id == payee_id)
                       ).mappings().one()
    earlier = conn.execute(select(payee_account.c.id).where(
        payee_account.c.psn_no == row["psn_no"], payee_account.c.id < payee_id).limit(1)
    ).first()
    return {"payee_id": payee_id, "bank_name": row["bank_name"],
            "bank_account": rules.masked(row["bank_account"]),
            "set_at": row["set_at"].isoformat(sep=" "), "set_by": row["channel_id"],
            "change": "changed" if earlier is not None else "first",
            "replaced_at": None if row["replaced_at"] is None
            else row["replaced_at"].isoformat(sep=" ")}
