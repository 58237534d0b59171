"""Pharmacy purchases (2101 / 2102 / 2103): the drug lines in the settlement's message,
by card, by electronic certificate and by a family member's account; cancellation with
its lines; 2601; the refusals; the identities of every answer to the fen."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from apps import ChannelApp
from flows import LI_JIANGUO, LIU_YANG, WANG_FANG, fen, ok, person, refused
from test_ecert import token_for
from yibao.store.schema import account, fee_line, visit

PHARMACY = "P11010500001"
DRUG_B = "XB02BBB0002"  # 乙类, 10 % self-paid first


def drug(sn: str, code: str, price: str, count: str = "1", *, days: str = "",
         own: str = "") -> dict[str, Any]:
    amount = (Decimal(price) * Decimal(count)).quantize(Decimal("0.01"))
    return {"feedetl_sn": sn, "rxno": "RX001", "rx_circ_flag": "0",
            "fee_ocur_time": "2026-05-11 09:20:00", "med_list_codg": code,
            "medins_list_codg": own or f"P-{code}", "det_item_fee_sumamt": str(amount),
            "cnt": count, "pric": price, "sin_dos_dscr": "1片", "used_frqu_dscr": "qd",
            "prd_days": days, "medc_way_dscr": "口服", "bilg_dr_codg": "D001",
            "bilg_dr_name": "医生甲", "tcmdrug_used_way": ""}


def purchase(psn_no: str, certno: str, lines: list[dict[str, Any]], *, account: str = "1",
             med_type: str = "41", cred: dict[str, str] | None = None,
             disease: str = "", **extra: Any) -> dict[str, Any]:
    total = sum(Decimal(x["det_item_fee_sumamt"]) for x in lines)
    info = {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno,
            "card_sn": "", "psn_cert_type": "01", "certno": certno, "psn_type": "1101",
            "psn_name": "", "begntime": "2026-05-11 09:20:00", "medfee_sumamt": str(total),
            "insutype": "310", "dise_codg": disease, "dise_name": "", "acct_used_flag": account,
            "med_type": med_type, "exp_content": "", **(cred or {}), **extra}
    return {"druginfo": info, "drugdetail": lines}


def balance(db, psn_no: str) -> int:
    with db.read() as conn:
        return int(conn.execute(select(account.c.balance).where(
            account.c.psn_no == psn_no)).scalar_one())


def identities(s: dict[str, Any]) -> None:
    """The standard's identities, to the fen."""
    funds = ("hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay",
             "oth_pay")
    assert fen(s["medfee_sumamt"]) == fen(s["fund_pay_sumamt"]) + fen(s["psn_part_amt"]) + fen(
        s["hosp_part_amt"])
    assert fen(s["psn_part_amt"]) == fen(s["acct_pay"]) + fen(s["psn_cash_pay"])
    assert fen(s["fund_pay_sumamt"]) == sum(fen(s[f]) for f in funds)
    assert fen(s["acct_mulaid_pay"]) <= fen(s["acct_pay"])


def test_purchase_by_card_with_presettlement_and_cancellation(db, his_factory):
    shop = his_factory(PHARMACY)
    psn_no = person(shop, WANG_FANG)["baseinfo"]["psn_no"]
    before = balance(db, psn_no)
    lines = [drug("1", DRUG_B, "25.00", "4", days="20"), drug("2", "XC03CCC0003", "12.50")]
    trial = ok(shop.call("2101", purchase(psn_no, WANG_FANG, lines)))
    assert "setl_id" not in trial["setlinfo"]
    with db.read() as conn:  # the pre-settlement stored nothing
        assert conn.execute(select(visit).where(visit.c.fixmedins_code == PHARMACY)).first() \
            is None
    assert balance(db, psn_no) == before
    bought = ok(shop.call("2102", purchase(psn_no, WANG_FANG, lines)))
    s = bought["setlinfo"]
    identities(s)
    for name in ("medfee_sumamt", "acct_pay", "psn_cash_pay", "fund_pay_sumamt", "balc"):
        assert s[name] == trial["setlinfo"][name], name  # 2101 answered what 2102 did
    assert fen(s["medfee_sumamt"]) == 11250 and fen(s["acct_pay"]) == 11250
    assert s["clr_type"] == "41" and s["med_type"] == "41" and s["setl_id"]
    assert fen(s["balc"]) == before - 11250 == balance(db, psn_no)
    cut = {x["feedetl_sn"]: x for x in bought["detlcutinfo"]}
    assert fen(cut["1"]["preselfpay_amt"]) == 1000 and cut["2"]["chrgitm_lv"] == "03"
    # 2103 cancels the settlement and its lines; the account is restored exactly
    back = ok(shop.call("2103", {"data": {"setl_id": s["setl_id"], "mdtrt_id": s["mdtrt_id"],
                                          "psn_no": psn_no}}))["setlinfo"]
    assert fen(back["medfee_sumamt"]) == -11250 and fen(back["acct_pay"]) == -11250
    assert balance(db, psn_no) == before
    with db.read() as conn:
        states = {r.status for r in conn.execute(select(fee_line.c.status).where(
            fee_line.c.mdtrt_id == s["mdtrt_id"]))}
        shown = conn.execute(select(visit.c.status).where(
            visit.c.mdtrt_id == s["mdtrt_id"])).scalar_one()
    assert states == {"cancelled"} and shown == "cancelled"
    refused(shop.call("2103", {"data": {"setl_id": s["setl_id"], "mdtrt_id": s["mdtrt_id"],
                                        "psn_no": psn_no}}), "E-SETL-003")


