"""From clue to case (issue 20, docs/supervision.md "From clue to case"): operators
triage clues into cases, investigate (assign, evidence, verification between regions)
and conclude: no problem, a recovery posted in the fund ledger and netted off in the
institution's next clearing, a fine, a suspension of the person's direct settlement
(services/cards.py) or of the institution's networked status (services/institutions.py).

Every step is one transaction: a row of the case's timeline (``case_event``: who, under
which role, when, what) and a row of the operators' log (``operator_action``). A clue is
taken once (its status moves from open under a conditional update), a case concluded
once (its status likewise, and the conclusion's key is the case): two operators acting
at once, one wins and the other is refused, nothing posted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping

from yibao.domain import ledger as ledger_rules
from yibao.domain import supervision_case as rules
from yibao.domain.errors import Refused
from yibao.domain.roles import PERMISSIONS
from yibao.services import audit, cards, institutions, ledger, operators
from yibao.services.context import Call
from yibao.store import cases, clues
from yibao.store import institutions as institution_store

NETWORKED = "networked"


@dataclass(frozen=True, slots=True)
class Case:
    """A case as the operators see it: its row, its clues (with their evidence), its
    timeline, its evidence files, its verification requests and its conclusion."""

    row: RowMapping
    clues: list[RowMapping]
    events: list[RowMapping]
    files: list[RowMapping]
    verifications: list[RowMapping]
    conclusion: RowMapping | None


def _event(call: Call, case_id: str, kind: str, detail: str = "", *,
           clue_id: str | None = None, file_id: str | None = None) -> None:
    assert kind in rules.EVENTS, kind
    cases.add_event(call.conn, dict(case_id=case_id, kind=kind, actor=call.actor.name[:60],
                                    role=call.actor.role[:20], at=call.now,
                                    detail=detail[:1000], clue_id=clue_id, file_id=file_id))


def _case(conn: Connection, case_id: str, *, lock: bool = False) -> RowMapping:
    row = cases.get(conn, case_id[:30], lock=lock)
    if row is None:
        raise Refused("E-CAS-001", f"no case {case_id[:30]}")
    return row


def _open_clue(conn: Connection, clue_id: str) -> RowMapping:
    row = clues.get(conn, clue_id[:30], lock=True)
    if row is None:
        raise Refused("E-CAS-004", f"no clue {clue_id[:30]}")
    rules.check_clue_open(clue_id, row["status"])
    return row


def open_case(call: Call, clue_ids: Sequence[str]) -> str:
    """A new case from open clues (naming one institution or one person); each clue
    moves open -> in_case. A clue another operator took (or dismissed) first: refused
    (E-CAS-003), nothing taken."""
    chosen = list(dict.fromkeys(clue_ids))
    if not chosen or len(chosen) > rules.CLUES_PER_CASE_MAX:
        raise Refused("E-CAS-002", f"1..{rules.CLUES_PER_CASE_MAX} clue ids")
    found = [_open_clue(call.conn, clue_id) for clue_id in sorted(chosen)]
    subject = rules.subject_of(found)
    case_id = call.ids.new("CS")
    cases.add(call.conn, dict(
        case_id=case_id, status=rules.OPEN, fixmedins_code=subject.fixmedins_code,
        psn_no=subject.psn_no, amount_at_risk=subject.amount_at_risk, clues=len(found),
        opened_by=call.actor.name, opened_at=call.now))
    for row in found:
        if not clues.set_status(call.conn, row["clue_id"], status="in_case", case_id=case_id,
                                by=call.actor.name, at=call.now):
            raise Refused("E-CAS-003", f"clue {row['clue_id']} was taken meanwhile")
    _event(call, case_id, "opened", ", ".join(r["clue_id"] for r in found))
    audit.action(call, "case.open", case_id, clues=[r["clue_id"] for r in found],
                 fixmedins_code=subject.fixmedins_code, amount_at_risk=subject.amount_at_risk)
    return case_id


def dismiss_clue(call: Call, clue_id: str, reason: str) -> None:
    """An open clue is dismissed (open -> dismissed) with a reason."""
    text = rules.check_text(reason, "reason", length_max=rules.REASON_LENGTH_MAX)
    row = _open_clue(call.conn, clue_id)
    if not clues.set_status(call.conn, row["clue_id"], status="dismissed", case_id=None,
                            by=call.actor.name, at=call.now):
        raise Refused("E-CAS-003", f"clue {row['clue_id']} was taken meanwhile")
    audit.action(call, "clue.dismiss", row["clue_id"], rule_id=row["rule_id"], reason=text)


def assign(call: Call, case_id: str, assignee: str) -> None:
    """Assign (or reassign) the case to an active operator holding supervision.triage;
    an open case starts its investigation."""
    row = _case(call.conn, case_id, lock=True)
    held = operators.active_roles(call.conn, assignee[:60])
    may = held is not None and bool(held & PERMISSIONS["supervision.triage"])
    rules.check_assignable(row["case_id"], row["status"], held, may)
    status = rules.after_assign(row["status"])
    if not cases.move(call.conn, row["case_id"], expected=(row["status"],),
                      values=dict(status=status, assigned_to=assignee)):
        raise Refused("E-CAS-005", f"case {row['case_id']} changed meanwhile")
    _event(call, row["case_id"], "assigned", assignee)
    audit.action(call, "case.assign", row["case_id"], assignee=assignee)


def add_evidence(call: Call, case_id: str, note: str, *, filename: str = "",
                 content: bytes = b"") -> str | None:
    """A note, and optionally a file kept with the case; the file's id (None without)."""
    text = rules.check_text(note, "note")
    row = _case(call.conn, case_id, lock=True)
    rules.check_not_concluded(row["case_id"], row["status"])
    file_id = None
    if filename or content:
        name = rules.check_file(filename, content)
        file_id = call.ids.new("CF")
        cases.add_file(call.conn, dict(file_id=file_id, case_id=row["case_id"],
                                       filename=name, size=len(content), content=content,
                                       added_by=call.actor.name, added_at=call.now))
    _event(call, row["case_id"], "evidence", text, file_id=file_id)
    audit.action(call, "case.evidence", row["case_id"], file_id=file_id,
                 size=len(content) if file_id else 0)
    return file_id


