"""Identity upkeep from a shell on the server: ``yibao persons renumber|merge|numbers``
(docs/identity-upkeep.md). Each change runs as the command line (role administrator),
in one transaction, and is a row of the operators' log; a refusal exits 1 with its
code and message."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from yibao.cli.common import DB_OPTION, cli_call, console, show_table, write_step
from yibao.store.db import Database

if TYPE_CHECKING:
    from yibao.services.person_numbers import Changed

app = typer.Typer(help="Identity upkeep: a person's new number, a duplicate record merged")
REASON_OPTION = typer.Option("", "--reason", help="why (required to renumber, and to "
                             "merge records whose ID numbers differ)")


def _say(changed: Changed) -> None:
    rows = sum(changed.moved.values())
    console.print(f"{changed.kind.value}: {changed.old_psn_no} -> {changed.new_psn_no}; "
                  f"{rows} rows moved; account +{changed.answer()['acct_moved']} yuan; "
                  f"the old number keeps answering")


@app.command("renumber")
def persons_renumber(
    psn_no: str = typer.Argument(..., help="the person's current number"),
    new_psn_no: str = typer.Argument(..., help="the new number (never used before)"),
    reason: str = REASON_OPTION,
    db: str = DB_OPTION,
) -> None:
    """Give a person a new personal number."""
    from yibao.services import person_numbers
    from yibao.services.operators import COMMAND_LINE

    _say(write_step(db, lambda conn: person_numbers.renumber(
        cli_call(conn, COMMAND_LINE), psn_no, new_psn_no, reason)))


@app.command("merge")
def persons_merge(
    duplicate: str = typer.Argument(..., help="the duplicate record's number (retired)"),
    survivor: str = typer.Argument(..., help="the surviving record's number"),
    reason: str = REASON_OPTION,
    db: str = DB_OPTION,
) -> None:
    """Merge a duplicate record of a person into the surviving one."""
    from yibao.services import person_numbers
    from yibao.services.operators import COMMAND_LINE

    _say(write_step(db, lambda conn: person_numbers.merge(
        cli_call(conn, COMMAND_LINE), duplicate, survivor, reason)))


@app.command("numbers")
def persons_numbers(
    psn_no: str = typer.Argument(..., help="the person's number"),
    db: str = DB_OPTION,
) -> None:
    """The numbers retired into the person's, newest first."""
    from yibao.services import person_numbers

    with Database(db).read() as conn:
        rows = person_numbers.history(conn, psn_no)
    show_table(["old psn_no", "kind", "at", "by", "reason", "rows"],
               [[r["old_psn_no"], r["kind"], r["at"], r["actor"], r["reason"],
                 sum(r["moved"].values())] for r in rows])
