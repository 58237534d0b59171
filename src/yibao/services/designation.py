"""A person's designated institutions (就医定点医疗机构, docs/designation.md): chosen,
changed and cancelled from the hospital interface (2505/2506), the channel API (apps) and
the operator window; read by 5302 and the console; and the check a settlement or a claim
at home makes (2020 epidemic measures, item 3: designated institutions changed online).

Every change takes the person's lock first (``lock_person``), so two choices of one
person never both find a free place. The rules are pure, in ``domain/designation.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection

from yibao.domain import designation as rules
from yibao.domain.designation import Designation, Rule, Status
from yibao.domain.errors import Refused
from yibao.domain.policy import Policy, select_policy
from yibao.services import audit
from yibao.services.context import Call, Done, Effect, EffectKind, Institution
from yibao.services.persons import active_insurance, get_person, insurances, lock_person
from yibao.store import designations, institutions
from yibao.store.lean import Row


@dataclass(frozen=True, slots=True)
class NewDesignation:
    psn_no: str
    institution: str  # fixmedins_code
    insutype: str = ""  # empty: the person's only insurance
    begin: date | None = None  # None: today
    end: date | None = None  # the last day; None: until changed or cancelled
    order: int | None = None  # fix_srt_no; None: the lowest free one
    memo: str = ""


def choose(call: Call, new: NewDesignation, *, change_taken: bool = False) -> Done[str]:
    """Record a designation: its trt_dcla_detl_sn. ``change_taken`` (2505): an order
    number already taken changes that designation from the begin date instead."""
    person = lock_person(call.conn, new.psn_no)
    insutype = new.insutype or _only_insutype(call.conn, new.psn_no)
    today = call.now.date()
    begin = new.begin or today
    rules.check_dates(begin, new.end, today)
    active_insurance(call.conn, new.psn_no, insutype, today)
    rule = _rule(call, person["insuplc_admdvs"], insutype, begin)
    _check_institution(call.conn, rule, new.institution, person["insuplc_admdvs"])
    held = [d for d in designations.held_by(call.conn, new.psn_no) if d.insutype == insutype]
    taken = next((d for d in held if change_taken and d.order == new.order
                  and d.counts_from(begin)), None)
    if taken is not None:
        return _replace(call, taken, held, rule, new, begin)
    order = rules.check_room(rule, held, code=new.institution, order=new.order, begin=begin)
    return _add(call, new, insutype, order, begin, what="designation")


def change(call: Call, psn_no: str, serial: str, code: str, effective: date | None,
           memo: str = "") -> Done[str]:
    """Replace the person's designation ``serial`` by ``code`` from ``effective`` (today
    when None): the replaced one ends the day before (history kept); the new one takes
    its order number."""
    person = lock_person(call.conn, psn_no)
    today = call.now.date()
    begin = effective or today
    row = rules.check_cancellable(designations.by_serial(call.conn, serial), serial=serial,
                                  psn_no=psn_no, today=today)
    rules.check_dates(begin, None, today)
    rule = _rule(call, person["insuplc_admdvs"], row.insutype, begin)
    _check_institution(call.conn, rule, code, person["insuplc_admdvs"])
    held = [d for d in designations.held_by(call.conn, psn_no) if d.insutype == row.insutype]
    new = NewDesignation(psn_no, code, row.insutype, begin, None, row.order, memo)
    return _replace(call, row, held, rule, new, begin)


def _replace(call: Call, old: Designation, held: list[Designation], rule: Rule,
             new: NewDesignation, begin: date) -> Done[str]:
    if new.institution == old.institution:
        raise Refused("E-DES-005", f"{old.serial} already designates {old.institution}")
    order = rules.check_room(rule, held, code=new.institution, order=old.order, begin=begin,
                             replacing=old.serial)
    done = _add(call, new, old.insutype, order, begin, what="designation-change")
    designations.end(call.conn, old.serial, rules.ending_before(old, begin), at=call.now,
                     reason=f"changed to {new.institution} by {done.value}")
    return done


def _add(call: Call, new: NewDesignation, insutype: str, order: int, begin: date, *,
         what: str) -> Done[str]:
    serial = call.ids.new("D")
    designations.add(call.conn, Designation(
        serial=serial, psn_no=new.psn_no, insutype=insutype, order=order,
        institution=new.institution, begin=begin, end=new.end, status=Status.ACTIVE,
        source=call.actor.source, actor=call.actor.name, entry=call.entry.value,
        msgid=call.ref[:30], created_at=call.now, ended_at=None, ended_reason="",
        memo=new.memo[:500]))
    audit.record(call.conn, kind=what, psn_no=new.psn_no, actor=call.actor.name,
                 at=call.now, place=new.institution,
                 detail=f"{serial} no.{order} from {begin} until {new.end or 'changed'}")
    return Done(serial, Effect(EffectKind.DESIGNATION, serial))


def cancel(call: Call, serial: str, psn_no: str, reason: str, *, own_only: bool) -> Effect:
    """End the designation today (it no longer counts from today; one that had not begun
    is cancelled). An institution (``own_only``) cancels only those it registered."""
    lock_person(call.conn, psn_no)
    row = rules.check_cancellable(
        designations.by_serial(call.conn, serial), serial=serial, psn_no=psn_no,
        today=call.now.date(), caller=call.actor.name if own_only else "")
    designations.end(call.conn, serial, rules.ending_before(row, call.now.date()),
                     at=call.now, reason=reason or "cancelled")
    audit.record(call.conn, kind="designation-cancel", psn_no=psn_no, actor=call.actor.name,
                 at=call.now, place=row.institution, detail=f"{serial}: {reason}"[:300])
    return Effect(EffectKind.DESIGNATION_CANCEL, serial)


def _only_insutype(conn: Connection, psn_no: str) -> str:
    held = insurances(conn, psn_no)
    if len(held) != 1:
        raise Refused("E-ENV-004", "insutype (the person has several insurance types)")
    return str(held[0]["insutype"])


def _rule(call: Call, region: str, insutype: str, day: date) -> Rule:
    policy = select_policy(call.policies, region=region, insutype=insutype, day=day)
    if policy is None:
        raise Refused("E-POL-001", f"region {region}, insutype {insutype}, {day}")
    if policy.designation is None:
        raise Refused("E-DES-003", f"the policy {policy.policy_id} of the insured place "
                      "needs no designated institutions")
    return policy.designation


def _check_institution(conn: Connection, rule: Rule, code: str, insured_area: str) -> None:
    found = institutions.find(conn, code)
    rules.check_institution(
        rule, code=code, kind=None if found is None else found.kind,
        open_kind="" if found is None else found.open_kind,
        area="" if found is None else found.pool_area, insured_area=insured_area)


# ---------------------------------------------------------------- settlement and claims


def check_care(conn: Connection, *, policy: Policy, person: Row, insutype: str,
               institution: Institution, med_type: str, emergency: bool, day: date) -> None:
    """E-DES-001 when care at home at this institution needs a designation the person
    does not hold on ``day``. Decided from the institution and the policy first: only
    at-home care at a hospital not open to all reads the database (one statement)."""
    needed = rules.needs_designation(
        policy.designation, kind=institution.kind, open_kind=institution.open_kind,
        at_home=institution.pool_area == person["insuplc_admdvs"])
    if not needed or rules.is_emergency(med_type, emergency):
        return
    if not designations.counts(conn, person["psn_no"], insutype, institution.code, day):
        raise rules.not_designated(institution.code, institution.name, day)


def check_settlement(call: Call, *, policy: Policy, person: Row, visit: Row,
                     med_type: str) -> None:
    """The designation check of a settlement (or a claim's approval): the care's day is
    the visit's begin (admission)."""
    check_care(call.conn, policy=policy, person=person, insutype=visit["insutype"],
               institution=call.institution, med_type=med_type,
               emergency=visit["emergency"] == "1", day=visit["begntime"].date())


def check_claim(call: Call, *, visit: Row, site: Institution) -> None:
    """A claim for care at home at an institution the person had not designated (and
    not open to all) is refused as the settlement would have been, unless emergency;
    checked when applied for and again at approval (``check_settlement``)."""
    person = get_person(call.conn, visit["psn_no"])
    day = visit["begntime"].date()
    policy = select_policy(call.policies, region=person["insuplc_admdvs"],
                           insutype=visit["insutype"], day=day)
    if policy is None:
        return  # the approval refuses it (E-POL-001)
    check_care(call.conn, policy=policy, person=person, insutype=visit["insutype"],
               institution=site, med_type=visit["med_type"],
               emergency=visit["emergency"] == "1", day=day)


# ---------------------------------------------------------------- reading


held_by = designations.held_by  # every designation of a person, newest first


def current(conn: Connection, psn_no: str, today: date) -> list[Designation]:
    """The person's designations that count today or later, by order number."""
    return sorted((d for d in designations.held_by(conn, psn_no) if d.counts_from(today)),
                  key=lambda d: (d.insutype, d.order, d.begin))


def state_of(row: Designation, today: date) -> str:
    """What a person or operator reads: current, upcoming, ended or cancelled."""
    if row.status is Status.CANCELLED:
        return "cancelled"
    if row.end is not None and row.end < today:
        return "ended"
    return "upcoming" if row.begin > today else "current"


def describe(row: Designation, today: date, names: dict[str, str]) -> dict[str, Any]:
    """A designation as the REST APIs and the console show it."""
    return {
        "trt_dcla_detl_sn": row.serial, "psn_no": row.psn_no, "insutype": row.insutype,
        "fix_srt_no": row.order, "fixmedins_code": row.institution,
        "fixmedins_name": names.get(row.institution, ""),
        "begin_date": row.begin.isoformat(),
        "end_date": None if row.end is None else row.end.isoformat(),
        "state": state_of(row, today), "source": row.source, "entry": row.entry,
        "actor": row.actor, "created_at": row.created_at.isoformat(sep=" "),
        "ended_reason": row.ended_reason,
    }


def described(conn: Connection, psn_no: str, today: date) -> list[dict[str, Any]]:
    """Every designation of the person (current and history), newest first."""
    rows = designations.held_by(conn, psn_no)
    names = institutions.names(conn, {d.institution for d in rows})
    return [describe(d, today, names) for d in rows]


__all__ = ["NewDesignation", "cancel", "change", "check_care", "check_claim", "check_settlement",
           "choose", "current", "describe", "described", "held_by", "state_of"]
