"""Fund supervision: ``yibao supervision report`` (docs/supervision.md, The insured place's
analysis): the monthly report of an insured place's funds spent elsewhere, as CSV or a
self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

import typer

from yibao.cli.common import DB_OPTION, show
from yibao.store.db import Database

app = typer.Typer(help="Fund supervision: the insured place's analysis of its funds spent "
                  "elsewhere")


@app.command("report")
def supervision_report(
    region: str = typer.Option(..., "--region", help="the insured place (insuplc_admdvs, "
                               "6 digits, e.g. 130102)"),
    month: str = typer.Option(..., "--month", help="YYYY-MM"),
    fmt: str = typer.Option("html", "--format", help="html or csv (UTF-8 with BOM)"),
    lang: str = typer.Option("zh", "--lang", help="zh or en"),
    out: Path = typer.Option(..., "--out", help="the file to write"),
    db: str = DB_OPTION,
) -> None:
    """Write an insured place's monthly report of its funds spent elsewhere: per
    treatment region, institution and disease, the 12-month trend and the outliers.
    A bad region or month exits 1 with its code; a month without care away from home
    is an empty report."""
    from yibao.api import away_report
    from yibao.domain.errors import Refused
    from yibao.domain.money import fen_to_yuan
    from yibao.services import away_analysis
    from yibao.services.context import china_now

    try:
        away_report.checked(fmt, lang)
        if fmt == "json":
            raise Refused("E-SUP-023", "the command writes html or csv")
        with Database(db).read(snapshot=True) as conn:
            found = away_analysis.analysis(conn, region, month, today=china_now().date())
    except Refused as refusal:
        show(refusal.message, "red")
        raise typer.Exit(1) from refusal
    if fmt == "csv":
        out.write_bytes(away_report.as_csv(found, lang))
    else:
        out.write_text(away_report.as_html(found, lang), encoding="utf-8")
    show(f"{out}: {found.region} {found.month}, {found.total.visits} visits, fund paid "
         f"{fen_to_yuan(found.total.fund)} yuan, {len(found.outliers)} outliers")
