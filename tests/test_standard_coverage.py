"""docs/transactions.md — every transaction of the standard's list (docs/
standard-transactions.tsv, its 表 1 接口列表) with whether yibao answers it — is exactly
what the transaction table (api/transactions.py) says. When the table changes, rewrite
the page with ``YIBAO_WRITE_DOCS=1 pytest tests/test_standard_coverage.py``."""

from __future__ import annotations

import os
from collections import Counter

from conftest import ROOT
from yibao.api import transactions
from yibao.services.online import CALLBACK_KINDS

LIST = ROOT / "docs" / "standard-transactions.tsv"
PAGE = ROOT / "docs" / "transactions.md"
YES, NO = "yes", "—"
SENT = "sent by yibao (the institution's callback)"


def standard() -> list[tuple[str, str, str]]:
    """(infno, first-level category, name) of each of the standard's transactions."""
    rows = []
    for line in LIST.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            infno, category, name = line.split("\t")
            rows.append((infno, category, name))
    return rows


def answer(infno: str, table: dict[str, object]) -> str:
    if infno in CALLBACK_KINDS:  # the centre sends these to the institution
        return SENT
    return YES if infno in table else NO


def render() -> str:
    table = transactions.table()
    listed = standard()
    known = {infno for infno, _, _ in listed}
    answered = Counter(category for infno, category, _ in listed
                       if answer(infno, table) != NO)
    totals = Counter(category for _, category, _ in listed)
    lines = [
        "# The standard's transactions and yibao",
        "",
        "Every transaction of the published edition's list (表 1 接口列表, "
        f"{len(listed)} transactions; `docs/standard-transactions.tsv`), and whether yibao "
        "answers it. A transaction yibao does not answer is refused `E-ENV-003` "
        "(unknown infno). Generated from the transaction table by "
        "tests/test_standard_coverage.py (`YIBAO_WRITE_DOCS=1` rewrites it); what each "
        "one does is in [interface.md](interface.md).",
        "",
        "| category | done | of |",
        "|---|---|---|",
        *(f"| {category} | {answered[category]} | {total} |"
          for category, total in totals.items()),
        f"| **all** | **{sum(answered.values())}** | **{len(listed)}** |",
        "",
        "| infno | category | name | yibao |",
        "|---|---|---|---|",
        *(f"| {infno} | {category} | {name} | {answer(infno, table)} |"
          for infno, category, name in listed),
        "",
        "yibao also answers these, which are not in that list:",
        "",
        "| infno | name |",
        "|---|---|",
        *(f"| {infno} | {entry.title} |" for infno, entry in sorted(table.items())
          if infno not in known),
        "",
    ]
    return "\n".join(lines)


def test_the_list_is_the_standards_whole_list():
    listed = standard()
    assert len(listed) == 206 and len({infno for infno, _, _ in listed}) == 206
    assert listed[0] == ("1101", "1-基础信息", "人员基本信息获取")


def test_the_page_says_what_the_table_answers():
    expected = render()
    if os.environ.get("YIBAO_WRITE_DOCS") == "1":
        PAGE.write_text(expected, encoding="utf-8")
    assert PAGE.read_text(encoding="utf-8") == expected, (
        "docs/transactions.md is stale: YIBAO_WRITE_DOCS=1 pytest "
        "tests/test_standard_coverage.py rewrites it")
