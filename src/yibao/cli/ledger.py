"""The fund ledger: ``yibao ledger verify|balances``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from yibao.cli.common import DB_OPTION, show, show_table
from yibao.store.db import Database

if TYPE_CHECKING:
    from yibao.services.ledger import Extent, Tally

app = typer.Typer(help="The fund ledger")
PROBLEMS_SHOWN_MAX = 50  # verify counts the rest
RECORD_NAMES = {"settle": "settlements", "cancel": "cancellations", "claim": "reimbursements"}


@app.command("verify")
def ledger_verify(db: str = DB_OPTION) -> None:
    """Prove that the ledger and the settlements agree to the fen: say what was checked
    (postings, entries, accounts, the records by kind with their amounts in yuan), then
    that it agrees, or the problems (exit 1)."""
    from yibao.services import ledger

    count = 0
    with Database(db).read(snapshot=True) as conn:
        for line in _checked(ledger.extent(conn)):
            show(line)
        for count, problem in enumerate(ledger.problems(conn), start=1):
            if count <= PROBLEMS_SHOWN_MAX:
                show(f"✘ {problem}", "red")
    if count:
        show(f"{count} problems", "red")
        raise typer.Exit(1)
    show("ledger verified: every posting sums to zero and matches its record", "green")


def _checked(extent: Extent) -> list[str]:
    """What verify read, one line per kind of record."""
    from yibao.domain.money import fen_to_yuan

    def tally(t: Tally) -> str:
        return f"{t.count:,} ({fen_to_yuan(t.amount)} yuan)"

    return [
        "checked, in one snapshot:",
        f"  ledger: {extent.postings:,} postings, {extent.entries:,} entries, "
        f"{extent.accounts:,} accounts, {fen_to_yuan(extent.debited)} yuan debited",
        *(f"  {RECORD_NAMES[kind]}: {tally(t)} owed by the funds and personal accounts"
          for kind, t in extent.settlements.items()),
        f"  insured places whose personal accounts moved: {extent.account_places:,}",
        f"  paid payment orders: {tally(extent.payouts)}",
        f"  closed months: {extent.closed_months:,}; payments to institutions "
        f"{tally(extent.institution_payments)}, between regions "
        f"{tally(extent.region_payments)}",
        f"  prepayments: {tally(extent.prepayments)}",
    ]


@app.command("balances")
def ledger_balances(
    db: str = DB_OPTION,
    prefix: str = typer.Option("", "--prefix", help="only accounts starting with this, "
                               "e.g. payable: or interregional:"),
) -> None:
    """Account balances derived from the entries (yuan; debit positive)."""
    from yibao.domain.money import fen_to_yuan
    from yibao.services import ledger

    with Database(db).read() as conn:
        rows = ledger.balances(conn, prefix)
    show_table(("account", "balance"),
               [(account, fen_to_yuan(amount)) for account, amount in sorted(rows.items())])
