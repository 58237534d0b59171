"""`yibao bench scale`: N stateless API processes (`yibao serve`) behind one PgBouncer in
transaction mode in front of one PostgreSQL database, for each N asked; 2207 as fast as
the clients can go, with each party's CPU per settlement; and one API process straight
on the database (no pooler) for comparison, twice: as usual (psycopg prepares the
statements it runs often) and without prepared statements (``?pooler=transaction`` on the
direct URL), which tells the pooler's own cost from that of the prepared statements that
transaction mode gives up.

No load balancer: a HIS is configured with one address, so the clients (institutions)
are spread round-robin over the N processes (settle.Phases). The machinery is
settle.py's: the synthetic world, the prepared visits, the clients (load.py) and the CPU
meter (cpu.py). The first pooled row also measures the HTTP floor (a message answered
without any transaction) and full outpatient flows, for the capacity model
(capacity.py).
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from yibao.bench import settle
from yibao.bench.load import FLOOR_INFNO, Target
from yibao.bench.pooler import Pooler
from yibao.bench.progress import Report
from yibao.bench.server import ServerProcess, free_port
from yibao.store.db import POOLER_OPTION, Database

BASE_PORT = 9300  # the API processes' ports start here (a free port if taken)


@dataclass(frozen=True, slots=True)
class Options:
    url: str  # PostgreSQL, straight (the benchmark starts its own pgbouncer)
    processes: tuple[int, ...] = (1, 2, 4)
    seconds: float = 10.0
    persons: int = 20_000
    clients: int = 8
    client_processes: int = 2
    workers: int = 1  # uvicorn workers per API process
    pool_size: int = 20  # pgbouncer's server connections
    direct: bool = True  # also one API process without the pooler (two rows)


def run(opts: Options, report: Report = print) -> dict[str, Any]:
    db = Database(opts.url, pool_size=2)
    if db.is_sqlite or db.pooler is not None:
        raise SystemExit("bench scale needs a PostgreSQL URL straight to the server "
                         "(it starts its own pgbouncer in front of it)")
    load = [round(x, 2) for x in os.getloadavg()]
    report(f"preparing {opts.persons:,} synthetic persons ...")
    settle.prepare(db, opts.persons)
    world = settle.population(db)
    rows: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    try:
        with Pooler(db.url, pool_size=opts.pool_size) as bouncer:
            report(f"pgbouncer (transaction mode, {opts.pool_size} server connections) "
                   f"on port {bouncer.port}")
            if opts.direct:
                rows.append(_row(opts, db, world, 1, None, report, None))
                rows.append(_row(opts, db, world, 1, None, report, None, prepared=False))
            for index, n in enumerate(opts.processes):
                rows.append(_row(opts, db, world, n, bouncer, report,
                                 extra if index == 0 else None))
    finally:
        db.dispose()
    _ratios(rows)
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": "postgresql",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_before": load,
                    "load_after": [round(x, 2) for x in os.getloadavg()]},
        "options": {"processes": list(opts.processes), "seconds": opts.seconds,
                    "persons": opts.persons, "clients": opts.clients,
                    "client_processes": opts.client_processes,
                    "workers_per_process": opts.workers,
                    "pooler_server_connections": opts.pool_size},
        "rows": rows,
        **extra,
    }


def _row(opts: Options, db: Database, world: settle.Population, n: int,
         bouncer: Pooler | None, report: Report,
         extra: dict[str, Any] | None, *, prepared: bool = True) -> dict[str, Any]:
    """N API processes (through ``bouncer``, or straight when None; straight and not
    ``prepared``: with the pooler option, so that nothing is prepared on the server):
    2207 at full speed; into ``extra`` (when given) the HTTP floor and full flows of the
    same run."""
    if bouncer is not None:
        url, setup = bouncer.url_for(), "pgbouncer"
    elif prepared:
        url, setup = db.url, "direct"
    else:
        url = make_url(db.url).update_query_dict({POOLER_OPTION: "transaction"}
                                                 ).render_as_string(hide_password=False)
        setup = "direct, unprepared"
    report(f"{setup}, {n} API process{'es' if n > 1 else ''}: starting ...")
    servers: list[ServerProcess] = []
    try:
        for _ in range(n):
            port = free_port(BASE_PORT + 10 * len(servers))
            servers.append(ServerProcess(url, port, workers=opts.workers))
        clients = max(opts.clients, n)  # at least one client per process
        driving = settle.Options(url, opts.seconds, clients, opts.client_processes,
                                 opts.workers, opts.persons)
        phases = settle.Phases(
            driving, world, [Target("127.0.0.1", s.port) for s in servers],
            settle.meter(servers, db, bouncer.pid if bouncer is not None else 0))
        if extra is not None:
            report("  the HTTP floor (no transaction) ...")
            extra["floor"] = phases.driven(lambda i: phases.plan("floor", i))
            report("  full outpatient flows ...")
            extra["flows"] = phases.driven(lambda i: phases.plan("flow", i))
        report("  2207 at full speed ...")
        merged = phases.settle_max()
    finally:
        for server in servers:
            server.stop()
    latency = merged["latency_ms"].get("2207", {})
    row = {"setup": setup, "processes": n, "clients": clients,
           "settle_per_s": merged["calls_per_s"].get("2207", 0.0),
           "settlements": latency.get("n", 0),
           "p50_ms": latency.get("p50"), "p99_ms": latency.get("p99"),
           "cpu_ms_per_2207": merged["cpu_ms_per_call"],
           "errors": merged["errors"], "first_error": merged["first_error"]}
    report(f"  {row['settle_per_s']} 2207/s, p50 {row['p50_ms']} ms, p99 {row['p99_ms']} "
           f"ms; CPU ms per 2207 {row['cpu_ms_per_2207']}")
    return row


def _ratios(rows: list[dict[str, Any]]) -> None:
    """Each pooled row's rate over the pooled row with the fewest processes; the direct
    row's over that same row too."""
    pooled = [r for r in rows if r["setup"] == "pgbouncer"]
    if not pooled:
        return
    base = min(pooled, key=lambda r: r["processes"])["settle_per_s"]
    for row in rows:
        row["ratio_to_1"] = round(row["settle_per_s"] / base, 3) if base else None


def markdown(result: dict[str, Any]) -> str:
    lines = ["| setup | API processes | 2207/s | p50 ms | p99 ms | ratio to N=1 | CPU ms "
             "per 2207: API | pgbouncer | PostgreSQL | clients | errors |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        cpu = row["cpu_ms_per_2207"]
        errors = sum(row["errors"].values())
        cells = [row["setup"], row["processes"], row["settle_per_s"], row["p50_ms"],
                 row["p99_ms"], row.get("ratio_to_1"), cpu.get("server"),
                 cpu.get("pooler", "–"), cpu.get("database"), cpu.get("clients"), errors]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    machine = result["machine"]
    lines += ["", f"{machine['cpus']} cores; load average before {machine['load_before']}, "
              f"after {machine['load_after']}"]
    if "floor" in result:
        floor = result["floor"]
        lines.append(f"HTTP floor: {floor['calls_per_s'].get(FLOOR_INFNO, 0.0)} msg/s, API "
                     f"CPU {floor['cpu_ms_per_call']['server']} ms per message; full flows: "
                     f"{result['flows']['flows_per_s']} flows/s")
    return "\n".join(lines) + "\n"


def save(result: dict[str, Any], directory: Path) -> Path:
    return settle.save(result, directory, "scale")
