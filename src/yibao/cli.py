"""The ``yibao`` command: serve, migrate, seed, demo, errors, operators, outbox, ledger,
clearing, world, bench, purge."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console

from yibao.services import outbox
from yibao.store.db import DEFAULT_URL, Database

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from yibao.services.context import Caller
    from yibao.services.operators import Issued

app = typer.Typer(
    help="yibao: medical-insurance real-time settlement platform", no_args_is_help=True
)
console = Console()
DB_OPTION = typer.Option(
    os.environ.get("YIBAO_DATABASE_URL", DEFAULT_URL), "--db", help="database URL or SQLite path"
)


@app.command()
def migrate(db: str = DB_OPTION) -> None:
    """Create or upgrade the schema (alembic upgrade head)."""
    database = Database(db)
    database.migrate()
    console.print(f"[green]schema up to date[/] on {_safe(database.url)}")


@app.command()
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


@app.command()
def serve(
    db: str = DB_OPTION,
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8080, "--port"),
    workers: int = typer.Option(1, "--workers"),
    demo_mode: bool = typer.Option(
        False, "--demo", help="demo mode: allow the built-in development face template key"),
) -> None:
    """Run the HTTP server (several worker processes with --workers); with
    YIBAO_OUTBOX_URL set, each worker runs an outbox deliverer too. Refuses to start (exit
    2) with a face template key that is not base64 of 16, 24 or 32 bytes, and with the
    built-in development key (YIBAO_TEMPLATE_KEY unset or that key) unless --demo (or
    YIBAO_DEMO=1)."""
    import uvicorn

    from yibao.services import face

    problem = face.key_problem(demo=demo_mode or face.demo_switched_on())
    if problem:
        console.print(f"[red]{problem}[/]", markup=True, highlight=False)
        raise typer.Exit(2)
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


@app.command()
def demo(
    db: str = typer.Option(DEFAULT_URL, "--db"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8080, "--port"),
) -> None:
    """Migrate, load the demo dataset and serve: the one-command start."""
    seed(db=db, demo=True)
    console.print(f"serving on http://{host}:{port}  (OpenAPI at /docs, walk-through in README)")
    serve(db=db, host=host, port=port, workers=1, demo_mode=True)


@app.command()
def errors(output: Path | None = typer.Option(None, "--output")) -> None:
    """Print (or write) the error catalogue as Markdown."""
    from yibao.domain.errors import catalogue_markdown

    text = catalogue_markdown()
    if output is None:
        console.print(text)
    else:
        output.write_text(text, encoding="utf-8")


ledger_cli = typer.Typer(help="The fund ledger")
PROBLEMS_SHOWN_MAX = 50  # verify counts the rest
app.add_typer(ledger_cli, name="ledger")


@ledger_cli.command("verify")
def ledger_verify(db: str = DB_OPTION) -> None:
    """Prove that the ledger and the settlements agree to the fen (exit 1 if not)."""
    from yibao.services import ledger

    count = 0
    with Database(db).read(snapshot=True) as conn:
        for count, problem in enumerate(ledger.problems(conn), start=1):
            if count <= PROBLEMS_SHOWN_MAX:
                console.print(f"[red]✘[/] {problem}")
    if count:
        console.print(f"[red]{count} problems[/]")
        raise typer.Exit(1)
    console.print("[green]ledger verified[/]: every posting sums to zero and matches its record")


@ledger_cli.command("balances")
def ledger_balances(db: str = DB_OPTION, prefix: str = typer.Option("", "--prefix")) -> None:
    """Account balances derived from the entries (yuan; debit positive)."""
    from rich.table import Table

    from yibao.domain.money import fen_to_yuan
    from yibao.services import ledger

    with Database(db).read() as conn:
        rows = ledger.balances(conn, prefix)
    table = Table("account", "balance")
    for account, amount in sorted(rows.items()):
        table.add_row(account, fen_to_yuan(amount))
    console.print(table)


clearing_cli = typer.Typer(help="Monthly clearing, prepayment and statements")
app.add_typer(clearing_cli, name="clearing")
MONTH_OPTION = typer.Option(..., "--month", help="YYYY-MM")
OPERATOR_OPTION = typer.Option(os.environ.get("USER", "cli"), "--operator",
                               help="who runs it (recorded)")


T = TypeVar("T")


def _clearing_step(db: str, action: Callable[[Connection], T]) -> T:
    """Run a clearing step in one write transaction that reads one snapshot of the store;
    a refusal (another run of the same month first, say) exits 1 with why."""
    from yibao.domain.errors import Refused

    try:
        with Database(db).write(snapshot=True) as conn:
            return action(conn)
    except Refused as refusal:
        console.print(f"[red]{refusal.message}[/]")
        raise typer.Exit(1) from refusal


def _logged(operator: str, what: str, month: str,
            action: Callable[[Connection], T]) -> Callable[[Connection], T]:
    """The clearing step, then its row of the operators' log in the same transaction
    (role ``cli``: a command run on the server by whoever ``--operator`` names)."""
    from yibao.domain.roles import Operator
    from yibao.services import audit
    from yibao.services.context import china_now

    def act(conn: Connection) -> T:
        result = action(conn)
        audit.action(conn, Operator(operator, china_now(), role="cli"), what, month)
        return result

    return act


def _caller(operator: str) -> Caller:
    from yibao.services.context import SOURCE_AGENCY, Caller, china_now

    return Caller(SOURCE_AGENCY, operator, china_now())


@clearing_cli.command("run")
def clearing_run(
    month: str = MONTH_OPTION, db: str = DB_OPTION, operator: str = OPERATOR_OPTION,
    engine: str = typer.Option("duckdb", "--engine", help="duckdb or spark"),
    out: Path | None = typer.Option(None, "--out", help="write the statements here"),
) -> None:
    """Compute a month (again, while it is open); optionally write the statements."""
    import time

    from yibao.services import clearing, statements

    started = time.perf_counter()
    outcome = _clearing_step(db, _logged(operator, "clearing.run", month, lambda conn:
                                         clearing.run(conn, _caller(operator), month,
                                                      engine=engine)))
    console.print(f"{month}: {outcome.settlements:,} settlements, {outcome.institutions} "
                  f"institutions, {outcome.regions} region pairs, due "
                  f"{outcome.due / 100:,.2f} yuan ({time.perf_counter() - started:.1f} s)")
    if out is not None:
        with Database(db).read() as conn:
            files = statements.write(conn, month, out)
        console.print(f"{len(files)} statement files in {out}")


@clearing_cli.command("close")
def clearing_close(month: str = MONTH_OPTION, db: str = DB_OPTION,
                   operator: str = OPERATOR_OPTION) -> None:
    """Close a month: post the payments; it is never rewritten afterwards."""
    from yibao.services import clearing

    _clearing_step(db, _logged(operator, "clearing.close", month, lambda conn:
                               clearing.close(conn, _caller(operator), month)))
    console.print(f"[green]{month} closed[/]")


@clearing_cli.command("prepay")
def clearing_prepay(month: str = MONTH_OPTION, db: str = DB_OPTION,
                    operator: str = OPERATOR_OPTION) -> None:
    """Prepay the month to institutions flagged for it (average of recent months)."""
    from yibao.services import clearing

    paid = _clearing_step(db, _logged(operator, "clearing.prepay", month, lambda conn:
                                      clearing.prepay(conn, _caller(operator), month)))
    for code, amount in paid.items():
        console.print(f"{code}: {amount / 100:,.2f} yuan prepaid for {month}")
    console.print(f"{len(paid)} prepayments")


@clearing_cli.command("statements")
def clearing_statements(month: str = MONTH_OPTION, db: str = DB_OPTION,
                        out: Path = typer.Option(Path("statements"), "--out")) -> None:
    """Write every institution's statement and the bureau summary (CSV and HTML)."""
    from yibao.services import statements

    with Database(db).read() as conn:
        files = statements.write(conn, month, out)
    console.print(f"{len(files)} files in {out}")


