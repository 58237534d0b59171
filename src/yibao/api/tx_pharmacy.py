"""Pharmacy purchases over the interface: 2101 pre-settlement, 2102 settlement (the drug
lines in the same message) and 2103 cancellation (docs/pharmacy.md).

Input, as the standard: ``druginfo`` (the purchase) and ``drugdetail`` (its lines). The
national form ``data`` with ``feedetail`` is read the same way. Output: ``setlinfo``,
``setldetail`` and ``detlcutinfo`` (the lines as classified, 2204's fields)."""

from __future__ import annotations

from typing import Any

from yibao.api.fields import COUNT_MAX, PRICE_MAX, Fields
from yibao.api.registry import Answer
from yibao.api.tx_basic import read_credential
from yibao.api.tx_fees import line_out
from yibao.api.tx_settlement import account_use, mulaid_named, render
from yibao.domain.errors import Refused
from yibao.services import fees, pharmacy
from yibao.services.context import Call

DAYS_LIMIT = COUNT_MAX  # prd_days is checked against the policy (domain/pharmacy.py)


def _info_and_lines(inp: Fields) -> tuple[Fields, list[Fields]]:
    """``druginfo`` + ``drugdetail`` (the standard), or ``data`` + ``feedetail`` (either
    beside ``data`` or inside it)."""
    info = inp.node_of("druginfo", required=False)
    if info is not None:
        return info, inp.list_of("drugdetail")
    data = inp.node_of("data", required=False)
    if data is None:
        raise Refused("E-ENV-004", f"{inp.where}.druginfo")
    inside = data.list_of("feedetail", required=False)
    return data, inside or inp.list_of("feedetail")


def _line(item: Fields) -> pharmacy.DrugLineIn:
    days = item.decimal("prd_days", limit=DAYS_LIMIT) if item.text(
        "prd_days", required=False, max_len=20) else None
    fee = fees.FeeLineIn(
        feedetl_sn=item.text("feedetl_sn", max_len=30), init_feedetl_sn="", chrg_bchno="0",
        list_code=item.text("med_list_codg", required=False, max_len=50),
        medins_code=item.text("medins_list_codg", max_len=150),
        name=item.text("medins_list_name", required=False, max_len=200),
        amount=item.money("det_item_fee_sumamt") or 0,
        count=item.decimal("cnt", limit=COUNT_MAX),
        price=item.decimal("pric", limit=PRICE_MAX),
        time=item.moment("fee_ocur_time"),
    )
    item.flag("rx_circ_flag")  # 外购处方标志: read and checked, not kept
    return pharmacy.DrugLineIn(
        fee=fee, prd_days=days, rxno=item.text("rxno", required=False, max_len=30),
        doctor_no=item.text("bilg_dr_codg", required=False, max_len=30),
        doctor_name=item.text("bilg_dr_name", required=False, max_len=50))


def _purchase(call: Call, inp: Fields) -> pharmacy.Purchase:
    info, items = _info_and_lines(inp)
    if not items:
        raise Refused("E-ENV-004", f"{inp.where}.drugdetail is empty")
    begin = info.moment("begntime")
    assert begin is not None
    account = account_use(info, required=True)
    return pharmacy.Purchase(
        psn_no=info.text("psn_no", max_len=30),
        insutype=info.text("insutype", max_len=6),
        med_type=info.text("med_type", max_len=6),
        begin=begin,
        credential=read_credential(info, call),
        medfee=info.money("medfee_sumamt") or 0,
        account=account,
        lines=tuple(_line(item) for item in items),
        disease=info.text("dise_codg", required=False, max_len=30),
        mulaid_psn_no=mulaid_named(info, account),
        invono=info.text("invono", required=False, max_len=20),
    )


def _answer(call: Call, bought: pharmacy.Bought) -> dict[str, Any]:
    answer = render(call, bought.outcome)
    answer["detlcutinfo"] = [line_out(line, c, placed) for line, c, placed in bought.lines]
    return answer


def presettle(call: Call, inp: Fields) -> Answer:
    """2101: the answer 2102 would give; nothing stored (no setl_id; the mdtrt_id is the
    one the purchase would have had)."""
    answer = _answer(call, pharmacy.presettle(call, _purchase(call, inp)))
    del answer["setlinfo"]["setl_id"]
    return Answer(answer)


def settle(call: Call, inp: Fields) -> Answer:
    bought = pharmacy.settle(call, _purchase(call, inp))
    return Answer(_answer(call, bought), bought.outcome.effect)


def cancel(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    outcome = pharmacy.cancel(call, data.text("setl_id", max_len=30),
                              data.text("mdtrt_id", max_len=30), data.text("psn_no", max_len=30))
    return Answer(render(call, outcome), outcome.effect)
