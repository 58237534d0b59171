"""Profile 2207 in process on a database holding a synthetic region (yibao world
generate): milliseconds and SQL statements per settlement, then the cProfile of the
second half of the run.

    python bench/profile_2207.py postgresql://postgres@127.0.0.1:5432/yibao_bench [count]
"""

from __future__ import annotations

import cProfile
import json
import pstats
import sys
import time
from collections import Counter

from sqlalchemy import event, select

from yibao.api.app import create_app
from yibao.client import HisClient
from yibao.store.db import Database
from yibao.store.schema import catalogue_item, institution, insurance, person
from yibao.world import world_token


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
    statements: Counter[str] = Counter()
    event.listen(db.engine, "before_cursor_execute",
                 lambda _c, _cur, sql, *_: statements.update([sql.split("(")[0][:50]]))
    half = len(messages) // 2
    started = time.perf_counter()
    for headers, body in messages[:half]:
        assert hospital.handle(headers, body)["infcode"] == 0
    took = (time.perf_counter() - started) / half * 1000
    print(f"2207: {took:.2f} ms each, {sum(statements.values()) / half:.1f} statements each")
    for sql, n in statements.most_common():
        print(f"  {n / half:4.1f}  {sql}")
    profile = cProfile.Profile()
    profile.enable()
    for headers, body in messages[half:]:
        hospital.handle(headers, body)
    profile.disable()
    pstats.Stats(profile).sort_stats("cumtime").print_stats("yibao", 25)


if __name__ == "__main__":
    main()
