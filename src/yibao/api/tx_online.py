"""The mobile-payment centre's transactions (6201, 6202, 6203, 6301, 6401): the
standard's camelCase fields in and out, mapped here and nowhere else. They arrive in the
national envelope (``input.data``) or in the centre's SM2/SM4 envelope (api/mpc.py), and
answer ``{"data": {...}}``. Amounts go out as yuan strings with two decimals."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from yibao.api.fields import COUNT_MAX, PRICE_MAX, Fields
from yibao.api.registry import Answer
from yibao.domain.codes import INSUTYPES
from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_yuan
from yibao.domain.orders import ORD_STAS, Action, OrderStatus, RefundAsked, revs_token_valid
from yibao.services import fees, online, online_payment, online_refund, visits
from yibao.services.context import Call
from yibao.services.online import Order
from yibao.services.persons import CERT_ECERT, Credential
from yibao.thirdpay.platform import Platform

REFUND_KINDS = {"ALL": Action.REFUND_ALL, "HI": Action.REFUND_HI, "CASH": Action.REFUND_CASH}


@dataclass(frozen=True, slots=True)
class Online:
    """How the centre reaches the payment platform and where it is reached: the
    platform's client (None: no platform configured, a cash part cannot be paid), the
    URL the platform notifies, and the base of the cashier page's URL."""

    platform: Platform | None
    notify_url: str
    cashier_base: str


# ---------------------------------------------------------------- 6201


