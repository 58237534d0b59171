"""2601 reversal (冲正): undo whatever an uncertain message did, by its msgid.

The HIS sends 2601 when it never saw the answer to a message. If the original took
effect, its effect is undone (a settlement is cancelled, a visit cancelled, uploaded
lines withdrawn, a 2901 bill withdrawn, a 2902 fault period cancelled); if it never
arrived, nothing is undone and the msgid is blocked, so the original cannot take effect
if it arrives late. The answer says which happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from yibao.domain.codes import VisitClass
from yibao.domain.errors import Refused
from yibao.services import (
    bills,
    designation,
    faults,
    fees,
    filing,
    pharmacy,
    settlement,
    visits,
)
from yibao.services.context import Call, Effect, EffectKind
from yibao.store.schema import fee_line, message, reversal, signin
from yibao.store.schema import settlement as settlement_table

REVERSED = "reversed"
NOT_RECEIVED = "not received: nothing to undo, msgid blocked"


@dataclass(frozen=True, slots=True)
class Reversed:
    """What a 2601 found and did; no effect when an earlier 2601 had reversed it."""

    outcome: str
    effect: Effect | None


def reverse(call: Call, psn_no: str, omsgid: str, oinfno: str) -> Reversed:
    """Undo the message ``omsgid``; what happened."""
    done = call.conn.execute(
        select(reversal.c.outcome).where(
            reversal.c.fixmedins_code == call.institution.code, reversal.c.omsgid == omsgid
        )
    ).scalar_one_or_none()
    if done is not None:
        return Reversed(f"already reversed earlier ({done})", None)
    original = call.conn.execute(
        select(message).where(
            message.c.fixmedins_code == call.institution.code, message.c.msgid == omsgid
        )
    ).mappings().first()
    if original is None:
        outcome = NOT_RECEIVED
        call.conn.execute(  # occupy the msgid: should the original arrive late, it conflicts
            insert(message).values(
                fixmedins_code=call.institution.code, msgid=omsgid, infno=oinfno[:6],
                body_hash="", infcode=-1, response="", effect="blocked by 2601",
                created_at=call.now,
            )
        )
    else:
        if original["infno"] != oinfno:
            raise Refused("E-REV-001", f"msgid {omsgid} was infno {original['infno']}")
        _undo(call, psn_no, omsgid, original["effect"] or "")
        outcome = f"{REVERSED} {oinfno} {original['effect']}"
    call.conn.execute(
        insert(reversal).values(
            fixmedins_code=call.institution.code, omsgid=omsgid, msgid=call.ref,
            outcome=outcome[:200], created_at=call.now,
        )
    )
    return Reversed(outcome, Effect(EffectKind.REVERSAL, omsgid))


def _undo(call: Call, psn_no: str, omsgid: str, stored: str) -> None:
    effect = Effect.parse(stored)
    undo = None if effect is None else _UNDO.get(effect.kind)
    if effect is None or undo is None:
        raise Refused("E-REV-002", f"reversible: {REVERSIBLE}")
    undo(call, effect.ref, psn_no, omsgid)


def _cancel_settlement(call: Call, setl_id: str, psn_no: str, omsgid: str) -> None:
    row = call.conn.execute(
        select(settlement_table).where(settlement_table.c.setl_id == setl_id)
    ).mappings().one()
    _same_person(row["psn_no"], psn_no)
    settlement.cancel(call, setl_id, row["mdtrt_id"], psn_no)


def _cancel_purchase(call: Call, setl_id: str, psn_no: str, omsgid: str) -> None:
    row = call.conn.execute(
        select(settlement_table).where(settlement_table.c.setl_id == setl_id)
    ).mappings().one()
    _same_person(row["psn_no"], psn_no)
    pharmacy.cancel(call, setl_id, row["mdtrt_id"], psn_no)


def _cancel_visit(call: Call, mdtrt_id: str, psn_no: str, omsgid: str) -> None:
    visit = visits.get_visit(call, mdtrt_id, psn_no)
    visits.cancel_visit(call, mdtrt_id, psn_no, VisitClass(visit["visit_class"]))


def _undo_discharge(call: Call, mdtrt_id: str, psn_no: str, omsgid: str) -> None:
    visits.undo_discharge(call, mdtrt_id, psn_no)


def _cancel_filing(call: Call, serial: str, psn_no: str, omsgid: str) -> None:
    # the filings it superseded stay ended (file again if needed)
    filing.cancel(call, serial, psn_no, f"reversed by 2601 {call.ref}", own_only=True)


def _cancel_designation(call: Call, serial: str, psn_no: str, omsgid: str) -> None:
    # a 2505 that changed a designation: the one it replaced stays ended (choose again)
    designation.cancel(call, serial, psn_no, f"reversed by 2601 {call.ref}", own_only=True)


def _sign_out(call: Call, sign_no: str, psn_no: str, omsgid: str) -> None:
    call.conn.execute(
        update(signin).where(signin.c.sign_no == sign_no).values(signout_time=call.now)
    )


def _withdraw_bill(call: Call, claim_id: str, psn_no: str, omsgid: str) -> None:
    bills.withdraw(call, claim_id, psn_no)


def _cancel_fault(call: Call, fault_id: str, psn_no: str, omsgid: str) -> None:
    """A fault period is the institution's, no person's: ``psn_no`` is not checked."""
    faults.cancel(call, fault_id, f"reversed by 2601 {call.ref}")


def _same_person(actual: str, sent: str) -> None:
    if actual != sent:
        raise Refused("E-VIS-004", "psn_no differs from the original message's")


def _withdraw_lines(call: Call, mdtrt_id: str, psn_no: str, omsgid: str) -> None:
    visits.get_visit(call, mdtrt_id, psn_no, lock=True)
    fees.withdraw(
        call.conn, mdtrt_id, [fee_line.c.msgid == omsgid], refusal="E-REV-002",
        skip_settled=False,
    )


# what each effect recorded by the original message (hospital.py, Answer.effect) undoes
_UNDO: dict[EffectKind, Callable[[Call, str, str, str], None]] = {
    EffectKind.SETTLEMENT: _cancel_settlement,  # 2207 / 2304
    EffectKind.PURCHASE: _cancel_purchase,  # 2102
    EffectKind.VISIT: _cancel_visit,  # 2201 / 2401
    EffectKind.FEES: _withdraw_lines,  # 2204 / 2301
    EffectKind.DISCHARGE: _undo_discharge,  # 2402
    EffectKind.FILING: _cancel_filing,  # 2501 / 2503 / 2507
    EffectKind.DESIGNATION: _cancel_designation,  # 2505
    EffectKind.SIGNIN: _sign_out,  # 9001
    EffectKind.CLAIM: _withdraw_bill,  # 2901 (yibao extension)
    EffectKind.FAULT: _cancel_fault,  # 2902 (yibao extension)
}
REVERSIBLE = ("2102, 2207/2304, 2201/2401, 2204/2301, 2402, 2501/2503/2505/2507, 9001, "
              "2901, 2902")
PERSONLESS = frozenset({"9001", "2902"})  # no person's: psn_no may be absent, is not checked
