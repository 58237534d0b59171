"""Profile 2207 in process on a database holding a synthetic region (yibao world
generate), in three thirds of the run: milliseconds and SQL statements per settlement;
CPU milliseconds per settlement by section (this process, and PostgreSQL's processes
serving the database); then the cProfile of the last third.

    python bench/profile_2207.py postgresql://postgres@127.0.0.1:5432/yibao_bench [count]
"""

from __future__ import annotations

import cProfile
import functools
import json
import pstats
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, select

from yibao.api import envelope, gateway, tx_settlement
from yibao.api import hospital as hospital_module
from yibao.api.app import create_app
from yibao.bench.cpu import postgres_seconds
from yibao.bench.world import world_token
from yibao.client import HisClient
from yibao.services import settlement
from yibao.store.db import Database
from yibao.store.schema import catalogue_item, institution, insurance, person


def main() -> None:
    url, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 300
    db = Database(url)
    hospital = create_app(db).state.hospital
    with db.read() as conn:
        code = conn.execute(select(institution.c.fixmedins_code).where(
            institution.c.kind == "hospital", institution.c.fixmedins_code.startswith("W"))
        ).scalars().first()
        people = conn.execute(
            select(person.c.psn_no, person.c.certno, insurance.c.insutype)
            .join(insurance, insurance.c.psn_no == person.c.psn_no)
            .where(person.c.psn_no.startswith("W")).limit(count)).all()
        item = conn.execute(select(catalogue_item.c.code).where(
            catalogue_item.c.chrgitm_lv == "01", catalogue_item.c.price_cap.is_(None),
            catalogue_item.c.code.startswith("W"))).scalars().first()
    his = HisClient(lambda h, b: json.dumps(hospital.handle(h, b), default=str).encode(),
                    code, world_token(code))
    messages = []
    for psn_no, certno, insutype in people:
        cred = {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno}
        visit = his.call("2201", {"data": {"psn_no": psn_no, "insutype": insutype,
                                           "begntime": "2026-05-11 08:00:00",
                                           "ipt_otp_no": "P", **cred}})
        mdtrt_id = visit["output"]["data"]["mdtrt_id"]
        his.call("2204", {"feedetail": [
            {"feedetl_sn": str(k), "mdtrt_id": mdtrt_id, "psn_no": psn_no,
             "med_list_codg": item, "medins_list_codg": "P",
             "det_item_fee_sumamt": "10.00", "cnt": "1", "pric": "10.00"} for k in range(5)]})
        envelope = his.envelope("2207", {"data": {"psn_no": psn_no, "mdtrt_id": mdtrt_id,
                                                  "medfee_sumamt": "50.00",
                                                  "acct_used_flag": "1", **cred}})
        messages.append((his.headers(), json.dumps(envelope).encode()))
    third = len(messages) // 3
    statements: Counter[str] = Counter()
    count = lambda _c, _cur, sql, *_: statements.update([sql.split("(")[0][:50]])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", count)
    started = time.perf_counter()
    for headers, body in messages[:third]:
        assert hospital.handle(headers, body)["infcode"] == 0
    took = (time.perf_counter() - started) / third * 1000
    event.remove(db.engine, "before_cursor_execute", count)
    print(f"2207: {took:.2f} ms each, {sum(statements.values()) / third:.1f} statements each")
    for sql, n in statements.most_common():
        print(f"  {n / third:4.1f}  {sql}")
    by_section(db, hospital, messages[third:2 * third])
    profile = cProfile.Profile()
    profile.enable()
    for headers, body in messages[2 * third:]:
        hospital.handle(headers, body)
    profile.disable()
    pstats.Stats(profile).sort_stats("cumtime").print_stats("yibao", 25)


# (module, function) pairs timed by by_section, outermost first
SECTIONS = [
    (hospital_module.HospitalInterface, "handle"), (hospital_module.HospitalInterface, "_run"),
    (settlement, "_plan"), (settlement, "_compute"), (settlement, "settle"),
    (settlement, "_store"), (gateway.Gateway, "record"), (hospital_module, "_reserve"),
    (envelope, "read_envelope"), (envelope, "to_json"), (tx_settlement, "render"),
    (hospital_module.HospitalInterface, "_log"),
]


def by_section(db: Database, hospital: object, messages: list[tuple[dict, bytes]]) -> None:
    """CPU time of this process per section (sections nest: _plan holds _compute, which
    holds the engine's settle) and of PostgreSQL's processes serving the database."""
    spent: Counter[str] = Counter()
    originals = [(owner, name, getattr(owner, name)) for owner, name in SECTIONS]
    for owner, name, fn in originals:
        setattr(owner, name, _timed(fn, f"{getattr(owner, '__name__', owner)}.{name}", spent))
    database = "" if db.is_sqlite else db.engine.url.database or ""
    cpu, pg = time.process_time(), postgres_seconds(database) if database else 0.0
    try:
        for headers, body in messages:
            assert hospital.handle(headers, body)["infcode"] == 0  # type: ignore[attr-defined]
    finally:
        for owner, name, fn in originals:
            setattr(owner, name, fn)
    n = len(messages)
    pg_ms = ((postgres_seconds(database) if database else 0.0) - pg) / n * 1000
    print(f"CPU per 2207: this process {(time.process_time() - cpu) / n * 1000:.2f} ms, "
          f"PostgreSQL {pg_ms:.2f} ms")
    for section, seconds in spent.most_common():
        print(f"  {seconds / n * 1000:6.3f} ms  {section}")


def _timed(fn: Callable[..., Any], label: str, spent: Counter[str]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started
    return timed

if __name__ == "__main__":
    main()
