"""The supervision benchmarks, small: `yibao bench supervision` (the fraud world, its month
screened, the clues scored against the manifest) on SQLite and PostgreSQL, and `yibao bench
screen` (a synthetic month as Parquet, every rule timed against a scan)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from yibao.bench import screen, supervision
from yibao.bench.fraud import ENTITY
from yibao.cli import app
from yibao.domain.supervision import library
from yibao.store.db import Database

RULES = [r.id for r in library()]


def test_fraud_world_is_screened_and_scored_against_its_manifest(db: Database,
                                                                  tmp_path: Path) -> None:
    manifest_path = tmp_path / "truth.json"
    result = supervision.run(db, 700, 0.01, manifest_path=manifest_path)

    truth = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert [s.rule_id for s in result.scores] == RULES and result.missing == ()
    assert result.fee_lines > 700
    for s in result.scores:
        planted = truth["planted"][s.rule_id]
        lookalikes = truth["lookalikes"][s.rule_id]
        expected = 1 if s.rule_id == "SV12" else 7  # max(1, round(rate x persons))
        assert s.planted == len(planted) == expected, s
        assert s.lookalikes == len(lookalikes) == expected, s
        named = {f[ENTITY[s.rule_id]] for f in planted + lookalikes}
        assert len(named) == 2 * expected  # each scenario its own person (institution)
        assert s.true_positives <= s.flagged and s.found <= s.planted, s
        assert s.lookalikes_flagged <= s.lookalikes, s
        assert s.found <= s.true_positives  # a found finding has at least one clue
    table = supervision.markdown(result)
    rows = [line for line in table.splitlines() if re.match(r"\| SV[0-9]{2} \|", line)]
    assert len(rows) == 14
    assert "| all |" in table and "fraud rate 0.01" in table


def test_bench_supervision_command_prints_the_table_and_saves_the_manifest(
        tmp_path: Path) -> None:
    manifest = tmp_path / "m.json"
    out = CliRunner().invoke(app, ["bench", "supervision", "--persons", "600", "--fraud",
                                   "0.005", "--db", str(tmp_path / "w.db"), "--manifest",
                                   str(manifest)], terminal_width=200)
    assert out.exit_code == 0, out.output
    header = "| rule | planted | flagged | true positives | precision | recall |"
    assert header in out.output
    planted = {rule: len(found) for rule, found in
               json.loads(manifest.read_text(encoding="utf-8"))["planted"].items()}
    assert planted == dict.fromkeys(RULES, 3) | {"SV12": 1}
    for rule in RULES:
        row = re.search(rf"\| {rule} \| ([0-9]+) \| ([0-9]+) \| ([0-9]+) \|", out.output)
        assert row is not None, rule
        assert int(row.group(1)) == planted[rule]
        assert int(row.group(3)) <= int(row.group(2))


def test_bench_screen_times_every_rule_over_a_synthetic_month(tmp_path: Path) -> None:
    result = screen.run(tmp_path / "month", 40_000)

    assert result.lines == 40_000 and result.missing == ()
    assert [r.rule_id for r in result.rules] == RULES
    assert all(r.seconds > 0 for r in result.rules) and result.baseline_seconds > 0
    clues = {r.rule_id: r.clues for r in result.rules}
    # the background bills within every limit and cap, bed-days as the days of stay
    assert clues["SV05"] == clues["SV07"] == clues["SV08"] == clues["SV10"] == 0, clues
    assert result.rss_peak_mib > 0
    table = screen.markdown(result)
    assert "| all 14 rules |" in table and "| baseline scan |" in table
    again = screen.run(tmp_path / "month", 40_000)  # the month is there: not generated
    assert again.generate_seconds is None and result.generate_seconds is not None
    assert [r.clues for r in again.rules] == [r.clues for r in result.rules]


def test_world_generate_with_fraud_plants_the_month_and_writes_the_manifest(
        tmp_path: Path) -> None:
    manifest = tmp_path / "truth.json"
    database = tmp_path / "world.db"
    Database(str(database)).migrate()
    out = CliRunner().invoke(app, ["world", "generate", "--db", str(database), "--persons",
                                   "400", "--institutions", "24", "--items", "60",
                                   "--fraud", "0.005", "--manifest", str(manifest)],
                             terminal_width=200)
    assert out.exit_code == 0, out.output
    truth = json.loads(manifest.read_text(encoding="utf-8"))
    assert sorted(truth["planted"]) == sorted(truth["lookalikes"]) == RULES
    planted = sum(map(len, truth["planted"].values()))
    assert planted == 13 * 2 + 1  # max(1, round(0.005 x 400)) per rule; SV12 one
    assert f"planted {planted} findings and {planted} look-alikes in 2026-05" in out.output
