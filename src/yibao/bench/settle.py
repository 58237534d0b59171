"""`yibao bench settle`: the server under load from simulated HIS clients, and a bare-SQL
baseline on the same database in the same run.

Phases: (1) full outpatient flows 1101 -> 2201 -> 2204 -> 2206 -> 2207 for a while;
(2) 2207 alone as fast as the clients can go, on visits prepared beforehand; (3) 2207
paced at 80 % of that rate, for its latency; (4) the baseline: the same database running
a settlement-shaped transaction directly (lock the person's accumulator row, update it,
insert a settlement and ten fee lines) with as many connections as there are clients.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import platform
import random
import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from yibao.bench.cpu import Meter
from yibao.bench.load import FLOOR_INFNO, Plan, Record, Target, run_process
from yibao.bench.progress import Report
from yibao.bench.server import ServerProcess, free_port
from yibao.bench.world import LIMITED_ITEMS, Scale, generate, world_token
from yibao.store.db import Database
from yibao.store.schema import catalogue_item, institution, insurance, person

PERSONS_SAMPLE = 20_000
# hospitals (code, token); persons (psn_no, certno, insutype); catalogue item codes
Population = tuple[list[tuple[str, str]], list[tuple[Any, ...]], list[str]]


@dataclass(frozen=True, slots=True)
class Options:
    url: str
    seconds: float = 20.0
    clients: int = 8
    processes: int = 2
    workers: int = 2
    persons: int = 100_000
    port: int = 8765
    http: str = "lean"  # the server's national route: lean or routed (YIBAO_HTTP_PATH)


def prepare(db: Database, persons: int) -> None:
    db.migrate()
    with db.read() as conn:
        have = conn.execute(
            select(func.count()).select_from(person).where(person.c.psn_no.startswith("W"))
        ).scalar_one()
    if have < persons:
        if have:
            raise SystemExit(f"database holds {have} synthetic persons; use an empty one")
        generate(db, Scale(persons=persons, institutions=1000, items=20_000),
                 lambda label, n: None)


def population(db: Database) -> Population:
    """The synthetic world's hospitals, a sample of its persons and of its items."""
    with db.read() as conn:
        hospitals = [(r.fixmedins_code, world_token(r.fixmedins_code)) for r in conn.execute(
            select(institution.c.fixmedins_code).where(
                institution.c.kind == "hospital", institution.c.fixmedins_code.startswith("W")))]
        people = [tuple(r) for r in conn.execute(
            select(person.c.psn_no, person.c.certno, insurance.c.insutype)
            .join(insurance, insurance.c.psn_no == person.c.psn_no)
            .where(person.c.psn_no.startswith("W")).limit(PERSONS_SAMPLE))]
        # the generated items only: those with usage limits (an age, a sex: the
        # supervision rules' fixtures) would have real-time review refuse some 2207s
        items = list(conn.execute(
            select(catalogue_item.c.code).where(
                catalogue_item.c.code.startswith("W"),
                catalogue_item.c.code.not_in(list(LIMITED_ITEMS)))
            .limit(2000)).scalars())
    return hospitals, people, items


def _drive(opts: Options, target: Target, make: Callable[[int], Plan]) -> list[Record]:
    """Run plans made by ``make(index)`` on opts.clients threads over opts.processes; the
    records come back in the order of the plans. A plan's own target, if it has one, wins
    over ``target``."""
    plans = [make(i) for i in range(opts.clients)]
    per = [plans[i::opts.processes] for i in range(opts.processes)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=opts.processes, mp_context=context) as pool:
        batches = list(pool.map(run_process, [target] * opts.processes, per))
    records: list[Record] = [Record()] * opts.clients
    for p, batch in enumerate(batches):
        records[p::opts.processes] = batch
    return records


def meter(servers: Sequence[ServerProcess], db: Database, pooler_pgid: int = 0) -> Meter:
    """The CPU meter of the servers (API processes), the database and the pooler."""
    return Meter(tuple(s.pid for s in servers),
                 "" if db.is_sqlite else db.engine.url.database or "", pooler_pgid)


