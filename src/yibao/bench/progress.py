"""What a benchmark says while it runs: a line as each phase starts, and one as it ends
with its seconds, so that a run of minutes is never silent. ``yibao bench ...`` passes
one reporter to every benchmark (cli/bench.py); a benchmark called from code reports to
nobody unless told."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Report = Callable[[str], object]


def silent(_: str) -> None:
    """The reporter of a benchmark run from code: says nothing."""


@contextmanager
def phase(report: Report, what: str) -> Iterator[None]:
    """Report ``what ...`` now and ``what: done in N s`` when the block ends."""
    report(f"{what} ...")
    started = time.perf_counter()
    yield
    report(f"{what}: done in {time.perf_counter() - started:.1f} s")
