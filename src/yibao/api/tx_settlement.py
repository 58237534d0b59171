"""Settlement over the interface: 2206/2207/2208 outpatient, 2303/2304/2305 inpatient."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from yibao.api.fields import Fields
from yibao.api.registry import Answer
from yibao.api.tx_basic import read_credential
from yibao.api.tx_visits import read_group
from yibao.domain.codes import FUNDS, VisitClass, age_on
from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_decimal
from yibao.domain.pharmacy import AccountUse
from yibao.domain.states import SettlementKind
from yibao.services import pharmacy, settlement
from yibao.services.context import Call
from yibao.services.settlement import (
    SETTLEMENT_AMOUNTS,
    STATED_FIELDS,
    Outcome,
    SettleRequest,
)

SETLWAY_BY_ITEM = "01"
PRESETTLEMENT_SETL_ID = ""  # 2206 / 2303 answer no settlement id: nothing is stored


def account_use(data: Fields, *, required: bool = False) -> AccountUse:
    """acct_used_flag: 0, 1 or 2 (使用共济人个账, a bound family member's account too)."""
    value = data.text("acct_used_flag", required=required, max_len=1) or AccountUse.NONE
    try:
        return AccountUse(value)
    except ValueError as exc:
        raise Refused("E-ENV-005", f"{data.where}.acct_used_flag must be 0, 1 or 2") from exc


def mulaid_named(data: Fields, account: AccountUse) -> str:
    """exp_content.mulaid_psn_no (yibao): the bound family member who pays by mutual aid;
    exp_content is read only then (otherwise it is not yibao's to check)."""
    if account is not AccountUse.MUTUAL_AID:
        return ""
    return data.extension().text("mulaid_psn_no", required=False, max_len=30)


def _request(call: Call, data: Fields, visit_class: VisitClass) -> SettleRequest:
    setlway = data.text("psn_setlway", required=False, max_len=6) or SETLWAY_BY_ITEM
    if setlway != SETLWAY_BY_ITEM:
        raise Refused("E-ENV-007", f"psn_setlway {setlway}: only 01 (by item) is supported")
    cert_type = data.text("mdtrt_cert_type", required=False, max_len=3)
    stated = {name: data.money(name, required=False) for name in STATED_FIELDS}
    if stated["medfee_sumamt"] is None:
        raise Refused("E-ENV-004", f"{data.where}.medfee_sumamt")
    psn_no = data.text("psn_no", max_len=30)
    account = account_use(data)
    named = mulaid_named(data, account)
    return SettleRequest(
        psn_no=psn_no,
        mdtrt_id=data.text("mdtrt_id", max_len=30),
        med_type=data.text("med_type", required=False, max_len=6),
        insutype=data.text("insutype", required=False, max_len=6),
        credential=read_credential(data, call) if cert_type else None,
        stated={k: v for k, v in stated.items() if v is not None},
        use_account=account is not AccountUse.NONE,
        mutual_aid_payer=pharmacy.mutual_aid_payer(call, psn_no, account, named),
        batch=data.text("chrg_bchno", required=False, max_len=30),
        interim=visit_class is VisitClass.INPATIENT and data.flag("mid_setl_flag") == "1",
        invono=data.text("invono", required=False, max_len=50),
        grp_type=read_group(data.extension()),
    )


def render(call: Call, outcome: Outcome) -> dict[str, Any]:
    """setlinfo + setldetail as in the national spec (amounts in yuan)."""
    row, person = outcome.row, outcome.person
    info: dict[str, Any] = {name: fen_to_decimal(row[name]) for name in SETTLEMENT_AMOUNTS}
    info.update(
        setl_id=row["setl_id"], mdtrt_id=row["mdtrt_id"], psn_no=row["psn_no"],
        psn_name=person["name"], psn_cert_type=person["psn_cert_type"],
        certno=person["certno"], gend=person["gend"], naty=person["naty"],
        brdy=person["brdy"].isoformat(), age=age_on(person["brdy"], call.now.date()),
        insutype=row["insutype"], psn_type=row["psn_type"], cvlserv_flag="0",
        setl_time=row["setl_time"], med_type=row["med_type"],
        mid_setl_flag=row["mid_setl_flag"], medins_setl_id=row["msgid"],
        clr_optins=person["insuplc_admdvs"], clr_way="1", clr_type=row["clr_type"],
        setl_type="2" if row["kind"] == SettlementKind.CANCEL else "1",
        pool_prop_selfpay=Decimal(row["pool_prop_selfpay"]),
        mdtrt_cert_type=row["mdtrt_cert_type"], hifdm_pay=Decimal(0), exp_content="",
    )
    detail = [
        {
            "fund_pay_type": f["fund_pay_type"],
            "fund_pay_type_name": FUNDS[f["fund_pay_type"]][0],
            "inscp_scp_amt": fen_to_decimal(f["inscp_scp_amt"]),
            "crt_payb_lmt_amt": fen_to_decimal(f["crt_payb_lmt_amt"]),
            "fund_payamt": fen_to_decimal(f["fund_payamt"]),
            "setl_proc_info": f["setl_proc_info"],
        }
        for f in outcome.funds
    ]
    return {"setlinfo": info, "setldetail": detail}


def compute(call: Call, inp: Fields, *, visit_class: VisitClass, store: bool) -> Answer:
    """2206 / 2303 (``store`` False: nothing is stored) and 2207 / 2304 (``store`` True)."""
    req = _request(call, inp.child("data"), visit_class)
    run = settlement.settle_visit if store else settlement.presettle
    outcome = run(call, req, visit_class)
    answer = render(call, outcome)
    if not store:  # a pre-settlement is no settlement: it has no setl_id (docs/interface.md)
        answer["setlinfo"]["setl_id"] = PRESETTLEMENT_SETL_ID
    return Answer(answer, outcome.effect)


def cancel(call: Call, inp: Fields) -> Answer:
    """2208 / 2305: the settlement is reversed by a cancellation row."""
    data = inp.child("data")
    outcome = settlement.cancel(
        call, data.text("setl_id", max_len=30), data.text("mdtrt_id", max_len=30),
        data.text("psn_no", max_len=30),
    )
    return Answer(render(call, outcome), outcome.effect)
