"""The insured place's monthly report of its funds spent elsewhere (docs/supervision.md,
The insured place's analysis), from one ``Analysis`` (services/away_analysis.py), in the
three forms the REST route, the console and ``yibao supervision report`` give it:

- JSON: money as yuan text with two decimals, changes as percent text, null for none;
- CSV: one file, UTF-8 with a byte-order mark (so that Excel on a Chinese Windows reads
  it as UTF-8, not GBK), CRLF line ends, one row per figure line with a ``section``
  column (total, trend, region, institution, disease), stable English column names,
  money in yuan, an ``outlier`` column saying why (in the report's language);
- HTML: one self-contained page (styles inline, the trend chart as inline SVG, no
  script, nothing loaded from elsewhere), in Chinese or English.

Presentation only: the figures and outliers are decided in domain/away_analysis.py."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment
from markupsafe import Markup

from yibao.api.console import i18n
from yibao.api.console.charts import chart, yuan_of
from yibao.api.console.web import environment
from yibao.domain.away_analysis import Analysis, Check, Dimension, Figures, Group, Outlier
from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_yuan

FORMATS = ("json", "csv", "html")
LANGUAGES = tuple(i18n.LANGUAGES)
BOM = "\ufeff"
CSV_COLUMNS = ("section", "month", "key", "name", "treatment_region", "level", "settlements",
               "visits", "persons", "medfee", "fund", "fund_per_visit", "fund_per_person",
               "fund_change_mom_pct", "fund_change_yoy_pct", "outlier")
Text = Callable[..., str]


def checked(fmt: str, lang: str) -> tuple[str, str]:
    """The format and language asked for (E-SUP-023 otherwise)."""
    if fmt not in FORMATS or lang not in LANGUAGES:
        raise Refused("E-SUP-023", f"format {fmt[:10]!r} (json, csv, html), lang "
                      f"{lang[:10]!r} ({', '.join(LANGUAGES)})")
    return fmt, lang


def _yuan(fen: int | None) -> str | None:
    return None if fen is None else fen_to_yuan(fen)


def figures_json(f: Figures) -> dict[str, Any]:
    return {"settlements": f.settlements, "visits": f.visits, "persons": f.persons,
            "medfee": fen_to_yuan(f.medfee), "fund": fen_to_yuan(f.fund),
            "fund_per_visit": _yuan(f.fund_per_visit),
            "fund_per_person": _yuan(f.fund_per_person)}


def why(_: Text, o: Outlier) -> str:
    """Why ``o`` is an outlier, in the language of ``_``."""
    values = dict(figure=fen_to_yuan(o.figure), reference=fen_to_yuan(o.reference),
                  ratio=o.ratio, peers=o.peers, threshold=o.threshold)
    if o.check is Check.JUMP:
        return _("Fund paid %(figure)s yuan is %(ratio)s times the median %(reference)s "
                 "yuan of its previous %(peers)s months (above %(threshold)s times)",
                 **values)
    if o.dimension is Dimension.REGION:
        return _("Fund per visit %(figure)s yuan is %(ratio)s times the median "
                 "%(reference)s yuan of the %(peers)s other treatment regions (above "
                 "%(threshold)s times)", **values)
    return _("Fund per visit %(figure)s yuan is %(ratio)s times the median %(reference)s "
             "yuan of %(peers)s institutions of the same treatment region and level "
             "(above %(threshold)s times)", **values)


def _english(message: str, **values: object) -> str:
    return message % values if values else message


def as_json(a: Analysis) -> dict[str, Any]:
    """The analysis as the REST route answers it (money in yuan text)."""
    t = a.thresholds

    def group(g: Group, key: str, extra: dict[str, Any]) -> dict[str, Any]:
        return {key: g.key, **extra, **figures_json(g.figures), "fund_change_mom": g.fund_mom,
                "outlier": g.outlier}

    return {
        "region": a.region, "month": str(a.month),
        "thresholds": {"peer_ratio": str(t.peer_ratio), "min_peers": t.min_peers,
                       "min_visits": t.min_visits, "jump_ratio": str(t.jump_ratio),
                       "history_months": t.history_months},
        "total": figures_json(a.total),
        "changes": {name: {"mom": c.mom, "yoy": c.yoy} for name, c in (
            ("fund", a.fund_change), ("visits", a.visits_change),
            ("fund_per_visit", a.fund_per_visit_change))},
        "trend": [{"month": str(m), **figures_json(f)} for m, f in a.trend],
        "regions": [group(g, "mdtrtarea_admvs", {}) for g in a.regions],
        "institutions": [group(g, "fixmedins_code", {
            "name": g.name, "mdtrtarea_admvs": g.treatment, "level": g.level})
            for g in a.institutions],
        "diseases": [group(g, "diag_code", {"diag_name": g.name}) for g in a.diseases],
        "outliers": [{"dimension": o.dimension.value, "key": o.key, "name": o.name,
                      "check": o.check.value, "figure": fen_to_yuan(o.figure),
                      "reference": fen_to_yuan(o.reference), "ratio": o.ratio,
                      "threshold": o.threshold, "peers": o.peers,
                      "why": why(_english, o)} for o in a.outliers],
    }


def reasons(_: Text, a: Analysis) -> dict[tuple[str, str], str]:
    """Per (dimension, key): why it is an outlier ("; " between two reasons)."""
    found: dict[tuple[str, str], list[str]] = {}
    for o in a.outliers:
        found.setdefault((o.dimension.value, o.key), []).append(why(_, o))
    return {k: "; ".join(v) for k, v in found.items()}


def _csv_row(section: str, month: str, f: Figures, **cells: object) -> list[object]:
    row: dict[str, object] = {
        "section": section, "month": month, "settlements": f.settlements,
        "visits": f.visits, "persons": f.persons, "medfee": fen_to_yuan(f.medfee),
        "fund": fen_to_yuan(f.fund), "fund_per_visit": _yuan(f.fund_per_visit),
        "fund_per_person": _yuan(f.fund_per_person), **cells}
    return ["" if row.get(c) is None else row[c] for c in CSV_COLUMNS]


def as_csv(a: Analysis, lang: str) -> bytes:
    """The report as one CSV file (UTF-8 with BOM, CRLF)."""
    _ = i18n.gettext_of(lang)
    out = io.StringIO()
    write = csv.writer(out, lineterminator="\r\n")
    write.writerow(CSV_COLUMNS)
    month = str(a.month)
    write.writerow(_csv_row("total", month, a.total, key=a.region,
                            fund_change_mom_pct=a.fund_change.mom,
                            fund_change_yoy_pct=a.fund_change.yoy))
    for m, f in a.trend:
        write.writerow(_csv_row("trend", str(m), f, key=a.region))
    why_of = reasons(_, a)
    for dimension, groups in ((Dimension.REGION, a.regions),
                              (Dimension.INSTITUTION, a.institutions),
                              (Dimension.DISEASE, a.diseases)):
        for g in groups:
            write.writerow(_csv_row(
                dimension.value, month, g.figures, key=g.key, name=g.name,
                treatment_region=g.treatment or None, level=g.level,
                fund_change_mom_pct=g.fund_mom,
                outlier=why_of.get((dimension.value, g.key))))
    return (BOM + out.getvalue()).encode("utf-8")


@dataclass(frozen=True, slots=True)
class View:
    """What the report's templates show (the standalone page and the console's)."""

    analysis: Analysis
    chart: Markup
    reasons: dict[tuple[str, str], str]  # per (dimension, key) of a table's row
    whys: tuple[str, ...]  # per outlier of the analysis


def view(a: Analysis, lang: str) -> View:
    _ = i18n.gettext_of(lang)
    svg = chart("line", [str(m) for m, _f in a.trend],
                [(_("Visits"), [f.visits for _m, f in a.trend])],
                secondary=[(_("Fund paid (yuan)"), [yuan_of(f.fund) for _m, f in a.trend])])
    return View(a, svg, reasons(_, a), tuple(why(_, o) for o in a.outliers))


@cache
def _environment() -> Environment:
    return environment()


def as_html(a: Analysis, lang: str) -> str:
    """The report as one self-contained HTML page in ``lang``."""
    return _environment().get_template("away_report.html").render(
        _=i18n.gettext_of(lang), lang=lang, v=view(a, lang))


def filename(a: Analysis, fmt: str) -> str:
    return f"away-analysis-{a.region}-{a.month}.{fmt}"


def response(a: Analysis, fmt: str, lang: str) -> Response:
    """The report as a file to save (``fmt`` csv or html) or as JSON."""
    if fmt == "json":
        return JSONResponse(as_json(a))
    disposition = {"content-disposition": f'attachment; filename="{filename(a, fmt)}"'}
    if fmt == "csv":
        return Response(as_csv(a, lang), media_type="text/csv; charset=utf-8",
                        headers=disposition)
    return HTMLResponse(as_html(a, lang), headers=disposition)