def evidence_file(conn: Connection, case_id: str, file_id: str) -> RowMapping:
    found = cases.file(conn, case_id[:30], file_id[:30])
    if found is None:
        raise Refused("E-CAS-016", f"no file {file_id[:30]} in case {case_id[:30]}")
    return found


def ask_verification(call: Call, case_id: str, from_region: str, to_region: str,
                     question: str) -> str:
    """Ask another region to verify (insured place <-> treatment place): the case waits
    (verifying) until answered; the request's id."""
    regions = rules.check_regions(from_region.strip(), to_region.strip())
    text = rules.check_text(question, "question")
    row = _case(call.conn, case_id, lock=True)
    rules.check_not_concluded(row["case_id"], row["status"])
    if row["status"] == rules.OPEN:
        raise Refused("E-CAS-009", f"case {row['case_id']} is not assigned yet")
    verification_id = call.ids.new("VF")
    cases.add_verification(call.conn, dict(
        verification_id=verification_id, case_id=row["case_id"], from_region=regions[0],
        to_region=regions[1], question=text, status=rules.ASKED, asked_by=call.actor.name,
        asked_at=call.now))
    cases.move(call.conn, row["case_id"], expected=(row["status"],),
               values=dict(status=rules.VERIFYING))
    _event(call, row["case_id"], "verification_asked",
           f"{verification_id} {regions[0]} -> {regions[1]}: {text}")
    audit.action(call, "case.verification.ask", row["case_id"],
                 verification_id=verification_id, from_region=regions[0],
                 to_region=regions[1])
    return verification_id


def answer_verification(call: Call, case_id: str, verification_id: str, answer: str) -> None:
    """The other region's operator answers (once: E-CAS-015 afterwards); the case goes
    back to its investigation when no request waits."""
    text = rules.check_text(answer, "answer")
    row = _case(call.conn, case_id, lock=True)
    asked = cases.verification(call.conn, row["case_id"], verification_id[:30], lock=True)
    if asked is None:
        raise Refused("E-CAS-014", f"no request {verification_id[:30]} in case "
                      f"{row['case_id']}")
    if asked["status"] != rules.ASKED or not cases.answer(call.conn, asked["verification_id"],
                                                          dict(status=rules.ANSWERED,
                                                               answer=text,
                                                               answered_by=call.actor.name,
                                                               answered_at=call.now)):
        raise Refused("E-CAS-015", f"request {asked['verification_id']} was answered")
    rules.check_not_concluded(row["case_id"], row["status"])
    status = rules.after_verification(cases.waiting(call.conn, row["case_id"]))
    cases.move(call.conn, row["case_id"], expected=(row["status"],), values=dict(status=status))
    _event(call, row["case_id"], "verification_answered",
           f"{asked['verification_id']} {asked['to_region']}: {text}")
    audit.action(call, "case.verification.answer", row["case_id"],
                 verification_id=asked["verification_id"])


