"""Filings (备案): registered from the hospital interface (2501/2503/2507), the channel
API (apps) and the operator window (admin API); cancelled the same ways.

The rules (types, validity, limits) are in ``domain/filing.py``; which filing a
settlement rests on is decided in ``domain/away.py`` (``services/away.py`` calls it).
The filing rows are read as ``Filing`` records by ``store/filings.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from yibao.domain import filing as rules
from yibao.domain.claims import ClaimStatus
from yibao.domain.codes import VisitClass
from yibao.domain.errors import Refused
from yibao.domain.filing import ACTIVE, CANCELLED, SUPERSEDED, Filing, Status, window_of
from yibao.domain.policy import select_policy
from yibao.services import audit, away, visits
from yibao.services.context import ActorKind, Call, Done, Effect, EffectKind
from yibao.services.persons import active_insurance, insurances, lock_person
from yibao.store import filings, institutions, settlements
from yibao.store.lean import Row
from yibao.store.schema import claim, filing, visit


@dataclass(frozen=True, slots=True)
class NewFiling:
    psn_no: str
    filing_type: str  # a key of domain.filing.TYPES
    insutype: str  # empty: the person's only insurance
    area: str = ""  # co-ordination area of treatment (area and trauma filings)
    end_date: date | None = None  # valid up to and including this day
    institution: str = ""  # disease filings: the institution filed with
    disease_code: str = ""
    disease_name: str = ""
    reason: str = ""
    injury_time: datetime | None = None
    injury_site: str = ""
    care_area: str = ""  # the treating institution's area, when it registers (2507)
    # the personal commitment letter the person signed with it (an app or the window)
    commitment: rules.Commitment = rules.UNSIGNED


def register(call: Call, new: NewFiling) -> Done[str]:
    """Record a filing: its trt_dcla_detl_sn. A new area filing ends the person's earlier
    area filings (re-filing); a disease filing respects the limit. The record is the
    actor's (its source, name and the call's ref)."""
    conn, actor, now = call.conn, call.actor, call.now
    kind = rules.kind_of(new.filing_type)
    person = lock_person(conn, new.psn_no)  # one filing change of a person at a time
    new = replace(new, insutype=new.insutype or _only_insutype(conn, new.psn_no))
    insured = active_insurance(conn, new.psn_no, new.insutype, now.date())
    area = _area_of(conn, new, kind, person["insuplc_admdvs"])
    end_at = rules.end_of_validity(new.filing_type, new.end_date, now)
    commitment = _commitment_of(call, new, person["insuplc_admdvs"])
    serial = call.ids.new("F")
    if kind is rules.Kind.AREA:
        _supersede(conn, new.psn_no, serial, now)
    if kind is rules.Kind.DISEASE:
        _check_disease_room(conn, new, now)
    conn.execute(insert(filing).values(
        trt_dcla_detl_sn=serial, psn_no=new.psn_no, kind=kind.value,
        filing_type=new.filing_type, insutype=new.insutype,
        insuplc_admdvs=person["insuplc_admdvs"], emp_name=insured["emp_name"],
        mdtrtarea_admdvs=area, fixmedins_code=new.institution, dise_code=new.disease_code,
        dise_name=new.disease_name, reason=new.reason, trum_time=new.injury_time,
        trum_site=new.injury_site, begin_at=now, end_at=end_at, status=ACTIVE,
        source=actor.source, actor=actor.name, msgid=call.ref,
        commitment_signed=commitment.signed, commitment_at=commitment.at,
        commitment_version=commitment.version, commitment_entry=commitment.entry,
    ))
    audit.record(conn, kind="filing", psn_no=new.psn_no, actor=actor.name, at=now,
                 place=area, detail=f"{serial} {new.filing_type} until {end_at or 'ended'}")
    return Done(serial, Effect(EffectKind.FILING, serial))


# the entries a person signs a commitment letter through, by who records the filing
_ENTRIES = {ActorKind.CHANNEL: "app", ActorKind.OPERATOR: "window"}


def _commitment_of(call: Call, new: NewFiling, insured_area: str) -> rules.Commitment:
    """The commitment letter as stored: signed now through the call's entry (an app or
    the window), checked against the insured place's policy (``[away.commitment]``:
    E-FIL-014 when required and missing). The HIS's filings (2501, 2503, 2507) rest on
    the hospital's papers: no letter."""
    entry = _ENTRIES.get(call.actor.kind)
    if entry is None:
        return rules.UNSIGNED
    policy = select_policy(call.policies, region=insured_area, insutype=new.insutype,
                           day=call.now.date())
    required = policy.commitment if policy is not None else frozenset()
    rules.check_commitment(new.filing_type, new.commitment, required)
    if not new.commitment.signed:
        return rules.UNSIGNED
    return replace(new.commitment, at=call.now, entry=f"{entry}:{call.actor.name}")


