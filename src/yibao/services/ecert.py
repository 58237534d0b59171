"""The medical insurance electronic certificate (医保电子凭证).

Activation in a certified channel: real-name check (name + ID number of a person insured
at the chosen place), real-person check (the channel's attestation: a listed method, its
reference, a recent time; recorded), a 6-digit PIN kept as a scrypt hash; a channel
activated while the person is active in another starts with a first period. Family
bindings wait for the relative's own acceptance (a minor child's for an operator's
confirmation of the guardianship, ``confirm_guardianship``); their QR codes and tokens die
with them. What a channel may assert: docs/security.md, "Channels".
The app shows a dynamic QR code: 32 random bytes (URL-safe text, nothing about the
person in it), valid 60 seconds, usable once, stored only as its SHA-256.
The hospital scans it (1162) and gets an ecToken: 32 random bytes, valid 30 minutes,
bound to that institution and one business type, stored only as its SHA-256; 1101 and
the settlement transactions accept it as ``mdtrt_cert_type`` 01. Design: docs/ecert.md.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, func, insert, select, update

from yibao.domain import trust as rules
from yibao.domain.errors import Refused
from yibao.domain.text import is_digits
from yibao.services import audit, cards, revocation, trust
from yibao.services.context import Call
from yibao.store.schema import (
    card,
    ec_token,
    ecert,
    family_binding,
    insurance,
    person,
    qr_code,
)

QR_SECONDS = 60
TOKEN_MINUTES = 30
PIN_FAILURES_MAX = 5
PIN_LENGTH = 6
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
ACTIVE = "active"
PENDING = "pending"  # a family binding the relative (an operator, for a minor) has not
# accepted yet
GUARDIANSHIP = "guardianship"  # consent_method of a minor's binding an operator confirmed
REMOVED = "removed"

# businessType of 1162 -> the transactions an ecToken of that type may be used for
BUSINESS_TYPES: dict[str, tuple[str, frozenset[str]]] = {
    "01101": ("门诊挂号", frozenset({"2201", "6201", "7101"})),
    "01102": ("门诊结算", frozenset({"2206", "2207", "6201", "7101"})),
    "01201": ("入院登记", frozenset({"2401"})),
    "01202": ("住院结算", frozenset({"2303", "2304"})),
    "02101": ("药店购药", frozenset({"2101", "2102", "2103", "2201", "2206", "2207", "6201",
                                    "7201", "7206"})),
}
ANY_BUSINESS = frozenset({"1101", "2001"})  # identity look-ups accept every business type


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    derived = hashlib.scrypt(pin.encode(), salt=salt, **SCRYPT)
    return f"scrypt${salt.hex()}${derived.hex()}"


def pin_matches(pin: str, stored: str) -> bool:
    _, salt, _ = stored.split("$")
    return hmac.compare_digest(hash_pin(pin, bytes.fromhex(salt)), stored)


def check_pin_format(pin: str) -> None:
    """Bad input, not a wrong PIN: refused (400) before any PIN is compared or counted."""
    if len(pin) != PIN_LENGTH or not is_digits(pin):
        raise Refused("E-ECT-025", f"the PIN sent has {len(pin)} characters, not "
                      f"{PIN_LENGTH} digits 0-9")


def activate(
    call: Call, *, insured_place: str, name: str, certno: str,
    real_person: rules.Attestation | None, pin: str,
) -> str:
    """Real-name and real-person checks, then a certificate for the calling channel.
    Active in another channel already: the person is told in every channel, and this one
    starts with its first period (``rules.PROBATION``)."""
    conn, channel_id = call.conn, call.actor.name
    rules.check_attestation(real_person, call.now)
    check_pin_format(pin)
    found = _real_name(conn, name, certno, insured_place)
    elsewhere = sorted(conn.execute(select(ecert.c.channel_id).where(
        ecert.c.psn_no == found["psn_no"], ecert.c.status == ACTIVE)).scalars())
    if channel_id in elsewhere:
        raise Refused("E-ECT-002", "already active in this channel")
    until = rules.probation_end(call.now, bool(elsewhere))
    cert_id = call.ids.new("EC")
    conn.execute(insert(ecert).values(
        cert_id=cert_id, psn_no=found["psn_no"], channel_id=channel_id, status=ACTIVE,
        pin_hash=hash_pin(pin), created_at=call.now, probation_until=until))
    trust.attest(call, found["psn_no"], "activation", real_person, cert_id)
    audit.record(conn, kind="ecert_activated", psn_no=found["psn_no"], actor=channel_id,
                 at=call.now, detail=cert_id)
    if until is None:
        trust.notify(call, found["psn_no"], "activated")
    else:
        trust.notify(call, found["psn_no"], "activated_in_new_channel", f"active also in "
                     f"{', '.join(elsewhere)}; first period until {until:%Y-%m-%d %H:%M:%S}")
    return cert_id


def _real_name(conn: Connection, name: str, certno: str, insured_place: str) -> RowMapping:
    """The person insured at ``insured_place`` with this name and ID number, insurance in
    force; locked, so that two channels activating at once see each other."""
    found = conn.execute(select(person).where(person.c.certno == certno)
                         .with_for_update()).mappings().first()
    if found is None or found["name"] != name or found["insuplc_admdvs"] != insured_place:
        raise Refused("E-ECT-001", "no insured person of that place with this name and ID")
    insured = conn.execute(select(insurance.c.psn_insu_stas).where(
        insurance.c.psn_no == found["psn_no"], insurance.c.psn_insu_stas == "1")).first()
    if insured is None:
        raise Refused("E-PSN-002", "no insurance in force")
    return found


def certificate(call: Call, cert_id: str) -> RowMapping:
    """The calling channel's active certificate ``cert_id``, locked."""
    conn, channel_id = call.conn, call.actor.name
    row = conn.execute(select(ecert).where(ecert.c.cert_id == cert_id).with_for_update())
    found = row.mappings().first()
    if found is None or found["channel_id"] != channel_id or found["status"] != ACTIVE:
        raise Refused("E-ECT-003", "no active certificate with this id in this channel")
    return found


