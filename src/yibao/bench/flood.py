"""`yibao bench flood`: signed 5206 latency with and without a flood of unauthenticated
oversized bodies, on one server (one worker, SQLite) on 127.0.0.1.

Phase 1 (the baseline, same run): ``clients`` threads send signed 5206 (accumulations,
read-only) one after another for ``seconds``. Phase 2: the same, while ``flooders``
threads (in a process of their own) send POSTs of ``flood_bytes`` (60 MiB by default)
with no credentials, alternately to /channel/v1/certificates and to /admin/v1, each
declaring its Content-Length and then streaming the body (a valid JSON object) until the
server answers or closes. Printed: 5206 p50/p99 in both phases and their ratio, how the
flood was answered (status counts, seconds per request), and the server's memory before
and after. Loopback only; bounded by ``seconds`` per phase and a socket timeout per
request.
"""

from __future__ import annotations

import multiprocessing
import socket
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yibao.bench.load import Client, Target
from yibao.bench.server import ServerProcess, free_port
from yibao.bench.settle import _rss_mb
from yibao.store.db import Database
from yibao.store.demo import demo_token, seed_demo

INSTITUTION = "H11010500001"
WANG_FANG = "110105198503150027"
FLOOD_PATHS = ("/channel/v1/certificates", "/admin/v1/persons/X/suspensions")
SOCKET_SECONDS = 30.0
SEND_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Options:
    url: str
    seconds: float = 10.0
    clients: int = 4
    flooders: int = 4
    flood_bytes: int = 60 * 1024 * 1024
    port: int = 0


@dataclass(slots=True)
class Flood:
    statuses: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: str, seconds: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.seconds.append(seconds)


def _percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"n": len(values)}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"n": len(values), "p50": round(cuts[49], 2), "p99": round(cuts[98], 2)}


def _psn_no(target: Target) -> str:
    client = Client(target, INSTITUTION, demo_token(INSTITUTION))
    answer, _ = client.call("1101", {"data": {"mdtrt_cert_type": "02",
                                              "mdtrt_cert_no": WANG_FANG}})
    assert answer["infcode"] == 0, answer
    return str(answer["output"]["baseinfo"]["psn_no"])


def _settle_queries(target: Target, psn_no: str, until: float, out: list[float],
                    errors: Counter[str]) -> None:
    """Signed 5206 one after another until ``until``; latencies (ms) into ``out``."""
    client = Client(target, INSTITUTION, demo_token(INSTITUTION))
    while time.perf_counter() < until:
        try:
            answer, ms = client.call("5206", {"data": {"psn_no": psn_no}})
        except OSError as exc:
            errors[type(exc).__name__] += 1
            continue
        out.append(ms)
        if answer.get("infcode") != 0:
            errors[answer.get("err_msg", "")[:9]] += 1


def _flood_body(size: int) -> Iterator[bytes]:
    """A valid JSON object of exactly ``size`` bytes (``size`` >= 64): a list of short
    strings, what a server that parses and walks a body before authentication pays for
    most."""
    head, unit, tail = b'{"pad": [', b'"abcdefghijklmnopqrstuvwxyz0123456789", ', b'"end"]}'
    room = size - len(head) - len(tail)
    units, per = room // len(unit), SEND_CHUNK // len(unit)
    yield head
    for _ in range(units // per):
        yield unit * per
    yield unit * (units % per) + b" " * (room - units * len(unit)) + tail


def _flood_once(target: Target, path: str, size: int) -> str:
    """One unauthenticated POST of ``size`` bytes; the status line's code, or why none."""
    with socket.create_connection((target.host, target.port), SOCKET_SECONDS) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nhost: {target.host}\r\ncontent-type: "
                     f"application/json\r\ncontent-length: {size}\r\n\r\n".encode())
        try:
            for part in _flood_body(size):
                sock.sendall(part)
        except OSError:
            pass  # the server answered early and closed: read what it said
        try:
            head = sock.recv(4096)
        except OSError as exc:
            return type(exc).__name__
    return head.split(b" ", 2)[1].decode() if head.startswith(b"HTTP/") else "no answer"


