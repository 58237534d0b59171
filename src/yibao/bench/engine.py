"""`yibao bench engine`: settlements per second of the pure engine on one core.

The baseline measured in the same process is the classification + arithmetic floor: the
same loop calling a function that only sums the totals, so the ratio shows what the
policy walk costs on top of touching the inputs.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from yibao.bench.progress import Report, phase, silent
from yibao.domain.catalogue import Totals
from yibao.domain.codes import PersonGroup
from yibao.domain.engine import SettlementInput, settle
from yibao.domain.policy import Policy, select_policy

CASES = (("310", "11"), ("310", "21"), ("390", "11"), ("390", "21"))


@dataclass(frozen=True, slots=True)
class EngineResult:
    settlements: int
    seconds: float
    baseline_seconds: float

    @property
    def per_second(self) -> float:
        return self.settlements / self.seconds

    @property
    def baseline_per_second(self) -> float:
        return self.settlements / self.baseline_seconds


def make_inputs(policies: tuple[Policy, ...], count: int, seed: int = 7) -> list[SettlementInput]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        insutype, med_type = rng.choice(CASES)
        policy = select_policy(policies, region="110000", insutype=insutype, day=date(2026, 5, 1))
        assert policy is not None
        scheme = policy.scheme_for(med_type)
        assert scheme is not None
        groups = ([PersonGroup.RESIDENT_ADULT] if insutype == "390" else
                  [PersonGroup.WORKING, PersonGroup.RETIRED_UNDER_70])
        in_scope = rng.randint(1, 6_000_000)
        extra = rng.randint(0, 50_000)
        year = {f"D.{s.key}": rng.randint(0, 180_000) for s in scheme.stages}
        year |= {f"B.{s.key}": rng.randint(0, 3_000_000) for s in scheme.stages}
        out.append(SettlementInput(
            scheme, rng.choice(groups), rng.randint(1, 3),
            Totals(in_scope + extra, extra, 0, 0, in_scope), year, {}, rng.randint(0, 500_000),
            rng.random() < 0.5))
    return out


def _time(fn: Callable[[SettlementInput], object], inputs: list[SettlementInput]) -> float:
    """CPU seconds of this process (time the machine gave to others is not counted)."""
    started = time.process_time()
    for inp in inputs:
        fn(inp)
    return time.process_time() - started


def _floor(inp: SettlementInput) -> int:
    t = inp.totals
    return t.fulamt_ownpay + t.overlmt_selfpay + t.preselfpay + t.in_scope


def run(policies: tuple[Policy, ...], count: int = 100_000, rounds: int = 5,
        report: Report = silent) -> EngineResult:
    """The fastest of ``rounds`` interleaved runs of the engine and of the baseline: on a
    shared machine the slower runs measure the neighbours, not the code. ``report`` hears
    of the inputs made and of each round's CPU seconds."""
    with phase(report, f"making {count:,} settlement inputs"):
        inputs = make_inputs(policies, count)
    _time(settle, inputs[:1000])  # warm up
    engine, baseline = [], []
    for round_no in range(1, rounds + 1):
        engine.append(_time(settle, inputs))
        baseline.append(_time(_floor, inputs))
        report(f"round {round_no}/{rounds}: engine {engine[-1]:.2f} s CPU, baseline "
               f"{baseline[-1]:.2f} s CPU")
    return EngineResult(count, min(engine), min(baseline))