def _unlock_how(cert_id: str) -> str:
    return (f"until its PIN is reset with a real-person check (POST /channel/v1/certificates/"
            f"{cert_id}/pin)")


def _verify_pin(call: Call, cert: RowMapping, pin: str) -> Refused | None:
    """Check the PIN: None when it matched, else the refusal to answer once the failure
    is committed (the caller refuses after its transaction): a wrong PIN says how many
    attempts are left (E-ECT-005); the fifth in a row locks the certificate and says so,
    and how to unlock it (E-ECT-004). A locked certificate, or a PIN that is not 6 digits,
    is refused at once and counts nothing."""
    if cert["locked_at"] is not None:
        raise Refused("E-ECT-004", f"locked since {cert['locked_at']:%Y-%m-%d %H:%M} after "
                      f"{PIN_FAILURES_MAX} wrong PINs, {_unlock_how(cert['cert_id'])}")
    check_pin_format(pin)
    conn, actor = call.conn, call.actor.name
    if pin_matches(pin, cert["pin_hash"]):
        if cert["pin_failures"]:
            conn.execute(update(ecert).where(ecert.c.cert_id == cert["cert_id"])
                         .values(pin_failures=0))
        return None
    failures = cert["pin_failures"] + 1
    left = PIN_FAILURES_MAX - failures
    conn.execute(update(ecert).where(ecert.c.cert_id == cert["cert_id"])
                 .values(pin_failures=failures, locked_at=call.now if left <= 0 else None))
    if left > 0:
        return Refused("E-ECT-005", f"wrong PIN, {left} attempt{'s' if left > 1 else ''} "
                       "left before the certificate is locked")
    audit.record(conn, kind="pin_locked", psn_no=cert["psn_no"], actor=actor,
                 at=call.now, detail=cert["cert_id"])
    revocation.revoke_certificate_tokens(conn, cert["cert_id"], reason=revocation.PIN_LOCKED,
                                         actor=actor, at=call.now)
    return Refused("E-ECT-004", f"wrong PIN, the {PIN_FAILURES_MAX}th in a row: now locked "
                   f"{_unlock_how(cert['cert_id'])}")


