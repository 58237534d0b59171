"""Supervision in real time (issue 20, docs/supervision.md "In real time"): the visit
rules (domain/supervision_visit.py) run on what a HIS sends to 3101 (before saving a
prescription) and 3102 (before settling), each finding answered with a jr_id and stored
(review_warning) so that 3103 can record what the institution did about it; and at
settlement the rules the treatment place's policy lists in ``[supervision] block``
refuse a settlement whose lines they find (E-SUP-010). A policy that blocks nothing
costs settlement no statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from yibao.domain import supervision
from yibao.domain.codes import VisitClass, visit_class_of
from yibao.domain.errors import Refused
from yibao.domain.policy import select_policy
from yibao.domain.supervision_visit import (
    Case,
    Finding,
    Line,
    Person,
    Visit,
    check,
    net_of_refunds,
)
from yibao.services.context import Call
from yibao.store import review_warnings
from yibao.store.lean import Row

PRE, IN = "1", "2"  # warn_type / stage: 3101 before, 3102 during
CONTINUE, MODIFY = "1", "2"  # dspo_way: continue the order, return to modify it
DISPOSALS = (CONTINUE, MODIFY)
REASON_MAX = 500


@dataclass(frozen=True, slots=True)
class Order:
    """One fsi_order_dtos entry as the rules read it."""

    rx_id: str
    code: str
    list_type: str
    name: str
    cnt: Decimal
    pric: Decimal
    amount: int  # fen (sumamt)
    begin: datetime | None
    current: bool  # curr_drord_flag 1: the order being saved or settled now
    level_price: Decimal | None = None  # lvN_hosp_item_pric of the institution's level


@dataclass(frozen=True, slots=True)
class Encounter:
    mdtrt_id: str
    med_type: str
    begin: datetime
    end: datetime | None
    orders: tuple[Order, ...]


@dataclass(frozen=True, slots=True)
class Patient:
    patn_id: str
    gend: str
    brdy: date
    curr_mdtrt_id: str
    encounters: tuple[Encounter, ...]


@dataclass(frozen=True, slots=True)
class Answered:
    """A finding answered to the HIS: its jr_id, the rule, whom and which orders."""

    jr_id: str
    rule: supervision.Rule
    finding: Finding
    patn_id: str
    mdtrt_id: str
    rx_ids: Mapping[int, str]  # line id -> rx_id


def review(call: Call, stage: str, patients: Sequence[Patient],
           rule_ids: Sequence[str] = ()) -> list[Answered]:
    """3101 (stage 1) / 3102 (stage 2): the visit rules' findings on each patient's
    current encounter (the one named curr_mdtrt_id; every encounter when none is) that
    involve a current order (curr_drord_flag 1; every order when none is flagged),
    each stored as a warning of this institution. ``rule_ids``: only those of yibao's
    visit rules (ids it does not know are not its rules, and are left to whoever
    defined them); none: all."""
    known = {r.id for r in supervision.visit_rules()}
    chosen = sorted(known & set(rule_ids)) if rule_ids else sorted(known)
    if not chosen:
        return []
    cases = [(p, e, _case(call, p, e)) for p in patients for e in _current(p)]
    codes = {line.code for _, _, (case, _) in cases for line in case.lines}
    limits = review_warnings.limits(call.conn, call.institution.pool_area, codes)
    answered: list[Answered] = []
    for patient, encounter, (case, current) in cases:
        case = Case(case.visit, case.person, case.lines, limits, case.now)
        rx_ids = {line.id: line.ref for line in case.lines}
        for finding in check(case, chosen):
            if current and not current & set(finding.lines):
                continue
            answered.append(Answered(call.ids.new("JR"), supervision.rule(finding.rule_id),
                                     finding, patient.patn_id, encounter.mdtrt_id, rx_ids))
    review_warnings.record(call.conn, [dict(
        jr_id=a.jr_id, stage=stage, fixmedins_code=call.institution.code, psn_no=a.patn_id,
        mdtrt_id=a.mdtrt_id, rule_id=a.rule.id, hilist_code=a.finding.code,
        amount=a.finding.amount, msgid=call.ref, created_at=call.now) for a in answered])
    return answered


def _current(patient: Patient) -> tuple[Encounter, ...]:
    named = tuple(e for e in patient.encounters if e.mdtrt_id == patient.curr_mdtrt_id)
    return named or patient.encounters


def _case(call: Call, patient: Patient, encounter: Encounter) -> tuple[Case, set[int]]:
    """The encounter as the rules read it (limits filled in later), and the ids of its
    current orders (empty: none flagged)."""
    lines = tuple(Line(
        id=n, ref=o.rx_id, code=o.code, list_type=o.list_type, cnt=o.cnt, pric=o.pric,
        amount=o.amount, pric_uplmt=o.level_price, at=o.begin, name=o.name)
        for n, o in enumerate(encounter.orders, start=1))
    current = {n for n, o in enumerate(encounter.orders, start=1) if o.current}
    visit_class = visit_class_of(encounter.med_type) or VisitClass.OUTPATIENT
    end = encounter.end if encounter.end and encounter.end > encounter.begin else None
    case = Case(Visit(encounter.mdtrt_id, visit_class.value, encounter.begin, end),
                Person(patient.gend, patient.brdy), net_of_refunds(lines), {}, call.now)
    return case, current


# 3103 -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Feedback:
    jr_id: str
    dspo_way: str
    reason: str


def feed_back(call: Call, warn_type: str, warns: Sequence[Feedback]) -> int:
    """3103: record what the institution did about each warning (1 continue, with its
    reason; 2 return to modify). All or nothing: a warning that is not this
    institution's (E-SUP-011), of the other stage (E-SUP-012), a bad dspo_way or a
    missing reason (E-SUP-013), or one already fed back otherwise (E-SUP-014) refuses
    the message. The same feedback again is answered the same and changes nothing.
    Returns how many warnings were newly recorded."""
    if warn_type not in (PRE, IN):
        raise Refused("E-SUP-013", f"warn_type {warn_type!r}: 1 pre-event, 2 in-event")
    if not warns:
        raise Refused("E-ENV-004", "warns (at least one)")
    for warn in warns:
        if warn.dspo_way not in DISPOSALS:
            raise Refused("E-SUP-013", f"warn_rslt_id {warn.jr_id}: dspo_way "
                          f"{warn.dspo_way!r} is not 1 or 2")
        if warn.dspo_way == CONTINUE and not warn.reason.strip():
            raise Refused("E-SUP-013", f"warn_rslt_id {warn.jr_id}: continuing (dspo_way 1) "
                          "needs dspo_way_rea")
        if len(warn.reason) > REASON_MAX:
            raise Refused("E-SUP-013", f"warn_rslt_id {warn.jr_id}: dspo_way_rea longer than "
                          f"{REASON_MAX}")
    rows = review_warnings.locked(call.conn, [w.jr_id for w in warns])
    seen: dict[str, Feedback] = {}
    for warn in warns:
        row = rows.get(warn.jr_id)
        if row is None or row["fixmedins_code"] != call.institution.code:
            raise Refused("E-SUP-011", f"warn_rslt_id {warn.jr_id}")
        if row["stage"] != warn_type:
            raise Refused("E-SUP-012", f"warn_rslt_id {warn.jr_id} is a warning of stage "
                          f"{row['stage']}, not {warn_type}")
        earlier = seen.get(warn.jr_id) or (
            Feedback(warn.jr_id, row["dspo_way"], row["dspo_way_rea"]) if row["dspo_way"]
            else None)
        if earlier is not None and earlier != _trimmed(warn):
            raise Refused("E-SUP-014", f"warn_rslt_id {warn.jr_id} was fed back as "
                          f"dspo_way {earlier.dspo_way}")
        seen[warn.jr_id] = _trimmed(warn)
    recorded = 0
    for jr_id, warn in seen.items():
        if not rows[jr_id]["dspo_way"]:
            recorded += review_warnings.feed_back(call.conn, jr_id, warn.dspo_way, warn.reason,
                                                  call.now)
    return recorded


def _trimmed(warn: Feedback) -> Feedback:
    return Feedback(warn.jr_id, warn.dspo_way, warn.reason.strip())


# settlement ---------------------------------------------------------------------------

def blocking_rules(call: Call, insutype: str) -> frozenset[str]:
    """The rules the treatment place's policy (the institution's pool area) blocks
    settlement on; empty without such a policy. No statement."""
    policy = select_policy(call.policies, region=call.institution.pool_area,
                           insutype=insutype, day=call.now.date())
    return frozenset() if policy is None else policy.block


def check_settlement(call: Call, block: frozenset[str], person: Row, visit: Row,
                     settling: Sequence[Row], rows: Sequence[Row] | None = None) -> None:
    """Refuse (E-SUP-010) a settlement when one of the ``block`` rules (``blocking_rules``:
    the caller skips the check when there are none) finds something on the visit that
    involves a line being settled (``settling``); the visit's other lines are read for
    the context (a stay, a course), unless the settlement read them already (``rows``:
    review_warnings.visit_rows)."""
    raw, limits = (review_warnings.visit_lines(call.conn, visit["mdtrt_id"],
                                               call.institution.pool_area)
                   if rows is None else review_warnings.as_lines(rows))
    lines = net_of_refunds(raw)
    case = Case(Visit(visit["mdtrt_id"], visit["visit_class"], visit["begntime"],
                      visit["endtime"]),
                Person(person["gend"], person["brdy"]), lines, limits, call.now)
    ids = {line["id"] for line in settling}
    by_id = {line.id: line for line in lines}
    for finding in check(case, block):
        if ids & set(finding.lines):
            line = by_id[finding.lines[0]]
            raise Refused("E-SUP-010", f"{finding.rule_id} {finding.code} (feedetl_sn {line.ref}): "
                          f"{finding.message_en}")

