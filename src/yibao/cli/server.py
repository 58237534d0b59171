"""Run the platform: migrate, seed, serve, demo."""

from __future__ import annotations

import os

import typer

from yibao.cli.common import DB_OPTION, console, safe_url
from yibao.store.db import DEFAULT_URL, Database


def migrate(db: str = DB_OPTION) -> None:
    """Create or upgrade the schema (alembic upgrade head)."""
    database = Database(db)
    database.migrate()
    console.print(f"[green]schema up to date[/] on {safe_url(database.url)}")


def seed(db: str = DB_OPTION, demo: bool = typer.Option(False, "--demo")) -> None:
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
    db: str = DB_OPTION,
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8080, "--port"),
    workers: int = typer.Option(1, "--workers"),
    demo_mode: bool = typer.Option(
        False, "--demo", help="demo mode: allow the built-in development face template key"),
) -> None:
    """Run the HTTP server (several worker processes with --workers); with
    YIBAO_OUTBOX_URL set, each worker runs an outbox deliverer too. Refuses to start with
    the built-in development face template key (YIBAO_TEMPLATE_KEY unset) unless --demo."""
    import uvicorn

    from yibao.services import face

    if face.uses_development_key() and not demo_mode:
        console.print("[red]refusing to serve with the built-in development face template "
                      "key[/]: set YIBAO_TEMPLATE_KEY (32 random bytes, base64; keep it "
                      "secret and stable: it seals the enrolled templates), or pass --demo "
                      "for a demonstration")
        raise typer.Exit(2)
    database = Database(db)
    database.migrate()
    database.dispose()
    os.environ["YIBAO_DATABASE_URL"] = database.url
    uvicorn.run(
        "yibao.api.app:app_from_env", factory=True, host=host, port=port, workers=workers,
        log_level="warning", access_log=False,
    )


def demo(
    db: str = typer.Option(DEFAULT_URL, "--db"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8080, "--port"),
) -> None:
    """Migrate, load the demo dataset and serve: the one-command start."""
    seed(db=db, demo=True)
    console.print(f"serving on http://{host}:{port}  (OpenAPI at /docs, walk-through in README)")
    serve(db=db, host=host, port=port, workers=1, demo_mode=True)