def holder_by_pin(call: Call, cert_id: str, pin: str, *,
                  settled: bool = True) -> str | Refused:
    """The psn_no of the certificate's holder, or the refusal of a wrong PIN (the failure
    is recorded: the caller answers it after its transaction commits). ``settled``:
    refused while the certificate is in its first period (E-ECT-013)."""
    cert = certificate(call, cert_id)
    wrong = _verify_pin(call, cert, pin)
    if wrong is not None:
        return wrong
    if settled:
        rules.check_settled(cert["probation_until"], call.now)
    return str(cert["psn_no"])


def settled_certificate(call: Call, cert_id: str) -> RowMapping:
    """The active certificate, out of its first period (E-ECT-013)."""
    cert = certificate(call, cert_id)
    rules.check_settled(cert["probation_until"], call.now)
    return cert


def issue_qr(call: Call, cert_id: str, pin: str, binding_id: str = "") -> str | Refused:
    """A fresh dynamic QR code for the holder, or for a bound relative; the refusal to
    answer when the holder's PIN was wrong (the failure is recorded)."""
    conn = call.conn
    cert = certificate(call, cert_id)
    wrong = _verify_pin(call, cert, pin)
    if wrong is not None:
        return wrong  # before anything about the binding is revealed
    psn_no = cert["psn_no"]
    if binding_id:
        psn_no = _binding(conn, cert_id, binding_id)["relative_psn_no"]
    cards.check_not_suspended(conn, psn_no, call.now.date())
    code = "YB1" + secrets.token_urlsafe(32)
    conn.execute(insert(qr_code).values(
        code_hash=digest(code), cert_id=cert_id, psn_no=psn_no,
        expires_at=call.now + timedelta(seconds=QR_SECONDS), binding_id=binding_id or None))
    audit.record(conn, kind="qr_issued", psn_no=psn_no, actor=call.actor.name, at=call.now,
                 detail=binding_id)
    return code


def bind_relative(
    call: Call, cert_id: str, *, name: str, certno: str, relation: str,
    real_person: rules.Attestation | None,
) -> tuple[str, str]:
    """Ask to show a relative's codes: (binding_id, ``PENDING``). The relative accepts
    from their own certificate (``accept_binding``); a minor child's binding is confirmed
    by an operator who saw the guardianship (``confirm_guardianship``), the holder's own
    attestation recorded with the request. Requests are limited (E-ECT-023)."""
    if relation not in rules.RELATIONS:
        raise Refused("E-ENV-007", f"relation must be one of {sorted(rules.RELATIONS)}")
    conn = call.conn
    cert = settled_certificate(call, cert_id)
    relative = conn.execute(select(person).where(person.c.certno == certno)).mappings().first()
    if relative is None or relative["name"] != name:
        raise Refused("E-ECT-001", "no insured person with this name and ID")
    if relative["psn_no"] == cert["psn_no"]:
        raise Refused("E-ECT-011", "a person cannot bind themselves")
    holder, relative = _lock_pair(conn, cert["psn_no"], relative["psn_no"])  # counted once
    today = call.now.date()
    rules.check_relation(relation, holder["brdy"], relative["brdy"], today)
    _check_new_binding(conn, call.now, holder["psn_no"], relative["psn_no"])
    binding_id = call.ids.new("FB")
    minor = rules.needs_guardianship(relation, relative["brdy"], today)
    if minor:
        rules.check_guardians_room(_guardians(conn, relative["psn_no"]))
        trust.attest(call, holder["psn_no"], "family_consent", real_person, binding_id)
    conn.execute(insert(family_binding).values(
        binding_id=binding_id, cert_id=cert_id, relative_psn_no=relative["psn_no"],
        relation=relation, consent_method="", status=PENDING, created_at=call.now))
    audit.record(conn, kind="family_requested", psn_no=relative["psn_no"],
                 actor=call.actor.name, at=call.now, detail=f"{binding_id} {cert_id} {relation}")
    how = "an operator confirms the guardianship" if minor else "accept it in your app"
    trust.notify(call, relative["psn_no"], "family_requested",
                 f"{binding_id}: {holder['name'][:1]}* asks to show your codes as {relation}; "
                 f"{how}")
    return binding_id, PENDING


