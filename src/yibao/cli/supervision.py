"""Fund supervision: ``yibao supervision screen|clues|rules`` (the rule library and its
clues) and ``report`` (the insured place's monthly analysis of its funds spent elsewhere,
as CSV or a self-contained HTML page); docs/supervision.md."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from yibao.cli.common import DB_OPTION, show, show_table, write_step
from yibao.store.db import Database

app = typer.Typer(help="Fund supervision: screen a month with the rule library, list the "
                  "clues, report an insured place's funds spent elsewhere")
OPERATOR_OPTION = typer.Option(os.environ.get("USER", "cli"), "--operator",
                               help="who screens (recorded)")


@app.command("screen")
def supervision_screen(
    month: str = typer.Option(..., "--month", help="YYYY-MM"),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb, or spark (the extra "
                               "yibao[spark])"),
    rule: list[str] = typer.Option([], "--rule", help="a rule id (SVnn), repeatable; "
                                   "none: every rule of the library with its SQL"),
    db: str = DB_OPTION, operator: str = OPERATOR_OPTION,
) -> None:
    """Screen a month (and its look-back) with the rule library; record the run and the
    clues that are new (a finding already a clue is not added again)."""
    import time

    from sqlalchemy import Connection

    from yibao.cli.common import cli_call
    from yibao.domain.money import fen_to_yuan
    from yibao.services import supervision
    from yibao.services.context import Actor, ActorKind

    def act(conn: Connection) -> supervision.RunSummary:
        call = cli_call(conn, Actor(ActorKind.OPERATOR, operator, role="cli"))
        return supervision.screen(call, month, engine, rule or None)

    started = time.perf_counter()
    done = write_step(db, act)
    show_table(("rule", "clues found"), [(r, n) for r, n in done.found.items()])
    show(f"{done.run_id} {month} on {done.engine}: {done.lines:,} fee lines and "
         f"{done.settlements:,} settlement rows screened, {sum(done.found.values()):,} "
         f"clues found, {done.new:,} new ({fen_to_yuan(done.new_amount_at_risk)} yuan at "
         f"risk) ({time.perf_counter() - started:.1f} s)")


@app.command("clues")
def supervision_clues(
    status: str | None = typer.Option(None, "--status", help="open, in_case or dismissed"),
    rule: str | None = typer.Option(None, "--rule", help="a rule id (SVnn)"),
    month: str | None = typer.Option(None, "--month", help="YYYY-MM"),
    institution: str | None = typer.Option(None, "--institution", help="fixmedins_code"),
    db: str = DB_OPTION,
) -> None:
    """The clues, the largest amount at risk first (yuan)."""
    from yibao.domain.errors import Refused
    from yibao.domain.money import fen_to_yuan
    from yibao.services import supervision

    try:
        with Database(db).read() as conn:
            rows = supervision.listed(conn, status=status, rule_id=rule, month=month,
                                      fixmedins_code=institution)
    except Refused as refusal:
        show(refusal.message, "red")
        raise typer.Exit(1) from None
    show_table(("clue", "rule", "month", "institution", "psn_no", "at risk", "status",
                "summary"),
               [(r["clue_id"], r["rule_id"], r["month"], r["fixmedins_code"], r["psn_no"],
                 fen_to_yuan(r["amount_at_risk"]), r["status"], r["summary"]) for r in rows])


@app.command("rules")
def supervision_rules() -> None:
    """The rule library: id, scope, severity, parameters, title."""
    from yibao.domain import supervision as library

    show_table(("rule", "scope", "severity", "params", "title"), [
        (r.id, r.scope.value, r.severity,
         " ".join(f"{k}={v}" for k, v in r.params.items()), r.title_en)
        for r in library.library()])


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
