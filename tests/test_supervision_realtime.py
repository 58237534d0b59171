"""Supervision in real time (issue 20, docs/supervision.md "In real time"): 3101/3102
answer the visit rules' findings in the standard's fields and store them; 3103 records
what the institution did; settlement refuses what the region's policy blocks (E-SUP-010)
and lets a warning through; a policy that blocks nothing costs settlement no statement."""

from __future__ import annotations

import copy
import itertools
import threading
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event, insert, select

from flows import (
    LI_JIANGUO,
    WANG_FANG,
    admit,
    line,
    ok,
    person,
    refused,
    register,
    settle_payload,
    upload,
)
from test_his_transactions import REVIEW
from yibao.api.app import create_app
from yibao.client import HisClient
from yibao.domain.policy import PolicyError, parse_policy
from yibao.store.policy_files import load_policies
from yibao.store.schema import catalogue_item, fee_line, review_warning, settlement

WOMEN_ONLY = "T-WOMEN-01"  # a sex-specific examination, female only
CHILDREN = "T-CHILD-01"  # an item for ages 0-14
BED = "T-BED-01"  # a bed-day, per_day
NAMES = {WOMEN_ONLY: "妇科检查", CHILDREN: "小儿氨酚颗粒", BED: "床位费"}
NO_LIMITS = dict(lmt_gend="", lmt_age_min=None, lmt_age_max=None, lmt_daily_cnt=None,
                 lmt_course_days=None, lmt_visit_times=None, per_day=False)


@pytest.fixture
def limited(db):
    """Three limited items in the Beijing catalogue."""
    with db.write() as conn:
        conn.execute(insert(catalogue_item), [
            dict(region="110000", code=code, name=name, list_type=kind, chrgitm_lv="01",
                 med_chrgitm_type="", price_cap=None, selfpay_ratio="0",
                 valid_from=date(2020, 1, 1), ver="20260101",
                 **(NO_LIMITS | limits))
            for code, name, kind, limits in (
                (WOMEN_ONLY, "妇科检查 (示例, 限女性)", "201", {"lmt_gend": "2"}),
                (CHILDREN, "小儿氨酚颗粒 (示例, 限0-14岁)", "101",
                 {"lmt_age_min": 0, "lmt_age_max": 14}),
                (BED, "床位费 (示例, 按日)", "201", {"per_day": True}))])


def review_of(gend: str, *orders: tuple[str, str, str, str]) -> dict:
    """REVIEW for a patient of ``gend`` with orders (rx_id, code, count, price)."""
    body = copy.deepcopy(REVIEW)
    patient = body["data"]["patient_dtos"][0]
    patient["gend"] = gend
    encounter = patient["fsi_encounter_dtos"][0]
    template = encounter["fsi_order_dtos"][0]
    encounter["fsi_order_dtos"] = []
    for rx_id, code, count, price in orders:
        order = dict(template, rx_id=rx_id, hilist_code=code, cnt=count, pric=price,
                     hilist_name=NAMES.get(code, template["hilist_name"]),
                     sumamt=str((Decimal(count) * Decimal(price)).quantize(Decimal("0.01"))))
        encounter["fsi_order_dtos"].append(order)
    return body


def warnings(db) -> list[dict]:
    with db.read() as conn:
        return [dict(r) for r in conn.execute(
            select(review_warning).order_by(review_warning.c.jr_id)).mappings()]


# 3101 / 3102 ---------------------------------------------------------------------------