def _lock_pair(conn: Connection, first: str, second: str) -> tuple[RowMapping, RowMapping]:
    """Both persons' rows, locked in psn_no order (two requests between the same two
    people, in either direction, wait for each other instead of deadlocking)."""
    rows = {r["psn_no"]: r for r in conn.execute(
        select(person).where(person.c.psn_no.in_((first, second)))
        .order_by(person.c.psn_no).with_for_update()).mappings()}
    return rows[first], rows[second]


def _guardians(conn: Connection, relative: str) -> int:
    """How many holders have an active binding of ``relative`` on an active certificate
    (a deactivated certificate shows no codes)."""
    return _count(conn, select(func.count(func.distinct(ecert.c.psn_no))).select_from(
        family_binding.join(ecert, ecert.c.cert_id == family_binding.c.cert_id)).where(
        family_binding.c.relative_psn_no == relative, family_binding.c.status == ACTIVE,
        ecert.c.status == ACTIVE))


def _check_new_binding(conn: Connection, now: datetime, holder: str, relative: str) -> None:
    """No second binding of the same relative, room for one more (E-ECT-017/018), and not
    too many requests to this relative (E-ECT-023)."""
    by_holder = family_binding.join(ecert, ecert.c.cert_id == family_binding.c.cert_id)
    live = select(family_binding.c.relative_psn_no).select_from(by_holder).where(
        ecert.c.psn_no == holder, family_binding.c.status.in_((ACTIVE, PENDING))).subquery()
    if conn.execute(select(live).where(live.c.relative_psn_no == relative)).first():
        raise Refused("E-ECT-017", "this relative is bound or requested already")
    rules.check_bindings_room(conn.execute(select(func.count()).select_from(live)).scalar_one())
    to_relative = family_binding.c.relative_psn_no == relative
    rules.check_request_rate(
        _count(conn, select(func.count()).select_from(by_holder).where(
            to_relative, ecert.c.psn_no == holder,
            family_binding.c.created_at > now - rules.REQUESTS_BY_HOLDER_WINDOW)),
        _count(conn, select(func.count()).select_from(family_binding).where(
            to_relative,
            family_binding.c.created_at > now - rules.REQUESTS_TO_RELATIVE_WINDOW)))


def _count(conn: Connection, query: Select[Any]) -> int:
    return int(conn.execute(query).scalar_one())


def confirm_guardianship(call: Call, binding_id: str, reason: str) -> str:
    """An operator (clerk) saw the household register or birth certificate: the pending
    binding of a minor child becomes active (at most ``rules.GUARDIANS_MAX`` holders);
    recorded in the operators' log with the reason, the holder and the child told. The
    child's psn_no."""
    conn = call.conn
    row = conn.execute(select(family_binding).where(
        family_binding.c.binding_id == binding_id).with_for_update()).mappings().first()
    if row is None:
        raise Refused("E-ECT-021", "no family binding with this id")
    holder = _holder_of(conn, row["cert_id"])
    _, child = _lock_pair(conn, holder, row["relative_psn_no"])
    if row["status"] != PENDING or not rules.needs_guardianship(
            row["relation"], child["brdy"], call.now.date()):
        raise Refused("E-ECT-024", f"binding {binding_id} is {row['status']}, relation "
                      f"{row['relation']}: not a minor child's pending request")
    rules.check_guardians_room(_guardians(conn, child["psn_no"]))
    conn.execute(update(family_binding).where(family_binding.c.binding_id == binding_id)
                 .values(status=ACTIVE, accepted_at=call.now, consent_method=GUARDIANSHIP))
    audit.record(conn, kind="family_guardianship", psn_no=child["psn_no"],
                 actor=call.actor.name, at=call.now, detail=f"{binding_id} {row['cert_id']}")
    audit.action(call, "family.guardianship", child["psn_no"], binding=binding_id,
                 cert=row["cert_id"], reason=reason.strip()[:200])
    for who in (child["psn_no"], holder):
        trust.notify(call, who, "family_accepted",
                     f"{binding_id} ({row['relation']}): guardianship confirmed at a window")
    return str(child["psn_no"])


