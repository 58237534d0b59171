"""`yibao bench online`: online orders per second end to end, the payment platform
included, against window settlements through the same server in the same run.

Three processes: the WeChat Pay simulator (``yibao paysim``), a yibao server
(``yibao serve``, YIBAO_WECHATPAY_URL = the simulator, YIBAO_PUBLIC_URL = the server) and
this one, whose threads are the clients (each one institution and its persons).

Setup (not timed): the demo dataset (the app's channel CH-BJAPP) and synthetic persons
and institutions (bench/world.py); each person's certificate activated through the
channel API, its QR code shown and scanned by its institution (1162): an ecToken, valid
30 minutes, that every order of that person at that institution uses.

Baseline phase: window flows 2201 -> 2204 -> 2207 (acct_used_flag 0, the same fee lines).
Online phase: 6201 (national envelope) -> payment authorisation (channel API, signed,
Idempotency-Key) -> 6202 -> pay at the simulator -> 6301 polled until ordStas 6 (the
simulator's notification reached yibao and settled the order). acctUsedFlag 0, so every
order has a cash part to pay.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from yibao.api.channel import signature
from yibao.bench.load import Client, Target
from yibao.bench.server import ServerProcess, free_port
from yibao.bench.settle import _percentiles
from yibao.bench.world import WORLD_PREFIX, Scale, generate, world_token
from yibao.services.context import china_now
from yibao.store.db import Database
from yibao.store.demo import demo_token, seed_demo
from yibao.store.schema import institution, insurance, person

CHANNEL = "CH-BJAPP"
PIN = "135790"
SETTLED = "6"
POLL_SECONDS = 0.01  # between two 6301 while waiting for the settlement
SETTLE_WAIT_SECONDS_MAX = 30.0  # an order not settled by then counts as an error
START_SECONDS_MAX = 30.0
FEE_LINES = (("XA01AAA0001", "100.00", "2"), ("XB02BBB0002", "35.50", "1"))
STEPS = ("6201", "authorisation", "6202", "pay", "settled", "order")
WINDOW_STEPS = ("2201", "2204", "2207", "flow")


@dataclass(frozen=True, slots=True)
class Options:
    url: str
    seconds: float = 20.0
    clients: int = 4
    persons: int = 200
    workers: int = 2
    port: int = 0


@dataclass(frozen=True, slots=True)
class Holder:
    """A synthetic person with an activated certificate and an ecToken at one institution."""

    psn_no: str
    certno: str
    name: str
    insutype: str
    cert_id: str
    ec_token: str


@dataclass(slots=True)
class Tally:
    """One client thread's counts: latencies by step (ms), errors by step, what it did."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)  # payOrdIds settled, or setl_ids
    first_error: dict[str, str] = field(default_factory=dict)  # step -> its first refusal
    seconds: float = 0.0

    def add(self, step: str, ms: float) -> None:
        self.latencies.setdefault(step, []).append(ms)

    def fail(self, step: str, detail: str) -> None:
        self.errors[step] = self.errors.get(step, 0) + 1
        self.first_error.setdefault(step, detail)


