"""What the command groups share: the console and how text and tables are shown on it,
the --db option, one write step, the call a command makes to the services.

In a terminal the console colours what a command styles (never the text itself: no
highlighter, no markup in what is shown, so a code such as E-ENV-005 or a message with
[brackets] prints verbatim) and wraps to the terminal's width. Piped or redirected, it
writes plain lines, never wrapped, without colour codes; a table is one line per row,
its cells separated by tabs."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from yibao.store.db import DEFAULT_URL, Database, Need, problem

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from yibao.domain.errors import Refused
    from yibao.services.context import Actor, Call, Clock

console = Console(highlight=False)
console.soft_wrap = not console.is_terminal  # piped: a line stays one line
T = TypeVar("T")


def checked(need: Need) -> Callable[[typer.Context, str], str]:
    """The --db option's check: what keeps the command from using the database, in one
    line on standard error, exit 2 (nothing created, no traceback)."""

    def check(ctx: typer.Context, value: str) -> str:
        found = None if ctx.resilient_parsing else problem(value, need)
        if found:
            typer.echo(found, err=True)
            raise typer.Exit(2)
        return value

    return check


def db_option(need: Need, default: str | None = None, text: str = "") -> Any:
    """A --db option (``default``, else ``$YIBAO_DATABASE_URL``, else ./yibao.db)
    checked for ``need`` before the command runs."""
    return typer.Option(
        default or os.environ.get("YIBAO_DATABASE_URL", DEFAULT_URL), "--db",
        help=text or "database URL or SQLite path", callback=checked(need))


# every command's --db: it must exist at the newest migration (`yibao migrate`)
DB_OPTION = db_option(Need.SCHEMA)
# commands that migrate the database themselves (world generate, bench): it must exist
EXISTING_DB_OPTION = db_option(Need.DATABASE, text="database URL or SQLite path (an "
                               "existing database: `yibao migrate --db ...` creates one)")
# migrate, seed, serve: they create the SQLite file and the schema; PostgreSQL must answer
CREATING_DB_OPTION = db_option(Need.SERVER, text="database URL or SQLite path (created or "
                               "migrated)")


def write_step(
    db: str, action: Callable[[Connection], T], *, snapshot: bool = False,
    say: Callable[[Refused], str] = lambda refusal: refusal.message,
) -> T:
    """Run ``action`` in one write transaction (reading one snapshot of the store with
    ``snapshot``); a refusal exits 1 with ``say(refusal)`` in red."""
    from yibao.domain.errors import Refused

    try:
        with Database(db).write(snapshot=snapshot) as conn:
            return action(conn)
    except Refused as refusal:
        show(say(refusal), "red")
        raise typer.Exit(1) from refusal


def show(text: str, style: str = "") -> None:
    """Print ``text`` verbatim (no markup, no highlighting), in ``style`` in a terminal."""
    console.print(Text(text, style=style))


def show_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A table: in a terminal with ``headers``, the first column never wrapped; piped,
    one line per row, its cells separated by tabs (no header line; a tab or line break
    inside a cell becomes a space). None shows as an empty cell."""
    if not console.is_terminal:
        for row in rows:
            typer.echo("\t".join(" ".join(_cell(cell).split("\t")).replace("\n", " ")
                                 for cell in row))
        return
    table = Table(*headers)
    table.columns[0].no_wrap = True
    for row in rows:
        table.add_row(*(Text(_cell(cell)) for cell in row))
    console.print(table)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def cli_call(conn: Connection, actor: Actor, *, clock: Clock | None = None) -> Call:
    """The call of a command run on the bureau's machine (Entry.CLI), now by ``clock``
    (China time by default). ``actor``: the operator ``--operator`` names, or the system
    for scheduled work. The commands settle nothing: no policies."""
    from yibao.services.context import Call, Entry, Ids, china_now

    clock = clock or china_now
    return Call(conn=conn, actor=actor, entry=Entry.CLI, now=clock(), ids=Ids(clock),
                policies=())


def safe_url(url: str) -> str:
    """The database URL without its credentials."""
    return url.split("@")[-1] if "@" in url else url
