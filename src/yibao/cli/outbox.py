"""The outbox: ``yibao outbox deliver|list`` (docs/outbox.md)."""

from __future__ import annotations

import os

import typer

from yibao.cli.common import DB_OPTION, console, show_table
from yibao.services import outbox
from yibao.store.db import Database

app = typer.Typer(help="The outbox: cost information for the national platform")
OUTBOX_URL_OPTION = typer.Option(
    os.environ.get("YIBAO_OUTBOX_URL", ""), "--url", help="the receiver's endpoint"
)


@app.command("deliver")
def outbox_deliver(
    db: str = DB_OPTION,
    url: str = OUTBOX_URL_OPTION,
    once: bool = typer.Option(False, "--once", help="deliver what is due now, then exit"),
    interval: float = typer.Option(outbox.INTERVAL_SECONDS, "--interval",
                                   help="seconds between passes"),
) -> None:
    """Deliver due messages (at least once, with backoff) until stopped, or --once."""
    import signal

    from yibao import log
    from yibao.api import mpc
    from yibao.services import webhooks  # noqa: F401  (registers the webhooks' signer)
    from yibao.services.context import china_now

    # the centre's callbacks to institutions (6204, 6302), sealed with its key when sent
    outbox.register_signer(mpc.CALLBACK_KIND_PREFIX,
                           mpc.callback_signer(mpc.private_key(), china_now))

    if not url:
        raise typer.BadParameter("give --url or set YIBAO_OUTBOX_URL")
    database = Database(db)
    if once:
        total = outbox.DeliveryReport()
        while (report := outbox.deliver_due(database, url=url, clock=china_now)).handled:
            total += report
        console.print(f"delivered {total.delivered}, to retry later {total.retried}, "
                      f"failed {total.failed}")
        return
    log.configure(os.environ.get("YIBAO_LOG_LEVEL", "INFO"))
    deliverer = outbox.Deliverer(database, url=url, interval=interval)
    signal.signal(signal.SIGTERM, lambda *_: deliverer.stop())
    console.print(f"delivering to {url} every {interval:g} s (Ctrl-C stops)")
    try:
        deliverer.run()
    except KeyboardInterrupt:
        deliverer.stop()


@app.command("list")
def outbox_list(
    db: str = DB_OPTION,
    status: str | None = typer.Option(None, "--status", help="pending, delivered or failed"),
    limit: int = typer.Option(50, "--limit", help="newest messages listed at most"),
) -> None:
    """Counts per status and the newest messages."""
    if status is not None and status not in outbox.STATUSES:
        raise typer.BadParameter(f"--status must be one of {', '.join(outbox.STATUSES)}")
    with Database(db).read() as conn:
        counts = outbox.counts(conn)
        rows = outbox.listing(conn, status=status, limit=limit)
    console.print("  ".join(f"{name} {count}" for name, count in counts.items()))
    show_table(("id", "kind", "status", "attempts", "next attempt", "last error", "created"),
               [(row["id"], row["kind"], row["status"], row["attempts"],
                 row["next_attempt_at"], row["last_error"], row["created_at"])
                for row in rows])