def accept_binding(call: Call, psn_no: str, binding_id: str,
                   real_person: rules.Attestation | None) -> None:
    """The relative (``psn_no``, signed in with their own PIN) accepts a pending request
    addressed to them, with a fresh real-person attestation of their consent."""
    conn = call.conn
    row = conn.execute(select(family_binding).where(
        family_binding.c.binding_id == binding_id).with_for_update()).mappings().first()
    if row is None or row["relative_psn_no"] != psn_no or row["status"] != PENDING:
        raise Refused("E-ECT-019", "no pending family request with this id for this person")
    birth = conn.execute(select(person.c.brdy).where(person.c.psn_no == psn_no)).scalar_one()
    if rules.needs_guardianship(row["relation"], birth, call.now.date()):
        raise Refused("E-ECT-019", "a minor child's binding is confirmed at a service window "
                      "(guardianship), not accepted from an app")
    trust.attest(call, psn_no, "family_consent", real_person, binding_id)
    assert real_person is not None  # attest refuses a missing one
    conn.execute(update(family_binding).where(family_binding.c.binding_id == binding_id)
                 .values(status=ACTIVE, accepted_at=call.now, consent_method=real_person.method))
    holder = _holder_of(conn, row["cert_id"])
    audit.record(conn, kind="family_accepted", psn_no=psn_no, actor=call.actor.name,
                 at=call.now, detail=f"{binding_id} {row['cert_id']}")
    for who in (psn_no, holder):
        trust.notify(call, who, "family_accepted", f"{binding_id} ({row['relation']})")


def _holder_of(conn: Connection, cert_id: str) -> str:
    return str(conn.execute(select(ecert.c.psn_no).where(ecert.c.cert_id == cert_id))
               .scalar_one())


def unbind_relative(call: Call, cert_id: str, binding_id: str) -> None:
    """The holder removes a binding (active or still pending)."""
    cert = certificate(call, cert_id)
    row = _live_binding(call.conn, binding_id)
    if row is None or row["cert_id"] != cert_id:
        raise Refused("E-ECT-021", "no family binding with this id on this certificate")
    _end_binding(call, row, cert["psn_no"])


def withdraw_binding(call: Call, psn_no: str, binding_id: str) -> None:
    """The relative (``psn_no``, signed in with their own PIN) declines a request or
    withdraws the consent they gave."""
    row = _live_binding(call.conn, binding_id)
    if row is None or row["relative_psn_no"] != psn_no:
        raise Refused("E-ECT-019", "no family binding with this id for this person")
    _end_binding(call, row, _holder_of(call.conn, row["cert_id"]))


def _live_binding(conn: Connection, binding_id: str) -> RowMapping | None:
    return conn.execute(select(family_binding).where(
        family_binding.c.binding_id == binding_id,
        family_binding.c.status.in_((ACTIVE, PENDING))).with_for_update()).mappings().first()


def _end_binding(call: Call, row: RowMapping, holder: str) -> None:
    """Every QR code issued through the binding is refused from now on (``scan``), and
    every token is revoked."""
    conn, actor, binding_id = call.conn, call.actor.name, row["binding_id"]
    conn.execute(update(family_binding).where(family_binding.c.binding_id == binding_id)
                 .values(status=REMOVED, removed_at=call.now))
    revocation.revoke_certificate_tokens(conn, row["cert_id"], reason=revocation.BINDING_ENDED,
                                         actor=actor, at=call.now, binding_id=binding_id)
    audit.record(conn, kind="family_unbound", psn_no=row["relative_psn_no"],
                 actor=actor, at=call.now, detail=f"{binding_id} {row['cert_id']}")
    for who in (row["relative_psn_no"], holder):
        trust.notify(call, who, "family_removed", f"{binding_id} ({row['relation']})")