def _metered(meter: Meter, opts: Options, target: Target,
             make: Callable[[int], Plan]) -> dict[str, Any]:
    """A phase merged, with each metered party's CPU time during it."""
    before = meter.read()
    records = _drive(opts, target, make)
    after = meter.read()
    return _merge(records, {party: after[party] - before[party] for party in before})


class Phases:
    """Consecutive phases of the clients over one population. Client ``i`` is
    institution ``i`` (round-robin over the hospitals) and sends to ``targets[i % N]``:
    with several servers the institutions are spread round-robin over them, as a HIS is
    configured with one address (no load balancer). Each phase's clients use the other
    half of the msgid serials than the phase before (``Plan.serials``)."""

    def __init__(self, opts: Options, world: Population, targets: Sequence[Target],
                 cpu: Meter) -> None:
        self.opts, self.world, self.targets, self.cpu = opts, world, list(targets), cpu
        self._count = itertools.count()
        self.phase = 0

    def plan(self, mode: str, i: int, **kw: Any) -> Plan:
        hospitals, people, items = self.world
        return Plan(mode, self.opts.seconds, hospitals[i % len(hospitals)], people, items,
                    seed=hash((mode, i)) & 0xFFFF, serials=self.phase % 2,
                    target=self.targets[i % len(self.targets)], **kw)

    def driven(self, make: Callable[[int], Plan]) -> dict[str, Any]:
        """A metered phase, merged."""
        self.phase = next(self._count)
        return _metered(self.cpu, self.opts, self.targets[0], make)

    def prepared(self, count: int) -> list[tuple[dict[str, Any], ...]]:
        """``count`` visits per client registered with their fee lines (1101, 2201,
        2204), for 2207 to settle in the next phase."""
        self.phase = next(self._count)
        records = _drive(self.opts, self.targets[0],
                         lambda i: self.plan("prepare", i, prepared=count))
        return [tuple(r.visits) for r in records]

    def settle_max(self) -> dict[str, Any]:
        """2207 as fast as the clients can go, on visits prepared beforehand."""
        visits = self.prepared(max(50, int(300 * self.opts.seconds / 20)))
        return self.driven(lambda i: self.plan("settle", i, visits=visits[i]))


def _percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"n": len(values)}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"n": len(values), "p50": round(cuts[49], 2), "p95": round(cuts[94], 2),
            "p99": round(cuts[98], 2)}


def _merge(records: list[Record], cpu: Mapping[str, float] | None = None) -> dict[str, Any]:
    """One phase's records together; ``cpu``: CPU seconds during the phase by party
    (server, database, pooler), reported with the clients' per call."""
    latencies: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    first_error: dict[str, str] = {}
    for r in records:
        for infno, values in r.latencies.items():
            latencies.setdefault(infno, []).extend(values)
        for infno, n in r.errors.items():
            errors[infno] = errors.get(infno, 0) + n
        for infno, message in r.first_error.items():
            first_error.setdefault(infno, message)
    seconds = max((r.seconds for r in records), default=0.0) or 1.0
    calls = sum(len(v) for v in latencies.values()) or 1
    parties = {**(cpu or {"server": 0.0, "database": 0.0}),
               "clients": sum(r.cpu_seconds for r in records)}
    return {
        "seconds": round(seconds, 2),
        "cpu_ms_per_call": {k: round(v / calls * 1000, 3) for k, v in parties.items()},
        "flows_per_s": round(sum(r.flows for r in records) / seconds, 1),
        "calls_per_s": {k: round(len(v) / seconds, 1) for k, v in sorted(latencies.items())},
        "latency_ms": {k: _percentiles(v) for k, v in sorted(latencies.items())},
        "errors": errors,
        "first_error": first_error,  # what the first refusal of each infno said
    }


