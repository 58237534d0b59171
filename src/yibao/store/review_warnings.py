"""Supervision in real time (issue 20): the catalogue's usage limits the visit rules read,
a visit's fee lines for the settlement check, and the warnings 3101/3102 answered with
what the institution did about them (3103). Each query once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, select, update

from yibao.domain.supervision_visit import Limits, Line
from yibao.store.lean import Lean, Row
from yibao.store.schema import catalogue_item, fee_line, review_warning

_LIMITS = select(
    catalogue_item.c.code, catalogue_item.c.price_cap, catalogue_item.c.lmt_gend,
    catalogue_item.c.lmt_age_min, catalogue_item.c.lmt_age_max, catalogue_item.c.lmt_daily_cnt,
    catalogue_item.c.lmt_course_days, catalogue_item.c.lmt_visit_times, catalogue_item.c.per_day,
).where(catalogue_item.c.region == bindparam("region"),
        catalogue_item.c.code.in_(bindparam("codes", expanding=True)))

# every active line of the visit (settled ones too: a course or a stay spans batches),
# refunds included, so that the rules see the visit net of refunds; with its item's
# limits in the region's catalogue. Every column of the line: a settlement takes the
# lines it settles from these rows (fees.unsettled_of), so its check costs no statement
_VISIT_LINES = Lean(select(
    fee_line, catalogue_item.c.code, catalogue_item.c.price_cap, catalogue_item.c.lmt_gend,
    catalogue_item.c.lmt_age_min, catalogue_item.c.lmt_age_max, catalogue_item.c.lmt_daily_cnt,
    catalogue_item.c.lmt_course_days, catalogue_item.c.lmt_visit_times, catalogue_item.c.per_day,
).outerjoin(catalogue_item, and_(catalogue_item.c.region == bindparam("region"),
                                 catalogue_item.c.code == fee_line.c.med_list_codg)).where(
    fee_line.c.mdtrt_id == bindparam("mdtrt_id"), fee_line.c.status == "active"))

def _decimal(text: str | None) -> Decimal | None:
    return None if text is None or text == "" else Decimal(text)


def limits_of(row: Row) -> Limits:
    return Limits(
        price_cap=_decimal(row["price_cap"]), gend=row["lmt_gend"] or "",
        age_min=row["lmt_age_min"], age_max=row["lmt_age_max"],
        daily_cnt=_decimal(row["lmt_daily_cnt"]), course_days=row["lmt_course_days"],
        visit_times=row["lmt_visit_times"], per_day=bool(row["per_day"]))


def limits(conn: Connection, region: str, codes: Iterable[str]) -> dict[str, Limits]:
    """The catalogue's limits of the region for those codes (a code not in the
    catalogue has none)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = conn.execute(_LIMITS, {"region": region, "codes": wanted}).mappings()
    return {row["code"]: limits_of(row) for row in rows}


def visit_rows(conn: Connection, mdtrt_id: str, region: str) -> list[Row]:
    """The visit's active fee lines (refunds and settled lines included), every column,
    each with its item's limits in the region's catalogue (``as_lines``)."""
    return _VISIT_LINES.all(conn, {"mdtrt_id": mdtrt_id, "region": region})


def visit_lines(conn: Connection, mdtrt_id: str,
                region: str) -> tuple[list[Line], dict[str, Limits]]:
    """The visit's active fee lines as the rules read them (refunds included) and the
    limits of their items in the region's catalogue."""
    return as_lines(visit_rows(conn, mdtrt_id, region))


def as_lines(rows: Sequence[Row]) -> tuple[list[Line], dict[str, Limits]]:
    """``visit_rows`` as the rules read them: the lines and their items' limits."""
    lines: list[Line] = []
    found: dict[str, Limits] = {}
    for row in rows:
        lines.append(Line(
            id=row["id"], ref=row["feedetl_sn"], code=row["med_list_codg"],
            list_type=row["list_type"], cnt=Decimal(row["cnt"]), pric=Decimal(row["pric"]),
            amount=row["det_item_fee_sumamt"], pric_uplmt=_decimal(row["pric_uplmt_amt"]),
            at=row["fee_ocur_time"], refund_of=row["init_feedetl_sn"],
            name=row["med_list_name"]))
        if row["code"] is not None:
            found[row["code"]] = limits_of(row)
    return lines, found

def record(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store the warnings a 3101/3102 answered."""
    if rows:
        conn.execute(insert(review_warning), list(rows))


def locked(conn: Connection, jr_ids: Sequence[str]) -> dict[str, Row]:
    """The warnings of those ids, locked for the feedback (in id order)."""
    rows = conn.execute(select(review_warning).where(
        review_warning.c.jr_id.in_(sorted(set(jr_ids)))).order_by(
        review_warning.c.jr_id).with_for_update()).mappings()
    return {row["jr_id"]: row for row in rows}


def feed_back(conn: Connection, jr_id: str, dspo_way: str, reason: str,
              at: datetime) -> bool:
    """Record what the institution did about a warning not yet fed back; False if it
    already was."""
    return conn.execute(update(review_warning).where(
        review_warning.c.jr_id == jr_id, review_warning.c.dspo_way == "").values(
        dspo_way=dspo_way, dspo_way_rea=reason, fed_back_at=at)).rowcount == 1


def of_message(conn: Connection, code: str, msgid: str) -> list[Row]:
    """The warnings one message was answered with (tests and the console read them)."""
    return list(conn.execute(select(review_warning).where(
        review_warning.c.fixmedins_code == code, review_warning.c.msgid == msgid).order_by(
        review_warning.c.jr_id)).mappings())
