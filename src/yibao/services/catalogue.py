"""The catalogue of the place of treatment as the HIS downloads it (1301-1306 files,
1304/1312/1316/1318/1319 queries, paged in SQL) and the dictionaries (1901)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import RowMapping, Select, func, or_, select

from yibao.domain.codes import NATIONAL_TABLES
from yibao.domain.paging import Page
from yibao.services import files
from yibao.services.context import Call
from yibao.store.schema import catalogue_item, reference_list

ITEM_COLUMNS = (
    "code", "name", "list_type", "chrgitm_lv", "price_cap", "selfpay_ratio", "valid_from",
    "valid_to", "ver",
)
REFERENCE_COLUMNS = ("code", "name", "valid_from", "valid_to", "ver")
PAGE_SIZE_MAX = 1000


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """Which catalogue items of the caller's area: of list types, newer than a version,
    one code, valid on a day, with a price cap only, of one charge level only."""

    list_types: tuple[str, ...] = ()
    after_ver: str = ""
    code: str = ""
    day: date | None = None
    capped: bool = False
    chrgitm_lv: str = ""


def _item_query(call: Call, f: ItemFilter) -> Select[Any]:
    c = catalogue_item.c
    query = select(catalogue_item).where(c.region == call.institution.pool_area)
    if f.list_types:
        query = query.where(c.list_type.in_(f.list_types))
    if f.after_ver:
        query = query.where(c.ver > f.after_ver)
    if f.code:
        query = query.where(c.code == f.code)
    if f.day is not None:
        query = query.where(c.valid_from <= f.day,
                            or_(c.valid_to.is_(None), c.valid_to >= f.day))
    if f.capped:
        query = query.where(c.price_cap.is_not(None))
    if f.chrgitm_lv:
        query = query.where(c.chrgitm_lv == f.chrgitm_lv)
    return query.order_by(c.ver, c.code)


def items(call: Call, f: ItemFilter) -> list[RowMapping]:
    """Every item the filter selects (a download file holds them all)."""
    return list(call.conn.execute(_item_query(call, f)).mappings())


def item_page(call: Call, f: ItemFilter, page: Page) -> tuple[list[RowMapping], int]:
    """One page of the items the filter selects, and how many it selects in all."""
    return _paged(call, _item_query(call, f), page)


def _reference_query(kind: str, after_ver: str) -> Select[Any]:
    c = reference_list.c
    return select(reference_list).where(c.kind == kind, c.ver > after_ver).order_by(
        c.ver, c.code)


def reference(call: Call, kind: str, *, after_ver: str = "") -> list[RowMapping]:
    return list(call.conn.execute(_reference_query(kind, after_ver)).mappings())


def reference_page(call: Call, kind: str, page: Page) -> tuple[list[RowMapping], int]:
    return _paged(call, _reference_query(kind, ""), page)


def _paged(call: Call, query: Select[Any], page: Page) -> tuple[list[RowMapping], int]:
    total = call.conn.execute(select(func.count()).select_from(
        query.order_by(None).subquery())).scalar_one()
    rows = call.conn.execute(query.limit(page.limit).offset(page.offset)).mappings()
    return list(rows), int(total)


def download_file(
    call: Call, infno: str, rows: list[RowMapping], columns: tuple[str, ...]
) -> dict[str, Any]:
    """The ZIP of one tab-separated TXT of the rows, for 9102; answer as 1301 does. One
    stored file per catalogue version: a later call with the same rows gets the same one."""
    filename = f"{infno}_{call.institution.pool_area}_{call.now:%Y%m%d%H%M%S}.zip"
    content = files.zip_rows(
        f"{infno}_{call.institution.pool_area}.txt", ([row[c] for c in columns] for row in rows)
    )
    key = hashlib.sha256(f"{infno}|{call.institution.pool_area}|".encode() + content)
    stored = files.catalogue_file(call, key.hexdigest(), filename, content)
    return {
        "file_qury_no": stored.file_qury_no, "filename": stored.filename,
        "dld_end_time": stored.dld_endtime.date().isoformat(), "data_cnt": len(rows),
    }


@cache
def dictionaries() -> dict[str, dict[str, Any]]:
    """Chapter 6 code tables of the reference spec, with yibao's national tables on top."""
    source = resources.files("yibao") / "data" / "dictionaries.json"
    tables: dict[str, dict[str, Any]] = json.loads(source.read_text(encoding="utf-8"))["tables"]
    for name, (title, values) in NATIONAL_TABLES.items():
        tables[name] = {"title": title, "values": dict(values)}
    return tables