def upload(setup: Online, call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    if data.text("orgCodg", max_len=40) != call.institution.code:
        raise Refused("E-AUTH-006", "orgCodg is not the caller's")
    done = online.upload(call, _upload_of(call, data))
    return Answer({"data": {
        "payOrdId": done.value.pay_ord_id, "payToken": done.value.pay_token,
        "cashierUrl": f"{setup.cashier_base}/cashier/{done.value.pay_ord_id}",
        "extData": {"mdtrtId": done.value.mdtrt_id},
    }}, done.effect)


def _upload_of(call: Call, data: Fields) -> online.Upload:
    lines = data.list_of("feedetailList")
    med_type = data.text("medType", max_len=6)
    token = data.text("ecToken", max_len=64)
    credential = Credential.presented(CERT_ECERT, token, "", institution=call.institution.code,
                                      infno=call.infno, at=call.now)
    new = visits.NewVisit(
        psn_no=data.text("psnNo", max_len=30), insutype=data.code("insutype", INSUTYPES),
        med_type=med_type, begin=data.moment("begntime") or call.now, credential=credential,
        ipt_otp_no=data.text("iptOtpNo", max_len=30),
        doctor_no=data.text("atddrNo", required=False, max_len=30),
        doctor_name=data.text("drName", required=False, max_len=50),
        dept_code=data.text("deptCode", required=False, max_len=30),
        dept_name=data.text("deptName", max_len=100), caty=data.text("caty", max_len=6),
        diagnoses=_diagnoses(data))
    return online.Upload(
        med_org_ord=data.text("medOrgOrd", max_len=40), request_hash=_hash(data),
        hi_rxno=_prescription(data),
        visit=new, mdtrt_id=data.text("mdtrtId", required=False, max_len=30),
        chrg_bchno=data.text("chrgBchno", max_len=30),
        medfee_sumamt=data.money("medfeeSumamt") or 0,
        acct_used=data.flag("acctUsedFlag", default="1") == "1",
        lines=tuple(_line(item, med_type) for item in lines))


def _prescription(data: Fields) -> str:
    """The electronic prescription the order pays (online drug purchase): extData.hiRxno
    with rxCircFlag 1 ("" when none; E-ENV-005 when only one of the two is sent)."""
    hi_rxno = data.extension("extData").text("hiRxno", required=False, max_len=30)
    circulated = data.flag("rxCircFlag") == "1"
    if circulated != bool(hi_rxno):
        raise Refused("E-ENV-005", "input.data.rxCircFlag 1 and extData.hiRxno go together "
                      "(an electronic prescription's order)")
    return hi_rxno


def _hash(data: Fields) -> str:
    """The upload's fingerprint, without the ecToken (a retry may present a fresh one)."""
    body = {k: v for k, v in data.node.items() if k != "ecToken"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _line(item: Fields, med_type: str) -> fees.FeeLineIn:
    return fees.FeeLineIn(
        feedetl_sn=item.text("feedetlSn", max_len=30),
        init_feedetl_sn=item.text("initFeedetlSn", required=False, max_len=30),
        chrg_bchno=item.text("chrgBchno", max_len=30),
        list_code=item.text("medListCodg", max_len=50),
        medins_code=item.text("medinsListCodg", max_len=150),
        name=item.text("medinsListName", required=False, max_len=200),
        amount=item.money("detItemFeeSumamt") or 0,
        count=item.decimal("cnt", limit=COUNT_MAX),
        price=item.decimal("pric", limit=PRICE_MAX),
        time=item.moment("feeOcurTime", required=False),
    )


def _diagnoses(data: Fields) -> tuple[visits.Diagnosis, ...]:
    items = data.list_of("diseinfoList", required=False)
    return tuple(visits.Diagnosis(
        diag_type=d.text("diagType", max_len=3), srt_no=i + 1,
        code=d.text("diagCode", max_len=30), name=d.text("diagName", max_len=200),
        dept=d.text("diagDept", required=False), doctor_no=d.text(
            "diseDorNo", required=False, max_len=30),
        doctor_name=d.text("diseDorName", required=False, max_len=50),
        time=d.moment("diagTime", required=False),
        valid=d.text("valiFlag", required=False, max_len=1) or "1") for i, d in enumerate(items))


# ---------------------------------------------------------------- 6202


def pay(setup: Online, call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    if data.text("orgCodg", max_len=40) != call.institution.code:
        raise Refused("E-AUTH-006", "orgCodg is not the caller's")
    done = online.hold(call, online.HoldRequest(
        pay_ord_id=data.text("payOrdId", max_len=40), pay_token=data.text("payToken",
                                                                          max_len=60),
        pay_auth_no=data.text("payAuthNo", required=False, max_len=60),
        hold_ref=data.text("orgBizSer", max_len=40),
        mdtrt_id=data.text("mdtrtId", required=False, max_len=40),
        thd_pay_type=setup.platform.thd_pay_type if setup.platform else "WECHAT"))
    order = _started(setup, call, done.value)
    return Answer({"data": split_of(order) | {"extData": _pay_ext(order)}}, done.effect)


def _started(setup: Online, call: Call, order: Order) -> Order:
    if setup.platform is None:
        if order["cash_pay"]:
            raise Refused("E-PAY-001", "no payment platform is configured")
        return online_payment.settle(call, order["pay_ord_id"], None)
    return online_payment.start(call, order, setup.platform, setup.notify_url)


def split_of(order: Order) -> dict[str, Any]:
    """payOrdId, ordStas and the split (6202's answer; 6301's and 6204's too)."""
    return {
        "payOrdId": order["pay_ord_id"], "ordStas": ORD_STAS[OrderStatus(order["status"])],
        "feeSumamt": fen_to_yuan(order["medfee_sumamt"]),
        "ownPayAmt": fen_to_yuan(order["cash_pay"]),
        "psnAcctPay": fen_to_yuan(order["acct_pay"]), "fundPay": fen_to_yuan(order["fund_pay"]),
    }


def _pay_ext(order: Order) -> dict[str, Any]:
    ext: dict[str, Any] = {"expireTime": f"{order['expires_at']:%Y-%m-%d %H:%M:%S}"}
    if order["pay_url"] and order["status"] == OrderStatus.HELD:
        ext["payUrl"] = order["pay_url"]  # where the person pays the cash part
    if order["setl_id"]:
        ext["setlId"] = order["setl_id"]
    return ext


# ---------------------------------------------------------------- 6301, 6401


def _holder(data: Fields) -> online.Holder:
    return online.Holder(id_no=data.text("idNo", max_len=40), id_type=data.text(
        "idType", max_len=3), name=data.text("userName", max_len=40))


def query(call: Call, inp: Fields) -> dict[str, Any]:
    data = inp.child("data")
    order = online.query(call, data.text("payOrdId", max_len=40),
                         data.text("payToken", max_len=60), _holder(data))
    settled_at = order["settled_at"]
    return {"data": split_of(order) | {
        "callType": "2" if order["setl_id"] else "4", "medOrgOrd": order["med_org_ord"],
        "traceTime": f"{settled_at:%Y-%m-%d %H:%M:%S}" if settled_at else "",
        "orgCodg": order["fixmedins_code"], "orgName": call.institution.name,
        "setlType": "ALL", "revsToken": _revs_token(call, order),
        "extData": _pay_ext(order),
    }}


def _revs_token(call: Call, order: Order) -> str:
    """The order's revsToken while it is valid, else ""."""
    if not order["revs_token"] or not revs_token_valid(order["settled_at"], call.now):
        return ""
    return str(order["revs_token"])


def revoke(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    done = online.cancel(call, data.text("payOrdId", max_len=40),
                         data.text("payToken", max_len=60), _holder(data))
    return Answer({"data": {"success": True}}, done.effect)


# ---------------------------------------------------------------- 6203


def refund(setup: Online, call: Call, inp: Fields) -> dict[str, Any]:
    data = inp.child("data")
    kind = data.code("refdType", frozenset(REFUND_KINDS))
    req = online_refund.RefundRequest(
        pay_ord_id=data.text("payOrdId", max_len=40),
        app_refd_sn=data.text("appRefdSn", max_len=40),
        app_refd_time=data.text("appRefdTime", max_len=40), kind=REFUND_KINDS[kind],
        asked=RefundAsked(
            total=data.money("totlRefdAmt") or 0,
            fund=data.money("fundRefdAmt", required=False),
            account=data.money("psnAcctRefdAmt", required=False),
            cash=data.money("cashRefdAmt") or 0),
        token=data.text("ecToken", max_len=64))
    row = online_refund.refund(call, req, setup.platform)
    return {"data": online_refund.describe(row, call.now)}

