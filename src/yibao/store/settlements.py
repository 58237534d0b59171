"""The ``settlement`` aggregate: which settlements are live (no cancellation reverses
them; the unique index on ``reverses`` answers the NOT EXISTS). The hot-path statements
are built once, at import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, exists, select

from yibao.domain.codes import FUNDS
from yibao.domain.states import SettlementKind
from yibao.store.schema import settlement, settlement_fund

_CANCEL_ROW = settlement.alias("cancel_row")
# the settlement row of the enclosing query is reversed by no cancellation
NOT_REVERSED = ~exists().where(_CANCEL_ROW.c.reverses == settlement.c.setl_id)


def live(*criteria: ColumnElement[bool],
         kinds: tuple[SettlementKind, ...] = (SettlementKind.SETTLE,)) -> Select[Any]:
    """The settlements of ``kinds`` meeting ``criteria`` that no cancellation reverses."""
    kind = settlement.c.kind == kinds[0] if len(kinds) == 1 else settlement.c.kind.in_(kinds)
    return select(settlement).where(kind, NOT_REVERSED, *criteria)


def of_visit(mdtrt_id: str | ColumnElement[str], *, final_only: bool) -> Select[Any]:
    """The live real-time settlements of a visit (an id, or the ``visit`` row of an outer
    query), only its final ones (not interim) when ``final_only``."""
    query = live(settlement.c.mdtrt_id == mdtrt_id)
    return query.where(settlement.c.mid_setl_flag == "0") if final_only else query


def _ids_of_visit(final_only: bool) -> Select[Any]:
    return (of_visit(bindparam("mdtrt_id"), final_only=final_only)
            .with_only_columns(settlement.c.setl_id).order_by(settlement.c.seq))


_OF_VISIT = {final_only: _ids_of_visit(final_only) for final_only in (False, True)}
_REVERSED = select(settlement.c.setl_id).where(settlement.c.reverses == bindparam("setl_id"))


def live_of_visit(conn: Connection, mdtrt_id: str, *, final_only: bool) -> list[str]:
    """The ids of the visit's live real-time settlements, oldest first."""
    rows = conn.execute(_OF_VISIT[final_only], {"mdtrt_id": mdtrt_id}).scalars()
    return [str(setl_id) for setl_id in rows]


def is_reversed(conn: Connection, setl_id: str) -> bool:
    """Whether a cancellation reverses the settlement."""
    return conn.execute(_REVERSED, {"setl_id": setl_id}).first() is not None


def rests_on_filing(conn: Connection, psn_no: str, serial: str) -> bool:
    """A live settlement of the person (real-time or a claim's) records the filing as its
    basis or as its injury declaration."""
    query = live(
        settlement.c.psn_no == psn_no,
        (settlement.c.trt_dcla_detl_sn == serial) | (settlement.c.trum_dcla_detl_sn == serial),
        kinds=(SettlementKind.SETTLE, SettlementKind.CLAIM),
    ).with_only_columns(settlement.c.setl_id).limit(1)
    return conn.execute(query).first() is not None


def settled_invoice(conn: Connection, code: str, invono: str) -> str | None:
    """The live real-time settlement of an institution's invoice, if any."""
    query = live(settlement.c.fixmedins_code == code, settlement.c.invono == invono
                 ).with_only_columns(settlement.c.setl_id).limit(1)
    found: str | None = conn.execute(query).scalar_one_or_none()
    return found


@dataclass(frozen=True, slots=True)
class FundPart:
    """What one fund paid of a settlement (fen)."""

    fund_pay_type: str
    name: str
    paid: int


@dataclass(frozen=True, slots=True)
class Breakdown:
    """A settlement's amounts as the engine computed them (fen): the bill, its part in
    the policy's scope and wholly self-paid, the deductible, each fund, the account and
    cash."""

    setl_id: str
    kind: str
    medfee: int
    in_scope: int
    wholly_own: int
    deductible: int
    fund_total: int
    funds: tuple[FundPart, ...]
    account: int
    cash: int


_SETTLEMENT = select(settlement).where(settlement.c.setl_id == bindparam("setl_id"))
_FUNDS = (select(settlement_fund).where(settlement_fund.c.setl_id == bindparam("setl_id"))
          .order_by(settlement_fund.c.seq))


def breakdown(conn: Connection, setl_id: str) -> Breakdown | None:
    """The amounts of settlement ``setl_id`` (None: no such settlement)."""
    row = conn.execute(_SETTLEMENT, {"setl_id": setl_id}).mappings().first()
    if row is None:
        return None
    funds = tuple(FundPart(f["fund_pay_type"], FUNDS.get(f["fund_pay_type"], ("", ""))[0],
                           f["fund_payamt"])
                  for f in conn.execute(_FUNDS, {"setl_id": setl_id}).mappings())
    return Breakdown(
        setl_id=setl_id, kind=row["kind"], medfee=row["medfee_sumamt"],
        in_scope=row["inscp_scp_amt"], wholly_own=row["fulamt_ownpay_amt"],
        deductible=row["act_pay_dedc"], fund_total=row["fund_pay_sumamt"], funds=funds,
        account=row["acct_pay"], cash=row["psn_cash_pay"])
