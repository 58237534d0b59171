"""What the command groups share: the console, the --db option, one write step, the
call a command makes to the services."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console

from yibao.store.db import DEFAULT_URL, Database

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from yibao.domain.errors import Refused
    from yibao.services.context import Actor, Call, Clock

console = Console()
DB_OPTION = typer.Option(
    os.environ.get("YIBAO_DATABASE_URL", DEFAULT_URL), "--db", help="database URL or SQLite path"
)
T = TypeVar("T")


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
        console.print(f"[red]{say(refusal)}[/]")
        raise typer.Exit(1) from refusal


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
