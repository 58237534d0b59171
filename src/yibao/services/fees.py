"""Fee details: upload (2204/2301) classified against the treatment place's catalogue,
and cancellation of unsettled lines (2205/2302)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from yibao.domain.catalogue import (
    CatalogueItem,
    Classified,
    amount_matches,
    charge_category,
    classify,
)
from yibao.domain.codes import VisitClass
from yibao.domain.errors import Refused
from yibao.domain.money import Fen, fen_to_yuan, price_times_count
from yibao.domain.visit_states import VisitStatus
from yibao.services.context import Call, Done, Effect, EffectKind
from yibao.services.visits import get_visit, is_final_settled, require_status
from yibao.store.lean import Lean, Row
from yibao.store.schema import catalogue_item, fee_line

_ITEMS = select(catalogue_item).where(
    catalogue_item.c.region == bindparam("region"),
    catalogue_item.c.code.in_(bindparam("codes", expanding=True)),
)
_UNSETTLED_QUERY = (
    select(fee_line)
    .where(
        fee_line.c.mdtrt_id == bindparam("mdtrt_id"),
        fee_line.c.status == "active",
        fee_line.c.setl_id.is_(None),
    )
    .order_by(fee_line.c.id)
)
_UNSETTLED = Lean(_UNSETTLED_QUERY)
_UNSETTLED_BATCH = Lean(_UNSETTLED_QUERY.where(fee_line.c.chrg_bchno == bindparam("batch")))
_INSERT_LINE = insert(fee_line)

ALL_LINES = "0000"
ACTIVE = "active"
CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a line's item stands in the catalogue: its list type (目录类别, "" outside
    the catalogue) and its fee-item category (med_chrgitm_type, 01-14)."""

    list_type: str
    category: str


@dataclass(frozen=True, slots=True)
class FeeLineIn:
    feedetl_sn: str
    init_feedetl_sn: str
    chrg_bchno: str
    list_code: str
    medins_code: str
    name: str
    amount: Fen
    count: Decimal
    price: Decimal
    time: datetime | None


class Catalogue:
    """The catalogue entries of a region for a set of codes, read in one query; the
    entry valid on a line's day is picked per line."""

    def __init__(self, conn: Connection, region: str, codes: set[str]) -> None:
        self.rows: dict[str, list[Row]] = {}
        for row in conn.execute(_ITEMS, {"region": region, "codes": sorted(codes)}).mappings():
            self.rows.setdefault(row["code"], []).append(row)

    def item(self, code: str, day: date) -> CatalogueItem | None:
        for row in self.rows.get(code, ()):
            if row["valid_from"] <= day and (row["valid_to"] is None or day <= row["valid_to"]):
                cap = row["price_cap"]
                return CatalogueItem(
                    code=row["code"], name=row["name"], chrgitm_lv=row["chrgitm_lv"],
                    price_cap=None if cap is None else Decimal(cap),
                    selfpay_ratio=Decimal(row["selfpay_ratio"]), list_type=row["list_type"],
                    charge_category=row["med_chrgitm_type"],
                )
        return None


def upload(
    call: Call, mdtrt_id: str, psn_no: str, lines: Sequence[FeeLineIn], visit_class: VisitClass
) -> Done[list[tuple[FeeLineIn, Classified, Placed]]]:
    """Store and classify fee lines; each line with its classification and place in the
    catalogue."""
    row = get_visit(call, mdtrt_id, psn_no, lock=True)
    if row["visit_class"] != visit_class.value:
        raise Refused("E-VIS-003", f"visit {mdtrt_id} is {row['visit_class']}")
    require_status(row, VisitStatus.OPEN, VisitStatus.DISCHARGED)
    if visit_class is VisitClass.INPATIENT and is_final_settled(call.conn, mdtrt_id):
        raise Refused("E-VIS-002", "the stay is finally settled: cancel it (2305) first")
    if row["status"] != VisitStatus.OPEN and visit_class is VisitClass.OUTPATIENT:
        raise Refused("E-VIS-002", f"visit {mdtrt_id} is {row['status']}")
    _check_unique(call.conn, mdtrt_id, lines)
    catalogue = Catalogue(call.conn, call.institution.pool_area, {x.list_code for x in lines})
    results = [_classify_line(call, catalogue, line) for line in lines]
    rows = [_line_row(call, row, line, c, placed) for line, c, placed in results]
    charges = [r for r in rows if r["det_item_fee_sumamt"] >= 0]
    if charges:
        call.conn.execute(_INSERT_LINE, charges)
    for refund, item in zip(rows, lines, strict=True):
        if refund["det_item_fee_sumamt"] < 0:  # after the lines it may refund
            _check_refund(call.conn, mdtrt_id, item)
            call.conn.execute(_INSERT_LINE, refund)
    return Done(results, Effect(EffectKind.FEES, mdtrt_id))