def register_at_window(call: Call, new: NewFiling) -> str:
    """An operator registers a filing at the window (/admin/v1, the console): its
    trt_dcla_detl_sn, the registration in the operators' log."""
    serial = register(call, new).value
    audit.action(call, "filing.register", serial, psn_no=new.psn_no,
                 filing_type=new.filing_type)
    return serial


def cancel_at_window(call: Call, serial: str, psn_no: str, reason: str) -> None:
    """An operator cancels any filing of the person (``cancel``), in the operators' log."""
    cancel(call, serial, psn_no, reason, own_only=False)
    audit.action(call, "filing.cancel", serial, psn_no=psn_no)


def _only_insutype(conn: Connection, psn_no: str) -> str:
    held = insurances(conn, psn_no)
    if len(held) != 1:
        raise Refused("E-ENV-004", "insutype (the person has several insurance types)")
    return str(held[0]["insutype"])


def _area_of(conn: Connection, new: NewFiling, kind: rules.Kind, insured_area: str) -> str:
    if kind is rules.Kind.DISEASE:
        if not new.disease_code:
            raise Refused("E-FIL-008", "a special-disease filing names its disease_code")
        found = institutions.find(conn, new.institution)
        if found is None:
            raise Refused("E-FIL-008", f"no designated institution {new.institution!r}")
        return found.pool_area
    if not rules.is_area_code(new.area):
        raise Refused("E-FIL-008", f"area of treatment {new.area!r} is not 6 ASCII digits")
    if new.care_area and new.area != new.care_area:
        raise Refused("E-FIL-012", f"{new.area}: the institution treats in {new.care_area}")
    if kind is rules.Kind.AREA and new.area == insured_area:
        raise Refused("E-FIL-008", f"{new.area} is the insured place: no filing is needed")
    return new.area


def _supersede(conn: Connection, psn_no: str, serial: str, now: datetime) -> None:
    conn.execute(
        update(filing)
        .where(filing.c.psn_no == psn_no, filing.c.kind == rules.Kind.AREA.value,
               filing.c.status == ACTIVE)
        .values(status=SUPERSEDED, ended_at=now, ended_reason=f"superseded by {serial}")
    )


def _check_disease_room(conn: Connection, new: NewFiling, now: datetime) -> None:
    filed = filings.disease_institutions(conn, new.psn_no, new.disease_code, now)
    if new.institution in filed:
        raise Refused("E-FIL-008", f"already filed with {new.institution} for this disease")
    if len(filed) >= rules.DISEASE_INSTITUTIONS_MAX:
        raise Refused("E-FIL-004", f"{new.disease_code} is filed with {', '.join(filed)}")


def cancel(call: Call, serial: str, psn_no: str, reason: str, *,
           own_only: bool, kind: rules.Kind | None = None) -> Effect:
    """End a filing now. An institution (``own_only``) cancels only its own filings, and
    a transaction only the ``kind`` it registers (2502 area, 2504 special disease); a
    filing in use (``_check_unused``) cannot be cancelled."""
    conn, actor, now = call.conn, call.actor.name, call.now
    lock_person(conn, psn_no)  # settlements, and the filing changes, of the person wait
    row = filings.by_serial(conn, serial)
    if row is None or row.psn_no != psn_no or (own_only and row.actor != actor):
        raise Refused("E-FIL-005", f"trt_dcla_detl_sn {serial}")
    actual = rules.TYPES[row.filing_type][0]
    if kind is not None and actual is not kind:
        raise Refused("E-FIL-005", f"trt_dcla_detl_sn {serial} is a {actual} filing")
    window = window_of(row)
    if row.status is not Status.ACTIVE or (window.until is not None
                                          and window.until <= now):
        raise Refused("E-FIL-009", f"{serial} is {row.status}, valid until {window.until}")
    _check_unused(conn, row, now)
    conn.execute(update(filing).where(filing.c.trt_dcla_detl_sn == serial).values(
        status=CANCELLED, ended_at=now, ended_reason=reason[:500]))
    audit.record(conn, kind="filing-cancel", psn_no=psn_no, actor=actor, at=now,
                 detail=f"{serial}: {reason}")
    return Effect(EffectKind.FILING_CANCEL, serial)


