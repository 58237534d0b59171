"""Scripted HIS steps shared by the tests (each returns the answer's output, asserting
infcode 0, or the whole answer with ``expect_error``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from yibao.client import HisClient

WANG_FANG = "110105198503150027"  # working employee, account 3000.00
LI_JIANGUO = "11010219600620003X"  # retired, under 70, account 5000.00
ZHANG_DEMING = "110108194801010031"  # retired, 70+, account 8000.00
LIU_YANG = "110106199007070053"  # adult resident, no account
ZHAO_LEI = "130102197509090010"  # insured in Hebei
# the personal commitment letter signed with a filing (the demo policies file resident
# and temporary trips on it: [away.commitment])
SIGNED = {"commitment_signed": True, "commitment_version": "CL-2022"}


def ok(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["infcode"] == 0, answer["err_msg"]
    output: dict[str, Any] = answer["output"]
    return output


def refused(answer: dict[str, Any], code: str) -> str:
    assert answer["infcode"] == -1, answer
    assert answer["err_msg"].startswith(code), answer["err_msg"]
    return str(answer["err_msg"])


def person(his: HisClient, certno: str) -> dict[str, Any]:
    payload = {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "card_sn": "",
                        "begntime": "", "psn_cert_type": "01", "certno": certno,
                        "psn_name": ""}}
    return ok(his.call("1101", payload))


def register(his: HisClient, psn_no: str, certno: str, insutype: str = "310") -> str:
    payload = {"data": {
        "psn_no": psn_no, "insutype": insutype, "begntime": "2026-05-11 09:00:00",
        "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "ipt_otp_no": "OP20260511001",
        "atddr_no": "D001", "dr_name": "医生甲", "dept_code": "K01", "dept_name": "内科",
        "caty": "A03"}}
    return str(ok(his.call("2201", payload))["data"]["mdtrt_id"])


def admit(his: HisClient, psn_no: str, certno: str, insutype: str = "310") -> str:
    payload = {"mdtrtinfo": {
        "psn_no": psn_no, "insutype": insutype, "coner_name": "家属", "tel": "null",
        "begntime": "2026-05-01 08:00:00", "mdtrt_cert_type": "02", "mdtrt_cert_no": certno,
        "med_type": "21", "ipt_no": "ZY0001", "medrcdno": "null", "atddr_no": "D002",
        "chfpdr_name": "主任", "adm_diag_dscr": "肺炎", "adm_dept_codg": "K02",
        "adm_dept_name": "呼吸科", "adm_bed": "12", "dscg_maindiag_code": "J18.9",
        "dscg_maindiag_name": "肺炎", "main_cond_dscr": "", "dise_codg": "J18.9",
        "dise_name": "肺炎", "oprn_oprt_code": "", "oprn_oprt_name": ""},
        "diseinfo": [{"psn_no": psn_no, "diag_type": "1", "maindiag_flag": "1",
                      "diag_srt_no": "1", "diag_code": "J18.9", "diag_name": "肺炎",
                      "adm_cond": "", "diag_dept": "呼吸科", "dise_dor_no": "D002",
                      "dise_dor_name": "主任", "diag_time": "2026-05-01 08:00:00"}]}
    return str(ok(his.call("2401", payload))["result"]["mdtrt_id"])


def line(sn: str, code: str, price: str, count: str = "1", *, init: str = "") -> dict:
    amount = (Decimal(price) * Decimal(count)).quantize(Decimal("0.01"))
    return {"feedetl_sn": sn, "init_feedetl_sn": init, "chrg_bchno": "B1", "dise_codg": "",
            "rxno": "", "rx_circ_flag": "0", "fee_ocur_time": "2026-05-11 09:10:00",
            "med_list_codg": code, "medins_list_codg": f"HIS-{code}", "det_item_fee_sumamt":
            str(amount), "cnt": count, "pric": price, "sin_dos_dscr": "", "used_frqu_dscr": "",
            "prd_days": "1", "medc_way_dscr": "", "bilg_dept_codg": "K01",
            "bilg_dept_name": "内科", "bilg_dr_codg": "D001", "bilg_dr_name": "医生甲",
            "hosp_appr_flag": "1"}


def upload(his: HisClient, mdtrt_id: str, psn_no: str, lines: list[dict], *,
           infno: str = "2204") -> list[dict[str, Any]]:
    for item in lines:
        item.update(mdtrt_id=mdtrt_id, psn_no=psn_no)
    return list(ok(his.call(infno, {"feedetail": lines}))["result"])


def settle_payload(psn_no: str, mdtrt_id: str, certno: str, medfee: str, *,
                   account: bool = True, med_type: str = "11", insutype: str = "310",
                   interim: bool = False) -> dict[str, Any]:
    return {"data": {
        "psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno,
        "med_type": med_type, "medfee_sumamt": medfee, "psn_setlway": "01",
        "mdtrt_id": mdtrt_id, "chrg_bchno": "0000", "insutype": insutype,
        "acct_used_flag": "1" if account else "0", "mid_setl_flag": "1" if interim else "0",
        "invono": "null", "fulamt_ownpay_amt": "null"}}


def amounts(setlinfo: dict[str, Any]) -> dict[str, Decimal]:
    return {k: Decimal(str(v)) for k, v in setlinfo.items() if isinstance(v, (int, float))
            and k not in ("age",)}


def fen(value: object) -> int:
    """A yuan amount of an answer (number or string) in fen."""
    return int(Decimal(str(value)) * 100)


def settle_once(his: HisClient, certno: str, amount: str) -> dict[str, Any]:
    """Person info, registration, one fee line of ``amount`` and 2207: the setlinfo."""
    psn_no = person(his, certno)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, certno)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", amount)])
    return ok(his.call("2207", settle_payload(psn_no, mdtrt_id, certno, amount)))["setlinfo"]