def _binding(conn: Connection, cert_id: str, binding_id: str) -> RowMapping:
    """The certificate's active binding (E-ECT-021: none, or not active yet)."""
    row = conn.execute(select(family_binding).where(
        family_binding.c.binding_id == binding_id, family_binding.c.cert_id == cert_id,
        family_binding.c.status == ACTIVE)).mappings().first()
    if row is None:
        raise Refused("E-ECT-021", "no active family binding with this id on this certificate")
    return row


def reset_pin(call: Call, cert_id: str, *, real_person: rules.Attestation | None,
              new_pin: str) -> None:
    """A new PIN (and the end of a lock) only on a fresh real-person attestation of an
    accepted method, recorded; the person is told in every channel."""
    rules.check_attestation(real_person, call.now)
    check_pin_format(new_pin)
    cert = certificate(call, cert_id)
    trust.attest(call, cert["psn_no"], "unlock", real_person, cert_id)
    call.conn.execute(update(ecert).where(ecert.c.cert_id == cert_id).values(
        pin_hash=hash_pin(new_pin), pin_failures=0, locked_at=None))
    audit.record(call.conn, kind="pin_reset", psn_no=cert["psn_no"], actor=call.actor.name,
                 at=call.now)
    kind = "unlocked" if cert["locked_at"] is not None else "pin_reset"
    trust.notify(call, cert["psn_no"], kind, cert_id)


def deactivate(call: Call, cert_id: str) -> None:
    conn, actor = call.conn, call.actor.name
    cert = certificate(call, cert_id)
    conn.execute(update(ecert).where(ecert.c.cert_id == cert_id).values(status="deactivated"))
    audit.record(conn, kind="ecert_deactivated", psn_no=cert["psn_no"], actor=actor,
                 at=call.now, detail=cert_id)
    revocation.revoke_certificate_tokens(conn, cert_id, reason=revocation.DEACTIVATED,
                                         actor=actor, at=call.now)


def scan(call: Call, code: str, business_type: str) -> tuple[str, str]:
    """1162: a scanned code becomes (psn_no, ecToken) for the calling institution and
    business."""
    conn, place = call.conn, call.institution.code
    if business_type not in BUSINESS_TYPES:
        raise Refused("E-ENV-007", f"businessType {business_type[:8]}")
    row = conn.execute(select(qr_code).where(qr_code.c.code_hash == digest(code))
                       .with_for_update()).mappings().first()
    if row is None:
        raise Refused("E-ECT-006", "unknown QR code")
    if row["used_at"] is not None:
        raise Refused("E-ECT-006", "QR code already used: show a fresh one")
    if row["expires_at"] < call.now:
        raise Refused("E-ECT-006", "QR code expired: show a fresh one")
    _check_certificate_usable(conn, row)
    _check_binding_live(conn, row["binding_id"])
    cards.check_not_suspended(conn, row["psn_no"], call.now.date())
    conn.execute(update(qr_code).where(qr_code.c.code_hash == row["code_hash"])
                 .values(used_at=call.now))
    audit.record(conn, kind="qr_scanned", psn_no=row["psn_no"], actor=call.actor.name,
                 at=call.now, place=place, detail=business_type)
    return row["psn_no"], issue_token(call, row["psn_no"], row["cert_id"], business_type,
                                      binding_id=row["binding_id"])