world = typer.Typer(help="Synthetic regions for load tests and benchmarks")
app.add_typer(world, name="world")


@world.command("generate")
def world_generate(
    db: str = DB_OPTION,
    persons: int = typer.Option(10_000, "--persons"),
    institutions: int = typer.Option(1_000, "--institutions"),
    items: int = typer.Option(20_000, "--items"),
    seed: int = typer.Option(2026, "--seed"),
) -> None:
    """Generate a synthetic region (persons, institutions, catalogue) into a database."""
    import time

    from rich.progress import Progress

    from yibao.world import Scale, generate

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


bench = typer.Typer(help="Benchmarks: numbers and ratios against a baseline in the same run")
app.add_typer(bench, name="bench")


@bench.command("engine")
def bench_engine(count: int = typer.Option(100_000, "--count"),
                 rounds: int = typer.Option(5, "--rounds", min=1)) -> None:
    """Settlements per second of the pure engine on one core (best of --rounds)."""
    from yibao.bench import engine
    from yibao.store.policy_files import load_policies

    result = engine.run(load_policies(), count, rounds)
    console.print(
        f"engine: {result.per_second:,.0f} settlements/s on one core, best of {rounds} "
        f"({result.settlements:,} in {result.seconds:.2f} s CPU); "
        f"baseline (sum the totals only): {result.baseline_per_second:,.0f}/s; "
        f"ratio {result.per_second / result.baseline_per_second:.3f}"
    )


