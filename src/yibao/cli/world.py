"""Synthetic regions: ``yibao world generate`` (code in yibao/bench/world.py)."""

from __future__ import annotations

import typer

from yibao.cli.common import EXISTING_DB_OPTION, console
from yibao.store.db import Database

app = typer.Typer(help="Synthetic regions for load tests and benchmarks")


@app.command("generate")
def world_generate(
    db: str = EXISTING_DB_OPTION,
    persons: int = typer.Option(10_000, "--persons", help="insured persons to generate"),
    institutions: int = typer.Option(1_000, "--institutions",
                                     help="designated institutions to generate"),
    items: int = typer.Option(20_000, "--items", help="catalogue items to generate"),
    seed: int = typer.Option(2026, "--seed", help="random seed: the same seed, the same "
                             "region"),
) -> None:
    """Generate a synthetic region (persons, institutions, catalogue) into a database."""
    import time

    from rich.progress import Progress

    from yibao.bench.world import Scale, generate

    database = Database(db)
    database.migrate()
    scale = Scale(persons, institutions, items, seed)
    started = time.perf_counter()
    with Progress(console=console) as bar:
        tasks = {
            "institutions": bar.add_task("institutions", total=institutions),
            "items": bar.add_task("catalogue items", total=items),
            "persons": bar.add_task("persons", total=persons),
        }
        counts = generate(database, scale, lambda label, n: bar.advance(tasks[label], n))
    seconds = time.perf_counter() - started
    rows = sum(counts.values())
    console.print(f"[green]generated[/] {counts} in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)")
