"""Benchmarks and fault runs: ``yibao bench ...`` (code in yibao/bench/, bench/README.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from yibao.cli.common import EXISTING_DB_OPTION, console, show
from yibao.store.db import Database

app = typer.Typer(help="Benchmarks: numbers and ratios against a baseline in the same run; "
                  "each says what it does as it goes")


def progress(text: str) -> None:
    """The reporter of every benchmark: a dim line per phase, round or event."""
    show(text, "dim")


@app.command("engine")
def bench_engine(
    count: int = typer.Option(100_000, "--count", min=1,
                              help="settlements computed in each round"),
    rounds: int = typer.Option(5, "--rounds", min=1,
                               help="rounds of engine and baseline; the best counts"),
) -> None:
    """Settlements per second of the pure engine on one core (best of --rounds)."""
    from yibao.bench import engine
    from yibao.store.policy_files import load_policies

    result = engine.run(load_policies(), count, rounds, report=progress)
    console.print(
        f"engine: {result.per_second:,.0f} settlements/s on one core, best of {rounds} "
        f"({result.settlements:,} in {result.seconds:.2f} s CPU); "
        f"baseline (sum the totals only): {result.baseline_per_second:,.0f}/s; "
        f"ratio {result.per_second / result.baseline_per_second:.3f}"
    )


@app.command("clearing")
def bench_clearing(
    settlements: int = typer.Option(10_000_000, "--settlements", min=1,
                                    help="the synthetic month's size (when generated)"),
    directory: Path = typer.Option(Path("bench/results/clearing-month"), "--dir",
                                   help="the month's Parquet files (generated if absent)"),
    store: str = typer.Option("", "--store", help="a scratch PostgreSQL database to load "
                              "the month into and extract it from (it is filled)"),
) -> None:
    """Clear a synthetic month with DuckDB; baseline: one scan of the same files."""
    from yibao.bench import clearing

    r = clearing.run(directory, settlements, report=progress)
    if r.generate_seconds is not None:
        console.print(f"generated {r.settlements:,} settlements in {r.generate_seconds:.1f} s")
    console.print(
        f"clearing: {r.settlements:,} settlements, {r.institutions:,} institutions in "
        f"{r.clearing_seconds:.2f} s ({r.rows_per_second:,.0f} rows/s); baseline scan "
        f"{r.baseline_seconds:.2f} s; ratio {r.baseline_seconds / r.clearing_seconds:.3f}")
    if store:
        s = clearing.run_store(store, directory, report=progress)
        console.print(
            f"store: loaded {s.settlements:,} in {s.load_seconds:.1f} s; extract "
            f"{s.extract_seconds:.1f} s ({s.settlements / s.extract_seconds:,.0f} rows/s); "
            f"clear {s.clearing_seconds:.2f} s; extract + clear "
            f"{s.extract_seconds + s.clearing_seconds:.1f} s")


@app.command("screen")
def bench_screen(
    lines: int = typer.Option(50_000_000, "--lines", min=8,
                              help="fee lines of the synthetic month (when generated)"),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (the only engine timed "
                               "rule by rule)"),
    directory: Path = typer.Option(Path("bench/results/screen-month"), "--dir",
                                   help="the month's Parquet files (generated if absent)"),
    memory_limit: str = typer.Option("", "--memory-limit",
                                     help="DuckDB memory_limit, e.g. 4GB (default: DuckDB's)"),
    temp_directory: str = typer.Option("", "--temp-dir",
                                       help="where DuckDB spills when over the limit"),
    threads: int = typer.Option(0, "--threads", min=0, help="DuckDB threads (0: all cores)"),
) -> None:
    """Screen a synthetic month with every rule of the library that has SQL, each timed;
    baseline: one scan of the fee lines in the same process."""
    from yibao.bench import screen

    if engine != "duckdb":
        show(f"engine {engine!r}: only duckdb is timed rule by rule", "red")
        raise typer.Exit(2)
    settings = {name: value for name, value in (
        ("memory_limit", memory_limit), ("temp_directory", temp_directory),
        ("threads", str(threads) if threads else "")) if value}
    result = screen.run(directory, lines, settings=settings, report=progress)
    console.print(screen.markdown(result))


@app.command("supervision")
def bench_supervision(
    persons: int = typer.Option(20_000, "--persons", min=200, help="the world's persons"),
    fraud: float = typer.Option(0.01, "--fraud", min=0.0001, max=0.03,
                                help="per rule, the share of persons given its pattern (and "
                                "as many a look-alike)"),
    month: str = typer.Option("2026-05", "--month", help="the month planted and screened"),
    db: str = typer.Option("", "--db", help="an empty database (URL or SQLite path; default: "
                           "a new SQLite file under --dir)"),
    manifest: Path = typer.Option(Path(""), "--manifest",
                                  help="where to save the ground truth (JSON; default: next "
                                  "to the default database, or not saved)"),
    directory: Path = typer.Option(Path("bench/results"), "--dir",
                                   help="where the default SQLite database goes"),
) -> None:
    """Precision and recall of every rule: the fraud world generated, its month
    extracted and screened on DuckDB, the clues compared with the planted findings."""
    from datetime import datetime

    from yibao.bench import supervision

    if not db:
        directory.mkdir(parents=True, exist_ok=True)
        stem = directory / f"supervision-{datetime.now():%Y%m%d-%H%M%S}"
        db = f"{stem}.db"
        manifest = manifest if str(manifest) not in ("", ".") else stem.with_suffix(".json")
    saved = manifest if str(manifest) not in ("", ".") else None
    database = Database(db)
    result = supervision.run(database, persons, fraud, month, manifest_path=saved,
                             report=progress)
    database.dispose()
    console.print(supervision.markdown(result))
    if saved is not None:
        console.print(f"manifest: {saved}")


@app.command("ledger")
def bench_ledger(
    db: str = EXISTING_DB_OPTION,
    settlements: int = typer.Option(200_000, "--settlements",
                                    help="how many to write if the database holds none"),
) -> None:
    """Time ``ledger verify`` and its peak memory; baseline: one scan of its tables."""
    from yibao.bench import ledger
    from yibao.bench.progress import phase

    database = Database(db)
    written = ledger.fill(database, settlements, report=progress)
    database.dispose()
    if written:
        console.print(f"wrote {written:,} settlements with their postings")
    with phase(progress, "the baseline scan and ledger verify, in a fresh process"):
        m = ledger.measure(database.url)
    console.print(
        f"verify: {m.settlements:,} settlements, {m.entries:,} ledger entries, "
        f"{m.problems} problems in {m.verify_seconds:.1f} s ({m.verify_cpu_seconds:.1f} s "
        f"CPU); peak memory {m.rss_peak_mib:,.0f} MiB ({m.rss_before_mib:,.0f} MiB before "
        f"verify); baseline scan {m.baseline_seconds:.2f} s; "
        f"ratio {m.baseline_seconds / m.verify_seconds:.3f}")


@app.command("flood")
def bench_flood(
    db: str = typer.Option("", "--db", help="SQLite path (default: a new file under --dir)"),
    seconds: float = typer.Option(10.0, "--seconds", max=120.0,
                                  help="length of each of the two phases"),
    clients: int = typer.Option(4, "--clients", min=1, max=32,
                                help="signed 5206 clients (threads)"),
    flooders: int = typer.Option(4, "--flooders", min=1, max=32,
                                 help="clients sending oversized unauthenticated bodies"),
    flood_mib: int = typer.Option(60, "--flood-mib", min=1, max=200,
                                  help="size of each flooding body in MiB"),
    directory: Path = typer.Option(Path("bench/results"), "--dir",
                                   help="where the default SQLite database goes"),
) -> None:
    """Signed 5206 latency alone, then while unauthenticated oversized bodies flood
    /channel/v1 and /admin/v1 (one server on 127.0.0.1, SQLite); prints both and the ratio."""
    from yibao.bench import flood

    opts = flood.Options(db or flood.default_url(directory), seconds, clients, flooders,
                         flood_mib * 1024 * 1024)
    console.print(flood.markdown(flood.run(opts, report=progress)))


@app.command("settle")
def bench_settle(
    db: str = EXISTING_DB_OPTION,
    seconds: float = typer.Option(20.0, "--seconds", help="length of each timed phase"),
    clients: int = typer.Option(8, "--clients", help="simulated HIS clients in all"),
    processes: int = typer.Option(2, "--client-processes",
                                  help="processes the clients are spread over"),
    workers: int = typer.Option(2, "--workers", help="server worker processes"),
    persons: int = typer.Option(100_000, "--persons",
                                help="synthetic persons the clients settle for"),
    output: Path = typer.Option(Path("bench/results"), "--output",
                                help="directory the result JSON is saved in"),
    port: int = typer.Option(8765, "--port", min=1, max=65535,
                             help="the server's port (another free one if it is taken)"),
    http: str = typer.Option("lean", "--http", help="the server's national route: lean "
                             "(the ASGI path) or routed (FastAPI's route): YIBAO_HTTP_PATH"),
) -> None:
    """Drive the server with simulated HIS clients; compare with a bare-SQL baseline."""
    from yibao.bench import settle

    if http not in ("lean", "routed"):
        raise typer.BadParameter("lean or routed", param_hint="--http")
    opts = settle.Options(db, seconds, clients, processes, workers, persons, port, http)
    result = settle.run(opts, report=progress)
    path = settle.save(result, output)
    console.print(settle.markdown(result))
    console.print(f"saved {path}")


@app.command("scale")
def bench_scale(
    db: str = EXISTING_DB_OPTION,
    processes: str = typer.Option("1,2,4", "--processes",
                                  help="numbers of API processes to measure, comma-separated"),
    seconds: float = typer.Option(10.0, "--seconds", min=0.5, help="length of each phase"),
    persons: int = typer.Option(20_000, "--persons", min=100,
                                help="synthetic persons the clients settle for"),
    clients: int = typer.Option(8, "--clients", min=1,
                                help="simulated HIS clients (at least one per process)"),
    client_processes: int = typer.Option(2, "--client-processes", min=1,
                                         help="processes the clients are spread over"),
    workers: int = typer.Option(1, "--workers", min=1, help="workers per API process"),
    pool_size: int = typer.Option(20, "--pool-size", min=1,
                                  help="pgbouncer's server connections"),
    direct: bool = typer.Option(True, "--direct/--no-direct",
                                help="also one API process straight on the database, "
                                "with and without prepared statements"),
    output: Path = typer.Option(Path("bench/results"), "--output",
                                help="directory the result JSON is saved in"),
) -> None:
    """N API processes behind one pgbouncer (transaction mode) on one PostgreSQL database,
    for each N: 2207/s, p50/p99 and CPU ms per 2207 of the API processes, pgbouncer,
    PostgreSQL and the clients; and one API process without the pooler (with and without
    prepared statements)."""
    from yibao.bench import scale

    try:
        counts = tuple(int(n) for n in processes.split(",") if n.strip())
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        show(f"--processes {processes!r}: give positive numbers, e.g. 1,2,4", "red")
        raise typer.Exit(2)
    opts = scale.Options(db, counts, seconds, persons, clients, client_processes, workers,
                         pool_size, direct)
    try:
        result = scale.run(opts, report=progress)
    except RuntimeError as exc:  # pgbouncer missing, or it did not start
        show(str(exc), "red")
        raise typer.Exit(2) from exc
    path = scale.save(result, output)
    console.print(scale.markdown(result))
    console.print(f"saved {path}")


@app.command("capacity")
def bench_capacity(
    source: Path = typer.Option(..., "--from", exists=True, dir_okay=False,
                                help="a result JSON of `bench scale` (or `bench settle`)"),
    peak: float = typer.Option(6.0, "--peak-factor", min=1.0,
                               help="the peak rate over the day's average"),
    utilisation: float = typer.Option(0.6, "--utilisation", min=0.05, max=1.0,
                                      help="target busy share of each core at the peak"),
    extra: float = typer.Option(2.0, "--extra-messages", min=0.0,
                                help="messages per settlement without a transaction "
                                "(each at the HTTP floor's CPU)"),
    database_cores: int = typer.Option(64, "--database-cores", min=1,
                                       help="cores of the largest database server"),
) -> None:
    """Cores of API, pooler and database servers for Beijing, a province and the
    national platform, from the CPU measured per settlement and per message."""
    from yibao.bench import capacity

    measured = capacity.load(source)
    assume = capacity.Assumptions(peak, utilisation, extra, database_cores=database_cores)
    console.print(capacity.markdown(measured, assume, capacity.model(measured, assume)))


@app.command("online")
def bench_online(
    db: str = typer.Option("", "--db", help="database URL (default: a new SQLite file "
                           "under --dir); setup activates a certificate per person, so use "
                           "an empty database"),
    seconds: float = typer.Option(20.0, "--seconds", min=0.5, max=600.0,
                                  help="length of each timed phase"),
    clients: int = typer.Option(4, "--clients", min=1, max=32,
                                help="concurrent clients (threads)"),
    persons: int = typer.Option(200, "--persons", min=1,
                                help="persons given a certificate and orders"),
    workers: int = typer.Option(2, "--workers", min=1, help="server worker processes"),
    directory: Path = typer.Option(Path("bench/results"), "--dir",
                                   help="where the default SQLite database goes"),
) -> None:
    """Online orders per second end to end (6201, authorisation, 6202, payment at the
    simulator, settled) against window flows 2201 -> 2204 -> 2207 through the same server
    in the same run."""
    from yibao.bench import online

    opts = online.Options(db or online.default_url(directory), seconds, clients, persons,
                          workers)
    result = online.run(opts, report=progress)
    console.print(online.markdown(result))


@app.command("soak")
def bench_soak(
    db: str = EXISTING_DB_OPTION,
    minutes: float = typer.Option(10.0, "--minutes", help="how long to soak"),
    window: float = typer.Option(30.0, "--window",
                                 help="seconds per measured window (one line each)"),
    clients: int = typer.Option(8, "--clients", help="simulated HIS clients"),
    persons: int = typer.Option(20_000, "--persons",
                                help="synthetic persons the clients settle for"),
) -> None:
    """Full flows at 70 % of the measured maximum; latency and memory per window."""
    from yibao.bench import settle

    opts = settle.Options(db, window, clients, 2, 2, persons)
    result = settle.soak(opts, minutes, window, report=progress)
    first, last = result["windows"][0], result["windows"][-1]
    console.print(f"p99 2207 {first['p99_2207']} -> {last['p99_2207']} ms; server memory "
                  f"{first['server_rss_mb']} -> {last['server_rss_mb']} MiB")


@app.command("crash")
def bench_crash(
    db: str = EXISTING_DB_OPTION,
    seconds: float = typer.Option(120.0, "--seconds", help="how long the clients run"),
    kills: int = typer.Option(20, "--kills", help="kill -9 of the server, at random moments"),
    clients: int = typer.Option(4, "--clients", help="simulated HIS clients (threads)"),
    restart_db: str = typer.Option("", "--restart-db-command",
                                   help="shell command that restarts the database, run once"),
) -> None:
    """kill -9 the server at random moments under load (optionally restart the database),
    then check that nothing was lost, half-written or counted twice."""
    import subprocess

    from yibao.bench import faults
    from yibao.bench.server import free_port
    from yibao.store.demo import seed_demo

    database = Database(db)
    progress("migrating and loading the demo dataset ...")
    database.migrate()
    with database.write() as conn:
        seed_demo(conn)
    people = faults.local_people(database)
    port = free_port()
    opening = faults.opening_balances(database)
    outage = None
    if restart_db:
        def outage() -> None:
            subprocess.run(restart_db, shell=True, check=True)
    ledger = faults.run(database.url, seconds=seconds, kills=kills, port=port,
                        clients=clients, persons=people, institutions=faults.DEMO_HOSPITALS,
                        outage=outage, report=progress)
    progress("checking every acknowledged settlement ...")
    problems = faults.check(database, ledger, opening)
    console.print(f"acknowledged settlements {len(ledger.acknowledged)}, resent after a kill "
                  f"{ledger.retries}, E-SYS-001 answers {ledger.unavailable}")
    if ledger.refusals:
        console.print("refused (a flow then ends): " + ", ".join(
            f"{code} x{count}" for code, count in ledger.refusals.most_common()))
    if problems:
        for problem in problems[:50]:
            show(problem, "red")
        raise typer.Exit(1)
    console.print("[green]all acknowledged settlements exist exactly once; accumulators, "
                  "accounts and messages are consistent[/]")