def _check_unused(conn: Connection, row: Filing, now: datetime) -> None:
    """E-FIL-009 while a live settlement or an approved reimbursement of the person rests
    on the filing (as its basis or its injury declaration), while a reimbursement not yet
    decided names it, or while a visit away from home that it covers is not yet settled
    (``away.serves``): a stay admitted under the filing settles on it. A visit
    registered after the cancellation finds no filing (a cancelled one never counts)."""
    serial = row.serial
    if _used(conn, row.psn_no, serial):
        raise Refused("E-FIL-009", f"{serial} is used by a live settlement or an approved "
                      "claim: cancel the settlement first")
    pending = _pending_claims_on(conn, row)
    if pending:
        raise Refused("E-FIL-009", f"{serial} is relied on by claims not yet decided: "
                      f"{_few(pending)}")
    waiting = [v["mdtrt_id"] for v in visits.unsettled(conn, row.psn_no)
               if _in_progress(v, now) and away.serves(row, v, now)]
    if waiting:
        raise Refused("E-FIL-009", "the unsettled visits it covers are settled or "
                      f"cancelled (2202 / 2404) first: {_few(waiting)}")


def _pending_claims_on(conn: Connection, row: Filing) -> list[str]:
    """The person's manual reimbursements, applied for and not yet decided, that name the
    filing or may rest on it as their injury declaration: cancelled now, it would refuse
    their approval."""
    query = select(claim.c.claim_id, claim.c.trt_dcla_detl_sn, visit).join(
        visit, visit.c.mdtrt_id == claim.c.mdtrt_id).where(
        claim.c.psn_no == row.psn_no,
        claim.c.status.in_((ClaimStatus.SUBMITTED.value, ClaimStatus.UNDER_REVIEW.value)),
    ).order_by(claim.c.claim_id)
    serial, declaration = row.serial, row.kind is rules.Kind.TRAUMA
    return [c["claim_id"] for c in conn.execute(query).mappings()
            if c["trt_dcla_detl_sn"] == serial or (declaration and away.claim_needs(row, c))]


def _in_progress(care: Row, now: datetime) -> bool:
    """An inpatient stay is in progress until settled or cancelled; an outpatient visit
    only on the day it began: one the HIS left open after its day keeps no filing (it
    would find none: a cancelled filing never counts)."""
    return bool(care["visit_class"] == VisitClass.INPATIENT.value
                or care["begntime"].date() == now.date())


def _few(items: list[str], shown: int = 2) -> str:
    """At most ``shown`` items, and how many more there are (a refusal's text is 200
    characters at most)."""
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def _used(conn: Connection, psn_no: str, serial: str) -> bool:
    """A live settlement or an approved reimbursement of the person rests on the filing,
    or needed it as its injury declaration."""
    return settlements.rests_on_filing(conn, psn_no, serial)


in_force = filings.in_force  # the person's filings of a kind that count now (5301)
made_by = filings.made_by  # those an institution registered in a period (5304: referrals)
# a page of a person's filings, newest first (ended ones too: they explain refusals)
of_person = filings.page_of
newest = filings.newest  # the filings registered last, of everyone (the console's list)


def describe(row: Filing, now: datetime) -> dict[str, Any]:
    """A filing as the APIs show it (English names; the HIS interface maps its own)."""
    until = window_of(row).until
    expired = row.status is Status.ACTIVE and until is not None and until <= now
    return {
        "trt_dcla_detl_sn": row.serial, "psn_no": row.psn_no,
        "kind": row.kind.value, "filing_type": row.filing_type.value,
        "type_name": row.type_name, "insutype": row.relationship.insutype,
        "insured_area": row.relationship.insured_area, "area": row.area,
        "institution": row.institution, "disease_code": row.disease_code,
        "begin_at": row.begin_at.isoformat(sep=" "),
        "end_at": None if row.end_at is None else row.end_at.isoformat(sep=" "),
        "status": "expired" if expired else row.status.value,
        "ended_at": None if row.ended_at is None else row.ended_at.isoformat(sep=" "),
        "ended_reason": row.ended_reason, "source": row.source,
        "commitment": _commitment_view(row.commitment),
    }


def _commitment_view(letter: rules.Commitment) -> dict[str, Any]:
    """The personal commitment letter signed with a filing, as the APIs show it."""
    return {"signed": letter.signed,
            "signed_at": None if letter.at is None else letter.at.isoformat(sep=" "),
            "version": letter.version, "entry": letter.entry}
