"""The capacity model (`yibao bench capacity`): from the CPU milliseconds measured per
settlement (API processes, pooler, database) and per message answered without a
transaction (the HTTP floor: only its nonce is written), the cores a city, a province and
the national platform need at their peak, and which component saturates first
(docs/scaling.md, "Capacity model").

The model is arithmetic, in pure functions over typed records:

- per settlement, each component spends the measured CPU of a full outpatient flow
  (1101, 2201, 2204, 2206, 2207) when the run measured one, else of a 2207 alone, plus
  ``extra_messages`` messages per settlement that run no transaction of their own
  (sign-in, queries, retries), each at the HTTP floor's CPU per message (API, pooler and
  database: the floor still records its nonce);
- the peak rate is the day's settlements over 86 400 s times ``peak_factor``;
- cores = peak rate × CPU ms per settlement / 1000 / ``utilisation`` (the target busy
  share of a core);
- the API processes are stateless and scale out: they never saturate first. One
  PgBouncer process is single-threaded (one core); one database server has
  ``database_cores``. The component that saturates first is the one of those two whose
  single instance carries the lowest peak rate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class Costs:
    """CPU milliseconds per unit of work, by component."""

    api: float
    pooler: float
    database: float


@dataclass(frozen=True, slots=True)
class Measured:
    """What a benchmark run measured (``source``: its file and rows)."""

    settle: Costs  # per 2207
    message: Costs  # per message answered without a transaction (the HTTP floor)
    flow: Costs | None  # per full outpatient flow (one settlement), when measured
    source: str


@dataclass(frozen=True, slots=True)
class Region:
    name: str
    settlements_per_day: float
    basis: str  # the stated assumption behind the daily number


@dataclass(frozen=True, slots=True)
class Assumptions:
    peak_factor: float = 6.0  # peak rate over the day's average
    utilisation: float = 0.6  # target busy share of each core at the peak
    extra_messages: float = 2.0  # messages per settlement without a transaction
    pooler_cores: int = 1  # one PgBouncer process: single-threaded
    database_cores: int = 64  # the largest database server considered


@dataclass(frozen=True, slots=True)
class Need:
    region: Region
    peak_per_s: float
    per_settlement: Costs  # CPU ms per settlement, the extra messages included
    cores: Costs  # cores needed at the peak, at the target utilisation
    poolers: int  # PgBouncer processes
    database_servers: int  # database servers of ``database_cores`` (>1: partitioned)
    first: str  # the component that saturates first: "pooler" or "database"
    first_at_per_s: float  # the peak rate at which one instance of it is full


REGIONS = (
    Region("Beijing", 22e6 * 20 / 365,
           "~22 M insured, ~20 settlements per insured a year (outpatient visits, "
           "pharmacy purchases, inpatient stays)"),
    Region("a province", 60e6 * 15 / 365,
           "60 M insured, 15 settlements per insured a year"),
    Region("national platform", 28e6,
           "28 M settlements a day (≈ 324/s on average)"),
)


def per_settlement(measured: Measured, assume: Assumptions) -> Costs:
    """CPU ms per settlement by component: the flow (or the 2207 alone) plus the extra
    messages'."""
    base, extra, k = measured.flow or measured.settle, measured.message, assume.extra_messages
    return Costs(base.api + k * extra.api, base.pooler + k * extra.pooler,
                 base.database + k * extra.database)


def peak_per_s(region: Region, assume: Assumptions) -> float:
    return region.settlements_per_day / SECONDS_PER_DAY * assume.peak_factor


def cores(rate: float, cost_ms: float, utilisation: float) -> float:
    """Cores busy ``utilisation`` of the time that spend ``cost_ms`` per unit at
    ``rate`` units a second."""
    return rate * cost_ms / 1000 / utilisation


def ceiling(instance_cores: int, cost_ms: float, utilisation: float) -> float:
    """The rate one instance of ``instance_cores`` carries at the target utilisation
    (infinite when the component costs nothing measured)."""
    return instance_cores * utilisation * 1000 / cost_ms if cost_ms > 0 else math.inf


