"""Fever clinics and population groups over the interface and the operators' routes, on
both databases (docs/fever.md): a visit registered in a department the institution marked
as a fever clinic settles as usual and appears in the fever report (REST and dashboard),
an ordinary one does not; MDTRT_GRP_TYPE 1 at 2207 and at 2401 (settled by 2304,
cancelled by 2305) applies Beijing's rule with the amounts computed here by hand; a
group without a rule settles normally with its flag stored; an unknown code is refused."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from conftest import ADMIN, AUDITOR
from console_tables import table
from flows import (
    LI_JIANGUO,
    WANG_FANG,
    line,
    ok,
    person,
    refused,
    settle_payload,
    upload,
)
from test_console import csrf_of, sign_in
from yibao.store.schema import settlement, visit

HOSPITAL = "H11010500001"  # tier 3
DEPARTMENTS = f"/admin/v1/institutions/{HOSPITAL}/fever-departments"
CONFIRMED = json.dumps({"MDTRT_GRP_TYPE": "1"})


def D(value: object) -> Decimal:
    return Decimal(str(value))


def register(his, psn_no: str, certno: str, *, dept: str = "K01", exp: str = "") -> str:
    data = {"psn_no": psn_no, "insutype": "310", "begntime": "2026-05-11 09:00:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "ipt_otp_no": "OP1",
            "atddr_no": "D001", "dr_name": "医生甲", "dept_code": dept, "dept_name": "发热门诊",
            "caty": "A03", "exp_content": exp}
    return str(ok(his.call("2201", {"data": data}))["data"]["mdtrt_id"])


def visit_row(db, mdtrt_id: str):
    with db.read() as conn:
        return conn.execute(select(visit).where(visit.c.mdtrt_id == mdtrt_id)).mappings().one()


def settlement_row(db, setl_id: str):
    with db.read() as conn:
        return conn.execute(select(settlement).where(settlement.c.setl_id == setl_id)
                            ).mappings().one()


def outpatient(his, certno: str, lines: list[dict], medfee: str, *, dept: str = "K01",
               exp_2201: str = "", exp_2207: str = "") -> dict:
    psn_no = person(his, certno)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, certno, dept=dept, exp=exp_2201)
    upload(his, mdtrt_id, psn_no, lines)
    payload = settle_payload(psn_no, mdtrt_id, certno, medfee)
    payload["data"]["exp_content"] = exp_2207
    return ok(his.call("2207", payload))


def test_a_fever_clinic_visit_is_reported_apart_and_an_ordinary_one_is_not(
        http, his_factory, clock, db):
    clock.now = datetime(2026, 5, 11, 9, 30)
    marked = http.put(f"{DEPARTMENTS}/FR01", headers=ADMIN)
    assert marked.status_code == 200, marked.text
    assert marked.json() == {"fixmedins_code": HOSPITAL, "dept_code": "FR01",
                             "fever_clinic": True, "changed": True}
    assert http.put(f"{DEPARTMENTS}/FR01", headers=ADMIN).json()["changed"] is False
    assert http.put(f"{DEPARTMENTS}/FR01", headers=AUDITOR).status_code == 403
    assert [d["dept_code"] for d in http.get(DEPARTMENTS, headers=AUDITOR).json()] == ["FR01"]

    his = his_factory(HOSPITAL)
    # 王芳 at the fever clinic: 100.00 in scope, all within her 1 800.00 deductible
    fever = outpatient(his, WANG_FANG, [line("1", "XA01AAA0001", "100.00")], "100.00",
                       dept="FR01")["setlinfo"]
    assert (D(fever["fund_pay_sumamt"]), D(fever["psn_part_amt"])) == (0, D(100))
    # 李建国 at an ordinary department the same day: 2 000.00 in scope
    ordinary = outpatient(his, LI_JIANGUO, [line("1", "XA01AAA0001", "2000.00")],
                          "2000.00")["setlinfo"]
    assert visit_row(db, fever["mdtrt_id"])["fever"] is True
    assert settlement_row(db, fever["setl_id"])["fever"] is True
    assert settlement_row(db, ordinary["setl_id"])["fever"] is False

    clock.now += timedelta(days=1)  # 12 May: the fever settlement is cancelled
    ok(his.call("2208", {"data": {"setl_id": fever["setl_id"], "mdtrt_id": fever["mdtrt_id"],
                                  "psn_no": fever["psn_no"]}}))
    report = http.get("/admin/v1/reports/fever?from=2026-05-11&to=2026-05-12",
                      headers=AUDITOR)
    assert report.status_code == 200, report.text
    assert report.json() == [
        {"day": "2026-05-11", "fixmedins_code": HOSPITAL, "settlements": 1,
         "cancellations": 0, "medfee": "100.00", "fund": "0.00", "person": "100.00"},
        {"day": "2026-05-12", "fixmedins_code": HOSPITAL, "settlements": 0,
         "cancellations": 1, "medfee": "-100.00", "fund": "0.00", "person": "-100.00"},
    ]
    other = http.get("/admin/v1/reports/fever?from=2026-05-11&to=2026-05-12"
                     "&code=H11010500002", headers=AUDITOR)
    assert other.json() == []

    sign_in(http, "auditor")
    page = http.get("/console/dashboard?from=2026-05-11&to=2026-05-12")
    assert page.status_code == 200
    header, *rows = table(page.text, "table-fever")
    assert header[0] == "日期" and len(header) == 7
    assert rows == [["2026-05-11", HOSPITAL, "1", "0", "100.00", "0.00", "100.00"],
                    ["2026-05-12", HOSPITAL, "0", "1", "-100.00", "0.00", "-100.00"]]
    english = http.get("/console/dashboard?from=2026-05-11&to=2026-05-12&lang=en").text
    assert "Fever-clinic settlements per institution and day" in english
    assert "Person&#39;s part, net (yuan)" in english or "Person's part, net (yuan)" in english

    unmarked = http.delete(f"{DEPARTMENTS}/FR01", headers=ADMIN)
    assert unmarked.json()["changed"] is True
    later = outpatient(his, WANG_FANG, [line("1", "XA01AAA0001", "10.00")], "10.00",
                       dept="FR01")["setlinfo"]
    assert settlement_row(db, later["setl_id"])["fever"] is False  # no longer marked


def test_group_1_at_2207_waives_the_deductible_and_public_finance_pays_the_rest(
        his_factory, clock, db):
    """王芳 (working, tier 3): 1 000.00 class 甲 and 20.00 class 丙. Her deductible
    (1 800.00) is waived: 1 000.00 × 70 % = 700.00 by the large-amount aid fund
    (330100, hifob_pay); public finance (999997, oth_pay) pays the other 320.00."""
    clock.now = datetime(2026, 5, 11, 9, 30)
    his = his_factory(HOSPITAL)
    lines = [line("1", "XA01AAA0001", "1000.00"), line("2", "XC03CCC0003", "20.00")]
    answer = outpatient(his, WANG_FANG, lines, "1020.00", exp_2207=CONFIRMED)
    s = answer["setlinfo"]
    assert {k: D(s[k]) for k in ("medfee_sumamt", "act_pay_dedc", "hifob_pay", "oth_pay",
                                 "fund_pay_sumamt", "psn_part_amt", "acct_pay",
                                 "psn_cash_pay")} == {
        "medfee_sumamt": D("1020"), "act_pay_dedc": 0, "hifob_pay": D("700"),
        "oth_pay": D("320"), "fund_pay_sumamt": D("1020"), "psn_part_amt": 0,
        "acct_pay": 0, "psn_cash_pay": 0}
    assert [(f["fund_pay_type"], D(f["fund_payamt"])) for f in answer["setldetail"]] == [
        ("330100", D("700")), ("999997", D("320"))]
    assert D(s["balc"]) == D("3000")  # the account is untouched
    assert settlement_row(db, s["setl_id"])["mdtrt_grp_type"] == "1"
    assert visit_row(db, s["mdtrt_id"])["mdtrt_grp_type"] == "1"  # 2207 stated it

    # her next, ordinary visit still meets the whole deductible: none was used
    plain = outpatient(his, WANG_FANG, [line("1", "XA01AAA0001", "100.00")],
                       "100.00")["setlinfo"]
    assert (D(plain["act_pay_dedc"]), D(plain["fund_pay_sumamt"])) == (D(100), 0)


def admit(his, psn_no: str, certno: str, exp: str) -> str:
    payload = {"mdtrtinfo": {
        "psn_no": psn_no, "insutype": "310", "begntime": "2026-05-01 08:00:00",
        "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "med_type": "21",
        "ipt_no": "ZY0001", "atddr_no": "D002", "chfpdr_name": "主任",
        "adm_diag_dscr": "新型冠状病毒肺炎", "adm_dept_codg": "K02", "adm_dept_name": "感染科",
        "adm_bed": "12", "dscg_maindiag_code": "U07.1", "dscg_maindiag_name": "新冠肺炎",
        "exp_content": exp},
        "diseinfo": []}
    return str(ok(his.call("2401", payload))["result"]["mdtrt_id"])


def test_group_1_at_2401_settles_by_2304_and_2305_restores_everything(his_factory, clock, db):
    """李建国 (retired, under 70) admitted at tier 3 as confirmed: 2 000.00 class 甲 and
    20.00 class 丙. No deductible; the band ratio 85 % with the retirees' factor 0.6 is
    1 − 0.6 × 15 % = 91 %: 2 000.00 × 91 % = 1 820.00 by the pooled fund; public finance
    pays the other 200.00."""
    clock.now = datetime(2026, 5, 11, 9, 30)
    his = his_factory(HOSPITAL)
    psn_no = person(his, LI_JIANGUO)["baseinfo"]["psn_no"]
    mdtrt_id = admit(his, psn_no, LI_JIANGUO, CONFIRMED)
    assert visit_row(db, mdtrt_id)["mdtrt_grp_type"] == "1"
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "2000.00"),
                                   line("2", "XC03CCC0003", "20.00")], infno="2301")
    payload = settle_payload(psn_no, mdtrt_id, LI_JIANGUO, "2020.00", med_type="21")
    s = ok(his.call("2304", payload))["setlinfo"]
    assert (D(s["act_pay_dedc"]), D(s["hifp_pay"]), D(s["oth_pay"])) == (0, D(1820), D(200))
    assert (D(s["psn_part_amt"]), D(s["acct_pay"]), D(s["psn_cash_pay"])) == (0, 0, 0)
    assert settlement_row(db, s["setl_id"])["mdtrt_grp_type"] == "1"

    cancelled = ok(his.call("2305", {"data": {"mdtrt_id": mdtrt_id, "setl_id": s["setl_id"],
                                              "psn_no": psn_no}}))["setlinfo"]
    assert (D(cancelled["hifp_pay"]), D(cancelled["oth_pay"])) == (D(-1820), D(-200))
    cum = ok(his.call("5206", {"data": {"psn_no": psn_no, "cum_ym": "202605"}}))["cuminfo"]
    assert all(D(c["cum"]) == 0 for c in cum)


def test_a_group_without_a_rule_settles_normally_and_its_flag_is_stored(
        his_factory, clock, db):
    """Group 2 (other public-health emergencies) has no rule in Beijing's file: 王芳's
    100.00 falls within her deductible as for anyone."""
    clock.now = datetime(2026, 5, 11, 9, 30)
    his = his_factory(HOSPITAL)
    s = outpatient(his, WANG_FANG, [line("1", "XA01AAA0001", "100.00")], "100.00",
                   exp_2201=json.dumps({"MDTRT_GRP_TYPE": "2"}))["setlinfo"]
    assert (D(s["act_pay_dedc"]), D(s["fund_pay_sumamt"]), D(s["oth_pay"])) == (D(100), 0, 0)
    assert visit_row(db, s["mdtrt_id"])["mdtrt_grp_type"] == "2"
    assert settlement_row(db, s["setl_id"])["mdtrt_grp_type"] == "2"


def test_an_unknown_group_is_refused_and_changes_nothing(his_factory, clock, db):
    clock.now = datetime(2026, 5, 11, 9, 30)
    his = his_factory(HOSPITAL)
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    data = {"psn_no": psn_no, "insutype": "310", "begntime": "2026-05-11 09:00:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": WANG_FANG, "ipt_otp_no": "OP1",
            "exp_content": {"MDTRT_GRP_TYPE": "0"}}
    message = refused(his.call("2201", {"data": data}), "E-VIS-005")
    assert "MDTRT_GRP_TYPE=0" in message
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00")])
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "100.00")
    payload["data"]["exp_content"] = json.dumps({"MDTRT_GRP_TYPE": "7"})
    refused(his.call("2207", payload), "E-VIS-005")
    with db.read() as conn:
        assert conn.execute(select(settlement.c.setl_id)).first() is None
    assert visit_row(db, mdtrt_id)["mdtrt_grp_type"] == ""


def test_the_institution_page_marks_and_unmarks_a_fever_department(http, db):
    page = f"/console/institutions/{HOSPITAL}"
    sign_in(http, "admin")
    html = http.get(page).text
    assert "尚无科室标记为发热门诊。" in html
    answer = http.post(f"{page}/fever", data={"csrf": csrf_of(html), "dept_code": "FR01"},
                       follow_redirects=False)
    assert answer.status_code == 303 and "done=fever-marked" in answer.headers["location"]
    rows = table(http.get(page).text, "fever-departments")
    assert rows[1][:2] == ["FR01", "admin"]
    english = http.get(f"{page}?lang=en").text
    assert "Mark as a fever clinic" in english and "Unmark" in english
    bad = http.post(f"{page}/fever", data={"csrf": csrf_of(html), "dept_code": ""})
    assert bad.status_code == 400 and "E-ADM-011" in bad.text
    gone = http.post(f"{page}/fever/unmark", data={"csrf": csrf_of(html), "dept_code": "FR01"},
                     follow_redirects=False)
    assert "done=fever-unmarked" in gone.headers["location"]
    assert "尚无科室标记为发热门诊。" in http.get(f"{page}?lang=zh").text


def test_the_flags_add_no_statement_to_2207(http, his_factory, clock, db):
    """2207 of a visit with a group or at a fever clinic runs as many SQL statements as
    an ordinary one (the flags come with the visit row and go in the settlement's own
    INSERT); only a 2207 stating a group other than the visit's adds one UPDATE."""
    from sqlalchemy import event

    clock.now = datetime(2026, 5, 11, 9, 30)
    assert http.put(f"{DEPARTMENTS}/FR01", headers=ADMIN).status_code == 200
    his = his_factory(HOSPITAL)
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]

    def statements_of_2207(dept: str = "K01", exp_2201: str = "", exp_2207: str = "",
                           amount: str = "10.00") -> int:
        mdtrt_id = register(his, psn_no, WANG_FANG, dept=dept, exp=exp_2201)
        upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", amount)])
        # no account: an account that moves is a statement of its own, a group's too
        payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, amount, account=False)
        payload["data"]["exp_content"] = exp_2207
        seen: list[str] = []

        def count(conn, cursor, statement, *args) -> None:
            seen.append(statement)
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            ok(his.call("2207", payload))
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    statements_of_2207(amount="2000.00")  # the deductible used: the fund pays from now on
    ordinary = statements_of_2207()
    assert statements_of_2207() == ordinary  # the measure is stable
    assert statements_of_2207(dept="FR01") == ordinary
    assert statements_of_2207(exp_2201=CONFIRMED) == ordinary
    assert statements_of_2207(exp_2201=CONFIRMED, exp_2207=CONFIRMED) == ordinary
    assert statements_of_2207(exp_2207=CONFIRMED) == ordinary + 1