@bench.command("clearing")
def bench_clearing(
    settlements: int = typer.Option(10_000_000, "--settlements"),
    directory: Path = typer.Option(Path("bench/results/clearing-month"), "--dir",
                                   help="the month's Parquet files (generated if absent)"),
    store: str = typer.Option("", "--store", help="a scratch PostgreSQL database to load "
                              "the month into and extract it from (it is filled)"),
) -> None:
    """Clear a synthetic month with DuckDB; baseline: one scan of the same files."""
    from yibao.bench import clearing

    r = clearing.run(directory, settlements)
    if r.generate_seconds is not None:
        console.print(f"generated {r.settlements:,} settlements in {r.generate_seconds:.1f} s")
    console.print(
        f"clearing: {r.settlements:,} settlements, {r.institutions:,} institutions in "
        f"{r.clearing_seconds:.2f} s ({r.rows_per_second:,.0f} rows/s); baseline scan "
        f"{r.baseline_seconds:.2f} s; ratio {r.baseline_seconds / r.clearing_seconds:.3f}")
    if store:
        s = clearing.run_store(store, directory)
        console.print(
            f"store: loaded {s.settlements:,} in {s.load_seconds:.1f} s; extract "
            f"{s.extract_seconds:.1f} s ({s.settlements / s.extract_seconds:,.0f} rows/s); "
            f"clear {s.clearing_seconds:.2f} s; extract + clear "
            f"{s.extract_seconds + s.clearing_seconds:.1f} s")


@bench.command("ledger")
def bench_ledger(
    db: str = DB_OPTION,
    settlements: int = typer.Option(200_000, "--settlements",
                                    help="how many to write if the database holds none"),
) -> None:
    """Time ``ledger verify`` and its peak memory; baseline: one scan of its tables."""
    from yibao.bench import ledger

    database = Database(db)
    written = ledger.fill(database, settlements)
    database.dispose()
    if written:
        console.print(f"wrote {written:,} settlements with their postings")
    m = ledger.measure(database.url)
    console.print(
        f"verify: {m.settlements:,} settlements, {m.entries:,} ledger entries, "
        f"{m.problems} problems in {m.verify_seconds:.1f} s ({m.verify_cpu_seconds:.1f} s "
        f"CPU); peak memory {m.rss_peak_mib:,.0f} MiB ({m.rss_before_mib:,.0f} MiB before "
        f"verify); baseline scan {m.baseline_seconds:.2f} s; "
        f"ratio {m.baseline_seconds / m.verify_seconds:.3f}")