def conclude(call: Call, case_id: str, decision: rules.Conclusion) -> RowMapping:
    """An approver who is not the assignee concludes: the clues close (they stay in the
    case), and each outcome chosen happens in this transaction. Concluded once: a second
    conclusion, even a concurrent one, is refused (E-CAS-005) and posts nothing."""
    conn = call.conn
    row = _case(conn, case_id, lock=True)
    rules.check_may_conclude(row["case_id"], row["status"], call.actor.name,
                             row["assigned_to"], cases.waiting(conn, row["case_id"]))
    subject = rules.Subject(row["fixmedins_code"], row["psn_no"], row["amount_at_risk"])
    chosen = rules.check_conclusion(decision, subject)
    if not cases.move(conn, row["case_id"], expected=(rules.INVESTIGATING,), values=dict(
            status=rules.CONCLUDED, concluded_by=call.actor.name, concluded_at=call.now)):
        raise Refused("E-CAS-005", f"case {row['case_id']} was concluded meanwhile")
    region = _region_of(conn, subject.fixmedins_code) if subject.fixmedins_code else ""
    suspension_id = _suspend_person(call, row, chosen) if chosen.suspend_months else None
    cases.add_conclusion(conn, dict(
        case_id=row["case_id"], outcomes=",".join(chosen.outcomes),
        fixmedins_code=subject.fixmedins_code, region=region, recovery=chosen.recovery,
        recovery_reason=chosen.recovery_reason, fine=chosen.fine,
        suspend_months=chosen.suspend_months, suspension_id=suspension_id,
        suspend_institution=chosen.suspend_institution, note=chosen.note,
        concluded_by=call.actor.name, concluded_at=call.now))
    if chosen.recovery:
        ledger.post(conn, ledger_rules.txn(ledger_rules.TXN_RECOVERY, row["case_id"]),
                    "recovery", ledger_rules.recovery_entries(
                        region, subject.fixmedins_code, chosen.recovery), call.now)
    if chosen.suspend_institution:
        institutions.set_flag(call, subject.fixmedins_code, NETWORKED, False)
    _event(call, row["case_id"], "concluded", _summary(chosen))
    audit.action(call, "case.conclude", row["case_id"], outcomes=list(chosen.outcomes),
                 recovery=chosen.recovery, fine=chosen.fine,
                 suspend_months=chosen.suspend_months, suspension_id=suspension_id)
    found = cases.conclusion(conn, row["case_id"])
    assert found is not None
    return found


def _region_of(conn: Connection, code: str) -> str:
    found = institution_store.find(conn, code)
    if found is None:
        raise Refused("E-ADM-001", code)
    return found.pool_area


def _suspend_person(call: Call, row: RowMapping, chosen: rules.Conclusion) -> int:
    """The person's direct settlement suspended from tomorrow for the months chosen,
    through the existing suspension (its audit, its token revocation)."""
    begin = call.now.date() + timedelta(days=1)
    end = rules.suspension_end(begin, chosen.suspend_months)
    return cards.suspend(call, row["psn_no"], begin, end,
                         f"supervision case {row['case_id']}")


def _summary(c: rules.Conclusion) -> str:
    parts = list(c.outcomes)
    if c.recovery:
        parts.append(f"recovery={c.recovery}")
    if c.fine:
        parts.append(f"fine={c.fine}")
    if c.suspend_months:
        parts.append(f"months={c.suspend_months}")
    return " ".join(parts) + (f": {c.note}" if c.note else "")


def of(conn: Connection, case_id: str) -> Case:
    row = _case(conn, case_id)
    return Case(row, cases.clues_of(conn, row["case_id"]), cases.events(conn, row["case_id"]),
                cases.files(conn, row["case_id"]), cases.verifications(conn, row["case_id"]),
                cases.conclusion(conn, row["case_id"]))


def listed(conn: Connection, *, status: str | None = None) -> list[RowMapping]:
    if status is not None and status not in rules.STATUSES:
        raise Refused("E-ENV-005", f"status: one of {', '.join(rules.STATUSES)}")
    return cases.listed(conn, status=status)


def clue(conn: Connection, clue_id: str) -> RowMapping:
    row = clues.get(conn, clue_id[:30])
    if row is None:
        raise Refused("E-CAS-004", f"no clue {clue_id[:30]}")
    return row


def clue_listing(conn: Connection, *, status: str | None = None) -> list[RowMapping]:
    return clues.listed(conn, status=status)


def evidence_rows(row: RowMapping) -> list[dict[str, Any]]:
    return clues.evidence(dict(row))