def baseline(db: Database, clients: int, seconds: float, persons: int = 10_000) -> float:
    """Settlement-shaped transactions per second straight on the database."""
    with db.engine.begin() as conn:
        for ddl in (
            "DROP TABLE IF EXISTS bench_fee_line", "DROP TABLE IF EXISTS bench_settlement",
            "DROP TABLE IF EXISTS bench_accum",
            "CREATE TABLE bench_accum (psn_no VARCHAR(30) PRIMARY KEY, cum BIGINT NOT NULL)",
            "CREATE TABLE bench_settlement (setl_id VARCHAR(40) PRIMARY KEY, "
            "psn_no VARCHAR(30) NOT NULL, amount BIGINT NOT NULL)",
            "CREATE TABLE bench_fee_line (setl_id VARCHAR(40) NOT NULL, sn INTEGER NOT NULL, "
            "psn_no VARCHAR(30) NOT NULL, amount BIGINT NOT NULL, PRIMARY KEY (setl_id, sn))",
        ):
            conn.execute(text(ddl))
        conn.execute(text("INSERT INTO bench_accum VALUES (:p, 0)"),
                     [{"p": f"P{i}"} for i in range(persons)])
    counts = [0] * clients
    stop = time.perf_counter() + seconds

    def worker(index: int) -> None:
        rng = random.Random(index)
        n = 0
        while time.perf_counter() < stop:
            psn = f"P{rng.randrange(persons)}"
            setl_id = f"{index}-{n}"
            with db.write() as conn:
                conn.execute(text("SELECT cum FROM bench_accum WHERE psn_no = :p"
                                  + ("" if db.is_sqlite else " FOR UPDATE")), {"p": psn})
                conn.execute(text("UPDATE bench_accum SET cum = cum + 100 WHERE psn_no = :p"),
                             {"p": psn})
                conn.execute(text("INSERT INTO bench_settlement VALUES (:s, :p, 1000)"),
                             {"s": setl_id, "p": psn})
                conn.execute(text("INSERT INTO bench_fee_line VALUES (:s, :n, :p, 100)"),
                             [{"s": setl_id, "n": k, "p": psn} for k in range(10)])
            n += 1
        counts[index] = n

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (Linux /proc), in MiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        status = Path(f"/proc/{p}/status")
        if status.exists():
            for row in status.read_text().splitlines():
                if row.startswith("VmRSS:"):
                    total += int(row.split()[1])
    return round(total / 1024, 1)


def soak(opts: Options, minutes: float, window: float,
         report: Report = print) -> dict[str, Any]:
    """Full flows at 70 % of the measured maximum for ``minutes``; latency and server
    memory per window, so a leak or a slowdown shows as a trend."""
    db = Database(opts.url, pool_size=opts.clients)
    prepare(db, opts.persons)
    hospitals, people, items = population(db)
    server = ServerProcess(opts.url, free_port(opts.port), workers=opts.workers)
    target = Target("127.0.0.1", server.port)
    cpu = meter([server], db)
    try:
        probe = _metered(cpu, opts, target, lambda i: Plan(
            "flow", min(10.0, window), hospitals[i % len(hospitals)], people, items, seed=i,
            serials=1))
        rate = 0.7 * probe["flows_per_s"]
        interval = opts.clients / rate if rate else 1.0
        report(f"maximum {probe['flows_per_s']} flows/s; soaking at {rate:.1f}/s")
        windows = []
        for n in range(max(1, int(minutes * 60 / window))):
            def flows(i: int, n: int = n) -> Plan:
                return Plan("flow", window, hospitals[i % len(hospitals)], people, items,
                            interval=interval, seed=1000 * n + i, serials=n % 2)

            merged = _metered(cpu, opts, target, flows)
            row = {"window": n, "flows_per_s": merged["flows_per_s"],
                   "p50_2207": merged["latency_ms"].get("2207", {}).get("p50"),
                   "p99_2207": merged["latency_ms"].get("2207", {}).get("p99"),
                   "server_rss_mb": _rss_mb(server.pid),
                   "cpu_ms_per_call": merged["cpu_ms_per_call"]}
            report(", ".join(f"{name} {value}" for name, value in row.items()))
            windows.append(row)
    finally:
        server.stop()
        db.dispose()
    return {"max_flows_per_s": probe["flows_per_s"], "soak_flows_per_s": round(rate, 1),
            "windows": windows}


