"""`yibao bench supervision`: the rule library's precision and recall on the fraud world.

The synthetic region (bench/world.py) and its month with the 14 patterns planted at a
known rate next to look-alikes (bench/fraud.py) are written into an empty database;
the month is extracted for screening (analytics/supervision_extract.py) and every rule
of the library runs over it on DuckDB (analytics/screening.py), as ``supervision
screen`` runs them. Each rule's clues are then compared with the manifest by the entity
a clue names (its person; SV12 its institution):

- planted: findings planted for the rule; flagged: the rule's clues;
- true positives: clues naming a planted entity (precision = true positives / flagged);
- found: planted entities named by at least one clue (recall = found / planted);
- look-alikes flagged: look-alike entities named by a clue (each one a false positive).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from yibao.analytics import screening
from yibao.bench import fraud
from yibao.bench.progress import Report, phase, silent
from yibao.bench.screen import has_sql
from yibao.bench.world import Scale, generate
from yibao.domain.supervision import library
from yibao.store.clues import Found
from yibao.store.db import Database


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


def score(manifest: fraud.Manifest, found: list[Found], rule_ids: list[str]
          ) -> list[RuleScore]:
    """Each rule's clues against the manifest (see the module's docstring)."""
    scores = []
    for rule_id in rule_ids:
        field = fraud.ENTITY[rule_id]
        planted = {f[field] for f in manifest.planted.get(rule_id, [])}
        lookalikes = {f[field] for f in manifest.lookalikes.get(rule_id, [])}
        clues = [c for c in found if c.rule_id == rule_id]
        named = [getattr(c, field) for c in clues]
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
    from yibao.analytics.supervision_extract import extract_for_screening

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
    rules = [r for r in library() if has_sql(r)]
    missing = tuple(r.id for r in library() if not has_sql(r))
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        with phase(report, "extracting the month for screening"), db.read() as conn:
            extracted = extract_for_screening(conn, month, Path(scratch))
        seconds["extract"] = time.perf_counter() - started
        started = time.perf_counter()
        with phase(report, f"screening with {len(rules)} rules on DuckDB"):
            found = screening.run_duckdb(Path(scratch), rules, month)
        seconds["screen"] = time.perf_counter() - started
    scores = score(manifest, found, [r.id for r in rules])
    return Result(scale.persons, scale.institutions, rate, extracted.fee_lines,
                  tuple(scores), missing, seconds)


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