class Failed(Exception):
    """A step of a flow was refused or did not answer: counted under the step's name."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step


class Simulator:
    """``yibao paysim`` as a child process (its notifications retried at --retry-scale)."""

    def __init__(self, port: int, retry_scale: float = 0.001) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "yibao.cli", "paysim", "--port", str(port),
             "--retry-scale", str(retry_scale)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_SECONDS_MAX
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/_sim/health", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the payment simulator did not come up")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class App:
    """The certified app (channel CH-BJAPP) on the channel API: signed POSTs."""

    def __init__(self, base: str, secret: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)
        self.secret = secret
        self.counter = 0

    def post(self, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        raw = httpx.Request("POST", "/", json=body).content
        ts = str(int(time.time()))
        self.counter += 1
        nonce = f"{os.urandom(8).hex()}{self.counter}"
        headers = {"x-yb-channel": CHANNEL, "x-yb-timestamp": ts, "x-yb-nonce": nonce,
                   "x-yb-signature": signature(self.secret, "POST", path, ts, nonce, raw),
                   "content-type": "application/json", "Idempotency-Key": key}
        reply = self.http.post(path, content=raw, headers=headers)
        if reply.status_code not in (200, 201):
            raise Failed(path.rsplit("/", 1)[-1], f"{reply.status_code} {reply.text[:200]}")
        answer: dict[str, Any] = reply.json()
        return answer

    def close(self) -> None:
        self.http.close()


def _data(answer: dict[str, Any], step: str) -> dict[str, Any]:
    if answer.get("infcode") != 0:
        raise Failed(step, str(answer.get("err_msg", ""))[:200])
    output: dict[str, Any] = answer["output"]
    return output


def _timed(tally: Tally, step: str, action: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = action()
    tally.add(step, (time.perf_counter() - started) * 1000)
    return result


# -- setup ----------------------------------------------------------------------------


def prepare(db: Database, persons: int, institutions: int) -> None:
    """Migrate, the demo dataset (its channels) and a synthetic region (once)."""
    db.migrate()
    with db.write() as conn:
        seed_demo(conn)
        have = conn.execute(select(func.count()).select_from(person).where(
            person.c.psn_no.startswith(WORLD_PREFIX))).scalar_one()
    if have == 0:
        generate(db, Scale(persons=persons, institutions=institutions, items=10),
                 lambda label, n: None)
    elif have < persons:
        raise SystemExit(f"database holds {have} synthetic persons; use an empty one")


def population(db: Database, persons: int) -> tuple[list[str], list[tuple[str, ...]]]:
    """The synthetic hospitals' codes and (psn_no, certno, name, insutype) of persons."""
    with db.read() as conn:
        hospitals = [r[0] for r in conn.execute(
            select(institution.c.fixmedins_code).where(
                institution.c.kind == "hospital",
                institution.c.fixmedins_code.startswith(WORLD_PREFIX))
            .order_by(institution.c.fixmedins_code))]
        people = [tuple(r) for r in conn.execute(
            select(person.c.psn_no, person.c.certno, person.c.name, insurance.c.insutype)
            .join(insurance, insurance.c.psn_no == person.c.psn_no)
            .where(person.c.psn_no.startswith(WORLD_PREFIX))
            .order_by(person.c.psn_no).limit(persons))]
    return hospitals, people


def enrol(app: App, his: Client, who: tuple[str, ...]) -> Holder:
    """Activate the person's certificate in the app, show its QR code, scan it (1162)."""
    psn_no, certno, name, insutype = who
    now = china_now()
    cert_id = str(app.post("/channel/v1/certificates", {
        "insured_place": "110000", "name": name, "certno": certno, "pin": PIN,
        "real_person": {"method": "face_liveness", "evidence_ref": f"BENCH-{os.urandom(8).hex()}",
                        "attested_at": now.isoformat(timespec="seconds")}},
        f"act-{psn_no}-{os.urandom(4).hex()}")["cert_id"])
    code = app.post(f"/channel/v1/certificates/{cert_id}/qr", {"pin": PIN},
                    f"qr-{psn_no}-{os.urandom(4).hex()}")["qr_code"]
    scanned = _data(his.call("1162", {"data": {
        "ecQrCode": code, "businessType": "01101", "orgId": his.code, "operatorId": "001",
        "operatorName": "收费员", "officeId": "K01", "officeName": "内科"}})[0], "1162")
    return Holder(psn_no, certno, name, insutype, cert_id, str(scanned["data"]["ecToken"]))


# -- the flows ------------------------------------------------------------------------