def test_purchase_with_the_certificate(http, his_factory):
    shop = his_factory(PHARMACY)
    app = ChannelApp(http)
    cert_id = app.activate()
    token = token_for(shop, app, cert_id, "02101")
    cred = {"mdtrt_cert_type": "01", "mdtrt_cert_no": token}
    psn_no = ok(shop.call("1101", {"data": cred}))["baseinfo"]["psn_no"]
    s = ok(shop.call("2102", purchase(psn_no, "", [drug("1", DRUG_B, "30.00")],
                                      cred=cred)))["setlinfo"]
    identities(s)
    assert s["mdtrt_cert_type"] == "01" and fen(s["acct_pay"]) == 3000
    hospital_token = token_for(shop, app, cert_id, "01101")  # an outpatient token
    refused(shop.call("2102", purchase(psn_no, "", [drug("1", DRUG_B, "30.00")], cred={
        "mdtrt_cert_type": "01", "mdtrt_cert_no": hospital_token})), "E-ECT-010")


def test_only_a_pharmacy_and_only_its_own_cancellation_path(his, his_factory):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    refused(his.call("2102", purchase(psn_no, WANG_FANG, [drug("1", DRUG_B, "10.00")])),
            "E-PHA-001")
    shop = his_factory(PHARMACY)
    s = ok(shop.call("2102", purchase(psn_no, WANG_FANG, [drug("1", DRUG_B, "10.00")])))[
        "setlinfo"]
    key = {"setl_id": s["setl_id"], "mdtrt_id": s["mdtrt_id"], "psn_no": psn_no}
    refused(shop.call("2208", {"data": key}), "E-PHA-007")  # a purchase is cancelled by 2103
    ok(shop.call("2103", {"data": key}))


def test_input_refusals_change_nothing(db, his_factory):
    shop = his_factory(PHARMACY)
    psn_no = person(shop, WANG_FANG)["baseinfo"]["psn_no"]
    before = balance(db, psn_no)
    wrong_total = purchase(psn_no, WANG_FANG, [drug("1", DRUG_B, "10.00")])
    wrong_total["druginfo"]["medfee_sumamt"] = "11.00"
    refused(shop.call("2102", wrong_total), "E-SETL-001")
    refused(shop.call("2102", purchase(psn_no, WANG_FANG, [drug("1", DRUG_B, "10.00")],
                                       med_type="11")), "E-ENV-005")
    refused(shop.call("2102", purchase(psn_no, WANG_FANG, [drug("1", DRUG_B, "10.00")],
                                       account="3")), "E-ENV-005")
    refused(shop.call("2102", purchase(psn_no, WANG_FANG, [])), "E-ENV-004")
    with db.read() as conn:
        assert conn.execute(select(visit).where(visit.c.fixmedins_code == PHARMACY)).first() \
            is None
    assert balance(db, psn_no) == before


def test_2601_reverses_a_purchase_with_its_lines(db, his_factory):
    shop = his_factory(PHARMACY)
    psn_no = person(shop, LI_JIANGUO)["baseinfo"]["psn_no"]
    before = balance(db, psn_no)
    message = shop.envelope("2102", purchase(psn_no, LI_JIANGUO, [drug("1", DRUG_B, "40.00")]))
    s = ok(shop.send(message))["setlinfo"]
    assert balance(db, psn_no) == before - 4000
    again = ok(shop.send(message))["setlinfo"]  # the same msgid: the stored answer
    assert again["setl_id"] == s["setl_id"] and balance(db, psn_no) == before - 4000
    ok(shop.call("2601", {"data": {"psn_no": psn_no, "omsgid": message["msgid"],
                                   "oinfno": "2102"}}))
    assert balance(db, psn_no) == before
    with db.read() as conn:
        states = {r.status for r in conn.execute(select(fee_line.c.status).where(
            fee_line.c.mdtrt_id == s["mdtrt_id"]))}
    assert states == {"cancelled"}


def test_a_resident_without_an_account_pays_cash(his_factory):
    shop = his_factory(PHARMACY)
    psn_no = person(shop, LIU_YANG)["baseinfo"]["psn_no"]
    payload = purchase(psn_no, LIU_YANG, [drug("1", DRUG_B, "10.00")])
    payload["druginfo"].update(insutype="390", psn_type="1501")
    s = ok(shop.call("2102", payload))["setlinfo"]
    identities(s)
    assert fen(s["psn_cash_pay"]) == 1000 and fen(s["acct_pay"]) == 0


def test_the_data_and_feedetail_form_and_numbers_are_read_alike(his_factory):
    shop = his_factory(PHARMACY)
    psn_no = person(shop, WANG_FANG)["baseinfo"]["psn_no"]
    standard = purchase(psn_no, WANG_FANG, [drug("1", DRUG_B, "12.34", "3", days="31")])
    refused(shop.call("2101", standard), "E-PHA-010")
    item = dict(standard["drugdetail"][0], prd_days=30, cnt=3)  # JSON numbers
    national = {"data": dict(standard["druginfo"], feedetail=[item])}
    s = ok(shop.call("2102", national))["setlinfo"]
    identities(s)
    assert fen(s["medfee_sumamt"]) == 3702
