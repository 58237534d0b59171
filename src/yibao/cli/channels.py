"""Certified channels: ``yibao channels list|webhook`` (docs/channel-api.md)."""

from __future__ import annotations

import typer

from yibao.cli.common import DB_OPTION, cli_call, console, write_step
from yibao.store.db import Database

app = typer.Typer(help="Certified channels: scopes, sandbox, webhook URLs")


@app.command("list")
def channels_list(db: str = DB_OPTION) -> None:
    """Every channel, one a line: its scopes, whether it is a sandbox, its webhook URL."""
    from yibao.store import channels

    with Database(db).read() as conn:
        rows = channels.listing(conn)
    for row in rows:
        typer.echo(f"{row.channel_id}\tscopes={','.join(sorted(row.scopes))}\t"
                   f"sandbox={'yes' if row.sandbox else 'no'}\t"
                   f"webhook={row.webhook_url or '-'}\t{row.name}")


@app.command("webhook")
def channels_webhook(
    channel_id: str = typer.Argument(..., help="the channel's id (yibao channels list)"),
    url: str = typer.Argument(..., help="http(s) URL; \"\" stops them"),
    db: str = DB_OPTION,
) -> None:
    """Set where the channel's webhooks (order and claim status) go; "" stops them. The
    operators' log names the command line."""
    from yibao.services import webhooks
    from yibao.services.operators import COMMAND_LINE

    write_step(db, lambda conn: webhooks.set_url(cli_call(conn, COMMAND_LINE), channel_id,
                                                 url),
               say=lambda refusal: refusal.message)
    console.print(f"webhooks of {channel_id}: {url or 'none'}")
