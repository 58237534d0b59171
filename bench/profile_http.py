"""The national route's per-request cost in this process, lean against routed, in the
same run: the ASGI application driven directly (no sockets, no server), one request at
a time (``--concurrency`` more), on the same loop uvicorn uses (uvloop).

    python bench/profile_http.py URL [--count 300] [--rounds 3] [--mode 2207|floor|nodb|all]

URL is a database holding a synthetic region (``yibao world generate``, or the one
``yibao bench settle`` made; an empty database gets ``--persons`` of them first).
Variants (each its own application over the same database): ``routed`` (FastAPI's route,
anyio's thread pool: the path before the lean one), ``lean`` (the ASGI path, the
dedicated thread pool), and the two mixed, so that the pool's part and the framework's
part show apart; ``driver`` is an application that reads the body and answers a fixed
envelope: the cost of this script's own driving, to subtract from every row.

For each round and variant (the order rotating from round to round) ``--count``
messages are signed afresh, sent, and timed: this process's CPU (every thread: the
event loop, the thread pool, the database driver) and PostgreSQL's processes' CPU per
request, and the wall time. The table shows the median of the rounds and each variant's
CPU against ``routed`` measured in the same rounds. 2207 visits are prepared beforehand
(2201 and 2204 with five lines, through the interface's handler, not timed).

Modes: ``2207`` settlements; ``floor``: infno 0000, refused once authenticated (the
nonce recorded and the refusal counted: two small write transactions); ``nodb``: 2207
messages whose service call is replaced by what it does without the database (the
envelope parsed, a real 2207's answer built and written, the log line): what HTTP,
the framework, the thread hop, JSON and logging cost a request.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop
from sqlalchemy import select

from yibao import log
from yibao.api.app import create_app
from yibao.api.envelope import loads
from yibao.api.hospital import ROUTE
from yibao.bench.cpu import postgres_seconds
from yibao.bench.load import FEE_LINES_PER_FLOW, FLOOR_INFNO
from yibao.bench.settle import prepare
from yibao.bench.world import world_token
from yibao.client import HisClient
from yibao.store.db import Database
from yibao.store.schema import catalogue_item, institution, insurance, person

ASGI = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
VARIANTS = {  # name: (lean, threads)
    "routed": (False, 0), "routed+pool": (False, 40), "lean+anyio": (True, 0),
    "lean": (True, 40),
}
BASELINE = "routed"
LABELS = {"2207": "2207", "floor": f"floor (infno {FLOOR_INFNO})",
          "nodb": "2207 without the database (nodb)"}
RUN = random.Random().randrange(10**6)  # msgids unique to this run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--count", type=int, default=300, help="messages per variant a round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", choices=("2207", "floor", "nodb", "all"), default="all")
    parser.add_argument("--persons", type=int, default=5000,
                        help="synthetic persons generated into an empty database")
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight")
    parser.add_argument("--log", default="INFO", help="log level (lines go to /dev/null)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated: " + ", ".join(VARIANTS))
    parser.add_argument("--profile", default="", help="a variant to cProfile in a last round "
                        "(its blocking calls run inline then, so the profile sees them)")
    parser.add_argument("--sort", default="tottime", help="the profile's order (cumtime, ...)")
    args = parser.parse_args()

    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the log lines: written, unread)
    log.configure(args.log)
    db = Database(args.url, pool_size=max(10, args.concurrency))
    prepare(db, args.persons)
    names = [n for n in args.variants.split(",") if n]
    apps = {name: _app(db, name) for name in names}
    code, people, item = _region(db, args.count * len(names) * (args.rounds + 1))
    his = HisClient(lambda h, b: json.dumps(
        apps[names[0]].state.hospital.handle(h, b), default=str).encode(),
        code, world_token(code))
    modes = ["nodb", "floor", "2207"] if args.mode == "all" else [args.mode]
    database = "" if db.is_sqlite else db.engine.url.database or ""
    rows: dict[str, dict[str, list[dict[str, float]]]] = {}
    for mode in modes:
        visits = (_visits(his, people, item, args.count * len(names) * args.rounds)
                  if mode == "2207" else _visits(his, people, item, 1) * (
                      args.count * len(names) * args.rounds) if mode == "nodb" else [])
        if mode == "nodb":
            output = loads(his.send_raw(his.envelope("2207", visits[0])))["output"]
            undo = [_without_database(app.state.hospital, output) for app in apps.values()]
        per = {name: [] for name in [*names, "driver"]}
        taken = iter(visits)
        for r in range(args.rounds):
            order = names[r % len(names):] + names[: r % len(names)] + ["driver"]
            for name in order:
                app = apps.get(name)
                payloads = ([{}] * args.count if mode == "floor" or app is None
                            else list(itertools.islice(taken, args.count)))
                messages = _signed(his, FLOOR_INFNO if mode == "floor" else "2207", payloads)
                target = app if app is not None else _driver
                per[name].append(uvloop.run(_timed(target, messages, args.concurrency,
                                                   database, mode)))
        rows[mode] = per
        if mode == "nodb":
            for restore in undo:
                restore()
        _print(mode, per, args)
    if args.profile:
        _profile(apps[args.profile], his, people, item, args, modes[-1])
    db.dispose()


def _app(db: Database, name: str) -> Any:
    lean, threads = VARIANTS[name]
    try:
        return create_app(db, lean=lean, threads=threads)
    except TypeError:  # a tree from before the lean path (PYTHONPATH): its one path
        return create_app(db)


def _region(db: Database, visits: int) -> tuple[str, list[tuple[str, str, str]], str]:
    with db.read() as conn:
        code = conn.execute(select(institution.c.fixmedins_code).where(
            institution.c.kind == "hospital", institution.c.fixmedins_code.startswith("W"))
        ).scalars().first()
        people = [tuple(r) for r in conn.execute(
            select(person.c.psn_no, person.c.certno, insurance.c.insutype)
            .join(insurance, insurance.c.psn_no == person.c.psn_no)
            .where(person.c.psn_no.startswith("W")).limit(visits))]
        item = conn.execute(select(catalogue_item.c.code).where(
            catalogue_item.c.chrgitm_lv == "01", catalogue_item.c.price_cap.is_(None),
            catalogue_item.c.code.startswith("W"))).scalars().first()
    assert code and people and item, "no synthetic region in the database"
    return code, people, item  # type: ignore[return-value]


def _visits(his: HisClient, people: list[Any], item: str, count: int) -> list[dict[str, Any]]:
    """``count`` outpatient visits registered with their fee lines: the 2207 inputs."""
    made = []
    for n in range(count):
        psn_no, certno, insutype = people[n % len(people)]
        cred = {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno}
        visit = his.call("2201", {"data": {"psn_no": psn_no, "insutype": insutype,
                                           "begntime": "2026-05-11 08:00:00",
                                           "ipt_otp_no": "P", **cred}})
        assert visit["infcode"] == 0, visit
        mdtrt_id = visit["output"]["data"]["mdtrt_id"]
        answer = his.call("2204", {"feedetail": [
            {"feedetl_sn": str(k), "mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "1",
             "med_list_codg": item, "medins_list_codg": f"H{k}",
             "det_item_fee_sumamt": "10.00", "cnt": "1", "pric": "10.00"}
            for k in range(1, FEE_LINES_PER_FLOW + 1)]})
        assert answer["infcode"] == 0, answer
        made.append({"data": {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "med_type": "11",
                              "medfee_sumamt": f"{10 * FEE_LINES_PER_FLOW}.00",
                              "chrg_bchno": "0000", "acct_used_flag": "1",
                              "psn_setlway": "01", **cred}})
    return made


_serial = itertools.count()


def _signed(his: HisClient, infno: str, payloads: list[dict[str, Any]]) -> list[tuple[Any, bytes]]:
    """The messages as raw ASGI headers and bodies, signed now (the window is 300 s)."""
    out = []
    for payload in payloads:
        msgid = f"{his.code[:12]}{RUN:06d}{next(_serial):08d}"
        body = json.dumps(his.envelope(infno, payload, msgid), ensure_ascii=False).encode()
        headers = [(k.encode(), v.encode()) for k, v in his.headers().items()]
        headers += [(b"host", b"127.0.0.1"), (b"content-length", str(len(body)).encode())]
        out.append((headers, body))
    return out


async def _driver(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The driving alone: the body read, a fixed envelope answered."""
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-length", b"2"), (b"content-type", b"application/json; charset=utf-8")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def _timed(app: ASGI, messages: list[tuple[Any, bytes]], concurrency: int,
                 database: str, mode: str) -> dict[str, float]:
    queue = iter(messages)
    refused = 0

    async def one(headers: Any, body: bytes) -> None:
        nonlocal refused
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"},
                 "http_version": "1.1", "method": "POST", "scheme": "http", "path": ROUTE,
                 "raw_path": ROUTE.encode(), "query_string": b"", "root_path": "",
                 "headers": headers, "client": ("127.0.0.1", 50000),
                 "server": ("127.0.0.1", 8080), "state": {}}
        sent = False
        answer: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                answer.append(message.get("body", b""))

        await app(scope, receive, send)
        if app is not _driver:
            reply = json.loads(b"".join(answer))
            if (reply["infcode"] == 0) != (mode != "floor"):
                refused += 1

    async def worker() -> None:
        for headers, body in queue:
            await one(headers, body)

    pg = postgres_seconds(database) if database else 0.0
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    n = len(messages)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    pg = (postgres_seconds(database) if database else 0.0) - pg
    return {"n": n, "cpu_us": cpu / n * 1e6, "pg_us": pg / n * 1e6, "wall_us": wall / n * 1e6,
            "unexpected": refused}