@pytest.mark.parametrize(("infno", "stage"), [("3101", "1"), ("3102", "2")])
def test_a_womens_item_for_a_man_is_answered_in_the_standards_fields(his, db, limited,
                                                                     infno, stage):
    body = review_of("1", ("R1", WOMEN_ONLY, "1", "80.00"), ("R2", "XA01AAA0001", "3", "10.00"))
    (found,) = ok(his.call(infno, body))["result"]
    jr_id = found["jr_id"]
    assert found == {
        "jr_id": jr_id, "rule_id": "SV07", "rule_name": "限性别项目用于不符性别",
        "vola_cont": "限女性项目【妇科检查】用于男性",
        "patn_id": "11000000000000000001", "mdtrt_id": "M1",
        "judge_result_detail_dtos": [{
            "jrd_id": f"{jr_id}-1", "patn_id": "11000000000000000001", "mdtrt_id": "M1",
            "rx_id": "R1", "vola_item_type": "1", "vola_amt": 80.0}],
        "vola_amt": 80.0, "vola_amt_stas": "1", "sev_deg": "1",
        "vola_evid": "医保目录限定支付范围; 条例 第三十八条", "vola_bhvr_type": "2",
        "task_id": his.last_msgid}
    (stored,) = warnings(db)
    assert (stored["jr_id"], stored["stage"], stored["fixmedins_code"], stored["psn_no"],
            stored["mdtrt_id"], stored["rule_id"], stored["hilist_code"], stored["amount"],
            stored["dspo_way"]) == (jr_id, stage, "H11010500001", "11000000000000000001", "M1",
                                    "SV07", WOMEN_ONLY, 8000, "")


def test_the_look_alike_a_womens_item_for_a_woman_and_items_without_limits(his, db, limited):
    assert ok(his.call("3101", review_of("2", ("R1", WOMEN_ONLY, "1", "80.00"))))[
        "result"] == []
    assert ok(his.call("3102", REVIEW)) == {"result": []}
    assert warnings(db) == []


def test_rule_ids_choose_among_yiaos_rules_and_others_are_left_to_their_owners(his, limited):
    body = review_of("1", ("R1", WOMEN_ONLY, "1", "80.00"),
                     ("R2", CHILDREN, "1", "5.00"))  # and the man is 41
    assert {f["rule_id"] for f in ok(his.call("3101", body))["result"]} == {"SV07", "SV08"}
    body["data"]["rule_ids"] = ["SV08", "R01"]
    assert [f["rule_id"] for f in ok(his.call("3101", body))["result"]] == ["SV08"]
    body["data"]["rule_ids"] = ["R01"]
    assert ok(his.call("3101", body))["result"] == []
    body["data"]["rule_ids"] = "SV07,SV08"  # some HIS send a comma-separated text
    assert len(ok(his.call("3101", body))["result"]) == 2
    body["data"]["rule_ids"] = {"not": "a list"}
    assert "rule_ids" in refused(his.call("3101", body), "E-ENV-005")


def test_only_findings_on_the_current_orders_are_answered(his, limited):
    body = review_of("1", ("R1", WOMEN_ONLY, "1", "80.00"), ("R2", "XA01AAA0001", "3", "10.00"))
    orders = body["data"]["patient_dtos"][0]["fsi_encounter_dtos"][0]["fsi_order_dtos"]
    orders[0]["curr_drord_flag"] = "0"  # saved earlier: warned then, not again
    assert ok(his.call("3101", body))["result"] == []


def test_bed_days_beyond_the_stay_and_the_involved_line_of_a_duplicate(his, limited):
    body = review_of("2", ("R1", BED, "3", "50.00"), ("R2", BED, "2", "50.00"),
                     ("R3", "XA01AAA0001", "2", "10.00"), ("R4", "XA01AAA0001", "2", "10.00"))
    encounter = body["data"]["patient_dtos"][0]["fsi_encounter_dtos"][0]
    encounter.update(adm_date="2026-05-08 10:00:00", dscg_date="2026-05-11 09:00:00",
                     med_type="21")  # 3 days of stay (算入不算出)
    found = {f["rule_id"]: f for f in ok(his.call("3102", body))["result"]}
    assert set(found) == {"SV05", "SV06"}
    assert found["SV05"]["vola_amt"] == 100.0
    assert [(d["rx_id"], d["vola_item_type"], d["vola_amt"])
            for d in found["SV05"]["judge_result_detail_dtos"]] == [
        ("R1", "1", 100.0), ("R2", "2", 0.0)]
    assert [(d["rx_id"], d["vola_item_type"], d["vola_amt"])
            for d in found["SV06"]["judge_result_detail_dtos"]] == [
        ("R3", "2", 0.0), ("R4", "1", 20.0)]


