"""Revocation of ecTokens already issued (docs/security.md, "Tokens and credentials").

A deactivated certificate, a certificate locked by wrong PINs, a suspension in force and a
card reported lost each revoke the person's live ecTokens at once: a token issued before
the event is refused afterwards (E-ECT-020) wherever it is resolved, including the
settlement of a visit registered with it. A relative's token (issued through a family
binding) is revoked when the binding ends and with the holder's certificate (deactivated
or locked): ``revoke_certificate_tokens``. Fresh tokens can be issued afterwards only
where the event allows it (a new QR code needs an active, unlocked certificate and no
suspension in force).

Its own module so that ``cards`` and ``ecert`` (which imports ``cards``) both call it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Connection, select, update

from yibao.services import audit
from yibao.store.schema import ec_token

DEACTIVATED = "certificate deactivated"
PIN_LOCKED = "certificate locked by PIN"
SUSPENDED = "settlement suspended"
CARD_LOST = "card reported lost"
BINDING_ENDED = "family binding ended"
REASONS = frozenset({DEACTIVATED, PIN_LOCKED, SUSPENDED, CARD_LOST, BINDING_ENDED})


def revoke_tokens(
    conn: Connection, psn_no: str, *, reason: str, actor: str, at: datetime,
    cert_id: str | None = None, binding_id: str | None = None,
) -> int:
    """Revoke the person's tokens not yet expired or revoked (only those issued through
    ``cert_id``, and ``binding_id``, when given); audited when there were any. Returns how
    many."""
    assert reason in REASONS, reason
    query = update(ec_token).where(
        ec_token.c.psn_no == psn_no, ec_token.c.revoked_at.is_(None),
        ec_token.c.expires_at >= at)
    if cert_id is not None:
        query = query.where(ec_token.c.cert_id == cert_id)
    if binding_id is not None:
        query = query.where(ec_token.c.binding_id == binding_id)
    revoked: int = conn.execute(query.values(revoked_at=at, revoked_why=reason)).rowcount
    if revoked:
        audit.record(conn, kind="tokens_revoked", psn_no=psn_no, actor=actor, at=at,
                     detail=f"{revoked} by {reason}")
    return revoked


def revoke_certificate_tokens(
    conn: Connection, cert_id: str, *, reason: str, actor: str, at: datetime,
    binding_id: str | None = None,
) -> int:
    """Revoke every live token issued through the certificate ``cert_id``: the holder's
    own and the relatives' (only those of ``binding_id`` when given); audited per person.
    Returns how many."""
    assert reason in REASONS, reason
    live: list[ColumnElement[bool]] = [ec_token.c.cert_id == cert_id,
                                       ec_token.c.revoked_at.is_(None),
                                       ec_token.c.expires_at >= at]
    if binding_id is not None:
        live.append(ec_token.c.binding_id == binding_id)
    persons = sorted(set(conn.execute(select(ec_token.c.psn_no).where(*live)).scalars()))
    total = 0
    for psn_no in persons:
        total += revoke_tokens(conn, psn_no, reason=reason, actor=actor, at=at,
                               cert_id=cert_id, binding_id=binding_id)
    return total