def _print(mode: str, per: dict[str, list[dict[str, float]]], args: Any) -> None:
    base = statistics.median(r["cpu_us"] for r in per[BASELINE]) if BASELINE in per else None
    print(f"\n{LABELS[mode]}: "
          f"{args.count} messages per variant a round, {args.rounds} rounds, concurrency "
          f"{args.concurrency}, medians")
    print(f"| variant | process CPU µs/req | PostgreSQL CPU µs/req | wall µs/req | CPU vs "
          f"{BASELINE} (same rounds) | unexpected answers |")
    print("|---|---|---|---|---|---|")
    for name, runs in per.items():
        cpu = statistics.median(r["cpu_us"] for r in runs)
        each = ", ".join(f"{r['cpu_us'] / b['cpu_us']:.3f}"
                         for r, b in zip(runs, per.get(BASELINE, runs), strict=True))
        ratios = "–" if base is None or name == "driver" else f"{cpu / base:.3f} ({each})"
        print(f"| {name} | {cpu:.0f} | {statistics.median(r['pg_us'] for r in runs):.0f} | "
              f"{statistics.median(r['wall_us'] for r in runs):.0f} | {ratios} | "
              f"{sum(int(r['unexpected']) for r in runs)} |")


def _profile(app: Any, his: HisClient, people: list[Any], item: str, args: Any,
             mode: str) -> None:
    payloads = ([{}] * args.count if mode == "floor" else
                _visits(his, people, item, args.count if mode == "2207" else 1))
    if mode == "nodb":
        output = loads(his.send_raw(his.envelope("2207", payloads[0])))["output"]
        payloads *= args.count
        _without_database(app.state.hospital, output)
    messages = _signed(his, FLOOR_INFNO if mode == "floor" else "2207", payloads)

    async def inline(func: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        return func(*a, **kw)

    for national in _nationals(app):
        national.run = inline
    profile = cProfile.Profile()
    profile.enable()
    uvloop.run(_timed(app, messages, args.concurrency, "", mode))
    profile.disable()
    print(f"\ncProfile of {args.profile}, {mode}, by {args.sort}:")
    pstats.Stats(profile, stream=sys.stdout).sort_stats(args.sort).print_stats(40)


def _without_database(hospital: Any, output: Any) -> Callable[[], None]:
    """Replace ``hospital.serve`` by its work without the database: parse, answer
    ``output``, log. Returns what puts the real one back."""
    from yibao.api import envelope

    def serve(granted: Any, body: bytes, *, target: Any, content_type: str = "") -> Any:
        started = time.perf_counter()
        parsed = envelope.read_envelope(envelope.parse_body(body, content_type))
        now, refmsgid = hospital._stamp()
        result = envelope.answer(infcode=0, refmsgid=refmsgid, now=now, output=output)
        hospital._log(parsed, result, started)
        return result

    hospital.serve = serve
    return lambda: delattr(hospital, "serve")


def _nationals(app: Any) -> list[Any]:
    """The NationalHttp the application's routes and lean path use (the same one)."""
    route = next(r for r in app.routes if getattr(r, "path", "") == ROUTE)
    cells = route.endpoint.__closure__ or ()
    return [c.cell_contents for c in cells if type(c.cell_contents).__name__ == "NationalHttp"]


if __name__ == "__main__":
    main()