def need(region: Region, measured: Measured, assume: Assumptions) -> Need:
    rate = peak_per_s(region, assume)
    cost = per_settlement(measured, assume)
    needed = Costs(cores(rate, cost.api, assume.utilisation),
                   cores(rate, cost.pooler, assume.utilisation),
                   cores(rate, cost.database, assume.utilisation))
    limits = {"pooler": ceiling(assume.pooler_cores, cost.pooler, assume.utilisation),
              "database": ceiling(assume.database_cores, cost.database, assume.utilisation)}
    first = min(limits, key=lambda name: limits[name])
    return Need(region, rate, cost, needed,
                poolers=max(1, math.ceil(needed.pooler / assume.pooler_cores - 1e-9)),
                database_servers=max(1, math.ceil(needed.database / assume.database_cores
                                                  - 1e-9)),
                first=first, first_at_per_s=limits[first])


def model(measured: Measured, assume: Assumptions,
          regions: tuple[Region, ...] = REGIONS) -> list[Need]:
    return [need(region, measured, assume) for region in regions]


def _costs(cpu: dict[str, Any], per: float = 1.0) -> Costs:
    """A benchmark's ``cpu_ms_per_call`` (server, pooler, database) times ``per``."""
    return Costs(float(cpu.get("server", 0.0)) * per, float(cpu.get("pooler", 0.0)) * per,
                 float(cpu.get("database", 0.0)) * per)


def _flow(phase: dict[str, Any] | None) -> Costs | None:
    """A flows phase's CPU per flow: per call times the calls per completed flow."""
    if not phase or not phase.get("flows_per_s"):
        return None
    calls = sum(phase["calls_per_s"].values())
    return _costs(phase["cpu_ms_per_call"], calls / phase["flows_per_s"])


def measured_from(result: dict[str, Any], source: str = "") -> Measured:
    """The measured costs of a `bench scale` result (the mean of its pooled rows' CPU
    per 2207) or of a `bench settle` result (its 2207 maximum phase: no pooler)."""
    phase = result["floor"] if "rows" in result else result["phases"]["floor"]
    floor = _costs(phase["cpu_ms_per_call"])
    if "rows" in result:
        pooled = [r for r in result["rows"] if r["setup"] == "pgbouncer"] or result["rows"]
        rows = [_costs(r["cpu_ms_per_2207"]) for r in pooled]
        settle = Costs(*(sum(getattr(c, f) for c in rows) / len(rows)
                         for f in ("api", "pooler", "database")))
        what = f"bench scale, mean of {len(rows)} pooled rows"
        return Measured(settle, floor, _flow(result.get("flows")), f"{source} ({what})")
    phases = result["phases"]
    return Measured(_costs(phases["settle_max"]["cpu_ms_per_call"]), floor,
                    _flow(phases.get("flows")), f"{source} (bench settle, no pooler)")


def load(path: Path) -> Measured:
    return measured_from(json.loads(path.read_text()), str(path))


def _n(value: float) -> str:
    return f"{value:,.2f}" if value < 10 else f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def markdown(measured: Measured, assume: Assumptions, needs: list[Need]) -> str:
    s, f = measured.settle, measured.flow
    lines = [
        f"measured ({measured.source}): CPU ms per 2207 API {s.api:.3f}, pooler "
        f"{s.pooler:.3f}, database {s.database:.3f}; per message without a transaction "
        f"API {measured.message.api:.3f}, pooler {measured.message.pooler:.3f}, database "
        f"{measured.message.database:.3f}" + (
            f"; per full flow API {f.api:.2f}, pooler {f.pooler:.2f}, database "
            f"{f.database:.2f}" if f else "; no full flows measured (2207 alone)"),
        f"assumed: peak {assume.peak_factor:g}× the day's average, cores busy "
        f"{assume.utilisation:.0%} at the peak, {assume.extra_messages:g} messages per "
        f"settlement without a transaction, one PgBouncer process = "
        f"{assume.pooler_cores} core, one database server = {assume.database_cores} cores",
        "",
        "| region | settlements a day | peak /s | CPU ms per settlement: API / pooler / "
        "database | API cores | pooler cores (processes) | database cores (servers) | "
        "saturates first (at peak /s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in needs:
        c, k = n.per_settlement, n.cores
        lines.append(
            f"| {n.region.name} | {_n(n.region.settlements_per_day)} | "
            f"{_n(n.peak_per_s)} | {c.api:.2f} / {c.pooler:.2f} / {c.database:.2f} | "
            f"{_n(k.api)} | {_n(k.pooler)} ({n.poolers}) | {_n(k.database)} "
            f"({n.database_servers}) | {n.first} ({_n(n.first_at_per_s)}) |")
    lines += ["", *(f"- {n.region.name}: {n.region.basis}" for n in needs)]
    return "\n".join(lines) + "\n"
