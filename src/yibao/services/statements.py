"""Clearing statements: one per institution (CSV and HTML) and the bureau's summary,
written from the stored results of a month's clearing."""

from __future__ import annotations

import csv
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from yibao.domain.codes import FUNDS
from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_yuan
from yibao.store.schema import clearing_institution, clearing_line, clearing_month, clearing_region

PERSONAL_ACCOUNT = "个人账户"
INSTITUTION_COLUMNS = ("fixmedins_code", "region", "settlements", "cancellations", "medfee",
                       "fund", "acct", "cash", "prepaid", "recovered", "due")
MONEY = frozenset({"medfee", "fund", "acct", "cash", "prepaid", "recovered", "due", "settled",
                   "cancelled",
                   "net", "amount", "advance_before", "drawn"})


@dataclass(frozen=True, slots=True)
class Statement:
    """A month's clearing as stored: its state (open or closed), every institution's
    totals (prepaid and due included), each institution's lines per fund and clearing
    type, and what each insured place owes each treatment place."""

    month: str
    status: str
    institutions: list[RowMapping]
    lines: dict[str, list[RowMapping]]
    regions: list[RowMapping]


def of_month(conn: Connection, month: str) -> Statement | None:
    """The month's stored clearing; None if it was never run."""
    state = conn.execute(select(clearing_month.c.status).where(
        clearing_month.c.month == month)).scalar_one_or_none()
    if state is None:
        return None
    institutions = list(conn.execute(select(clearing_institution).where(
        clearing_institution.c.month == month).order_by(
        clearing_institution.c.fixmedins_code)).mappings())
    lines: dict[str, list[RowMapping]] = {row["fixmedins_code"]: [] for row in institutions}
    for line in conn.execute(select(clearing_line).where(clearing_line.c.month == month)
                             .order_by(clearing_line.c.fixmedins_code,
                                       clearing_line.c.fund_pay_type,
                                       clearing_line.c.clr_type)).mappings():
        lines.setdefault(line["fixmedins_code"], []).append(line)
    regions = list(conn.execute(select(clearing_region).where(
        clearing_region.c.month == month).order_by(
        clearing_region.c.insured, clearing_region.c.treatment)).mappings())
    return Statement(month, str(state), institutions, lines, regions)


def write(conn: Connection, month: str, directory: Path) -> list[Path]:
    """All statements of a month; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    found = of_month(conn, month)
    if found is None:
        raise Refused("E-CLR-002", f"{month} has not been run")
    written = []
    for row in found.institutions:
        base = directory / f"statement-{month}-{row['fixmedins_code']}"
        written += _institution(base, month, found.status, row,
                                found.lines[row["fixmedins_code"]])
    written += _summary(directory / f"summary-{month}", month, found.status,
                        found.institutions, found.regions)
    return written


# a pair of regions: what the insured place owes, the advance fund before the month's
# draw and what it drew; then the fund after and what was paid bank to bank
REGION_COLUMNS = ("insured", "treatment", "amount", "settlements", "cancellations",
                  "advance_before", "drawn")


def _cell(name: str, value: object) -> str:
    return fen_to_yuan(int(str(value))) if name in MONEY else str(value)


def fund_name(code: str) -> str:
    return FUNDS[code][0] if code in FUNDS else PERSONAL_ACCOUNT


def _institution(base: Path, month: str, status: str, row: Mapping[Any, Any],
                 lines: Sequence[Mapping[Any, Any]]) -> list[Path]:
    header = ["fund_pay_type", "fund", "clr_type", "settled", "cancelled", "net"]
    body = [[x["fund_pay_type"], fund_name(x["fund_pay_type"]), x["clr_type"],
             *(_cell(k, x[k]) for k in ("settled", "cancelled", "net"))] for x in lines]
    totals = [[k, _cell(k, row[k])] for k in INSTITUTION_COLUMNS[2:]]
    csv_path = base.with_suffix(".csv")
    with csv_path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["month", month, "status", status, "institution", row["fixmedins_code"]])
        writer.writerow(header)
        writer.writerows(body)
        writer.writerows(totals)
    html_path = base.with_suffix(".html")
    html_path.write_text(_page(f"清算结算单 {row['fixmedins_code']} {month} ({status})",
                               [(header, body), (["item", "yuan / count"], totals)]),
                         encoding="utf-8")
    return [csv_path, html_path]


def _summary(base: Path, month: str, status: str, institutions: Sequence[Mapping[Any, Any]],
             regions: Sequence[Mapping[Any, Any]]) -> list[Path]:
    body = [[_cell(k, r[k]) for k in INSTITUTION_COLUMNS] for r in institutions]
    region_header = [*REGION_COLUMNS, "advance_after", "paid"]
    region_body = [[*(_cell(k, r[k]) for k in REGION_COLUMNS),
                    fen_to_yuan(r["advance_before"] - r["drawn"]),
                    fen_to_yuan(r["amount"] - r["drawn"])] for r in regions]
    csv_path = base.with_suffix(".csv")
    with csv_path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["month", month, "status", status])
        writer.writerow(INSTITUTION_COLUMNS)
        writer.writerows(body)
        writer.writerow(region_header)
        writer.writerows(region_body)
    html_path = base.with_suffix(".html")
    html_path.write_text(_page(f"月度清算汇总 {month} ({status})",
                               [(list(INSTITUTION_COLUMNS), body), (region_header, region_body)]),
                         encoding="utf-8")
    return [csv_path, html_path]


def _page(title: str, tables: list[tuple[list[str], list[list[str]]]]) -> str:
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<h1>{html.escape(title)}</h1>"]
    for header, rows in tables:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in rows)
        parts.append(f"<table border='1'><tr>{head}</tr>{body}</table>")
    return "\n".join(parts) + "\n"