def test_a_group_and_an_ordinary_settlement_of_one_person_at_once(app, his_factory, clock):
    """王芳's confirmed visit (no deductible) and an ordinary one (1 000.00, all within
    her deductible) settled at the same moment at two hospitals: whatever the order, the
    deductible used is the ordinary visit's alone, and each fund's year total (public
    finance's included) is the sum of what the two settlements paid."""
    from concurrency import run_threads
    from test_concurrency import prepared_settlement

    clock.now = datetime(2026, 5, 11, 9, 30)
    first, second = his_factory(HOSPITAL), his_factory("H11010500002")
    headers, body = prepared_settlement(first, WANG_FANG, "1000.00")
    message = json.loads(body)
    message["input"]["data"]["exp_content"] = CONFIRMED
    requests = [(headers, json.dumps(message).encode()),
                prepared_settlement(second, WANG_FANG, "1000.00")]
    confirmed, ordinary = (ok(a)["setlinfo"] for a in run_threads(app.state.hospital.handle,
                                                                  requests))
    assert (D(confirmed["act_pay_dedc"]), D(confirmed["hifob_pay"]),
            D(confirmed["oth_pay"])) == (0, D(700), D(300))
    assert (D(ordinary["act_pay_dedc"]), D(ordinary["fund_pay_sumamt"])) == (D(1000), 0)
    history = {c["cum_type_code"]: D(c["cum"]) for c in ok(first.call("5206", {"data": {
        "psn_no": confirmed["psn_no"], "cum_ym": "202605"}}))["cuminfo"]}
    assert history["D.emp_otp"] == D(1000)
    assert (history["F.330100"], history["F.999997"]) == (D(700), D(300))


