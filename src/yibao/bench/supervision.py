"""`yibao bench supervision`: the rule library's precision and recall on the fraud world.

The synthetic region (bench/world.py) and its month with the 14 patterns planted at a
known rate next to look-alikes (bench/fraud.py) are written into an empty database;
the month is screened by the service ``yibao supervision screen`` calls
(services/supervision.screen: the extract, every rule of the library on DuckDB, the run
and its clues recorded), and the run's clues, read back from the clue table, are
compared with the manifest by the entity a clue names (its person; SV12 its
institution):

- planted: findings planted for the rule; flagged: the rule's clues;
- true positives: clues naming a planted entity (precision = true positives / flagged);
- found: planted entities named by at least one clue (recall = found / planted);
- look-alikes flagged: look-alike entities named by a clue (each one a false positive).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from yibao.bench import fraud
from yibao.bench.progress import Report, phase, silent
from yibao.bench.screen import has_sql
from yibao.bench.world import Scale, generate
from yibao.domain.supervision import library
from yibao.store.db import Database
from yibao.store.schema import clue


@dataclass(frozen=True, slots=True)
class RuleScore:
    rule_id: str
    planted: int
    flagged: int  # clues
    true_positives: int  # clues naming a planted entity
    found: int  # planted entities named by a clue
    lookalikes: int
    lookalikes_flagged: int

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.flagged if self.flagged else None

    @property
    def recall(self) -> float | None:
        return self.found / self.planted if self.planted else None


@dataclass(frozen=True, slots=True)
class Result:
    persons: int
    institutions: int
    rate: float
    fee_lines: int
    scores: tuple[RuleScore, ...]
    missing: tuple[str, ...]
    seconds: dict[str, float]


def score(manifest: fraud.Manifest, found: Sequence[Mapping[str, Any]],
          rule_ids: Sequence[str]) -> list[RuleScore]:
    """Each rule's clues (rows with rule_id, psn_no, fixmedins_code) against the
    manifest (see the module's docstring)."""
    scores = []
    for rule_id in rule_ids:
        field = fraud.ENTITY[rule_id]
        planted = {f[field] for f in manifest.planted.get(rule_id, [])}
        lookalikes = {f[field] for f in manifest.lookalikes.get(rule_id, [])}
        clues = [c for c in found if c["rule_id"] == rule_id]
        named = [str(c[field]) for c in clues]
        scores.append(RuleScore(
            rule_id, len(planted), len(clues), sum(1 for e in named if e in planted),
            len(planted & set(named)), len(lookalikes), len(lookalikes & set(named))))
    return scores


def scale_of(persons: int, seed: int = 2026) -> Scale:
    """The world for ``persons``: an institution per 40 persons (at least 24, so that
    SV12 has tier-1 peers), a catalogue of one item per 10 persons (at least 200)."""
    return Scale(persons=persons, institutions=max(24, persons // 40),
                 items=max(200, persons // 10), seed=seed)


def run(db: Database, persons: int, rate: float, month: str = "2026-05", *,
        manifest_path: Path | None = None, report: Report = silent) -> Result:
    """Generate, plant, extract, screen and score (the database must hold no world)."""
    from yibao.services import supervision
    from yibao.services.context import Actor, ActorKind, Call, Entry, Ids, china_now

    scale = scale_of(persons)
    seconds: dict[str, float] = {}
    db.migrate()
    started = time.perf_counter()
    with phase(report, f"generating the world: {scale.persons:,} persons, "
               f"{scale.institutions:,} institutions, {scale.items:,} items"):
        generate(db, scale, lambda label, n: None)
    with phase(report, f"planting the month {month} at rate {rate}"):
        manifest = fraud.plant(db, scale, rate, month, manifest_path)
    seconds["generate"] = time.perf_counter() - started
    missing = tuple(r.id for r in library() if not has_sql(r))
    started = time.perf_counter()
    with phase(report, "screening the month (extract, every rule on DuckDB, clues "
               "recorded)"), db.write() as conn:
        call = Call(conn=conn, actor=Actor(ActorKind.OPERATOR, "bench", role="cli"),
                    entry=Entry.CLI, now=china_now(), ids=Ids(china_now), policies=())
        done = supervision.screen(call, month, "duckdb")
    seconds["screen"] = time.perf_counter() - started
    with db.read() as conn:
        found = [dict(row) for row in conn.execute(
            select(clue.c.rule_id, clue.c.psn_no, clue.c.fixmedins_code).where(
                clue.c.run_id == done.run_id)).mappings()]
    scores = score(manifest, found, done.rules)
    return Result(scale.persons, scale.institutions, rate, done.lines, tuple(scores),
                  missing, seconds)


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def markdown(result: Result) -> str:
    rows = ["| rule | planted | flagged | true positives | precision | recall | "
            "look-alikes | look-alikes flagged |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in result.scores:
        rows.append(f"| {s.rule_id} | {s.planted} | {s.flagged} | {s.true_positives} | "
                    f"{_ratio(s.precision)} | {_ratio(s.recall)} | {s.lookalikes} | "
                    f"{s.lookalikes_flagged} |")
    planted = sum(s.planted for s in result.scores)
    flagged = sum(s.flagged for s in result.scores)
    tp = sum(s.true_positives for s in result.scores)
    found = sum(s.found for s in result.scores)
    rows.append(f"| all | {planted} | {flagged} | {tp} | "
                f"{_ratio(tp / flagged if flagged else None)} | "
                f"{_ratio(found / planted if planted else None)} | "
                f"{sum(s.lookalikes for s in result.scores)} | "
                f"{sum(s.lookalikes_flagged for s in result.scores)} |")
    lines = ["\n".join(rows), "",
             f"{result.persons:,} persons, {result.institutions:,} institutions, "
             f"fraud rate {result.rate}; {result.fee_lines:,} fee lines screened; "
             + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())]
    if result.missing:
        lines.append(f"not run (no SQL): {', '.join(result.missing)}")
    return "\n".join(lines)