def test_a_3101_sent_again_is_answered_the_same_and_stores_nothing_twice(his, db, limited):
    body = review_of("1", ("R1", WOMEN_ONLY, "1", "80.00"))
    first = his.call("3101", body)
    again = his.call("3101", body, msgid=his.last_msgid)
    assert ok(again) == ok(first)
    assert len(warnings(db)) == 1


# 3103 -----------------------------------------------------------------------------------

def warned(his, infno: str = "3101") -> str:
    (found,) = ok(his.call(infno, review_of("1", ("R1", WOMEN_ONLY, "1", "80.00"))))["result"]
    return str(found["jr_id"])


def feedback(warn_type: str, *warns: tuple[str, str, str]) -> dict:
    return {"data": {"warn_type": warn_type, "warns": [
        {"warn_rslt_id": jr_id, "dspo_way": way, "dspo_way_rea": why}
        for jr_id, way, why in warns]}}


def test_3103_records_continue_with_its_reason_and_return_to_modify(his, db, clock, limited):
    keep, change = warned(his), warned(his)
    assert ok(his.call("3103", feedback("1", (keep, "1", "患者为跨性别者, 医嘱确认"),
                                        (change, "2", "")))) == {}
    rows = {r["jr_id"]: r for r in warnings(db)}
    assert (rows[keep]["dspo_way"], rows[keep]["dspo_way_rea"], rows[keep]["fed_back_at"]) == (
        "1", "患者为跨性别者, 医嘱确认", clock.now.replace(microsecond=0))
    assert (rows[change]["dspo_way"], rows[change]["dspo_way_rea"]) == ("2", "")


def test_3103_twice_the_same_is_answered_the_same_otherwise_refused(his, db, limited):
    jr_id = warned(his)
    ok(his.call("3103", feedback("1", (jr_id, "2", ""))))
    before = warnings(db)
    assert ok(his.call("3103", feedback("1", (jr_id, "2", "")))) == {}
    assert "fed back as dspo_way 2" in refused(
        his.call("3103", feedback("1", (jr_id, "1", "继续"))), "E-SUP-014")
    assert warnings(db) == before


@pytest.mark.parametrize(("warn", "code", "named"), [
    (("JR-UNKNOWN", "2", ""), "E-SUP-011", "JR-UNKNOWN"),
    (("{jr}", "3", ""), "E-SUP-013", "dspo_way '3'"),
    (("{jr}", "1", " "), "E-SUP-013", "needs dspo_way_rea"),
])
def test_3103_refusals_record_nothing_even_for_the_good_warnings_beside(his, db, limited, warn,
                                                                       code, named):
    good, jr_id = warned(his), warned(his)
    bad = (warn[0].format(jr=jr_id), warn[1], warn[2])
    assert named in refused(his.call("3103", feedback("1", (good, "2", ""), bad)), code)
    assert [w["dspo_way"] for w in warnings(db)] == ["", ""]


def test_3103_another_institutions_warning_or_the_other_stage_is_refused(his, his_factory, db,
                                                                        limited):
    jr_id = warned(his)
    other = his_factory("H11010500002")
    assert jr_id in refused(other.call("3103", feedback("1", (jr_id, "2", ""))), "E-SUP-011")
    assert "stage 1, not 2" in refused(his.call("3103", feedback("2", (jr_id, "2", ""))),
                                       "E-SUP-012")
    refused(his.call("3103", feedback("3", (jr_id, "2", ""))), "E-SUP-013")
    refused(his.call("3103", {"data": {"warn_type": "1", "warns": []}}), "E-ENV-004")
    assert [w["dspo_way"] for w in warnings(db)] == [""]


def test_two_feedbacks_at_once_one_is_recorded_the_other_refused(his, his_factory, db, limited):
    jr_id = warned(his)
    clients = [his_factory(), his_factory()]
    answers: list[dict] = [{}, {}]
    barrier = threading.Barrier(2)

    def send(n: int) -> None:
        barrier.wait()
        answers[n] = clients[n].call("3103", feedback("1", (jr_id, str(n + 1), "理由")),
                                     msgid=f"H1101050000120260511093000{n:04d}")

    threads = [threading.Thread(target=send, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(a["infcode"] for a in answers)
    assert codes == [-1, 0], answers
    loser = next(a for a in answers if a["infcode"] == -1)
    assert loser["err_msg"].startswith("E-SUP-014")
    (row,) = warnings(db)
    winner = answers.index(next(a for a in answers if a["infcode"] == 0))
    assert row["dspo_way"] == str(winner + 1)


# settlement: block or warn --------------------------------------------------------------

def women_only_for_a_man(his) -> tuple[str, str]:
    psn_no = person(his, LI_JIANGUO)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, LI_JIANGUO)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "10.00"),
                                   line("2", WOMEN_ONLY, "80.00")])
    return psn_no, mdtrt_id


