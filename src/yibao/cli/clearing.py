"""Monthly clearing: ``yibao clearing run|close|prepay|statements``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from yibao.cli.common import DB_OPTION, T, cli_call, console, show, show_table, write_step
from yibao.store.db import Database

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from yibao.services.context import Call

app = typer.Typer(help="Monthly clearing, prepayment, advance funds between regions and "
                  "statements")
MONTH_OPTION = typer.Option(..., "--month", help="YYYY-MM")
OPERATOR_OPTION = typer.Option(os.environ.get("USER", "cli"), "--operator",
                               help="who runs it (recorded)")


def _step(db: str, operator: str, what: str, month: str, action: Callable[[Call], T]) -> T:
    """Run a clearing step in one write transaction that reads one snapshot of the store,
    then its row of the operators' log in the same transaction (role ``cli``: a command
    run on the server by whoever ``--operator`` names); a refusal (another run of the
    same month first, say) exits 1 with why."""
    import dataclasses

    from yibao.services import audit
    from yibao.services.context import Actor, ActorKind
    from yibao.store.policy_files import load_policies

    policies = load_policies()  # the insured places' [advance] terms (interest at close)

    def act(conn: Connection) -> T:
        call = dataclasses.replace(cli_call(
            conn, Actor(ActorKind.OPERATOR, operator, role="cli")), policies=policies)
        result = action(call)
        if what:
            audit.action(call, what, month)
        return result

    return write_step(db, act, snapshot=True)


@app.command("run")
def clearing_run(
    month: str = MONTH_OPTION, db: str = DB_OPTION, operator: str = OPERATOR_OPTION,
    engine: str = typer.Option("duckdb", "--engine", help="duckdb, or spark "
                                "(the extra yibao[spark])"),
    out: Path | None = typer.Option(None, "--out", help="write the statements here"),
) -> None:
    """Compute a month (again, while it is open) and print it as its statements total it:
    settlements and cancellations apart, institutions, region pairs, what is due (yuan,
    net of prepayments); optionally write the statements."""
    import time

    from yibao.analytics.engines import unavailable
    from yibao.domain.money import fen_to_yuan
    from yibao.services import clearing, statements

    lacking = unavailable(engine)
    if lacking:
        typer.echo(lacking, err=True)
        raise typer.Exit(2)
    started = time.perf_counter()
    done = _step(db, operator, "clearing.run", month, lambda call:
                 clearing.run(call, month, engine=engine))
    show(f"{month}: settlements {done.settlements:,}, cancellations {done.cancellations:,}, "
         f"institutions {done.institutions:,}, region pairs {done.regions:,}, due "
         f"{fen_to_yuan(done.due)} yuan ({time.perf_counter() - started:.1f} s)")
    if out is not None:
        with Database(db).read() as conn:
            files = statements.write(conn, month, out)
        console.print(f"{len(files)} statement files in {out}")


@app.command("close")
def clearing_close(month: str = MONTH_OPTION, db: str = DB_OPTION,
                   operator: str = OPERATOR_OPTION) -> None:
    """Close a month: post the payments; it is never rewritten afterwards."""
    from yibao.services import clearing

    _step(db, operator, "clearing.close", month, lambda call: clearing.close(call, month))
    console.print(f"[green]{month} closed[/]")
    _warn_low(db)


def _warn_low(db: str) -> None:
    """A line per advance fund that runs low (docs/clearing.md, Advance fund)."""
    from yibao.domain.money import fen_to_yuan
    from yibao.services import advance
    from yibao.services.context import china_now
    from yibao.store.policy_files import load_policies

    with Database(db).read() as conn:
        low = advance.low(conn, load_policies(), china_now().date())
    for p in low:
        show(f"advance fund {p.insured} → {p.treatment} runs low: {fen_to_yuan(p.balance)} "
             f"yuan left, below {fen_to_yuan(p.threshold)}: top it up "
             "(yibao clearing advance)", "yellow")


@app.command("advance")
def clearing_advance(
    insured: str = typer.Option(..., "--insured", help="the insured place (6 digits)"),
    treatment: str = typer.Option(..., "--treatment", help="the treatment place"),
    amount: str = typer.Option(..., "--amount", help="yuan, e.g. 1000000.00"),
    note: str = typer.Option("", "--note", help="e.g. the notice it follows"),
    db: str = DB_OPTION, operator: str = OPERATOR_OPTION,
) -> None:
    """Record an advance (or a top-up) the insured place places with the treatment
    place; posted at once, drawn when months close."""
    from yibao.domain import advance as rules
    from yibao.domain.money import fen_to_yuan
    from yibao.services import advance

    done = _step(db, operator, "", insured, lambda call: advance.record(
        call, insured, treatment, rules.parse_amount(amount, "--amount"), note))
    show(f"{done.advance_id}: {fen_to_yuan(done.amount)} yuan advanced by {insured} to "
         f"{treatment}; the fund holds {fen_to_yuan(done.balance)} yuan")
    _warn_low(db)


@app.command("advances")
def clearing_advances(db: str = DB_OPTION) -> None:
    """Every advance fund: balance, the threshold it is measured against, LOW if below."""
    from yibao.domain.money import fen_to_yuan
    from yibao.services import advance
    from yibao.services.context import china_now
    from yibao.store.policy_files import load_policies

    with Database(db).read() as conn:
        funds = advance.positions(conn, load_policies(), china_now().date())
    show_table(("insured", "treatment", "balance", "threshold", "state"), [
        (p.insured, p.treatment, fen_to_yuan(p.balance), fen_to_yuan(p.threshold),
         "LOW" if p.low else "ok") for p in funds])


@app.command("prepay")
def clearing_prepay(month: str = MONTH_OPTION, db: str = DB_OPTION,
                    operator: str = OPERATOR_OPTION) -> None:
    """Prepay the month to institutions flagged for it (average of recent months)."""
    from yibao.domain.money import fen_to_yuan
    from yibao.services import clearing

    paid = _step(db, operator, "clearing.prepay", month, lambda call:
                 clearing.prepay(call, month))
    for code, amount in paid.items():
        show(f"{code}: {fen_to_yuan(amount)} yuan prepaid for {month}")
    console.print(f"{len(paid)} prepayments")


@app.command("statements")
def clearing_statements(month: str = MONTH_OPTION, db: str = DB_OPTION,
                        out: Path = typer.Option(Path("statements"), "--out",
                                                 help="directory to write them in")) -> None:
    """Write every institution's statement and the bureau summary (CSV and HTML)."""
    from yibao.services import statements

    with Database(db).read() as conn:
        files = statements.write(conn, month, out)
    console.print(f"{len(files)} files in {out}")