@bench.command("flood")
def bench_flood(
    db: str = typer.Option("", "--db", help="SQLite path (default: a new file under --dir)"),
    seconds: float = typer.Option(10.0, "--seconds", max=120.0),
    clients: int = typer.Option(4, "--clients", min=1, max=32),
    flooders: int = typer.Option(4, "--flooders", min=1, max=32),
    flood_mib: int = typer.Option(60, "--flood-mib", min=1, max=200),
    directory: Path = typer.Option(Path("bench/results"), "--dir"),
) -> None:
    """Signed 5206 latency alone, then while unauthenticated oversized bodies flood
    /channel/v1 and /admin/v1 (one server on 127.0.0.1, SQLite); prints both and the ratio."""
    from yibao.bench import flood

    opts = flood.Options(db or flood.default_url(directory), seconds, clients, flooders,
                         flood_mib * 1024 * 1024)
    console.print(flood.markdown(flood.run(opts, report=console.print)))


@bench.command("settle")
def bench_settle(
    db: str = DB_OPTION,
    seconds: float = typer.Option(20.0, "--seconds"),
    clients: int = typer.Option(8, "--clients"),
    processes: int = typer.Option(2, "--client-processes"),
    workers: int = typer.Option(2, "--workers"),
    persons: int = typer.Option(100_000, "--persons"),
    output: Path = typer.Option(Path("bench/results"), "--output"),
) -> None:
    """Drive the server with simulated HIS clients; compare with a bare-SQL baseline."""
    from yibao.bench import settle

    opts = settle.Options(db, seconds, clients, processes, workers, persons)
    result = settle.run(opts, report=console.print)
    path = settle.save(result, output)
    console.print(settle.markdown(result))
    console.print(f"saved {path}")


@bench.command("soak")
def bench_soak(
    db: str = DB_OPTION,
    minutes: float = typer.Option(10.0, "--minutes"),
    window: float = typer.Option(30.0, "--window"),
    clients: int = typer.Option(8, "--clients"),
    persons: int = typer.Option(20_000, "--persons"),
) -> None:
    """Full flows at 70 % of the measured maximum; latency and memory per window."""
    from yibao.bench import settle

    opts = settle.Options(db, window, clients, 2, 2, persons)
    result = settle.soak(opts, minutes, window, report=console.print)
    first, last = result["windows"][0], result["windows"][-1]
    console.print(f"p99 2207 {first['p99_2207']} -> {last['p99_2207']} ms; server memory "
                  f"{first['server_rss_mb']} -> {last['server_rss_mb']} MiB")


@bench.command("crash")
def bench_crash(
    db: str = DB_OPTION,
    seconds: float = typer.Option(120.0, "--seconds"),
    kills: int = typer.Option(20, "--kills"),
    clients: int = typer.Option(4, "--clients"),
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
                        outage=outage)
    problems = faults.check(database, ledger, opening)
    console.print(f"acknowledged settlements {len(ledger.acknowledged)}, resent after a kill "
                  f"{ledger.retries}, E-SYS-001 answers {ledger.unavailable}")
    if problems:
        for problem in problems[:50]:
            console.print(f"[red]{problem}[/]")
        raise typer.Exit(1)
    console.print("[green]all acknowledged settlements exist exactly once; accumulators, "
                  "accounts and messages are consistent[/]")


outbox_app = typer.Typer(help="The outbox: cost information for the national platform")
app.add_typer(outbox_app, name="outbox")
OUTBOX_URL_OPTION = typer.Option(
    os.environ.get("YIBAO_OUTBOX_URL", ""), "--url", help="the receiver's endpoint"
)


