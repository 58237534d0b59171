"""The electronic-prescription centre's transactions (7101-7211): the standard's camelCase
fields in and out, mapped here and nowhere else. They arrive in the national envelope
(``input.data`` and the other nodes the standard names) and answer its output nodes.
docs/prescriptions.md has the flows, the states and the refusals."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from yibao.api.fields import COUNT_MAX, Fields
from yibao.api.registry import Answer
from yibao.domain import prescriptions as rules
from yibao.domain.errors import Refused
from yibao.services import catalogue
from yibao.services import prescriptions as rx
from yibao.services import rx_pharmacy as pharmacy
from yibao.services.context import Call
from yibao.services.persons import Credential

RX_FILE_CHARS_MAX = 4 * 1024 * 1024  # base64 of a PDF or OFD prescription
CERT_TYPES = frozenset({"01", "02", "03"})
TIME = "%Y-%m-%d %H:%M:%S"
# 7105's and 7204's drug lines: the 7101 fields they echo
DRUG_OUT = (
    "medListCodg", "fixmedinsHilistId", "hospPrepFlag", "rxItemTypeCode", "rxItemTypeName",
    "tcmdrugTypeCode", "tcmdrugTypeName", "tcmherbFoote", "mednTypeCode", "mednTypeName",
    "mainMedcFlag", "urgtFlag", "basMednFlag", "impDrugFlag", "otcFlag", "drugProdname",
    "drugGenname", "drugDosform", "drugSpec", "prdrName", "medcWayCodg", "medcWayDscr",
    "medcBegntime", "medcEndtime", "medcDays", "drugCnt", "drugDosunt", "sinDoscnt",
    "sinDosunt", "usedFrquCodg", "usedFrquName", "hospApprFlag", "selfPayRea", "realDscr",
)
OTP_OUT = (
    "medType", "otpIptFlag", "patnName", "patnAge", "patnHgt", "patnWt", "gend", "gesoVal",
    "nwbFlag", "nwbAge", "suckPrdFlag", "algsHis", "maindiagCode", "maindiagName",
    "diseCondDscr", "diseCodg", "diseName", "prscDeptName", "prscDrName", "mdtrtTime",
    "spDiseFlag", "fstdiagFlag",
)
DISE_OUT = ("diagType", "maindiagFlag", "diagSrtNo", "diagCode", "diagName", "diagDept",
            "diagDeptCode", "diagDrNo", "diagDrName", "diagTime", "tcmDiseCode",
            "tcmDiseName", "tcmsympCode", "tcmsymp")


def _decode(text: str, name: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refused("E-ENV-005", f"{name} is not base64") from exc


def _at(moment: datetime | None) -> str:
    return f"{moment:{TIME}}" if moment else ""


def _plain(node: Any) -> Any:
    """An input node as stored: numbers as text (exact), nested nodes kept."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, (int, float, Decimal)) and not isinstance(node, bool):
        return str(node)
    return node


# ---------------------------------------------------------------- 7101


def precheck(call: Call, inp: Fields) -> Answer:
    data, info = inp.child("data"), inp.child("mdtrtinfo")
    drugs = inp.list_of("rxdrugdetail")
    inp.list_of("diseinfo")  # required by the standard; stored with the content
    if info.text("fixmedinsCode", max_len=20) != call.institution.code:
        raise Refused("E-AUTH-006", "mdtrtinfo.fixmedinsCode is not the caller's")
    cert_type = data.code("mdtrtCertType", CERT_TYPES)
    cert_no = data.text("ecToken", required=False, max_len=64) if cert_type == "01" else (
        data.text("mdtrtCertNo", max_len=50))
    if not cert_no:
        raise Refused("E-ENV-004", "data.ecToken (mdtrtCertType 01)")
    content = {k: _plain(inp.node.get(k)) for k in ("data", "mdtrtinfo", "rxdrugdetail",
                                                    "diseinfo")}
    content["data"] = {k: v for k, v in content["data"].items()
                       if k not in ("ecToken", "mdtrtCertNo", "cardSn", "authNo")}
    items = tuple(rules.Item(code=d.text("medListCodg", max_len=50),
                             count=d.decimal("drugCnt", limit=COUNT_MAX),
                             unit=d.text("drugDosunt", max_len=20)) for d in drugs)
    for d in drugs:
        d.text("drugGenname", max_len=100)
        d.text("drugSpec", max_len=40)
    prsc_time = data.moment("prscTime")
    vali_end = data.moment("valiEndTime")
    assert prsc_time is not None and vali_end is not None
    done = rx.precheck(call, rx.Precheck(
        hosp_rxno=data.text("hospRxno", max_len=40),
        credential=Credential.presented(cert_type, cert_no, data.text(
            "cardSn", required=False, max_len=32), institution=call.institution.code,
            infno=call.infno, at=call.now),
        psn_no=info.text("psnNo", max_len=30), certno=info.text("certno", max_len=50),
        mdtrt_id=info.text("mdtrtId", max_len=30), dr_code=info.text("drCode", max_len=20),
        prsc_time=prsc_time, vali_days=data.whole("valiDays", max_len=3), vali_end=vali_end,
        items=items, content=content))
    return Answer({"data": {"rxTraceCode": done.value["rx_trace_code"],
                            "hiRxno": done.value["hi_rxno"]}}, done.effect)


