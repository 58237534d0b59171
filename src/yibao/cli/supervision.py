"""Fund supervision: ``yibao supervision screen|clues|rules`` (docs/supervision.md)."""

from __future__ import annotations

import os

import typer

from yibao.cli.common import DB_OPTION, show, show_table, write_step
from yibao.store.db import Database

app = typer.Typer(help="Fund supervision: screen a month with the rule library, list the "
                  "clues")
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
