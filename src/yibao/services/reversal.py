"""2601 reversal (冲正): undo whatever an uncertain message did, by its msgid.

The HIS sends 2601 when it never saw the answer to a message. If the original took
effect, its effect is undone (a settlement is cancelled, a visit cancelled, uploaded
lines withdrawn, a 2901 bill withdrawn, a 2902 fault period cancelled); if it never
arrived, nothing is undone and the msgid is blocked, so the original cannot take effect
if it arrives late. The answer says which happened.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import insert, select, update

from yibao.domain.codes import VisitClass
from yibao.domain.errors import Refused
from yibao.services import fees, filing, reimbursement, settlement, visits
from yibao.services.context import Ctx
from yibao.store.schema import fee_line, message, reversal, signin
from yibao.store.schema import settlement as settlement_table

REVERSED = "reversed"
NOT_RECEIVED = "not received: nothing to undo, msgid blocked"


def reverse(ctx: Ctx, psn_no: str, omsgid: str, oinfno: str) -> str:
    """Undo the message ``omsgid``; returns what happened."""
    done = ctx.conn.execute(
        select(reversal.c.outcome).where(
            reversal.c.fixmedins_code == ctx.institution.code, reversal.c.omsgid == omsgid
        )
    ).scalar_one_or_none()
    if done is not None:
        return f"already reversed earlier ({done})"
    original = ctx.conn.execute(
        select(message).where(
            message.c.fixmedins_code == ctx.institution.code, message.c.msgid == omsgid
        )
    ).mappings().first()
    if original is None:
        outcome = NOT_RECEIVED
        ctx.conn.execute(  # occupy the msgid: should the original arrive late, it conflicts
            insert(message).values(
                fixmedins_code=ctx.institution.code, msgid=omsgid, infno=oinfno[:6],
                body_hash="", infcode=-1, response="", effect="blocked by 2601",
                created_at=ctx.now,
            )
        )
    else:
        if original["infno"] != oinfno:
            raise Refused("E-REV-001", f"msgid {omsgid} was infno {original['infno']}")
        _undo(ctx, psn_no, omsgid, original["effect"] or "")
        outcome = f"{REVERSED} {oinfno} {original['effect']}"
    ctx.conn.execute(
        insert(reversal).values(
            fixmedins_code=ctx.institution.code, omsgid=omsgid, msgid=ctx.msgid,
            outcome=outcome[:200], created_at=ctx.now,
        )
    )
    ctx.effect = f"reversal:{omsgid}"
    return outcome


def _undo(ctx: Ctx, psn_no: str, omsgid: str, effect: str) -> None:
    kind, _, ref = effect.partition(":")
    undo = _UNDO.get(kind)
    if undo is None:
        raise Refused("E-REV-002", f"reversible: {REVERSIBLE}")
    undo(ctx, ref, psn_no, omsgid)


def _cancel_settlement(ctx: Ctx, setl_id: str, psn_no: str, omsgid: str) -> None:
    row = ctx.conn.execute(
        select(settlement_table).where(settlement_table.c.setl_id == setl_id)
    ).mappings().one()
    _same_person(row["psn_no"], psn_no)
    settlement.cancel(ctx, setl_id, row["mdtrt_id"], psn_no)


def _cancel_visit(ctx: Ctx, mdtrt_id: str, psn_no: str, omsgid: str) -> None:
    visit = visits.get_visit(ctx, mdtrt_id, psn_no)
    visits.cancel_visit(ctx, mdtrt_id, psn_no, VisitClass(visit["visit_class"]))


def _undo_discharge(ctx: Ctx, mdtrt_id: str, psn_no: str, omsgid: str) -> None:
    visits.undo_discharge(ctx, mdtrt_id, psn_no)


def _cancel_filing(ctx: Ctx, serial: str, psn_no: str, omsgid: str) -> None:
    # the filings it superseded stay ended (file again if needed)
    filing.cancel(ctx.conn, ctx.caller, serial, psn_no, f"reversed by 2601 {ctx.msgid}",
                  own_only=True)


def _sign_out(ctx: Ctx, sign_no: str, psn_no: str, omsgid: str) -> None:
    ctx.conn.execute(
        update(signin).where(signin.c.sign_no == sign_no).values(signout_time=ctx.now)
    )


def _withdraw_bill(ctx: Ctx, claim_id: str, psn_no: str, omsgid: str) -> None:
    reimbursement.withdraw_bill(ctx, claim_id, psn_no)


def _cancel_fault(ctx: Ctx, fault_id: str, psn_no: str, omsgid: str) -> None:
    """A fault period is the institution's, no person's: ``psn_no`` is not checked."""
    reimbursement.cancel_fault(ctx.conn, ctx.caller, fault_id, f"reversed by 2601 {ctx.msgid}")


def _same_person(actual: str, sent: str) -> None:
    if actual != sent:
        raise Refused("E-VIS-004", "psn_no differs from the original message's")


def _withdraw_lines(ctx: Ctx, mdtrt_id: str, psn_no: str, omsgid: str) -> None:
    visits.get_visit(ctx, mdtrt_id, psn_no, lock=True)
    fees.withdraw(
        ctx.conn, mdtrt_id, [fee_line.c.msgid == omsgid], refusal="E-REV-002",
        skip_settled=False,
    )


# what each effect recorded by the original message (hospital.py, ctx.effect) undoes
_UNDO: dict[str, Callable[[Ctx, str, str, str], None]] = {
    "settlement": _cancel_settlement,  # 2207 / 2304
    "visit": _cancel_visit,  # 2201 / 2401
    "fees": _withdraw_lines,  # 2204 / 2301
    "discharge": _undo_discharge,  # 2402
    "filing": _cancel_filing,  # 2501 / 2503 / 2507
    "signin": _sign_out,  # 9001
    "claim": _withdraw_bill,  # 2901 (yibao extension)
    "fault": _cancel_fault,  # 2902 (yibao extension)
}
REVERSIBLE = "2207/2304, 2201/2401, 2204/2301, 2402, 2501/2503/2507, 9001, 2901, 2902"
PERSONLESS = frozenset({"9001", "2902"})  # no person's: psn_no may be absent, is not checked
