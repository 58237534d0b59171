"""Reading a console page's tables the way a screen reader does: the text of each cell of
the table with a given id, row by row (header row first)."""

from __future__ import annotations

from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self, wanted: str) -> None:
        super().__init__()
        self.wanted = wanted
        self.depth = 0  # > 0 inside the wanted table
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and (self.depth or dict(attrs).get("id") == self.wanted):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table(html: str, table_id: str) -> list[list[str]]:
    """The rows of the table ``table_id`` (AssertionError if the page has none)."""
    parser = _Tables(table_id)
    parser.feed(html)
    assert parser.rows, f"no table {table_id}"
    return parser.rows


def by_first_cell(html: str, table_id: str) -> dict[str, list[str]]:
    """The body rows of a table keyed by their first cell (the header row left out)."""
    _header, *rows = table(html, table_id)
    return {row[0]: row[1:] for row in rows}
