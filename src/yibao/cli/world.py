"""Synthetic regions: ``yibao world generate`` (code in yibao/bench/world.py)."""

from __future__ import annotations

from pathlib import Path

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
    fraud: float = typer.Option(0.0, "--fraud", min=0.0, max=0.03,
                                help="also a month of care with each supervision pattern "
                                "planted for this share of persons (0: no month)"),
    month: str = typer.Option("2026-05", "--month", help="the month of care (with --fraud)"),
    manifest: Path = typer.Option(Path("world-manifest.json"), "--manifest",
                                  help="where the planted findings are written (--fraud)"),
) -> None:
    """Generate a synthetic region (persons, institutions, catalogue) into a database;
    with --fraud, a month of care with the supervision patterns planted (bench/fraud.py)."""
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
    if fraud:
        from yibao.bench.fraud import plant

        truth = plant(database, scale, fraud, month, manifest)
        console.print(f"[green]planted[/] {sum(map(len, truth.planted.values()))} findings and "
                      f"{sum(map(len, truth.lookalikes.values()))} look-alikes in {month}; "
                      f"manifest {manifest}")