def _fee_lines(psn_no: str, mdtrt_id: str) -> tuple[list[dict[str, str]], int]:
    """The online order's fee lines (6201's camelCase) and their total in fen."""
    lines, total = [], 0
    for sn, (code, price, count) in enumerate(FEE_LINES, start=1):
        fen = int(price.replace(".", "")) * int(count)
        total += fen
        lines.append({
            "feedetlSn": str(sn), "chrgBchno": "B1", "rxCircFlag": "0",
            "feeOcurTime": f"{datetime.now():%Y-%m-%d %H:%M:%S}", "medListCodg": code,
            "medinsListCodg": f"HIS-{code}", "detItemFeeSumamt": _yuan(fen), "cnt": count,
            "pric": price, "bilgDeptCodg": "K01", "bilgDeptName": "内科",
            "bilgDrCodg": "D001", "bilgDrName": "医生甲", "hospApprFlag": "1",
            "medType": "11", "psnNo": psn_no, "mdtrtId": mdtrt_id})
    return lines, total


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def upload(his: Client, holder: Holder, order: str) -> dict[str, Any]:
    """6201's input for one order of ``holder`` (a new visit; the account not used)."""
    lines, total = _fee_lines(holder.psn_no, "")
    return {"data": {
        "orgCodg": his.code, "psnNo": holder.psn_no, "insutype": holder.insutype,
        "medOrgOrd": order, "begntime": f"{datetime.now():%Y-%m-%d} 08:00:00",
        "idNo": holder.certno, "userName": holder.name, "idType": "01",
        "ecToken": holder.ec_token, "iptOtpNo": f"OP-{order}", "atddrNo": "D001",
        "drName": "医生甲", "deptCode": "K01", "deptName": "内科", "caty": "A03",
        "mdtrtId": "", "medType": "11", "feeType": "01", "medfeeSumamt": _yuan(total),
        "acctUsedFlag": "0", "psnSetlway": "01", "chrgBchno": "B1", "extData": {},
        "diseinfoList": [{"diagType": "1", "diagSrtNo": "1", "diagCode": "J06.9",
                          "diagName": "上呼吸道感染", "diagDept": "内科", "diseDorNo": "D001",
                          "diseDorName": "医生甲", "diagTime": f"{datetime.now():%Y-%m-%d} "
                          "08:05:00", "valiFlag": "1"}],
        "feedetailList": lines}}


@dataclass(frozen=True, slots=True)
class Parties:
    """What one client thread talks to."""

    his: Client
    app: App
    pay: httpx.Client  # the simulator


def online_order(parties: Parties, holder: Holder, order: str, tally: Tally) -> str:
    """One order end to end; its payOrdId once 6301 says settled."""
    his, app = parties.his, parties.app
    up = _data(_timed(tally, "6201", lambda: his.call("6201", upload(his, holder, order))[0]),
               "6201")["data"]
    pay_ord_id, pay_token = up["payOrdId"], up["payToken"]
    auth = _timed(tally, "authorisation", lambda: app.post(
        f"/channel/v1/certificates/{holder.cert_id}/payments/authorisation",
        {"pin": PIN, "pay_ord_id": pay_ord_id}, f"auth-{pay_ord_id}"))["payAuthNo"]
    held = _data(_timed(tally, "6202", lambda: his.call("6202", {"data": {
        "payAuthNo": auth, "payOrdId": pay_ord_id, "payToken": pay_token,
        "orgCodg": his.code, "orgBizSer": f"BIZ-{order}",
        "mdtrtId": up["extData"]["mdtrtId"]}})[0]), "6202")["data"]
    if held["ordStas"] != "1":
        raise Failed("6202", f"ordStas {held['ordStas']}, expected 1 (held, cash to pay)")
    paid = _timed(tally, "pay", lambda: parties.pay.post(f"/_sim/orders/{pay_ord_id}/pay"))
    if paid.status_code != 200:
        raise Failed("pay", f"{paid.status_code} {paid.text[:200]}")
    query = {"data": {"payOrdId": pay_ord_id, "orgCodg": his.code, "payToken": pay_token,
                      "idNo": holder.certno, "userName": holder.name, "idType": "01"}}
    _timed(tally, "settled", lambda: _until_settled(his, query))
    return str(pay_ord_id)


def _until_settled(his: Client, query: dict[str, Any]) -> None:
    deadline = time.perf_counter() + SETTLE_WAIT_SECONDS_MAX
    while time.perf_counter() < deadline:
        if _data(his.call("6301", query)[0], "settled")["data"]["ordStas"] == SETTLED:
            return
        time.sleep(POLL_SECONDS)
    raise Failed("settled", f"not settled within {SETTLE_WAIT_SECONDS_MAX} s")


