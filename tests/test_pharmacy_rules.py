"""Pharmacy purchases beyond the plain case: a family member's account (共济), a
special-disease purchase at the pharmacy filed for it, the pharmacy's own catalogue
matchings, long prescriptions and early refills, a buyer insured elsewhere, and the
pharmacy in reconciliation (3201/3202) and the monthly clearing."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from apps import ChannelApp
from concurrency import run_threads
from conftest import ADMIN, CLERK
from flows import (
    LI_JIANGUO,
    LIU_YANG,
    SIGNED,
    WANG_FANG,
    ZHAO_LEI,
    fen,
    line,
    ok,
    person,
    refused,
    register,
    settle_payload,
    upload,
)
from test_pharmacy import DRUG_B, PHARMACY, balance, drug, identities, purchase
from test_reconciliation import download, zip_of
from yibao.cli import app as cli
from yibao.store.schema import account, clearing_institution, settlement


def bind(http, holder: ChannelApp, cert_id: str, relative: dict[str, str], pin: str) -> str:
    """``holder``'s certificate binds ``relative`` (name, certno, relation), who accepts
    from their own certificate; the relative's cert_id."""
    made = holder.post(f"/channel/v1/certificates/{cert_id}/family", relative)
    assert made.status_code == 201, made.text
    app = ChannelApp(http, "CH-WECHAT")
    own = app.activate(pin=pin, name=relative["name"], certno=relative["certno"])
    accepted = app.post(f"/channel/v1/certificates/{own}/family-requests/"
                        f"{made.json()['binding_id']}/acceptance",
                        {"pin": pin, "real_person": app.attestation()})
    assert accepted.status_code == 200, accepted.text
    return own


SPOUSE = {"name": "刘洋", "certno": LIU_YANG, "relation": "spouse"}


def resident_purchase(psn_no: str, lines: list[dict], **extra) -> dict:
    payload = purchase(psn_no, LIU_YANG, lines, **extra)
    payload["druginfo"].update(insutype="390", psn_type="1501")
    return payload


def test_a_family_members_account_pays_and_shows_it(db, http, his_factory):
    shop = his_factory(PHARMACY)
    wife = person(shop, WANG_FANG)["baseinfo"]["psn_no"]
    husband = person(shop, LIU_YANG)["baseinfo"]["psn_no"]  # a resident: no account
    refused(shop.call("2102", resident_purchase(husband, [drug("1", DRUG_B, "80.00")],
                                                account="2")), "E-PHA-005")  # not bound yet
    app = ChannelApp(http)
    wife_cert = app.activate()
    bind(http, app, wife_cert, SPOUSE, "246810")
    before = balance(db, wife)
    s = ok(shop.call("2102", resident_purchase(husband, [drug("1", DRUG_B, "80.00")],
                                               account="2")))["setlinfo"]
    identities(s)
    assert fen(s["acct_pay"]) == fen(s["acct_mulaid_pay"]) == 8000
    assert fen(s["psn_cash_pay"]) == 0 and fen(s["balc"]) == 0  # his own account: none
    assert balance(db, wife) == before - 8000
    history = app.post(f"/channel/v1/certificates/{wife_cert}/account",
                       {"pin": "135790"}).json()
    moved = history["movements"][0]
    assert (moved["setl_id"], moved["amount"], moved["for_family_member"]) == (
        s["setl_id"], "-80.00", True)
    # cancelled: the wife's account is restored exactly, and her history shows it
    ok(shop.call("2103", {"data": {"setl_id": s["setl_id"], "mdtrt_id": s["mdtrt_id"],
                                   "psn_no": husband}}))
    assert balance(db, wife) == before
    history = app.post(f"/channel/v1/certificates/{wife_cert}/account",
                       {"pin": "135790"}).json()
    assert [m["amount"] for m in history["movements"]] == ["80.00", "-80.00"]


