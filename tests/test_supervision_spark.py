"""The same rule SQL on Apache Spark finds the same clues as on DuckDB (issue 20): a
sample of the batch rules over one small planted world (timestamps and intervals, the
haversine distance, window functions, a union with the refusal counts)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import CLERK
from flows import LI_JIANGUO, WANG_FANG, person, refused
from supervision_plant import at, extract, outpatient, place, stay
from yibao.analytics import screening
from yibao.domain import supervision

pytestmark = pytest.mark.spark
SAMPLE = ("SV01", "SV02", "SV04", "SV11")
CARD = {"mdtrt_cert_type": "03", "mdtrt_cert_no": "BJ0000000001", "card_sn": "SN0000000001"}


def test_spark_finds_the_clues_duckdb_finds(db, http, his_factory, clock, tmp_path):
    pytest.importorskip("pyspark", reason="the optional extra yibao[spark] is not installed")
    place(db, "H11010500001", 39.9042, 116.4074)
    place(db, "H11010500002", 40.0800, 116.5900)
    first, second = his_factory("H11010500001"), his_factory("H11010500002")
    wang = str(person(first, WANG_FANG)["baseinfo"]["psn_no"])
    li = str(person(first, LI_JIANGUO)["baseinfo"]["psn_no"])
    outpatient(first, clock, wang, WANG_FANG, when=at("2026-05-11 09:10:00"), amount="3000.00")
    outpatient(second, clock, wang, WANG_FANG, when=at("2026-05-11 09:50:00"), amount="300.00")
    stay(first, clock, li, LI_JIANGUO, admitted=at("2026-04-20 08:00:00"),
         discharged=at("2026-04-28 10:00:00"))
    stay(first, clock, li, LI_JIANGUO, admitted=at("2026-05-05 08:00:00"),
         discharged=at("2026-05-12 10:00:00"))
    for n in range(8):
        outpatient(second, clock, li, LI_JIANGUO, diag="I10.x00",
                   when=at("2026-05-13 09:00:00") + timedelta(days=2 * n))
    clock.now = at("2026-05-30 09:00:00")
    assert http.post("/admin/v1/cards/BJ0000000001/loss", headers=CLERK).status_code == 200
    for _ in range(3):
        refused(first.call("1101", {"data": CARD}), "E-PSN-004")

    directory = extract(db, tmp_path)
    rules = [supervision.rule(r) for r in SAMPLE]
    duck = screening.run_duckdb(directory, rules, "2026-05")
    assert sorted({c.rule_id for c in duck}) == list(SAMPLE)
    assert screening.run_spark(directory, rules, "2026-05") == duck
