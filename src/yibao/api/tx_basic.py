"""Sign-in/out (9001/9002), person info (1101) and entitlement check (2001)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from yibao.api.fields import Fields
from yibao.api.registry import Answer
from yibao.domain.codes import FUNDS, INSUTYPES
from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_decimal
from yibao.services import ecert, entitlement, persons, reversal, signins
from yibao.services.context import Call, Effect, EffectKind


def sign_in(call: Call, inp: Fields) -> Answer:
    node = inp.child("signIn")
    signed = signins.sign_in(call, opter_no=node.text("opter_no", max_len=30),
                              mac=node.text("mac", required=False),
                              ip=node.text("ip", required=False))
    return Answer({"signinoutb": {"sign_time": call.now, "sign_no": signed.value}},
                  signed.effect)


def sign_out(call: Call, inp: Fields) -> dict[str, Any]:
    node = inp.child("signOut")
    sign_no = node.text("sign_no", max_len=30)
    signins.sign_out(call, sign_no)
    return {"signoutoutb": {"sign_time": call.now}}


def read_credential(node: Fields, call: Call) -> persons.Credential:
    cert_type = node.code("mdtrt_cert_type", persons.CERT_TYPES)
    cert_no = node.text("mdtrt_cert_no", required=False, max_len=600)
    if not cert_no and cert_type == persons.CERT_ID:  # an ID number may come as certno
        cert_no = node.text("certno", required=False, max_len=50)
    if not cert_no:
        raise Refused("E-ENV-004", f"{node.where}.mdtrt_cert_no")
    card_sn = node.text("card_sn", required=False, max_len=50)
    return persons.Credential.presented(cert_type, cert_no, card_sn,
                                        institution=call.institution.code, infno=call.infno,
                                        at=call.now)


def person_info(call: Call, inp: Fields) -> dict[str, Any]:
    node = inp.child("data")
    info = persons.person_info(call.conn, read_credential(node, call), call.now.date())
    row = info["person"]
    name = node.text("psn_name", required=False, max_len=50)
    if name and name != row["name"]:
        raise Refused("E-PSN-005", "psn_name differs from the record")
    return {
        "baseinfo": {
            "psn_no": row["psn_no"], "psn_cert_type": row["psn_cert_type"],
            "certno": row["certno"], "psn_name": row["name"], "gend": row["gend"],
            "naty": row["naty"], "brdy": row["brdy"].isoformat(), "age": info["age"],
            "exp_content": "",
        },
        "insuinfo": [
            {
                "balc": fen_to_decimal(info["balance"]), "insutype": ins["insutype"],
                "psn_type": ins["psn_type"], "psn_insu_stas": ins["psn_insu_stas"],
                "psn_insu_date": ins["psn_insu_date"].isoformat(),
                "paus_insu_date": "" if ins["paus_insu_date"] is None
                else ins["paus_insu_date"].isoformat(),
                "cvlserv_flag": ins["cvlserv_flag"], "insuplc_admdvs": row["insuplc_admdvs"],
                "emp_name": ins["emp_name"],
            }
            for ins in info["insurances"]
        ],
        "idetinfo": [],
    }


def entitlement_check(call: Call, inp: Fields) -> dict[str, Any]:
    node = inp.child("data")
    psn_no = node.text("psn_no", max_len=30)
    insutype = node.code("insutype", INSUTYPES)
    med_type = node.text("med_type", max_len=6)
    day = node.day("begntime", required=False) or call.now.date()
    found = entitlement.check(call.conn, call.policies, psn_no, insutype=insutype,
                              med_type=med_type, day=day)
    return {
        "trtinfo": [
            {
                "psn_no": psn_no, "trt_chk_type": "01", "fund_pay_type": fund,
                "fund_pay_type_name": FUNDS[fund][0],
                "trt_enjymnt_flag": "1" if found.active else "0",
                "begndate": day.isoformat(), "enddate": "", "trt_chk_rslt": found.reason,
            }
            for fund in found.funds
        ]
    }


def reverse(call: Call, inp: Fields, *, read_only: Collection[str]) -> Answer:
    """2601; ``read_only``: the infnos that change nothing (api/transactions.py binds it)."""
    data = inp.child("data")
    omsgid = data.text("omsgid", max_len=30)
    oinfno = data.text("oinfno", max_len=6)
    if omsgid == call.ref:
        raise Refused("E-REV-002", "a message cannot reverse itself")
    if oinfno in read_only:
        raise Refused("E-REV-002", f"{oinfno} changes nothing, so there is nothing to reverse")
    psn_no = data.text("psn_no", max_len=30, required=oinfno not in reversal.PERSONLESS)
    done = reversal.reverse(call, psn_no, omsgid, oinfno)
    return Answer({"data": {"omsgid": omsgid, "rslt": done.outcome}}, done.effect)


def scan_qr(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    psn_no, token = ecert.scan(call, data.text("ecQrCode", max_len=200),
                               data.text("businessType", max_len=6))
    found = persons.get_person(call.conn, psn_no)
    return Answer({"data": {
        "ecToken": token, "psn_cert_type": found["psn_cert_type"], "certno": found["certno"],
        "psn_name": found["name"], "insuOrg": found["insuplc_admdvs"], "psn_no": psn_no,
        "idNo": found["certno"], "userName": found["name"], "idType": found["psn_cert_type"],
    }}, Effect(EffectKind.SCAN, psn_no))