def test_mutual_aid_refusals(db, http, his_factory):
    shop = his_factory(PHARMACY)
    wife = person(shop, WANG_FANG)["baseinfo"]["psn_no"]
    husband = person(shop, LIU_YANG)["baseinfo"]["psn_no"]
    father = person(shop, LI_JIANGUO)["baseinfo"]["psn_no"]
    app = ChannelApp(http)
    wife_cert = app.activate()
    bind(http, app, wife_cert, SPOUSE, "246810")
    # a named payer who is not bound
    refused(shop.call("2102", resident_purchase(husband, [drug("1", DRUG_B, "10.00")],
                                                account="2",
                                                exp_content={"mulaid_psn_no": father})),
            "E-PHA-005")
    # the bound family member's account is empty
    with db.write() as conn:

        conn.execute(account.update().where(account.c.psn_no == wife).values(balance=0))
    refused(shop.call("2102", resident_purchase(husband, [drug("1", DRUG_B, "10.00")],
                                                account="2")), "E-PHA-006")
    # an insured place whose policy has no mutual aid (Hebei)
    zhao = person(shop, ZHAO_LEI)["baseinfo"]["psn_no"]
    payload = purchase(zhao, ZHAO_LEI, [drug("1", DRUG_B, "10.00")], account="2",
                       exp_content={"mulaid_psn_no": wife})
    reply = http.put(f"/admin/v1/institutions/{PHARMACY}/networked", json={"enabled": True},
                     headers=ADMIN)
    assert reply.status_code == 200
    http.post("/admin/v1/filings", json={"psn_no": zhao, "filing_type": "temporary", **SIGNED,
                                         "area": "110000", "end_date": "2026-06-30"},
              headers=CLERK)
    refused(shop.call("2102", payload), "E-PHA-004")


def special(psn_no: str, institution: str) -> dict:
    return {"data": {
        "psn_no": psn_no, "insutype": "310", "opsp_dise_code": "I10.x00",
        "opsp_dise_name": "高血压", "insu_optins": "110000", "ide_fixmedins_no": institution,
        "ide_fixmedins_name": "示范", "hosp_ide_date": "2026-05-01", "diag_dr_codg": "D1",
        "diag_dr_name": "医生", "begndate": "2026-05-11", "enddate": ""}}


def test_special_disease_purchase_at_the_filed_pharmacy(his, his_factory):
    shop = his_factory(PHARMACY)
    psn_no = person(shop, WANG_FANG)["baseinfo"]["psn_no"]
    big = [drug("1", "XA01AAA0001", "2000.00", days="84")]
    refused(shop.call("2102", purchase(psn_no, WANG_FANG, big, med_type="14")), "E-PHA-003")
    refused(shop.call("2102", purchase(psn_no, WANG_FANG, big, med_type="14",
                                       disease="I10.x00")), "E-PHA-003")  # not filed
    ok(his.call("2503", special(psn_no, "H11010500002")))  # filed with a hospital only
    message = refused(shop.call("2102", purchase(psn_no, WANG_FANG, big, med_type="14",
                                                 disease="I10.x00")), "E-PHA-003")
    assert "H11010500002" in message
    ok(his.call("2503", special(psn_no, PHARMACY)))
    s = ok(shop.call("2102", purchase(psn_no, WANG_FANG, big, med_type="14",
                                      disease="I10.x00")))["setlinfo"]
    identities(s)
    # the outpatient special-disease scheme: deductible 1800, then 70 % (working)
    assert fen(s["act_pay_dedc"]) == 180000 and fen(s["fund_pay_sumamt"]) == 14000
    assert s["med_type"] == "14" and s["clr_type"] == "41"


def test_long_supply_limits(his, his_factory):
    shop = his_factory(PHARMACY)
    psn_no = person(shop, WANG_FANG)["baseinfo"]["psn_no"]
    message = refused(shop.call("2102", purchase(psn_no, WANG_FANG, [
        drug("1", DRUG_B, "5.00", "31", days="31")])), "E-PHA-010")
    assert "at most 30" in message
    # one drug on two lines: their days together
    refused(shop.call("2102", purchase(psn_no, WANG_FANG, [
        drug("1", DRUG_B, "5.00", "20", days="20"), drug("2", DRUG_B, "5.00", "20",
                                                         days="20")])), "E-PHA-010")
    ok(his.call("2503", special(psn_no, PHARMACY)))
    chronic = purchase(psn_no, WANG_FANG, [drug("1", DRUG_B, "5.00", "85", days="85")],
                       med_type="14", disease="I10.x00")
    assert "at most 84" in refused(shop.call("2102", chronic), "E-PHA-010")
    acute = purchase(psn_no, WANG_FANG, [drug("1", "XC03CCC0003", "5.00", "8", days="8")],
                     med_type="14", disease="I10.x00")
    assert "at most 7" in refused(shop.call("2102", acute), "E-PHA-010")  # the item's own
    ok(shop.call("2102", purchase(psn_no, WANG_FANG, [drug("1", DRUG_B, "5.00", "84",
                                                           days="84")],
                                  med_type="14", disease="I10.x00")))