def _flooder(target: Target, index: int, size: int, until: float, flood: Flood) -> None:
    n = index
    while time.perf_counter() < until:
        started = time.perf_counter()
        status = _flood_once(target, FLOOD_PATHS[n % len(FLOOD_PATHS)], size)
        flood.add(status, time.perf_counter() - started)
        n += 1


def _flood_process(target: Target, flooders: int, size: int, seconds: float
                   ) -> tuple[dict[str, int], list[float]]:
    """The flood, in a process of its own (its threads do not take the measuring
    clients' interpreter lock): how it was answered, and the seconds per request."""
    until = time.perf_counter() + seconds
    flood = Flood()
    threads = [threading.Thread(target=_flooder, args=(target, i, size, until, flood))
               for i in range(flooders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return dict(flood.statuses), flood.seconds


def _phase(opts: Options, target: Target, psn_no: str, flooding: bool) -> dict[str, Any]:
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(time.sleep, 0).result()  # the process is up before the clock starts
        flood = (pool.submit(_flood_process, target, opts.flooders, opts.flood_bytes,
                             opts.seconds) if flooding else None)
        until = time.perf_counter() + opts.seconds
        threads = [threading.Thread(target=_settle_queries,
                                    args=(target, psn_no, until, latencies, errors))
                   for _ in range(opts.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses, seconds = flood.result() if flood is not None else ({}, [])
    return {"latency_ms": _percentiles(latencies),
            "per_s": round(len(latencies) / opts.seconds, 1), "errors": dict(errors),
            "flood_answers": statuses, "flood_seconds_per_answer": _percentiles(seconds)}


def run(opts: Options, report: Callable[[str], Any] = print) -> dict[str, Any]:
    db = Database(opts.url)
    db.migrate()
    with db.write() as conn:
        seed_demo(conn)
    db.dispose()
    server = ServerProcess(opts.url, opts.port or free_port(), workers=1)
    target = Target("127.0.0.1", server.port)
    try:
        psn_no = _psn_no(target)
        rss_before = _rss_mb(server.pid)
        report(f"phase 1: signed 5206 alone, {opts.clients} clients, {opts.seconds:g} s ...")
        alone = _phase(opts, target, psn_no, flooding=False)
        report(f"phase 2: the same while {opts.flooders} clients send unauthenticated "
               f"{opts.flood_bytes / 2**20:.0f} MiB bodies ...")
        flooded = _phase(opts, target, psn_no, flooding=True)
        rss_after = _rss_mb(server.pid)
    finally:
        server.stop()
    return {"options": {"seconds": opts.seconds, "clients": opts.clients,
                        "flooders": opts.flooders, "flood_bytes": opts.flood_bytes},
            "alone": alone, "flooded": flooded, "ratio_p50": _ratio(alone, flooded, "p50"),
            "ratio_p99": _ratio(alone, flooded, "p99"),
            "server_rss_mb": {"before": rss_before, "after": rss_after}}


def _ratio(alone: dict[str, Any], flooded: dict[str, Any], cut: str) -> float | None:
    base, under = alone["latency_ms"].get(cut), flooded["latency_ms"].get(cut)
    return round(under / base, 2) if base and under else None


def markdown(result: dict[str, Any]) -> str:
    alone, flooded = result["alone"], result["flooded"]
    rows = [
        ("5206 p50 ms", alone["latency_ms"].get("p50"), flooded["latency_ms"].get("p50"),
         result["ratio_p50"]),
        ("5206 p99 ms", alone["latency_ms"].get("p99"), flooded["latency_ms"].get("p99"),
         result["ratio_p99"]),
        ("5206 calls/s", alone["per_s"], flooded["per_s"], "–"),
        ("server memory MiB (before / after)", result["server_rss_mb"]["before"],
         result["server_rss_mb"]["after"], "–"),
    ]
    lines = ["| measure | alone | under flood | ratio |", "|---|---|---|---|"]
    lines += [f"| {name} | {a} | {b} | {r} |" for name, a, b, r in rows]
    per = flooded["flood_seconds_per_answer"]
    lines += ["", f"flood answers: {flooded['flood_answers']}; seconds per flood request "
              f"p50 {per.get('p50')} p99 {per.get('p99')} (n={per.get('n')}); 5206 errors "
              f"alone {alone['errors']}, under flood {flooded['errors']}"]
    return "\n".join(lines) + "\n"


def default_url(directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    return str(directory / "flood.db")
