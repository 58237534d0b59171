"""The database's layout: ``yibao db partition`` (docs/scaling.md, "Partitioned by
co-ordination area")."""

from __future__ import annotations

import typer

from yibao.cli.common import DB_OPTION, safe_url, show, show_table
from yibao.store.db import Database

app = typer.Typer(help="The database's layout (partitioning)")


@app.command("partition")
def db_partition(
    db: str = DB_OPTION,
    area: list[str] = typer.Option(
        [], "--area", help="a co-ordination area (six digits) to give its own partition "
        "beside the institutions' (repeatable)"),
    message: bool = typer.Option(
        True, "--message/--no-message", help="partition message too (the first run "
        "decides; it costs the most database CPU per settlement: docs/scaling.md)"),
) -> None:
    """Partition the big tables on PostgreSQL: visit and settlement by the treatment
    co-ordination area (one partition per area, and a DEFAULT one), message by the
    institution code's prefix; their rows are moved, in one transaction. Run on a
    migrated database; run again it only adds the partitions of areas that joined since
    (their rows moved out of DEFAULT), or changes nothing. SQLite: refused."""
    from yibao.store import partitioning

    try:
        outcome = partitioning.partition(Database(db), areas=area, message=message)
    except partitioning.NotApplicable as refusal:
        show(str(refusal), "red")
        raise typer.Exit(1) from refusal
    except ValueError as wrong:
        show(str(wrong), "red")
        raise typer.Exit(2) from wrong
    if outcome.already and not outcome.added:
        show(f"{safe_url(db)} is already partitioned: nothing changed", "yellow")
    elif outcome.already:
        moved = ", ".join(f"{table} {rows}" for table, rows in outcome.moved.items())
        show(f"{safe_url(db)} is already partitioned; added {', '.join(outcome.added)}; "
             f"rows moved out of DEFAULT: {moved}", "green")
    else:
        moved = ", ".join(f"{table} {rows}" for table, rows in outcome.moved.items())
        show(f"partitioned {safe_url(db)}; rows moved: {moved}", "green")
    show_table(["table", "partition", "bound", "rows"],
               [(p.table, p.name, p.bound, p.rows) for p in outcome.partitions])
    if outcome.unplaced:
        show("areas of institutions without a partition of their own (their rows are in "
             "the DEFAULT partitions): " + ", ".join(outcome.unplaced), "yellow")
