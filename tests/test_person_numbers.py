"""Identity upkeep (人员编号变更, the 2022 notice): a person's number changed, two records
of one person merged; the old number keeps answering at the national interface; the
refusals change nothing. SQLite and PostgreSQL, like every database test."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from calls import window_call
from concurrency import run_threads
from conftest import ADMIN, CLERK
from flows import (
    LI_JIANGUO,
    WANG_FANG,
    ZHAO_LEI,
    line,
    ok,
    person,
    register,
    settle_payload,
    upload,
)
from yibao.domain import person_numbers as rules
from yibao.domain.errors import Refused
from yibao.services import ledger, person_numbers
from yibao.store import person_numbers as store
from yibao.store.schema import account, insurance, metadata, online_order, settlement
from yibao.store.schema import person as person_table

WANG = "11000000000000000001"
DUP = "11000000000000000901"
WANG_15 = "110105850315002"  # 王芳's ID number as issued before 1999 (15 digits)
_MISMATCHED = text(
    "SELECT a.psn_no, a.cum_key, a.cum, COALESCE(SUM(d.delta), 0) AS total "
    "FROM accumulator a LEFT JOIN accumulator_delta d ON d.psn_no = a.psn_no "
    "AND d.insutype = a.insutype AND d.period = a.period AND d.cum_key = a.cum_key "
    "GROUP BY a.psn_no, a.insutype, a.period, a.cum_key, a.cum "
    "HAVING a.cum <> COALESCE(SUM(d.delta), 0)")


def add_duplicate(db, *, psn_no: str = DUP, certno: str = WANG_15, balance: int = 100_000,
                  place: str = "110000") -> None:
    """A second record of 王芳, registered with her old 15-digit ID number."""
    with db.write() as conn:
        conn.execute(person_table.insert().values(
            psn_no=psn_no, psn_cert_type="01", certno=certno, name="王芳", gend="2",
            naty="01", brdy=date(1985, 3, 15), insuplc_admdvs=place))
        conn.execute(insurance.insert().values(
            psn_no=psn_no, insutype="310", psn_type="1101", psn_insu_stas="1",
            psn_insu_date=date(2010, 1, 1), cvlserv_flag="0", emp_name="旧单位"))
        conn.execute(account.insert().values(psn_no=psn_no, balance=balance))


def settle(his, psn_no: str, certno: str, amount: str, sn: str = "1") -> dict:
    mdtrt_id = register(his, psn_no, certno)
    upload(his, mdtrt_id, psn_no, [line(sn, "XA01AAA0001", amount)])
    return ok(his.call("2207", settle_payload(psn_no, mdtrt_id, certno, amount)))["setlinfo"]


def history(his, psn_no: str) -> dict[str, Decimal]:
    rows = ok(his.call("5206", {"data": {"psn_no": psn_no, "cum_ym": "202605"}}))["cuminfo"]
    return {r["cum_type_code"]: Decimal(str(r["cum"])) for r in rows}


def balance(his, certno: str) -> Decimal:
    return Decimal(str(person(his, certno)["insuinfo"][0]["balc"]))


def consistent(db) -> None:
    """Accumulators equal their live deltas; the ledger agrees with the records."""
    with db.read() as conn:
        assert conn.execute(_MISMATCHED).all() == []
        assert ledger.verify(conn) == []


def merge(http, duplicate: str = DUP, survivor: str = WANG, reason: str = "", headers=ADMIN):
    return http.post(f"/admin/v1/persons/{survivor}/merge", headers=headers,
                     json={"duplicate_psn_no": duplicate, "reason": reason})


def test_merged_records_add_exactly(db, http, his):
    add_duplicate(db)
    ours = settle(his, WANG, WANG_FANG, "1000.00")
    theirs = settle(his, DUP, WANG_15, "600.00", sn="2")
    before = [history(his, WANG), history(his, DUP)]
    balances = balance(his, WANG_FANG) + balance(his, WANG_15)
    answer = merge(http)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["kind"], body["old_psn_no"], body["new_psn_no"]) == ("merge", DUP, WANG)
    assert body["moved"]["settlement"] == 1 and body["moved"]["visit"] == 1
    after = history(his, WANG)
    assert after == {k: before[0].get(k, 0) + before[1].get(k, 0)
                     for k in before[0].keys() | before[1].keys()}
    assert balance(his, WANG_FANG) == balances
    consistent(db)
    # 1101 by the duplicate's ID number, 5206 by its number: the surviving person
    assert person(his, WANG_15)["baseinfo"]["psn_no"] == WANG
    assert history(his, DUP) == after
    # the duplicate's settlement is cancelled under its old number, after the merge
    ok(his.call("2208", {"data": {"setl_id": theirs["setl_id"], "mdtrt_id": theirs["mdtrt_id"],
                                  "psn_no": DUP}}))
    assert history(his, WANG)["B.emp_otp"] == after["B.emp_otp"] - Decimal("600.00")
    assert balance(his, WANG_FANG) == balances + Decimal(str(theirs["acct_pay"]))
    assert ours["psn_no"] == WANG
    consistent(db)


def test_old_number_settles_a_visit_in_progress(db, http, his):
    """A visit opened under the duplicate's number is settled after the merge: the HIS
    still sends the old number and the answer names the surviving one."""
    add_duplicate(db)
    mdtrt_id = register(his, DUP, WANG_15)
    upload(his, mdtrt_id, DUP, [line("1", "XA01AAA0001", "300.00")])
    assert merge(http).status_code == 200
    setl = ok(his.call("2207", settle_payload(DUP, mdtrt_id, WANG_15, "300.00")))["setlinfo"]
    assert setl["psn_no"] == WANG
    assert history(his, WANG)["B.emp_otp"] == Decimal("300.00")
    consistent(db)


def test_renumbered_person_keeps_answering(db, http, his):
    setl = settle(his, WANG, WANG_FANG, "500.00")
    answer = http.post(f"/admin/v1/persons/{WANG}/number-change", headers=ADMIN,
                       json={"new_psn_no": "BJ-NEW-0001", "reason": "number reissued"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["moved"]["settlement"] == 1
    assert person(his, WANG_FANG)["baseinfo"]["psn_no"] == "BJ-NEW-0001"
    assert history(his, WANG) == history(his, "BJ-NEW-0001")
    # operators are told the new number; the change is on the surviving person
    old = http.get(f"/admin/v1/persons/{WANG}/number-changes", headers=ADMIN)
    assert old.status_code == 404 and "E-PSN-011" in old.text and "BJ-NEW-0001" in old.text
    changes = http.get("/admin/v1/persons/BJ-NEW-0001/number-changes", headers=ADMIN).json()
    assert [(c["old_psn_no"], c["kind"], c["actor"]) for c in changes] == [
        (WANG, "renumber", "admin")]
    ok(his.call("2208", {"data": {"setl_id": setl["setl_id"], "mdtrt_id": setl["mdtrt_id"],
                                  "psn_no": WANG}}))
    assert balance(his, WANG_FANG) == Decimal("3000.00")
    # the number changes again: the first number follows both changes
    with db.write() as conn:
        person_numbers.renumber(window_call(conn, lambda: datetime(2026, 5, 12), "admin",
                                            "administrator"), "BJ-NEW-0001", "BJ-NEW-0002",
                                "reissued again")
    assert history(his, WANG) == history(his, "BJ-NEW-0002")
    consistent(db)


def refusal(answer, code: str) -> str:
    assert answer.status_code >= 400, answer.text
    assert answer.json()["code"] == code, answer.text
    return str(answer.json()["detail"])


def rows(db) -> dict[str, int]:
    with db.read() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in metadata.sorted_tables}


def test_refusals_change_nothing(db, http, his):
    add_duplicate(db)
    add_duplicate(db, psn_no="13010200000000000901", certno="130102750909001", place="130102")
    hebei = person(his, ZHAO_LEI)["baseinfo"]["psn_no"]
    li = person(his, LI_JIANGUO)["baseinfo"]["psn_no"]
    before = rows(db)
    refusal(merge(http, duplicate="NOBODY"), "E-PSN-001")
    refusal(merge(http, duplicate=WANG), "E-PSN-012")
    refusal(http.post(f"/admin/v1/persons/{WANG}/number-change", headers=ADMIN,
                      json={"new_psn_no": DUP, "reason": "taken"}), "E-PSN-013")
    refusal(http.post(f"/admin/v1/persons/{WANG}/number-change", headers=ADMIN,
                      json={"new_psn_no": "bad number!", "reason": "typo"}), "E-PSN-017")
    assert "130102" in refusal(merge(http, duplicate=hebei), "E-PSN-014")
    refusal(merge(http, duplicate=li), "E-PSN-015")
    denied = merge(http, headers=CLERK)
    assert denied.status_code == 403 and denied.json()["code"] == "E-ADM-003"
    assert rows(db) == before


def test_an_order_holding_money_stops_the_merge(db, http, clock):
    add_duplicate(db)
    with db.write() as conn:
        conn.execute(online_order.insert().values(
            pay_ord_id="ORD1", pay_token_hash="0" * 64, fixmedins_code="H11010500001",
            med_org_ord="M1", request_hash="0" * 64, psn_no=DUP, insutype="310",
            mdtrt_id="MX", chrg_bchno="B1", med_type="11", acct_used=True, status="held",
            created_at=clock.now, expires_at=clock.now + timedelta(minutes=30),
            medfee_sumamt=1000, fund_pay=600, acct_pay=400, cash_pay=0, held_at=clock.now))
    assert DUP in refusal(merge(http), "E-PSN-016")
    with db.write() as conn:
        conn.execute(online_order.update().values(status="expired"))
    assert merge(http).status_code == 200


def test_a_different_id_number_merges_with_a_reason(db, http, his):
    add_duplicate(db, certno="110105198503150035")  # registered with a mistyped number
    assert merge(http, reason="mistyped ID number at registration, documents seen"
                 ).status_code == 200
    assert person(his, "110105198503150035")["baseinfo"]["psn_no"] == WANG


def test_every_table_keyed_by_psn_no_follows():
    """Whatever holds a psn_no is moved or merged, except the logs."""
    keyed = {t.name for t in metadata.sorted_tables
             for name in store.PSN_COLUMNS if name in t.c} - store.KEPT
    assert set(store.keyed_tables()) == keyed


def test_id_numbers_written_alike():
    assert rules.id_number_18(WANG_15) == WANG_FANG
    assert rules.same_id_number("11010219600620003x", LI_JIANGUO)
    assert not rules.same_id_number(WANG_FANG, LI_JIANGUO)
    with pytest.raises(Refused) as caught:
        rules.check_merge(rules.Record("A", WANG_FANG, "110000", 1),
                          rules.Record("B", WANG_15, "110000", 0), reason="")
    assert caught.value.code == "E-PSN-016"


def test_merge_while_a_settlement_runs_counts_once(db, app, his):
    """The duplicate's settlement and the merge at the same moment: the settlement runs
    wholly before the merge (and moves with it) or after it (under the surviving
    number); nothing is counted twice or lost."""
    add_duplicate(db)
    settle(his, WANG, WANG_FANG, "400.00")
    mdtrt_id = register(his, DUP, WANG_15)
    upload(his, mdtrt_id, DUP, [line("2", "XA01AAA0001", "700.00")])
    message = his.envelope("2207", settle_payload(DUP, mdtrt_id, WANG_15, "700.00"))
    body = json.dumps(message).encode()
    headers = his.headers()
    start = balance(his, WANG_FANG) + balance(his, WANG_15)

    def run(kind: str) -> object:
        if kind == "settle":
            return app.state.hospital.handle(headers, body)
        with db.write() as conn:
            call = window_call(conn, lambda: datetime(2026, 5, 11, 9, 30), "admin",
                               "administrator")
            return person_numbers.merge(call, DUP, WANG, "").answer()

    answers = run_threads(run, [("settle",), ("merge",)])
    setl = ok(answers[0])["setlinfo"]  # type: ignore[arg-type]
    assert setl["psn_no"] in (WANG, DUP)
    assert answers[1]["new_psn_no"] == WANG  # type: ignore[index]
    assert history(his, WANG)["B.emp_otp"] == Decimal("1100.00")
    assert balance(his, WANG_FANG) == start - Decimal(str(setl["acct_pay"]))
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(settlement).where(
            settlement.c.psn_no == WANG)).scalar_one() == 2
    consistent(db)


# ---------------------------------------------------------------- the console's person page


def test_console_merges_and_shows_the_history(db, http, his):
    from test_console import csrf_of, sign_in
    from test_console_persons import page_of, table_rows, text_of

    add_duplicate(db)
    settle(his, DUP, WANG_15, "200.00")
    sign_in(http, "admin")
    html = page_of(http, WANG)
    assert 'id="merge"' in html and 'id="renumber"' in html
    refused_page = http.post(f"/console/persons/{WANG}/merge", follow_redirects=False, data={
        "csrf": csrf_of(html), "duplicate_psn_no": "13010200000000000005", "reason": ""})
    assert refused_page.status_code == 409 and "E-PSN-014" in text_of(refused_page.text, "error")
    made = http.post(f"/console/persons/{WANG}/merge", follow_redirects=False, data={
        "csrf": csrf_of(html), "duplicate_psn_no": DUP, "reason": ""})
    assert made.headers["location"] == f"/console/persons/{WANG}?done=merged"
    html = http.get(made.headers["location"]).text
    assert text_of(html, "done") == "重复档案已合并到此人。"
    [row] = table_rows(html, "number-changes")
    assert row[0] == DUP and row[1] == "合并重复档案" and row[3] == "admin"
    assert row[6] == "800.00"  # 1,000.00 less the 200.00 its settlement drew
    english = http.get(f"/console/persons/{WANG}?lang=en").text
    assert table_rows(english, "number-changes")[0][1] == "duplicate merged"
    gone = http.get(f"/console/persons/{DUP}")
    assert gone.status_code == 404 and WANG in gone.text and "E-PSN-011" in gone.text


def test_console_renumbers_and_opens_the_new_number(db, http):
    from test_console import csrf_of, sign_in
    from test_console_persons import page_of

    sign_in(http, "admin")
    html = page_of(http, WANG)
    made = http.post(f"/console/persons/{WANG}/number-change", follow_redirects=False, data={
        "csrf": csrf_of(html), "new_psn_no": "BJ-NEW-0009", "reason": "number reissued"})
    assert made.headers["location"] == "/console/persons/BJ-NEW-0009?done=renumbered"
    assert "王芳" in http.get(made.headers["location"]).text
    sign_in(http, "clerk")
    assert 'id="renumber"' not in page_of(http, "BJ-NEW-0009")


def test_the_command_line_merges_and_lists(db, his):
    from typer.testing import CliRunner

    from yibao.cli import app as cli

    add_duplicate(db)
    runner = CliRunner()
    refused_run = runner.invoke(cli, ["persons", "merge", DUP, DUP, "--db", db.url])
    assert refused_run.exit_code == 1 and "E-PSN-012" in refused_run.output
    merged = runner.invoke(cli, ["persons", "merge", DUP, WANG, "--db", db.url])
    assert merged.exit_code == 0, merged.output
    assert f"merge: {DUP} -> {WANG}" in merged.output and "+1000.00 yuan" in merged.output
    listed = runner.invoke(cli, ["persons", "numbers", WANG, "--db", db.url])
    assert DUP in listed.output and "cli" in listed.output
    assert person(his, WANG_15)["baseinfo"]["psn_no"] == WANG