# ---------------------------------------------------------------- 7102, 7103


def _signed_fields(node: Fields) -> dict[str, str]:
    optional = {"pharProfttlCodg", "pharProfttlName", "pharCertType", "pharCertno",
                "pharPracCertNo"}
    return {name: node.text(name, required=name not in optional, max_len=200)
            for name in rules.SIGNED_FIELDS}


def sign(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    if data.text("fixmedinsCode", max_len=20) != call.institution.code:
        raise Refused("E-AUTH-006", "fixmedinsCode is not the caller's")
    raw = _decode(data.blob("originalValue", max_len=8000), "originalValue")
    try:
        value = json.loads(raw.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused("E-ENV-005", "originalValue is not base64 of a JSON string") from exc
    fields = _signed_fields(Fields(value, where="originalValue"))
    file_b64 = data.blob("originalRxFile", max_len=RX_FILE_CHARS_MAX)
    done = rx.sign(call, fields, _decode(file_b64, "originalRxFile"))
    return Answer({"data": {"rxFile": file_b64, "signDigest": done.value.sign_digest,
                            "signCertSn": done.value.cert_sn,
                            "signCertDn": done.value.cert_dn}}, done.effect)


def upload(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    fields = _signed_fields(data)
    if fields["fixmedinsCode"] != call.institution.code:
        raise Refused("E-AUTH-006", "fixmedinsCode is not the caller's")
    file_b64 = data.blob("rxFile", max_len=RX_FILE_CHARS_MAX)
    done = rx.upload(call, fields, _decode(file_b64, "rxFile"), file_b64,
                     data.text("signDigest", max_len=4000))
    return Answer({"data": _status(call, done.value)}, done.effect)


def _status(call: Call, row: Any) -> dict[str, Any]:
    codes = rx.status_codes(row, call.now)
    return {"hiRxno": row["hi_rxno"], "rxStasCodg": codes["rxStasCodg"],
            "rxStasName": codes["rxStasName"]}


# ---------------------------------------------------------------- 7104-7107


def revoke(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    if data.text("fixmedinsCode", max_len=20) != call.institution.code:
        raise Refused("E-AUTH-006", "fixmedinsCode is not the caller's")
    data.text("undoDrCertType", max_len=6)
    data.text("undoDrName", max_len=50)
    done = rx.revoke(call, data.text("hiRxno", max_len=30), data.text("drCode", max_len=20),
                     data.text("undoRea", max_len=200))
    return Answer({"data": _status(call, done.value)}, done.effect)


def _queried(call: Call, inp: Fields) -> Any:
    data = inp.child("data")
    if data.text("fixmedinsCode", max_len=20) != call.institution.code:
        raise Refused("E-AUTH-006", "fixmedinsCode is not the caller's")
    return rx.query(call, data.text("hiRxno", max_len=30), data.text("mdtrtId", max_len=30),
                    data.text("certno", max_len=50))


def info(call: Call, inp: Fields) -> dict[str, Any]:
    """7105: the prescription as uploaded, with its status."""
    row = _queried(call, inp)
    return _described(call, row)


def _described(call: Call, row: Any) -> dict[str, Any]:
    content = json.loads(row["content"], parse_float=Decimal)
    data, otp = content["data"], content["mdtrtinfo"]
    codes = rx.status_codes(row, call.now)
    head = {k: data.get(k, "") for k in (
        "rxDrugCnt", "rxUsedWayCodg", "rxUsedWayName", "rxFrquCodg", "rxFrquName", "rxDosunt",
        "rxDoscnt", "rxDrordDscr", "valiDays", "reptFlag", "maxReptCnt", "minInrvDays",
        "rxTypeCode", "longRxFlag", "bizTypeCode", "rxExraAttrCode")}
    return {
        "data": {"hiRxno": row["hi_rxno"], "fixmedinsCode": row["fixmedins_code"],
                 "fixmedinsName": otp.get("fixmedinsName", ""), **codes,
                 "prscTime": _at(row["prsc_time"]), "valiEndTime": _at(row["vali_end"]),
                 "reptdCnt": "0", **head},
        "rxDetlList": [{k: d.get(k, "") for k in DRUG_OUT} | {
            "takeDrugFlag": "1" if rules.rx_used_stas(rules.RxStatus(row["status"])) == "2"
            else "0"} for d in content["rxdrugdetail"]],
        "rxOtpinfo": {k: otp.get(k, "") for k in OTP_OUT} | {"iptOpNo": otp.get("iptOtpNo",
                                                                                   "")},
        "rxDiseList": [{k: d.get(k, "") for k in DISE_OUT} for d in content["diseinfo"]],
    }


def review_result(call: Call, inp: Fields) -> dict[str, Any]:
    """7106: the pharmacy's review (7108's content), asked for."""
    return {"data": pharmacy.review_notice(_queried(call, inp), call.now)}


def fill_result(call: Call, inp: Fields) -> dict[str, Any]:
    """7107: the filling (7109's content), asked for."""
    notice = pharmacy.sale_notice(_queried(call, inp), call.now)
    lines = notice.pop("seltdelts")
    return {"data": notice, "seltdelts": lines}


# ---------------------------------------------------------------- 7201-7203


def _access(access: pharmacy.Access) -> dict[str, Any]:
    return {"authRxno": access.auth_rxno, "epcToken": access.epc_token,
            "expiresIn": _at(access.expires_at)}


def _operator(call: Call, data: Fields) -> None:
    if data.text("fixmedinsCode", max_len=20) != call.institution.code:
        raise Refused("E-AUTH-006", "fixmedinsCode is not the caller's")
    for name in ("ipInfo", "opter", "opterName", "optinsNo"):
        data.text(name, max_len=64)


def offline(call: Call, inp: Fields) -> Answer:
    """7201: the person's open prescriptions for this pharmacy, each with its access."""
    data = inp.child("data")
    _operator(call, data)
    data.text("psnName", max_len=40)
    done = pharmacy.authorise_offline(call, data.text("ecToken", max_len=64),
                                      data.text("certno", max_len=50))
    listed = []
    for access in done.value:
        otp = json.loads(access.row["content"], parse_float=Decimal)["mdtrtinfo"]
        data_of = json.loads(access.row["content"], parse_float=Decimal)["data"]
        listed.append(_access(access) | {
            "fixmedinsCode": access.row["fixmedins_code"],
            "fixmedinsName": otp.get("fixmedinsName", ""),
            "prscTime": _at(access.row["prsc_time"]), "deptName": otp.get("prscDeptName", ""),
            "diseCodg": otp.get("diseCodg", ""), "diseName": otp.get("diseName", ""),
            "valiEndTime": _at(access.row["vali_end"]),
            "rxExraAttrCode": data_of.get("rxExraAttrCode", "")})
    return Answer({"data": listed}, done.effect)


def online(call: Call, inp: Fields) -> Answer:
    """7202: the online authorisation the person gave in a channel becomes an access."""
    data = inp.child("data")
    _operator(call, data)
    done = pharmacy.authorise_online(call, data.text("hiRxno", max_len=40),
                                     data.text("authCircBizSn", max_len=40),
                                     data.text("epcChnlId", max_len=40))
    return Answer({"data": _access(done.value)}, done.effect)


def qr(call: Call, inp: Fields) -> Answer:
    """7203: the prescription QR code the person shows becomes an access."""
    data = inp.child("data")
    _operator(call, data)
    done = pharmacy.authorise_by_qr(call, data.text("epcQrcd", max_len=40))
    return Answer({"data": _access(done.value)}, done.effect)


# ---------------------------------------------------------------- 7204-7206


def download(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    _operator(call, data)
    done = pharmacy.download(call, data.text("epcToken", max_len=100),
                             data.text("authRxno", max_len=30))
    row = done.value
    described = _described(call, row)
    content = json.loads(row["content"], parse_float=Decimal)
    head = {"hiRxno": row["hi_rxno"], "rxTraceCode": row["rx_trace_code"],
            "fixmedinsCode": row["fixmedins_code"],
            "fixmedinsName": content["mdtrtinfo"].get("fixmedinsName", ""),
            "prscTime": _at(row["prsc_time"]),
            "prscDeptName": content["mdtrtinfo"].get("prscDeptName", ""),
            "valiEndTime": _at(row["vali_end"]),
            "rxTypeCode": content["data"].get("rxTypeCode", ""),
            "longRxFlag": content["data"].get("longRxFlag", "0"),
            "rxFile": row["rx_file"], "fileSuffix": "pdf"}
    return Answer({"data": head, "rxDetlList": described["rxDetlList"],
                   "rxOtpinfo": described["rxOtpinfo"], "rxDiseList": described["rxDiseList"]},
                  done.effect)


def verify(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    if data.text("fixmedinsCode", max_len=40) != call.institution.code:
        raise Refused("E-AUTH-006", "fixmedinsCode is not the caller's")
    file_b64 = data.blob("rxFile", max_len=RX_FILE_CHARS_MAX)
    done = pharmacy.verify(call, data.text("hiRxno", max_len=30),
                           data.text("rxTraceCode", max_len=20),
                           _decode(file_b64, "rxFile"), data.text("epcToken", max_len=100))
    serial, key = done.value
    return Answer({"data": {"flag": True, "rxSignVerifySn": serial,
                            "signCertSn": key["cert_sn"], "signCertDn": key["cert_dn"]}},
                  done.effect)


def review(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    if data.text("fixmedinsCode", max_len=20) != call.institution.code:
        raise Refused("E-AUTH-006", "fixmedinsCode is not the caller's")
    data.text("fixmedinsName", max_len=200)
    at = data.moment("rxChkTime")
    assert at is not None
    done = pharmacy.review(call, pharmacy.Review(
        hi_rxno=data.text("hiRxno", max_len=30), epc_token=data.text("epcToken", max_len=100),
        ec_token=data.text("ecToken", required=False, max_len=64),
        phar_code=data.text("pharCode", max_len=50), phar_name=data.text("pharName", max_len=50),
        phar_certno=data.text("pharCertno", max_len=50),
        approved=data.code("rxChkStasCodg", rules.RX_CHK_STAS) == "1",
        opinion=data.text("rxChkOpnn", max_len=2000), at=at,
        verify_sn=data.text("rxSignVerifySn", max_len=40)))
    return Answer({"data": {"flag": True, "rxChkBizSn": done.value}}, done.effect)


# ---------------------------------------------------------------- 7207-7210


def sell(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    if data.text("fixmedinsCode", max_len=20) != call.institution.code:
        raise Refused("E-AUTH-006", "fixmedinsCode is not the caller's")
    insured = data.flag("hiFeesetlFlag", default="1") == "1"
    if not insured:
        data.money("psnCashPay")
    lines = inp.list_of("rxSaleDrugDetl")
    dispensed = tuple(rules.Dispensed(code=d.text("medListCodg", max_len=50),
                                      count=d.decimal("drugTotlcnt", limit=COUNT_MAX))
                      for d in lines)
    detail = []
    for d in lines:
        stoout_time = d.moment("stooutTime")
        detail.append({
            "medListCodg": d.text("medListCodg", max_len=50),
            "drugGenname": d.text("drugGenname", max_len=100),
            "drugProdname": d.text("drugProdname", required=False, max_len=100),
            "drugDosform": d.text("drugDosform", required=False, max_len=50),
            "drugSpec": d.text("drugSpec", max_len=500), "cnt": str(d.decimal(
                "drugTotlcnt", limit=COUNT_MAX)),
            "aprvno": d.text("aprvno", required=False), "bchno": d.text("bchno", required=False),
            "manuLotnum": d.text("manuLotnum", required=False),
            "prdrName": d.text("prdrName", required=False, max_len=1000),
            "rtalDocno": d.text("rtalDocno", max_len=40), "stooutTime": _at(stoout_time)})
    done = pharmacy.dispense(call, data.text("hiRxno", max_len=30),
                             data.text("rxChkBizSn", max_len=30), dispensed, detail,
                             insured=insured)
    return Answer({"data": {"flag": True, "selStooutSn": done.value}}, done.effect)


def unsell(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    if data.text("fixmedinsCode", max_len=20) != call.institution.code:
        raise Refused("E-AUTH-006", "fixmedinsCode is not the caller's")
    done = pharmacy.undo_dispense(call, data.text("hiRxno", max_len=30),
                                  data.text("selStooutSn", required=False, max_len=30))
    return Answer({"data": {"flag": True}}, done.effect)


def dispatch(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    if data.text("fixmedinsCode", max_len=20) != call.institution.code:
        raise Refused("E-AUTH-006", "fixmedinsCode is not the caller's")
    stas = data.code("delvStasCodg", rules.DELV_STAS)
    at = data.moment("delvStasTime")
    delivery = {"delvNo": data.text("delvNo", max_len=30),
                "delvAddr": data.text("delvAddr", max_len=200),
                "delvEntpName": data.text("delvEntpName", max_len=50),
                "delvEntpNo": data.text("delvEntpNo", required=False, max_len=30),
                "delverName": data.text("delverName", required=False, max_len=30),
                "delvConner": data.text("delvConner", max_len=30),
                "delvStasCodg": stas, "delvStasName": data.text("delvStasName", max_len=20),
                "delvStasTime": _at(at)}
    done = pharmacy.dispatch(call, data.text("hiRxno", max_len=30), delivery)
    return Answer({"data": {"flag": True}}, done.effect)


def receive(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    at = data.moment("delvStasTime")
    receipt = {"delverName": data.text("delverName", max_len=30),
               "delverCertType": data.text("delverCertType", max_len=3),
               "chkWayCodg": data.code("chkWayCodg", rules.CHK_WAYS, required=False),
               "delvStasTime": _at(at)}
    data.text("delverCertno", max_len=50)  # required; not kept (an ID number)
    done = pharmacy.receive(call, data.text("hiRxno", max_len=30),
                            data.text("delvNo", required=False, max_len=30), receipt)
    return Answer({"data": {"flag": True}}, done.effect)


# ---------------------------------------------------------------- 7211


def drugs(call: Call, inp: Fields) -> dict[str, Any]:
    """7211: the catalogue's drugs (no narrower e-prescription list is configured: the
    whole drug catalogue of the caller's area, as the standard says then)."""
    data = inp.child("data")
    if data.text("fixmedinsCode", max_len=20) != call.institution.code:
        raise Refused("E-AUTH-006", "fixmedinsCode is not the caller's")
    page_num = data.whole("pageNum", max_len=3)
    page_size = data.whole("pageSize", max_len=3)
    if not (page_num >= 1 and 1 <= page_size <= 100):
        raise Refused("E-ENV-005", "pageNum from 1, pageSize 1 to 100")
    wanted = {data.text("medListCodg", required=False, max_len=50)} - {""}
    name = data.text("drugName", required=False, max_len=500)
    found = [row for row in catalogue.items(call, catalogue.ItemFilter(
        list_types=rules.DRUG_LIST_TYPES, day=call.now.date()))
        if (not wanted or row["code"] in wanted) and (not name or name in row["name"])]
    page = found[(page_num - 1) * page_size:page_num * page_size]
    return {"data": {"total": len(found), "size": len(page)}, "list": [{
        "medListCodg": row["code"], "genname": row["name"], "regName": row["name"],
        "listType": row["list_type"], "specName": "", "prdrName": "", "dosformName": "",
        "poolareaNo": call.institution.pool_area} for row in page]}