def window_flow(parties: Parties, holder: Holder, order: str, tally: Tally) -> str:
    """2201 -> 2204 -> 2207 with the same fee lines, the account not used; the setl_id."""
    his = parties.his
    cred = {"mdtrt_cert_type": "02", "mdtrt_cert_no": holder.certno}
    reg = _data(_timed(tally, "2201", lambda: his.call("2201", {"data": {
        "psn_no": holder.psn_no, "insutype": holder.insutype, "ipt_otp_no": order,
        "begntime": f"{datetime.now():%Y-%m-%d} 08:00:00", **cred}})[0]), "2201")
    mdtrt_id = reg["data"]["mdtrt_id"]
    lines, total = _fee_lines(holder.psn_no, mdtrt_id)
    fee = [{"feedetl_sn": x["feedetlSn"], "mdtrt_id": mdtrt_id, "psn_no": holder.psn_no,
            "chrg_bchno": "1", "med_list_codg": x["medListCodg"],
            "medins_list_codg": x["medinsListCodg"], "det_item_fee_sumamt":
            x["detItemFeeSumamt"], "cnt": x["cnt"], "pric": x["pric"]} for x in lines]
    _data(_timed(tally, "2204", lambda: his.call("2204", {"feedetail": fee})[0]), "2204")
    settled = _data(_timed(tally, "2207", lambda: his.call("2207", {"data": {
        "psn_no": holder.psn_no, "mdtrt_id": mdtrt_id, "med_type": "11",
        "medfee_sumamt": _yuan(total), "chrg_bchno": "0000", "acct_used_flag": "0",
        "psn_setlway": "01", **cred}})[0]), "2207")
    return str(settled["setlinfo"]["setl_id"])


Flow = Callable[[Parties, Holder, str, Tally], str]


def drive(parties: Parties, holders: list[Holder], flow: Flow, seconds: float,
          name: str, prefix: str) -> Tally:
    """``flow`` over the thread's persons in turn until ``seconds`` have passed; each one
    counted under ``name`` (its latency) or under the step that failed."""
    tally = Tally()
    started = time.perf_counter()
    n = 0
    while time.perf_counter() - started < seconds:
        holder = holders[n % len(holders)]
        order = f"{prefix}-{n}"
        n += 1
        try:
            done = _timed(tally, name, partial(flow, parties, holder, order, tally))
        except Failed as failure:
            tally.fail(failure.step, str(failure))
            continue
        except OSError as error:
            tally.fail("connection", str(error))
            continue
        tally.done.append(done)
    tally.seconds = time.perf_counter() - started
    return tally


# -- the run --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enrolled:
    """One client thread's institution and persons (enrolled at that institution)."""

    code: str
    holders: list[Holder]


def _parties(target: Target, base: str, sim: str, code: str) -> Parties:
    return Parties(Client(target, code, world_token(code)), App(base, demo_token(CHANNEL)),
                   httpx.Client(base_url=sim, timeout=30))


def _close(parties: Parties) -> None:
    parties.his.conn.close()
    parties.app.close()
    parties.pay.close()


