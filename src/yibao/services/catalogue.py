"""The catalogue of the place of treatment as the HIS downloads it (1301-1306 files,
1312/1318/1319 queries) and the dictionaries (1901)."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import RowMapping, or_, select

from yibao.domain.codes import NATIONAL_TABLES
from yibao.services import files
from yibao.services.context import Ctx
from yibao.store.schema import catalogue_item, reference_list

ITEM_COLUMNS = (
    "code", "name", "list_type", "chrgitm_lv", "price_cap", "selfpay_ratio", "valid_from",
    "valid_to", "ver",
)
REFERENCE_COLUMNS = ("code", "name", "valid_from", "valid_to", "ver")
PAGE_SIZE_MAX = 1000


def items(
    ctx: Ctx, *, list_types: tuple[str, ...] = (), after_ver: str = "", code: str = "",
    day: date | None = None,
) -> list[RowMapping]:
    c = catalogue_item.c
    query = select(catalogue_item).where(c.region == ctx.institution.pool_area)
    if list_types:
        query = query.where(c.list_type.in_(list_types))
    if after_ver:
        query = query.where(c.ver > after_ver)
    if code:
        query = query.where(c.code == code)
    if day is not None:
        query = query.where(c.valid_from <= day, or_(c.valid_to.is_(None), c.valid_to >= day))
    return list(ctx.conn.execute(query.order_by(c.ver, c.code)).mappings())


def reference(ctx: Ctx, kind: str, *, after_ver: str = "") -> list[RowMapping]:
    c = reference_list.c
    query = select(reference_list).where(c.kind == kind, c.ver > after_ver)
    return list(ctx.conn.execute(query.order_by(c.ver, c.code)).mappings())


def download_file(
    ctx: Ctx, infno: str, rows: list[RowMapping], columns: tuple[str, ...]
) -> dict[str, Any]:
    """The ZIP of one tab-separated TXT of the rows, for 9102; answer as 1301 does. One
    stored file per catalogue version: a later call with the same rows gets the same one."""
    filename = f"{infno}_{ctx.institution.pool_area}_{ctx.now:%Y%m%d%H%M%S}.zip"
    content = files.zip_rows(
        f"{infno}_{ctx.institution.pool_area}.txt", ([row[c] for c in columns] for row in rows)
    )
    key = hashlib.sha256(f"{infno}|{ctx.institution.pool_area}|".encode() + content)
    stored = files.catalogue_file(ctx, key.hexdigest(), filename, content)
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