@outbox_app.command("deliver")
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
    from yibao.services.context import china_now

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


@outbox_app.command("list")
def outbox_list(
    db: str = DB_OPTION,
    status: str | None = typer.Option(None, "--status", help="pending, delivered or failed"),
    limit: int = typer.Option(50, "--limit"),
) -> None:
    """Counts per status and the newest messages."""
    from rich.table import Table

    if status is not None and status not in outbox.STATUSES:
        raise typer.BadParameter(f"--status must be one of {', '.join(outbox.STATUSES)}")
    with Database(db).read() as conn:
        counts = outbox.counts(conn)
        rows = outbox.listing(conn, status=status, limit=limit)
    console.print("  ".join(f"{name} {count}" for name, count in counts.items()))
    table = Table("id", "kind", "status", "attempts", "next attempt", "last error", "created")
    for row in rows:
        table.add_row(row["id"], row["kind"], row["status"], str(row["attempts"]),
                      row["next_attempt_at"], row["last_error"], row["created_at"])
    console.print(table)


@app.command()
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


operators_app = typer.Typer(help="Bureau operators: roles and bearer tokens (docs/security.md)")
app.add_typer(operators_app, name="operators")
DAYS_OPTION = typer.Option(90, "--days", help="the token expires after this many days")


def _operators_step(db: str, action: Callable[[Connection], T]) -> T:
    """One write transaction; a refusal (unknown operator, name taken) exits 1."""
    from yibao.domain.errors import Refused

    try:
        with Database(db).write() as conn:
            return action(conn)
    except Refused as refusal:
        console.print(f"[red]{refusal.code} {refusal.message}[/]")
        raise typer.Exit(1) from refusal


def _show_token(issued: Issued) -> None:
    console.print(f"token of {issued.name} (shown once, store it now): {issued.token}")
    console.print(f"expires {issued.expires_at:%Y-%m-%d %H:%M}")


@operators_app.command("create")
def operators_create(
    name: str, role: list[str] = typer.Option(..., "--role", help="clerk, reviewer, "
                                              "approver, finance, auditor, administrator"),
    days: int = DAYS_OPTION, db: str = DB_OPTION,
) -> None:
    """Create an operator with one or more roles; prints its token once."""
    from yibao.services import operators
    from yibao.services.context import china_now

    _show_token(_operators_step(db, lambda conn: operators.create(
        conn, name, role, china_now(), days=days)))


@operators_app.command("list")
def operators_list(db: str = DB_OPTION) -> None:
    """Every operator: roles, status, when its live token expires (tokens never shown)."""
    from rich.table import Table

    from yibao.services import operators
    from yibao.services.context import china_now

    with Database(db).read() as conn:
        rows = operators.listing(conn, china_now())
    table = Table("name", "roles", "status", "token expires")
    for row in rows:
        table.add_row(row["name"], row["roles"], row["status"], row["expires_at"] or "-")
    console.print(table)


@operators_app.command("rotate")
def operators_rotate(name: str, days: int = DAYS_OPTION, db: str = DB_OPTION) -> None:
    """A new token for the operator (printed once); the old ones stop working at once."""
    from yibao.services import operators
    from yibao.services.context import china_now

    _show_token(_operators_step(db, lambda conn: operators.rotate(
        conn, name, china_now(), days=days)))


@operators_app.command("revoke")
def operators_revoke(name: str, db: str = DB_OPTION) -> None:
    """Revoke every token of the operator (effective on the next request)."""
    from yibao.services import operators
    from yibao.services.context import china_now

    revoked = _operators_step(db, lambda conn: operators.revoke(conn, name, china_now()))
    console.print(f"{revoked} token(s) of {name} revoked")


def _safe(url: str) -> str:
    return url.split("@")[-1] if "@" in url else url


if __name__ == "__main__":
    app()
