"""The fund ledger: ``yibao ledger verify|balances``."""

from __future__ import annotations

import typer

from yibao.cli.common import DB_OPTION, console
from yibao.store.db import Database

app = typer.Typer(help="The fund ledger")
PROBLEMS_SHOWN_MAX = 50  # verify counts the rest


@app.command("verify")
def ledger_verify(db: str = DB_OPTION) -> None:
    """Prove that the ledger and the settlements agree to the fen (exit 1 if not)."""
    from yibao.services import ledger

    count = 0
    with Database(db).read(snapshot=True) as conn:
        for count, problem in enumerate(ledger.problems(conn), start=1):
            if count <= PROBLEMS_SHOWN_MAX:
                console.print(f"[red]✘[/] {problem}")
    if count:
        console.print(f"[red]{count} problems[/]")
        raise typer.Exit(1)
    console.print("[green]ledger verified[/]: every posting sums to zero and matches its record")


@app.command("balances")
def ledger_balances(db: str = DB_OPTION, prefix: str = typer.Option("", "--prefix")) -> None:
    """Account balances derived from the entries (yuan; debit positive)."""
    from rich.table import Table

    from yibao.domain.money import fen_to_yuan
    from yibao.services import ledger

    with Database(db).read() as conn:
        rows = ledger.balances(conn, prefix)
    table = Table("account", "balance")
    for account, amount in sorted(rows.items()):
        table.add_row(account, fen_to_yuan(amount))
    console.print(table)