def test_early_refill_is_refused_until_a_third_is_left(his_factory, clock):
    shop = his_factory(PHARMACY)
    psn_no = person(shop, WANG_FANG)["baseinfo"]["psn_no"]
    month = [drug("1", DRUG_B, "5.00", "30", days="30")]
    first = ok(shop.call("2102", purchase(psn_no, WANG_FANG, month)))["setlinfo"]
    clock.now += timedelta(days=10)
    message = refused(shop.call("2102", purchase(psn_no, WANG_FANG, month)), "E-PHA-011")
    assert first["setl_id"] in message and "20.0 days left" in message
    ok(shop.call("2102", purchase(psn_no, WANG_FANG, [drug("1", "XA01AAA0001", "5.00",
                                                           days="30")])))  # another drug
    clock.now += timedelta(days=11)  # 9 days of 30 left: less than a third
    second = ok(shop.call("2102", purchase(psn_no, WANG_FANG, month)))["setlinfo"]
    # a cancelled purchase supplies nothing: buying again at once is no early refill
    ok(shop.call("2103", {"data": {"setl_id": second["setl_id"],
                                   "mdtrt_id": second["mdtrt_id"], "psn_no": psn_no}}))
    ok(shop.call("2102", purchase(psn_no, WANG_FANG, month)))


def test_the_pharmacys_own_matching_names_the_item(his_factory):
    shop = his_factory(PHARMACY)
    psn_no = person(shop, WANG_FANG)["baseinfo"]["psn_no"]
    ok(shop.call("3301", {"data": [{
        "fixmedins_hilist_id": "OWN-7", "fixmedins_hilist_name": "本店降压片",
        "list_type": "101", "med_list_codg": DRUG_B, "begndate": "2026-01-01",
        "enddate": "2099-12-31", "aprvno": "", "dosform": "片剂", "spec": "10mg*30"}]}))
    unnamed = drug("1", "", "20.00", own="OWN-7")
    bought = ok(shop.call("2102", purchase(psn_no, WANG_FANG, [unnamed])))
    assert fen(bought["detlcutinfo"][0]["preselfpay_amt"]) == 200  # classified as 乙类
    other = drug("1", "XA01AAA0001", "20.00", own="OWN-7")
    message = refused(shop.call("2102", purchase(psn_no, WANG_FANG, [other])), "E-PHA-002")
    assert DRUG_B in message


def test_a_buyer_insured_elsewhere_at_a_networked_pharmacy(db, http, his_factory):
    shop = his_factory(PHARMACY)
    zhao = person(shop, ZHAO_LEI)["baseinfo"]["psn_no"]
    lines = [drug("1", DRUG_B, "60.00")]
    refused(shop.call("2102", purchase(zhao, ZHAO_LEI, lines)), "E-FIL-001")
    reply = http.put(f"/admin/v1/institutions/{PHARMACY}/networked", json={"enabled": True},
                     headers=ADMIN)
    assert reply.status_code == 200
    refused(shop.call("2102", purchase(zhao, ZHAO_LEI, lines)), "E-FIL-002")  # not filed
    filed = http.post("/admin/v1/filings", json={
        "psn_no": zhao, "filing_type": "temporary", **SIGNED, "area": "110000",
        "end_date": "2026-06-30"}, headers=CLERK)
    assert filed.status_code == 201, filed.text
    s = ok(shop.call("2102", purchase(zhao, ZHAO_LEI, lines)))["setlinfo"]
    identities(s)
    assert s["clr_optins"] == "130102"  # cleared with the insured place
    with db.read() as conn:
        row = conn.execute(select(settlement).where(
            settlement.c.setl_id == s["setl_id"])).mappings().one()
    assert (row["insuplc_admdvs"], row["mdtrtarea_admvs"], row["away_basis"]) == (
        "130102", "110000", "temporary")