def _threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` on ``count`` threads; the results in order (an exception re-raised)."""
    results: list[Any] = [None] * count

    def one(i: int) -> None:
        try:
            results[i] = work(i)
        except BaseException as error:  # handed to the caller
            results[i] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def _phase(opts: Options, urls: tuple[Target, str, str], clients: list[Enrolled], flow: Flow,
           name: str) -> dict[str, Any]:
    """Every client thread runs ``flow`` for opts.seconds; the tallies merged."""
    target, base, sim = urls
    tag = f"{name[0].upper()}{int(time.time()) % 100000}"

    def work(i: int) -> Tally:
        parties = _parties(target, base, sim, clients[i].code)
        try:
            return drive(parties, clients[i].holders, flow, opts.seconds, name, f"{tag}-{i}")
        finally:
            _close(parties)

    return merge(_threads(len(clients), work), name)


def merge(tallies: list[Tally], name: str) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    first: dict[str, str] = {}
    for tally in tallies:
        for step, values in tally.latencies.items():
            latencies.setdefault(step, []).extend(values)
        for step, n in tally.errors.items():
            errors[step] = errors.get(step, 0) + n
        first = tally.first_error | first
    seconds = max((t.seconds for t in tallies), default=0.0) or 1.0
    done = [d for t in tallies for d in t.done]
    return {"count": len(done), "seconds": round(seconds, 2),
            "per_s": round(len(done) / seconds, 2),
            "latency_ms": {k: _percentiles(v) for k, v in latencies.items()},
            "errors": errors, "first_error": first, "done": done, "flow": name}


def _enrolled(opts: Options, target: Target, base: str, db: Database) -> list[Enrolled]:
    hospitals, people = population(db, opts.persons)
    if len(hospitals) < opts.clients or len(people) < opts.clients:
        raise SystemExit("not enough synthetic hospitals or persons for the clients")

    def work(i: int) -> Enrolled:
        code = hospitals[i]
        his, app = Client(target, code, world_token(code)), App(base, demo_token(CHANNEL))
        try:
            return Enrolled(code, [enrol(app, his, who) for who in people[i::opts.clients]])
        finally:
            his.conn.close()
            app.close()

    return _threads(opts.clients, work)


def run(opts: Options, report: Callable[[str], Any] = print) -> dict[str, Any]:
    db = Database(opts.url)
    report(f"preparing {opts.persons:,} synthetic persons ...")
    prepare(db, opts.persons, max(32, opts.clients))
    sim = Simulator(free_port())
    port = free_port(opts.port)
    base = f"http://127.0.0.1:{port}"
    server = None
    try:
        server = ServerProcess(db.url, port, workers=opts.workers, env={
            "YIBAO_WECHATPAY_URL": sim.url, "YIBAO_PUBLIC_URL": base,
            "YIBAO_CHANNEL_RATE": "100000"})
        target = Target("127.0.0.1", port)
        report("enrolling: certificates activated, QR codes scanned (1162) ...")
        clients = _enrolled(opts, target, base, db)
        urls = (target, base, sim.url)
        report("baseline: window flows 2201 -> 2204 -> 2207 ...")
        window = _phase(opts, urls, clients, window_flow, "flow")
        report("online orders: 6201 -> authorisation -> 6202 -> pay -> settled ...")
        orders = _phase(opts, urls, clients, online_order, "order")
    finally:
        if server is not None:
            server.stop()
        sim.stop()
        db.dispose()
    return summary(opts, db, window, orders)


def summary(opts: Options, db: Database, window: dict[str, Any],
            orders: dict[str, Any]) -> dict[str, Any]:
    return {
        "when": datetime.now().isoformat(timespec="seconds"),
        "database": "sqlite" if db.is_sqlite else "postgresql",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "options": {"clients": opts.clients, "seconds": opts.seconds,
                    "persons": opts.persons, "server_workers": opts.workers},
        "window": window, "online": orders,
        "ratio": round(orders["per_s"] / window["per_s"], 3) if window["per_s"] else None,
    }


def markdown(result: dict[str, Any]) -> str:
    online, window = result["online"], result["window"]
    lines = [f"| measure ({result['database']}, {result['options']['clients']} clients, "
             f"{result['options']['seconds']} s) | value |", "|---|---|",
             f"| online orders/s end to end (settled) | {online['per_s']} |",
             f"| window flows/s (2201 -> 2204 -> 2207), baseline | {window['per_s']} |",
             f"| ratio online / window | {result['ratio']} |",
             f"| errors online / window | {online['errors'] or 0} / {window['errors'] or 0} |",
             "", "| step | n | p50 ms | p99 ms |", "|---|---|---|---|"]
    for phase, steps in ((online, STEPS), (window, WINDOW_STEPS)):
        for step in steps:
            lat = phase["latency_ms"].get(step, {})
            lines.append(f"| {step} | {lat.get('n', 0)} | {lat.get('p50')} | {lat.get('p99')} |")
    for phase in (online, window):
        lines += [f"first refusal at {step}: {detail}"
                  for step, detail in phase["first_error"].items()]
    return "\n".join(lines) + "\n"


def default_url(directory: Path) -> str:
    """A new SQLite file under ``directory`` (setup activates certificates: once a person)."""
    directory.mkdir(parents=True, exist_ok=True)
    return str(directory / f"online-{datetime.now():%Y%m%d-%H%M%S}.db")
