"""Retention: ``yibao purge`` (docs/retention.md)."""

from __future__ import annotations

import typer

from yibao.cli.common import DB_OPTION, console
from yibao.store.db import Database


def purge(
    db: str = DB_OPTION,
    dry_run: bool = typer.Option(False, "--dry-run", help="count, delete nothing"),
) -> None:
    """Delete what is past its retention (messages, nonces, ecTokens, QR codes, stored
    files, face attempts; docs/retention.md) in short batches, safe while serving."""
    import time

    from yibao.services import retention
    from yibao.services.context import china_now

    counts = retention.purge(Database(db), china_now(), int(time.time()), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for name, count in counts.items():
        console.print(f"{name}: {verb} {count}")
