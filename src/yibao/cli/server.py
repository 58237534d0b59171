"""Run the platform: migrate, seed, serve, demo."""

from __future__ import annotations

import os

import typer

from yibao.cli.common import CREATING_DB_OPTION, console, db_option, safe_url, show
from yibao.store.db import DEFAULT_URL, Database, Need

HOST_OPTION = typer.Option("127.0.0.1", "--host",
                           help="address to listen on (0.0.0.0: every interface)")
PORT_OPTION = typer.Option(8080, "--port", envvar="YIBAO_PORT",
                           help="TCP port to listen on (or YIBAO_PORT)")


def migrate(db: str = CREATING_DB_OPTION) -> None:
    """Create or upgrade the schema (alembic upgrade head)."""
    database = Database(db)
    database.migrate()
    console.print(f"[green]schema up to date[/] on {safe_url(database.url)}")


def seed(db: str = CREATING_DB_OPTION, demo: bool = typer.Option(
        False, "--demo", help="load the demo dataset (required: the only dataset)")) -> None:
    """Load reference data; --demo loads the demo dataset (idempotent)."""
    if not demo:
        raise typer.BadParameter("only --demo is available")
    from yibao.store.demo import seed_demo

    database = Database(db)
    database.migrate()
    with database.write() as conn:
        added = seed_demo(conn)
    console.print(f"[green]demo dataset loaded[/] ({added} rows added)")


def serve(
    db: str = CREATING_DB_OPTION,
    host: str = HOST_OPTION,
    port: int = PORT_OPTION,
    workers: int = typer.Option(1, "--workers", help="worker processes"),
    demo_mode: bool = typer.Option(
        False, "--demo", help="demo mode: allow the built-in development face template key and the "
        "mobile-payment centre's demo key"),
) -> None:
    """Run the HTTP server (several worker processes with --workers); with
    YIBAO_OUTBOX_URL set, each worker runs an outbox deliverer too. Refuses to start (exit
    2) with a face template key that is not base64 of 16, 24 or 32 bytes, and with the
    built-in development key (YIBAO_TEMPLATE_KEY unset or that key) unless --demo (or
    YIBAO_DEMO=1); likewise with a YIBAO_MPC_PRIVATE_KEY that is not an SM2 private key,
    and with the mobile-payment centre's published demo key (the variable unset) unless
    --demo; and with the payment platform's settings wrong: both YIBAO_WECHATPAY_URL and
    YIBAO_ALIPAY_URL set (one platform per deployment), keys missing or unreadable."""
    import uvicorn

    from yibao.api import mpc, national_http, service_paths
    from yibao.services import face

    demo = demo_mode or face.demo_switched_on()
    problem = (face.key_problem(demo=demo) or mpc.key_problem(demo=demo)
               or service_paths.problem() or national_http.problem())
    if problem:
        show(problem, "red")
        raise typer.Exit(2)
    try:
        from yibao.api.app import online_from_env
        online_from_env()  # the payment platform: one, with its keys
    except (ValueError, OSError) as exc:
        show(f"payment platform: {exc}", "red")
        raise typer.Exit(2) from exc
    if demo_mode:  # the workers' factory checks the key again: tell it this is a demo
        os.environ[face.DEMO_SWITCH] = "1"
    database = Database(db)
    database.migrate()
    database.dispose()
    os.environ["YIBAO_DATABASE_URL"] = database.url
    uvicorn.run(
        "yibao.api.app:app_from_env", factory=True, host=host, port=port, workers=workers,
        log_level="warning", access_log=False,
    )


def demo(
    db: str = db_option(Need.SERVER, DEFAULT_URL, "SQLite path or database URL (created "
                        "and migrated if new)"),
    host: str = HOST_OPTION,
    port: int = PORT_OPTION,
) -> None:
    """Migrate, load the demo dataset and serve: the one-command start."""
    seed(db=db, demo=True)
    console.print(f"serving on http://{host}:{port}  (OpenAPI at /docs, walk-through in README)")
    serve(db=db, host=host, port=port, workers=1, demo_mode=True)