def settlements(db) -> int:
    with db.read() as conn:
        return len(conn.execute(select(settlement.c.setl_id)).all())


@pytest.mark.parametrize("infno", ["2206", "2207"])
def test_a_blocking_rule_refuses_settlement_naming_the_rule_and_the_item(his, db, limited, infno):
    psn_no, mdtrt_id = women_only_for_a_man(his)
    message = refused(his.call(infno, settle_payload(psn_no, mdtrt_id, LI_JIANGUO, "90.00")),
                      "E-SUP-010")
    assert "SV07" in message and WOMEN_ONLY in message and "feedetl_sn 2" in message
    assert settlements(db) == 0
    # the institution cancels the batch (2205), uploads it again without the item and
    # settles
    ok(his.call("2205", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "B1"}}))
    upload(his, mdtrt_id, psn_no, [dict(line("3", "XA01AAA0001", "10.00"), chrg_bchno="B2")])
    ok(his.call(infno, settle_payload(psn_no, mdtrt_id, LI_JIANGUO, "10.00")))


def test_a_warning_rule_does_not_refuse_settlement(his, db, limited):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    # the same item twice the same day (SV06, warned only in Beijing) and a woman's item
    # for a woman
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "10.00"),
                                   line("2", "XA01AAA0001", "10.00"),
                                   line("3", WOMEN_ONLY, "80.00")])
    ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "100.00")))
    assert settlements(db) == 1


def test_in_hospital_bed_days_beyond_the_stay_block_and_a_refunded_line_no_longer_does(
        his, limited):
    """Admitted 1 May 08:00, on 11 May 09:30 the stay is 10 days (算入不算出)."""
    from test_inpatient_flow import settle

    psn_no = person(his, LI_JIANGUO)["baseinfo"]["psn_no"]
    mdtrt_id = admit(his, psn_no, LI_JIANGUO)
    upload(his, mdtrt_id, psn_no, [line("1", BED, "50.00", "12"),
                                   line("2", WOMEN_ONLY, "80.00")], infno="2301")
    message = refused(settle(his, psn_no, mdtrt_id, LI_JIANGUO, "680.00", interim=True,
                             infno="2303"), "E-SUP-010")
    assert "SV05" in message and "12 times for a stay of 10 days" in message
    upload(his, mdtrt_id, psn_no, [line("3", BED, "50.00", "-2", init="1")], infno="2301")
    assert "SV07" in refused(settle(his, psn_no, mdtrt_id, LI_JIANGUO, "580.00", interim=True,
                                    infno="2303"), "E-SUP-010")
    upload(his, mdtrt_id, psn_no, [line("4", WOMEN_ONLY, "80.00", "-1", init="2")],
           infno="2301")
    ok(settle(his, psn_no, mdtrt_id, LI_JIANGUO, "500.00", interim=True, infno="2303"))


def test_a_pharmacy_purchase_is_checked_as_a_settlement(his_factory, db, limited):
    """2102 settles fee lines through the same settlement: a child's item for a man of 65
    (SV08, blocked in Beijing) is refused there too."""
    from test_pharmacy import drug, purchase  # the pharmacy's own flow

    pharmacy = his_factory("P11010500001")
    psn_no = person(pharmacy, LI_JIANGUO)["baseinfo"]["psn_no"]
    payload = purchase(psn_no, LI_JIANGUO, [drug("1", CHILDREN, "5.00")])
    for infno in ("2101", "2102"):
        assert "SV08" in refused(pharmacy.call(infno, payload), "E-SUP-010")
    assert settlements(db) == 0