def run(opts: Options, report: Report = print) -> dict[str, Any]:
    db = Database(opts.url, pool_size=opts.clients)
    report(f"preparing {opts.persons:,} synthetic persons ...")
    prepare(db, opts.persons)
    server = ServerProcess(opts.url, free_port(opts.port), workers=opts.workers,
                           env={"YIBAO_HTTP_PATH": opts.http})
    phases = Phases(opts, population(db), [Target("127.0.0.1", server.port)],
                    meter([server], db))
    out: dict[str, Any] = {}
    try:
        report("phase 0: HTTP floor (a message refused before any transaction runs) ...")
        out["floor"] = phases.driven(lambda i: phases.plan("floor", i))
        report("phase 1: full outpatient flows ...")
        out["flows"] = phases.driven(lambda i: phases.plan("flow", i))
        report("phase 2: 2207 at full speed ...")
        out["settle_max"] = phases.settle_max()
        peak = out["settle_max"]["calls_per_s"].get("2207", 0.0)
        interval = opts.clients / (0.8 * peak) if peak else 1.0
        visits = phases.prepared(max(20, int(0.8 * peak * opts.seconds / opts.clients) + 5))
        report(f"phase 3: 2207 paced at 80 % of {peak:.0f}/s ...")
        out["settle_80"] = phases.driven(lambda i: phases.plan(
            "paced", i, visits=visits[i], interval=interval))
    finally:
        server.stop()
    report("phase 4: bare-SQL baseline ...")
    base = baseline(db, opts.clients, min(opts.seconds, 15.0))
    db.dispose()
    return _summary(opts, out, base)


def _summary(opts: Options, phases: dict[str, Any], base: float) -> dict[str, Any]:
    settle_rate = phases["settle_max"]["calls_per_s"].get("2207", 0.0)
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": "sqlite" if opts.url.startswith("sqlite") or "://" not in opts.url
        else "postgresql",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "options": {"clients": opts.clients, "client_processes": opts.processes,
                    "server_workers": opts.workers, "http": opts.http, "seconds": opts.seconds,
                    "persons": opts.persons},
        "phases": phases,
        "floor_per_s": phases["floor"]["calls_per_s"].get(FLOOR_INFNO, 0.0),
        "baseline_tx_per_s": round(base, 1),
        "ratio_2207_to_baseline": round(settle_rate / base, 3) if base else None,
    }


def markdown(result: dict[str, Any]) -> str:
    p = result["phases"]
    lat80 = p["settle_80"]["latency_ms"].get("2207", {})
    rows = [
        ("HTTP floor req/s (refused before any transaction)", result["floor_per_s"],
         "> 1000 for the 2207 target to be reachable"),
        ("full outpatient flows/s", p["flows"]["flows_per_s"], "≥ 250"),
        ("2207 settlements/s (max)", p["settle_max"]["calls_per_s"].get("2207"), "≥ 1000"),
        ("2207 p99 ms at 80 % of max", lat80.get("p99"), "≤ 50"),
        ("bare-SQL baseline tx/s", result["baseline_tx_per_s"], "–"),
        ("ratio 2207 / baseline", result["ratio_2207_to_baseline"], "≥ 0.25"),
    ]
    lines = [f"| measure ({result['database']}) | value | target |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {target} |" for name, value, target in rows]
    lines += ["", "| phase | CPU ms per call: server | database | clients | calls/s the "
              "cores could carry |", "|---|---|---|---|---|"]
    for phase in ("floor", "settle_max", "settle_80"):
        cpu = p[phase]["cpu_ms_per_call"]
        total = sum(cpu.values())
        ceiling = round(result["machine"]["cpus"] * 1000 / total) if total else None
        lines.append(f"| {phase} | {cpu['server']} | {cpu['database']} | {cpu['clients']} "
                     f"| {ceiling} |")
    lines += ["", "| infno | calls/s (flows) | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|---|"]
    for infno, lat in p["flows"]["latency_ms"].items():
        rate = p["flows"]["calls_per_s"][infno]
        cells = [infno, rate, lat.get("p50"), lat.get("p95"), lat.get("p99")]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def save(result: dict[str, Any], directory: Path, name: str = "") -> Path:
    """The result as JSON in ``directory``, named ``name`` (default settle-<database>)
    and the time it was taken."""
    directory.mkdir(parents=True, exist_ok=True)
    name = name or f"settle-{result['database']}"
    path = directory / f"{name}-{result['when'][:19].replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    return path