def _check_certificate_usable(conn: Connection, code: RowMapping) -> None:
    """A code counts only while the certificate it was shown from is active and unlocked,
    and no card of the person was reported lost since it was issued (each of these
    revokes the tokens already issued: a code shown before must not make a fresh one)."""
    cert = conn.execute(select(ecert.c.status, ecert.c.locked_at).where(
        ecert.c.cert_id == code["cert_id"])).first()
    if cert is None or cert.status != ACTIVE:
        raise Refused("E-ECT-003", "the certificate was deactivated")
    if cert.locked_at is not None:
        raise Refused("E-ECT-004", "the certificate was locked by wrong PINs after the code "
                      "was shown")
    issued = code["expires_at"] - timedelta(seconds=QR_SECONDS)
    lost = conn.execute(select(card.c.card_no).where(
        card.c.psn_no == code["psn_no"], card.c.status == cards.LOST,
        card.c.status_at > issued)).first()
    if lost is not None:
        raise Refused("E-ECT-006", "a card was reported lost after the code was shown: "
                      "show a fresh one")


def _check_binding_live(conn: Connection, binding_id: str | None) -> None:
    """A relative's code counts only while the binding it was issued through is active."""
    if binding_id is None:
        return
    status = conn.execute(select(family_binding.c.status).where(
        family_binding.c.binding_id == binding_id)).scalar_one_or_none()
    if status != ACTIVE:
        raise Refused("E-ECT-006", "QR code issued through a family binding that was removed")


def issue_token(
    call: Call, psn_no: str, source: str, business_type: str, *,
    binding_id: str | None = None,
) -> str:
    """An ecToken for the calling institution and business; ``source`` names what proved
    the identity (a certificate id, or ``face``), ``binding_id`` the family binding a
    relative's code was shown through (the token is revoked with it)."""
    if business_type not in BUSINESS_TYPES:
        raise Refused("E-ENV-007", f"businessType {business_type[:8]}")
    token = secrets.token_urlsafe(32)
    call.conn.execute(insert(ec_token).values(
        token_hash=digest(token), psn_no=psn_no, cert_id=source,
        fixmedins_code=call.institution.code, business_type=business_type,
        issued_at=call.now, binding_id=binding_id, sign_no=call.sign_no,
        expires_at=call.now + timedelta(minutes=TOKEN_MINUTES)))
    return token


def token_holder(
    conn: Connection, token_hash: str, *, institution: str, infno: str, now: datetime
) -> str:
    """The psn_no an ecToken (given as its SHA-256: the raw token goes no further than the
    interface) stands for, if this institution may use it for this message now."""
    row = conn.execute(select(ec_token).where(ec_token.c.token_hash == token_hash)
                       ).mappings().first()
    if row is None:
        raise Refused("E-ECT-007", "unknown ecToken")
    if row["fixmedins_code"] != institution:
        raise Refused("E-ECT-008", "the ecToken was issued to another institution")
    if row["revoked_at"] is not None:
        raise Refused("E-ECT-020", f"revoked at {row['revoked_at']:%Y-%m-%d %H:%M:%S}: "
                      f"{row['revoked_why']}")
    if row["expires_at"] < now:
        raise Refused("E-ECT-009", f"the ecToken expired at {row['expires_at']:%H:%M:%S}")
    allowed = BUSINESS_TYPES[row["business_type"]][1]
    if infno and infno not in ANY_BUSINESS and infno not in allowed:
        raise Refused("E-ECT-010", f"the ecToken is for business {row['business_type']}, "
                      f"not for {infno}")
    audit.record(conn, kind="token_used", psn_no=row["psn_no"], actor=institution, at=now,
                 place=institution, detail=infno)
    return str(row["psn_no"])


def certificates_of(conn: Connection, psn_no: str) -> list[dict[str, Any]]:
    """The person's electronic certificates, one per activation in a channel, newest
    first: status (active or deactivated), activated when, locked since (five wrong
    PINs), on probation until; never the PIN's hash."""
    rows = conn.execute(select(ecert.c.cert_id, ecert.c.channel_id, ecert.c.status,
                               ecert.c.created_at, ecert.c.locked_at, ecert.c.pin_failures,
                               ecert.c.probation_until)
                        .where(ecert.c.psn_no == psn_no)
                        .order_by(ecert.c.created_at.desc(), ecert.c.cert_id.desc())).mappings()
    return [dict(r) for r in rows]