def test_blocking_costs_settlement_no_statement(db, clock, limited):
    """The same 2207 under Beijing's policy as shipped (blocking SV05, SV07, SV08) and
    with ``block`` emptied: as many statements either way. When something blocks, the
    one statement that reads the visit's lines reads their items' limits too (the lines
    settled are taken from it); without, no statement reads the limits."""
    from fastapi.testclient import TestClient

    from yibao.client import httpx_transport
    from yibao.store.demo import demo_token

    shipped = load_policies()
    policies = {"block": shipped,
                "none": tuple(replace(p, block=frozenset()) for p in shipped)}
    counts: dict[str, list[str]] = {}
    serial = itertools.count(1)  # one msgid series: two clients in one second never repeat
    for name, chosen in policies.items():
        with TestClient(create_app(db, clock=clock, policies=chosen)) as client:
            his = HisClient(httpx_transport(client), "H11010500001", demo_token("H11010500001"))
            his._serial = serial
            his.sign_in()
            psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
            for _ in range(2):  # the first pays the deductible; the second is measured
                mdtrt_id = register(his, psn_no, WANG_FANG)
                upload(his, mdtrt_id, psn_no, [line("1", WOMEN_ONLY, "80.00")])
                seen: list[str] = []

                def count(conn, cursor, statement, *args, seen=seen) -> None:
                    seen.append(statement)
                event.listen(db.engine, "before_cursor_execute", count)
                try:
                    ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "80.00",
                                                       account=False)))
                finally:
                    event.remove(db.engine, "before_cursor_execute", count)
            counts[name] = seen
    # blocking costs no statement: the lines settled are taken from the check's read
    assert len(counts["block"]) == len(counts["none"])
    assert not [s for s in counts["none"] if "lmt_gend" in s]
    assert len([s for s in counts["block"] if "lmt_gend" in s]) == 1


# the policy's [supervision] section -----------------------------------------------------

def beijing_raw(block: list[str]) -> dict:
    import tomllib
    from importlib import resources

    text = (resources.files("yibao") / "policies" / "beijing-310-2024.toml").read_text(
        encoding="utf-8")
    raw = tomllib.loads(text)
    raw["supervision"]["block"] = block
    return raw


def test_beijing_blocks_the_clear_violations():
    assert parse_policy(beijing_raw(["SV05", "SV07", "SV08"])).block == {"SV05", "SV07", "SV08"}
    blocks = {(p.region, p.insutype): p.block for p in load_policies()}
    assert blocks == {("110000", "310"): {"SV05", "SV07", "SV08"},
                      ("110000", "390"): {"SV05", "SV07", "SV08"},
                      ("130102", "310"): frozenset()}


@pytest.mark.parametrize(("block", "named"), [
    (["SV99"], "SV99 is not a rule of the library"),
    (["SV04"], "SV04 needs the month's extract"),
    ("SV07", "must be a list"),
])
def test_a_policy_blocking_an_unknown_or_month_rule_does_not_load(block, named):
    with pytest.raises(PolicyError, match=named):
        parse_policy(beijing_raw(block))


def test_fee_lines_untouched_by_a_refused_settlement(his, db, limited):
    psn_no, mdtrt_id = women_only_for_a_man(his)
    refused(his.call("2207", settle_payload(psn_no, mdtrt_id, LI_JIANGUO, "90.00")),
            "E-SUP-010")
    with db.read() as conn:
        marks = conn.execute(select(fee_line.c.setl_id).where(
            fee_line.c.mdtrt_id == mdtrt_id)).scalars().all()
    assert marks == [None, None]


def test_the_demo_catalogue_has_limited_items_that_warn(his):
    """The demo's Beijing services with limits (store/demo.py CATALOGUE_LIMITED)."""
    body = review_of("1", ("R1", "003105010010000", "1", "30.00"),  # female only
                     ("R2", "003107010020000", "1", "20.00"),  # ages 0-14
                     ("R3", "003111010030000", "4", "15.00"))  # 3 a day
    found = {f["rule_id"]: f["vola_amt"] for f in ok(his.call("3101", body))["result"]}
    assert found == {"SV07": 30.0, "SV08": 20.0, "SV09": 15.0}
