"""Scripted steps of the electronic-prescription centre (7101-7210) shared by the tests:
a prescribing hospital and a filling pharmacy speaking the standard's camelCase fields."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

from flows import WANG_FANG, ok, person, register
from yibao.client import HisClient

DOCTOR, HOSP_PHARMACIST = "D110105000001", "HY110105000001"
PHARMACIST = {"P11010500001": "HY110105000002", "P11010500002": "HY110105000003"}
PDF = b"%PDF-1.4 prescription of the test\n%%EOF"
TIME = "%Y-%m-%d %H:%M:%S"


def drug(code: str, count: str, unit: str = "盒") -> dict[str, Any]:
    return {"medListCodg": code, "fixmedinsHilistId": f"HIS-{code}", "rxItemTypeCode": "11",
            "drugGenname": f"通用名{code[-4:]}", "drugDosform": "胶囊", "drugSpec": "0.25g*24粒",
            "medcWayCodg": "1", "medcWayDscr": "口服", "medcBegntime": "2026-05-11 09:00:00",
            "medcEndtime": "2026-05-18 09:00:00", "medcDays": "7", "sinDosunt": "g",
            "sinDoscnt": "0.5", "usedFrquCodg": "tid", "usedFrquName": "每日三次",
            "drugDosunt": unit, "drugCnt": count, "hospApprFlag": "1"}


def precheck_input(psn_no: str, mdtrt_id: str, hosp_rxno: str, drugs: list[dict], *,
                   certno: str = WANG_FANG, now: datetime, vali_days: int = 3,
                   dr_code: str = DOCTOR, code: str = "H11010500001") -> dict[str, Any]:
    prsc = now.replace(microsecond=0)
    return {
        "data": {"mdtrtCertType": "02", "mdtrtCertNo": certno, "bizTypeCode": "01",
                 "hospRxno": hosp_rxno, "rxTypeCode": "1", "prscTime": f"{prsc:{TIME}}",
                 "rxDrugCnt": str(len(drugs)), "valiDays": str(vali_days),
                 "valiEndTime": f"{prsc + timedelta(days=vali_days):{TIME}}",
                 "rxCotnFlag": "0", "longRxFlag": "0"},
        "mdtrtinfo": {"fixmedinsName": "北京示范第一医院", "fixmedinsCode": code,
                      "mdtrtId": mdtrt_id, "medType": "11", "iptOtpNo": "OP1", "psnNo": psn_no,
                      "patnName": "王芳", "psnCertType": "01", "certno": certno, "patnAge": "41",
                      "gend": "2", "prscDeptName": "内科", "prscDeptCode": "K01",
                      "drCode": dr_code, "prscDrName": "张医师", "drProfttlCodg": "2",
                      "drProfttlName": "主治医师", "drDeptCode": "K01", "drDeptName": "内科",
                      "mdtrtTime": "2026-05-11 09:00:00", "spDiseFlag": "0",
                      "maindiagCode": "J18.900", "maindiagName": "肺炎"},
        "rxdrugdetail": drugs,
        "diseinfo": [{"diagType": "1", "maindiagFlag": "1", "diagSrtNo": "1",
                      "diagCode": "J18.900", "diagName": "肺炎", "diagDept": "内科",
                      "diagDrNo": DOCTOR, "diagDrName": "张医师",
                      "diagTime": "2026-05-11 09:00:00"}],
    }


def signed_fields(answer: dict, psn_no: str, mdtrt_id: str, *, certno: str = WANG_FANG
                  ) -> dict[str, str]:
    """7103's fields 1-20 of a pre-checked prescription (what 7102 signs)."""
    return {"rxTraceCode": answer["rxTraceCode"], "hiRxno": answer["hiRxno"],
            "mdtrtId": mdtrt_id, "patnName": "王芳", "psnCertType": "01", "certno": certno,
            "fixmedinsName": "北京示范第一医院", "fixmedinsCode": "H11010500001",
            "drCode": DOCTOR, "prscDrName": "张医师", "pharDeptName": "药剂科",
            "pharDeptCode": "K90", "pharProfttlCodg": "2.3", "pharProfttlName": "主管药师",
            "pharCode": HOSP_PHARMACIST, "pharCertType": "01", "pharCertno": "",
            "pharName": "李药师", "pharPracCertNo": "", "pharChkTime": "2026-05-11 09:20:00"}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def sign(his: HisClient, fields: dict[str, str], pdf: bytes = PDF) -> dict[str, Any]:
    value = b64(json.dumps(fields, ensure_ascii=False).encode())
    return his.call("7102", {"data": {"fixmedinsCode": his.code, "originalValue": value,
                                      "originalRxFile": b64(pdf)}})


def upload(his: HisClient, fields: dict[str, str], signed: dict, pdf: bytes = PDF) -> dict:
    return his.call("7103", {"data": fields | {"rxFile": b64(pdf),
                                               "signDigest": signed["signDigest"]}})