def test_the_pharmacy_in_reconciliation_and_clearing(db, his_factory, tmp_path: Path, clock):
    shop = his_factory(PHARMACY)
    psn_no = person(shop, WANG_FANG)["baseinfo"]["psn_no"]
    a = ok(shop.call("2102", purchase(psn_no, WANG_FANG, [drug("1", DRUG_B, "30.00")])))[
        "setlinfo"]
    b = ok(shop.call("2102", purchase(psn_no, WANG_FANG, [drug("1", "XA01AAA0001",
                                                               "45.50")])))["setlinfo"]
    day = {"stmt_begndate": "2026-05-11", "stmt_enddate": "2026-05-11", "clr_type": "41"}
    stmt = ok(shop.call("3201", {"data": {
        **day, "insutype": "310", "setl_optins": "110000", "medfee_sumamt": "75.50",
        "fund_pay_sumamt": "0.00", "acct_pay": "75.50", "fixmedins_setl_cnt": "2",
        "fixmedins_refd_setl_flag": "1"}}))["stmtinfo"]
    assert stmt["stmt_rslt"] == "0", stmt["stmt_rslt_dscr"]
    rows = [[s["setl_id"], s["mdtrt_id"], s["psn_no"], f"{Decimal(str(s['medfee_sumamt'])):.2f}",
             "0.00", f"{Decimal(str(s['acct_pay'])):.2f}", "0"] for s in (a,)]
    up = ok(shop.call("9101", {"fsUploadIn": {"in": base64.b64encode(zip_of(rows)).decode(),
                                              "filename": "detail.zip",
                                              "fixmedins_code": PHARMACY}}))
    answer = ok(shop.call("3202", {"data": {
        **day, "setl_optins": "110000", "file_qury_no": up["file_qury_no"],
        "medfee_sumamt": "0", "fund_pay_sumamt": "0", "cash_payamt": "0",
        "fixmedins_setl_cnt": "1", "fixmedins_refd_setl_flag": "1"}}))["fileinfo"]
    found = download(shop, answer["file_qury_no"], answer["filename"])
    assert [r[2] for r in found] == [b["setl_id"]]  # the one the pharmacy left out
    assert found[0][6].startswith("中心有记录")
    clock.now = datetime(2026, 6, 2, 9, 0)
    run = CliRunner().invoke(cli, ["clearing", "run", "--month", "2026-05", "--out",
                                   str(tmp_path), "--db", db.url])
    assert run.exit_code == 0, run.output
    with db.read() as conn:
        owed = conn.execute(select(clearing_institution.c.acct).where(
            clearing_institution.c.month == "2026-05",
            clearing_institution.c.fixmedins_code == PHARMACY)).scalar_one()
    assert owed == 7550
    statement = (tmp_path / f"statement-2026-05-{PHARMACY}.csv").read_text(encoding="utf-8")
    assert "75.50" in statement


def test_mutual_aid_at_a_hospital_too(db, http, his):
    """acct_used_flag 2 is a value of the standard's code table, not only a pharmacy's:
    a hospital's 2207 pays the cash part from the bound family member's account too."""
    wife = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    husband = person(his, LIU_YANG)["baseinfo"]["psn_no"]
    app = ChannelApp(http)
    bind(http, app, app.activate(), SPOUSE, "246810")
    mdtrt_id = register(his, husband, LIU_YANG, insutype="390")
    upload(his, mdtrt_id, husband, [line("1", "XA01AAA0001", "300.00")])
    before = balance(db, wife)
    payload = settle_payload(husband, mdtrt_id, LIU_YANG, "300.00", insutype="390")
    payload["data"]["acct_used_flag"] = "2"
    s = ok(his.call("2207", payload))["setlinfo"]
    identities(s)
    assert fen(s["psn_cash_pay"]) == 0 and fen(s["acct_mulaid_pay"]) == fen(s["acct_pay"]) > 0
    assert balance(db, wife) == before - fen(s["acct_mulaid_pay"])
    ok(his.call("2208", {"data": {"setl_id": s["setl_id"], "mdtrt_id": mdtrt_id,
                                  "psn_no": husband}}))
    assert balance(db, wife) == before


def test_two_relatives_paying_for_each_other_at_once(db, app, http, his_factory):
    """Each buys with acct_used_flag 2 at the same moment, the other's account paying
    what their own leaves: both persons are locked in one order, so neither waits for
    the other forever; the first empties its buyer's account and takes the rest from
    the other's, the second then finds its payer's account empty (E-PHA-006); no
    balance goes below zero."""
    shop = his_factory(PHARMACY)
    daughter = person(shop, WANG_FANG)["baseinfo"]["psn_no"]  # 3000.00
    father = person(shop, LI_JIANGUO)["baseinfo"]["psn_no"]  # 5000.00
    holder = ChannelApp(http)
    bind(http, holder, holder.activate(),
         {"name": "李建国", "certno": LI_JIANGUO, "relation": "parent"}, "246810")
    start = balance(db, daughter) + balance(db, father)
    mine = purchase(daughter, WANG_FANG, [drug("1", DRUG_B, "400.00", "10")], account="2")
    his_own = purchase(father, LI_JIANGUO, [drug("1", DRUG_B, "600.00", "10")], account="2")
    his_own["druginfo"]["psn_type"] = "1201"
    requests = [(shop.headers(), json.dumps(shop.envelope("2102", body)).encode())
                for body in (mine, his_own)]
    answers = run_threads(app.state.hospital.handle, requests)
    done = [a for a in answers if a["infcode"] == 0]
    assert len(done) == 1, answers
    refused(next(a for a in answers if a["infcode"] != 0), "E-PHA-006")
    s = done[0]["output"]["setlinfo"]
    identities(s)
    assert fen(s["acct_pay"]) == fen(s["medfee_sumamt"])  # own account, then the other's
    left = {daughter: balance(db, daughter), father: balance(db, father)}
    assert left[s["psn_no"]] == 0 and min(left.values()) >= 0
    assert sum(left.values()) == start - fen(s["acct_pay"])  # moved once, to the fen