def _check_unique(conn: Connection, mdtrt_id: str, lines: Sequence[FeeLineIn]) -> None:
    numbers = [line.feedetl_sn for line in lines]
    if len(numbers) != len(set(numbers)):
        raise Refused("E-FEE-001", "the same feedetl_sn appears twice in the message")
    taken = conn.execute(
        select(fee_line.c.feedetl_sn).where(
            fee_line.c.mdtrt_id == mdtrt_id,
            fee_line.c.status == ACTIVE,
            fee_line.c.feedetl_sn.in_(numbers),
        )
    ).scalars().first()
    if taken is not None:
        raise Refused("E-FEE-001", f"feedetl_sn {taken}")


def _classify_line(
    call: Call, catalogue: Catalogue, line: FeeLineIn
) -> tuple[FeeLineIn, Classified, Placed]:
    if not amount_matches(line.amount, line.price, line.count):
        raise Refused("E-FEE-002", f"feedetl_sn {line.feedetl_sn[:30]}: det_item_fee_sumamt "
                      f"{fen_to_yuan(line.amount)} received, "
                      f"{fen_to_yuan(price_times_count(line.price, line.count))} expected "
                      f"(pric {line.price:f} x cnt {line.count:f}, yuan)")
    if (line.amount < 0) != (line.count < 0) or line.count == 0:
        raise Refused("E-ENV-005", f"feedetl_sn {line.feedetl_sn}: cnt and amount disagree")
    item = catalogue.item(line.list_code, (line.time or call.now).date())
    classified = classify(item, line.amount, line.price, line.count)
    if item is None:
        return line, classified, Placed("", charge_category("", ""))
    return line, classified, Placed(item.list_type,
                                    charge_category(item.charge_category, item.list_type))


def _line_row(
    call: Call, visit_row: Row, line: FeeLineIn, classified: Classified, placed: Placed
) -> dict[str, Any]:
    return dict(
        psn_no=visit_row["psn_no"], mdtrt_id=visit_row["mdtrt_id"],
        feedetl_sn=line.feedetl_sn, init_feedetl_sn=line.init_feedetl_sn,
        chrg_bchno=line.chrg_bchno, med_list_codg=line.list_code,
        medins_list_codg=line.medins_code, med_list_name=line.name,
        cnt=str(line.count), pric=str(line.price), det_item_fee_sumamt=line.amount,
        fulamt_ownpay_amt=classified.fulamt_ownpay, overlmt_amt=classified.overlmt_selfpay,
        preselfpay_amt=classified.preselfpay, inscp_scp_amt=classified.in_scope,
        chrgitm_lv=classified.chrgitm_lv, selfpay_prop=str(classified.selfpay_ratio),
        pric_uplmt_amt=None if classified.price_cap is None else str(classified.price_cap),
        list_type=placed.list_type, med_chrgitm_type=placed.category, fee_ocur_time=line.time,
        status=ACTIVE, msgid=call.ref,
    )


def _check_refund(conn: Connection, mdtrt_id: str, line: FeeLineIn) -> None:
    """A refund line (negative cnt) must point at an active line and not exceed it."""
    if not line.init_feedetl_sn:
        raise Refused("E-FEE-003", f"feedetl_sn {line.feedetl_sn} has no init_feedetl_sn")
    original = conn.execute(
        select(fee_line).where(
            fee_line.c.mdtrt_id == mdtrt_id,
            fee_line.c.feedetl_sn == line.init_feedetl_sn,
            fee_line.c.status == ACTIVE,
        )
    ).mappings().first()
    if original is None or original["det_item_fee_sumamt"] <= 0:
        raise Refused("E-FEE-003", f"init_feedetl_sn {line.init_feedetl_sn}")
    refunded = conn.execute(
        select(func.coalesce(func.sum(fee_line.c.det_item_fee_sumamt), 0)).where(
            fee_line.c.mdtrt_id == mdtrt_id,
            fee_line.c.init_feedetl_sn == line.init_feedetl_sn,
            fee_line.c.status == ACTIVE,
        )
    ).scalar_one()
    if original["det_item_fee_sumamt"] + refunded + line.amount < 0:
        raise Refused("E-FEE-003", f"refund exceeds line {line.init_feedetl_sn}")


def cancel(
    call: Call, mdtrt_id: str, psn_no: str, *, batch: str = "", feedetl_sn: str = ""
) -> Done[int]:
    """Cancel unsettled lines: all (``0000``), one batch, or one line; the count."""
    row = get_visit(call, mdtrt_id, psn_no, lock=True)
    require_status(row, VisitStatus.OPEN, VisitStatus.DISCHARGED)
    where = []
    if batch and batch != ALL_LINES:
        where.append(fee_line.c.chrg_bchno == batch)
    if feedetl_sn and feedetl_sn != ALL_LINES:
        where.append(fee_line.c.feedetl_sn == feedetl_sn)
    count = withdraw(call.conn, mdtrt_id, where, refusal="E-FEE-006", skip_settled=not where)
    if count == 0:
        raise Refused("E-FEE-004", "nothing to cancel")
    return Done(count, Effect(EffectKind.FEES_CANCEL, mdtrt_id))