def prescribe(his: HisClient, now: datetime, hosp_rxno: str = "RX001",
              drugs: list[dict] | None = None, **kwargs: Any) -> dict[str, Any]:
    """1101, 2201, 7101, 7102, 7103 for 王芳: psn_no, mdtrt_id, hiRxno, rxTraceCode."""
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    drugs = drugs or [drug("XA01AAA0001", "2"), drug("XB02BBB0002", "1")]
    pre = ok(his.call("7101", precheck_input(psn_no, mdtrt_id, hosp_rxno, drugs, now=now,
                                             **kwargs)))["data"]
    fields = signed_fields(pre, psn_no, mdtrt_id)
    signed = ok(sign(his, fields))["data"]
    uploaded = ok(upload(his, fields, signed))["data"]
    return {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "hiRxno": pre["hiRxno"],
            "rxTraceCode": pre["rxTraceCode"], "fields": fields, "signed": signed,
            "uploaded": uploaded}


def operator(code: str) -> dict[str, str]:
    return {"fixmedinsCode": code, "ipInfo": "10.0.0.8", "opter": "001", "opterName": "店员",
            "optinsNo": code, "devInfo": "POS-1"}


def download(shop: HisClient, access: dict) -> dict[str, Any]:
    return shop.call("7204", {"data": operator(shop.code) | {
        "epcToken": access["epcToken"], "authRxno": access["authRxno"]}})


def verify(shop: HisClient, rx: dict, epc_token: str, pdf_b64: str) -> dict[str, Any]:
    return shop.call("7205", {"data": {"hiRxno": rx["hiRxno"], "fixmedinsCode": shop.code,
                                       "rxTraceCode": rx["rxTraceCode"], "rxFile": pdf_b64,
                                       "epcToken": epc_token}})


def review(shop: HisClient, hi_rxno: str, epc_token: str, verify_sn: str, *,
           approve: bool = True) -> dict[str, Any]:
    return shop.call("7206", {"data": {
        "hiRxno": hi_rxno, "epcToken": epc_token, "ecToken": "", "fixmedinsCode": shop.code,
        "fixmedinsName": "药店", "pharCertType": "01", "pharCertno": "110105197001010011",
        "pharName": "王药师", "pharCode": PHARMACIST[shop.code],
        "rxChkOpnn": "用法用量适宜" if approve else "剂量不适宜",
        "rxChkStasCodg": "1" if approve else "0", "rxChkTime": "2026-05-11 10:00:00",
        "rxSignVerifySn": verify_sn}})


def sale_line(code: str, count: str) -> dict[str, Any]:
    return {"rtalDocno": "R0001", "stooutTime": "2026-05-11 10:05:00", "medListCodg": code,
            "medinsListCodg": f"SHOP-{code}", "drugGenname": "通用名", "drugSpec": "0.25g*24粒",
            "drugTotlcnt": count, "drugTotlcntEmp": "盒", "prdrName": "示范药厂"}


def sell(shop: HisClient, hi_rxno: str, chk_sn: str, lines: list[dict], *,
         insured: bool = True) -> dict[str, Any]:
    """7207; ``insured`` False: sold outside the insurance (hiFeesetlFlag 0, the person
    paid the pharmacy 100.00 in cash)."""
    flags = {"hiFeesetlFlag": "1"} if insured else {"hiFeesetlFlag": "0",
                                                      "psnCashPay": "100.00"}
    return shop.call("7207", {"data": {"hiRxno": hi_rxno, "fixmedinsCode": shop.code,
                                       "fixmedinsName": "药店", "rxChkBizSn": chk_sn} | flags,
                              "rxSaleDrugDetl": lines})


def fill(shop: HisClient, rx: dict, access: dict, *, insured: bool = True) -> dict[str, Any]:
    """7204 to 7207 with the prescribed quantities: the answers by infno."""
    got = ok(download(shop, access))
    checked = ok(verify(shop, rx, access["epcToken"], got["data"]["rxFile"]))["data"]
    reviewed = ok(review(shop, rx["hiRxno"], access["epcToken"],
                         checked["rxSignVerifySn"]))["data"]
    sold = ok(sell(shop, rx["hiRxno"], reviewed["rxChkBizSn"], [
        sale_line(d["medListCodg"], d["drugCnt"]) for d in got["rxDetlList"]],
        insured=insured))["data"]
    return {"7204": got, "7205": checked, "7206": reviewed, "7207": sold}


def asked(his: HisClient, infno: str, rx: dict) -> dict[str, Any]:
    """7105, 7106 or 7107 by the prescribing hospital."""
    return his.call(infno, {"data": {"fixmedinsCode": his.code, "hiRxno": rx["hiRxno"],
                                     "mdtrtId": rx["mdtrt_id"], "psnName": "王芳",
                                     "psnCertType": "01", "certno": WANG_FANG}})
