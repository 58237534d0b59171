"""The institution's catalogue matchings (目录对照): which catalogue item each of its own
items is. 3301 uploads them, 3302 cancels one, 1317 lists them.

A matching is keyed by the institution, its own item code (fixmedins_hilist_id), the
list type and the catalogue code. Uploaded again it is replaced (and in force again); a
cancelled one is kept with vali_flag 0, so that a HIS syncing by updt_time sees it go."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, RowMapping, Select, func, insert, or_, select, update

from yibao.domain.errors import Refused
from yibao.domain.paging import Page
from yibao.services.context import Call
from yibao.store.schema import catalogue_item, medins_matching

IN_FORCE, CANCELLED = "1", "0"


@dataclass(frozen=True, slots=True)
class Matching:
    """One row of 3301: the institution's item, the catalogue item it is, from when to
    when, and the descriptive fields (``detail``: aprvno, dosform, ... as sent)."""

    medins_code: str
    medins_name: str
    list_type: str
    list_code: str
    begin: date
    end: date
    detail: tuple[tuple[str, str], ...] = ()


def upload(call: Call, rows: list[Matching]) -> int:
    """3301: store each matching (replacing the same key); how many."""
    keys = [(r.medins_code, r.list_type, r.list_code) for r in rows]
    if len(keys) != len(set(keys)):
        raise Refused("E-ENV-005", "the same matching appears twice in the message")
    for row in rows:
        _check(call, row)
        _store(call, row)
    return len(rows)


def _check(call: Call, row: Matching) -> None:
    if row.end < row.begin:
        raise Refused("E-ENV-005", f"{row.medins_code}: enddate is before begndate")
    c = catalogue_item.c
    found = call.conn.execute(select(c.list_type).where(
        c.region == call.institution.pool_area, c.code == row.list_code,
        c.valid_from <= row.end, or_(c.valid_to.is_(None), c.valid_to >= row.begin),
    )).scalars().all()
    if not found:
        raise Refused("E-CAT-001", f"med_list_codg {row.list_code} (valid "
                      f"{row.begin.isoformat()} to {row.end.isoformat()})")
    if row.list_type not in found:
        raise Refused("E-CAT-001", f"med_list_codg {row.list_code} is list_type "
                      f"{found[0]}, not {row.list_type}")


def _key(code: str, medins_code: str, list_type: str,
         list_code: str) -> list[ColumnElement[bool]]:
    c = medins_matching.c
    return [c.fixmedins_code == code, c.medins_list_codg == medins_code,
            c.list_type == list_type, c.med_list_codg == list_code]


def _store(call: Call, row: Matching) -> None:
    code = call.institution.code
    key = _key(code, row.medins_code, row.list_type, row.list_code)
    values = dict(medins_list_name=row.medins_name, insu_admdvs=call.institution.pool_area,
                  begndate=row.begin, enddate=row.end,
                  detail=json.dumps(dict(row.detail), ensure_ascii=False, sort_keys=True),
                  vali_flag=IN_FORCE, updt_time=call.now, opter_name=call.actor.staff[:50],
                  msgid=call.ref)
    changed = call.conn.execute(update(medins_matching).where(*key).values(**values))
    if changed.rowcount == 0:
        call.conn.execute(insert(medins_matching).values(
            fixmedins_code=code, medins_list_codg=row.medins_code, list_type=row.list_type,
            med_list_codg=row.list_code, rid=call.ids.new("MAT"), crte_time=call.now,
            **values))


def cancel(call: Call, medins_code: str, list_type: str, list_code: str) -> None:
    """3302: the matching is no longer in force (E-CAT-002 when there is none in force)."""
    key = _key(call.institution.code, medins_code, list_type, list_code)
    changed = call.conn.execute(
        update(medins_matching).where(*key, medins_matching.c.vali_flag == IN_FORCE)
        .values(vali_flag=CANCELLED, updt_time=call.now, msgid=call.ref,
                opter_name=call.actor.staff[:50]))
    if changed.rowcount == 0:
        raise Refused("E-CAT-002", f"fixmedins_hilist_id {medins_code}, list_type {list_type}, "
                      f"med_list_codg {list_code}")


@dataclass(frozen=True, slots=True)
class MatchingFilter:
    """1317's conditions: rows updated at or after ``updated``, and those set."""

    updated: datetime
    day: date | None = None
    medins_code: str = ""
    medins_name: str = ""
    list_type: str = ""
    list_code: str = ""
    begin: date | None = None
    vali_flag: str = ""


def _query(call: Call, f: MatchingFilter) -> Select[tuple[object, ...]]:
    c = medins_matching.c
    query = select(medins_matching).where(c.fixmedins_code == call.institution.code,
                                          c.updt_time >= f.updated)
    for column, value in ((c.medins_list_codg, f.medins_code), (c.list_type, f.list_type),
                          (c.med_list_codg, f.list_code), (c.vali_flag, f.vali_flag),
                          (c.begndate, f.begin)):
        if value:
            query = query.where(column == value)
    if f.medins_name:
        query = query.where(c.medins_list_name.contains(f.medins_name, autoescape=True))
    if f.day is not None:
        query = query.where(c.begndate <= f.day, c.enddate >= f.day)
    return query.order_by(c.updt_time, c.medins_list_codg, c.list_type, c.med_list_codg)


def listed(call: Call, f: MatchingFilter, page: Page) -> tuple[list[RowMapping], int]:
    """1317: one page of the caller's matchings the filter selects, and how many."""
    query = _query(call, f)
    total = call.conn.execute(
        select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = call.conn.execute(query.limit(page.limit).offset(page.offset)).mappings()
    return list(rows), int(total)


def detail_of(row: RowMapping) -> dict[str, str]:
    loaded = json.loads(row["detail"] or "{}")
    assert isinstance(loaded, dict), row["rid"]
    return {str(k): str(v) for k, v in loaded.items()}
