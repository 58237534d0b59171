"""CPU time spent by each party of a benchmark (Linux /proc): the server's process group,
the PostgreSQL processes serving its database, and the client processes (which report
their own). Divided by the calls of a phase it gives CPU milliseconds per call, which a
busy machine changes far less than it changes a rate, and which says how many calls per
second the machine's cores could carry at most."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def group_seconds(pgid: int) -> float:
    """CPU seconds of the live processes of one process group (a server and its workers)."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fields = _stat(pid)
        if fields is not None and fields[2] == str(pgid):
            total += _seconds(fields)
    return total


def postgres_seconds(database: str) -> float:
    """CPU seconds of PostgreSQL's backends connected to ``database`` plus its background
    processes (WAL writer, checkpointer, ...), which every database shares."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        cmd = _cmdline(pid)
        if not cmd.startswith(b"postgres:"):
            continue
        backend = b"(" in cmd  # "postgres: 15/main: user db host(port) state"
        if backend and database.encode() not in cmd.split():
            continue
        fields = _stat(pid)
        if fields is not None:
            total += _seconds(fields)
    return total


def own_seconds() -> float:
    """CPU seconds of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True, slots=True)
class Meter:
    """Reads the CPU seconds of the parties of a benchmark: the server's process groups
    (one per API process), the database's (``database`` empty: SQLite, whose work is in
    the server's processes) and, when there is one, the connection pooler's group."""

    server_pgids: tuple[int, ...]
    database: str
    pooler_pgid: int = 0

    def read(self) -> dict[str, float]:
        """CPU seconds so far by party: server, database (and pooler)."""
        parties = {"server": sum(group_seconds(pgid) for pgid in self.server_pgids),
                   "database": postgres_seconds(self.database) if self.database else 0.0}
        if self.pooler_pgid:
            parties["pooler"] = group_seconds(self.pooler_pgid)
        return parties
