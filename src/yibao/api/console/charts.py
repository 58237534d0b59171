"""Charts of the console's pages: SVG rendered on the server by pygal, inlined in the
page (no script: pygal's own configuration script and comments are left out, so the
chart references nothing outside the page), each with the table of its numbers
(``Figure``: the template shows the chart, its caption and the table in a <details>)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import pygal  # type: ignore[import-untyped]
from markupsafe import Markup
from pygal.style import Style  # type: ignore[import-untyped]

_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
STYLE = Style(background="transparent", plot_background="transparent",
              font_family="system-ui, sans-serif",
              colors=("#1f5fa8", "#c0392b", "#2e8b57", "#d68910", "#7d3c98", "#5d6d7e"),
              label_font_size=13, major_label_font_size=13, legend_font_size=14,
              title_font_size=16, tooltip_font_size=13)
Series = tuple[str, Sequence[int | Decimal]]


@dataclass(frozen=True, slots=True)
class Figure:
    """A chart (``svg``) with its caption and the same numbers as a table: ``header``
    and ``rows`` of text cells (money already in yuan)."""

    name: str
    caption: str
    svg: Markup
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def yuan_of(fen: int) -> Decimal:
    """Fen as yuan for a chart's axis (exact: a Decimal of two places)."""
    return Decimal(fen).scaleb(-2)


def chart(kind: str, labels: Sequence[str], series: Sequence[Series], *,
          secondary: Sequence[Series] = (), stacked: bool = False) -> Markup:
    """A ``kind`` ("bar", "line" or "hbar") chart of ``series`` over ``labels``, and on a
    second axis the ``secondary`` series (money beside counts)."""
    make = {"bar": pygal.StackedBar if stacked else pygal.Bar, "line": pygal.Line,
            "hbar": pygal.HorizontalStackedBar if stacked else pygal.HorizontalBar}[kind]
    drawn = make(js=[], disable_xml_declaration=True, style=STYLE, width=560, height=320,
                 x_label_rotation=-45 if len(labels) > 8 else 0, legend_at_bottom=True,
                 show_minor_x_labels=len(labels) <= 15, x_labels_major_every=7,
                 truncate_legend=-1, truncate_label=-1, print_values=False,
                 # both axes from 0, five round labels each (the table has the exact numbers)
                 range=(0, _top(series)), secondary_range=(0, _top(secondary)),
                 y_labels_major_count=5, show_minor_y_labels=False,
                 formatter=_label, value_formatter=_label)
    drawn.x_labels = list(labels)
    for name, values in series:
        drawn.add(name, list(values))
    for name, values in secondary if labels else ():  # pygal: no second axis when empty
        drawn.add(name, list(values), secondary=True)
    svg = drawn.render(is_unicode=True)
    return Markup(_COMMENT.sub("", _SCRIPT.sub("", svg)))


def _top(series: Sequence[Series]) -> float:
    """The top of an axis: its largest value (at least 1, so an empty chart has an axis)."""
    return float(max((v for _name, values in series for v in values), default=0) or 1)


def _label(value: float) -> str:
    """An axis label: whole numbers plain, others to one decimal (no float noise)."""
    return f"{value:,.0f}" if value == int(value) or abs(value) >= 100 else f"{value:,.1f}"
