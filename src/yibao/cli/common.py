"""What the command groups share: the console, the --db option, one write step."""

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


def safe_url(url: str) -> str:
    """The database URL without its credentials."""
    return url.split("@")[-1] if "@" in url else url
