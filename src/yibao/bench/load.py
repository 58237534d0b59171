"""Simulated HIS clients for the settlement benchmark: processes of threads, each thread
one institution on one keep-alive connection, recording the latency of every call."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from yibao.api.hospital import ROUTE
from yibao.bench.cpu import own_seconds

FEE_LINES_PER_FLOW = 5


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class Plan:
    """What one client thread does: ``mode`` flow | settle | paced | floor | prepare
    (``prepared`` visits registered with their fee lines, for settle and paced, which
    send 2207 for ``visits``)."""

    mode: str
    seconds: float
    institution: tuple[str, str]  # code, token
    persons: list[tuple[str, str, str]]  # psn_no, certno, insutype
    items: list[str]
    prepared: int = 0  # prepare: how many visits
    visits: tuple[dict[str, Any], ...] = ()  # settle/paced: the 2207 inputs, in order
    interval: float = 0.0  # paced: seconds between 2207 calls
    seed: int = 0
    # which half of the msgid's 4-digit serial this plan's client uses (0: 0000-4999,
    # 1: 5000-9999): consecutive phases take alternate halves, so that an institution's
    # last messages of one phase and its first of the next, sent within the same second
    # by two clients, never share a msgid (an HIS's msgid is unique; a repeat is answered
    # from the store or refused, which the benchmark would count as an error)
    serials: int = 0
    # the server this client sends to, when the clients are spread over several (bench
    # scale); None: the process's target
    target: Target | None = None


@dataclass(slots=True)
class Record:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    first_error: dict[str, str] = field(default_factory=dict)  # infno: its first err_msg
    flows: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this thread's share of its client process's CPU time
    visits: list[dict[str, Any]] = field(default_factory=list)  # what ``prepare`` made

    def add(self, infno: str, ms: float, ok: bool, err_msg: str = "") -> None:
        self.latencies.setdefault(infno, []).append(ms)
        if not ok:
            self.errors[infno] = self.errors.get(infno, 0) + 1
            self.first_error.setdefault(infno, err_msg[:200])


class Connection:
    """A keep-alive HTTP/1.1 connection that sends prepared bytes and reads the answer by
    its Content-Length: about a tenth of http.client's CPU per call, which matters when
    the load generator shares the machine with the server it measures."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.sock: socket.socket | None = None
        self.pending = b""
        self.head = (f"POST {ROUTE} HTTP/1.1\r\nhost: {target.host}:{target.port}\r\n"
                     "content-type: application/json\r\n")

    def post(self, headers: dict[str, str], body: bytes) -> bytes:
        if self.sock is None:
            self.sock = socket.create_connection((self.target.host, self.target.port), 30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.pending = b""
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.sock.sendall(
            f"{self.head}{lines}content-length: {len(body)}\r\n\r\n".encode() + body)
        return self._answer()

    def _answer(self) -> bytes:
        data = self.pending
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += self._receive()
        head, data = data[:end].lower(), data[end + 4:]
        if not head.startswith(b"http/1.1 200"):
            raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
        at = head.find(b"content-length:")
        if at < 0:
            raise ConnectionError("an answer without content-length")
        length = int(head[at + 15:].split(b"\r\n", 1)[0])
        while len(data) < length:
            data += self._receive()
        self.pending = data[length:]
        return data[:length]

    def _receive(self) -> bytes:
        assert self.sock is not None
        chunk = self.sock.recv(262_144)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Client:
    """One HIS on one keep-alive connection. A message is built once (``message``) and
    may be sent several times (``send``): each send is signed with a fresh nonce, as an
    HIS retrying an unanswered message does."""

    SERIALS = 5000  # a half of the msgid's serial space (Plan.serials)

    def __init__(self, target: Target, code: str, token: str, serials: int = 0) -> None:
        self.target = target
        self.conn = Connection(target)
        self.code, self.token = code, token
        self.serial = itertools.count(int.from_bytes(os.urandom(2), "big"))
        self.base = serials * self.SERIALS

    def message(self, infno: str, payload: dict[str, Any]) -> tuple[str, bytes]:
        serial = self.base + next(self.serial) % self.SERIALS
        msgid = f"{self.code}{datetime.now():%Y%m%d%H%M%S}{serial:04d}"
        body = json.dumps({"infno": infno, "msgid": msgid, "fixmedins_code": self.code,
                           "mdtrtarea_admvs": "110000", "insuplc_admdvs": "110000",
                           "sign_no": "", "input": payload}, ensure_ascii=False).encode()
        return msgid, body

    def send(self, body: bytes) -> tuple[dict[str, Any], float]:
        ts = str(int(time.time()))
        nonce = os.urandom(12).hex()
        signature = hashlib.sha256(f"{ts}{self.token}{nonce}{ts}".encode()).hexdigest()
        headers = {"x-tif-paasid": self.code, "x-tif-timestamp": ts, "x-tif-nonce": nonce,
                   "x-tif-signature": signature}
        started = time.perf_counter()
        try:
            answer = json.loads(self.conn.post(headers, body))
        except OSError:
            self.conn.close()  # reconnect on the next send
            raise
        return answer, (time.perf_counter() - started) * 1000

    def call(self, infno: str, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
        return self.send(self.message(infno, payload)[1])


def _timed(client: Client, record: Record, infno: str, payload: dict[str, Any]) -> dict[str, Any]:
    answer, ms = client.call(infno, payload)
    record.add(infno, ms, answer.get("infcode") == 0, str(answer.get("err_msg") or ""))
    return answer


def _visit(
    client: Client, record: Record, rng: random.Random, plan: Plan
) -> dict[str, Any] | None:
    """1101 -> 2201 -> 2204; returns what 2206/2207 need, or None if a step failed."""
    psn_no, certno, insutype = rng.choice(plan.persons)
    cred = {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno}
    if _timed(client, record, "1101", {"data": cred})["infcode"] != 0:
        return None
    reg = _timed(client, record, "2201", {"data": {
        "psn_no": psn_no, "insutype": insutype, "begntime": f"{datetime.now():%Y-%m-%d} 08:00:00",
        "ipt_otp_no": "B1", **cred}})
    if reg["infcode"] != 0:
        return None
    mdtrt_id = reg["output"]["data"]["mdtrt_id"]
    lines, total = [], 0
    for sn in range(1, FEE_LINES_PER_FLOW + 1):
        cents = rng.randrange(100, 50_000)
        total += cents
        price = f"{cents // 100}.{cents % 100:02d}"
        lines.append({"feedetl_sn": str(sn), "mdtrt_id": mdtrt_id, "psn_no": psn_no,
                      "chrg_bchno": "1", "med_list_codg": rng.choice(plan.items),
                      "medins_list_codg": f"H{sn}", "det_item_fee_sumamt": price, "cnt": "1",
                      "pric": price})
    if _timed(client, record, "2204", {"feedetail": lines})["infcode"] != 0:
        return None
    settle = {"data": {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "med_type": "11",
                       "medfee_sumamt": f"{total // 100}.{total % 100:02d}", "chrg_bchno": "0000",
                       "acct_used_flag": "1", "psn_setlway": "01", **cred}}
    return settle


def run_plan(target: Target, plan: Plan) -> Record:
    rng = random.Random(plan.seed)
    client = Client(target, *plan.institution, serials=plan.serials)
    record = Record()
    if plan.mode == "flow":
        return _flows(client, record, rng, plan)
    if plan.mode == "floor":
        return _floor(client, record, plan)
    if plan.mode == "prepare":
        made = (_visit(client, Record(), rng, plan) for _ in range(plan.prepared))
        record.visits = [v for v in made if v is not None]
        return record
    started = time.perf_counter()
    next_at = started
    for settle in plan.visits:
        if plan.mode == "paced":
            next_at += plan.interval
            pause = next_at - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        _timed(client, record, "2207", settle)
        if time.perf_counter() - started > plan.seconds:
            break
    record.seconds = time.perf_counter() - started
    return record


def _flows(client: Client, record: Record, rng: random.Random, plan: Plan) -> Record:
    """Full outpatient flows; with ``plan.interval`` one flow starts every interval."""
    started = time.perf_counter()
    next_at = started
    while time.perf_counter() - started < plan.seconds:
        if plan.interval:
            next_at += plan.interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
        settle = _visit(client, record, rng, plan)
        if settle is None:
            continue
        _timed(client, record, "2206", settle)
        if _timed(client, record, "2207", settle)["infcode"] == 0:
            record.flows += 1
    record.seconds = time.perf_counter() - started
    return record


# no such transaction: refused once authenticated, before any transaction runs (its
# nonce is recorded: one small write, the only database work)
FLOOR_INFNO = "0000"


def _floor(client: Client, record: Record, plan: Plan) -> Record:
    """The HTTP floor: messages the server answers without running a transaction (HTTP,
    authentication, JSON, envelope, routing, logging, the nonce's record), as fast as the
    client can send them."""
    started = time.perf_counter()
    while time.perf_counter() - started < plan.seconds:
        _timed(client, record, FLOOR_INFNO, {})
    record.seconds = time.perf_counter() - started
    return record


def run_process(target: Target, plans: list[Plan]) -> list[Record]:
    """One client process: its plans on threads; each record carries an equal share of
    the process's CPU time."""
    started = own_seconds()
    with ThreadPoolExecutor(max_workers=len(plans)) as pool:
        records = list(pool.map(lambda p: run_plan(p.target or target, p), plans))
    share = (own_seconds() - started) / len(records)
    for record in records:
        record.cpu_seconds = share
    return records
