"""Designated institutions (就医定点医疗机构, docs/designation.md) on both databases: 2505 /
2506 / 5302 through the envelope, the holder's channel routes (choose, the limit of 4,
change with effect from a date, cancel), the settlement at home refused at an
institution neither designated nor open to all (emergencies exempt), a claim refused the
same way, the operators' open-to-all kind (REST and console), the console's person page,
and two concurrent choices that would exceed the limit."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from sqlalchemy import insert, select

from apps import ChannelApp
from calls import window_call
from concurrency import run_threads
from conftest import ADMIN, CLERK
from flows import LIU_YANG, WANG_FANG, line, ok, person, refused, register, settle_payload, upload
from test_console import csrf_of, sign_in
from test_console_persons import table_rows, text_of
from test_reimbursement import bill, window_apply
from yibao.domain.errors import Refused
from yibao.domain.policy import parse_policy
from yibao.services import designation
from yibao.services.context import Institution
from yibao.store.demo import demo_token
from yibao.store.policy_files import load_policies
from yibao.store.schema import designation as designation_table
from yibao.store.schema import institution

PIN = "135790"
SECOND = "H11010500002"  # the demo's Beijing hospital not open to all (everyone chose it)
EXTRA = [f"H1101059000{i}" for i in range(1, 6)]  # more hospitals that must be chosen
TODAY = "2026-05-11"  # the test clock's day


def add_hospitals(db, codes=tuple(EXTRA)) -> None:
    with db.write() as conn:
        conn.execute(insert(institution), [dict(
            fixmedins_code=code, name=f"测试医院{code[-1]}", kind="hospital", level=2,
            admdvs="110105", pool_area="110000", token=demo_token(code)) for code in codes])


def psn_of(his, certno: str = WANG_FANG) -> str:
    return str(person(his, certno)["baseinfo"]["psn_no"])


def query(his, psn_no: str) -> list[dict]:
    return list(ok(his.call("5302", {"data": {"psn_no": psn_no, "biz_appy_type": "03"}}))
                ["psnfixmedin"])


def designate(his, psn_no: str, code: str, order: str, begin: str = TODAY, **extra) -> dict:
    return his.call("2505", {"data": {
        "psn_no": psn_no, "biz_appy_type": "03", "fix_srt_no": order, "fixmedins_code": code,
        "fixmedins_name": "医院", "begndate": begin, **extra}})


def states(db, psn_no: str) -> list[tuple]:
    with db.read() as conn:
        rows = conn.execute(select(
            designation_table.c.fixmedins_code, designation_table.c.fix_srt_no,
            designation_table.c.begin_date, designation_table.c.end_date,
            designation_table.c.status).where(designation_table.c.psn_no == psn_no)
            .order_by(designation_table.c.created_at, designation_table.c.fix_srt_no))
        return [tuple(r) for r in rows]


# ---------------------------------------------------------------- the envelope


def test_2505_designates_5302_lists_and_2506_cancels_through_the_envelope(db, his_factory):
    add_hospitals(db)
    his = his_factory(SECOND)
    psn_no = psn_of(his)
    [demo] = query(his, psn_no)
    assert (demo["fix_srt_no"], demo["fixmedins_code"], demo["begndate"], demo["enddate"]) == (
        "1", SECOND, "2024-01-01", "")
    serial = ok(designate(his, psn_no, EXTRA[0], "2"))["result"]["trt_dcla_detl_sn"]
    assert [(r["fix_srt_no"], r["fixmedins_code"]) for r in query(his, psn_no)] == [
        ("1", SECOND), ("2", EXTRA[0])]
    # the taken number 2 from June: a change, the replaced one ends the day before
    changed = ok(designate(his, psn_no, EXTRA[1], "2", "2026-06-01"))["result"]
    rows = query(his, psn_no)
    assert [(r["fixmedins_code"], r["begndate"], r["enddate"]) for r in rows] == [
        (SECOND, "2024-01-01", ""), (EXTRA[0], TODAY, "2026-05-31"),
        (EXTRA[1], "2026-06-01", "")]
    cancel = {"data": {"trt_dcla_detl_sn": changed["trt_dcla_detl_sn"], "psn_no": psn_no,
                       "memo": "写错了"}}
    refused(his_factory("H11010500001").call("2506", cancel), "E-DES-006")  # not its own
    ok(his.call("2506", cancel))
    assert [r["fixmedins_code"] for r in query(his, psn_no)] == [SECOND, EXTRA[0]]
    refused(his.call("2506", cancel), "E-DES-007")
    assert serial != changed["trt_dcla_detl_sn"]


def test_2505_refusals_name_what_is_wrong(db, his_factory):
    add_hospitals(db)
    his = his_factory(SECOND)
    psn_no = psn_of(his)
    assert "pharmacies need no designation" in refused(
        designate(his, psn_no, "P11010500001", "2"), "E-DES-003")
    assert "open to all (a_class)" in refused(
        designate(his, psn_no, "H11010500001", "2"), "E-DES-003")
    assert "not the insured place" in refused(
        designate(his, psn_no, "H13010200002", "2"), "E-DES-003")
    assert "no designated institution" in refused(
        designate(his, psn_no, "H99999999999", "2"), "E-DES-003")
    assert "before today" in refused(designate(his, psn_no, EXTRA[0], "2", "2026-05-10"),
                                     "E-DES-004")
    assert "1..4" in refused(designate(his, psn_no, EXTRA[0], "5"), "E-DES-004")
    assert "already one of" in refused(designate(his, psn_no, SECOND, "2"), "E-DES-005")
    refused(his.call("2505", {"data": {
        "psn_no": psn_no, "biz_appy_type": "01", "fix_srt_no": "2", "fixmedins_code": EXTRA[0],
        "fixmedins_name": "医院", "begndate": TODAY}}), "E-ENV-007")
    assert query(his_factory(SECOND), psn_no)[1:] == []


def test_2601_undoes_a_2505(db, his_factory):
    add_hospitals(db)
    his = his_factory(SECOND)
    psn_no = psn_of(his)
    ok(designate(his, psn_no, EXTRA[0], "2"))
    ok(his.call("2601", {"data": {"psn_no": psn_no, "omsgid": his.last_msgid,
                                  "oinfno": "2505"}}))
    assert [r["fixmedins_code"] for r in query(his, psn_no)] == [SECOND]


# ---------------------------------------------------------------- the holder's app


def test_the_app_chooses_up_to_four_changes_from_a_date_and_cancels(db, http):
    add_hospitals(db)
    app = ChannelApp(http)
    base = f"/channel/v1/certificates/{app.activate()}/designations"
    [demo] = app.post(base + "/list", {"pin": PIN}, key="").json()
    assert (demo["fixmedins_code"], demo["state"], demo["fix_srt_no"]) == (SECOND, "current", 1)
    for code in EXTRA[:3]:
        reply = app.post(base, {"pin": PIN, "fixmedins_code": code})
        assert reply.status_code == 201, reply.text
    fifth = app.post(base, {"pin": PIN, "fixmedins_code": EXTRA[3]})
    assert (fifth.status_code, fifth.json()["code"]) == (409, "E-DES-002")
    assert "most the policy allows is 4" in fifth.json()["detail"]
    twice = app.post(base, {"pin": PIN, "fixmedins_code": EXTRA[0]})
    assert (twice.status_code, twice.json()["code"]) == (409, "E-DES-005")
    past = app.post(base, {"pin": PIN, "fixmedins_code": EXTRA[3], "begin_date": "2026-05-01"})
    assert (past.status_code, past.json()["code"]) == (400, "E-DES-004")
    pharmacy = app.post(base, {"pin": PIN, "fixmedins_code": "P11010500001"})
    assert (pharmacy.status_code, pharmacy.json()["code"]) == (400, "E-DES-003")

    changed = app.post(f"{base}/{demo['trt_dcla_detl_sn']}/change",
                       {"pin": PIN, "fixmedins_code": EXTRA[3], "effective_date": "2026-06-01"})
    assert changed.status_code == 201, changed.text
    listed = {d["fixmedins_code"]: d for d in
              app.post(base + "/list", {"pin": PIN}, key="").json()}
    assert (listed[SECOND]["end_date"], listed[SECOND]["state"]) == ("2026-05-31", "current")
    assert (listed[EXTRA[3]]["begin_date"], listed[EXTRA[3]]["state"],
            listed[EXTRA[3]]["fix_srt_no"]) == ("2026-06-01", "upcoming", 1)
    assert "changed to H11010590004" in listed[SECOND]["ended_reason"]

    gone = app.post(f"{base}/{listed[EXTRA[0]]['trt_dcla_detl_sn']}/cancellation",
                    {"pin": PIN, "reason": "搬家"})
    assert gone.status_code == 200 and gone.json()["status"] == "ended"
    again = app.post(base + "/list", {"pin": PIN}, key="").json()
    assert {d["fixmedins_code"]: d["state"] for d in again}[EXTRA[0]] == "cancelled"
    unknown = app.post(f"{base}/D-NONE/cancellation", {"pin": PIN, "reason": "x"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "E-DES-006")
    assert app.post(base, {"pin": PIN, "fixmedins_code": EXTRA[4]}).status_code == 201


# ---------------------------------------------------------------- settlement at home


def visit_and_settle(his, psn_no: str, certno: str = WANG_FANG, *, med_type: str = "11",
                     insutype: str = "310") -> dict:
    mdtrt_id = register(his, psn_no, certno, insutype)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00")])
    return his.call("2207", settle_payload(psn_no, mdtrt_id, certno, "100.00",
                                           med_type=med_type, insutype=insutype,
                                           account=insutype == "310"))


def test_a_hospital_not_designated_is_refused_at_home_but_not_an_emergency(
        db, http, his_factory):
    second = his_factory(SECOND)
    psn_no = psn_of(second)
    ok(visit_and_settle(second, psn_no))  # designated since 2024
    app = ChannelApp(http)
    base = f"/channel/v1/certificates/{app.activate()}/designations"
    assert app.post(f"{base}/DEMO-D01/cancellation",
                    {"pin": PIN, "reason": "换医院"}).status_code == 200
    message = refused(visit_and_settle(second, psn_no), "E-DES-001")
    assert SECOND in message and "designate it in the app" in message
    ok(visit_and_settle(second, psn_no, med_type="13"))  # an emergency settles anywhere
    ok(visit_and_settle(his_factory("H11010500003"), psn_no))  # community: open to all
    ok(visit_and_settle(his_factory("H11010500001"), psn_no))  # A-class: open to all
    opened = http.put(f"/admin/v1/institutions/{SECOND}/open-to-all", json={"kind": "tcm"},
                      headers=ADMIN)
    assert opened.status_code == 200 and opened.json()["open_kind"] == "tcm"
    ok(visit_and_settle(second, psn_no))  # the same client: its msgids stay unique


def test_the_resident_is_checked_under_their_own_insurance(db, his_factory):
    second = his_factory(SECOND)
    psn_no = psn_of(second, LIU_YANG)
    ok(visit_and_settle(second, psn_no, LIU_YANG, insutype="390"))
    with db.write() as conn:
        conn.execute(designation_table.update().where(
            designation_table.c.psn_no == psn_no).values(insutype="310"))
    refused(visit_and_settle(second, psn_no, LIU_YANG, insutype="390"), "E-DES-001")


def test_a_claim_for_care_at_an_undesignated_hospital_is_refused_unless_emergency(
        db, http, his):
    add_hospitals(db)
    psn_no = psn_of(his)
    plain = bill("INV-D1", ("1", "XA01AAA0001", "100.00"), code=EXTRA[0])
    applied = window_apply(http, psn_no, bill=plain)
    assert (applied["status"], applied["code"]) == (409, "E-DES-001")
    assert EXTRA[0] in applied["detail"]
    urgent = dict(bill("INV-D2", ("1", "XA01AAA0001", "100.00"), code=EXTRA[0]),
                  med_type="13")
    assert window_apply(http, psn_no, bill=urgent)["status"] == 201
    assert window_apply(http, psn_no, bill=bill(
        "INV-D3", ("1", "XA01AAA0001", "100.00"), code=SECOND))["status"] == 201


# ---------------------------------------------------------------- operators


def test_the_open_to_all_kind_is_an_administrators_choice(db, http):
    bad = http.put(f"/admin/v1/institutions/{SECOND}/open-to-all", json={"kind": "b_class"},
                   headers=ADMIN)
    assert (bad.status_code, bad.json()["code"]) == (400, "E-DES-008")
    clerk = http.put(f"/admin/v1/institutions/{SECOND}/open-to-all", json={"kind": ""},
                     headers=CLERK)
    assert clerk.status_code == 403
    unknown = http.put("/admin/v1/institutions/H99999999999/open-to-all",
                       json={"kind": ""}, headers=ADMIN)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "E-ADM-001")


def test_the_console_shows_designations_and_sets_the_open_to_all_kind(db, http, his):
    psn_no = psn_of(his)
    sign_in(http, "admin")
    page = http.get(f"/console/persons/{psn_no}").text
    [row] = table_rows(page, "designation-list")
    assert row[0] == "DEMO-D01" and SECOND in row[2] and row[3] == "2024-01-01"
    assert "当前有效" in row[5]
    english = http.get(f"/console/persons/{psn_no}?lang=en").text
    assert "current" in table_rows(english, "designation-list")[0][5]
    where = f"/console/institutions/{SECOND}"
    assert "仅限选定该机构的人员" in text_of(http.get(where + "?lang=zh").text, "open-kind")
    saved = http.post(f"{where}/open-kind", data={
        "csrf": csrf_of(http.get(where).text), "kind": "specialist"}, follow_redirects=False)
    assert saved.status_code == 303
    assert text_of(http.get(where).text, "open-kind") == "专科"
    assert "specialist" in text_of(http.get(where + "?lang=en").text, "open-kind")
    wrong = http.post(f"{where}/open-kind", data={
        "csrf": csrf_of(http.get(where).text), "kind": "b_class"}, follow_redirects=False)
    assert wrong.status_code == 400 and "E-DES-008" in wrong.text


# ---------------------------------------------------------------- the rules, the race


def test_every_shipped_policy_has_the_designation_table():
    rules = {p.policy_id: p.designation for p in load_policies()}
    assert all(rule is not None and rule.choices_max == 4 for rule in rules.values())
    with pytest.raises(ValueError, match="unknown kinds"):
        parse_policy({"policy": {"id": "x", "region": "1", "insutype": "310",
                                 "valid_from": "2024-01-01"},
                      "designation": {"choices_max": 4, "open_to_all": ["b"], "source": "s"}})


def test_two_concurrent_choices_beyond_the_limit_leave_at_most_four(db, clock, his):
    add_hospitals(db)
    psn_no = psn_of(his)
    policies = load_policies()

    def choose(code: str) -> dict:
        with db.write() as conn:
            call = dataclasses.replace(window_call(conn, clock), policies=policies)
            try:
                return {"serial": designation.choose(call, designation.NewDesignation(
                    psn_no, code)).value}
            except Refused as refusal:
                return {"code": refusal.code}

    for code in EXTRA[:2]:
        assert "serial" in choose(code)
    answers = run_threads(choose, [(EXTRA[2],), (EXTRA[3],)])
    assert sorted(a.get("code", "ok") for a in answers) == ["E-DES-002", "ok"]
    live = [s for s in states(db, psn_no) if s[4] == "active"]
    assert len(live) == 4 and len({s[1] for s in live}) == 4


def test_the_check_needs_no_statement_where_no_designation_is_needed():
    """Decided from the institution and the policy: an open-to-all institution, a
    pharmacy or care away from home never reaches the database (conn is None)."""
    [policy] = [p for p in load_policies() if p.policy_id == "110000-310-2024"]
    site = Institution("H1", "h", "hospital", 3, "110105", "110000", "t", open_kind="a_class")
    person_row = {"psn_no": "P", "insuplc_admdvs": "110000"}
    for where in (site, dataclasses.replace(site, kind="pharmacy", open_kind=""),
                  dataclasses.replace(site, pool_area="130102", open_kind="")):
        designation.check_care(None, policy=policy, person=person_row,  # type: ignore[arg-type]
                               insutype="310", institution=where, med_type="11",
                               emergency=False, day=date(2026, 5, 11))


def test_the_window_chooses_changes_and_cancels_for_the_person(db, http, his):
    add_hospitals(db)
    psn_no = psn_of(his)
    chosen = http.post("/admin/v1/designations", json={
        "psn_no": psn_no, "fixmedins_code": EXTRA[0]}, headers=CLERK)
    assert chosen.status_code == 201, chosen.text
    serial = chosen.json()["trt_dcla_detl_sn"]
    changed = http.post(f"/admin/v1/designations/{serial}/change", json={
        "psn_no": psn_no, "fixmedins_code": EXTRA[1], "effective_date": "2026-05-20"},
        headers=CLERK)
    assert changed.status_code == 201 and changed.json()["replaces"] == serial
    listed = http.get(f"/admin/v1/persons/{psn_no}/designations", headers=CLERK).json()
    assert [(d["fixmedins_code"], d["begin_date"], d["end_date"], d["state"])
            for d in listed] == [(EXTRA[1], "2026-05-20", None, "upcoming"),
                                 (EXTRA[0], TODAY, "2026-05-19", "current"),
                                 (SECOND, "2024-01-01", None, "current")]
    ended = http.post(f"/admin/v1/designations/{changed.json()['trt_dcla_detl_sn']}"
                      "/cancellation", json={"psn_no": psn_no, "reason": "x"}, headers=CLERK)
    assert ended.status_code == 200
    wrong = http.post(f"/admin/v1/designations/{serial}/cancellation",
                      json={"psn_no": "11000000000000000002", "reason": "x"}, headers=CLERK)
    assert (wrong.status_code, wrong.json()["code"]) == (404, "E-DES-006")