def withdraw(
    conn: Connection, mdtrt_id: str, where: list[Any], *, refusal: str, skip_settled: bool
) -> int:
    """Cancel the visit's active lines matching ``where``. Settled lines are skipped or
    refused; a line that an active refund line still points at is refused (the refund
    would be left against nothing)."""
    lines = fee_line.c
    chosen = list(conn.execute(
        select(lines.id, lines.feedetl_sn, lines.setl_id)
        .where(lines.mdtrt_id == mdtrt_id, lines.status == ACTIVE, *where)
    ))
    if any(r.setl_id is not None for r in chosen) and not skip_settled:
        raise Refused(refusal, "some of these lines are settled; cancel the settlement first")
    chosen = [r for r in chosen if r.setl_id is None]
    ids = [r.id for r in chosen]
    refund = conn.execute(
        select(lines.feedetl_sn, lines.init_feedetl_sn).where(
            lines.mdtrt_id == mdtrt_id, lines.status == ACTIVE, lines.id.not_in(ids),
            lines.init_feedetl_sn.in_([r.feedetl_sn for r in chosen]),
        )
    ).first()
    if refund is not None:
        raise Refused(
            refusal, f"line {refund.init_feedetl_sn} is refunded by {refund.feedetl_sn}: "
            "cancel the refund line too",
        )
    if ids:
        conn.execute(update(fee_line).where(lines.id.in_(ids)).values(status=CANCELLED))
    return len(ids)


def unsettled_lines(conn: Connection, mdtrt_id: str, batch: str = "") -> list[Row]:
    """The visit's active lines not settled yet (of one charge batch, unless ``batch`` is
    empty or ALL_LINES), in the order they were uploaded."""
    if _one_batch(batch):
        return _UNSETTLED_BATCH.all(conn, {"mdtrt_id": mdtrt_id, "batch": batch})
    return _UNSETTLED.all(conn, {"mdtrt_id": mdtrt_id})


def unsettled_of(rows: Sequence[Row], batch: str = "") -> list[Row]:
    """What ``unsettled_lines`` reads, taken from rows read already: every active line
    of the visit (review_warnings.visit_rows, where settlement reads them with the
    catalogue's limits for its supervision check)."""
    return sorted((r for r in rows if r["status"] == ACTIVE and r["setl_id"] is None
                   and (not _one_batch(batch) or r["chrg_bchno"] == batch)),
                  key=lambda r: r["id"])


def _one_batch(batch: str) -> bool:
    return bool(batch) and batch != ALL_LINES


@dataclass(frozen=True, slots=True)
class MemoChange:
    """2306: the memo (a traceability code) of one uploaded line, named by the visit,
    its feedetl_sn (the standard's bkkp_sn) and its medical-list code."""

    mdtrt_id: str
    psn_no: str
    feedetl_sn: str
    list_code: str
    memo: str


def set_memos(call: Call, changes: Sequence[MemoChange]) -> int:
    """2306: set each line's memo; settled lines too (a trace code is added after the
    sale). The visit must be the caller's and not cancelled; the line active and of
    that medical-list code (E-FEE-007 otherwise). How many lines changed."""
    checked: set[str] = set()
    for change in changes:
        if change.mdtrt_id not in checked:
            row = get_visit(call, change.mdtrt_id, change.psn_no, lock=True)
            require_status(row, VisitStatus.OPEN, VisitStatus.DISCHARGED)
            checked.add(change.mdtrt_id)
        found = call.conn.execute(
            select(fee_line.c.id, fee_line.c.psn_no, fee_line.c.med_list_codg).where(
                fee_line.c.mdtrt_id == change.mdtrt_id, fee_line.c.status == ACTIVE,
                fee_line.c.feedetl_sn == change.feedetl_sn)
        ).first()
        if found is None:
            raise Refused("E-FEE-007", f"bkkp_sn {change.feedetl_sn} of {change.mdtrt_id}")
        if found.psn_no != change.psn_no:
            raise Refused("E-VIS-004", f"mdtrt_id {change.mdtrt_id}")
        if found.med_list_codg != change.list_code:
            raise Refused("E-FEE-007", f"bkkp_sn {change.feedetl_sn} is "
                          f"{found.med_list_codg}, not {change.list_code}")
        call.conn.execute(update(fee_line).where(fee_line.c.id == found.id)
                          .values(memo=change.memo))
    return len(changes)