def test_two_operators_marking_one_department_at_once_mark_it_once(db, clock):
    from calls import window_call
    from concurrency import race
    from yibao.services import fever

    def mark(name: str):
        def act() -> bool:
            with db.write() as conn:
                return fever.mark(window_call(conn, clock, name, role="administrator"),
                                  HOSPITAL, "FR01")
        return act

    assert sorted(race(mark("admin"), mark("admin2"))) == [False, True]
    with db.read() as conn:
        assert [d.dept_code for d in fever.departments(conn, HOSPITAL)] == ["FR01"]


def test_2403_sets_the_group_and_moves_the_stay_into_a_fever_department(
        http, his_factory, clock, db):
    """An admission changed by 2403 to suspected (3) in a department marked as a fever
    clinic: the stay carries both flags and settles by group 3's rule (Beijing: as 1)."""
    from test_his_transactions import adminfo

    clock.now = datetime(2026, 5, 11, 9, 30)
    assert http.put(f"{DEPARTMENTS}/FR02", headers=ADMIN).status_code == 200
    his = his_factory(HOSPITAL)
    psn_no = person(his, LI_JIANGUO)["baseinfo"]["psn_no"]
    mdtrt_id = admit(his, psn_no, LI_JIANGUO, "")
    assert (visit_row(db, mdtrt_id)["mdtrt_grp_type"], visit_row(db, mdtrt_id)["fever"]) == (
        "", False)
    ok(his.call("2403", {"adminfo": adminfo(
        mdtrt_id, psn_no, adm_dept_codg="FR02", exp_content={"MDTRT_GRP_TYPE": "3"}),
        "diseinfo": []}))
    row = visit_row(db, mdtrt_id)
    assert (row["mdtrt_grp_type"], row["fever"]) == ("3", True)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "2000.00")], infno="2301")
    s = ok(his.call("2304", settle_payload(psn_no, mdtrt_id, LI_JIANGUO, "2000.00",
                                           med_type="21")))["setlinfo"]
    assert (D(s["act_pay_dedc"]), D(s["hifp_pay"]), D(s["oth_pay"])) == (0, D(1820), D(180))
    stored = settlement_row(db, s["setl_id"])
    assert (stored["mdtrt_grp_type"], stored["fever"]) == ("3", True)
