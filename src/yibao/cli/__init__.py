"""The ``yibao`` command: serve, migrate, seed, demo, errors, purge, paysim, and the groups
ledger, clearing, world, bench, outbox, operators, orders, channels, institutions, persons,
supervision, db (one module each in this package).

The commands are registered here, explicitly and in this order (the order of
``yibao --help``); the group modules only define their commands.
"""

from __future__ import annotations

import typer

from yibao.cli import (
    bench,
    channels,
    clearing,
    db,
    errors,
    institutions,
    ledger,
    operators,
    orders,
    outbox,
    paysim,
    persons,
    purge,
    server,
    supervision,
    world,
)

app = typer.Typer(
    help="yibao: medical-insurance real-time settlement platform", no_args_is_help=True
)
for command in (server.migrate, server.seed, server.serve, server.demo, errors.errors,
                purge.purge, paysim.paysim):
    app.command()(command)
for name, group in (("ledger", ledger.app), ("clearing", clearing.app), ("world", world.app),
                    ("bench", bench.app), ("outbox", outbox.app),
                    ("operators", operators.app), ("orders", orders.app),
                    ("channels", channels.app), ("institutions", institutions.app),
                    ("persons", persons.app), ("supervision", supervision.app),
                    ("db", db.app)):
    app.add_typer(group, name=name)

__all__ = ["app"]
