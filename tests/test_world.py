"""The synthetic region: valid, unique ID numbers, the promised mix, and it settles."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import select

from flows import line, ok, register, settle_payload, upload
from yibao.bench.world import Scale, generate, id_check_digit, id_number, world_token
from yibao.client import HisClient, httpx_transport
from yibao.store.schema import institution, insurance, person


def test_id_numbers_carry_the_gb11643_check_character():
    assert id_check_digit("11010519850315002") == "7"  # 王芳's real-format number
    assert id_check_digit("11010219600620003") == "X"
    assert id_number("110105", date(1985, 3, 15), 2) == "110105198503150027"


def test_generated_region_has_the_mix_and_settles(db, http):
    counts = generate(db, Scale(persons=600, institutions=40, items=300, seed=1),
                      lambda label, n: None)
    assert counts["person"] == counts["insurance"] == counts["card"] == 600
    with db.read() as conn:
        certnos = [r.certno for r in conn.execute(select(person.c.certno))
                   if r.certno.startswith("11")]
        mix = Counter(r.insutype for r in conn.execute(select(insurance.c.insutype)))
        hospital = conn.execute(select(institution).where(
            institution.c.kind == "hospital", institution.c.fixmedins_code.startswith("W"))
        ).mappings().first()
        someone = conn.execute(select(person.c.psn_no, person.c.certno, insurance.c.insutype)
                               .join(insurance, insurance.c.psn_no == person.c.psn_no)
                               .where(person.c.psn_no.startswith("W"))).first()
    assert len(set(certnos)) == len(certnos)
    assert all(id_check_digit(c[:17]) == c[17] for c in certnos)
    assert 0.45 < mix["310"] / sum(mix.values()) < 0.75
    his = HisClient(httpx_transport(http), hospital["fixmedins_code"],
                    world_token(hospital["fixmedins_code"]))
    his.sign_in()
    mdtrt_id = register(his, someone.psn_no, someone.certno, someone.insutype)
    upload(his, mdtrt_id, someone.psn_no, [line("1", "XA01AAA0001", "10.00")])
    payload = settle_payload(someone.psn_no, mdtrt_id, someone.certno, "10.00",
                             insutype=someone.insutype)
    assert ok(his.call("2207", payload))["setlinfo"]["psn_no"] == someone.psn_no
